package io.github.sora4j.benchmarks;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import io.github.sora4j.GenerationRequest;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.internal.Engines;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.BlockLoaders;
import io.github.sora4j.load.ForwardingBlockLoader;
import io.github.sora4j.merge.FrameGroups;
import io.github.sora4j.merge.TokenMerger;
import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.pack.ModelPack;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.ToLongFunction;

/**
 * Java's overhead on merged (TDTM) STDiT steps, merges in the block ({@code forward_merged}) and
 * in Java, with the ablation's measure ({@link StepOverhead}: each pipeline step paired with a
 * bare step of the same TorchScript calls made right after it; overhead = median of the paired
 * differences over the bare calls' time). Three pipelines on the bench pack's compute setting
 * (68×256×256, 5,120 tokens per sample, resident blocks), interleaved: Baseline (plain steps),
 * TDTM 30/30 merging in the blocks, TDTM 30/30 merging in Java (a merger whose merge is its own
 * method, so the pipeline takes the Java path; same arithmetic). Writes the section between
 * {@code <!-- merged-overhead:begin -->} and {@code <!-- merged-overhead:end -->} of
 * docs/benchmarks.md and every pair to a CSV.
 *
 * <pre>
 * benchmarks/merged_overhead.sh [--reps 5] [--steps 8] [--no-doc]
 * </pre>
 */
public final class MergedStepOverhead {
    private static final String BEGIN = "<!-- merged-overhead:begin -->";
    private static final String END = "<!-- merged-overhead:end -->";

    private MergedStepOverhead() {}

    /** TDTM 30/30 whose merge is its own method: the pipeline merges in Java. */
    private static final class JavaMerge implements TokenMerger {
        private final TokenMerger tdtm = TokenMergers.tdtm(Integer.MAX_VALUE);

        @Override
        public FrameGroups groups(int step, int stepCount, int frames) {
            return tdtm.groups(step, stepCount, frames);
        }

        @Override
        public NDArray merge(NDArray tokens, FrameGroups groups, int spatialTokens) {
            return TokenMerger.super.merge(tokens, groups, spatialTokens);
        }
    }

    /** A loader shared by the pipelines: closing a pipeline does not close it. */
    private static final class Unclosed extends ForwardingBlockLoader {
        Unclosed(BlockLoader delegate) {
            super(delegate);
        }

        @Override
        public void close() {}
    }

    /** The three kinds of step measured. */
    private enum Kind {
        PLAIN("Plain step (Baseline)"),
        IN_BLOCK("Merged step, merges in the block (`forward_merged`)"),
        IN_JAVA("Merged step, merges in Java (sub-stage calls)");

        final String label;

        Kind(String label) {
            this.label = label;
        }
    }

    /**
     * Runs the measurement.
     *
     * @param args {@code --reps N} (5), {@code --steps K} (8), {@code --doc FILE}
     *     (docs/benchmarks.md), {@code --no-doc}, {@code --csv FILE}
     * @throws IOException if the document or CSV cannot be written
     */
    public static void main(String[] args) throws IOException {
        int reps = 5;
        int steps = 8;
        Path doc = Path.of("docs/benchmarks.md");
        Path csv = Path.of("benchmarks/target/merged-overhead/pairs.csv");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--doc" -> doc = Path.of(args[++i]);
                case "--no-doc" -> doc = null;
                case "--csv" -> csv = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (options: --reps N --steps K --doc FILE --no-doc --csv FILE)");
            }
        }
        if (reps < 1 || steps < 2) {
            throw new IllegalArgumentException("--reps must be >= 1 and --steps >= 2, got "
                    + reps + " and " + steps);
        }
        ModelPack pack = BenchPack.open();
        Engines.pytorch();
        ZonedDateTime started = ZonedDateTime.now();
        double loadStart = Ablation.loadAverage();
        BenchPack.Setting s = BenchPack.Setting.COMPUTE;
        BlockLoader shared = BlockLoaders.resident(pack);
        List<VideoPipeline> pipelines = new ArrayList<>();
        List<List<StepOverhead.Pair>> pairs = List.of(new ArrayList<>(), new ArrayList<>(),
                new ArrayList<>());
        try {
            for (TokenMerger m : new TokenMerger[] {TokenMergers.none(),
                TokenMergers.tdtm(Integer.MAX_VALUE), new JavaMerge()}) {
                pipelines.add(VideoPipeline.builder().pack(pack).tokenMerger(m)
                        .blockLoader(p -> new Unclosed(shared)).build());
            }
            // Warm-up on a small request (loads the resident blocks, runs every method once); it
            // also gives the prompt's token count, the bare steps' caption length.
            GenerationRequest small = GenerationRequest.builder(BenchPack.PROMPT).frames(17)
                    .size(64, 64).steps(2).seed(BenchPack.SEED).build();
            int captionTokens = 0;
            for (VideoPipeline p : pipelines) {
                captionTokens = p.generate(small).report().promptTokens();
            }
            try (StepOverhead bare = new StepOverhead(pack, s, captionTokens)) {
                if (!bare.packMergesInBlock()) {
                    throw new IllegalStateException("the bench pack's pairs have no "
                            + "forward_merged: run python3 -m sora4j_export.upgrade "
                            + BenchPack.directory());
                }
                bare.warmUp(2);
                GenerationRequest request = s.request(steps);
                List<Kind> order = new ArrayList<>(List.of(Kind.values()));
                for (int rep = 0; rep < reps; rep++) {
                    for (Kind k : order) {
                        int before = bare.pairs().size();
                        bare.measurePaired(pipelines.get(k.ordinal()), request, k != Kind.PLAIN,
                                k == Kind.IN_JAVA);
                        List<StepOverhead.Pair> all = bare.pairs();
                        pairs.get(k.ordinal()).addAll(all.subList(before, all.size()));
                    }
                    System.err.printf(Locale.ROOT, "rep %d/%d done%n", rep + 1, reps);
                    Collections.rotate(order, -1); // interleaved: each rep starts one kind later
                }
            }
        } finally {
            pipelines.forEach(VideoPipeline::close);
            shared.close();
        }
        writeCsv(csv, pairs);
        String section = markdown(pack, pairs, started, reps, steps, loadStart,
                Ablation.loadAverage());
        System.out.println(section);
        if (doc != null) {
            String text = Files.readString(doc);
            int b = text.indexOf(BEGIN);
            int e = text.indexOf(END);
            if (b < 0 || e < b) {
                throw new IllegalStateException(doc + " has no " + BEGIN + " … " + END);
            }
            Files.writeString(doc, text.substring(0, b + BEGIN.length()) + "\n" + section
                    + text.substring(e), StandardCharsets.UTF_8);
            System.err.println("wrote " + doc + " and " + csv);
        }
    }

    private static double medianMs(List<StepOverhead.Pair> ps,
            ToLongFunction<StepOverhead.Pair> nanos) {
        return AblationReport.median(ps.stream().mapToDouble(p -> nanos.applyAsLong(p) / 1e6)
                .toArray());
    }

    /** The median of paired differences and its 95 % bootstrap interval (2,000 resamples). */
    private static double[] medianWithInterval(double[] xs) {
        Random r = new Random(1);
        double[] boot = new double[2000];
        for (int i = 0; i < boot.length; i++) {
            double[] sample = new double[xs.length];
            for (int j = 0; j < xs.length; j++) {
                sample[j] = xs[r.nextInt(xs.length)];
            }
            boot[i] = AblationReport.median(sample);
        }
        Arrays.sort(boot);
        return new double[] {AblationReport.median(xs), boot[50], boot[1949]};
    }

    private static String markdown(ModelPack pack, List<List<StepOverhead.Pair>> pairs,
            ZonedDateTime started, int reps, int steps, double loadStart, double loadEnd) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "Measured %s by `benchmarks/merged_overhead.sh --reps "
                        + "%d --steps %d` on %s (%d cores, load average %.1f at the start, %.1f "
                        + "at the end), libtorch %s, %d thread(s), graph optimizer off; pack %s, "
                        + "68×256×256 (T = 20, 5,120 tokens per sample). Medians, ms per step, "
                        + "over the pairs (pipeline step, bare step right after it); the "
                        + "interval is a 95 %% bootstrap interval of the median overhead.%n%n",
                started.format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm z")), reps, steps,
                System.getProperty("os.arch"), Runtime.getRuntime().availableProcessors(),
                loadStart, loadEnd, Engine.getEngine("PyTorch").getVersion(),
                Integer.getInteger("ai.djl.pytorch.num_threads", 0), pack.manifest().name()));
        b.append("| Step | Pairs | Java pipeline step | Bare TorchScript calls | **Overhead** "
                + "(pipeline − bare calls) | **Overhead / TorchScript time** (95 % interval) "
                + "| … outside the blocks (pipeline's block events) | … merges in Java, bare loop "
                + "(in the block: the layout tensor) | … the rest inside the blocks, paired |\n");
        b.append("|---|---|---|---|---|---|---|---|---|\n");
        double[] step = new double[3];
        double[] work = new double[3];
        for (Kind k : Kind.values()) {
            List<StepOverhead.Pair> ps = pairs.get(k.ordinal());
            double pipeline = medianMs(ps, StepOverhead.Pair::pipelineNanos);
            double calls = medianMs(ps, p -> p.bare().callNanos());
            double[] o = medianWithInterval(ps.stream()
                    .mapToDouble(p -> (p.pipelineNanos() - p.bare().callNanos()) / 1e6).toArray());
            double outside = medianMs(ps, p -> p.pipelineNanos() - p.pipelineBlockNanos());
            double merges = medianMs(ps, p -> p.bare().mergeNanos());
            double rest = medianMs(ps, p -> p.pipelineBlockNanos() - p.bare().callNanos()
                    - p.bare().mergeNanos());
            step[k.ordinal()] = pipeline;
            work[k.ordinal()] = (outside + merges) / calls;
            b.append(String.format(Locale.ROOT, "| %s | %d | %.1f | %.1f | %.1f | **%.1f %%** "
                            + "(%.1f to %.1f %%) | %.1f | %.2f | %.1f |%n", k.label, ps.size(),
                    pipeline, calls, o[0], 100 * o[0] / calls, 100 * o[1] / calls,
                    100 * o[2] / calls, outside, merges, rest));
        }
        b.append(String.format(Locale.ROOT, "%nThe Java work that the decomposition times "
                        + "directly (outside the blocks + merges in Java) is %.2f %% of the "
                        + "TorchScript time on plain steps, %.2f %% on merged steps merging in the "
                        + "block and %.2f %% merging in Java. Merged step, merging in the block "
                        + "against merging in Java: %.3f× the time (pipeline steps, medians); "
                        + "against the plain step: %.2f× faster (%.2f× merging in Java).%n",
                100 * work[0], 100 * work[1], 100 * work[2], step[1] / step[2],
                step[0] / step[1], step[0] / step[2]));
        return b.toString();
    }

    private static void writeCsv(Path csv, List<List<StepOverhead.Pair>> pairs)
            throws IOException {
        Files.createDirectories(csv.toAbsolutePath().getParent());
        StringBuilder b = new StringBuilder("kind,pipeline_ns,pipeline_blocks_ns,bare_calls_ns,"
                + "bare_glue_ns,bare_merge_ns\n");
        for (Kind k : Kind.values()) {
            for (StepOverhead.Pair p : pairs.get(k.ordinal())) {
                b.append(k.name().toLowerCase(Locale.ROOT)).append(',').append(p.pipelineNanos())
                        .append(',').append(p.pipelineBlockNanos()).append(',')
                        .append(p.bare().callNanos()).append(',').append(p.bare().glueNanos())
                        .append(',').append(p.bare().mergeNanos()).append('\n');
            }
        }
        Files.writeString(csv, b.toString(), StandardCharsets.UTF_8);
    }
}
