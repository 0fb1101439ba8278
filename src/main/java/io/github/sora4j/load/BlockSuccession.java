package io.github.sora4j.load;

import io.github.sora4j.pack.BlockInfo;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Which block a {@link StreamingBlockLoader} expects next, for concurrent inference: the block
 * that followed a block the last time it was acquired in its set, else the next one in the set's
 * order. Learned from the order of acquisitions; guarded by the loader's lock.
 */
final class BlockSuccession {
    private final PackLayout layout;
    private final Map<String, String> successor = new HashMap<>();
    private String lastAcquired;

    BlockSuccession(PackLayout layout) {
        this.layout = layout;
    }

    /** Forgets the block acquired last (a generation or a set starts); what was learned stays. */
    void restart() {
        lastAcquired = null;
    }

    /** Records that {@code name} is acquired, after the block acquired before it. */
    void acquired(String name) {
        if (lastAcquired != null && !lastAcquired.equals(name)) {
            successor.put(lastAcquired, name);
        }
        lastAcquired = name;
    }

    /**
     * The first block of the running set expected after {@code after} that is not loaded yet,
     * null if none is known; the loaded blocks expected before it are added to {@code upcoming}.
     *
     * @param runningSet the set running
     * @param blocks its blocks, in order
     * @param loaded whether a block of that name is loaded (or being loaded)
     */
    BlockInfo predictNext(BlockInfo after, String runningSet, List<BlockInfo> blocks,
            Predicate<String> loaded, Set<String> upcoming) {
        BlockInfo candidate = nextOf(after, blocks);
        for (int hops = 0; candidate != null && hops <= blocks.size(); hops++) {
            if (!candidate.set().equals(runningSet)) {
                return null;
            }
            if (!loaded.test(candidate.name())) {
                return candidate;
            }
            upcoming.add(candidate.name());
            candidate = nextOf(candidate, blocks);
        }
        return null;
    }

    private BlockInfo nextOf(BlockInfo block, List<BlockInfo> blocks) {
        String learned = successor.get(block.name());
        if (learned != null) {
            return layout.block(learned);
        }
        for (int i = 0; i + 1 < blocks.size(); i++) {
            if (blocks.get(i).name().equals(block.name())) {
                return blocks.get(i + 1);
            }
        }
        return null;
    }
}
