package io.github.sora4j.benchmarks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import io.github.sora4j.internal.Denoiser;
import io.github.sora4j.internal.Engines;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.merge.FrameGroups;
import io.github.sora4j.merge.TokenMerger;
import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.PackManifest;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * One STDiT denoising step (embed, every pair, final layer, CFG) of the bench pack at the
 * paper's 5,120 tokens per sample, CFG batch 2.
 *
 * <p>{@code strategy}: {@code baseline} (resident blocks, no merging), {@code tdtm} (frame pairs
 * merged, what TDTM does on a merged step), {@code sequential} and {@code ci-dl} (the streaming
 * setting's budget and phone-flash reads, see {@link BenchPack}). {@code -p size=128} runs the
 * streaming setting's 1,280 tokens. The step's velocity is sunk into the blackhole.
 *
 * <p>HOW TO RUN: {@code java -jar benchmarks/target/benchmarks.jar StditStepBenchmark} from the
 * repository root (about 3 minutes).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 5, time = 5)
@Fork(value = 1, jvmArgs = {"-Xmx4g", "-Dai.djl.offline=true",
        "-Dai.djl.pytorch.graph_optimizer=false"})
@State(Scope.Benchmark)
public class StditStepBenchmark {
    @Param({"baseline", "tdtm", "sequential", "ci-dl"})
    public String strategy;

    @Param({"256"})
    public int size;

    private BlockLoader loader;
    private Denoiser denoiser;
    private NDManager manager;
    private Denoiser.Conditioning cond;
    private NDArray z;
    private FrameGroups groups;
    private TokenMerger merger;

    @Setup(Level.Trial)
    public void setUp() {
        Engines.pytorch();
        JniUtils.setGradMode(false);
        ModelPack pack = BenchPack.open();
        PackManifest m = pack.manifest();
        loader = BenchPack.loader(strategy.equals("tdtm") ? "resident" : strategy, pack);
        denoiser = new Denoiser(pack);
        manager = NDManager.newBaseManager("PyTorch");
        int t = 20;
        int h = size / m.vae().spatialCompression();
        int captionTokens = 18; // the benchmark prompt's tokens with the aesthetic suffix
        cond = new Denoiser.Conditioning(
                manager.randomNormal(new Shape(2, captionTokens, m.stdit().captionChannels())),
                manager.create(new float[] {24}, new Shape(1)),
                manager.create(new float[] {size}, new Shape(1)),
                manager.create(new float[] {size}, new Shape(1)),
                manager.create((long) t), manager.create(new long[] {t, h, h}),
                denoiser.spatialTokens(h, h));
        z = manager.randomNormal(new Shape(1, m.stdit().inChannels(), t, h, h));
        merger = strategy.equals("tdtm") ? TokenMergers.tdtm(Integer.MAX_VALUE)
                : TokenMergers.none();
        groups = merger.groups(0, 30, t);
    }

    @Benchmark
    public void step(Blackhole bh) {
        try (NDManager step = manager.newSubManager()) {
            NDArray v = denoiser.velocity(z, 900.0, 7.0, cond, groups, merger, loader, step,
                    (index, count, block, nanos) -> { });
            bh.consume(v.sum().getFloat());
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        loader.close();
        manager.close();
    }
}
