package io.github.sora4j.internal;

import io.github.sora4j.pack.BlockInfo;

/** Told after each block runs; may throw to cancel. */
@FunctionalInterface
public interface BlockCallback {
    /**
     * A block finished.
     *
     * @param index position in its set
     * @param count blocks in the set
     * @param block the block
     * @param elapsedNanos time it took
     */
    void done(int index, int count, BlockInfo block, long elapsedNanos);
}
