package io.github.sora4j.schedule;

import io.github.sora4j.InvalidConfigurationException;
import ai.djl.ndarray.NDArray;

/**
 * Plain rectified-flow Euler sampling: every timestep is a model call, each step goes to the next
 * timestep and the last one to t = 0 (Open-Sora v1.2's {@code RFLOW} sampler).
 */
public final class RectifiedFlowScheduler implements StepScheduler {

    /** Creates the scheduler; stateless, shareable. */
    public RectifiedFlowScheduler() {}

    @Override
    public Timesteps timesteps(SamplingContext context) {
        return RectifiedFlow.timesteps(context);
    }

    @Override
    public Session start(Timesteps timesteps) {
        return (int step, NDArray velocity) -> {
            if (step < 0 || step >= timesteps.count()) {
                throw new InvalidConfigurationException(
                        "step must be in 0.." + (timesteps.count() - 1) + " but was " + step);
            }
            return StepDecision.regular(timesteps.eulerDelta(step), step == timesteps.count() - 1);
        };
    }

    @Override
    public String toString() {
        return "RectifiedFlowScheduler";
    }
}
