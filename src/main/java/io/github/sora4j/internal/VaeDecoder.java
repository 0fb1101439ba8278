package io.github.sora4j.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.LoadedBlock;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.PackManifest;
import java.util.List;

/**
 * Runs the VAE decoder blocks: de-normalise, temporal decoder per chunk of latent frames, spatial
 * decoder per micro-batch of frames.
 *
 * <p>The spatial decoder works on each frame alone (2-D convolutions, a GroupNorm and an
 * attention per frame), so the frames of a micro-batch can be decoded in smaller batches with
 * the same result up to float rounding. {@link #spatialMicroBatch} makes the pack's micro-batch
 * smaller where one batch's full-resolution activations would exceed {@link
 * #SPATIAL_BATCH_BYTES} (at 256×256, Open-Sora's decoder needs 0.20 GB per frame: two frames at a
 * time there, the pack's 4 at 192×192 and below). After each micro-batch and each temporal chunk
 * the freed native memory is given back ({@link NativeHeap#trim()}): without it, glibc kept the
 * freed activations of earlier batches and a 68×256×256 decode rose by 1.65 GB where one stage
 * needs 0.8 GB (docs/memory.md section 9).
 */
public final class VaeDecoder {
    /**
     * Tensors of {@code [mb, 2c, H, W]} floats alive at once in the spatial decoder's
     * full-resolution stages (c: the width of its last stage): measured 3.00 with libtorch 2.7 on
     * x86-64, full-size VAE at 256×256 (benchmarks/VaeDecodeMemory, docs/memory.md section 9).
     */
    public static final double SPATIAL_TENSORS = 3;
    /**
     * The most full-resolution activation bytes one spatial micro-batch may need before the
     * batch is split ({@link #spatialMicroBatch}).
     */
    public static final long SPATIAL_BATCH_BYTES = 512L << 20;

    private final PackManifest manifest;
    private final PackManifest.Vae config;
    private final List<BlockInfo> temporal;
    private final List<BlockInfo> spatial;
    private final List<BlockInfo> all;

    /**
     * Reads the VAE blocks of a pack.
     *
     * @param pack the pack
     */
    public VaeDecoder(ModelPack pack) {
        this.manifest = pack.manifest();
        this.config = manifest.vae();
        this.all = pack.manifest().blocks("vae");
        this.temporal = all.stream().filter(b -> b.role().equals("vae-temporal")).toList();
        this.spatial = all.stream().filter(b -> b.role().equals("vae-spatial")).toList();
    }

    /**
     * Latent frames T for a pixel frame count: whole chunks of {@code microFrameSize} frames give
     * {@code microZFrameSize} latent frames each, a remainder r gives ceil(r / temporal
     * compression).
     *
     * @param vae the VAE config
     * @param frames pixel frames
     * @return T
     */
    public static int latentFrames(PackManifest.Vae vae, int frames) {
        int full = frames / vae.microFrameSize();
        int rest = frames % vae.microFrameSize();
        int tc = vae.temporalCompression();
        return full * vae.microZFrameSize() + (rest + tc - 1) / tc;
    }

    /**
     * Frames per spatial-decoder batch for frames of {@code height × width}: the pack's
     * micro-batch, halved (to at least 1) while the batch's full-resolution activations, {@link
     * #SPATIAL_TENSORS} floats of {@code [mb, 2c, H, W]}, exceed {@link #SPATIAL_BATCH_BYTES}.
     *
     * @param m the pack's manifest
     * @param height frame height in pixels
     * @param width frame width in pixels
     * @return the micro-batch, in {@code [1, vae.spatialMicroBatch]}
     */
    public static int spatialMicroBatch(PackManifest m, int height, int width) {
        int mb = m.vae().spatialMicroBatch();
        while (mb > 1 && spatialBatchBytes(m, mb, height, width) > SPATIAL_BATCH_BYTES) {
            mb = (mb + 1) / 2;
        }
        return mb;
    }

    /**
     * The spatial decoder's full-resolution activation bytes for a micro-batch of {@code mb}
     * frames: {@link #SPATIAL_TENSORS} · 4 bytes · mb · 2c · H · W.
     *
     * @param m the pack's manifest
     * @param mb frames per batch
     * @param height frame height in pixels
     * @param width frame width in pixels
     * @return bytes
     */
    public static long spatialBatchBytes(PackManifest m, int mb, int height, int width) {
        long c = outputWidth(m.blocksWithRole("vae-spatial"), 29, 3);
        return (long) Math.ceil(SPATIAL_TENSORS * 4 * mb * 2 * c * (long) height * width);
    }

    /**
     * The channel width c of a decoder's output block with {@code a·c + b} parameters (a
     * GroupNorm and a 3×3 convolution to RGB: 29c + 3 for the spatial decoder, 110c + 4 for the
     * temporal one); 128 (the released VAE) when there is no such block or its size does not fit
     * the formula.
     *
     * @param blocks the decoder's blocks in order
     * @param a parameters per channel
     * @param b constant parameters
     * @return c
     */
    public static long outputWidth(List<BlockInfo> blocks, long a, long b) {
        if (blocks.isEmpty()) {
            return 128;
        }
        BlockInfo out = blocks.get(blocks.size() - 1);
        long size = switch (out.dtype()) {
            case "float16", "bfloat16" -> 2;
            case "int8" -> 1;
            default -> 4;
        };
        long params = out.parameterBytes() / size;
        return params > b && (params - b) % a == 0 ? (params - b) / a : 128;
    }

    /**
     * Decodes a latent to pixels, the spatial decoder in batches of {@link #spatialMicroBatch}
     * frames.
     *
     * @param z latent [1, C, T, H', W']
     * @param frames pixel frames F the latent encodes
     * @param loader loads the blocks
     * @param out manager of the result and intermediates
     * @param afterBlock told after each block
     * @return pixels [3, F, H, W] in about [-1, 1]
     */
    public NDArray decode(NDArray z, int frames, BlockLoader loader, NDManager out,
            BlockCallback afterBlock) {
        Shape zs = z.getShape();
        int height = (int) zs.get(3) * config.spatialCompression();
        int width = (int) zs.get(4) * config.spatialCompression();
        return decode(z, frames, loader, out, afterBlock,
                spatialMicroBatch(manifest, height, width));
    }

    /**
     * Decodes a latent to pixels, the spatial decoder in batches of {@code microBatch} frames.
     *
     * @param z latent [1, C, T, H', W']
     * @param frames pixel frames F the latent encodes
     * @param loader loads the blocks
     * @param out manager of the result and intermediates
     * @param afterBlock told after each block
     * @param microBatch frames per spatial-decoder batch, {@code >= 1}
     * @return pixels [3, F, H, W] in about [-1, 1]
     * @throws IllegalArgumentException if {@code microBatch < 1}
     */
    public NDArray decode(NDArray z, int frames, BlockLoader loader, NDManager out,
            BlockCallback afterBlock, int microBatch) {
        if (microBatch < 1) {
            throw new InvalidConfigurationException("microBatch must be >= 1 but was " + microBatch);
        }
        loader.beginSet(all);
        int channels = config.latentChannels();
        float[] scale = new float[channels];
        float[] shift = new float[channels];
        for (int c = 0; c < channels; c++) {
            scale[c] = (float) config.scale()[c];
            shift[c] = (float) config.shift()[c];
        }
        Shape perChannel = new Shape(1, channels, 1, 1, 1);
        NDArray zd = z.mul(out.create(scale, perChannel)).add(out.create(shift, perChannel));
        long latentT = z.getShape().get(2);
        int chunkCount = (int) ((latentT + config.microZFrameSize() - 1) / config.microZFrameSize());
        int batchCount = (frames + microBatch - 1) / microBatch;
        int count = chunkCount * temporal.size() + batchCount * spatial.size();
        int done = 0;
        NDList chunks = new NDList();
        int remaining = frames;
        for (long i = 0; i < latentT; i += config.microZFrameSize()) {
            NDArray h = zd.get(new NDIndex(":, :, {}:{}", i,
                    Math.min(latentT, i + config.microZFrameSize())));
            NDArray nf = out.create((long) Math.min(config.microFrameSize(), remaining));
            remaining -= config.microFrameSize();
            for (BlockInfo info : temporal) {
                long start = System.nanoTime();
                NDArray input = h;
                try (LoadedBlock block = loader.acquire(info)) {
                    h = block.forward(out, h, nf).head();
                }
                input.close(); // keep one stage's activations at a time (docs/memory.md)
                afterBlock.done(done++, count, info, System.nanoTime() - start);
            }
            chunks.add(h);
        }
        NDArray x = NDArrays.concat(chunks, 2).div((float) config.spatialScalingFactor());
        Shape xs = x.getShape();
        x = x.transpose(0, 2, 1, 3, 4).reshape(xs.get(2), xs.get(1), xs.get(3), xs.get(4));
        NDList decoded = new NDList();
        long f = xs.get(2);
        NativeHeap.trim();
        for (long m = 0; m < f; m += microBatch) {
            NDArray h = x.get(new NDIndex("{}:{}", m, Math.min(f, m + microBatch)));
            for (BlockInfo info : spatial) {
                long start = System.nanoTime();
                NDArray input = h;
                try (LoadedBlock block = loader.acquire(info)) {
                    h = block.forward(out, h).head();
                }
                input.close(); // keep one stage's activations at a time (docs/memory.md)
                afterBlock.done(done++, count, info, System.nanoTime() - start);
            }
            decoded.add(h);
            NativeHeap.trim(); // the batch's activations are freed: give their pages back
        }
        return NDArrays.concat(decoded, 0).transpose(1, 0, 2, 3);
    }
}
