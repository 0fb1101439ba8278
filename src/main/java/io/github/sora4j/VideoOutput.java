package io.github.sora4j;

import io.github.sora4j.video.VideoFormat;
import io.github.sora4j.video.VideoWriter;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The output side of {@link VideoPipeline#generate(GenerationRequest, ProgressListener, Path)}:
 * the path is checked before any work, and the frames of a finished generation are written
 * atomically by {@link VideoWriter} (temporary name, then rename); nothing is written for a
 * cancelled one.
 */
final class VideoOutput {
    private VideoOutput() {}

    /**
     * Checks an output path before any work.
     *
     * @param output where the video goes
     * @return its format, from the extension
     * @throws InvalidRequestException if the path is null or cannot take the video
     */
    static VideoFormat check(Path output) {
        if (output == null) {
            throw new InvalidRequestException("output path is null");
        }
        return VideoWriter.checkOutput(output);
    }

    /**
     * Writes a result's frames, unless the generation was cancelled.
     *
     * @param result the generation's result
     * @param output the path given to {@link #check}
     * @param format the format {@link #check} returned
     * @param fps the request's fps
     * @throws Sora4jException if writing fails (its cause is the {@link IOException}); nothing
     *     is left behind
     */
    static void writeUnlessCancelled(GenerationResult result, Path output, VideoFormat format,
            int fps) {
        if (!result.cancelled()) {
            try {
                VideoWriter.write(result.frames(), output, format, fps);
            } catch (IOException e) {
                throw new Sora4jException("cannot write " + output + ": " + e, e);
            }
        }
    }
}
