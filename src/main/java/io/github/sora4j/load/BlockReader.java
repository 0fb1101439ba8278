package io.github.sora4j.load;

import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;

/**
 * Reads one block of a pack into memory: the I/O step a {@link BlockLoader} schedules. The default
 * is {@link BlockReaders#torchScript()}; {@link BlockReaders#throttled} simulates slower storage
 * (a phone's flash) for benchmarks and tests.
 *
 * <p>Implementations are called from the caller's thread and from a loader's prefetch thread, so
 * they must be thread-safe.
 */
@FunctionalInterface
public interface BlockReader {

    /**
     * Loads a block.
     *
     * @param pack the pack the block belongs to
     * @param block the block to load
     * @return the loaded block, owned by the caller
     * @throws io.github.sora4j.pack.ModelPackException if the file cannot be loaded
     */
    TorchScriptBlock read(ModelPack pack, BlockInfo block);

    /**
     * The bytes a read of this block holds, for a moment, beyond the block's weights (its {@link
     * BlockInfo#parameterBytes()}): e.g. copies of its file. Budgets and memory plans count it
     * (docs/memory.md, sections 5 and 9).
     *
     * @param block the block
     * @return bytes, {@code >= 0}; 0 unless the reader says otherwise
     */
    default long readOverheadBytes(BlockInfo block) {
        return 0;
    }
}
