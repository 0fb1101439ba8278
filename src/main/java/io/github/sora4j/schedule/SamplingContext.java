package io.github.sora4j.schedule;

import io.github.sora4j.InvalidConfigurationException;

/**
 * What a {@link StepScheduler} needs to know about a generation to compute its timesteps.
 *
 * @param steps number of sampling steps K requested
 * @param numTimesteps training timesteps (1000 for Open-Sora)
 * @param frames pixel frame count of the video
 * @param latentFrames latent frame count T the VAE gives for {@code frames}
 * @param height pixel height
 * @param width pixel width
 * @param timestepTransform whether to apply Open-Sora's resolution/length timestep shift
 * @param transformScale extra factor of that shift (1.0 upstream)
 */
public record SamplingContext(
        int steps,
        int numTimesteps,
        int frames,
        int latentFrames,
        int height,
        int width,
        boolean timestepTransform,
        double transformScale) {

    /**
     * Validates the values.
     *
     * @param steps number of sampling steps K requested
     * @param numTimesteps training timesteps (1000 for Open-Sora)
     * @param frames pixel frame count of the video
     * @param latentFrames latent frame count T the VAE gives for {@code frames}
     * @param height pixel height
     * @param width pixel width
     * @param timestepTransform whether to apply Open-Sora's resolution/length timestep shift
     * @param transformScale extra factor of that shift (1.0 upstream)
     */
    public SamplingContext {
        if (steps < 1) {
            throw new InvalidConfigurationException("steps must be >= 1 but was " + steps);
        }
        if (numTimesteps < 1) {
            throw new InvalidConfigurationException("numTimesteps must be >= 1 but was " + numTimesteps);
        }
        if (frames < 1 || latentFrames < 1 || height < 1 || width < 1) {
            throw new InvalidConfigurationException(
                    "frames, latentFrames, height and width must be >= 1 but were " + frames + ", "
                            + latentFrames + ", " + height + ", " + width);
        }
        if (!(transformScale > 0)) {
            throw new InvalidConfigurationException("transformScale must be > 0 but was " + transformScale);
        }
    }
}
