package io.github.sora4j.benchmarks;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.load.LoaderListener;
import io.github.sora4j.pack.ModelPack;
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

/**
 * A whole generation (T5, 30 steps, VAE) of the bench pack, per ablation row ({@link Variant}),
 * in the streaming (CI-DL) setting by default; {@code -p setting=compute} runs the paper's
 * 68×256×256 with everything resident (about 15-20 s per generation). The result is
 * returned. The ablation runner ({@link Ablation}) measures the same rows interleaved, with
 * per-stage times; this class is for JMH's statistics and profilers ({@code -prof gc}).
 *
 * <p>HOW TO RUN: {@code java -jar benchmarks/target/benchmarks.jar EndToEndBenchmark} (about 10
 * minutes).
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgs = {"-Xmx4g", "-Dai.djl.offline=true",
        "-Dai.djl.pytorch.graph_optimizer=false"})
@State(Scope.Benchmark)
public class EndToEndBenchmark {
    @Param({"baseline", "lpl", "tdtm15", "tdtm", "ci-dl", "all"})
    public String variant;

    @Param({"streaming"})
    public String setting;

    @Param({"30"})
    public int steps;

    private VideoPipeline pipeline;
    private GenerationRequest request;

    @Setup(Level.Trial)
    public void setUp() {
        ModelPack pack = BenchPack.open();
        BenchPack.Setting s = BenchPack.Setting.of(setting);
        pipeline = Variant.of(variant).pipeline(pack, s, LoaderListener.NONE);
        request = s.request(steps);
    }

    @Benchmark
    public GenerationResult generate() {
        return pipeline.generate(request);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pipeline.close();
    }
}
