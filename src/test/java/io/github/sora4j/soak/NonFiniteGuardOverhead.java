package io.github.sora4j.soak;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.StepReport;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.internal.Finite;
import io.github.sora4j.pack.ModelPack;
import java.util.Arrays;
import java.util.Locale;

/**
 * Measures the non-finite guard's cost against a denoising step on the demo pack: the median step
 * time of real generations, and the median time of {@link Finite#all} over arrays of the sizes it
 * checks (the latent after every step; the text embedding and the decoded frames once per
 * generation). Run with {@code mvn -B -o -q test-compile exec:java
 * -Dexec.mainClass=io.github.sora4j.soak.NonFiniteGuardOverhead}; docs/troubleshooting.md quotes
 * its output.
 */
public final class NonFiniteGuardOverhead {
    private NonFiniteGuardOverhead() {}

    /**
     * Runs the measurement.
     *
     * @param args ignored
     */
    public static void main(String[] args) {
        GenerationRequest request = GenerationRequest.builder("a red circle moving left")
                .frames(17).size(64, 64).steps(10).seed(42).build();
        double[] steps;
        int latent;
        int embedding;
        int pixels;
        try (VideoPipeline p = VideoPipeline.builder().pack(ModelPack.embeddedDefault())
                .recordTrace(true).build()) {
            p.generate(request); // warm-up
            GenerationResult r = null;
            double[] all = new double[0];
            for (int run = 0; run < 5; run++) {
                r = p.generate(request);
                double[] s = r.report().steps().stream().mapToDouble(StepReport::elapsedNanos)
                        .toArray();
                all = concat(all, s);
            }
            steps = all;
            latent = r.trace().latents().get(0).length;
            embedding = r.trace().promptEmbedding().length;
            pixels = r.trace().pixels().length;
        }
        double step = median(steps);
        double latentCheck = checkNanos(latent);
        double onceChecks = checkNanos(embedding) + checkNanos(pixels);
        // The real model at Open-Sora's 68 frames of 256x256: latent 4x20x32x32.
        double realLatent = checkNanos(4 * 20 * 32 * 32);
        System.out.printf(Locale.ROOT, "demo pack, 17 frames 64x64, 10 steps x 5 runs: median "
                + "step %.2f ms%n", step / 1e6);
        System.out.printf(Locale.ROOT, "latent check (%d floats): %.2f us = %.4f %% of a step%n",
                latent, latentCheck / 1e3, 100 * latentCheck / step);
        System.out.printf(Locale.ROOT, "embedding (%d) + frames (%d) checks, once per "
                + "generation: %.2f us = %.4f %% of one step%n", embedding, pixels,
                onceChecks / 1e3, 100 * onceChecks / step);
        System.out.printf(Locale.ROOT, "per step, all checks spread over the %d steps: %.4f %%%n",
                request.steps(), 100 * (latentCheck + onceChecks / request.steps()) / step);
        System.out.printf(Locale.ROOT, "Open-Sora 68x256x256 latent (81920 floats): %.2f us%n",
                realLatent / 1e3);
    }

    private static double checkNanos(int size) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) {
            a[i] = (float) Math.sin(i);
        }
        boolean sink = true;
        for (int i = 0; i < 20_000; i++) { // JIT warm-up
            sink &= Finite.all(a);
        }
        double[] t = new double[51];
        for (int k = 0; k < t.length; k++) {
            int reps = 200;
            long start = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                sink &= Finite.all(a);
            }
            t[k] = (System.nanoTime() - start) / (double) reps;
        }
        if (!sink) {
            throw new AssertionError("finite values reported as non-finite");
        }
        return median(t);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static double[] concat(double[] a, double[] b) {
        double[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
