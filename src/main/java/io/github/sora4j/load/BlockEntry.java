package io.github.sora4j.load;

import io.github.sora4j.pack.BlockInfo;

/**
 * A block of a {@link StreamingBlockLoader} that is loaded, or being loaded ({@code block ==
 * null}), with the number of open handles on it. Guarded by the loader's lock.
 */
final class BlockEntry {
    final BlockInfo info;
    TorchScriptBlock block;
    int holds;

    BlockEntry(BlockInfo info) {
        this.info = info;
    }
}
