package io.github.sora4j.benchmarks;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.StepReport;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.load.ActivationPeaks;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.BlockReaders;
import io.github.sora4j.load.ForwardingBlockLoader;
import io.github.sora4j.load.LoadedBlock;
import io.github.sora4j.load.LoaderKind;
import io.github.sora4j.load.LoaderListener;
import io.github.sora4j.load.LoaderSettings;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.load.SetResidency;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * CI-DL against sequential loading on the bench pack in its streaming setting, with the paper's
 * latency model next to the measurement (benchmarks/cidl.sh runs it; docs/memory.md shows a run).
 *
 * <p>Every variant runs the same request through its own pipeline, under one weight budget that
 * holds the STDiT embed block and two pairs (or the pack's largest block if larger), with blocks
 * read at a phone's flash speed ({@link BlockReaders#throttled}: a bench pair reads like the real
 * 170 MB pair at 1.45 GB/s, 117 ms). Variants: {@code resident} (everything loaded once: the
 * compute-only floor), {@code sequential} (load, run, free), {@code CI} (prefetch only), {@code
 * DL} (resident first blocks only) and {@code CI-DL}. After one warm-up generation each, the
 * variants run in rotated order for {@code --runs} rounds; the figure is the median STDiT step
 * latency over every step but the first of each generation (the first loads cold).
 *
 * <p>Prediction (On-device Sora, Eq. 10 and 11): per step, concurrent loading saves {@code
 * b·min(l, e) − α} against sequential loading, and keeping d blocks resident saves {@code
 * d·max(0, l − e)} more, with b blocks per step, load time l, compute time e and loading overhead
 * α. The benchmark measures l per block (sequential variant, read start to end) and e per block
 * (time the block is held while it runs, sequential variant: freshly loaded blocks), prints the
 * paper's form with the step's mean l and e, a per-block form that pairs each load with the
 * compute it hides behind, and the α the measurement implies.
 *
 * <pre>
 * java … io.github.sora4j.benchmarks.CiDlBenchmark [--pack DIR] [--runs 5] [--steps 4]
 *      [--frames 68] [--size 128] [--bandwidth 1.45e9] [--scale S] [--threads N]
 * </pre>
 */
public final class CiDlBenchmark {
    private static final List<String> VARIANTS = List.of("resident", "sequential", "CI", "DL",
            "CI-DL");

    private CiDlBenchmark() {}

    /**
     * Runs the benchmark and prints a report.
     *
     * @param args options, see the class comment
     */
    public static void main(String[] args) {
        Map<String, String> o = options(args);
        if (o.containsKey("threads")) {
            // Before the engine starts: libtorch reads them once.
            System.setProperty("ai.djl.pytorch.num_threads", o.get("threads"));
            System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        }
        ModelPack pack = o.containsKey("pack") ? ModelPack.open(Path.of(o.get("pack")), false)
                : BenchPack.open();
        int runs = Integer.parseInt(o.getOrDefault("runs", "5"));
        int steps = Integer.parseInt(o.getOrDefault("steps", "4"));
        int frames = Integer.parseInt(o.getOrDefault("frames", "68"));
        int size = Integer.parseInt(o.getOrDefault("size", "128"));
        double bandwidth = Double.parseDouble(o.getOrDefault("bandwidth",
                Double.toString(BenchPack.FLASH_BYTES_PER_SECOND)));
        double scale = o.containsKey("scale") ? Double.parseDouble(o.get("scale"))
                : BenchPack.byteScale(pack);
        GenerationRequest request = GenerationRequest.builder(BenchPack.PROMPT).frames(frames)
                .size(size, size).steps(steps).seed(BenchPack.SEED).build();

        List<BlockInfo> stdit = pack.manifest().blocks("stdit");
        BlockInfo embed = pack.manifest().blocksWithRole("stdit-embed").get(0);
        BlockInfo pair = pack.manifest().blocksWithRole("stdit-block").get(0);
        long largest = pack.manifest().blocks().stream().mapToLong(BlockInfo::parameterBytes)
                .max().orElseThrow();
        long budget = Math.max(largest, embed.parameterBytes() + 2 * pair.parameterBytes());
        LoaderSettings streaming = LoaderSettings.of(MemoryBudget.ofBytes(budget))
                .withReader(BlockReaders.throttled(BlockReaders.torchScript(), bandwidth, scale))
                .withActivations(ActivationPeaks.NONE);

        System.out.printf(Locale.ROOT, "CI-DL benchmark: pack %s, %d frames %dx%d, %d steps, "
                + "%d rounds, %d CPUs, libtorch threads %s%n", pack.manifest().name(), frames,
                size, size, steps, runs, Runtime.getRuntime().availableProcessors(),
                o.getOrDefault("threads", "default"));
        System.out.printf(Locale.ROOT, "reads throttled to %.2f GB/s with each file byte read as "
                + "%.1f bytes (a pair of %.2f MB reads as %.0f MB: %.0f ms); weight budget %s, "
                + "activations not budgeted%n%n", bandwidth / 1e9, scale, pair.bytes() / 1e6,
                pair.bytes() * scale / 1e6, pair.bytes() * scale / bandwidth * 1e3,
                MemoryBudget.format(budget));

        Map<String, Probe> probes = new LinkedHashMap<>();
        Map<String, VideoPipeline> pipelines = new LinkedHashMap<>();
        try {
            for (String v : VARIANTS) {
                Probe probe = new Probe();
                probes.put(v, probe);
                LoaderSettings s = streaming.withListener(probe);
                pipelines.put(v, VideoPipeline.builder().pack(pack).blockLoader(p -> probe.wrap(
                        v.equals("resident") ? LoaderKind.RESIDENT.newLoader(p,
                                LoaderSettings.of(MemoryBudget.unlimited()).withListener(probe))
                                : kind(v).newLoader(p, s))).build());
            }
            // 1. Warm up every pipeline (JIT, first loads), then forget what was recorded.
            for (String v : VARIANTS) {
                pipelines.get(v).generate(request);
                probes.get(v).reset();
            }
            // 2. Rounds in rotated order, so drift in the machine's load hits every variant.
            Map<String, List<Long>> stepNanos = new LinkedHashMap<>();
            Map<String, List<ProcessMemory.Sample>> memory = new LinkedHashMap<>();
            VARIANTS.forEach(v -> stepNanos.put(v, new ArrayList<>()));
            VARIANTS.forEach(v -> memory.put(v, new ArrayList<>()));
            for (int round = 0; round < runs; round++) {
                for (int i = 0; i < VARIANTS.size(); i++) {
                    String v = VARIANTS.get((i + round) % VARIANTS.size());
                    ProcessMemory.Start start = ProcessMemory.begin();
                    GenerationResult r = pipelines.get(v).generate(request);
                    memory.get(v).add(start.finish());
                    List<StepReport> reports = r.report().steps();
                    for (int k = 1; k < reports.size(); k++) {
                        stepNanos.get(v).add(reports.get(k).elapsedNanos());
                    }
                }
                System.out.printf(Locale.ROOT, "round %d of %d done%n", round + 1, runs);
            }
            report(stdit, probes, stepNanos);
            printMemory(memory);
        } finally {
            pipelines.values().forEach(VideoPipeline::close);
        }
    }

    private static LoaderKind kind(String variant) {
        return switch (variant) {
            case "sequential" -> LoaderKind.SEQUENTIAL;
            case "CI" -> LoaderKind.CONCURRENT;
            case "DL" -> LoaderKind.DYNAMIC;
            default -> LoaderKind.CONCURRENT_DYNAMIC;
        };
    }

    private static void report(List<BlockInfo> stdit, Map<String, Probe> probes,
            Map<String, List<Long>> stepNanos) {
        Probe seq = probes.get("sequential");
        Probe warm = probes.get("resident");
        System.out.printf(Locale.ROOT, "%nper STDiT block (medians; l from the sequential runs' "
                + "reads, e = time held while running)%n");
        System.out.printf(Locale.ROOT, "%-16s %9s %14s %13s%n", "block", "l (ms)",
                "e fresh (ms)", "e warm (ms)");
        double sumL = 0;
        double sumE = 0;
        List<Double> l = new ArrayList<>();
        List<Double> e = new ArrayList<>();
        for (BlockInfo b : stdit) {
            double lb = ms(median(seq.loadNanos(b.name())));
            double eb = ms(median(seq.holdNanos(b.name())));
            double ew = ms(median(warm.holdNanos(b.name())));
            l.add(lb);
            e.add(eb);
            sumL += lb;
            sumE += eb;
            System.out.printf(Locale.ROOT, "%-16s %9.1f %14.1f %13.1f%n", b.name(), lb, eb, ew);
        }
        int b = stdit.size();
        double meanL = sumL / b;
        double meanE = sumE / b;

        double tSeq = ms(median(stepNanos.get("sequential")));
        System.out.printf(Locale.ROOT, "%nSTDiT step latency (median of %d steps per variant)%n",
                stepNanos.get("sequential").size());
        System.out.printf(Locale.ROOT, "%-10s %3s %10s %9s %9s %9s %12s %14s %15s %11s%n",
                "variant", "d", "step (ms)", "Σe (ms)", "stall", "speedup", "saving (ms)",
                "Eq.10/11 (ms)", "per-block (ms)", "implied α");
        for (String v : VARIANTS) {
            double t = ms(median(stepNanos.get(v)));
            int d = probes.get(v).residentCount("stdit", v.equals("resident") ? b : 0);
            boolean ci = v.equals("CI") || v.equals("CI-DL");
            boolean dl = v.equals("DL") || v.equals("CI-DL");
            String eq = "";
            String perBlock = "";
            String alpha = "";
            if (!v.equals("resident") && !v.equals("sequential")) {
                // Eq. 10: r = b·min(l, e); Eq. 11 adds d·max(0, l − e); α taken as 0.
                double paper = (ci ? b * Math.min(meanL, meanE) : 0)
                        + (dl ? d * (ci ? Math.max(0, meanL - meanE) : meanL) : 0);
                double block = perBlockSaving(l, e, ci, dl ? d : 0);
                eq = String.format(Locale.ROOT, "%.1f", paper);
                perBlock = String.format(Locale.ROOT, "%.1f", block);
                alpha = String.format(Locale.ROOT, "%.1f", block - (tSeq - t));
            }
            double held = 0;
            for (BlockInfo blk : stdit) {
                held += ms(median(probes.get(v).holdNanos(blk.name())));
            }
            System.out.printf(Locale.ROOT, "%-10s %3d %10.1f %9.1f %9.1f %8.2fx %12.1f %14s %15s "
                    + "%11s%n", v, d, t, held, t - held, tSeq / t, tSeq - t, eq, perBlock, alpha);
        }
        System.out.printf(Locale.ROOT, "%nb = %d blocks per step, mean l = %.1f ms, mean e = %.1f "
                + "ms. Eq. 10/11 uses the means; per-block pairs each read with the compute it "
                + "overlaps (block i+1's read with block i's compute, cyclically across steps) and "
                + "counts a resident block's whole read as saved; implied α = per-block − measured."
                + " Σe = the step's blocks' median time held while running; stall = step − Σe "
                + "(waiting for reads, CFG, bookkeeping).%n", b, meanL, meanE);
        System.out.printf(Locale.ROOT, "peak loaded weights: %s%n", peakLine(probes));
    }

    /**
     * Peak process memory per variant: {@code VmHWM} reset before each run (medians over the
     * runs), and how far each run raised the resident memory. Every variant's pipeline stays open
     * in this JVM, so the resident variant's weights count in all of them; the rise isolates a
     * run's own allocations.
     */
    private static void printMemory(Map<String, List<ProcessMemory.Sample>> memory) {
        boolean reset = memory.values().stream().flatMap(List::stream)
                .allMatch(ProcessMemory.Sample::reset);
        System.out.printf(Locale.ROOT, "%npeak process memory per run (VmHWM%s; medians)%n",
                reset ? ", reset before each run" : ": the reset was not permitted, so this is "
                        + "the peak since the JVM started");
        System.out.printf(Locale.ROOT, "%-10s %12s %12s%n", "variant", "peak (MB)", "rise (MB)");
        memory.forEach((v, samples) -> System.out.printf(Locale.ROOT, "%-10s %12.1f %12.1f%n", v,
                median(samples.stream().map(ProcessMemory.Sample::peakBytes).toList()) / 1e6,
                median(samples.stream().map(ProcessMemory.Sample::riseBytes).toList()) / 1e6));
    }

    /** Saving against sequential loading, block by block (α = 0). */
    private static double perBlockSaving(List<Double> l, List<Double> e, boolean ci, int d) {
        int b = l.size();
        double saved = 0;
        for (int i = 0; i < b; i++) {
            if (i < d) {
                saved += l.get(i); // resident: never read again
                continue;
            }
            if (ci) {
                // Read while the previous block (cyclically: the last block of the previous step)
                // runs; a resident predecessor chain adds its compute as cover too.
                double cover = 0;
                int j = (i - 1 + b) % b;
                cover += e.get(j);
                while (j < d && j != i) {
                    j = (j - 1 + b) % b;
                    cover += e.get(j);
                }
                saved += Math.min(l.get(i), cover);
            }
        }
        return saved;
    }

    private static String peakLine(Map<String, Probe> probes) {
        StringBuilder s = new StringBuilder();
        probes.forEach((v, p) -> s.append(v).append(' ')
                .append(MemoryBudget.format(p.peakBytes())).append("; "));
        return s.toString();
    }

    private static double ms(double nanos) {
        return nanos / 1e6;
    }

    private static double median(List<Long> values) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        List<Long> v = new ArrayList<>(values);
        Collections.sort(v);
        int n = v.size();
        return n % 2 == 1 ? v.get(n / 2) : (v.get(n / 2 - 1) + v.get(n / 2)) / 2.0;
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> o = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --name value pairs but got '"
                        + args[i] + "'");
            }
            o.put(args[i].substring(2), args[++i]);
        }
        return o;
    }

    /** Times reads (through the loader's listener) and how long each block is held. */
    private static final class Probe implements LoaderListener {
        private final Map<String, List<Long>> loads = new ConcurrentHashMap<>();
        private final Map<String, List<Long>> holds = new ConcurrentHashMap<>();
        private final Map<String, SetResidency> plans = new ConcurrentHashMap<>();
        private volatile BlockLoader loader;

        BlockLoader wrap(BlockLoader delegate) {
            loader = delegate;
            Probe self = this;
            return new ForwardingBlockLoader(delegate) {
                @Override
                public LoadedBlock acquire(BlockInfo block) {
                    LoadedBlock b = super.acquire(block);
                    long start = System.nanoTime();
                    return b.whenClosed(() -> self.holds.computeIfAbsent(block.name(),
                            k -> new CopyOnWriteArrayList<>()).add(System.nanoTime() - start));
                }
            };
        }

        @Override
        public void loadFinished(BlockInfo block, long nanos) {
            loads.computeIfAbsent(block.name(), k -> new CopyOnWriteArrayList<>()).add(nanos);
        }

        @Override
        public void setPlanned(SetResidency plan) {
            plans.put(plan.set(), plan);
        }

        void reset() {
            loads.clear();
            holds.clear();
        }

        List<Long> loadNanos(String block) {
            return loads.getOrDefault(block, List.of());
        }

        List<Long> holdNanos(String block) {
            return holds.getOrDefault(block, List.of());
        }

        int residentCount(String set, int fallback) {
            SetResidency p = plans.get(set);
            return p == null ? fallback : p.residentCount();
        }

        long peakBytes() {
            return loader.stats().peakLoadedBytes();
        }
    }
}
