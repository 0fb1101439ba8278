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
 * estimate for the VAE set.
 *
 * <pre>
 * java ... VaeDecodeMemory PACK FRAMES SIZE
 * </pre>
 */
public final class VaeDecodeMemory {
    private VaeDecodeMemory() {}

    /**
     * Runs it.
     *
     * @param args pack directory, frames, size (square)
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
        try (NDManager manager = NDManager.newBaseManager();
                BlockLoader loader = BlockLoaders.resident(pack)) {
            loader.beginSet(vae);
            for (BlockInfo b : vae) {
                loader.acquire(b).close(); // load every VAE block once (resident keeps them)
            }
            NDArray z = manager.randomNormal(new Shape(1, 4, latentT, s, s));
            ProcessMemory.Start start = ProcessMemory.begin();
            long t0 = System.nanoTime();
            try (NDManager run = manager.newSubManager()) {
                NDArray pixels = new VaeDecoder(pack).decode(z, frames, loader, run,
                        (i, n, b, ns) -> { });
                pixels.getShape();
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            ProcessMemory.Sample sample = start.finish();
            System.out.printf(Locale.ROOT, "{\"frames\": %d, \"size\": %d, \"latent\": [1, 4, %d, %d, %d],"
                    + " \"vae_weight_bytes\": %d, \"rss_before_bytes\": %d, \"peak_rss_bytes\": %d,"
                    + " \"rise_bytes\": %d, \"plan_vae_activation_bytes\": %d, \"hwm_reset\": %s,"
                    + " \"seconds\": %.1f}%n", frames, size, latentT, s, s, weights,
                    sample.rssBeforeBytes(), sample.peakBytes(), sample.riseBytes(), estimate,
                    sample.reset(), seconds);
        }
    }
}
