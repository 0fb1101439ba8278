package io.github.sora4j.load;

/**
 * A snapshot of a {@link BlockLoader}'s memory and work.
 *
 * @param loadedBytes parameter bytes of the blocks loaded now
 * @param peakLoadedBytes the most parameter bytes loaded at once so far
 * @param loadCount blocks read from disk so far
 */
public record LoaderStats(long loadedBytes, long peakLoadedBytes, int loadCount) {}
