package io.github.sora4j.schedule;

/**
 * Open-Sora v1.2's rectified-flow timestep schedule ({@code RFLOW} with discrete timesteps and the
 * timestep transform), computed in float32 with upstream's operation order, so the timesteps fed
 * to the model are bit-equal to upstream's (the golden tests under {@code
 * src/test/resources/upstream} check this).
 *
 * <p>For K steps: t<sub>i</sub> = round((1 − i/K)·N) with round-half-to-even (Python's {@code
 * round}), i = 0..K−1. The transform (SD3-style resolution and length shift) maps each to
 * t' = N·r·τ / (1 + (r − 1)·τ) with τ = t/N, r = sqrt(H·W/512²) · sqrt(nf) · scale and nf the
 * latent frame count of the real request. Upstream computes nf = (frames / 17)·5, which equals the
 * latent frame count for every multiple of 17 frames (and 1 frame) but collapses the schedule to 0
 * below 17 frames; the upstream app hard-codes 51 frames. Using the latent count fixes both and
 * agrees with upstream wherever upstream is well defined.
 *
 * <p>Like upstream's, t'<sub>0</sub> can come out a few float32 ulps above N (e.g. 1000.0001 at
 * 152×152 with T = 2); it is kept, as upstream feeds it to the model.
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
        int n = c.numTimesteps();
        double[] t = new double[k];
        float ratio = c.timestepTransform()
                ? transformRatioFloat(c.latentFrames(), c.height(), c.width(), c.transformScale())
                : Float.NaN;
        for (int i = 0; i < k; i++) {
            // Python: int(round((1.0 - i / K) * N)), in double, round half to even.
            int discrete = (int) Math.rint((1.0 - (double) i / k) * n);
            if (c.timestepTransform()) {
                // torch, float32 throughout: t = t_int / N; r·t / (1 + (r − 1)·t) · N.
                float tau = (float) discrete / (float) n;
                float shifted = ratio * tau / (1f + (ratio - 1f) * tau);
                t[i] = shifted * (float) n;
            } else {
                t[i] = discrete;
            }
        }
        return new Timesteps(t, n);
    }

    /**
     * The shift ratio r of the timestep transform in float32, computed as upstream's torch code
     * does: sqrt(H·W / 512²) · sqrt(nf) · scale.
     *
     * @param latentFrames latent frames T (nf)
     * @param height pixel height
     * @param width pixel width
     * @param scale extra factor (1.0 upstream)
     * @return r, float32
     */
    public static float transformRatioFloat(int latentFrames, int height, int width,
            double scale) {
        float resolution = (float) height * (float) width;
        float ratioSpace = (float) Math.sqrt(resolution / (float) (512 * 512));
        float ratioTime = (float) Math.sqrt((float) latentFrames);
        return ratioSpace * ratioTime * (float) scale;
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
