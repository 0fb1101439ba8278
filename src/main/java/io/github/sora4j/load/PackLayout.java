package io.github.sora4j.load;

import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.PackManifest;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The block sets of a pack as a {@link StreamingBlockLoader} sees them: blocks by name, the
 * manifest's set order, each block's position in its set, and the largest block. Immutable once
 * made.
 */
final class PackLayout {
    private final Map<String, BlockInfo> byName = new HashMap<>();
    private final Map<String, Integer> setIndex = new HashMap<>();
    private final Map<String, Integer> positionInSet = new HashMap<>();
    private final BlockInfo largest;

    PackLayout(PackManifest m) {
        BlockInfo max = null;
        for (BlockInfo b : m.blocks()) {
            byName.put(b.name(), b);
            if (max == null || b.parameterBytes() > max.parameterBytes()) {
                max = b;
            }
        }
        largest = max;
        for (BlockInfo b : m.blocks()) {
            setIndex.putIfAbsent(b.set(), setIndex.size());
        }
        for (String set : setIndex.keySet()) {
            List<BlockInfo> blocks = m.blocks(set);
            for (int i = 0; i < blocks.size(); i++) {
                positionInSet.put(blocks.get(i).name(), i);
            }
        }
    }

    /** The pack's largest block, null for a pack without blocks. */
    BlockInfo largest() {
        return largest;
    }

    /** The names of the pack's block sets. */
    Set<String> sets() {
        return setIndex.keySet();
    }

    /** The block of that name, null if the pack has none. */
    BlockInfo block(String name) {
        return byName.get(name);
    }

    /**
     * The eviction order while {@code runningSet} runs (null: none yet): the set whose next run
     * is furthest away first (in the manifest's set order, cyclically after the running set),
     * and within a set its last blocks first.
     */
    Comparator<BlockEntry> evictionOrder(String runningSet) {
        int sets = setIndex.size();
        int current = runningSet == null ? 0 : setIndex.getOrDefault(runningSet, 0);
        return Comparator.<BlockEntry>comparingInt(e -> {
            Integer i = setIndex.get(e.info.set());
            return i == null ? sets : Math.floorMod(i - current, sets);
        }).thenComparingInt(e -> positionInSet.getOrDefault(e.info.name(), 0)).reversed();
    }
}
