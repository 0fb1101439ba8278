package io.github.sora4j.benchmarks;

import io.github.sora4j.Stage;
import io.github.sora4j.StepReport;
import io.github.sora4j.device.MemoryPlan;
import io.github.sora4j.load.ActivationPeaks;
import io.github.sora4j.load.LoaderKind;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.load.SetResidency;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.plan.FlopModel;
import io.github.sora4j.plan.LoadOverlap;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The ablation's predictions (see {@link AblationReport}). Compute setting: the FLOP model's
 * STDiT speedup, the rest at its measured baseline time. Streaming setting: a replay of every block
 * with its compute and load time from the sequential baseline runs (merged pairs scaled by their
 * FLOP ratio), the residency CI-DL plans for the budget and prefetching on or off ({@link
 * LoadOverlap}).
 */
final class AblationPrediction {
    private final AblationReport report;
    private final ModelPack pack;
    private final Ablation.Options options;
    private final FlopModel flops;

    AblationPrediction(AblationReport report, ModelPack pack, Ablation.Options options) {
        this.report = report;
        this.pack = pack;
        this.options = options;
        this.flops = FlopModel.of(pack);
    }

    /**
     * Predicted STDiT and total speedups of a row over its setting's baseline.
     *
     * @param s the setting
     * @param v the row
     * @return {STDiT speedup, total speedup}
     */
    double[] predicted(BenchPack.Setting s, Variant v) {
        return s == BenchPack.Setting.COMPUTE ? flopPrediction(s, v) : timePrediction(s, v);
    }

    private double[] flopPrediction(BenchPack.Setting s, Variant v) {
        FlopModel.Geometry g = report.geometry(s);
        int k = options.steps();
        double ratio = flops.run(g, k, -1, 0).denoiseFlops()
                / flops.run(g, k, v.lplLeapStep(), v.tdtmMergeSteps()).denoiseFlops();
        double base = report.stdit(s, Variant.BASELINE);
        double rest = report.total(s, Variant.BASELINE) - base;
        return new double[] {ratio, (base + rest) / (base / ratio + rest)};
    }

    /** Block compute and load times measured in the sequential baseline, and the sequences. */
    private final class Calibration {
        final Map<String, Double> compute = new HashMap<>();
        final Map<String, Double> load = new HashMap<>();
        final List<String> t5 = new ArrayList<>();
        final List<String> step = new ArrayList<>();
        final List<String> vae = new ArrayList<>();
        final double stepOverhead;
        final double runOverhead;

        Calibration(BenchPack.Setting s) {
            List<Ablation.Run> base = report.runs(s, Variant.BASELINE);
            Map<String, List<Double>> c = new HashMap<>();
            Map<String, List<Double>> l = new HashMap<>();
            List<Double> stepOther = new ArrayList<>();
            for (Ablation.Run r : base) {
                Map<Integer, Double> blockSumPerStep = new HashMap<>();
                for (RunRecorder.BlockRun b : r.blocks()) {
                    c.computeIfAbsent(b.block(), x -> new ArrayList<>())
                            .add(b.computeNanos() / 1e9);
                    if (b.loadNanos() > 0) {
                        l.computeIfAbsent(b.block(), x -> new ArrayList<>())
                                .add(b.loadNanos() / 1e9);
                    }
                    if (b.stage() == Stage.DENOISE) {
                        blockSumPerStep.merge(b.step(), b.elapsedNanos() / 1e9, Double::sum);
                    }
                }
                for (StepReport st : r.report().steps()) {
                    stepOther.add(AblationReport.seconds(st.elapsedNanos())
                            - blockSumPerStep.getOrDefault(st.index(), 0.0));
                }
            }
            c.forEach((k, xs) -> compute.put(k, AblationReport.median(AblationReport.toArray(xs))));
            l.forEach((k, xs) -> load.put(k, AblationReport.median(AblationReport.toArray(xs))));
            for (RunRecorder.BlockRun b : base.get(0).blocks()) {
                switch (b.stage()) {
                    case ENCODE_TEXT -> t5.add(b.block());
                    case DENOISE -> {
                        if (b.step() == 0) {
                            step.add(b.block());
                        }
                    }
                    case DECODE -> vae.add(b.block());
                    default -> { }
                }
            }
            stepOverhead = AblationReport.median(AblationReport.toArray(stepOther));
            double[] other = base.stream().mapToDouble(r -> AblationReport.seconds(r.report().totalNanos())
                    - r.blocks().stream().mapToDouble(b -> b.elapsedNanos() / 1e9).sum()
                    - r.report().modelCalls() * stepOverhead).toArray();
            runOverhead = AblationReport.median(other);
        }

        LoadOverlap.Block block(String name, double scale, Set<String> resident) {
            return new LoadOverlap.Block(name, compute.getOrDefault(name, 0.0) * scale,
                    load.getOrDefault(name, 0.0), resident.contains(name));
        }
    }

    private double[] timePrediction(BenchPack.Setting s, Variant v) {
        double[] base = timeModel(s, Variant.BASELINE);
        double[] row = timeModel(s, v);
        return new double[] {base[0] / row[0], base[1] / row[1]};
    }

    /** Predicted STDiT and total seconds of a row: a replay of its blocks. */
    private double[] timeModel(BenchPack.Setting s, Variant v) {
        Calibration cal = new Calibration(s);
        FlopModel.Geometry g = report.geometry(s);
        double pairRatio = flops.stditPairFlops(g, (g.gridFrames() + 1) / 2)
                / flops.stditPairFlops(g, g.gridFrames());
        Set<String> resident = v.ciDl() ? residentBlocks(s) : Set.of();
        int k = options.steps();
        int calls = v.lplLeapStep() < 0 ? k : Math.min(k, v.lplLeapStep() + 1);
        List<List<LoadOverlap.Block>> steps = new ArrayList<>();
        for (int i = 0; i < calls; i++) {
            boolean merged = i < v.tdtmMergeSteps();
            List<LoadOverlap.Block> step = new ArrayList<>();
            for (String name : cal.step) {
                boolean pair = name.startsWith("stdit.block.");
                step.add(cal.block(name, merged && pair ? pairRatio : 1, resident));
            }
            steps.add(step);
        }
        double stdit = LoadOverlap.seconds(steps, v.ciDl()) + calls * cal.stepOverhead;
        double t5 = LoadOverlap.seconds(List.of(sequence(cal, cal.t5, resident)), v.ciDl());
        double vae = LoadOverlap.seconds(List.of(sequence(cal, cal.vae, resident)), v.ciDl());
        return new double[] {stdit, t5 + stdit + vae + cal.runOverhead};
    }

    private static List<LoadOverlap.Block> sequence(Calibration cal, List<String> names,
            Set<String> resident) {
        return names.stream().map(n -> cal.block(n, 1, resident)).toList();
    }

    /**
     * The share of reading in a sequential baseline step's blocks: the STDiT blocks' median load
     * times over their load plus compute times.
     *
     * @param s the setting
     * @return a fraction in [0, 1], or NaN without timed blocks
     */
    double readShare(BenchPack.Setting s) {
        Calibration cal = new Calibration(s);
        double load = 0;
        double compute = 0;
        for (String name : cal.step) {
            load += cal.load.getOrDefault(name, 0.0);
            compute += cal.compute.getOrDefault(name, 0.0);
        }
        return load + compute > 0 ? load / (load + compute) : Double.NaN;
    }

    /** CI-DL's resident blocks under the streaming budget, deciding as the setting's loader does
     *  (no activations, the read's copies not counted: {@link BenchPack#streamingSettings}). */
    private Set<String> residentBlocks(BenchPack.Setting s) {
        MemoryBudget budget = BenchPack.streamingBudget(pack);
        MemoryPlan plan = MemoryPlan.of(pack.manifest(), budget,
                LoaderKind.CONCURRENT_DYNAMIC, s.request(options.steps()), ActivationPeaks.NONE);
        Set<String> names = new HashSet<>();
        for (MemoryPlan.Phase p : plan.phases()) {
            SetResidency r = p.residency();
            SetResidency.plan(r.set(), r.blocks(), 0, budget.availableBytes(), true, true)
                    .residentBlocks().forEach(b -> names.add(b.name()));
        }
        return names;
    }

    /**
     * The streaming setting's load and compute per STDiT block (the time model's inputs) and the
     * blocks CI-DL keeps resident, as Markdown; nothing without streaming runs.
     *
     * @param b where the section goes
     */
    void overlap(StringBuilder b) {
        BenchPack.Setting s = BenchPack.Setting.STREAMING;
        if (report.runs(s, Variant.BASELINE).isEmpty()) {
            return;
        }
        Calibration cal = new Calibration(s);
        b.append("### Load and compute per STDiT block (streaming setting, sequential baseline, "
                + "medians)\n\n");
        b.append("| Block | Bytes | Read as | Load (s) | Compute (s) | Load / compute |\n");
        b.append("|---|---|---|---|---|---|\n");
        double scale = BenchPack.byteScale(pack);
        for (String name : cal.step) {
            BlockInfo info = pack.manifest().blocks().stream()
                    .filter(x -> x.name().equals(name)).findFirst().orElseThrow();
            double l = cal.load.getOrDefault(name, 0.0);
            double e = cal.compute.getOrDefault(name, 0.0);
            b.append(String.format(Locale.ROOT, "| %s | %s | %s | %.3f | %.3f | %.2f |%n", name,
                    MemoryBudget.format(info.bytes()),
                    MemoryBudget.format((long) (info.bytes() * scale)), l, e, e > 0 ? l / e : 0));
        }
        b.append(String.format(Locale.ROOT, "%nResident under CI-DL (the plan for the budget): "
                + "%s.%n%n", String.join(", ", new java.util.TreeSet<>(residentBlocks(s)))));
    }
}
