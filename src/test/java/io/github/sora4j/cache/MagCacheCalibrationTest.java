package io.github.sora4j.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.ModelPackException;
import io.github.sora4j.testing.PackDirs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MagCacheCalibrationTest {

    private static int[] computed(boolean[] mask) {
        return IntStream.range(0, mask.length).filter(i -> mask[i]).toArray();
    }

    @Test
    void theMaskSkipsWhileTheAccumulatedMagnitudeErrorStaysUnderTheThreshold() {
        // ratios 1, 0.9, 0.9, 0.9, 0.9, 0.9: after a computed step gamma = 0.9 (err 0.1), then
        // 0.81 (err 0.29), 0.729 (err 0.561)
        MagCacheCalibration c = new MagCacheCalibration(new double[] {1, 0.9, 0.9, 0.9, 0.9, 0.9,
            0.9, 0.9});
        assertThat(computed(c.mask(8, 0.3, 5, 1, i -> false))).containsExactly(0, 3, 6);
        assertThat(computed(c.mask(8, 0.05, 5, 1, i -> false)))
                .containsExactly(0, 1, 2, 3, 4, 5, 6, 7);
    }

    @Test
    void theMaskComputesTheWarmupStepsTheForcedStepsAndBreaksLongRuns() {
        MagCacheCalibration flat = new MagCacheCalibration(new double[] {1, 1, 1, 1, 1, 1, 1, 1,
            1, 1});
        // ratio 1: no error ever; only warm-up, the forced step and the run limit compute
        assertThat(computed(flat.mask(10, 0.1, 2, 3, i -> false))).containsExactly(0, 1, 2, 5,
                8);
        assertThat(computed(flat.mask(10, 0.1, 2, 3, i -> i == 4))).containsExactly(0, 1, 2, 4,
                7);
        assertThat(computed(flat.mask(10, 0.1, 2, 0, i -> false))).startsWith(0, 3);
    }

    @Test
    void anotherStepCountTakesTheCalibratedRatioAtTheSameFractionOfTheRun() {
        MagCacheCalibration c = new MagCacheCalibration(new double[] {1, 2, 3, 4, 5});
        assertThat(c.ratio(3, 5)).isEqualTo(4);
        assertThat(c.ratio(1, 3)).isEqualTo(3); // 1 of 2 → index 2 of 4
        assertThat(c.ratio(2, 3)).isEqualTo(5);
        assertThat(c.ratio(8, 9)).isEqualTo(5);
    }

    @Test
    void badRatiosAreRefusedWithTheIndex() {
        assertThatThrownBy(() -> new MagCacheCalibration(new double[] {1, 0, 1}))
                .isInstanceOf(InvalidConfigurationException.class).hasMessageContaining("ratio 1");
        assertThatThrownBy(() -> new MagCacheCalibration(new double[] {1}))
                .hasMessageContaining("at least 2");
    }

    @Test
    void theDemoPackCarriesA30StepCalibrationAndItsMaskIsThePythonOne() {
        MagCacheCalibration c = MagCacheCalibration.of(ModelPack.embeddedDefault());
        assertThat(c.ratios()).hasSize(30);
        // python3 -m sora4j_export.stepcache: mask_from_ratios(ratios, 30, 0.1, 3, 3, leap 15), as
        // python3 -m sora4j_export.demo.embed prints it when a pack is embedded
        assertThat(computed(c.mask(30, 0.1, 3, 3, i -> i == 15)))
                .containsExactly(0, 1, 2, 4, 7, 10, 13, 15, 18, 21, 24, 27);
    }

    @Test
    void aPackWithoutCalibrationIsRefusedNamingTheCommand() {
        ModelPack tiny = ModelPack.embedded("tiny-random");
        assertThatThrownBy(() -> MagCacheCalibration.of(tiny))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("no step-cache calibration")
                .hasMessageContaining("sora4j_export.stepcache calibrate --pack");
    }

    @Test
    void aChangedCalibrationFileFailsTheHashCheck(@TempDir Path dir) throws IOException {
        Path copy = copyDemo(dir);
        Path file = copy.resolve(MagCacheCalibration.FILE);
        Files.writeString(file, Files.readString(file) + " "); // still valid JSON, other bytes
        assertThatThrownBy(() -> ModelPack.open(copy))
                .isInstanceOf(ModelPackException.class).hasMessageContaining("stepcache.json");
    }

    private static Path copyDemo(Path dir) throws IOException {
        return PackDirs.copyEmbedded("demo", dir.resolve("demo"));
    }
}
