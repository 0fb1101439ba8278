package io.github.sora4j.benchmarks;

import ai.djl.engine.Engine;
import io.github.sora4j.GenerationReport;
import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.internal.Engines;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.ForwardingBlockLoader;
import io.github.sora4j.load.BlockLoaders;
import io.github.sora4j.pack.ModelPack;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The ablation runner: runs the rows of the paper's Table 5 (and the LPL / TDTM settings of
 * Tables 3 and 4) on the bench pack, interleaved (A B C D E, B C D E A, …), several repetitions,
 * and writes the medians, the FLOP and time models' predictions and the paper's numbers into
 * docs/benchmarks.md (between {@code <!-- ablation:begin -->} and {@code <!-- ablation:end -->}),
 * plus every run as CSV.
 *
 * <pre>
 * benchmarks/ablation.sh [--reps N] [--steps K] [--settings compute,streaming] [--no-doc]
 * java -cp benchmarks/target/benchmarks.jar io.github.sora4j.benchmarks.Ablation [options]
 * </pre>
 *
 * <p>Options: {@code --pack DIR} (default: {@link BenchPack#directory()}), {@code --reps N} (5),
 * {@code --steps K} (30), {@code --settings compute,streaming} (both), {@code --doc FILE}
 * (docs/benchmarks.md), {@code --no-doc}, {@code --csv FILE}
 * (benchmarks/target/ablation/runs.csv), {@code --command TEXT} (the command line to print in
 * the document), {@code --python EXE} (the Python with PyTorch that runs {@code
 * benchmarks/eager_step.py}; default {@code $PYTHON} or {@code /usr/bin/python3}), {@code
 * --no-eager} (skip the eager PyTorch comparison).
 *
 * <p>Besides the rows, every run records the process's peak resident memory ({@link
 * ProcessMemory}: {@code VmHWM}, reset before the run), and in the compute setting each
 * repetition also runs a {@value #BARE_STEPS}-step generation of the Baseline and the TDTM 30/30
 * pipeline with a bare TorchScript step after each of their steps ({@link StepOverhead}, Java's
 * overhead per step; not counted in the rows) and {@code benchmarks/eager_step.py} ({@link
 * EagerStep}, the same step in eager PyTorch).
 */
public final class Ablation {
    /** Rows per setting, in the order they are interleaved. */
    static final Map<BenchPack.Setting, List<Variant>> ROWS = new EnumMap<>(Map.of(
            BenchPack.Setting.COMPUTE,
            List.of(Variant.BASELINE, Variant.LPL, Variant.TDTM_15, Variant.TDTM_30, Variant.ALL),
            BenchPack.Setting.STREAMING,
            List.of(Variant.BASELINE, Variant.LPL, Variant.TDTM_30, Variant.CI_DL, Variant.ALL)));

    /** Steps of the paired overhead runs (plain, merged) per repetition. */
    static final int BARE_STEPS = 8;
    /** Measured eager (and Python TorchScript) steps per repetition. */
    static final int EAGER_STEPS = 3;

    private Ablation() {}

    /** One generation's measurements. */
    record Run(BenchPack.Setting setting, Variant variant, int rep, GenerationReport report,
            List<RunRecorder.BlockRun> blocks, int loads, long loadNanos, long peakLoadedBytes,
            double loadAverage, ProcessMemory.Sample memory) {}

    /** What the runner was asked to do. */
    record Options(Path pack, int reps, int steps, List<BenchPack.Setting> settings, Path doc,
            Path csv, String command, String python, boolean eager) {}

    /** The compute setting's step measurements besides the pipeline's. */
    record StepComparison(List<StepOverhead.Pair> pairs, EagerStep eager, int threads) {}

    /**
     * Runs the ablation.
     *
     * @param args options (see the class comment)
     * @throws IOException if the document or CSV cannot be written
     */
    public static void main(String[] args) throws IOException {
        Options o = parse(args);
        System.setProperty(BenchPack.PROPERTY, o.pack().toString());
        ModelPack pack = BenchPack.open();
        Engines.pytorch();
        ZonedDateTime started = ZonedDateTime.now();
        double loadStart = loadAverage();
        long t0 = System.nanoTime();
        System.err.printf(Locale.ROOT, "ablation: %s, %d reps x %s, %d steps; load average %.2f%n",
                pack.manifest().name(), o.reps(), o.settings(), o.steps(), loadStart);

        List<Run> runs = new ArrayList<>();
        BlockLoader shared = BlockLoaders.resident(pack);
        Map<BenchPack.Setting, Map<Variant, VideoPipeline>> pipelines =
                new EnumMap<>(BenchPack.Setting.class);
        Map<BenchPack.Setting, Map<Variant, RunRecorder>> recorders =
                new EnumMap<>(BenchPack.Setting.class);
        int threads = Integer.getInteger("ai.djl.pytorch.num_threads",
                Runtime.getRuntime().availableProcessors());
        EagerStep eager = o.eager() ? new EagerStep(o.python(), o.pack(),
                o.csv().resolveSibling("eager_step.log")) : null;
        StepOverhead bare = null;
        int captionTokens = 0;
        try {
            for (BenchPack.Setting s : o.settings()) {
                Map<Variant, VideoPipeline> ps = new LinkedHashMap<>();
                Map<Variant, RunRecorder> rs = new LinkedHashMap<>();
                for (Variant v : ROWS.get(s)) {
                    RunRecorder r = new RunRecorder();
                    ps.put(v, v.pipeline(pack, s, r, p -> new Unclosed(shared)));
                    rs.put(v, r);
                }
                pipelines.put(s, ps);
                recorders.put(s, rs);
                // Warm-up on a small request: load the resident blocks, let every streaming loader
                // learn its block order, and run every block and sub-stage method once (JIT, first
                // allocations). With the graph optimizer off, shapes need no warming.
                GenerationRequest small = GenerationRequest.builder(BenchPack.PROMPT).frames(17)
                        .size(64, 64).steps(2).seed(BenchPack.SEED).build();
                for (Variant v : ROWS.get(s)) {
                    if (s == BenchPack.Setting.COMPUTE && v != Variant.BASELINE
                            && v != Variant.TDTM_15) {
                        continue; // they share the baseline's resident loader
                    }
                    long w = System.nanoTime();
                    captionTokens = ps.get(v).generate(small).report().promptTokens();
                    System.err.printf(Locale.ROOT, "warm-up %-9s %-16s %5.1f s%n", s.label(),
                            v.label(s), (System.nanoTime() - w) / 1e9);
                }
                if (s == BenchPack.Setting.COMPUTE) {
                    bare = new StepOverhead(pack, s, captionTokens);
                    bare.warmUp(2);
                }
            }
            for (int rep = 0; rep < o.reps(); rep++) {
                for (BenchPack.Setting s : o.settings()) {
                    GenerationRequest request = s.request(o.steps());
                    // Each repetition starts one row later (A B C D E, B C D E A, …), so that no
                    // row always runs first or right after the other setting.
                    List<Variant> order = new ArrayList<>(ROWS.get(s));
                    java.util.Collections.rotate(order, -rep);
                    for (Variant v : order) {
                        runs.add(run(s, v, rep, request, pipelines.get(s).get(v),
                                recorders.get(s).get(v)));
                    }
                    if (s == BenchPack.Setting.COMPUTE) {
                        compareStep(bare, pipelines.get(s), eager, s, captionTokens, threads,
                                rep);
                    }
                }
            }
        } finally {
            pipelines.values().forEach(m -> m.values().forEach(VideoPipeline::close));
            shared.close();
            if (bare != null) {
                bare.close();
            }
        }
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        double loadEnd = loadAverage();

        AblationReport report = new AblationReport(pack, o, runs, bare == null ? null
                : new StepComparison(bare.pairs(), eager, threads));
        writeCsv(o.csv(), runs);
        String section = report.markdown(new AblationReport.Context(machine(), started, took,
                loadStart, loadEnd, Engine.getEngine("PyTorch").getVersion(),
                !"false".equals(System.getProperty("ai.djl.pytorch.graph_optimizer"))));
        System.out.println(section);
        if (o.doc() != null) {
            writeSection(o.doc(), section);
            System.err.println("wrote " + o.doc() + " and " + o.csv());
        }
    }

    /** One generation of a row, with its process memory. */
    private static Run run(BenchPack.Setting s, Variant v, int rep, GenerationRequest request,
            VideoPipeline pipeline, RunRecorder rec) {
        rec.reset();
        double la = loadAverage();
        ProcessMemory.Start mem = ProcessMemory.begin();
        GenerationResult result = pipeline.generate(request, rec);
        ProcessMemory.Sample memory = mem.finish();
        GenerationReport g = result.report();
        System.err.printf(Locale.ROOT, "rep %d %-9s %-16s STDiT %6.2f s  total %6.2f s  calls %2d  "
                        + "loads %3d  VmHWM %s  load avg %.2f%n", rep + 1, s.label(), v.label(s),
                g.denoiseNanos() / 1e9, g.totalNanos() / 1e9, g.modelCalls(), rec.loads(),
                AblationReport.mb(memory.peakBytes()), la);
        return new Run(s, v, rep, g, rec.blocks(), rec.loads(), rec.loadNanos(),
                g.peakLoadedBytes(), la, memory);
    }

    /** The bare TorchScript steps and the eager PyTorch step of one repetition. */
    private static void compareStep(StepOverhead bare, Map<Variant, VideoPipeline> pipelines,
            EagerStep eager, BenchPack.Setting s, int captionTokens, int threads, int rep) {
        long t = System.nanoTime();
        GenerationRequest request = s.request(BARE_STEPS);
        bare.measurePaired(pipelines.get(Variant.BASELINE), request, false);
        if (pipelines.containsKey(Variant.TDTM_30)) {
            bare.measurePaired(pipelines.get(Variant.TDTM_30), request, true);
        }
        System.err.printf(Locale.ROOT, "rep %d paired pipeline and bare TorchScript steps %5.1f s%n",
                rep + 1, (System.nanoTime() - t) / 1e9);
        if (eager != null) {
            t = System.nanoTime();
            eager.run(s, captionTokens, threads, EAGER_STEPS);
            System.err.printf(Locale.ROOT, "rep %d eager PyTorch steps %5.1f s%s%n", rep + 1,
                    (System.nanoTime() - t) / 1e9,
                    eager.problem() == null ? "" : " (" + eager.problem() + ")");
        }
    }

    /** A loader shared by several pipelines: closing a pipeline does not close it. */
    private static final class Unclosed extends ForwardingBlockLoader {
        Unclosed(BlockLoader delegate) {
            super(delegate);
        }

        @Override
        public void close() {}
    }

    static Options parse(String[] args) {
        Path pack = BenchPack.directory();
        int reps = 5;
        int steps = 30;
        List<BenchPack.Setting> settings = List.of(BenchPack.Setting.values());
        Path doc = Path.of("docs/benchmarks.md");
        Path csv = Path.of("benchmarks/target/ablation/runs.csv");
        String command = "benchmarks/ablation.sh";
        String python = System.getenv().getOrDefault("PYTHON", "/usr/bin/python3");
        boolean eager = true;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--pack" -> pack = Path.of(value(args, ++i, a));
                case "--reps" -> reps = positive(value(args, ++i, a), a);
                case "--steps" -> steps = positive(value(args, ++i, a), a);
                case "--settings" -> {
                    List<BenchPack.Setting> list = new ArrayList<>();
                    for (String s : value(args, ++i, a).split(",")) {
                        list.add(BenchPack.Setting.of(s.trim()));
                    }
                    settings = List.copyOf(list);
                }
                case "--doc" -> doc = Path.of(value(args, ++i, a));
                case "--no-doc" -> doc = null;
                case "--csv" -> csv = Path.of(value(args, ++i, a));
                case "--command" -> command = value(args, ++i, a);
                case "--python" -> python = value(args, ++i, a);
                case "--no-eager" -> eager = false;
                default -> throw new IllegalArgumentException("unknown option " + a + " (options: "
                        + "--pack DIR --reps N --steps K --settings compute,streaming --doc FILE "
                        + "--no-doc --csv FILE --command TEXT --python EXE --no-eager)");
            }
        }
        if (steps < 16) {
            throw new IllegalArgumentException("--steps must be >= 16 for LPL's leap at step 15 "
                    + "but was " + steps);
        }
        return new Options(pack, reps, steps, settings, doc, csv, command, python, eager);
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }

    private static int positive(String s, String option) {
        int v;
        try {
            v = Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " must be a number but was " + s, e);
        }
        if (v < 1) {
            throw new IllegalArgumentException(option + " must be >= 1 but was " + v);
        }
        return v;
    }

    /** The 1-minute load average (Linux), or NaN. */
    static double loadAverage() {
        try {
            String s = Files.readString(Path.of("/proc/loadavg"), StandardCharsets.US_ASCII);
            return Double.parseDouble(s.split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    /** CPU model, cores and memory, from /proc where there is one. */
    static String machine() {
        String cpu = System.getProperty("os.arch");
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: keep the architecture
        }
        String mem = "";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal")) {
                    long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
                    mem = String.format(Locale.ROOT, ", %.0f GB RAM", kb / 1e6);
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            // unknown
        }
        return String.format(Locale.ROOT, "%s, %d cores%s, %s %s, Java %s", cpu,
                Runtime.getRuntime().availableProcessors(), mem, System.getProperty("os.name"),
                System.getProperty("os.version"), System.getProperty("java.version"));
    }

    private static void writeCsv(Path csv, List<Run> runs) throws IOException {
        if (csv.getParent() != null) {
            Files.createDirectories(csv.getParent());
        }
        StringBuilder b = new StringBuilder("setting,variant,rep,text_s,denoise_s,decode_s,total_s,"
                + "model_calls,merged_steps,median_step_s,loads,load_s,peak_loaded_bytes,"
                + "load_average,rss_before_bytes,vm_hwm_bytes,hwm_reset\n");
        for (Run r : runs) {
            GenerationReport g = r.report();
            b.append(String.format(Locale.ROOT, "%s,%s,%d,%.4f,%.4f,%.4f,%.4f,%d,%d,%.4f,%d,%.4f,%d,"
                            + "%.2f,%d,%d,%b%n", r.setting().label(), r.variant().key(), r.rep() + 1,
                    g.textEncodeNanos() / 1e9, g.denoiseNanos() / 1e9, g.decodeNanos() / 1e9,
                    g.totalNanos() / 1e9, g.modelCalls(), g.mergedSteps(),
                    AblationReport.median(g.steps().stream()
                            .mapToDouble(s -> s.elapsedNanos() / 1e9).toArray()),
                    r.loads(), r.loadNanos() / 1e9, r.peakLoadedBytes(), r.loadAverage(),
                    r.memory().rssBeforeBytes(), r.memory().peakBytes(), r.memory().reset()));
        }
        Files.writeString(csv, b.toString(), StandardCharsets.UTF_8);
        StringBuilder steps = new StringBuilder("setting,variant,rep,step,elapsed_s,merged,leap\n");
        for (Run r : runs) {
            for (var st : r.report().steps()) {
                steps.append(String.format(Locale.ROOT, "%s,%s,%d,%d,%.4f,%b,%b%n",
                        r.setting().label(), r.variant().key(), r.rep() + 1, st.index(),
                        st.elapsedNanos() / 1e9, st.merged(), st.leap()));
            }
        }
        String name = csv.getFileName().toString().replaceFirst("\\.csv$", "");
        Files.writeString(csv.resolveSibling(name + "-steps.csv"), steps.toString(),
                StandardCharsets.UTF_8);
    }

    static final String BEGIN = "<!-- ablation:begin -->";
    static final String END = "<!-- ablation:end -->";

    /** Replaces the generated section of the document (or appends one). */
    static void writeSection(Path doc, String section) throws IOException {
        String text = Files.isRegularFile(doc) ? Files.readString(doc, StandardCharsets.UTF_8)
                : "";
        String block = BEGIN + "\n" + section.strip() + "\n" + END;
        int b = text.indexOf(BEGIN);
        int e = text.indexOf(END);
        String out = b >= 0 && e > b ? text.substring(0, b) + block + text.substring(e + END.length())
                : text + (text.isEmpty() || text.endsWith("\n") ? "" : "\n") + "\n" + block + "\n";
        if (doc.getParent() != null) {
            Files.createDirectories(doc.getParent());
        }
        Files.writeString(doc, out, StandardCharsets.UTF_8);
    }

    static String date(ZonedDateTime t) {
        return t.format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm z", Locale.ROOT));
    }
}
