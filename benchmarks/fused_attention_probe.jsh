// Experiment (docs/benchmarks.md, "Fused attention"): the exported STDiT pair against the same pair whose attentions
// call torch.scaled_dot_product_attention (benchmarks/fused_attention_patch.py), on libtorch through DJL, interleaved.
//   jshell --class-path benchmarks/target/benchmarks.jar -R-Dorig=PAIR.pt -R-Dfused=PAIR_SDPA.pt \
//       -R-Dthreads=1 -R-Dreps=3 benchmarks/fused_attention_probe.jsh
import ai.djl.ndarray.*;
import ai.djl.ndarray.types.*;
import ai.djl.pytorch.engine.*;
import ai.djl.pytorch.jni.*;
import java.io.*;
import java.nio.file.*;
import java.util.*;

io.github.sora4j.internal.Engines.pytorch();
JniUtils.setGradMode(false);
int threads = Integer.getInteger("threads", 1);
int reps = Integer.getInteger("reps", 3);
JniUtils.setNumThreads(threads);
PtNDManager m = (PtNDManager) NDManager.newBaseManager("PyTorch");
PtSymbolBlock load(String p) throws Exception {
    return JniUtils.loadModule(m, new ByteArrayInputStream(Files.readAllBytes(Path.of(p))), true, false);
}
PtSymbolBlock orig = load(System.getProperty("orig"));
PtSymbolBlock fused = load(System.getProperty("fused"));
NDArray x = m.randomNormal(new Shape(2, 5120, 1152));
NDArray y = m.randomNormal(new Shape(2, 300, 1152));
NDArray tMlp = m.randomNormal(0f, 0.1f, new Shape(2, 6 * 1152), DataType.FLOAT32);
NDArray nf = m.create(20L);
NDArray call(PtSymbolBlock b, String method, NDArray... in) {
    IValue[] args = new IValue[in.length];
    for (int i = 0; i < in.length; i++) args[i] = IValue.from((PtNDArray) in[i]);
    try (IValue r = IValueUtils.runMethod(b, method, args)) {
        return r.toNDList(m).head();
    } finally {
        for (IValue a : args) a.close();
    }
}
Map<String, NDArray[]> inputs = new LinkedHashMap<>();
inputs.put("forward", new NDArray[] {x, y, tMlp, nf});
inputs.put("spatial_self_attn", new NDArray[] {x, nf});
inputs.put("temporal_self_attn", new NDArray[] {x, nf});
inputs.put("spatial_cross_attn", new NDArray[] {x, y});
for (var e : inputs.entrySet()) {
    String method = e.getKey();
    NDArray a = call(orig, method, e.getValue());
    NDArray b = call(fused, method, e.getValue());
    float maxAbs = a.sub(b).abs().max().getFloat();
    float scale = a.abs().max().getFloat();
    List<Double> to = new ArrayList<>(), tf = new ArrayList<>();
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < 2; k++) {
            boolean f = (r + k) % 2 == 1;
            long t0 = System.nanoTime();
            call(f ? fused : orig, method, e.getValue()).close();
            (f ? tf : to).add((System.nanoTime() - t0) / 1e9);
        }
    }
    Collections.sort(to);
    Collections.sort(tf);
    System.out.printf(Locale.ROOT, "%-20s threads %d  matmul-softmax %.3f s  fused %.3f s  (%.2fx)  max|diff| %.2e of max|out| %.2e%n",
            method, threads, to.get(reps / 2), tf.get(reps / 2), to.get(reps / 2) / tf.get(reps / 2), maxAbs, scale);
    a.close();
    b.close();
}
/exit
