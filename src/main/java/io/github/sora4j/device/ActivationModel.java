package io.github.sora4j.device;

import io.github.sora4j.internal.VaeDecoder;
import io.github.sora4j.load.ActivationPeaks;
import io.github.sora4j.pack.PackManifest;

/**
 * Estimates the activation peak of each block set from the request's shapes: the tensors alive at
 * the worst moment of the set's largest block, plus what the runner keeps between blocks. All
 * activations are float32. An estimate, not a measurement; docs/memory.md gives every formula.
 */
final class ActivationModel {
    private static final long F32 = 4;
    /** CFG batch: conditional and null prompt. */
    private static final long CFG_BATCH = 2;

    private ActivationModel() {}

    static ActivationPeaks estimate(PackManifest m, int frames, int height, int width,
            int captionTokens) {
        return ActivationPeaks.of(t5(m), stdit(m, frames, height, width, captionTokens),
                vae(m, frames, height, width));
    }

    /**
     * T5 block at Lt tokens: hidden, norm, q, k, v (5·Lt·D); scores, scores + bias and softmax
     * (3·H·Lt²); or the gated FFN (2·Lt·D + 3·Lt·dff, dff = 2.5·D as in T5 v1.1). Plus the position
     * bias the blocks share (H·Lt²) and each block's output, which the text encoder keeps until
     * the set ends ((blocks + 2)·Lt·D).
     */
    static long t5(PackManifest m) {
        PackManifest.Text t = m.text();
        long lt = t.modelMaxLength();
        long d = t.dModel();
        long h = t.numHeads();
        long dff = d * 5 / 2;
        long attention = 5 * lt * d + 3 * h * lt * lt;
        long ffn = 2 * lt * d + 3 * lt * dff;
        long kept = h * lt * lt + (t.numBlocks() + 2L) * lt * d;
        return F32 * (Math.max(attention, ffn) + kept);
    }

    /**
     * One STDiT step with CFG (B = 2) on N = T·S tokens of width C, x = B·N·C: the largest of a
     * pair's stages, spatial attention (5x + 2·B·T·heads·S², from qkv, normed q and k, scores and
     * softmax), temporal attention (5x + 2·B·S·heads·T²), cross-attention over L caption tokens
     * (2x + 2·B·heads·N·L) and the MLP (9x: hidden 4C before and after GELU); plus the pair's
     * input and output (2x), the caption tokens and the latents.
     */
    static long stdit(PackManifest m, int frames, int height, int width, int captionTokens) {
        PackManifest.Stdit s = m.stdit();
        PackManifest.Vae v = m.vae();
        long t = VaeDecoder.latentFrames(v, frames);
        long hl = height / v.spatialCompression();
        long wl = width / v.spatialCompression();
        int[] p = s.patchSize();
        long tt = ceilDiv(t, p[0]);
        long sp = ceilDiv(hl, p[1]) * ceilDiv(wl, p[2]);
        long n = tt * sp;
        long c = s.hiddenSize();
        long heads = s.numHeads();
        long l = Math.max(1, Math.min(captionTokens, m.text().modelMaxLength()));
        long b = CFG_BATCH;
        long x = b * n * c;
        long spatial = 5 * x + 2 * b * tt * heads * sp * sp;
        long temporal = 5 * x + 2 * b * sp * heads * tt * tt;
        long cross = 2 * x + 2 * b * heads * n * l;
        long mlp = 9 * x;
        long kept = 2 * x + b * l * c + b * l * s.captionChannels()
                + b * (2L * s.inChannels() + s.outChannels()) * t * hl * wl;
        return F32 * (Math.max(Math.max(spatial, temporal), Math.max(cross, mlp)) + kept);
    }

    /**
     * Tensors of {@code [4·ct, 4·5 frames, H', W']} floats alive at once in the temporal
     * decoder's widest stage: measured 6.6 with libtorch 2.7 on x86-64 (the 3-D convolutions'
     * work buffers come on top of the stage's own tensors; benchmarks/VaeDecodeMemory,
     * docs/memory.md section 9), rounded up.
     */
    static final long TEMPORAL_TENSORS = 7;

    /**
     * VAE decode: the spatial decoder's full-resolution stages on a micro-batch of mb frames
     * ({@link VaeDecoder#spatialMicroBatch}), {@link VaeDecoder#SPATIAL_TENSORS} tensors of [mb,
     * 2·c, H, W] alive at once (c: width of its last stage, read off the size of the output
     * block, a GroupNorm and a 3×3 convolution to RGB with 29c + 3 parameters); or the temporal
     * decoder's widest stage, {@link #TEMPORAL_TENSORS} tensors of [4·ct, 4·5 frames, H', W']
     * (ct from its output block, 110·ct + 4 parameters); plus the decoded frames, kept three
     * times (batches, concatenation, transpose), and the latents.
     */
    static long vae(PackManifest m, int frames, int height, int width) {
        PackManifest.Vae v = m.vae();
        long t = VaeDecoder.latentFrames(v, frames);
        long hl = height / v.spatialCompression();
        long wl = width / v.spatialCompression();
        int h = (int) (hl * v.spatialCompression());
        int w = (int) (wl * v.spatialCompression());
        long ct = VaeDecoder.outputWidth(m.blocksWithRole("vae-temporal"), 110, 4);
        long spatial = VaeDecoder.spatialBatchBytes(m, VaeDecoder.spatialMicroBatch(m, h, w), h, w);
        long temporal = F32 * TEMPORAL_TENSORS * 4 * ct * (long) v.microZFrameSize()
                * v.temporalCompression() * hl * wl;
        long kept = 3 * 3L * frames * h * w + 4L * v.latentChannels() * t * hl * wl
                + 2L * v.latentChannels() * frames * hl * wl;
        return Math.max(spatial, temporal) + F32 * kept;
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
