package io.github.sora4j;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class GenerationReportTest {
    @Test
    void toStringIsOneShortLineOfValuesWithTheLatentShapeAsNumbers() {
        List<StepReport> steps = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            steps.add(new StepReport(i, 1000 - 60 * i, 0.03, 40_000_000L, i < 4, 0.99, i == 15));
        }
        GenerationReport r = new GenerationReport(190_000_000L, 1_090_000_000L, 700_000_000L,
                1_980_000_000L, steps, 30, 21, 9_000_000L, 8, new long[] {1, 4, 5, 8, 8});
        assertThat(r.toString()).isEqualTo("GenerationReport[total=1.98 s, textEncode=0.19 s, "
                + "denoise=1.09 s, decode=0.70 s, steps=16/30, leapStep=15, mergedSteps=4, "
                + "blocksLoaded=21, peakLoaded=9.0 MB, promptTokens=8, "
                + "latentShape=[1, 4, 5, 8, 8]]");
        assertThat(r.toString()).hasSizeLessThan(250).doesNotContain("[J@", "StepReport");
    }
}
