package io.github.sora4j.benchmarks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.sora4j.device.MemoryPlan;
import io.github.sora4j.internal.VaeDecoder;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.BlockLoaders;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The VAE decode's memory at a request's size on a (full-size) pack: the VAE blocks are loaded
 * resident first, then the process's peak is reset and one decode of a random latent runs; the
 * peak's rise is the decode's activations (plus allocator slack), compared with the memory plan's
 * estimate for the VAE set. Per block, the peak's rise while the block ran (above the resident
 * memory when it started, its input included) is reported too, as the largest for the temporal
 * and the spatial blocks: what the activation model's per-stage terms predict.
 *
 * <pre>
 * java ... VaeDecodeMemory PACK FRAMES SIZE [MICRO_BATCH] [STOP_AFTER_BLOCKS]
 * </pre>
 *
 * MICRO_BATCH: frames per spatial batch (default: {@link VaeDecoder#spatialMicroBatch});
 * STOP_AFTER_BLOCKS: stop the decode after that many blocks (e.g. the temporal chunks and the
 * first spatial batch), for the per-block peaks without the whole decode's time.
 */
public final class VaeDecodeMemory {
    private VaeDecodeMemory() {}

    /**
     * Runs it.
     *
     * @param args pack directory, frames, size (square), optionally the spatial micro-batch and
     *     the number of blocks after which to stop
     */
    public static void main(String[] args) {
        ModelPack pack = ModelPack.open(Path.of(args[0]), false);
        int frames = Integer.parseInt(args[1]);
        int size = Integer.parseInt(args[2]);
        List<BlockInfo> vae = pack.manifest().blocks("vae");
        long weights = vae.stream().mapToLong(BlockInfo::parameterBytes).sum();
        long estimate = MemoryPlan.activationPeaks(pack.manifest(), frames, size, size,
                pack.manifest().text().modelMaxLength()).bytesBySet().get("vae");
        int latentT = VaeDecoder.latentFrames(pack.manifest().vae(), frames);
        int s = size / pack.manifest().vae().spatialCompression();
        int microBatch = args.length > 3 ? Integer.parseInt(args[3])
                : VaeDecoder.spatialMicroBatch(pack.manifest(), size, size);
        int stopAfter = args.length > 4 ? Integer.parseInt(args[4]) : Integer.MAX_VALUE;
        long[] stageRise = new long[2]; // temporal, spatial: the largest per-block rise
        long[] stageStart = {0};
        boolean[] stopped = {false};
        try (NDManager manager = NDManager.newBaseManager();
                BlockLoader loader = BlockLoaders.resident(pack)) {
            loader.beginSet(vae);
            for (BlockInfo b : vae) {
                loader.acquire(b).close(); // load every VAE block once (resident keeps them)
            }
            NDArray z = manager.randomNormal(new Shape(1, 4, latentT, s, s));
            ProcessMemory.Start start = ProcessMemory.begin();
            long t0 = System.nanoTime();
            stageStart[0] = ProcessMemory.statusBytes("VmRSS");
            try (NDManager run = manager.newSubManager()) {
                NDArray pixels = new VaeDecoder(pack).decode(z, frames, loader, run,
                        (i, n, b, ns) -> {
                            long rise = ProcessMemory.statusBytes("VmHWM") - stageStart[0];
                            int k = b.role().equals("vae-temporal") ? 0 : 1;
                            stageRise[k] = Math.max(stageRise[k], rise);
                            System.err.printf(Locale.ROOT, "%s: rise %.1f MB, %.1f s%n",
                                    b.name(), rise / 1e6, ns / 1e9);
                            if (i + 1 >= stopAfter) {
                                stopped[0] = true;
                                throw new IllegalStateException("stopped");
                            }
                            ProcessMemory.resetPeak();
                            stageStart[0] = ProcessMemory.statusBytes("VmRSS");
                        }, microBatch);
                pixels.getShape();
            } catch (IllegalStateException e) {
                if (!stopped[0]) {
                    throw e;
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            ProcessMemory.Sample sample = start.finish();
            System.out.printf(Locale.ROOT, "{\"frames\": %d, \"size\": %d, \"latent\": [1, 4, %d, %d, %d],"
                    + " \"vae_weight_bytes\": %d, \"rss_before_bytes\": %d, \"peak_rss_bytes\": %d,"
                    + " \"rise_bytes\": %d, \"plan_vae_activation_bytes\": %d, \"hwm_reset\": %s,"
                    + " \"seconds\": %.1f, \"micro_batch\": %d, \"stopped_after_blocks\": %s,"
                    + " \"temporal_block_rise_bytes\": %d, \"spatial_block_rise_bytes\": %d,"
                    + " \"plan_spatial_batch_bytes\": %d}%n", frames, size, latentT, s, s, weights,
                    sample.rssBeforeBytes(), sample.peakBytes(), sample.riseBytes(), estimate,
                    sample.reset(), seconds, microBatch, stopped[0] ? stopAfter : "null",
                    stageRise[0], stageRise[1],
                    VaeDecoder.spatialBatchBytes(pack.manifest(), microBatch, size, size));
        }
    }
}
