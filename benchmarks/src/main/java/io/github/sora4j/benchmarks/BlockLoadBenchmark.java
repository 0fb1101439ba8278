package io.github.sora4j.benchmarks;

import io.github.sora4j.internal.Engines;
import io.github.sora4j.load.BlockReader;
import io.github.sora4j.load.BlockReaders;
import io.github.sora4j.load.TorchScriptBlock;
import io.github.sora4j.pack.BlockInfo;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * Loading one block of the bench pack from the page cache ({@code baseline}: libtorch's
 * TorchScript loader) or as the streaming setting reads it ({@code phone-flash}: at least the
 * time the block's real-size counterpart takes at 1.45 GB/s, see {@link BenchPack}). Set next to
 * {@link StditStepBenchmark}, it shows why CI-DL has nothing to hide on a CPU at real token
 * counts: a pair loads in milliseconds and computes in hundreds of them. The loaded block is
 * returned (after closing) so that the load cannot be dropped.
 *
 * <p>HOW TO RUN: {@code java -jar benchmarks/target/benchmarks.jar BlockLoadBenchmark} (about 2
 * minutes).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"-Xmx2g", "-Dai.djl.offline=true",
        "-Dai.djl.pytorch.graph_optimizer=false"})
@State(Scope.Benchmark)
public class BlockLoadBenchmark {
    @Param({"baseline", "phone-flash"})
    public String reader;

    @Param({"stdit.block.00", "stdit.embed", "t5.block.00", "vae.temporal.01"})
    public String block;

    private ModelPack pack;
    private BlockInfo info;
    private BlockReader blockReader;

    @Setup(Level.Trial)
    public void setUp() {
        Engines.pytorch();
        pack = BenchPack.open();
        info = pack.manifest().blocks().stream().filter(b -> b.name().equals(block)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no block " + block));
        blockReader = reader.equals("baseline") ? BlockReaders.torchScript()
                : BenchPack.flashReader(pack);
    }

    @Benchmark
    public TorchScriptBlock load() {
        TorchScriptBlock b = blockReader.read(pack, info);
        b.close();
        return b;
    }
}
