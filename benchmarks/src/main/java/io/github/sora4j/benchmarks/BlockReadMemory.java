package io.github.sora4j.benchmarks;

import io.github.sora4j.internal.NativeHeap;
import io.github.sora4j.load.BlockReaders;
import io.github.sora4j.load.TorchScriptBlock;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What reading one block holds beyond its weights: each named block of a pack is read with the
 * library's reader ({@link TorchScriptBlock#load}: the checked bytes on the Java heap, then DJL's
 * stream loading) a few times, with the process's peak reset before each read; the peak's rise
 * above the resident memory before the read, less the block's parameter bytes, is the read's
 * overhead, reported as copies of the block's file (docs/memory.md section 9).
 *
 * <pre>
 * java ... BlockReadMemory PACK BLOCK [BLOCK ...]
 * </pre>
 */
public final class BlockReadMemory {
    private static final int READS = 3;

    private BlockReadMemory() {}

    /**
     * Runs it.
     *
     * @param args pack directory, then block names
     */
    public static void main(String[] args) {
        ModelPack pack = ModelPack.open(Path.of(args[0]), false);
        for (int i = 1; i < args.length; i++) {
            String name = args[i];
            BlockInfo info = pack.manifest().blocks().stream().filter(b -> b.name().equals(name))
                    .findFirst().orElseThrow(() -> new IllegalArgumentException("no block " + name));
            for (int r = 0; r < READS; r++) {
                ProcessMemory.Start start = ProcessMemory.begin();
                long before = ProcessMemory.statusBytes("VmRSS");
                long loaded;
                try (TorchScriptBlock block = TorchScriptBlock.load(pack, info)) {
                    loaded = ProcessMemory.statusBytes("VmRSS");
                }
                long peak = start.finish().peakBytes();
                NativeHeap.trim();
                long extra = peak - before - info.parameterBytes();
                System.out.printf(Locale.ROOT, "{\"block\": \"%s\", \"read\": %d, \"file_bytes\": %d, "
                        + "\"parameter_bytes\": %d, \"rss_before_bytes\": %d, \"rss_loaded_bytes\": %d, "
                        + "\"peak_bytes\": %d, \"overhead_bytes\": %d, \"overhead_file_copies\": %.2f, "
                        + "\"planned_copies\": %d}%n", name, r, info.bytes(), info.parameterBytes(),
                        before, loaded, peak, extra, extra / (double) info.bytes(),
                        BlockReaders.TORCH_SCRIPT_READ_COPIES);
            }
        }
    }
}
