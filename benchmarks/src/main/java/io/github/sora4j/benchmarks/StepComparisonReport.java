package io.github.sora4j.benchmarks;

import io.github.sora4j.Stage;
import io.github.sora4j.StepReport;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * The compute setting's step comparisons in docs/benchmarks.md: Java's overhead per STDiT step
 * (the pipeline's step against the sum of the bare TorchScript calls it makes, {@link
 * StepOverhead}) and the Java step against the same step in eager PyTorch ({@link EagerStep}).
 *
 * <p>The pipeline's steps are the Baseline row's (plain) and the TDTM 30/30 row's (merged), as
 * {@link StepReport} times them; where the overhead goes comes from the pipeline's own block
 * events (time in the step outside its blocks) and from the bare loop, which times the tensor
 * work around the calls apart from the calls.
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

    /** Medians of one kind of step, in seconds. */
    record Step(double pipeline, double pipelineBlocks, double pipelineOutside, double bareCalls,
            double bareGlue, double bareMerge, int pipelineSteps, int bareSteps) {

        double overhead() {
            return pipeline - bareCalls;
        }

        double overheadFraction() {
            return overhead() / bareCalls;
        }

        /** Inside the pipeline's blocks but not in a call or merge of the bare loop. */
        double insideRest() {
            return pipelineBlocks - bareCalls - bareMerge;
        }
    }

    Step step(boolean merged) {
        Variant v = merged ? Variant.TDTM_30 : Variant.BASELINE;
        List<Double> steps = new ArrayList<>();
        List<Double> blocks = new ArrayList<>();
        List<Double> outside = new ArrayList<>();
        for (Ablation.Run r : report.runs(BenchPack.Setting.COMPUTE, v)) {
            Map<Integer, Long> perStep = blockNanosPerStep(r);
            for (StepReport st : r.report().steps()) {
                if (st.merged() == merged && perStep.containsKey(st.index())) {
                    long in = perStep.get(st.index());
                    steps.add(st.elapsedNanos() / 1e9);
                    blocks.add(in / 1e9);
                    outside.add((st.elapsedNanos() - in) / 1e9);
                }
            }
        }
        List<StepOverhead.Sample> bare = comparison.bare().stream()
                .filter(s -> s.merged() == merged).toList();
        return new Step(median(steps), median(blocks), median(outside),
                bareMedian(bare, StepOverhead.Sample::callNanos),
                bareMedian(bare, StepOverhead.Sample::glueNanos),
                bareMedian(bare, StepOverhead.Sample::mergeNanos), steps.size(), bare.size());
    }

    private static Map<Integer, Long> blockNanosPerStep(Ablation.Run r) {
        Map<Integer, Long> m = new HashMap<>();
        for (RunRecorder.BlockRun b : r.blocks()) {
            if (b.stage() == Stage.DENOISE) {
                m.merge(b.step(), b.elapsedNanos(), Long::sum);
            }
        }
        return m;
    }

    private static double bareMedian(List<StepOverhead.Sample> xs,
            ToLongFunction<StepOverhead.Sample> f) {
        return AblationReport.median(xs.stream().mapToDouble(s -> f.applyAsLong(s) / 1e9)
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
        if (comparison == null || comparison.bare().isEmpty()
                || report.runs(BenchPack.Setting.COMPUTE, Variant.BASELINE).isEmpty()) {
            return;
        }
        Step plain = step(false);
        boolean hasMerged = !report.runs(BenchPack.Setting.COMPUTE, Variant.TDTM_30).isEmpty();
        Step merged = hasMerged ? step(true) : null;
        b.append("### Java overhead per STDiT step (compute setting)\n\n");
        b.append(String.format(Locale.ROOT, "Pipeline = the step as `StepReport` times it in the "
                        + "Baseline row (plain steps) and the TDTM 30/30 row (merged steps), median "
                        + "of every step of every repetition. Bare TorchScript = the sum of the "
                        + "`TorchScriptBlock#call` calls of one step (same blocks, loaded once more; "
                        + "same methods; inputs of the same shapes), in a tight loop on the same "
                        + "thread, %d steps of each kind after each repetition of the compute "
                        + "setting, median. Times in ms per step.%n%n", Ablation.BARE_STEPS));
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
        row(b, "… token merges, unmerges and residual adds around the sub-stage calls (bare "
                + "loop)", plain, merged, Step::bareMerge);
        row(b, "… the rest inside the blocks (acquire, per-pair managers, call wrappers; and "
                + "the noise between two medians): pipeline's blocks − bare calls − merges",
                plain, merged, Step::insideRest);
        b.append(String.format(Locale.ROOT, "%nSteps timed: pipeline %d plain%s; bare loop %d "
                        + "plain%s.%n%n", plain.pipelineSteps(),
                hasMerged ? ", " + merged.pipelineSteps() + " merged" : "", plain.bareSteps(),
                hasMerged ? ", " + merged.bareSteps() + " merged" : ""));
        verdict(b, plain, merged);
    }

    private static void row(StringBuilder b, String label, Step plain, Step merged,
            java.util.function.ToDoubleFunction<Step> f) {
        b.append("| ").append(label).append(" | ").append(ms(f.applyAsDouble(plain)));
        if (merged != null) {
            b.append(" | ").append(ms(f.applyAsDouble(merged)));
        }
        b.append(" |\n");
    }

    private static void verdict(StringBuilder b, Step plain, Step merged) {
        double f = plain.overheadFraction();
        b.append(String.format(Locale.ROOT, "**Plain step: Java's overhead is %s of the "
                        + "TorchScript time (%s ms of %s ms), %s the issue's bar of %.0f %%.** ",
                pct(f), ms(plain.overhead()), ms(plain.bareCalls()),
                f <= OVERHEAD_BAR ? "within" : "above", 100 * OVERHEAD_BAR));
        b.append(String.format(Locale.ROOT, "Outside its blocks the pipeline's step spends %s ms, "
                        + "%s ms of it on the CFG batch, CFG combination and Euler update, tensor "
                        + "work any implementation of the step does (the eager step below does "
                        + "the first two too); inside the blocks the pipeline's calls take %s ms "
                        + "more than the bare ones.", ms(plain.pipelineOutside()),
                ms(plain.bareGlue()), ms(plain.insideRest())));
        if (merged != null) {
            b.append(String.format(Locale.ROOT, " **Merged step: %s** (%s ms), of which the token "
                            + "merges and unmerges take %s ms: TDTM's own tensor work (reshape, "
                            + "mean, repeat), done by DJL NDArray operations between the "
                            + "TorchScript sub-stage calls; without them the merged step's overhead "
                            + "is %s.", pct(merged.overheadFraction()), ms(merged.overhead()),
                    ms(merged.bareMerge()),
                    pct((merged.overhead() - merged.bareMerge()) / merged.bareCalls())));
        }
        b.append("\n\n");
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
        line(b, "Java pipeline (DJL, libtorch " + engineVersion() + ", TorchScript blocks)",
                plain.pipeline(), plain.pipelineSteps(), plain.pipeline());
        line(b, "Java, bare TorchScript calls (libtorch " + engineVersion() + ")",
                plain.bareCalls(), plain.bareSteps(), plain.pipeline());
        if (!e.torchScript().isEmpty()) {
            line(b, "Python, the pack's TorchScript files (torch " + e.torchVersion() + ")",
                    script, e.torchScript().size(), plain.pipeline());
        }
        line(b, "**Python eager** (torch " + e.torchVersion() + ", the same modules)", eager,
                e.eager().size(), plain.pipeline());
        b.append(String.format(Locale.ROOT, "%n**Java step vs eager PyTorch step: %s** (the "
                        + "Java pipeline's step takes %.0f %% of the eager step's time)", 
                AblationReport.x(eager / plain.pipeline()), 100 * plain.pipeline() / eager));
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
