package io.github.sora4j.benchmarks;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import io.github.sora4j.GenerationRequest;
import io.github.sora4j.internal.Engines;
import io.github.sora4j.internal.Prompts;
import io.github.sora4j.internal.TextEncoder;
import io.github.sora4j.load.BlockLoader;
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
 * The T5 stage of the bench pack: tokenising the benchmark prompt and running the T5 blocks on
 * all 300 padded tokens, with the blocks resident ({@code baseline}) or streamed under the
 * streaming setting's budget and phone-flash reads. The embedding is returned.
 *
 * <p>HOW TO RUN: {@code java -jar benchmarks/target/benchmarks.jar TextEncodeBenchmark}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"-Xmx2g", "-Dai.djl.offline=true",
        "-Dai.djl.pytorch.graph_optimizer=false"})
@State(Scope.Benchmark)
public class TextEncodeBenchmark {
    @Param({"baseline", "sequential", "ci-dl"})
    public String loader;

    private BlockLoader blockLoader;
    private TextEncoder encoder;
    private NDManager manager;
    private String text;

    @Setup(Level.Trial)
    public void setUp() {
        Engines.pytorch();
        JniUtils.setGradMode(false);
        ModelPack pack = BenchPack.open();
        blockLoader = BenchPack.loader(loader, pack);
        encoder = new TextEncoder(pack);
        manager = NDManager.newBaseManager("PyTorch");
        text = Prompts.withAestheticScore(Prompts.clean(BenchPack.PROMPT),
                GenerationRequest.DEFAULT_AESTHETIC_SCORE);
    }

    @Benchmark
    public float[] encode() {
        try (NDManager call = manager.newSubManager()) {
            return encoder.encode(encoder.tokenize(text), blockLoader, call,
                    (index, count, block, nanos) -> { }).toFloatArray();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        blockLoader.close();
        encoder.close();
        manager.close();
    }
}
