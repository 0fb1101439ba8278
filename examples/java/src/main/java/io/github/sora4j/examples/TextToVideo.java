package io.github.sora4j.examples;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.ProgressListener;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.pack.ModelPack;
import java.nio.file.Path;

/**
 * Generates a video from a prompt and writes it as MP4: the smallest complete sora4j program.
 *
 * <pre>
 * mvn -q test-compile exec:java -Dexec.mainClass=io.github.sora4j.examples.TextToVideo \
 *     -Dexec.args="'a red circle moving left' out.mp4 [PACK_DIR]"
 * </pre>
 *
 * <p>See docs/examples/text-to-video.md.
 */
public final class TextToVideo {
    private TextToVideo() {}

    /**
     * Runs the example.
     *
     * @param args prompt, output path (.mp4, .gif or a folder), and optionally a pack directory
     */
    public static void main(String[] args) {
        String prompt = args.length > 0 ? args[0] : "a red circle moving left";
        Path output = Path.of(args.length > 1 ? args[1] : "text-to-video.mp4");
        // 1. Open a model pack: your exported Open-Sora weights, or the built-in demo pack.
        ModelPack pack = args.length > 2 ? ModelPack.open(Path.of(args[2]))
                : ModelPack.embeddedDefault();
        // 2. Say what to generate. Frames, size and fps unset: the pack's native request (the
        //    demo pack's 51 frames of 64x64; the real model's 68 frames of 256x256).
        GenerationRequest request = GenerationRequest.builder(prompt).steps(30).seed(42).build();
        GenerationResult result = run(pack, request, output);
        System.out.printf("wrote %s: %d frames %dx%d in %.2f s%n", output,
                result.frames().frameCount(), result.frames().width(), result.frames().height(),
                result.report().totalNanos() / 1e9);
    }

    /**
     * Generates one video and writes it.
     *
     * @param pack the model pack
     * @param request what to generate
     * @param output where to write it (.mp4, .gif, or a folder of PNG frames)
     * @return the frames and a report of what ran
     */
    public static GenerationResult run(ModelPack pack, GenerationRequest request, Path output) {
        // 3. Build the pipeline; close it to free the model's native memory.
        try (VideoPipeline pipeline = VideoPipeline.builder().pack(pack).build()) {
            // 4. Generate and write. Nothing is written if generation fails.
            return pipeline.generate(request, ProgressListener.NONE, output);
        }
    }
}
