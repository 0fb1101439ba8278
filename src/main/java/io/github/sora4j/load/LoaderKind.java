package io.github.sora4j.load;

import io.github.sora4j.pack.ModelPack;

/**
 * The built-in loading strategies, by name: for device profiles, memory plans and benchmarks.
 * {@link #CONCURRENT} and {@link #DYNAMIC} are the two halves of CI-DL on their own (ablations).
 */
public enum LoaderKind {
    /** Load each block once and keep everything ({@link BlockLoaders#resident}). */
    RESIDENT("resident"),
    /** Load on acquire, free on release ({@link BlockLoaders#sequential}). */
    SEQUENTIAL("sequential"),
    /** Sequential plus prefetching the next block while one runs (CI only). */
    CONCURRENT("CI"),
    /** Sequential plus keeping the first d blocks of each set resident (DL only). */
    DYNAMIC("DL"),
    /** Prefetching and resident first blocks: the paper's CI-DL. */
    CONCURRENT_DYNAMIC("CI-DL");

    private final String label;

    LoaderKind(String label) {
        this.label = label;
    }

    /**
     * A short label for tables ({@code CI-DL}).
     *
     * @return the label
     */
    public String label() {
        return label;
    }

    /**
     * Whether this kind prefetches the next block on a background thread.
     *
     * @return true for {@link #CONCURRENT} and {@link #CONCURRENT_DYNAMIC}
     */
    public boolean concurrent() {
        return this == CONCURRENT || this == CONCURRENT_DYNAMIC;
    }

    /**
     * Whether this kind keeps the first blocks of each set resident as the budget allows.
     *
     * @return true for {@link #DYNAMIC} and {@link #CONCURRENT_DYNAMIC}
     */
    public boolean dynamic() {
        return this == DYNAMIC || this == CONCURRENT_DYNAMIC;
    }

    /**
     * Makes a loader of this kind.
     *
     * @param pack the pack
     * @param settings budget, reader and listener
     * @return a new loader, owned by the caller
     * @throws BudgetExceededException if the budget cannot hold even the largest block
     */
    public BlockLoader newLoader(ModelPack pack, LoaderSettings settings) {
        return this == RESIDENT ? new ResidentBlockLoader(pack, settings)
                : new StreamingBlockLoader(pack, settings, concurrent(), dynamic());
    }
}
