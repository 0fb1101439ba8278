package io.github.sora4j.cache;

import java.util.Locale;
import java.util.function.IntPredicate;

/** The adaptive rule of {@link StepCaches#adaptive}. */
final class AdaptiveCache implements StepCache {
    private final double threshold;
    private final int maxSkips;
    private final int warmup;
    private final Reuse reuse;

    AdaptiveCache(double threshold, int maxSkips, int warmup, Reuse reuse) {
        this.threshold = threshold;
        this.maxSkips = maxSkips;
        this.warmup = warmup;
        this.reuse = reuse;
    }

    @Override
    public Reuse reuse() {
        return reuse;
    }

    @Override
    public Session start(int steps, IntPredicate mustCompute) {
        return new Session() {
            private double rate = Double.NaN;
            private int skips;
            private boolean any;

            @Override
            public boolean compute(int step, double inputChange) {
                boolean c = !any || step < warmup || mustCompute.test(step) || Double.isNaN(rate)
                        || skips >= maxSkips || !(rate * inputChange < threshold);
                skips = c ? 0 : skips + 1;
                return c;
            }

            @Override
            public void computed(int step, double inputChange, double outputChange) {
                if (any) {
                    rate = inputChange > 0 ? outputChange / inputChange : Double.NaN;
                }
                any = true;
            }
        };
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT,
                "StepCaches.adaptive(threshold=%s, maxSkips=%d, warmup=%d, %s)", threshold,
                maxSkips, warmup, reuse);
    }
}
