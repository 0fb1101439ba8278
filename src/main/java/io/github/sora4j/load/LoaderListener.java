package io.github.sora4j.load;

import io.github.sora4j.pack.BlockInfo;

/**
 * Told what a budget-aware {@link BlockLoader} does: loads, frees and per-set residency
 * decisions. For tests (the order of loads and frees, the peak bytes), benchmarks (load times) and
 * logging. Every method has an empty default.
 *
 * <p>Calls come from the thread that does the work, which for a prefetch is the loader's
 * background thread, and may come while the loader holds its lock: implementations must be
 * thread-safe, fast, and must not call back into the loader.
 */
public interface LoaderListener {

    /** Ignores everything. */
    LoaderListener NONE = new LoaderListener() {};

    /**
     * A block is about to be read, on the thread that reads it. Its bytes already count as
     * loaded.
     *
     * @param block the block
     * @param loadedBytes parameter bytes loaded now, including this block
     * @param prefetch whether this is a background prefetch (false: the caller waits for it)
     */
    default void loadStarted(BlockInfo block, long loadedBytes, boolean prefetch) {}

    /**
     * A block finished loading.
     *
     * @param block the block
     * @param nanos how long the read took
     */
    default void loadFinished(BlockInfo block, long nanos) {}

    /**
     * A block was freed.
     *
     * @param block the block
     * @param loadedBytes parameter bytes loaded after freeing it
     */
    default void freed(BlockInfo block, long loadedBytes) {}

    /**
     * The loader decided which blocks of a set stay resident (once per set per generation).
     *
     * @param plan the decision
     */
    default void setPlanned(SetResidency plan) {}
}
