package io.github.sora4j;

/**
 * What one sampling step did.
 *
 * @param index 0-based step index
 * @param timestep the (transformed) timestep t' the model ran at, in 0..1000
 * @param dt the Euler step size taken, in timestep units
 * @param elapsedNanos wall time of the step
 * @param merged whether tokens were merged along time (TDTM) at this step
 * @param cosine cosine similarity of this step's velocity to the previous one, or NaN if the
 *     scheduler did not measure it
 * @param leap whether this step leapt straight to t = 0 (LPL)
 * @param computed whether STDiT's block stack ran; false when the step reused a step cache's
 *     residual or velocity ({@link io.github.sora4j.cache.StepCache})
 */
public record StepReport(
        int index,
        double timestep,
        double dt,
        long elapsedNanos,
        boolean merged,
        double cosine,
        boolean leap,
        boolean computed) {

    /**
     * A computed step.
     *
     * @param index 0-based step index
     * @param timestep the (transformed) timestep t' the model ran at, in 0..1000
     * @param dt the Euler step size taken, in timestep units
     * @param elapsedNanos wall time of the step
     * @param merged whether tokens were merged along time (TDTM) at this step
     * @param cosine cosine similarity of this step's velocity to the previous one, or NaN
     * @param leap whether this step leapt straight to t = 0 (LPL)
     */
    public StepReport(int index, double timestep, double dt, long elapsedNanos, boolean merged,
            double cosine, boolean leap) {
        this(index, timestep, dt, elapsedNanos, merged, cosine, leap, true);
    }
}
