package io.github.sora4j.load;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import org.junit.jupiter.api.Test;

class ScratchTimingTest {
    @Test
    void time() {
        ModelPack pack = ModelPack.embeddedDefault();
        BlockInfo info = pack.manifest().blocks("stdit").get(1);
        BlockInfo vae = pack.manifest().blocksWithRole("vae-spatial").get(2);
        io.github.sora4j.internal.Engines.pytorch();
        JniUtils.setGradMode(false);
        for (boolean opt : new boolean[] {true, false, true, false}) {
            JniUtils.setGraphExecutorOptimize(opt);
            for (int rep = 0; rep < 2; rep++) {
                try (NDManager m = NDManager.newBaseManager("PyTorch")) {
                    long t0 = System.nanoTime();
                    TorchScriptBlock b = TorchScriptBlock.load(pack, info);
                    long t1 = System.nanoTime();
                    NDArray x = m.randomNormal(new Shape(2, 5 * 16, 64));
                    NDArray y = m.randomNormal(new Shape(2, 10, 64));
                    NDArray t = m.randomNormal(new Shape(2, 6 * 64));
                    NDArray nf = m.create(5L);
                    StringBuilder s = new StringBuilder("opt=" + opt + " load " + (t1 - t0) / 1000 + "us runs");
                    for (int i = 0; i < 4; i++) {
                        long a = System.nanoTime();
                        b.call("forward", m, x, y, t, nf);
                        s.append(' ').append((System.nanoTime() - a) / 1000);
                    }
                    b.close();
                    TorchScriptBlock v = TorchScriptBlock.load(pack, vae);
                    NDArray h = m.randomNormal(new Shape(4, 32, 16, 16));
                    s.append(" | vae");
                    for (int i = 0; i < 4; i++) {
                        long a = System.nanoTime();
                        v.call("forward", m, h);
                        s.append(' ').append((System.nanoTime() - a) / 1000);
                    }
                    v.close();
                    System.out.println(s);
                }
            }
        }
    }
}
