package io.github.sora4j.load;

import io.github.sora4j.internal.NativeHeap;
import io.github.sora4j.pack.BlockInfo;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The budget accounting of a {@link StreamingBlockLoader}: the blocks loaded or being loaded,
 * their parameter bytes against the limit (a block counts from the moment its load is scheduled),
 * which of them are resident, and eviction to make room. Guarded by the loader's lock; every
 * change of the loaded blocks is reported to the listener and signalled to the waiting threads.
 */
final class BlockLedger {
    private final PackLayout layout;
    private final LoaderListener listener;
    private final Runnable changed;
    private final Map<String, BlockEntry> entries = new HashMap<>();
    private final Map<String, Set<String>> residentNames = new HashMap<>();
    private long limit;
    private long loadedBytes;
    private long peakBytes;
    private int loadCount;

    /**
     * @param layout the pack's block sets, for the eviction order
     * @param listener told of every block freed
     * @param changed signals the threads waiting for a change of the loaded blocks
     * @param limit the bytes the loaded blocks may take until a set starts ({@link #startSet})
     */
    BlockLedger(PackLayout layout, LoaderListener listener, Runnable changed, long limit) {
        this.layout = layout;
        this.listener = listener;
        this.changed = changed;
        this.limit = limit;
    }

    /** The bytes the loaded blocks may take. */
    long limit() {
        return limit;
    }

    /** The parameter bytes of the blocks loaded or being loaded. */
    long loadedBytes() {
        return loadedBytes;
    }

    /** Whether {@code bytes} more fit beside the blocks loaded. */
    boolean fits(long bytes) {
        return loadedBytes + bytes <= limit;
    }

    /** The entry of a block loaded or being loaded, null if none. */
    BlockEntry get(String name) {
        return entries.get(name);
    }

    /** Whether a block of that name is loaded or being loaded. */
    boolean contains(String name) {
        return entries.containsKey(name);
    }

    /** Whether a block is being loaded. */
    boolean loading() {
        return entries.values().stream().anyMatch(e -> e.block == null);
    }

    private long bytesOutside(String set) {
        return entries.values().stream().filter(e -> !e.info.set().equals(set))
                .mapToLong(e -> e.info.parameterBytes()).sum();
    }

    /**
     * A set starts running with a new residency plan: sets the limit and the set's resident
     * blocks, then makes room for the plan's peak of weights.
     *
     * @param set the set starting
     * @param resident the names of its blocks that stay resident
     * @param limit the bytes the loaded blocks may take while it runs
     * @param peakWeightBytes the plan's peak of loaded parameter bytes
     */
    void startSet(String set, Set<String> resident, long limit, long peakWeightBytes) {
        this.limit = limit;
        residentNames.put(set, resident);
        // 1. Blocks that are loaded but neither held nor resident (stale prefetches, the blocks
        //    of this set beyond its new d) go first.
        for (BlockEntry e : evictionOrder(set, e -> e.holds == 0 && !isResident(e))) {
            free(e);
        }
        // 2. Resident blocks of other sets stay only while the new plan still fits beside them.
        long others = bytesOutside(set);
        for (BlockEntry e : evictionOrder(set, e -> e.holds == 0 && !e.info.set().equals(set))) {
            if (others + peakWeightBytes <= limit) {
                break;
            }
            others -= e.info.parameterBytes();
            free(e);
        }
    }

    /** Whether the block is resident in its set's current plan. */
    boolean isResident(BlockEntry e) {
        Set<String> names = residentNames.get(e.info.set());
        return names != null && names.contains(e.info.name());
    }

    /** Counts a block against the limit before it is loaded. */
    BlockEntry reserve(BlockInfo info) {
        BlockEntry e = new BlockEntry(info);
        entries.put(info.name(), e);
        loadedBytes += info.parameterBytes();
        peakBytes = Math.max(peakBytes, loadedBytes);
        return e;
    }

    /** Takes back the reservation of a block whose load failed or was abandoned. */
    void unreserve(BlockEntry e) {
        entries.remove(e.info.name());
        loadedBytes -= e.info.parameterBytes();
        listener.freed(e.info, loadedBytes);
        changed.run();
    }

    /** Hands a reserved block its loaded form. */
    void loaded(BlockEntry e, TorchScriptBlock block) {
        e.block = block;
        loadCount++;
    }

    /** Frees a block and gives its pages back. */
    void free(BlockEntry e) {
        entries.remove(e.info.name());
        loadedBytes -= e.info.parameterBytes();
        if (e.block != null) {
            e.block.close();
            NativeHeap.trim(); // give the block's pages back (docs/memory.md section 9)
        }
        listener.freed(e.info, loadedBytes);
        changed.run();
    }

    /** Frees every block (the loader closes). */
    void freeAll() {
        for (BlockEntry e : new ArrayList<>(entries.values())) {
            free(e);
        }
    }

    /**
     * Loaded, unheld entries matching a filter, in eviction order ({@link
     * PackLayout#evictionOrder}) while {@code runningSet} runs.
     */
    List<BlockEntry> evictionOrder(String runningSet, Predicate<BlockEntry> filter) {
        List<BlockEntry> list = new ArrayList<>();
        for (BlockEntry e : entries.values()) {
            if (e.block != null && filter.test(e)) {
                list.add(e);
            }
        }
        list.sort(layout.evictionOrder(runningSet));
        return list;
    }

    /**
     * Frees what must go for the block to fit: first the unheld blocks that are not resident,
     * then unheld resident ones.
     *
     * @throws BudgetExceededException if it does not fit beside the blocks held open
     */
    void makeRoom(BlockInfo info, String runningSet) {
        long bytes = info.parameterBytes();
        if (loadedBytes + bytes <= limit) {
            return;
        }
        for (BlockEntry e : evictionOrder(runningSet, e -> e.holds == 0 && !isResident(e))) {
            free(e);
            if (loadedBytes + bytes <= limit) {
                return;
            }
        }
        for (BlockEntry e : evictionOrder(runningSet, e -> e.holds == 0)) {
            free(e);
            if (loadedBytes + bytes <= limit) {
                return;
            }
        }
        throw new BudgetExceededException("block " + info.name() + " beside the "
                + entries.size() + " blocks held open (" + loadedBytes + " bytes)",
                loadedBytes + bytes, limit);
    }

    /** Bytes loaded, peak bytes and loads so far. */
    LoaderStats stats() {
        return new LoaderStats(loadedBytes, peakBytes, loadCount);
    }
}
