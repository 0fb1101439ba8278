package io.github.sora4j.benchmarks;

import io.github.sora4j.internal.NativeHeap;
import io.github.sora4j.load.TorchScriptBlock;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What stays in the process after a block is read and closed: the named blocks of a pack are read
 * ({@link TorchScriptBlock#load}) and closed one after another, and after each the Java heap is
 * collected and freed native memory returned ({@code System.gc()}, {@code malloc_trim}); the
 * resident memory then, above the start, is what the read left behind (docs/memory.md section 9).
 *
 * <pre>
 * java ... BlockReadRetention PACK BLOCK [BLOCK ...]
 * </pre>
 */
public final class BlockReadRetention {
    private BlockReadRetention() {}

    /**
     * Runs it.
     *
     * @param args pack directory, then block names in the order to read them
     */
    public static void main(String[] args) {
        ModelPack pack = ModelPack.open(Path.of(args[0]), false);
        long start = ProcessMemory.statusBytes("VmRSS");
        for (int i = 1; i < args.length; i++) {
            String name = args[i];
            BlockInfo info = pack.manifest().blocks().stream().filter(b -> b.name().equals(name))
                    .findFirst().orElseThrow(() -> new IllegalArgumentException("no block " + name));
            long loaded;
            try (TorchScriptBlock block = TorchScriptBlock.load(pack, info)) {
                loaded = ProcessMemory.statusBytes("VmRSS");
            }
            System.gc();
            NativeHeap.trim();
            long after = ProcessMemory.statusBytes("VmRSS");
            Runtime rt = Runtime.getRuntime();
            System.out.printf(Locale.ROOT, "{\"block\": \"%s\", \"file_bytes\": %d, \"rss_start_bytes\": %d, "
                    + "\"rss_loaded_bytes\": %d, \"rss_after_close_bytes\": %d, \"left_behind_bytes\": %d, "
                    + "\"java_heap_committed_bytes\": %d}%n", name, info.bytes(), start, loaded, after,
                    after - start, rt.totalMemory());
        }
    }
}
