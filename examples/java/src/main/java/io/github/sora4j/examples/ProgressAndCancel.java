package io.github.sora4j.examples;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.ProgressEvent;
import io.github.sora4j.ProgressListener;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.pack.ModelPack;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Reports progress with a {@link ProgressListener} (stage starts, one line per sampling step with
 * an ETA) and cancels the generation when it runs past a deadline.
 *
 * <pre>
 * mvn -q test-compile exec:java -Dexec.mainClass=io.github.sora4j.examples.ProgressAndCancel \
 *     -Dexec.args="'a red circle moving left' out.mp4 30"
 * </pre>
 *
 * <p>See docs/examples/progress-and-cancel.md.
 */
public final class ProgressAndCancel {
    private ProgressAndCancel() {}

    /**
     * Runs the example.
     *
     * @param args prompt, output path, and the time limit in seconds
     */
    public static void main(String[] args) {
        String prompt = args.length > 0 ? args[0] : "a red circle moving left";
        Path output = Path.of(args.length > 1 ? args[1] : "progress-and-cancel.mp4");
        Duration limit = Duration.ofSeconds(args.length > 2 ? Long.parseLong(args[2]) : 60);
        GenerationRequest request = GenerationRequest.builder(prompt)
                .steps(30).build(); // the pack's frames and size
        GenerationResult result = run(ModelPack.embeddedDefault(), request, output, limit,
                System.out);
        System.out.println(result.cancelled() ? "cancelled after " + limit + "; nothing written"
                : "wrote " + output);
    }

    /**
     * Generates a video, printing progress, and cancels it if it takes longer than a limit.
     *
     * @param pack the model pack
     * @param request what to generate
     * @param output where to write the video
     * @param limit the longest the generation may take
     * @param log where to print progress
     * @return the result; {@link GenerationResult#cancelled()} if the limit was reached
     */
    public static GenerationResult run(ModelPack pack, GenerationRequest request, Path output,
            Duration limit, PrintStream log) {
        long deadline = System.nanoTime() + limit.toNanos();
        long start = System.nanoTime();
        // The listener runs on the generating thread between blocks: keep it quick.
        ProgressListener listener = event -> {
            if (event instanceof ProgressEvent.StageStarted s) {
                log.println(s.stage() + " started");
            } else if (event instanceof ProgressEvent.StepFinished s) {
                int done = s.report().index() + 1;
                double perStep = (System.nanoTime() - start) / 1e9 / done;
                log.printf("step %d/%d  %.2f s  ETA %.1f s%n", done, s.stepCount(),
                        s.report().elapsedNanos() / 1e9, perStep * (s.stepCount() - done));
            }
            // ProgressEvent.BlockFinished comes after every block: too chatty to print here.
            // Returning false cancels: the pipeline stops at the next block boundary.
            return System.nanoTime() < deadline;
        };
        try (VideoPipeline pipeline = VideoPipeline.builder().pack(pack).build()) {
            return pipeline.generate(request, listener, output);
        }
    }
}
