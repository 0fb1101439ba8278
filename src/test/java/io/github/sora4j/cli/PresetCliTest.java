package io.github.sora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.sora4j.Preset;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PresetCliTest {

    @Test
    void generateHelpListsEveryPreset() {
        String help = Sora4jCliTest.cli("generate", "--help").out().replaceAll("\\s+", " ");
        assertThat(help).contains("--preset=NAME");
        Arrays.stream(Preset.values()).forEach(p -> assertThat(help).contains(" " + p.id()));
    }

    @Test
    void anUnknownPresetIsRefusedNamingTheKnownOnes(@TempDir Path dir) {
        Sora4jCliTest.Run r = Sora4jCliTest.cli("generate", "--prompt", "a red circle moving left",
                "--output", dir.resolve("o.gif").toString(), "--preset", "turbo");
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err()).contains("Invalid value for option '--preset': 'turbo' is not a preset"
                + " (presets: " + Preset.names() + ")");
    }

    @Test
    void aCachingPresetRunsOnTheDemoPackAndTheSummaryCountsReusedSteps(@TempDir Path dir) {
        Path out = dir.resolve("o.gif");
        Sora4jCliTest.Run r = Sora4jCliTest.cli("generate", "--prompt", "a red circle moving left",
                "--output", out.toString(), "--preset", "lpl-cache", "--progress", "none");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("techniques preset lpl-cache: LPL fixed (leap at step 16), "
                + "TDTM off, step cache calibrated mask;")
                .contains("16 of 30 steps (LPL leapt at step 16, 14 model calls saved), "
                        + "8 reused from the step cache");
        assertThat(out).isRegularFile();
    }

    @Test
    void aMaskPresetOnAPackWithoutCalibrationNamesTheCommand(@TempDir Path dir) {
        Sora4jCliTest.Run r = Sora4jCliTest.cli("generate", "--prompt", "a red circle moving left",
                "--pack", "tiny-random", "--output", dir.resolve("o.gif").toString(),
                "--preset", "cache");
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err()).contains("no step-cache calibration (stepcache.json)")
                .contains("sora4j_export.stepcache calibrate --pack");
    }
}
