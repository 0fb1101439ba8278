package io.github.sora4j.benchmarks;

import io.github.sora4j.GenerationReport;
import io.github.sora4j.StepReport;
import io.github.sora4j.device.MemoryPlan;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.plan.FlopModel;
import io.github.sora4j.plan.LoadOverlap;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns the ablation's runs into docs/benchmarks.md's tables: medians, speedups over the
 * setting's baseline, the models' predictions, the paper's numbers, and the pass/fail checks of
 * issues 5 (LPL) and 6 (TDTM).
 *
 * <p>Predictions. Compute setting: the FLOP model ({@link FlopModel}) gives the STDiT speedup as
 * the ratio of STDiT FLOPs; the total assumes T5, VAE and the rest take their measured baseline
 * time. Streaming setting: a time model, {@link LoadOverlap}, replays every block of the
 * generation with its compute time and load time measured in the sequential baseline runs
 * (merged pairs scaled by their FLOP ratio), the residency CI-DL plans for the budget ({@link
 * MemoryPlan}) and prefetching on or off.
 */
final class AblationReport {
    /** Paper Table 5 at 256×256 (iPhone 15 Pro, mean of 3 runs): STDiT and total seconds. */
    private static final Map<Variant, double[]> PAPER = Map.of(
            Variant.LPL, new double[] {573.88, 754.08},
            Variant.TDTM_30, new double[] {965.40, 1148.63},
            Variant.CI_DL, new double[] {947.67, 1127.88},
            Variant.ALL, new double[] {454.48, 638.09});
    /** The 30-step baseline: Table 1's 35.366 s per STDiT run × 30; T5 + VAE ≈ 181.8 s, the mean
     *  of Table 5's total − STDiT at 256×256. */
    private static final double PAPER_STDIT = 30 * 35.366;
    private static final double PAPER_TOTAL = PAPER_STDIT + 181.8;
    /** Issue 5: LPL 16/30 must reach 95 % of the ideal 30/16. */
    private static final double LPL_BAR = 0.95 * 30 / 16;
    /** Issue 6: TDTM's per-step speedup must reach 90 % of the FLOP model's. */
    private static final double TDTM_FRACTION = 0.90;

    /** Where and when the runs were made. */
    record Context(String machine, ZonedDateTime started, Duration took, double loadStart,
            double loadEnd, String engineVersion, boolean graphOptimizer) {}

    private final ModelPack pack;
    private final Ablation.Options options;
    private final List<Ablation.Run> runs;
    private final FlopModel flops;
    private final Ablation.StepComparison comparison;
    private final AblationPrediction prediction;

    AblationReport(ModelPack pack, Ablation.Options options, List<Ablation.Run> runs) {
        this(pack, options, runs, null);
    }

    /**
     * A report with the compute setting's step comparison.
     *
     * @param pack the bench pack
     * @param options what the runner was asked to do
     * @param runs every run
     * @param comparison the bare TorchScript and eager PyTorch steps, or null
     */
    AblationReport(ModelPack pack, Ablation.Options options, List<Ablation.Run> runs,
            Ablation.StepComparison comparison) {
        this.pack = pack;
        this.options = options;
        this.runs = List.copyOf(runs);
        this.flops = FlopModel.of(pack);
        this.comparison = comparison;
        this.prediction = new AblationPrediction(this, pack, options);
    }

    // ---------------------------------------------------------------------------------------
    // statistics

    static double median(double[] xs) {
        if (xs.length == 0) {
            return Double.NaN;
        }
        double[] s = xs.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    List<Ablation.Run> runs(BenchPack.Setting s, Variant v) {
        return runs.stream().filter(r -> r.setting() == s && r.variant() == v).toList();
    }

    private double medianOf(BenchPack.Setting s, Variant v,
            java.util.function.ToDoubleFunction<GenerationReport> f) {
        return median(runs(s, v).stream().mapToDouble(r -> f.applyAsDouble(r.report()))
                .toArray());
    }

    static double seconds(long nanos) {
        return nanos / 1e9;
    }

    double stdit(BenchPack.Setting s, Variant v) {
        return medianOf(s, v, g -> seconds(g.denoiseNanos()));
    }

    double total(BenchPack.Setting s, Variant v) {
        return medianOf(s, v, g -> seconds(g.totalNanos()));
    }

    /**
     * The STDiT stage estimated from per-step medians: for each step index, the median over the
     * repetitions, summed. A burst of load from other processes slows some steps of one run; this
     * estimate ignores it as long as it does not hit the same step of most runs.
     */
    private double robustStdit(BenchPack.Setting s, Variant v) {
        Map<Integer, List<Double>> byIndex = new HashMap<>();
        for (Ablation.Run r : runs(s, v)) {
            for (StepReport st : r.report().steps()) {
                byIndex.computeIfAbsent(st.index(), k -> new ArrayList<>())
                        .add(seconds(st.elapsedNanos()));
            }
        }
        return byIndex.values().stream().mapToDouble(xs -> median(toArray(xs))).sum();
    }

    double[] stepSeconds(BenchPack.Setting s, Variant v, Boolean merged) {
        List<Double> xs = new ArrayList<>();
        for (Ablation.Run r : runs(s, v)) {
            for (StepReport st : r.report().steps()) {
                if (merged == null || st.merged() == merged) {
                    xs.add(seconds(st.elapsedNanos()));
                }
            }
        }
        return xs.stream().mapToDouble(Double::doubleValue).toArray();
    }

    FlopModel.Geometry geometry(BenchPack.Setting s) {
        GenerationReport g = runs(s, Variant.BASELINE).get(0).report();
        var request = s.request(options.steps());
        return flops.geometry(request.frames(), request.height(), request.width(),
                g.promptTokens());
    }

    // ---------------------------------------------------------------------------------------
    // predictions (AblationPrediction)

    /** Predicted STDiT and total speedups of a row over its setting's baseline. */
    private double[] predicted(BenchPack.Setting s, Variant v) {
        return prediction.predicted(s, v);
    }

    static double[] toArray(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).toArray();
    }

    // ---------------------------------------------------------------------------------------
    // markdown

    String markdown(Context c) {
        StringBuilder b = new StringBuilder();
        b.append("## Measured on this machine\n\n");
        b.append(String.format(Locale.ROOT, "Generated by `%s` on %s (took %d min %d s); "
                        + "pack `%s`; %d repetitions per row, interleaved (each repetition rotates the order); "
                        + "%d steps; medians.%n%n",
                options.command(), Ablation.date(c.started()), c.took().toMinutes(),
                c.took().toSecondsPart(), pack.manifest().name(), options.reps(),
                options.steps()));
        b.append(String.format(Locale.ROOT, "- Machine: %s; PyTorch %s (DJL), %s intra-op "
                        + "thread(s), TorchScript graph optimizer %s.%n", c.machine(),
                c.engineVersion(), System.getProperty("ai.djl.pytorch.num_threads", "default"),
                c.graphOptimizer() ? "on (DJL's default)" : "off"));
        b.append(String.format(Locale.ROOT, "- Load average (1 min) %.2f at the start, %.2f at "
                        + "the end: the machine is shared, so the numbers are noisy (see the CSV "
                        + "`%s` for every run).%n%n", c.loadStart(), c.loadEnd(),
                options.csv()));
        for (BenchPack.Setting s : options.settings()) {
            if (runs(s, Variant.BASELINE).isEmpty()) {
                continue;
            }
            table(b, s);
        }
        if (options.settings().contains(BenchPack.Setting.COMPUTE)) {
            checks(b);
            StepComparisonReport steps = new StepComparisonReport(this, comparison);
            steps.overhead(b);
            steps.eager(b);
        }
        if (options.settings().contains(BenchPack.Setting.STREAMING)) {
            overlap(b);
        }
        return b.toString();
    }

    private void table(StringBuilder b, BenchPack.Setting s) {
        FlopModel.Geometry g = geometry(s);
        if (s == BenchPack.Setting.COMPUTE) {
            b.append(String.format(Locale.ROOT, "### Compute setting: %d frames at %dx%d, %,d "
                            + "tokens per sample, CFG batch 2, every block resident%n%n",
                    g.frames(), g.width(), g.height(), g.tokens()));
            b.append("Predicted = the FLOP model's STDiT FLOP ratio; its total assumes T5, VAE "
                    + "and the rest take their measured baseline time.\n\n");
        } else {
            b.append(String.format(Locale.ROOT, "### Streaming (CI-DL) setting: %d frames at "
                            + "%dx%d, %,d tokens per sample, budget %s of weights, reads at "
                            + "%.2f GB/s x %.1f%n%n", g.frames(), g.width(), g.height(), g.tokens(),
                    MemoryBudget.format(BenchPack.streamingBudget(pack).availableBytes()),
                    BenchPack.FLASH_BYTES_PER_SECOND / 1e9, BenchPack.byteScale(pack)));
            b.append("STDiT blocks only are streamed (T5 and VAE stay resident, as their time is "
                    + "the same in every column of the paper's Table 5). Baseline, LPL and TDTM "
                    + "load each STDiT block when it runs (sequential loader); CI-DL and All keep "
                    + "what the budget allows resident and prefetch the next block. Predicted = "
                    + "the time model (`LoadOverlap`) replaying every block with its compute and "
                    + "load time measured in the baseline runs (merged pairs scaled by their FLOP "
                    + "ratio).\n\n");
        }
        b.append("| Row | STDiT (s) | Total (s) | STDiT speedup | Total speedup | STDiT speedup, "
                + "per-step medians | Predicted STDiT "
                + "| Predicted total | Paper STDiT / total (Table 5, 256²) | Model calls | "
                + "Merged steps | " + (s == BenchPack.Setting.COMPUTE ? "Block loads | Peak weights |"
                        : "STDiT block loads | Peak STDiT weights |")
                + " Peak process memory (VmHWM), rise in the run |\n");
        b.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        double baseStdit = stdit(s, Variant.BASELINE);
        double baseTotal = total(s, Variant.BASELINE);
        double baseRobust = robustStdit(s, Variant.BASELINE);
        for (Variant v : Ablation.ROWS.get(s)) {
            List<Ablation.Run> rs = runs(s, v);
            if (rs.isEmpty()) {
                continue;
            }
            double st = stdit(s, v);
            double tot = total(s, v);
            double[] p = v == Variant.BASELINE ? new double[] {1, 1} : predicted(s, v);
            GenerationReport r0 = rs.get(0).report();
            b.append(String.format(Locale.ROOT,
                    "| %s | %.2f | %.2f | %s | %s | %s | %s | %s | %s | %d | %d | %.0f | %s | %s |%n",
                    v.label(s), st, tot, x(baseStdit / st), x(baseTotal / tot),
                    x(baseRobust / robustStdit(s, v)), x(p[0]), x(p[1]),
                    paper(s, v), r0.modelCalls(), r0.mergedSteps(),
                    median(rs.stream().mapToDouble(Ablation.Run::loads).toArray()),
                    MemoryBudget.format(rs.stream().mapToLong(Ablation.Run::peakLoadedBytes)
                            .max().orElse(0)), memory(s, v)));
        }
        b.append('\n');
        memoryNote(b, s);
        readings(b, s);
    }

    // ---------------------------------------------------------------------------------------
    // process memory

    /** Median VmHWM of a row's runs, in bytes, or -1 if unknown. */
    long peakProcessBytes(BenchPack.Setting s, Variant v) {
        double[] xs = runs(s, v).stream().mapToDouble(r -> r.memory().peakBytes())
                .filter(x -> x >= 0).toArray();
        return xs.length == 0 ? -1 : (long) median(xs);
    }

    private String memory(BenchPack.Setting s, Variant v) {
        long peak = peakProcessBytes(s, v);
        if (peak < 0) {
            return "—";
        }
        double[] rise = runs(s, v).stream().mapToDouble(r -> r.memory().riseBytes())
                .filter(x -> x >= 0).toArray();
        return mb(peak) + ", +" + mb((long) median(rise));
    }

    private boolean hwmReset() {
        return runs.stream().allMatch(r -> r.memory().reset());
    }

    private void memoryNote(StringBuilder b, BenchPack.Setting s) {
        if (runs.stream().allMatch(r -> r.memory().peakBytes() < 0)) {
            b.append("Peak process memory: not measured (no /proc/self/status on this system).\n\n");
            return;
        }
        boolean first = options.settings().stream()
                .filter(x -> !runs(x, Variant.BASELINE).isEmpty()).findFirst().orElse(s) == s;
        b.append(first ? memoryMethod() : "Peak process memory: measured as in the table above."
                + "\n\n");
        if (s == BenchPack.Setting.STREAMING && !runs(BenchPack.Setting.COMPUTE,
                Variant.BASELINE).isEmpty()) {
            long all = peakProcessBytes(BenchPack.Setting.COMPUTE, Variant.BASELINE);
            long seq = peakProcessBytes(s, Variant.BASELINE);
            long cidl = peakProcessBytes(s, Variant.CI_DL);
            b.append(String.format(Locale.ROOT, "Reading the memory column: the streaming rows run "
                            + "the STDiT under a weight budget of %s, smaller than its %s (and the "
                            + "whole pack's %s), and peak at %s (sequential) and %s (CI-DL), next to "
                            + "%s for the all-resident compute baseline. On the bench pack the "
                            + "weights are a few MB of a process of hundreds: the peaks are the JVM "
                            + "heap, libtorch and the activations (the streaming request has 4x fewer "
                            + "tokens), and since all rows share one JVM, the compute rows' resident "
                            + "blocks (%s) stay loaded during the streaming rows. What the budget "
                            + "changes is in the peak-weights column; with the real 23 GB pack the "
                            + "same budget is the difference between fitting and not "
                            + "(docs/memory.md).%n%n",
                    MemoryBudget.format(BenchPack.streamingBudget(pack).availableBytes()),
                    MemoryBudget.format(stditBytes()), MemoryBudget.format(packBytes()), mb(seq),
                    mb(cidl), mb(all), MemoryBudget.format(runs(BenchPack.Setting.COMPUTE,
                            Variant.BASELINE).get(0).peakLoadedBytes())));
        }
    }

    private String memoryMethod() {
        return hwmReset()
                ? "Peak process memory: the process's `VmHWM` after the run, medians; before each "
                        + "run the runner collects the Java heap, returns freed native memory to "
                        + "the system (`malloc_trim`) and resets the high-water mark to the current "
                        + "resident size (`5` to `/proc/self/clear_refs`), so each row gets its own "
                        + "peak in the one JVM that runs them all. Rise = `VmHWM` minus the resident "
                        + "size right after the reset: what the run itself added.\n\n"
                : "Peak process memory: **the high-water mark could not be reset** (writing `5` "
                        + "to `/proc/self/clear_refs` was not permitted), so `VmHWM` is the JVM's "
                        + "peak since it started, the same or growing from row to row, not each "
                        + "row's own; the rise above the resident size before the run is still "
                        + "the run's own only where it sets a new peak.\n\n";
    }

    private long stditBytes() {
        return pack.manifest().blocks("stdit").stream().mapToLong(BlockInfo::parameterBytes).sum();
    }

    private long packBytes() {
        return pack.manifest().blocks().stream().mapToLong(BlockInfo::parameterBytes).sum();
    }

    /**
     * Bytes in MB (10^6), one decimal; "—" for a negative (unknown) value.
     *
     * @param bytes the bytes
     * @return e.g. {@code 512.3 MB}
     */
    static String mb(long bytes) {
        return bytes < 0 ? "—" : String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
    }

    // ---------------------------------------------------------------------------------------
    // one line per row

    private void readings(StringBuilder b, BenchPack.Setting s) {
        b.append("Reading, row by row:\n\n");
        for (Variant v : Ablation.ROWS.get(s)) {
            if (runs(s, v).isEmpty()) {
                continue;
            }
            double measured = stdit(s, Variant.BASELINE) / stdit(s, v);
            double[] p = v == Variant.BASELINE ? new double[] {1, 1} : predicted(s, v);
            String fit = v == Variant.BASELINE ? "" : String.format(Locale.ROOT,
                    " STDiT %s against %s predicted (%.0f %% of the prediction).", x(measured),
                    x(p[0]), 100 * measured / p[0]);
            b.append("- **").append(v.label(s)).append("**: ").append(what(s, v)).append(fit)
                    .append('\n');
        }
        b.append('\n');
    }

    private String what(BenchPack.Setting s, Variant v) {
        boolean compute = s == BenchPack.Setting.COMPUTE;
        double step = median(stepSeconds(s, Variant.BASELINE, null));
        return switch (v) {
            case BASELINE -> compute
                    ? String.format(Locale.ROOT, "the reference: 30 full CFG steps with every "
                            + "block resident, %.3f s per step; T5 and the VAE take the other %.2f s.",
                            step, total(s, v) - stdit(s, v))
                    : String.format(Locale.ROOT, "the reference: every STDiT block read at phone "
                            + "speed when it runs and freed after, %.3f s per step, %.0f %% of its "
                            + "blocks' time spent reading them.", step,
                            100 * prediction.readShare(s));
            case LPL -> "16 of 30 model calls, the rest leaps on the last velocity: the STDiT time "
                    + "falls with the call count; the total less, as T5 and the VAE stay.";
            case TDTM_15 -> "frame pairs merged in the first 15 steps: half the steps get the "
                    + "merged step's speedup.";
            case TDTM_30 -> compute
                    ? "frame pairs merged in every step: attention over half the frames, MLP "
                            + "unchanged."
                    : "merging shortens compute only; the sequential loader still waits for "
                            + "every read, so the gain is at most the compute's share of the step.";
            case CI_DL -> "the embed block stays resident and the next block loads while one "
                    + "runs, so reads hide behind compute.";
            case ALL -> compute
                    ? "LPL and TDTM together (CI-DL has nothing to hide with every block "
                            + "resident): the ratios multiply."
                    : "LPL, TDTM and CI-DL together: fewer calls, shorter compute, reads "
                            + "overlapped.";
        };
    }

    private static String paper(BenchPack.Setting s, Variant v) {
        double[] p = PAPER.get(v);
        String t5 = switch (v) {
            case LPL -> " (Table 3: 1.94×)";
            case TDTM_15 -> "— (Table 4: 1.13×)";
            case TDTM_30 -> " (Table 4: 1.27×)";
            case ALL -> s == BenchPack.Setting.COMPUTE ? " (incl. CI-DL; FLOPs: 2.43×)" : "";
            default -> "";
        };
        if (p == null) {
            return v == Variant.BASELINE ? "1.00× / 1.00×" : t5;
        }
        return x(PAPER_STDIT / p[0]) + " / " + x(PAPER_TOTAL / p[1]) + t5;
    }

    private void checks(StringBuilder b) {
        BenchPack.Setting s = BenchPack.Setting.COMPUTE;
        FlopModel.Geometry g = geometry(s);
        double ideal = 1 / flops.mergedStepRatio(g);
        double baseStep = median(stepSeconds(s, Variant.BASELINE, null));
        b.append("### Checks (compute setting)\n\n");
        b.append("| Check | Measured | Model | Measured / model | Bar | Result |\n");
        b.append("|---|---|---|---|---|---|\n");
        if (!runs(s, Variant.LPL).isEmpty()) {
            double lpl = stdit(s, Variant.BASELINE) / stdit(s, Variant.LPL);
            double robust = robustStdit(s, Variant.BASELINE) / robustStdit(s, Variant.LPL);
            b.append(String.format(Locale.ROOT, "| Issue 5: LPL 16/30 STDiT-stage speedup (medians "
                            + "of stage times) | %s | %s (30/16) | %.1f %% | ≥ %.2f× (95 %%) | **%s** "
                            + "|%n", x(lpl), x(30.0 / 16), 100 * lpl / (30.0 / 16), LPL_BAR,
                    lpl >= LPL_BAR ? "PASS" : "FAIL"));
            b.append(String.format(Locale.ROOT, "| Issue 5, burst-robust: STDiT from per-step "
                            + "medians | %s | %s (30/16) | %.1f %% | ≥ %.2f× (95 %%) | **%s** |%n",
                    x(robust), x(30.0 / 16), 100 * robust / (30.0 / 16), LPL_BAR,
                    robust >= LPL_BAR ? "PASS" : "FAIL"));
        }
        for (Variant v : List.of(Variant.TDTM_30, Variant.TDTM_15)) {
            if (runs(s, v).isEmpty()) {
                continue;
            }
            double merged = median(stepSeconds(s, v, true));
            double ref = v == Variant.TDTM_15 ? median(stepSeconds(s, v, false)) : baseStep;
            double speedup = ref / merged;
            String what = v == Variant.TDTM_30
                    ? "Issue 6: TDTM 30/30 per-step STDiT speedup (merged steps vs baseline steps)"
                    : "Issue 6: TDTM 15/30 per-step speedup (its merged vs its unmerged steps)";
            b.append(String.format(Locale.ROOT, "| %s | %s | %s | %.1f %% | ≥ %.0f %% of the model "
                            + "| **%s** |%n", what, x(speedup), x(ideal), 100 * speedup / ideal,
                    100 * TDTM_FRACTION, speedup >= TDTM_FRACTION * ideal ? "PASS" : "FAIL"));
        }
        b.append(String.format(Locale.ROOT, "%nMedian step: baseline %.3f s; the FLOP model "
                        + "counts %.1f GFLOP per step (%.1f merged), %.2f GFLOP for T5 and %.1f "
                        + "GFLOP for the VAE decode.%n%n", baseStep,
                flops.stditStepFlops(g, false) / 1e9, flops.stditStepFlops(g, true) / 1e9,
                flops.t5Flops() / 1e9, flops.vaeDecodeFlops(g) / 1e9));
    }

    private void overlap(StringBuilder b) {
        prediction.overlap(b);
    }

    /**
     * A ratio as {@code 1.23×}, or a dash for NaN.
     *
     * @param v the ratio
     * @return the text
     */
    static String x(double v) {
        return Double.isNaN(v) ? "—" : String.format(Locale.ROOT, "%.2f×", v);
    }
}
