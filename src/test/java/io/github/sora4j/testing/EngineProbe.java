package io.github.sora4j.testing;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.internal.NativeSupport;
import io.github.sora4j.pack.ModelPack;
import java.util.Arrays;

/**
 * A tiny main for the ARM64 CPU-floor check (Arm64CpuFloorTest, docs/arm64.md): builds a pipeline
 * on the embedded tiny pack (which starts DJL's engine, after sora4j's CPU check), then multiplies
 * a 2x2 tensor, then runs a 3x3 2-D convolution on a batch of 16 (the case libtorch considers
 * NNPACK for, which prints {@code Could not initialize NNPACK!} where NNPACK cannot start unless
 * sora4j turned it off). Prints {@code probe ok ...} and exits 0 if the natives run.
 */
public final class EngineProbe {
    private EngineProbe() {}

    public static void main(String[] args) {
        VideoPipeline pipeline = VideoPipeline.builder().pack(ModelPack.embeddedDefault()).build();
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDArray a = m.create(new float[] {1, 2, 3, 4}, new Shape(2, 2));
            NDArray images = m.ones(new Shape(16, 1, 8, 8));
            NDArray kernel = m.ones(new Shape(1, 1, 3, 3));
            NDArray conv = images.getNDArrayInternal().convolution(images, kernel, null,
                    new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), 1).singletonOrThrow();
            System.out.println("probe ok on " + System.getProperty("os.arch") + ": "
                    + Arrays.toString(a.matMul(a).toFloatArray()) + ", conv centre "
                    + conv.getFloat(0, 0, 4, 4) + ", NNPACK " + NativeSupport.quietNnpack());
        } finally {
            pipeline.close();
        }
    }
}
