package io.github.sora4j.schedule;

import io.github.sora4j.InvalidConfigurationException;

/**
 * What a {@link StepScheduler.Session} decided after one model call.
 *
 * @param dt step size in timestep units: the pipeline applies {@code z += v · dt / numTimesteps}
 * @param last whether sampling stops after this update
 * @param leap whether this step is a leap straight to t = 0 before the last regular step (LPL)
 * @param cosine similarity of this velocity to the previous one, or NaN if not measured
 */
public record StepDecision(double dt, boolean last, boolean leap, double cosine) {

    /**
     * Validates the step size.
     *
     * @param dt step size in timestep units: the pipeline applies {@code z += v · dt / numTimesteps}
     * @param last whether sampling stops after this update
     * @param leap whether this step is a leap straight to t = 0 before the last regular step (LPL)
     * @param cosine similarity of this velocity to the previous one, or NaN if not measured
     */
    public StepDecision {
        if (!(dt > 0) || Double.isInfinite(dt)) {
            throw new InvalidConfigurationException("dt must be positive and finite but was " + dt);
        }
        if (leap && !last) {
            throw new InvalidConfigurationException("a leap must be the last step");
        }
    }

    /**
     * A regular Euler step.
     *
     * @param dt step size in timestep units
     * @param last whether it is the last step
     * @return the decision
     */
    public static StepDecision regular(double dt, boolean last) {
        return new StepDecision(dt, last, false, Double.NaN);
    }
}
