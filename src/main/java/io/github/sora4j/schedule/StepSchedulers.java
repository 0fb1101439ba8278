package io.github.sora4j.schedule;

/** Factories of the built-in {@link StepScheduler}s. */
public final class StepSchedulers {
    private StepSchedulers() {}

    /**
     * Full-step rectified-flow Euler sampling (every step a model call).
     *
     * @return the scheduler
     */
    public static StepScheduler rectifiedFlow() {
        return new RectifiedFlowScheduler();
    }

    /**
     * LPL leaping at a fixed step index (n + 1 model calls).
     *
     * @param n 0-based index of the leaping step (15 for the paper's 16 of 30)
     * @return the scheduler
     */
    public static StepScheduler lplFixed(int n) {
        return LinearProportionalLeap.fixed(n);
    }

    /**
     * LPL leaping when consecutive velocities stop becoming more similar, with the paper's
     * defaults.
     *
     * @return the scheduler
     */
    public static StepScheduler lplDynamic() {
        return LinearProportionalLeap.dynamic();
    }
}
