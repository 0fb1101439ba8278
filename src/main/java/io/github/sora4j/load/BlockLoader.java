package io.github.sora4j.load;

import io.github.sora4j.pack.BlockInfo;
import java.util.List;

/**
 * Loads model-pack blocks when the pipeline needs them and decides which stay in memory: the
 * strategy behind "everything resident", sequential loading and CI-DL (concurrent inference with
 * dynamic loading).
 *
 * <p>The pipeline calls {@link #beginGeneration} once per generation, {@link #beginSet} when it
 * starts running a block set (T5, STDiT for one step, VAE), then {@link #acquire} for each block
 * in order, running it and closing the handle before acquiring the next. A loader may prefetch, keep or free blocks as it likes between
 * those calls, but must never free a block while a handle to it is open. Loaders own every block
 * they load and free them all on {@link #close()}.
 *
 * <pre>{@code
 * try (BlockLoader loader = BlockLoaders.resident(pack)) {
 *     loader.beginSet(blocks);
 *     for (BlockInfo b : blocks) {
 *         try (LoadedBlock block = loader.acquire(b)) {
 *             x = block.forward(manager, x).singletonOrThrow();
 *         }
 *     }
 * }
 * }</pre>
 */
public interface BlockLoader extends AutoCloseable {

    /**
     * Announces a generation, before any of its blocks runs, with the activation memory each
     * block set is expected to need at its peak (the pipeline passes an estimate from the
     * request's shapes, see {@code io.github.sora4j.device.MemoryPlan#activationPeaks}).
     * Budget-aware loaders check here that every set can run within their {@link MemoryBudget}
     * and decide their residency again for this generation.
     *
     * @param peaks activation peak bytes per block set
     * @throws BudgetExceededException if even loading one block at a time cannot fit, with the
     *     bytes needed and available
     */
    default void beginGeneration(ActivationPeaks peaks) {}

    /**
     * Announces that the blocks of one set are about to run in this order.
     *
     * @param blocks the set's blocks in execution order
     */
    default void beginSet(List<BlockInfo> blocks) {}

    /**
     * Returns the block, loaded and ready to run.
     *
     * @param block a block of this loader's pack
     * @return a handle the caller closes when done with the block
     */
    LoadedBlock acquire(BlockInfo block);

    /**
     * Statistics: bytes currently loaded, peak bytes, and loads from disk.
     *
     * @return a snapshot
     */
    LoaderStats stats();

    /** Frees every block this loader holds; idempotent. */
    @Override
    void close();
}
