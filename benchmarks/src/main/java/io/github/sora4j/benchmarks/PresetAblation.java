package io.github.sora4j.benchmarks;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.github.sora4j.GenerationReport;
import io.github.sora4j.GenerationRequest;
import io.github.sora4j.Preset;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.cache.MagCacheCalibration;
import io.github.sora4j.internal.Engines;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.BlockLoaders;
import io.github.sora4j.load.ForwardingBlockLoader;
import io.github.sora4j.pack.ModelPack;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The presets' speed/quality table (issue 18): every {@link Preset} timed on the bench pack in the
 * compute setting (68 frames at 256×256, 5,120 tokens per sample, every block resident),
 * interleaved with the {@code full} 30-step baseline in the same run, medians; next to the quality
 * that {@code python3 -m sora4j_export.demo.presets} measured on the demo pack (its JSON). Writes
 * the table into docs/benchmarks.md and docs/quality.md between {@value #BEGIN} and {@value #END}.
 *
 * <pre>
 * benchmarks/ablation.sh --presets [--reps 3] [--no-doc]
 * benchmarks/ablation.sh --presets --from-csv    # only re-renders the table: the last run's
 *                                                # timings (runs.csv) with the quality file now
 * </pre>
 *
 * <p>The bench pack's weights are random, so the mask presets run the demo pack's calibrated mask
 * (the one whose quality is measured), and the adaptive presets decide on the bench pack's own
 * values; the table shows both packs' block-stack runs and the speedup scaled to the demo's.
 */
public final class PresetAblation {
    static final String BEGIN = "<!-- presets:begin -->";
    static final String END = "<!-- presets:end -->";
    /** The bar of issue 18. */
    static final double BAR_SPEEDUP = 3.0;
    static final double BAR_PSNR = 30.0;
    static final double BAR_ACCURACY_POINTS = 2.0;

    private PresetAblation() {}

    /**
     * One timed generation.
     *
     * @param preset the preset
     * @param rep 0-based repetition
     * @param stditSeconds the STDiT stage (all sampling steps)
     * @param totalSeconds the whole call
     * @param calls steps run
     * @param computed steps that ran the block stack
     * @param merged steps with TDTM merging
     */
    record Run(Preset preset, int rep, double stditSeconds, double totalSeconds, int calls,
            int computed, int merged) {
        static Run of(Preset p, int rep, GenerationReport g) {
            return new Run(p, rep, g.denoiseNanos() / 1e9, g.totalNanos() / 1e9, g.modelCalls(),
                    g.computedSteps(), g.mergedSteps());
        }
    }

    /** Options. */
    record Options(Path pack, int reps, int steps, Path quality, List<Path> docs, Path csv,
            String command, boolean fromCsv) {}

    /**
     * Runs the presets.
     *
     * @param args {@code --pack DIR --reps N --steps K --quality JSON --no-doc --csv FILE
     *     --command TEXT}
     * @throws IOException if the quality file cannot be read or a document written
     */
    public static void main(String[] args) throws IOException {
        Options o = parse(args);
        if (o.fromCsv()) {
            // the timing run's runs.csv and run.txt (start, duration, machine, load averages,
            // command), rendered with the quality file as it is now
            List<String> run = Files.readAllLines(o.csv().resolveSibling("run.txt"));
            Options timed = new Options(o.pack(), o.reps(), o.steps(), o.quality(), o.docs(),
                    o.csv(), run.get(5), false);
            render(timed, readCsv(o.csv()), ZonedDateTime.parse(run.get(0)),
                    Duration.parse(run.get(1)), Double.parseDouble(run.get(3)),
                    Double.parseDouble(run.get(4)), run.get(2));
            return;
        }
        System.setProperty(BenchPack.PROPERTY, o.pack().toString());
        ModelPack bench = BenchPack.open();
        Engines.pytorch();
        MagCacheCalibration calibration = MagCacheCalibration.of(ModelPack.embeddedDefault());
        ZonedDateTime started = ZonedDateTime.now();
        long t0 = System.nanoTime();
        double loadStart = Ablation.loadAverage();
        BlockLoader shared = BlockLoaders.resident(bench);
        Map<Preset, VideoPipeline> pipelines = new EnumMap<>(Preset.class);
        List<Run> runs = new ArrayList<>();
        try {
            for (Preset p : Preset.values()) {
                pipelines.put(p, VideoPipeline.builder().pack(bench).scheduler(p.scheduler())
                        .tokenMerger(p.tokenMerger()).stepCache(p.stepCache(calibration))
                        .blockLoader(x -> new Unclosed(shared)).build());
            }
            // warm-up: the fused and the merged block paths once
            GenerationRequest small = GenerationRequest.builder(BenchPack.PROMPT).frames(17)
                    .size(64, 64).steps(2).seed(BenchPack.SEED).build();
            pipelines.get(Preset.FULL).generate(small);
            pipelines.get(Preset.TDTM).generate(small);
            GenerationRequest request = BenchPack.Setting.COMPUTE.request(o.steps());
            for (int rep = 0; rep < o.reps(); rep++) {
                List<Preset> order = new ArrayList<>(List.of(Preset.values()));
                Collections.rotate(order, -rep);
                for (Preset p : order) {
                    GenerationReport g = pipelines.get(p).generate(request).report();
                    runs.add(Run.of(p, rep, g));
                    System.err.printf(Locale.ROOT, "rep %d %-20s STDiT %6.2f s  calls %2d  "
                                    + "computed %2d  merged %2d  load avg %.2f%n", rep + 1, p.id(),
                            g.denoiseNanos() / 1e9, g.modelCalls(), g.computedSteps(),
                            g.mergedSteps(), Ablation.loadAverage());
                }
            }
        } finally {
            pipelines.values().forEach(VideoPipeline::close);
            shared.close();
        }
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        writeCsv(o.csv(), runs);
        Files.writeString(o.csv().resolveSibling("run.txt"), started + "\n" + took + "\n"
                + Ablation.machine() + "\n" + loadStart + "\n" + Ablation.loadAverage() + "\n"
                + o.command() + "\n",
                StandardCharsets.UTF_8);
        render(o, runs, started, took, loadStart, Ablation.loadAverage(), Ablation.machine());
    }

    /** Writes the table (to stdout and the documents) from timed runs and the quality file. */
    private static void render(Options o, List<Run> runs, ZonedDateTime started, Duration took,
            double loadStart, double loadEnd, String machine) throws IOException {
        JsonObject quality = o.quality() != null && Files.isRegularFile(o.quality())
                ? JsonParser.parseString(Files.readString(o.quality(), StandardCharsets.UTF_8))
                        .getAsJsonObject() : null;
        String section = PresetReport.markdown(o, runs, quality, started, took, loadStart,
                loadEnd, machine);
        System.out.println(section);
        for (Path doc : o.docs()) {
            writeSection(doc, section);
            System.err.println("wrote " + doc);
        }
    }

    private static List<Run> readCsv(Path csv) throws IOException {
        List<Run> runs = new ArrayList<>();
        List<String> lines = Files.readAllLines(csv);
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            runs.add(new Run(Preset.of(f[0]), Integer.parseInt(f[1]) - 1, Double.parseDouble(f[2]),
                    Double.parseDouble(f[3]), Integer.parseInt(f[4]), Integer.parseInt(f[5]),
                    Integer.parseInt(f[6])));
        }
        return runs;
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
        int reps = 3;
        int steps = 30;
        Path quality = Path.of("benchmarks/target/presets/quality.json");
        List<Path> docs = List.of(Path.of("docs/benchmarks.md"), Path.of("docs/quality.md"));
        Path csv = Path.of("benchmarks/target/presets/runs.csv");
        String command = "benchmarks/ablation.sh --presets";
        boolean fromCsv = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--pack" -> pack = Path.of(value(args, ++i, a));
                case "--reps" -> reps = positive(value(args, ++i, a), a);
                case "--steps" -> steps = positive(value(args, ++i, a), a);
                case "--quality" -> quality = Path.of(value(args, ++i, a));
                case "--no-doc" -> docs = List.of();
                case "--csv" -> csv = Path.of(value(args, ++i, a));
                case "--command" -> command = value(args, ++i, a);
                case "--from-csv" -> fromCsv = true;
                default -> throw new IllegalArgumentException("unknown option " + a + " (options: "
                        + "--pack DIR --reps N --steps K --quality JSON --no-doc --csv FILE "
                        + "--command TEXT --from-csv)");
            }
        }
        if (steps < 16) {
            throw new IllegalArgumentException("--steps must be >= 16 for LPL's leap at step 15 "
                    + "but was " + steps);
        }
        return new Options(pack, reps, steps, quality, docs, csv, command, fromCsv);
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }

    private static int positive(String s, String option) {
        try {
            int v = Integer.parseInt(s);
            if (v < 1) {
                throw new IllegalArgumentException(option + " must be >= 1 but was " + v);
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " must be a number but was " + s, e);
        }
    }

    private static void writeCsv(Path csv, List<Run> runs) throws IOException {
        if (csv.getParent() != null) {
            Files.createDirectories(csv.getParent());
        }
        StringBuilder b = new StringBuilder("preset,rep,denoise_s,total_s,model_calls,"
                + "computed_steps,merged_steps\n");
        for (Run r : runs) {
            b.append(String.format(Locale.ROOT, "%s,%d,%.4f,%.4f,%d,%d,%d%n", r.preset().id(),
                    r.rep() + 1, r.stditSeconds(), r.totalSeconds(), r.calls(), r.computed(),
                    r.merged()));
        }
        Files.writeString(csv, b.toString(), StandardCharsets.UTF_8);
    }

    /** Replaces the generated section of a document (or appends one). */
    static void writeSection(Path doc, String section) throws IOException {
        String text = Files.isRegularFile(doc) ? Files.readString(doc, StandardCharsets.UTF_8)
                : "";
        String block = BEGIN + "\n" + section.strip() + "\n" + END;
        int b = text.indexOf(BEGIN);
        int e = text.indexOf(END);
        String out = b >= 0 && e > b ? text.substring(0, b) + block
                + text.substring(e + END.length())
                : text + (text.isEmpty() || text.endsWith("\n") ? "" : "\n") + "\n" + block + "\n";
        Files.writeString(doc, out, StandardCharsets.UTF_8);
    }
}
