package io.github.sora4j.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AblationTest {

    @Test
    void medianOfOddAndEvenCounts() {
        assertEquals(2.0, AblationReport.median(new double[] {3, 1, 2}));
        assertEquals(2.5, AblationReport.median(new double[] {4, 1, 3, 2}));
        assertTrue(Double.isNaN(AblationReport.median(new double[0])));
    }

    @Test
    void theGeneratedSectionReplacesOnlyTheMarkedPart(@TempDir Path dir) throws Exception {
        Path doc = dir.resolve("benchmarks.md");
        Files.writeString(doc, "# Title\n\nprose\n\n" + Ablation.BEGIN + "\nold\n" + Ablation.END
                + "\n\nafter\n");
        Ablation.writeSection(doc, "new table\n");
        assertEquals("# Title\n\nprose\n\n" + Ablation.BEGIN + "\nnew table\n" + Ablation.END
                + "\n\nafter\n", Files.readString(doc));
    }

    @Test
    void aDocumentWithoutMarkersGetsTheSectionAppended(@TempDir Path dir) throws Exception {
        Path doc = dir.resolve("d.md");
        Files.writeString(doc, "# Title\n");
        Ablation.writeSection(doc, "table");
        assertEquals("# Title\n\n" + Ablation.BEGIN + "\ntable\n" + Ablation.END + "\n",
                Files.readString(doc));
    }

    @Test
    void optionsParseAndRejectNonsense() {
        Ablation.Options o = Ablation.parse(new String[] {"--reps", "5", "--steps", "20",
            "--settings", "streaming", "--no-doc"});
        assertEquals(5, o.reps());
        assertEquals(20, o.steps());
        assertEquals(List.of(BenchPack.Setting.STREAMING), o.settings());
        assertEquals(null, o.doc());
        assertThrows(IllegalArgumentException.class,
                () -> Ablation.parse(new String[] {"--steps", "10"}));
        assertThrows(IllegalArgumentException.class,
                () -> Ablation.parse(new String[] {"--settings", "gpu"}));
        assertThrows(IllegalArgumentException.class,
                () -> Ablation.parse(new String[] {"--reps"}));
    }

    @Test
    void everySettingHasABaselineFirstAndCiDlOnlyWhereBlocksStream() {
        for (var e : Ablation.ROWS.entrySet()) {
            assertEquals(Variant.BASELINE, e.getValue().get(0));
        }
        assertTrue(!Ablation.ROWS.get(BenchPack.Setting.COMPUTE).contains(Variant.CI_DL));
        assertTrue(Ablation.ROWS.get(BenchPack.Setting.STREAMING).contains(Variant.CI_DL));
        assertEquals(Variant.TDTM_15, Variant.of("tdtm15"));
    }
}
