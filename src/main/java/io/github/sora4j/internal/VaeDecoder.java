package io.github.sora4j.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.LoadedBlock;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.PackManifest;
import java.util.List;

/**
 * Runs the VAE decoder blocks: de-normalise, temporal decoder per chunk of latent frames, spatial
 * decoder per micro-batch of frames.
 */
public final class VaeDecoder {
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
        this.config = pack.manifest().vae();
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
     * Decodes a latent to pixels.
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
        int batchCount = (frames + config.spatialMicroBatch() - 1) / config.spatialMicroBatch();
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
        for (long m = 0; m < f; m += config.spatialMicroBatch()) {
            NDArray h = x.get(new NDIndex("{}:{}", m, Math.min(f, m + config.spatialMicroBatch())));
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
        }
        return NDArrays.concat(decoded, 0).transpose(1, 0, 2, 3);
    }
}
