package io.github.sora4j.benchmarks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import io.github.sora4j.internal.Engines;
import io.github.sora4j.internal.VaeDecoder;
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
import org.openjdk.jmh.infra.Blackhole;

/**
 * The VAE stage of the bench pack: decoding a latent [1, 4, 20, 32, 32] into 68 frames at
 * 256×256 (4 temporal chunks, 17 spatial micro-batches), with the blocks resident ({@code
 * baseline}) or streamed under the streaming setting's budget and phone-flash reads. The pixels'
 * sum is sunk into the blackhole.
 *
 * <p>HOW TO RUN: {@code java -jar benchmarks/target/benchmarks.jar VaeDecodeBenchmark} (about 3
 * minutes).
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgs = {"-Xmx4g", "-Dai.djl.offline=true",
        "-Dai.djl.pytorch.graph_optimizer=false"})
@State(Scope.Benchmark)
public class VaeDecodeBenchmark {
    @Param({"baseline", "sequential", "ci-dl"})
    public String loader;

    private BlockLoader blockLoader;
    private VaeDecoder decoder;
    private NDManager manager;
    private NDArray z;

    @Setup(Level.Trial)
    public void setUp() {
        Engines.pytorch();
        JniUtils.setGradMode(false);
        ModelPack pack = BenchPack.open();
        blockLoader = BenchPack.loader(loader, pack);
        decoder = new VaeDecoder(pack);
        manager = NDManager.newBaseManager("PyTorch");
        z = manager.randomNormal(new Shape(1, 4, 20, 32, 32));
    }

    @Benchmark
    public void decode(Blackhole bh) {
        try (NDManager call = manager.newSubManager()) {
            NDArray pixels = decoder.decode(z, 68, blockLoader, call,
                    (index, count, block, nanos) -> { });
            bh.consume(pixels.sum().getFloat());
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        blockLoader.close();
        manager.close();
    }
}
