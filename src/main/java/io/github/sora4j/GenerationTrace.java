package io.github.sora4j;

import java.util.List;

/**
 * Intermediate tensors of one generation, as float32 arrays in C order, recorded for parity checks
 * and debugging (see {@code VideoPipeline.Builder#recordTrace}).
 *
 * @param promptIds token ids fed to T5 [model max length]
 * @param promptEmbedding T5 output rows of the valid tokens [1, L, D]
 * @param initialNoise the initial latent z [1, C, T, H', W']
 * @param timesteps the timestep of each step that ran
 * @param velocities the CFG velocity of each step that ran [1, C, T, H', W']
 * @param latents the latent after each step's update [1, C, T, H', W']
 * @param pixels decoded frames before quantisation [3, F, H, W] in about [-1, 1]
 */
public record GenerationTrace(
        long[] promptIds,
        float[] promptEmbedding,
        float[] initialNoise,
        List<Double> timesteps,
        List<float[]> velocities,
        List<float[]> latents,
        float[] pixels) {

    /**
     * Copies the lists.
     *
     * @param promptIds token ids fed to T5 [model max length]
     * @param promptEmbedding T5 output rows of the valid tokens [1, L, D]
     * @param initialNoise the initial latent z [1, C, T, H', W']
     * @param timesteps the timestep of each step that ran
     * @param velocities the CFG velocity of each step that ran [1, C, T, H', W']
     * @param latents the latent after each step's update [1, C, T, H', W']
     * @param pixels decoded frames before quantisation [3, F, H, W] in about [-1, 1]
     */
    public GenerationTrace {
        timesteps = List.copyOf(timesteps);
        velocities = List.copyOf(velocities);
        latents = List.copyOf(latents);
    }
}
