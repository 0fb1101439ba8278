package io.github.sora4j.benchmarks;

import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.plan.Architecture;
import io.github.sora4j.plan.FlopModel;
import io.github.sora4j.plan.LoadOverlap;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * The FLOP and byte calculator on the command line: FLOPs per stage and per step, weight bytes per
 * block, and the predicted speedups of LPL, TDTM and CI-DL, for Open-Sora v1.2 or a pack.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar io.github.sora4j.benchmarks.FlopReport
 *      [--pack DIR] [--frames 68] [--size 256] [--tokens 300] [--steps 30]
 *      [--bandwidth 1.45e9] [--step-seconds 35.366]
 * </pre>
 *
 * <p>Without {@code --pack} it describes the released Open-Sora v1.2 in float32. The CI-DL line
 * spreads {@code --step-seconds} (a measured sequential step, default the paper's Table 1)
 * over the pairs, takes each pair's load time as its bytes over {@code --bandwidth}, and replays a
 * step with and without prefetching ({@link LoadOverlap}).
 */
public final class FlopReport {
    private FlopReport() {}

    /**
     * Prints the report.
     *
     * @param args options, see the class comment
     */
    public static void main(String[] args) {
        ModelPack pack = null;
        int frames = 68;
        int size = 256;
        int tokens = 300;
        int steps = 30;
        double bandwidth = BenchPack.FLASH_BYTES_PER_SECOND;
        double stepSeconds = 35.366;
        for (int i = 0; i < args.length; i += 2) {
            String v = i + 1 < args.length ? args[i + 1] : null;
            if (v == null) {
                throw new IllegalArgumentException(args[i] + " needs a value");
            }
            switch (args[i]) {
                case "--pack" -> pack = ModelPack.open(Path.of(v), false);
                case "--frames" -> frames = Integer.parseInt(v);
                case "--size" -> size = Integer.parseInt(v);
                case "--tokens" -> tokens = Integer.parseInt(v);
                case "--steps" -> steps = Integer.parseInt(v);
                case "--bandwidth" -> bandwidth = Double.parseDouble(v);
                case "--step-seconds" -> stepSeconds = Double.parseDouble(v);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        FlopModel m = pack == null ? FlopModel.of(Architecture.openSoraV12()) : FlopModel.of(pack);
        FlopModel.Geometry g = m.geometry(frames, size, size, tokens);
        Architecture.Stdit s = m.architecture().stdit();
        p("%s: %d frames at %dx%d, %d caption tokens", pack == null ? "Open-Sora v1.2"
                : pack.manifest().name(), frames, size, size, tokens);
        p("latent [%d, %d, %d, %d]: %d tokens per sample (%d per frame, %d frames)",
                s.inChannels(), g.latentFrames(), g.latentHeight(), g.latentWidth(), g.tokens(),
                g.spatialTokens(), g.gridFrames());
        p("");
        p("FLOPs (2 per multiply-add)");
        p("  T5, once per prompt        %12.4g", m.t5Flops());
        p("  STDiT forward, one sample  %12.4g", m.stditForwardFlops(g, g.gridFrames()));
        p("  STDiT step, CFG batch 2    %12.4g  (TDTM-merged: %.4g, ratio %.4f)",
                m.stditStepFlops(g, false), m.stditStepFlops(g, true), m.mergedStepRatio(g));
        p("    embed %.4g, each of %d pairs %.4g, final %.4g (per sample)",
                m.stditEmbedFlops(g), s.depth(), m.stditPairFlops(g, g.gridFrames()),
                m.stditFinalFlops(g));
        p("  VAE decode                 %12.4g  (temporal %.4g, spatial %.4g)",
                m.vaeDecodeFlops(g), m.vaeTemporalFlops(g), m.vaeSpatialFlops(g));
        FlopModel.RunFlops base = m.run(g, steps, -1, 0);
        p("  %d steps, all stages       %12.4g", steps, base.totalFlops());
        p("");
        p("Weights");
        if (pack != null) {
            for (BlockInfo b : pack.manifest().blocks()) {
                p("  %-18s %12d bytes (%d parameter bytes, %s)", b.name(), b.bytes(),
                        b.parameterBytes(), b.dtype());
            }
        } else {
            p("  STDiT block %d parameters, pair %.1f MB, whole STDiT %.2f GB (float32)",
                    m.stditBlockParameters(), m.stditPairParameters() * 4 / 1e6,
                    m.stditParameters() * 4 / 1e9);
            p("  T5 block %.1f MB float32, %.1f MB int8", m.t5BlockParameters(1) * 4 / 1e6,
                    m.t5BlockParameters(1) / 1e6);
        }
        p("");
        p("Predicted STDiT speedups over %d full steps (FLOP ratios)", steps);
        int leap = Math.min(15, steps - 1);
        p("  LPL %d/%d                   %.3fx", leap + 1, steps,
                base.denoiseFlops() / m.run(g, steps, leap, 0).denoiseFlops());
        p("  TDTM %d/%d                  %.3fx", steps / 2, steps,
                base.denoiseFlops() / m.run(g, steps, -1, steps / 2).denoiseFlops());
        p("  TDTM %d/%d                  %.3fx", steps, steps,
                base.denoiseFlops() / m.run(g, steps, -1, steps).denoiseFlops());
        p("  LPL + TDTM                 %.3fx",
                base.denoiseFlops() / m.run(g, steps, leap, steps).denoiseFlops());
        double pairBytes = pack == null ? m.stditPairParameters() * 4.0
                : pack.manifest().blocksWithRole("stdit-block").get(0).bytes();
        double l = pairBytes / bandwidth;
        double e = Math.max(0, stepSeconds - s.depth() * l) / s.depth();
        List<LoadOverlap.Block> step = new ArrayList<>();
        for (int i = 0; i < s.depth(); i++) {
            step.add(new LoadOverlap.Block("pair" + i, e, l, false));
        }
        double seq = LoadOverlap.seconds(Collections.nCopies(steps, step), false);
        double ci = LoadOverlap.seconds(Collections.nCopies(steps, step), true);
        p("  CI (prefetch)              %.3fx  (pair load %.3f s at %.2f GB/s, compute %.3f s)",
                seq / ci, l, bandwidth / 1e9, e);
    }

    private static void p(String format, Object... args) {
        System.out.println(String.format(Locale.ROOT, format, args));
    }
}
