package io.github.sora4j;

import io.github.sora4j.video.VideoFrames;

/**
 * The outcome of {@link VideoPipeline#generate}.
 *
 * @param frames the video (null when cancelled)
 * @param report what ran and how long it took (covers the part that ran when cancelled)
 * @param cancelled whether the generation was cancelled before it finished
 * @param trace intermediate tensors, only when the pipeline was built with {@code
 *     recordTrace(true)}; otherwise null
 */
public record GenerationResult(
        VideoFrames frames, GenerationReport report, boolean cancelled, GenerationTrace trace) {

    /**
     * Checks consistency.
     *
     * @param frames the video (null when cancelled)
     * @param report what ran and how long it took (covers the part that ran when cancelled)
     * @param cancelled whether the generation was cancelled before it finished
     * @param trace intermediate tensors, only when the pipeline was built with {@code
     *     recordTrace(true)}; otherwise null
     */
    public GenerationResult {
        if (!cancelled && frames == null) {
            throw new InvalidConfigurationException("a finished generation must have frames");
        }
    }
}
