package io.github.sora4j.schedule;

import ai.djl.ndarray.NDArray;

/**
 * Decides where a generation samples and how far each Euler step goes: the strategy behind plain
 * rectified flow and Linear Proportional Leap (LPL).
 *
 * <p>The pipeline asks {@link #timesteps} once per generation, opens a {@link Session} for it, and
 * after each model call (with the CFG velocity) asks the session for a {@link StepDecision}: the
 * step size {@code dt} and whether sampling stops after this update. The pipeline then applies
 * {@code z += v · dt / numTimesteps}. A scheduler never calls the model; all per-generation state
 * lives in the session, so one scheduler serves concurrent generations.
 *
 * <pre>{@code
 * StepScheduler s = StepSchedulers.rectifiedFlow();
 * Timesteps ts = s.timesteps(context);
 * StepScheduler.Session session = s.start(ts);
 * StepDecision d = session.decide(0, velocity);   // d.dt() == ts.eulerDelta(0)
 * }</pre>
 */
public interface StepScheduler {

    /**
     * The timesteps of a generation (at most one model call each).
     *
     * @param context the request's sizes and schedule settings
     * @return the timesteps, decreasing
     */
    Timesteps timesteps(SamplingContext context);

    /**
     * Starts the per-generation state.
     *
     * @param timesteps what {@link #timesteps} returned for this generation
     * @return a fresh session, used by one generation only
     */
    Session start(Timesteps timesteps);

    /** The state of one generation; not shared between generations or threads. */
    interface Session {
        /**
         * Decides the update after model call {@code step}.
         *
         * @param step 0-based step index
         * @param velocity the CFG-combined velocity of this step, shape [1, C, T, H', W'] (owned by
         *     the caller: read it, do not close or keep it)
         * @return the step size and whether this is the last step
         */
        StepDecision decide(int step, NDArray velocity);

        /**
         * Whether the model must really run at {@code step} because this session's decision there
         * depends on a fresh velocity: a fixed LPL's leap step, every step a dynamic LPL measures.
         * A step cache ({@link io.github.sora4j.cache.StepCache}) never reuses a cached result on
         * such a step.
         *
         * @param step 0-based step index
         * @return true if the step must compute (default: false)
         */
        default boolean needsModel(int step) {
            return false;
        }
    }
}
