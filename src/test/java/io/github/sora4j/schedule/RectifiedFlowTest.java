package io.github.sora4j.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class RectifiedFlowTest {

    // algorithms.md §2.5: 256x256x68 (latent T = 20), K = 30, ratio 0.5*sqrt(20).
    private static final double[] OPEN_SORA_256_68 = {
        1000.00, 984.97, 968.88, 952.66, 935.80, 917.72, 899.44, 880.39, 859.92, 839.16, 817.48,
        794.10, 770.33, 745.42, 718.48, 690.98, 662.07, 630.67, 598.51, 564.54, 527.49, 489.36,
        448.88, 404.50, 358.57, 309.53, 255.41, 199.01, 138.36, 70.90};

    private static final int[] ROUNDED_30 = {
        1000, 967, 933, 900, 867, 833, 800, 767, 733, 700, 667, 633, 600, 567, 533, 500, 467, 433,
        400, 367, 333, 300, 267, 233, 200, 167, 133, 100, 67, 33};

    @Test
    void thirtyStepScheduleAt256x256x68EqualsOpenSoraPublishedList() {
        Timesteps ts = RectifiedFlow.timesteps(new SamplingContext(30, 1000, 68, 20, 256, 256, true,
                1.0));
        assertThat(ts.count()).isEqualTo(30);
        for (int i = 0; i < 30; i++) {
            // The published list has two decimals.
            assertThat(ts.get(i)).as("t'[%d]", i).isCloseTo(OPEN_SORA_256_68[i], within(0.005));
        }
    }

    @Test
    void discreteTimestepsRoundHalfToEvenLikePython() {
        Timesteps ts = RectifiedFlow.timesteps(new SamplingContext(30, 1000, 68, 20, 256, 256,
                false, 1.0));
        for (int i = 0; i < 30; i++) {
            assertThat(ts.get(i)).isEqualTo(ROUNDED_30[i]);
        }
        // K = 16: (1 - 1/16)*1000 = 937.5 rounds to 938 (even), (1-3/16)*1000 = 812.5 to 812.
        Timesteps k16 = RectifiedFlow.timesteps(new SamplingContext(16, 1000, 68, 20, 256, 256,
                false, 1.0));
        assertThat(k16.get(1)).isEqualTo(938.0);
        assertThat(k16.get(3)).isEqualTo(812.0);
    }

    @Test
    void transformUsesTheRealLatentFrameCountNotAHardCodedOne() {
        double ratio256 = RectifiedFlow.transformRatio(20, 256, 256, 1.0);
        assertThat(ratio256).isCloseTo(0.5 * Math.sqrt(20), within(1e-15));
        double ratio192 = RectifiedFlow.transformRatio(20, 192, 192, 1.0);
        Timesteps ts = RectifiedFlow.timesteps(new SamplingContext(30, 1000, 68, 20, 192, 192, true,
                1.0));
        assertThat(ratio192).isCloseTo(0.375 * Math.sqrt(20), within(1e-15));
        assertThat(ts.get(15)).isCloseTo(626.45, within(0.005));
    }

    @Test
    void theFirstTransformedTimestepStaysWithinFloat32RoundingOfTheTrainingRange() {
        // float32 like upstream: 1 + (r − 1) need not equal r, so t'_0 may be off 1000 by a few
        // ulps of r (152x152, T = 2 gives 1000.0001220703125 and 8x8, T = 2 999.9989013671875,
        // the largest of this grid, as upstream's torch code does).
        for (int size = 8; size <= 512; size += 8) {
            for (int latentFrames = 1; latentFrames <= 24; latentFrames++) {
                Timesteps ts = RectifiedFlow.timesteps(new SamplingContext(30, 1000,
                        latentFrames * 4, latentFrames, size, size, true, 1.0));
                assertThat(ts.get(0)).as("%dx%d, T=%d", size, size, latentFrames)
                        .isCloseTo(1000.0, within(1.1e-3));
            }
        }
        assertThat(RectifiedFlow.timesteps(new SamplingContext(30, 1000, 8, 2, 152, 152, true,
                1.0)).get(0)).isEqualTo(1000.0001220703125);
    }

    @Test
    void timestepsAndStepSizesAreFloat32Values() {
        Timesteps ts = RectifiedFlow.timesteps(new SamplingContext(30, 1000, 51, 15, 256, 256, true,
                1.0));
        for (int i = 0; i < 30; i++) {
            assertThat((double) (float) ts.get(i)).isEqualTo(ts.get(i));
            assertThat((double) (float) ts.eulerDelta(i)).isEqualTo(ts.eulerDelta(i));
        }
    }

    @Test
    void eulerDeltasTelescopeToTheFirstTimestep() {
        Timesteps ts = RectifiedFlow.timesteps(new SamplingContext(30, 1000, 68, 20, 256, 256, true,
                1.0));
        double sum = 0;
        for (int i = 0; i < ts.count(); i++) {
            sum += ts.eulerDelta(i);
        }
        // float32 step sizes: each is rounded (≤ 2^-19 off for steps < 64), so the sum drifts.
        assertThat(sum).isCloseTo(ts.get(0), within(1e-4));
        assertThat(ts.eulerDelta(29)).isEqualTo(ts.get(29));
    }

    @Test
    void fullStepSchedulerStepsToTheNextTimestepAndStopsAtTheLast() {
        StepScheduler s = StepSchedulers.rectifiedFlow();
        Timesteps ts = s.timesteps(new SamplingContext(3, 1000, 17, 5, 64, 64, true, 1.0));
        StepScheduler.Session session = s.start(ts);
        assertThat(session.decide(0, null)).isEqualTo(StepDecision.regular(ts.eulerDelta(0), false));
        assertThat(session.decide(2, null).last()).isTrue();
        assertThatThrownBy(() -> session.decide(3, null))
                .isInstanceOf(io.github.sora4j.InvalidConfigurationException.class).hasMessageContaining("was 3");
    }

    @Test
    void contextRejectsZeroSteps() {
        assertThatThrownBy(() -> new SamplingContext(0, 1000, 17, 5, 64, 64, true, 1.0))
                .isInstanceOf(io.github.sora4j.InvalidConfigurationException.class)
                .hasMessage("steps must be >= 1 but was 0");
    }
}
