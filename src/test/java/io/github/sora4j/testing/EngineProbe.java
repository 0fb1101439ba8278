package io.github.sora4j.testing;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.pack.ModelPack;
import java.util.Arrays;

/**
 * A tiny main for the ARM64 CPU-floor check (Arm64CpuFloorTest, docs/arm64.md): builds a pipeline
 * on the embedded tiny pack (which starts DJL's engine, after sora4j's CPU check), then multiplies
 * a 2x2 tensor. Prints {@code probe ok ...} and exits 0 if the natives run.
 */
public final class EngineProbe {
    private EngineProbe() {}

    public static void main(String[] args) {
        VideoPipeline pipeline = VideoPipeline.builder().pack(ModelPack.embeddedDefault()).build();
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDArray a = m.create(new float[] {1, 2, 3, 4}, new Shape(2, 2));
            System.out.println("probe ok on " + System.getProperty("os.arch") + ": "
                    + Arrays.toString(a.matMul(a).toFloatArray()));
        } finally {
            pipeline.close();
        }
    }
}
