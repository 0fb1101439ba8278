package io.github.sora4j.benchmarks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import io.github.sora4j.internal.Engines;
import io.github.sora4j.internal.VaeDecoder;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.BlockLoaders;
import io.github.sora4j.load.LoadedBlock;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.plan.Architecture;
import io.github.sora4j.plan.FlopModel;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Real-width efficiency (docs/benchmarks.md, benchmarks/efficiency.sh): on the real-width pack
 * ({@code benchmarks/realwidth_pack.py}: Open-Sora v1.2's released widths, one block of each kind)
 * times, through the library's own path (a {@link ModelPack}, the resident {@link BlockLoader},
 * {@link LoadedBlock} calls, the {@link VaeDecoder}),
 *
 * <ul>
 *   <li>{@code stdit-pair}: one STDiT3-XL/2 spatial+temporal pair's {@code forward} on 5,120
 *       tokens per sample, CFG batch 2, 300 caption tokens (the Denoiser's call),
 *   <li>{@code t5-block}: one T5-XXL encoder block on 300 tokens,
 *   <li>{@code vae-chunk}: the VAE decode of one 17-frame chunk ([1, 4, 5, 32, 32]) at 256×256,
 * </ul>
 *
 * <p>each right after a float32 matmul peak ({@code peak}: [2048, 2048]², median of three) with the
 * same libtorch thread count, and with FLOPs from {@link FlopModel}. Repetitions are interleaved:
 * each starts with the next thread count and item. With {@code --stages} each repetition also
 * times the pair's ten sub-stage methods one by one. Every measurement records the 1-minute load
 * average before and after and the process CPU time it used (CPU over wall shows how many cores
 * it really had).
 *
 * <p>Arguments: {@code --pack DIR --reps N --vae-reps N --threads 1,2 --stages --csv FILE --doc
 * FILE|--no-doc --profile FILE --command TEXT}.
 */
public final class Efficiency {
    static final String[] STAGES = {"norm_msa", "self_attn", "gate_msa", "cross_attn", "mlp"};
    private static final int PEAK_N = 2048;

    private final FlopModel flops;
    private final FlopModel.Geometry g;
    private final FlopModel.Geometry chunk;
    private final NDManager manager;
    private final List<EfficiencyReport.Row> rows = new ArrayList<>();
    private Runnable peakCall;
    private Path csv;

    Efficiency(FlopModel flops, NDManager manager) {
        this.flops = flops;
        this.g = flops.geometry(68, 256, 256, 300);
        this.chunk = flops.geometry(17, 256, 256, 300);
        this.manager = manager;
    }

    /**
     * Runs the benchmark.
     *
     * @param args see the class comment
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        EfficiencyReport.Options o = EfficiencyReport.Options.parse(args);
        if (o.fromCsv() != null) { // the report of an earlier run, measuring nothing
            Efficiency e = new Efficiency(FlopModel.of(Architecture.openSoraV12()), null);
            List<EfficiencyReport.Row> rows = EfficiencyReport.readCsv(o.fromCsv());
            ZonedDateTime at = rows.isEmpty() ? ZonedDateTime.now() : rows.get(rows.size() - 1).at();
            String section = new EfficiencyReport(rows, o, e.flopsTable()).markdown(at);
            System.out.println(section);
            if (o.doc() != null) {
                EfficiencyReport.writeSection(o.doc(), section);
            }
            return;
        }
        Engines.pytorch();
        JniUtils.setGradMode(false);
        ModelPack pack = ModelPack.open(o.pack());
        FlopModel fm = FlopModel.of(pack);
        checkReleasedWidths(fm);
        try (NDManager manager = NDManager.newBaseManager("PyTorch");
                BlockLoader loader = BlockLoaders.resident(pack)) {
            Efficiency e = new Efficiency(fm, manager);
            e.run(o, pack, loader);
            EfficiencyReport report = new EfficiencyReport(e.rows, o, e.flopsTable());
            report.writeCsv(o.csv());
            String section = report.markdown(ZonedDateTime.now());
            System.out.println(section);
            if (o.doc() != null) {
                EfficiencyReport.writeSection(o.doc(), section);
            }
        }
    }

    /** The pack's blocks must have the released widths: its FLOPs per block equal v1.2's. */
    static void checkReleasedWidths(FlopModel fm) {
        FlopModel real = FlopModel.of(Architecture.openSoraV12());
        FlopModel.Geometry a = fm.geometry(68, 256, 256, 300);
        FlopModel.Geometry b = real.geometry(68, 256, 256, 300);
        double t5PerBlock = real.t5Flops() / real.architecture().t5().numLayers();
        boolean same = fm.stditPairFlops(a, a.gridFrames()) == real.stditPairFlops(b, b.gridFrames())
                && fm.t5Flops() / fm.architecture().t5().numLayers() == t5PerBlock
                && fm.vaeDecodeFlops(fm.geometry(17, 256, 256, 300))
                        == real.vaeDecodeFlops(real.geometry(17, 256, 256, 300));
        if (!same) {
            throw new IllegalArgumentException("the pack does not have Open-Sora v1.2's released widths ("
                    + fm + "); write it with benchmarks/realwidth_pack.py");
        }
    }

    /** FLOPs per item (CFG batch included for STDiT); the stages sum to the pair. */
    EfficiencyReport.Flops flopsTable() {
        Architecture.Stdit s = flops.architecture().stdit();
        double d = s.hiddenSize();
        double n = g.tokens();
        double l = g.captionTokens();
        double cfg = 2;
        double[] spatial = {0, cfg * (8 * n * d * d + 4 * n * g.spatialTokens() * d), 0,
            cfg * (4 * n * d * d + 4 * l * d * d + 4 * n * l * d), cfg * 4 * n * d * s.mlpHidden()};
        double[] temporal = spatial.clone();
        temporal[1] = cfg * (8 * n * d * d + 4 * n * g.gridFrames() * d);
        double pair = cfg * flops.stditPairFlops(g, g.gridFrames());
        double sum = Arrays.stream(spatial).sum() + Arrays.stream(temporal).sum();
        if (Math.abs(sum - pair) > 1e-9 * pair) {
            throw new IllegalStateException("stage FLOPs " + sum + " != FlopModel's pair " + pair);
        }
        return new EfficiencyReport.Flops(2.0 * PEAK_N * PEAK_N * PEAK_N, pair,
                flops.t5Flops() / flops.architecture().t5().numLayers(), flops.vaeDecodeFlops(chunk),
                spatial, temporal);
    }

    private void run(EfficiencyReport.Options o, ModelPack pack, BlockLoader loader) {
        csv = o.csv();
        EfficiencyReport.Flops f = flopsTable();
        BlockInfo pairInfo = pack.manifest().blocksWithRole("stdit-block").get(0);
        BlockInfo t5Info = pack.manifest().blocksWithRole("t5-block").get(0);
        VaeDecoder vae = new VaeDecoder(pack);
        NDArray a = manager.randomNormal(new Shape(PEAK_N, PEAK_N));
        NDArray b = manager.randomNormal(new Shape(PEAK_N, PEAK_N));
        NDArray x = manager.randomNormal(new Shape(2, g.tokens(), 1152));
        NDArray y = manager.randomNormal(new Shape(2, g.captionTokens(), 1152));
        NDArray tMlp = manager.randomNormal(0f, 0.1f, new Shape(2, 6 * 1152), DataType.FLOAT32);
        NDArray frames = manager.create((long) g.gridFrames());
        NDArray hidden = manager.randomNormal(new Shape(1, 300, 4096));
        NDArray mask = manager.ones(new Shape(1, 300), DataType.INT64);
        NDArray z = manager.randomNormal(new Shape(1, 4, chunk.latentFrames(), 32, 32));
        try (LoadedBlock pair = loader.acquire(pairInfo); LoadedBlock t5 = loader.acquire(t5Info)) {
            Runnable pairCall = () -> close(pair.forward(manager, x, y, tMlp, frames));
            Runnable t5Call = () -> close(t5.forward(manager, hidden, mask));
            Runnable vaeCall = () -> {
                try (NDManager scope = manager.newSubManager()) {
                    vae.decode(z, 17, loader, scope, (i, c, blk, nanos) -> { });
                }
            };
            peakCall = () -> close(new NDList(a.matMul(b)));
            for (int t : o.threads()) { // warm-up: the graph executor's profiling runs, thread pools
                JniUtils.setNumThreads(t);
                for (int i = 0; i < 2; i++) {
                    peakCall.run();
                    t5Call.run();
                    pairCall.run();
                }
            }
            int reps = Math.max(o.reps(), o.vaeReps());
            for (int r = 0; r < reps; r++) {
                int[] ts = rotate(o.threads(), r);
                for (int t : ts) {
                    JniUtils.setNumThreads(t);
                    List<String> items = new ArrayList<>();
                    if (r < o.reps()) {
                        items.add("stdit-pair");
                        items.add("t5-block");
                    }
                    if (r < o.vaeReps()) {
                        items.add("vae-chunk");
                    }
                    for (String item : rotate(items, r)) {
                        double peak = peak(r, t, f.peak());
                        switch (item) {
                            case "stdit-pair" -> measure(r, t, item, f.pair(), peak, pairCall);
                            case "t5-block" -> measure(r, t, item, f.t5Block(), peak, t5Call);
                            default -> measure(r, t, item, f.vaeChunk(), peak, () -> {
                                // VaeDecoder's blocks run once per decode: no profiling run
                                JniUtils.setGraphExecutorOptimize(false);
                                try {
                                    vaeCall.run();
                                } finally {
                                    JniUtils.setGraphExecutorOptimize(true);
                                }
                            });
                        }
                    }
                    if (o.stages() && r < o.reps()) {
                        stages(r, t, f, pair, x, y, tMlp, frames);
                    }
                }
                System.err.printf("efficiency: repetition %d of %d done%n", r + 1, reps);
            }
            if (o.profile() != null) {
                JniUtils.setNumThreads(o.threads()[0]);
                JniUtils.startProfile(false, true, false);
                pairCall.run();
                JniUtils.stopProfile(o.profile().toString());
            }
        }
    }

    private void stages(int r, int t, EfficiencyReport.Flops f, LoadedBlock pair, NDArray x,
            NDArray y, NDArray tMlp, NDArray frames) {
        double peak = peak(r, t, f.peak());
        for (String half : new String[] {"spatial", "temporal"}) {
            double[] stageFlops = half.equals("spatial") ? f.spatial() : f.temporal();
            for (int i = 0; i < STAGES.length; i++) {
                String method = half + "_" + STAGES[i];
                NDArray[] in = switch (STAGES[i]) {
                    case "norm_msa", "mlp" -> new NDArray[] {x, tMlp};
                    case "self_attn" -> new NDArray[] {x, frames};
                    case "gate_msa" -> new NDArray[] {x, x, tMlp};
                    default -> new NDArray[] {x, y};
                };
                close(pair.call(method, manager, in)); // this method's own profiling run
                measure(r, t, "stage:" + method, stageFlops[i], peak,
                        () -> close(pair.call(method, manager, in)));
            }
        }
    }

    /** Adds a row and rewrites the CSV, so that an interrupted run keeps what it measured. */
    private void add(EfficiencyReport.Row row) {
        rows.add(row);
        try {
            new EfficiencyReport(rows, null, null).writeCsv(csv);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private double peak(int r, int t, double peakFlops) {
        double[] s = new double[3];
        double load = loadAverage();
        long cpu = cpuNanos();
        for (int i = 0; i < s.length; i++) {
            s[i] = time(peakCall);
        }
        double median = EfficiencyReport.median(s);
        add(new EfficiencyReport.Row(r, t, "peak", median, peakFlops, peakFlops / median / 1e9,
                load, loadAverage(), (cpuNanos() - cpu) / 1e9 / s.length, ZonedDateTime.now()));
        return peakFlops / median / 1e9;
    }

    private void measure(int r, int t, String item, double itemFlops, double peakGflops, Runnable call) {
        double load = loadAverage();
        long cpu = cpuNanos();
        double s = time(call);
        add(new EfficiencyReport.Row(r, t, item, s, itemFlops, peakGflops, load, loadAverage(),
                (cpuNanos() - cpu) / 1e9, ZonedDateTime.now()));
        System.err.printf("efficiency: rep %d, %d thread(s), %-26s %8.3f s  %6.1f GFLOP/s (peak %.1f)%n",
                r, t, item, s, itemFlops / s / 1e9, peakGflops);
    }

    private static double time(Runnable call) {
        long start = System.nanoTime();
        call.run();
        return (System.nanoTime() - start) / 1e9;
    }

    private static void close(NDList list) {
        list.close();
    }

    static double loadAverage() {
        try {
            String s = Files.readString(Path.of("/proc/loadavg"), StandardCharsets.US_ASCII);
            return Double.parseDouble(s.substring(0, s.indexOf(' ')));
        } catch (Exception e) {
            return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        }
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    static int[] rotate(int[] a, int by) {
        int[] out = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[(i + by) % a.length];
        }
        return out;
    }

    static <T> List<T> rotate(List<T> a, int by) {
        List<T> out = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            out.add(a.get((i + by) % a.size()));
        }
        return out;
    }
}
