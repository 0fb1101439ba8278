package io.github.sora4j.schedule;

/**
 * Open-Sora v1.2's rectified-flow timestep schedule ({@code RFLOW} with discrete timesteps and the
 * timestep transform), in double precision.
 *
 * <p>For K steps: t<sub>i</sub> = round((1 − i/K)·N) with round-half-to-even (Python's {@code
 * round}), i = 0..K−1. The transform (SD3-style resolution and length shift) maps each to
 * t' = N·r·τ / (1 + (r − 1)·τ) with τ = t/N, r = sqrt(H·W/512²) · sqrt(nf) · scale and nf the
 * latent frame count of the real request. Upstream computes nf = (frames / 17)·5, which equals the
 * latent frame count for every multiple of 17 frames (and 1 frame) but collapses the schedule to 0
 * below 17 frames; the upstream app hard-codes 51 frames. Using the latent count fixes both and
 * agrees with upstream wherever upstream is well defined.
 */
public final class RectifiedFlow {
    private RectifiedFlow() {}

    /**
     * Computes the timesteps of a generation.
     *
     * @param c the sampling context
     * @return t'<sub>0</sub> … t'<sub>K−1</sub>
     */
    public static Timesteps timesteps(SamplingContext c) {
        int k = c.steps();
        double n = c.numTimesteps();
        double[] t = new double[k];
        for (int i = 0; i < k; i++) {
            t[i] = Math.rint((1.0 - (double) i / k) * n);
        }
        if (c.timestepTransform()) {
            double ratio = transformRatio(c.latentFrames(), c.height(), c.width(), c.transformScale());
            for (int i = 0; i < k; i++) {
                double tau = t[i] / n;
                // At τ = 1 the quotient is 1 up to rounding (1 + (r − 1) need not equal r in
                // floating point), which could put t'_0 a hair above N.
                t[i] = Math.min(n, ratio * tau / (1 + (ratio - 1) * tau) * n);
            }
        }
        return new Timesteps(t, c.numTimesteps());
    }

    /**
     * The shift ratio r of the timestep transform.
     *
     * @param latentFrames latent frames T
     * @param height pixel height
     * @param width pixel width
     * @param scale extra factor (1.0 upstream)
     * @return r
     */
    public static double transformRatio(int latentFrames, int height, int width, double scale) {
        double ratioSpace = Math.sqrt((double) height * width / (512.0 * 512.0));
        return ratioSpace * Math.sqrt(latentFrames) * scale;
    }
}
