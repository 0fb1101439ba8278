package io.github.sora4j;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;

/**
 * Collects a {@link GenerationTrace} during one generation, or nothing when tracing is off, so
 * the denoising loop reads as the algorithm. Not thread-safe: one per generation.
 */
final class TraceRecorder {
    private final boolean on;
    private final List<Double> timesteps = new ArrayList<>();
    private final List<float[]> velocities = new ArrayList<>();
    private final List<float[]> latents = new ArrayList<>();
    private float[] embedding;
    private float[] noise;

    private TraceRecorder(boolean on) {
        this.on = on;
    }

    /**
     * A recorder for one generation.
     *
     * @param on whether to record
     * @return the recorder (a no-op when {@code on} is false)
     */
    static TraceRecorder create(boolean on) {
        return new TraceRecorder(on);
    }

    /** Records the conditional prompt embedding (already copied off the native array). */
    void embedding(float[] y) {
        if (on) {
            embedding = y;
        }
    }

    /** Records the initial noise (kept, not copied: the caller replaces, never mutates, it). */
    void noise(float[] z0) {
        if (on) {
            noise = z0;
        }
    }

    /** Records one executed step: its timestep, CFG velocity and the latent after the update. */
    void step(double timestep, NDArray velocity, float[] latent) {
        if (on) {
            timesteps.add(timestep);
            velocities.add(velocity.toFloatArray());
            latents.add(latent);
        }
    }

    /**
     * The trace, or null when recording is off.
     *
     * @param promptIds the token ids fed to T5
     * @param pixels the decoded pixels, or null when not decoded
     * @return the trace or null
     */
    GenerationTrace build(long[] promptIds, float[] pixels) {
        return on ? new GenerationTrace(promptIds, embedding, noise, timesteps, velocities, latents,
                pixels) : null;
    }
}
