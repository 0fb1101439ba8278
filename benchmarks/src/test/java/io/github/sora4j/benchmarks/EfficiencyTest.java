package io.github.sora4j.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sora4j.plan.Architecture;
import io.github.sora4j.plan.FlopModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EfficiencyTest {
    private static final ZonedDateTime NOW = ZonedDateTime.of(2026, 12, 4, 8, 0, 0, 0, ZoneOffset.UTC);

    @Test
    void theSubStageFlopsSumToTheFlopModelsPairAndTheItemsHaveThePapersSizes() {
        EfficiencyReport.Flops f = new Efficiency(FlopModel.of(Architecture.openSoraV12()), null).flopsTable();
        double sum = Arrays.stream(f.spatial()).sum() + Arrays.stream(f.temporal()).sum();
        assertEquals(f.pair(), sum, 1e-6 * f.pair());
        // 22.65 TFLOP per CFG step over 28 pairs, less embed and final
        assertEquals(808.7e9, f.pair(), 0.1e9);
        assertEquals(2.81e12 / 24, f.t5Block(), 0.01e12 / 24);
        assertEquals(0.0, f.spatial()[0]);
        assertTrue(f.vaeChunk() > 1e13 && f.vaeChunk() < 1.4e13, Double.toString(f.vaeChunk()));
    }

    @Test
    void aPackWithOtherWidthsIsRefusedBeforeAnyWork() {
        Architecture real = Architecture.openSoraV12();
        Architecture.Stdit s = real.stdit();
        Architecture narrow = new Architecture(real.t5(), new Architecture.Stdit(128, 1, s.numHeads(),
                s.mlpRatio(), s.patchSize(), s.inChannels(), s.outChannels(), s.captionChannels(),
                s.qkNorm()), real.vae());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Efficiency.checkReleasedWidths(FlopModel.of(narrow)));
        assertTrue(e.getMessage().contains("realwidth_pack.py"), e.getMessage());
        Efficiency.checkReleasedWidths(FlopModel.of(real));
    }

    @Test
    void theTableGivesMediansThePairedShareOfPeakAndTheThreadSpeedup(@TempDir Path dir) throws Exception {
        List<EfficiencyReport.Row> rows = List.of(
                row(0, 1, "stdit-pair", 20, 800e9, 50), row(1, 1, "stdit-pair", 40, 800e9, 25),
                row(2, 1, "stdit-pair", 25, 800e9, 40),
                row(0, 2, "stdit-pair", 10, 800e9, 100), row(1, 2, "stdit-pair", 12, 800e9, 100));
        EfficiencyReport r = new EfficiencyReport(rows, options(dir), null);
        String md = r.markdown(NOW);
        // 1 thread: times 20, 25, 40 -> 25 s; shares 0.8, 0.8, 0.8; peak median 40 -> 20 s predicted
        assertTrue(md.contains("| STDiT3-XL/2 pair, 2×5,120 tokens | 800.0 | 1 | 25.0 s | 20.0 s | 32.0 | 40.0 | 80 %"),
                md);
        assertEquals(List.of(rows.get(0), rows.get(1)), EfficiencyReport.readCsv(writeAndRead(dir, r)).subList(0, 2));
        assertTrue(md.contains("2 threads over 1 (median times): STDiT3-XL/2 pair, 2×5,120 tokens 2.27×"), md);
        Path csv = dir.resolve("runs.csv");
        r.writeCsv(csv);
        assertEquals(6, Files.readAllLines(csv).size());
    }

    @Test
    void theSectionIsReplacedBetweenItsMarkersAndTheRestOfTheDocumentIsKept(@TempDir Path dir) throws Exception {
        Path doc = dir.resolve("benchmarks.md");
        Files.writeString(doc, "# B\n\n" + EfficiencyReport.BEGIN + "\nold\n" + EfficiencyReport.END + "\n\ntail\n");
        EfficiencyReport.writeSection(doc, "new table");
        assertEquals("# B\n\n" + EfficiencyReport.BEGIN + "\nnew table\n" + EfficiencyReport.END + "\n\ntail\n",
                Files.readString(doc));
    }

    @Test
    void badArgumentsAreRefusedWithTheFix(@TempDir Path dir) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> EfficiencyReport.Options.parse(new String[] {"--pack", dir.toString()}));
        assertTrue(e.getMessage().contains("realwidth_pack.py"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> EfficiencyReport.Options.parse(new String[] {"--threads", "0"}));
        assertTrue(e.getMessage().contains("--threads"), e.getMessage());
    }

    private static Path writeAndRead(Path dir, EfficiencyReport r) throws Exception {
        Path csv = dir.resolve("again.csv");
        r.writeCsv(csv);
        return csv;
    }

    @Test
    void perCpuSecondPairsEachMeasurementWithThePeakBeforeIt() {
        List<EfficiencyReport.Row> rows = List.of(
                new EfficiencyReport.Row(0, 1, "peak", 1, 100e9, 100, 1, 1, 1.0, NOW),
                new EfficiencyReport.Row(0, 1, "t5-block", 4, 120e9, 100, 1, 1, 2.0, NOW),
                new EfficiencyReport.Row(1, 1, "peak", 1, 100e9, 100, 1, 1, 0.5, NOW),
                new EfficiencyReport.Row(1, 1, "t5-block", 4, 120e9, 100, 1, 1, 3.0, NOW));
        double[][] v = new EfficiencyReport(rows, null, null).perCpuSecond("t5-block", 1);
        assertEquals(List.of(60.0, 40.0), List.of(v[0][0], v[0][1]));
        assertEquals(List.of(100.0, 200.0), List.of(v[1][0], v[1][1]));
        assertEquals(List.of(0.6, 0.2), List.of(v[2][0], v[2][1]));
    }

    private static EfficiencyReport.Row row(int rep, int threads, String item, double s, double flops,
            double peak) {
        return new EfficiencyReport.Row(rep, threads, item, s, flops, peak, 1.0, 1.0, s * threads, NOW);
    }

    private static EfficiencyReport.Options options(Path dir) {
        return new EfficiencyReport.Options(dir, 3, 0, new int[] {1, 2}, false, dir.resolve("runs.csv"),
                null, null, "benchmarks/efficiency.sh", null);
    }
}
