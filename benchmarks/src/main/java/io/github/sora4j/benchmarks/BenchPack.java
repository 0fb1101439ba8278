package io.github.sora4j.benchmarks;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.load.ActivationPeaks;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.BlockLoaders;
import io.github.sora4j.load.BlockReader;
import io.github.sora4j.load.BlockReaders;
import io.github.sora4j.load.LoaderListener;
import io.github.sora4j.load.LoaderSettings;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The bench pack (docs/benchmarks.md) and the two settings every benchmark runs it in.
 *
 * <ul>
 *   <li>{@link Setting#COMPUTE}: the paper's request, 68 frames at 256×256 (5,120 tokens per
 *       sample, CFG batch 2), every block resident. A CPU computes a bench block far longer than
 *       it reads it, so this setting measures what LPL and TDTM save.
 *   <li>{@link Setting#STREAMING}: the CI-DL setting. 68 frames at 128×128 (1,280 tokens per
 *       sample); the STDiT blocks are streamed under a weight budget that holds the embed block
 *       and two pairs (the one running and the one loading), each read as if it were its real-size
 *       counterpart from a phone's flash: each read takes at least {@code bytes × }{@link
 *       #byteScale} / {@value #FLASH_BYTES_PER_SECOND} s, where the scale makes a bench pair
 *       stand for the real 170 MB STDiT3-XL/2 pair (117 ms). With 4× fewer tokens a pair then
 *       computes in about the time it loads, as the paper observed on the iPhone.
 * </ul>
 */
public final class BenchPack {
    /** System property naming the bench pack directory. */
    public static final String PROPERTY = "sora4j.benchPack";
    /** Where benchmarks/ablation.sh writes the pack, relative to the repository root. */
    public static final String DEFAULT_DIRECTORY = "benchmarks/target/packs/bench-opensora";
    /** The prompt of every benchmark request. */
    public static final String PROMPT = "A red ball bouncing slowly on the beach at sunset";
    /** The seed of every benchmark request. */
    public static final long SEED = 42;
    /** The paper's iPhone 15 Pro flash, sequential read (performance.md §3d). */
    public static final double FLASH_BYTES_PER_SECOND = 1.45e9;
    /** Bytes of one STDiT3-XL/2 spatial+temporal pair in float32 (algorithms.md §2.4). */
    public static final double REAL_PAIR_BYTES = 170e6;

    private BenchPack() {}

    /** Where a benchmark runs the bench pack. */
    public enum Setting {
        /** 68×256×256, everything resident: the compute-bound setting. */
        COMPUTE("compute", 68, 256, 256),
        /** 68×128×128 under a weight budget with phone-flash reads: the CI-DL setting. */
        STREAMING("streaming", 68, 128, 128);

        private final String label;
        private final int frames;
        private final int width;
        private final int height;

        Setting(String label, int frames, int width, int height) {
            this.label = label;
            this.frames = frames;
            this.width = width;
            this.height = height;
        }

        /**
         * The name used in tables and JMH parameters.
         *
         * @return e.g. {@code compute}
         */
        public String label() {
            return label;
        }

        /**
         * The setting's request.
         *
         * @param steps sampling steps
         * @return the request
         */
        public GenerationRequest request(int steps) {
            return GenerationRequest.builder(PROMPT).frames(frames).size(width, height)
                    .steps(steps).seed(SEED).build();
        }

        /**
         * Parses a label.
         *
         * @param label {@code compute} or {@code streaming}
         * @return the setting
         */
        public static Setting of(String label) {
            for (Setting s : values()) {
                if (s.label.equals(label)) {
                    return s;
                }
            }
            throw new IllegalArgumentException("unknown setting '" + label
                    + "' (use compute or streaming)");
        }
    }

    /**
     * The bench pack directory: {@code -Dsora4j.benchPack}, else {@value #DEFAULT_DIRECTORY}
     * under the working directory or its parent.
     *
     * @return the directory (it may not exist)
     */
    public static Path directory() {
        String p = System.getProperty(PROPERTY);
        if (p != null) {
            return Path.of(p);
        }
        Path here = Path.of(DEFAULT_DIRECTORY);
        Path fromBenchmarks = Path.of("..").resolve(DEFAULT_DIRECTORY);
        return Files.isDirectory(here) || !Files.isDirectory(fromBenchmarks) ? here
                : fromBenchmarks;
    }

    /**
     * Opens the bench pack (sizes checked, hashes not: the benchmarks read it many times).
     *
     * @return the pack
     * @throws IllegalStateException naming the command that writes it if it is missing
     */
    public static ModelPack open() {
        Path dir = directory();
        if (!Files.isRegularFile(dir.resolve("manifest.json"))) {
            throw new IllegalStateException("no bench pack at " + dir.toAbsolutePath()
                    + ": write it with `PYTHONPATH=src/main/python python3 -m sora4j_export bench"
                    + " --out " + DEFAULT_DIRECTORY + "` (or run benchmarks/ablation.sh), or"
                    + " point -D" + PROPERTY + " at it");
        }
        return ModelPack.open(dir, false);
    }

    /**
     * The simulated bytes per bench byte: a bench STDiT pair reads like the real 170 MB one.
     *
     * @param pack the bench pack
     * @return the scale
     */
    public static double byteScale(ModelPack pack) {
        return REAL_PAIR_BYTES / pair(pack).bytes();
    }

    /**
     * Block reads at phone-flash speed for this pack ({@link BlockReaders#throttled}).
     *
     * @param pack the bench pack
     * @return the reader
     */
    public static BlockReader flashReader(ModelPack pack) {
        return BlockReaders.throttled(BlockReaders.torchScript(), FLASH_BYTES_PER_SECOND,
                byteScale(pack));
    }

    /**
     * The streaming setting's budget: parameter bytes of the STDiT embed block and two pairs, so
     * that dynamic loading keeps the embed block resident and streams both pairs and the final
     * layer, prefetching one while another runs. Activations and the read's transient copies are
     * not budgeted ({@link ActivationPeaks#NONE}, {@link #streamingSettings}): the setting is about
     * overlap, not about fitting. (With the copies counted, 3× a pair's file for the TorchScript
     * reader, any budget that streams the two pairs would also hold them resident.)
     *
     * @param pack the bench pack
     * @return the budget
     */
    public static MemoryBudget streamingBudget(ModelPack pack) {
        BlockInfo embed = pack.manifest().blocksWithRole("stdit-embed").get(0);
        return MemoryBudget.ofBytes(embed.parameterBytes() + 2 * pair(pack).parameterBytes());
    }

    /**
     * The streaming setting's loader settings.
     *
     * @param pack the bench pack
     * @param listener told about loads
     * @return budget, phone-flash reader (its transient copies not counted), listener, no
     *     activations
     */
    public static LoaderSettings streamingSettings(ModelPack pack, LoaderListener listener) {
        BlockReader flash = flashReader(pack);
        BlockReader uncounted = flash::read; // readOverheadBytes 0: see streamingBudget
        return LoaderSettings.of(streamingBudget(pack)).withReader(uncounted)
                .withListener(listener).withActivations(ActivationPeaks.NONE);
    }

    /**
     * A loader by name, as the benchmarks' {@code loader} parameter spells it.
     *
     * @param name {@code resident}, {@code sequential} or {@code ci-dl} (the last two with the
     *     streaming setting's budget and reader)
     * @param pack the bench pack
     * @return a new loader, owned by the caller
     */
    public static BlockLoader loader(String name, ModelPack pack) {
        return switch (name) {
            case "resident", "baseline" -> BlockLoaders.resident(pack);
            case "sequential" -> BlockLoaders.sequential(pack,
                    streamingSettings(pack, LoaderListener.NONE));
            case "ci-dl" -> BlockLoaders.concurrentDynamic(pack,
                    streamingSettings(pack, LoaderListener.NONE));
            default -> throw new IllegalArgumentException("unknown loader '" + name
                    + "' (use resident, sequential or ci-dl)");
        };
    }

    private static BlockInfo pair(ModelPack pack) {
        List<BlockInfo> pairs = pack.manifest().blocksWithRole("stdit-block");
        if (pairs.isEmpty()) {
            throw new IllegalStateException("pack " + pack.manifest().name() + " has no STDiT pair");
        }
        return pairs.get(0);
    }
}
