package io.github.sora4j.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.sora4j.InvalidConfigurationException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class StepCachesTest {

    /** Runs a session over steps with a constant input change and output/input rate. */
    private static List<Integer> computedSteps(StepCache cache, int steps, double inputChange,
            double rate, java.util.function.IntPredicate must) {
        StepCache.Session s = cache.start(steps, must);
        List<Integer> out = new ArrayList<>();
        boolean first = true;
        for (int i = 0; i < steps; i++) {
            double in = first ? Double.NaN : inputChange;
            if (s.compute(i, in)) {
                out.add(i);
                s.computed(i, in, first ? Double.NaN : rate * inputChange);
                first = false;
            }
        }
        return out;
    }

    @Test
    void theAdaptiveRuleSkipsWhileTheEstimatedOutputChangeIsUnderTheThreshold() {
        StepCache a = StepCaches.adaptive(0.4, 3, 2, StepCache.Reuse.VELOCITY);
        // rate 2, input change 0.1: estimate 0.2 < 0.4, so after the 2 warm-up steps it skips 3 in a row
        assertThat(computedSteps(a, 12, 0.1, 2, i -> false)).containsExactly(0, 1, 5, 9);
        // estimate 0.5 >= 0.4: every step computes
        assertThat(computedSteps(a, 6, 0.25, 2, i -> false)).containsExactly(0, 1, 2, 3, 4, 5);
    }

    @Test
    void theAdaptiveRuleNeedsTwoComputedStepsAndNeverSkipsAForcedStep() {
        StepCache a = StepCaches.adaptive(1.0, 10, 1, StepCache.Reuse.RESIDUAL);
        // step 0 computes (nothing cached), step 1 computes (no rate yet), then skips, but step 5
        // is forced (e.g. LPL's leap step)
        assertThat(computedSteps(a, 8, 0.01, 1, i -> i == 5)).containsExactly(0, 1, 5);
    }

    @Test
    void theAdaptiveRuleComputesWhenTheLatentDidNotChange() {
        // input change 0 gives no rate (0/0): it computes rather than guess
        StepCache a = StepCaches.adaptive(0.4, 3, 1, StepCache.Reuse.VELOCITY);
        assertThat(computedSteps(a, 4, 0.0, 1, i -> false)).containsExactly(0, 1, 2, 3);
    }

    @Test
    void aFixedMaskComputesStepZeroForcedStepsAndStepsPastItsEnd() {
        StepCache m = StepCaches.fixedMask(new boolean[] {false, false, true, false}, StepCache
                .Reuse.VELOCITY);
        assertThat(computedSteps(m, 6, 0.1, 1, i -> i == 3)).containsExactly(0, 2, 3, 4, 5);
    }

    @Test
    void noneComputesEveryStepAndIsDisabled() {
        assertThat(StepCaches.none().enabled()).isFalse();
        assertThat(computedSteps(StepCaches.none(), 5, 0, 0, i -> false)).hasSize(5);
    }

    @Test
    void parametersOutOfRangeAreRefusedByName() {
        assertThatThrownBy(() -> StepCaches.adaptive(0, 3, 1, StepCache.Reuse.VELOCITY))
                .isInstanceOf(InvalidConfigurationException.class).hasMessageContaining("threshold");
        assertThatThrownBy(() -> StepCaches.adaptive(0.1, 0, 1, StepCache.Reuse.VELOCITY))
                .hasMessageContaining("maxSkips must be >= 1 but was 0");
        assertThatThrownBy(() -> StepCaches.magCache(0.1, 3, 0, StepCache.Reuse.VELOCITY))
                .hasMessageContaining("warmup must be >= 1");
        assertThatThrownBy(() -> StepCaches.adaptive(Double.NaN, 3, 1,
                StepCache.Reuse.VELOCITY)).hasMessageContaining("threshold");
    }
}
