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
     * LPL leaping when consecutive velocities stop becoming more similar, with the project's rule
     * (the paper's text: tolerance 1e-4, whole-velocity cosine, measured from ⌈K/2⌉ − 1, best
     * from −∞; see {@link LinearProportionalLeap}).
     *
     * @return the scheduler
     */
    public static StepScheduler lplDynamic() {
        return LinearProportionalLeap.dynamic();
    }

    /**
     * LPL with the dynamic rule of the paper's code (eai-lab/On-device-Sora 47a90a5): tolerance
     * 1e-3, cosine over v[0, 0, 0] row-wise, best from 0, measured from step 14 for every K.
     *
     * @return the scheduler
     */
    public static StepScheduler lplDynamicUpstream() {
        return LinearProportionalLeap.dynamicUpstream();
    }
}
