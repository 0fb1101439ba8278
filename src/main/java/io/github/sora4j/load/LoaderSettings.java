package io.github.sora4j.load;

import io.github.sora4j.InvalidConfigurationException;

/**
 * What a budget-aware {@link BlockLoader} is given besides the pack: its budget, how blocks are
 * read, who is told about loads, and optionally fixed activation peaks.
 *
 * <pre>{@code
 * LoaderSettings s = LoaderSettings.of(MemoryBudget.ofBytes(3_000_000_000L))
 *         .withReader(BlockReaders.throttled(BlockReaders.torchScript(), 1.45e9, 1))
 *         .withListener(myListener);
 * BlockLoader loader = BlockLoaders.concurrentDynamic(pack, s);
 * }</pre>
 *
 * @param budget the memory budget (a hard limit on loaded parameter bytes plus activations)
 * @param reader reads blocks
 * @param listener told about loads, frees and residency decisions
 * @param activations fixed activation peaks (e.g. measured ones) that replace the estimate the
 *     pipeline announces with {@link BlockLoader#beginGeneration}; null to use the announced
 *     estimate
 */
public record LoaderSettings(MemoryBudget budget, BlockReader reader, LoaderListener listener,
        ActivationPeaks activations) {

    /**
     * Creates the settings; {@link #of(MemoryBudget)} gives the usual defaults.
     *
     * @param budget the memory budget the loader must stay within: a hard limit on loaded
     *     parameter bytes plus the running set's activations; {@link MemoryBudget#unlimited()} for
     *     none; not null
     * @param reader how a block is read from the pack ({@link BlockReaders#torchScript()}, or
     *     {@link BlockReaders#throttled} to emulate slower storage); not null
     * @param listener told about loads, frees and residency decisions; {@link LoaderListener#NONE}
     *     for nobody; not null
     * @param activations fixed activation peaks that replace the estimate announced with {@link
     *     BlockLoader#beginGeneration}, or null to use the announced estimate
     * @throws InvalidConfigurationException if {@code budget}, {@code reader} or {@code listener} is null
     */
    public LoaderSettings {
        InvalidConfigurationException.requireNonNull(budget, "budget");
        InvalidConfigurationException.requireNonNull(reader, "reader");
        InvalidConfigurationException.requireNonNull(listener, "listener");
    }

    /**
     * Settings with a budget, the TorchScript reader, no listener and announced activations.
     *
     * @param budget the budget
     * @return the settings
     */
    public static LoaderSettings of(MemoryBudget budget) {
        return new LoaderSettings(budget, BlockReaders.torchScript(), LoaderListener.NONE, null);
    }

    /**
     * A copy with another reader.
     *
     * @param reader the reader
     * @return the copy
     */
    public LoaderSettings withReader(BlockReader reader) {
        return new LoaderSettings(budget, reader, listener, activations);
    }

    /**
     * A copy with another listener.
     *
     * @param listener the listener
     * @return the copy
     */
    public LoaderSettings withListener(LoaderListener listener) {
        return new LoaderSettings(budget, reader, listener, activations);
    }

    /**
     * A copy with fixed activation peaks, used instead of the pipeline's estimate.
     *
     * @param activations the peaks, or null to use the announced estimate
     * @return the copy
     */
    public LoaderSettings withActivations(ActivationPeaks activations) {
        return new LoaderSettings(budget, reader, listener, activations);
    }
}
