package io.github.sora4j.cache;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.pack.ModelPack;
import java.util.function.Function;
import java.util.function.IntPredicate;

/** Factories of the built-in {@link StepCache}s. */
public final class StepCaches {
    private static final StepCache NONE = new StepCache() {
        @Override
        public Reuse reuse() {
            return Reuse.RESIDUAL;
        }

        @Override
        public boolean enabled() {
            return false;
        }

        @Override
        public Session start(int steps, IntPredicate mustCompute) {
            return new Session() {
                @Override
                public boolean compute(int step, double inputChange) {
                    return true;
                }

                @Override
                public void computed(int step, double inputChange, double outputChange) {}
            };
        }

        @Override
        public String toString() {
            return "StepCaches.none()";
        }
    };

    private StepCaches() {}

    /**
     * Never skips: every step runs the block stack, and the pipeline's output is bit-equal to a
     * pipeline without a cache.
     *
     * @return the no-cache strategy
     */
    public static StepCache none() {
        return NONE;
    }

    /**
     * A MagCache-style fixed step mask from a calibration (see {@link
     * MagCacheCalibration#mask}).
     *
     * @param calibration the pack's residual magnitude ratios
     * @param threshold accumulated magnitude error allowed, {@code > 0}
     * @param maxSkips longest run of skipped steps, {@code >= 1}
     * @param warmup first steps that always compute, {@code >= 1}
     * @param reuse what skipped steps reuse
     * @return the cache
     * @throws InvalidConfigurationException naming a parameter out of range
     */
    public static StepCache magCache(MagCacheCalibration calibration, double threshold,
            int maxSkips, int warmup, StepCache.Reuse reuse) {
        InvalidConfigurationException.requireNonNull(calibration, "calibration");
        check(threshold, maxSkips, warmup, reuse);
        return new MaskCache(reuse, (steps, must) ->
                calibration.mask(steps, threshold, maxSkips, warmup, must),
                String.format(java.util.Locale.ROOT,
                        "StepCaches.magCache(threshold=%s, maxSkips=%d, warmup=%d, %s)", threshold,
                        maxSkips, warmup, reuse));
    }

    /**
     * A MagCache-style mask from the pack's own calibration ({@link MagCacheCalibration#of}),
     * read when the pipeline is built.
     *
     * @param threshold accumulated magnitude error allowed, {@code > 0}
     * @param maxSkips longest run of skipped steps, {@code >= 1}
     * @param warmup first steps that always compute, {@code >= 1}
     * @param reuse what skipped steps reuse
     * @return a factory for {@code VideoPipeline.Builder#stepCache(Function)}
     */
    public static Function<ModelPack, StepCache> magCache(double threshold, int maxSkips,
            int warmup, StepCache.Reuse reuse) {
        check(threshold, maxSkips, warmup, reuse);
        return pack -> magCache(MagCacheCalibration.of(pack), threshold, maxSkips, warmup, reuse);
    }

    /**
     * A fixed mask given outright (e.g. one calibrated on another pack).
     *
     * @param compute per step, true to compute; steps past its end compute
     * @param reuse what skipped steps reuse
     * @return the cache
     */
    public static StepCache fixedMask(boolean[] compute, StepCache.Reuse reuse) {
        boolean[] m = InvalidConfigurationException.requireNonNull(compute, "compute").clone();
        InvalidConfigurationException.requireNonNull(reuse, "reuse");
        return new MaskCache(reuse, (steps, must) -> {
            boolean[] out = new boolean[steps];
            for (int i = 0; i < steps; i++) {
                out[i] = i == 0 || i >= m.length || m[i] || must.test(i);
            }
            return out;
        }, "StepCaches.fixedMask(" + java.util.Arrays.toString(m) + ", " + reuse + ")");
    }

    /**
     * The adaptive rule (EasyCache-style): after computed steps j and c it learns the
     * transformation rate {@code k = outputChange / inputChange}; before step i it estimates the
     * output change as {@code k · inputChange} (against the last computed step) and skips while
     * that is below {@code threshold}, from step {@code warmup} on, at most {@code maxSkips} in a
     * row.
     *
     * @param threshold estimated relative output change allowed, {@code > 0}
     * @param maxSkips longest run of skipped steps, {@code >= 1}
     * @param warmup first steps that always compute, {@code >= 1}
     * @param reuse what skipped steps reuse
     * @return the cache
     */
    public static StepCache adaptive(double threshold, int maxSkips, int warmup,
            StepCache.Reuse reuse) {
        check(threshold, maxSkips, warmup, reuse);
        return new AdaptiveCache(threshold, maxSkips, warmup, reuse);
    }

    static void check(double threshold, int maxSkips, int warmup, StepCache.Reuse reuse) {
        if (!(threshold > 0) || Double.isInfinite(threshold)) {
            throw new InvalidConfigurationException("threshold must be finite and > 0 but was "
                    + threshold);
        }
        if (maxSkips < 1) {
            throw new InvalidConfigurationException("maxSkips must be >= 1 but was " + maxSkips);
        }
        if (warmup < 1) {
            throw new InvalidConfigurationException("warmup must be >= 1 (step 0 always computes) but"
                    + " was " + warmup);
        }
        InvalidConfigurationException.requireNonNull(reuse, "reuse");
    }

    /** Makes a mask for a step count. */
    private interface MaskMaker {
        boolean[] make(int steps, IntPredicate mustCompute);
    }

    private record MaskCache(StepCache.Reuse reuse, MaskMaker maker, String text)
            implements StepCache {
        @Override
        public Session start(int steps, IntPredicate mustCompute) {
            boolean[] mask = maker.make(steps, mustCompute);
            return new Session() {
                @Override
                public boolean compute(int step, double inputChange) {
                    return step >= mask.length || mask[step] || mustCompute.test(step);
                }

                @Override
                public void computed(int step, double inputChange, double outputChange) {}
            };
        }

        @Override
        public String toString() {
            return text;
        }
    }
}
