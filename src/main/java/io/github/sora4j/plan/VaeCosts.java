package io.github.sora4j.plan;

import io.github.sora4j.plan.FlopModel.Geometry;

/**
 * The VAE decoder's formulas for {@link FlopModel}: the temporal decoder on every chunk of latent
 * frames, then the spatial decoder on every pixel frame, counted as multiply-adds of their
 * convolutions (docs/benchmarks.md).
 *
 * @param v the decoder's shapes
 */
record VaeCosts(Architecture.Vae v) {

    /** The temporal decoder's FLOPs over all latent frames, chunk by chunk. */
    double temporalFlops(Geometry g) {
        int mz = v.microZFrameSize();
        double macs = 0;
        for (int start = 0; start < g.latentFrames(); start += mz) {
            macs += temporalChunkMacs(Math.min(mz, g.latentFrames() - start),
                    (double) g.latentHeight() * g.latentWidth());
        }
        return 2 * macs;
    }

    /** The spatial decoder's FLOPs over all pixel frames. */
    double spatialFlops(Geometry g) {
        return 2 * g.frames() * spatialFrameMacs((double) g.latentHeight() * g.latentWidth());
    }

    private double temporalChunkMacs(int latentFrames, double pixels) {
        int[] mults = v.temporalChannelMultipliers();
        boolean[] down = v.temporalDownsample();
        double t = latentFrames;
        double macs = v.latentChannels() * (double) v.latentChannels() * t * pixels;
        int c = v.temporalFilters() * mults[mults.length - 1];
        macs += conv3(v.latentChannels(), c, t * pixels);
        for (int i = 0; i < v.temporalNumResBlocks(); i++) {
            macs += resBlock(c, c, t * pixels, 27);
        }
        int prev = c;
        for (int level = mults.length - 1; level >= 0; level--) {
            int f = v.temporalFilters() * mults[level];
            for (int i = 0; i < v.temporalNumResBlocks(); i++) {
                macs += resBlock(prev, f, t * pixels, 27);
                prev = f;
            }
            if (level > 0 && down[level - 1]) {
                macs += conv3(prev, 2 * prev, t * pixels);
                t *= 2;
            }
        }
        return macs + conv3(prev, v.sdLatentChannels(), t * pixels);
    }

    private double spatialFrameMacs(double pixels) {
        int[] out = v.spatialBlockOutChannels();
        int c0 = out[out.length - 1];
        double p = pixels;
        double macs = (double) v.sdLatentChannels() * v.sdLatentChannels() * p
                + 9.0 * v.sdLatentChannels() * c0 * p;
        macs += 2 * resBlock(c0, c0, p, 9) + 4.0 * c0 * c0 * p + 2.0 * p * p * c0;
        int prev = c0;
        for (int i = out.length - 1; i >= 0; i--) {
            int c = out[i];
            for (int j = 0; j <= v.spatialLayersPerBlock(); j++) {
                macs += resBlock(prev, c, p, 9);
                prev = c;
            }
            if (i > 0) {
                p *= 4;
                macs += 9.0 * c * c * p;
            }
        }
        return macs + 9.0 * prev * v.outChannels() * p;
    }

    /** A 3×3×3 causal convolution's multiply-adds over {@code voxels} outputs. */
    private static double conv3(int in, int out, double voxels) {
        return 27.0 * in * out * voxels;
    }

    /** Two k-point convolutions and, when the width changes, a 1-point shortcut. */
    private static double resBlock(int in, int out, double points, int kernel) {
        double m = (double) kernel * in * out * points + (double) kernel * out * out * points;
        return in != out ? m + (double) in * out * points : m;
    }
}
