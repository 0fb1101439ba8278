package io.github.sora4j.load;

import io.github.sora4j.pack.ModelPack;

/**
 * Factories of the built-in {@link BlockLoader}s (see docs/memory.md for how to choose).
 *
 * <pre>{@code
 * LoaderSettings settings = LoaderSettings.of(MemoryBudget.ofBytes(3_000_000_000L));
 * VideoPipeline pipeline = VideoPipeline.builder()
 *         .pack(pack)
 *         .blockLoader(p -> BlockLoaders.concurrentDynamic(p, settings))
 *         .build();
 * }</pre>
 */
public final class BlockLoaders {
    private BlockLoaders() {}

    /**
     * Loads each block once and keeps everything resident, with no memory limit.
     *
     * @param pack the pack
     * @return a new loader, owned by the caller
     */
    public static BlockLoader resident(ModelPack pack) {
        return new ResidentBlockLoader(pack);
    }

    /**
     * Loads each block once and keeps everything resident, within a budget.
     *
     * @param pack the pack
     * @param settings budget, reader and listener
     * @return a new loader, owned by the caller
     * @throws BudgetExceededException if the whole pack exceeds the budget
     */
    public static BlockLoader resident(ModelPack pack, LoaderSettings settings) {
        return new ResidentBlockLoader(pack, settings);
    }

    /**
     * Loads a block when it is acquired and frees it when its handle is closed: the least memory
     * (one block plus activations) and the slowest.
     *
     * @param pack the pack
     * @param settings budget, reader and listener
     * @return a new loader, owned by the caller
     * @throws BudgetExceededException if the largest block exceeds the budget
     */
    public static BlockLoader sequential(ModelPack pack, LoaderSettings settings) {
        return new StreamingBlockLoader(pack, settings, false, false);
    }

    /**
     * CI-DL: keeps the first blocks of each set resident as the budget allows and prefetches the
     * next streamed block on a background thread while the current one runs (see {@link
     * StreamingBlockLoader}).
     *
     * @param pack the pack
     * @param settings budget, reader and listener
     * @return a new loader, owned by the caller
     * @throws BudgetExceededException if the largest block exceeds the budget
     */
    public static BlockLoader concurrentDynamic(ModelPack pack, LoaderSettings settings) {
        return new StreamingBlockLoader(pack, settings, true, true);
    }

    /**
     * Makes a loader of a named kind, including the CI-only and DL-only ablations.
     *
     * @param kind the strategy
     * @param pack the pack
     * @param settings budget, reader and listener
     * @return a new loader, owned by the caller
     * @throws BudgetExceededException if the budget cannot hold what the kind needs up front
     */
    public static BlockLoader of(LoaderKind kind, ModelPack pack, LoaderSettings settings) {
        return kind.newLoader(pack, settings);
    }
}
