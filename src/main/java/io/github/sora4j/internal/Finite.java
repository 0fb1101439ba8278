package io.github.sora4j.internal;

import io.github.sora4j.NonFiniteValueException;
import io.github.sora4j.Stage;
import java.util.Locale;

/**
 * The non-finite guard: stops a generation whose numbers turned NaN or infinite, naming where. One
 * pass over a float array with four independent accumulators ({@code x * 0} is 0 for a finite x
 * and NaN otherwise), about a nanosecond per element; docs/troubleshooting.md gives the measured
 * share of a step.
 */
public final class Finite {
    private Finite() {}

    /**
     * Whether every value is finite.
     *
     * @param values the values
     * @return false if any is NaN or infinite
     */
    public static boolean all(float[] values) {
        float a0 = 0;
        float a1 = 0;
        float a2 = 0;
        float a3 = 0;
        int n = values.length;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            a0 += values[i] * 0f;
            a1 += values[i + 1] * 0f;
            a2 += values[i + 2] * 0f;
            a3 += values[i + 3] * 0f;
        }
        for (; i < n; i++) {
            a0 += values[i] * 0f;
        }
        return a0 + a1 + a2 + a3 == 0f;
    }

    /**
     * Throws if a value is not finite.
     *
     * @param values the values
     * @param stage the stage that produced them
     * @param step the denoising step (0-based), or -1
     * @param what what they are, e.g. {@code "the latent after denoising step 3 of 30"}
     * @throws NonFiniteValueException naming the stage, the step, how many values and the first
     */
    public static void check(float[] values, Stage stage, int step, String what) {
        if (all(values)) {
            return;
        }
        int count = 0;
        int first = -1;
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                count++;
                first = first < 0 ? i : first;
            }
        }
        throw new NonFiniteValueException(stage, step, String.format(Locale.ROOT,
                "non-finite values in %s (stage %s): %,d of %,d are NaN or infinite, the first at "
                + "index %,d is %s; the pack's weights or null embedding are broken, or the "
                + "guidance scale drove the model out of range", what, stage, count,
                values.length, first, values[first]));
    }
}
