package io.github.sora4j.benchmarks;

import io.github.sora4j.StepReport;
import java.util.List;
import java.util.Locale;
import java.util.function.ToLongFunction;

/**
 * The compute setting's step comparisons in docs/benchmarks.md: Java's overhead per STDiT step
 * (the pipeline's step against the sum of the bare TorchScript calls it makes, {@link
 * StepOverhead}) and the Java step against the same step in eager PyTorch ({@link EagerStep}).
 *
 * <p>The overhead compares pairs: a step of the Baseline (plain) or TDTM 30/30 (merged)
 * pipeline, as {@link StepReport} times it, and the bare step made right after it ({@link
 * StepOverhead#measurePaired}). Where the overhead goes comes from the pipeline's own block
 * events (time in the step outside its blocks) and from the bare step, which times the tensor
 * work around the calls apart from the calls. The eager comparison uses the Baseline row's steps.
 */
final class StepComparisonReport {
    /** The bar: Java's overhead at most 3 % of the TorchScript time. */
    static final double OVERHEAD_BAR = 0.03;

    private final AblationReport report;
    private final Ablation.StepComparison comparison;

    /**
     * Creates the section.
     *
     * @param report the ablation report (for the pipeline's runs)
     * @param comparison the bare and eager steps, or null if they were not measured
     */
    StepComparisonReport(AblationReport report, Ablation.StepComparison comparison) {
        this.report = report;
        this.comparison = comparison;
    }

    /**
     * Medians of one kind of step, in seconds, over the pairs of a pipeline step and the bare
     * step made right after it.
     *
     * @param pipeline the pipeline's step
     * @param pipelineBlocks its blocks (acquire and run), summed
     * @param pipelineOutside its time outside the blocks
     * @param bareCalls the bare step's TorchScript calls, summed
     * @param bareGlue the bare step's CFG batch, CFG combination and Euler update
     * @param bareMerge the bare step's merges, unmerges and residual adds
     * @param overhead the paired difference pipeline − bare calls
     * @param insideRest the paired difference pipeline's blocks − bare calls − bare merges
     * @param pairs how many pairs
     */
    record Step(double pipeline, double pipelineBlocks, double pipelineOutside, double bareCalls,
            double bareGlue, double bareMerge, double overhead, double insideRest, int pairs) {

        double overheadFraction() {
            return overhead / bareCalls;
        }
    }

    Step step(boolean merged) {
        List<StepOverhead.Pair> ps = comparison.pairs().stream()
                .filter(p -> p.bare().merged() == merged).toList();
        return new Step(median(ps, StepOverhead.Pair::pipelineNanos),
                median(ps, StepOverhead.Pair::pipelineBlockNanos),
                median(ps, p -> p.pipelineNanos() - p.pipelineBlockNanos()),
                median(ps, p -> p.bare().callNanos()), median(ps, p -> p.bare().glueNanos()),
                median(ps, p -> p.bare().mergeNanos()),
                median(ps, p -> p.pipelineNanos() - p.bare().callNanos()),
                median(ps, p -> p.pipelineBlockNanos() - p.bare().callNanos()
                        - p.bare().mergeNanos()), ps.size());
    }

    private static double median(List<StepOverhead.Pair> ps,
            ToLongFunction<StepOverhead.Pair> nanos) {
        return AblationReport.median(ps.stream().mapToDouble(p -> nanos.applyAsLong(p) / 1e9)
                .toArray());
    }

    private static double median(List<Double> xs) {
        return AblationReport.median(xs.stream().mapToDouble(Double::doubleValue).toArray());
    }

    // ---------------------------------------------------------------------------------------
    // overhead

    /**
     * Appends the overhead section.
     *
     * @param b the document
     */
    void overhead(StringBuilder b) {
        if (comparison == null || comparison.pairs().isEmpty()
                || report.runs(BenchPack.Setting.COMPUTE, Variant.BASELINE).isEmpty()) {
            return;
        }
        Step plain = step(false);
        boolean hasMerged = comparison.pairs().stream().anyMatch(p -> p.bare().merged());
        Step merged = hasMerged ? step(true) : null;
        b.append("### Java overhead per STDiT step (compute setting)\n\n");
        b.append(String.format(Locale.ROOT, "After each repetition of the compute setting the "
                        + "runner makes a generation of %d steps with the Baseline pipeline (plain "
                        + "steps) and one with the TDTM 30/30 pipeline (merged steps), not counted "
                        + "in the rows, and right after each of their steps (from the progress "
                        + "listener, outside the step's timing) one bare step: the same "
                        + "`TorchScriptBlock#call` calls (same blocks, loaded once more; same "
                        + "methods; inputs of the same shapes) with no pipeline around them, on the "
                        + "same thread. Pipeline = the step as `StepReport` times it; bare = the "
                        + "sum of its TorchScript calls; overhead = the median of the paired "
                        + "differences, which drift in the machine's load hardly touches. Medians, "
                        + "ms per step.%n%n", Ablation.BARE_STEPS));
        b.append("| | Plain step" + (hasMerged ? " | Merged step (TDTM)" : "") + " |\n");
        b.append(hasMerged ? "|---|---|---|\n" : "|---|---|\n");
        row(b, "Java pipeline step", plain, merged, Step::pipeline);
        row(b, "Bare TorchScript calls (the same calls, no pipeline)", plain, merged,
                Step::bareCalls);
        row(b, "**Overhead** (pipeline − bare calls)", plain, merged, Step::overhead);
        b.append("| **Overhead / TorchScript time** | **").append(pct(plain.overheadFraction()))
                .append("**").append(hasMerged ? " | **" + pct(merged.overheadFraction()) + "**"
                        : "").append(" |\n");
        row(b, "… outside the blocks in the pipeline's step (from its own block events: CFG "
                + "batch, CFG combination, Euler update, latent copies, events)", plain, merged,
                Step::pipelineOutside);
        row(b, "… of which tensor work, timed in the bare loop (CFG batch, CFG combination, "
                + "Euler update)", plain, merged, Step::bareGlue);
        row(b, "… token merges, unmerges and residual adds in Java (bare loop; with "
                + "`forward_merged`, only its layout tensor)", plain, merged, Step::bareMerge);
        row(b, "… the rest inside the blocks (acquire, per-pair managers, call wrappers; and "
                + "the noise): pipeline's blocks − bare calls − merges, paired",
                plain, merged, Step::insideRest);
        b.append(String.format(Locale.ROOT, "%nPairs: %d plain%s.%n%n", plain.pairs(),
                hasMerged ? ", " + merged.pairs() + " merged" : ""));
        verdict(b, plain, merged, comparison.pairs().stream()
                .anyMatch(p -> p.bare().merged() && p.bare().inBlock()));
    }

    private static void row(StringBuilder b, String label, Step plain, Step merged,
            java.util.function.ToDoubleFunction<Step> f) {
        b.append("| ").append(label).append(" | ").append(ms(f.applyAsDouble(plain)));
        if (merged != null) {
            b.append(" | ").append(ms(f.applyAsDouble(merged)));
        }
        b.append(" |\n");
    }

    private static void verdict(StringBuilder b, Step plain, Step merged, boolean inBlock) {
        double f = plain.overheadFraction();
        b.append(String.format(Locale.ROOT, "**Plain step: Java's overhead is %s of the "
                        + "TorchScript time (%s ms of %s ms), %s the issue's bar of %.0f %%%s.** ",
                pct(f), ms(plain.overhead()), ms(plain.bareCalls()),
                f <= OVERHEAD_BAR ? "within" : "above", 100 * OVERHEAD_BAR,
                f < 0 ? "; below zero is noise: the overhead is too small to measure here" : ""));
        b.append(String.format(Locale.ROOT, "Outside its blocks the pipeline's step spends %s ms, "
                        + "%s ms of it on the CFG batch, CFG combination and Euler update, tensor "
                        + "work any implementation of the step does (the eager step below does "
                        + "the first two too); inside the blocks, the pipeline's calls against the "
                        + "bare ones differ by %s ms.", ms(plain.pipelineOutside()),
                ms(plain.bareGlue()), ms(plain.insideRest())));
        if (merged != null) {
            mergedVerdict(b, merged, inBlock);
        }
        b.append("\n\n");
    }

    private static void mergedVerdict(StringBuilder b, Step merged, boolean inBlock) {
        double f = merged.overheadFraction();
        if (inBlock) {
            b.append(String.format(Locale.ROOT, " **Merged step: %s of the TorchScript time** (%s "
                            + "ms), %s the bar. The pack's pairs have `forward_merged`, so a "
                            + "merged pair is one TorchScript call that merges, attends and "
                            + "unmerges inside the block; Java makes no token copies (its only "
                            + "merge work is the [2, G] layout tensor, %s ms per step).",
                    pct(f), ms(merged.overhead()), f <= OVERHEAD_BAR ? "within" : "above",
                    ms(merged.bareMerge())));
            return;
        }
        double withoutMerges = (merged.overhead() - merged.bareMerge()) / merged.bareCalls();
        b.append(String.format(Locale.ROOT, " **Merged step: %s of the TorchScript time** (%s "
                        + "ms), %s the bar. The pack's pairs lack `forward_merged` (exported "
                        + "before it; `python3 -m sora4j_export.upgrade PACK` adds it), so the "
                        + "merged path merges in Java: the token merges, unmerges and residual "
                        + "adds take %s ms of a merged step (%s), DJL NDArray operations between "
                        + "the TorchScript sub-stage calls (10 per pair), each materialising a copy "
                        + "of the tokens. Without them the merged step's overhead is %s%s.",
                pct(f), ms(merged.overhead()), f <= OVERHEAD_BAR ? "within" : "above",
                ms(merged.bareMerge()), merged.bareMerge() >= merged.overhead()
                        ? "all of the overhead and more" : "most of the overhead",
                pct(withoutMerges), withoutMerges < 0.005 ? ", i.e. none that this machine can "
                        + "measure" : ""));
    }

    // ---------------------------------------------------------------------------------------
    // eager

    /**
     * Appends the Java-vs-eager-PyTorch section.
     *
     * @param b the document
     */
    void eager(StringBuilder b) {
        if (comparison == null || report.runs(BenchPack.Setting.COMPUTE, Variant.BASELINE)
                .isEmpty()) {
            return;
        }
        EagerStep e = comparison.eager();
        b.append("### Java step vs eager PyTorch step (compute setting)\n\n");
        if (e == null) {
            b.append("Not measured (`--no-eager`).\n\n");
            return;
        }
        if (e.eager().isEmpty()) {
            b.append("Not measured: ").append(e.problem() == null ? "no step times"
                    : e.problem().replace("|", "\\|")).append(".\n\n");
            return;
        }
        Step plain = step(false);
        double[] rowSteps = report.stepSeconds(BenchPack.Setting.COMPUTE, Variant.BASELINE, false);
        double pipeline = AblationReport.median(rowSteps);
        double eager = median(e.eager());
        double script = median(e.torchScript());
        b.append(String.format(Locale.ROOT, "`benchmarks/eager_step.py` builds the bench pack's "
                        + "STDiT3 modules eagerly (`sora4j_export.bench`, the pack's seed: weights "
                        + "%s) and times one CFG step at the same shapes (z twice, embed, both "
                        + "pairs, final layer, CFG combination) with `torch.set_num_threads(%d)`, "
                        + "alternating with the same step on the pack's TorchScript files "
                        + "(`torch.jit.load`, graph optimizer off as in Java); the runner starts it "
                        + "after each repetition of the compute setting, %d steps of each after "
                        + "one warm-up. **The PyTorch versions differ**: DJL ships libtorch %s, "
                        + "Debian's Python has torch %s with OpenBLAS, so the Python TorchScript "
                        + "row separates the versions' difference (it against the bare Java "
                        + "calls) from eager against TorchScript (it against eager).%n%n",
                e.weightsMatch() == null ? "not compared with the pack"
                        : e.weightsMatch() ? "identical to the pack's" : "**differing from the "
                                + "pack's**",
                comparison.threads(), Ablation.EAGER_STEPS, engineVersion(), e.torchVersion()));
        b.append("| Implementation | Step (s), median | Steps timed | Time / Java pipeline "
                + "step |\n|---|---|---|---|\n");
        line(b, "Java pipeline (DJL, libtorch " + engineVersion() + ", TorchScript blocks): the "
                + "Baseline row's steps", pipeline, rowSteps.length, pipeline);
        line(b, "Java, bare TorchScript calls (libtorch " + engineVersion() + ", paired runs)",
                plain.bareCalls(), plain.pairs(), pipeline);
        if (!e.torchScript().isEmpty()) {
            line(b, "Python, the pack's TorchScript files (torch " + e.torchVersion() + ")",
                    script, e.torchScript().size(), pipeline);
        }
        line(b, "**Python eager** (torch " + e.torchVersion() + ", the same modules)", eager,
                e.eager().size(), pipeline);
        b.append(String.format(Locale.ROOT, "%n**Java step vs eager PyTorch step: %s** (the "
                        + "Java pipeline's step takes %.0f %% of the eager step's time)", 
                AblationReport.x(eager / pipeline), 100 * pipeline / eager));
        if (!e.torchScript().isEmpty()) {
            b.append(String.format(Locale.ROOT, "; eager against TorchScript in the same "
                            + "Python: %s; libtorch %s against torch %s on the same TorchScript "
                            + "calls: %s", AblationReport.x(eager / script), engineVersion(),
                    e.torchVersion(), AblationReport.x(script / plain.bareCalls())));
        }
        b.append(".\n\n");
    }

    private static void line(StringBuilder b, String label, double seconds, int n,
            double pipeline) {
        b.append(String.format(Locale.ROOT, "| %s | %.3f | %d | %s |%n", label, seconds, n,
                AblationReport.x(seconds / pipeline)));
    }

    private static String engineVersion() {
        try {
            return ai.djl.engine.Engine.getEngine("PyTorch").getVersion();
        } catch (RuntimeException e) {
            return "?";
        }
    }

    private static String ms(double seconds) {
        return Double.isNaN(seconds) ? "—" : String.format(Locale.ROOT, "%.1f", seconds * 1e3);
    }

    private static String pct(double fraction) {
        return Double.isNaN(fraction) ? "—" : String.format(Locale.ROOT, "%.1f %%",
                100 * fraction);
    }
}
