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
}
