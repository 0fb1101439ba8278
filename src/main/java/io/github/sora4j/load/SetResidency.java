package io.github.sora4j.load;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.pack.BlockInfo;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * Which blocks of one block set a loader keeps resident while the set runs, and the memory that
 * implies: the CI-DL decision, made once per set per generation (see docs/memory.md).
 *
 * <p>The first {@code residentCount} blocks (in execution order) stay loaded across the set's runs
 * (across denoising steps for STDiT); the others are streamed: loaded before they run and freed
 * after, with the next one prefetched while one runs when {@code prefetch} is true. The peak of
 * loaded parameter bytes is then the resident bytes plus the two largest streamed blocks (the one
 * running and the one loading), or plus the largest one without prefetch. Reading a block also
 * holds, for a moment, more than its weights ({@link BlockReader#readOverheadBytes}: copies of
 * its file); {@code readingBytes} is how far that raises the peak above the weights.
 *
 * @param set the set name
 * @param blocks the set's distinct blocks in execution order
 * @param residentCount how many leading blocks stay resident (d)
 * @param prefetch whether the next streamed block is loaded while one runs
 * @param activationBytes the set's activation peak
 * @param availableBytes the budget's available bytes the decision was made against
 * @param readingBytes how far reading a block raises the peak above {@link #peakWeightBytes()}
 */
public record SetResidency(String set, List<BlockInfo> blocks, int residentCount,
        boolean prefetch, long activationBytes, long availableBytes, long readingBytes) {

    /**
     * Creates a decision from a copy of the block list; {@link #plan} is how loaders make one.
     *
     * @param set the block set's name ({@code t5}, {@code stdit} or {@code vae})
     * @param blocks the set's distinct blocks in execution order; not null
     * @param residentCount how many leading blocks stay resident (d), in {@code [0,
     *     blocks.size()]}
     * @param prefetch whether the next streamed block is loaded while one runs
     * @param activationBytes the set's activation peak in bytes, {@code >= 0}
     * @param availableBytes the budget's available bytes (weights plus activations) the decision
     *     was made against; {@link Long#MAX_VALUE} for no limit
     * @param readingBytes how far reading a block raises the peak above the weights' peak,
     *     {@code >= 0}
     * @throws InvalidConfigurationException if {@code residentCount}, {@code activationBytes} or
     *     {@code readingBytes} is out of range
     */
    public SetResidency {
        blocks = List.copyOf(blocks);
        if (residentCount < 0 || residentCount > blocks.size()) {
            throw new InvalidConfigurationException("residentCount must be in [0, " + blocks.size()
                    + "] but was " + residentCount);
        }
        if (activationBytes < 0) {
            throw new InvalidConfigurationException("activationBytes must be >= 0 but was "
                    + activationBytes);
        }
        if (readingBytes < 0) {
            throw new InvalidConfigurationException("readingBytes must be >= 0 but was "
                    + readingBytes);
        }
    }

    /**
     * A decision whose reads cost nothing beyond the blocks' weights.
     *
     * @param set the block set's name
     * @param blocks the set's distinct blocks in execution order
     * @param residentCount how many leading blocks stay resident
     * @param prefetch whether the next streamed block is loaded while one runs
     * @param activationBytes the set's activation peak in bytes
     * @param availableBytes the budget's available bytes
     */
    public SetResidency(String set, List<BlockInfo> blocks, int residentCount, boolean prefetch,
            long activationBytes, long availableBytes) {
        this(set, blocks, residentCount, prefetch, activationBytes, availableBytes, 0);
    }

    /**
     * The reading cost of a decision: how far reading its blocks, in order, raises the peak above
     * its weights' peak. A resident block i is read while the blocks before it are loaded; a
     * streamed one while the resident ones, one running and (with prefetch) it are.
     *
     * @param blocks the set's distinct blocks in execution order
     * @param residentCount the resident count d
     * @param prefetch whether a streamed block is prefetched
     * @param readOverhead the transient bytes of reading a block beyond its weights
     * @return bytes, {@code >= 0}
     */
    public static long readingBytes(List<BlockInfo> blocks, int residentCount, boolean prefetch,
            ToLongFunction<BlockInfo> readOverhead) {
        long loaded = 0;
        long peak = 0;
        for (int i = 0; i < residentCount; i++) {
            loaded += blocks.get(i).parameterBytes();
            peak = Math.max(peak, loaded + readOverhead.applyAsLong(blocks.get(i)));
        }
        long weights = saturatingAdd(loaded, streamingPeak(blocks, residentCount, prefetch), 0);
        if (residentCount < blocks.size()) {
            long most = 0;
            for (int i = residentCount; i < blocks.size(); i++) {
                most = Math.max(most, readOverhead.applyAsLong(blocks.get(i)));
            }
            peak = Math.max(peak, saturatingAdd(weights, most, 0));
        }
        return Math.max(0, peak - weights);
    }

    /**
     * Decides the residency of a set: the largest d such that the first d blocks, plus room for
     * the largest two of the remaining blocks (one running, one prefetched), plus the activation
     * peak fit in the available bytes. This is the paper's {@code d = ⌊(budget − activations −
     * 2·block)/block⌋} made exact for blocks of different sizes. If no d leaves room for a
     * prefetch, prefetching is dropped and d is chosen with room for one block; if not even the
     * largest block fits with the activations, the result has {@link #fits()} false.
     *
     * @param set the set name
     * @param blocks the set's blocks in execution order (repeats are ignored)
     * @param activationBytes the set's activation peak
     * @param availableBytes bytes for weights and activations
     * @param dynamic whether blocks may stay resident (false: d = 0)
     * @param concurrent whether the next block may be prefetched
     * @return the decision
     */
    public static SetResidency plan(String set, List<BlockInfo> blocks, long activationBytes,
            long availableBytes, boolean dynamic, boolean concurrent) {
        return plan(set, blocks, activationBytes, availableBytes, dynamic, concurrent, b -> 0);
    }

    /**
     * Decides the residency of a set as {@link #plan(String, List, long, long, boolean,
     * boolean)} does, counting also what reading a block holds beyond its weights (see {@link
     * #readingBytes}).
     *
     * @param set the set name
     * @param blocks the set's blocks in execution order (repeats are ignored)
     * @param activationBytes the set's activation peak
     * @param availableBytes bytes for weights, reads and activations
     * @param dynamic whether blocks may stay resident (false: d = 0)
     * @param concurrent whether the next block may be prefetched
     * @param readOverhead the transient bytes of reading a block beyond its weights ({@link
     *     BlockReader#readOverheadBytes})
     * @return the decision
     */
    public static SetResidency plan(String set, List<BlockInfo> blocks, long activationBytes,
            long availableBytes, boolean dynamic, boolean concurrent,
            ToLongFunction<BlockInfo> readOverhead) {
        List<BlockInfo> distinct = distinct(blocks);
        int n = distinct.size();
        long[] prefix = new long[n + 1];
        for (int i = 0; i < n; i++) {
            prefix[i + 1] = prefix[i] + distinct.get(i).parameterBytes();
        }
        boolean[] passes = concurrent ? new boolean[] {true, false} : new boolean[] {false};
        for (boolean pf : passes) {
            for (int d = dynamic ? n : 0; d >= 0; d--) {
                long reading = readingBytes(distinct, d, pf && d < n, readOverhead);
                long need = saturatingAdd(saturatingAdd(prefix[d], streamingPeak(distinct, d, pf),
                        activationBytes), reading, 0);
                if (need <= availableBytes) {
                    return new SetResidency(set, distinct, d, pf && d < n, activationBytes,
                            availableBytes, reading);
                }
            }
        }
        return new SetResidency(set, distinct, 0, false, activationBytes, availableBytes,
                readingBytes(distinct, 0, false, readOverhead));
    }

    private static List<BlockInfo> distinct(List<BlockInfo> blocks) {
        Map<String, BlockInfo> byName = new LinkedHashMap<>();
        for (BlockInfo b : blocks) {
            byName.putIfAbsent(b.name(), b);
        }
        return new ArrayList<>(byName.values());
    }

    private static long streamingPeak(List<BlockInfo> blocks, int from, boolean prefetch) {
        long first = 0;
        long second = 0;
        for (int i = from; i < blocks.size(); i++) {
            long b = blocks.get(i).parameterBytes();
            if (b > first) {
                second = first;
                first = b;
            } else if (b > second) {
                second = b;
            }
        }
        return prefetch ? first + second : first;
    }

    private static long saturatingAdd(long a, long b, long c) {
        long s = a + b;
        if (s < 0) {
            return Long.MAX_VALUE;
        }
        s += c;
        return s < 0 ? Long.MAX_VALUE : s;
    }

    /**
     * The resident blocks (the first {@code residentCount}).
     *
     * @return the blocks
     */
    public List<BlockInfo> residentBlocks() {
        return blocks.subList(0, residentCount);
    }

    /**
     * The streamed blocks (loaded and freed on every run of the set).
     *
     * @return the blocks
     */
    public List<BlockInfo> streamedBlocks() {
        return blocks.subList(residentCount, blocks.size());
    }

    /**
     * Whether a block is one of the resident ones.
     *
     * @param blockName the block's name
     * @return true if resident
     */
    public boolean isResident(String blockName) {
        for (BlockInfo b : residentBlocks()) {
            if (b.name().equals(blockName)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Parameter bytes of the resident blocks.
     *
     * @return bytes
     */
    public long residentBytes() {
        return residentBlocks().stream().mapToLong(BlockInfo::parameterBytes).sum();
    }

    /**
     * Parameter bytes read from storage on every run of the set (each streamed block once).
     *
     * @return bytes
     */
    public long streamedBytesPerRun() {
        return streamedBlocks().stream().mapToLong(BlockInfo::parameterBytes).sum();
    }

    /**
     * The most parameter bytes of this set loaded at once: resident bytes plus the largest one
     * (or, with prefetch, two) streamed blocks.
     *
     * @return bytes
     */
    public long peakWeightBytes() {
        return saturatingAdd(residentBytes(), streamingPeak(blocks, residentCount, prefetch), 0);
    }

    /**
     * Peak weights, plus what a read holds beyond them, plus activations while the set runs.
     *
     * @return bytes
     */
    public long peakBytes() {
        return saturatingAdd(peakWeightBytes(), activationBytes, readingBytes);
    }

    /**
     * The least memory the set can run in: its largest block plus the activations (sequential
     * loading), plus this decision's reading cost.
     *
     * @return bytes
     */
    public long minimumBytes() {
        return saturatingAdd(streamingPeak(blocks, 0, false), activationBytes, readingBytes);
    }

    /**
     * Whether the set fits the available bytes with this decision.
     *
     * @return true if {@link #peakBytes()} is at most the available bytes
     */
    public boolean fits() {
        return peakBytes() <= availableBytes;
    }

    /**
     * Throws unless the set {@link #fits()}: a loader's check before it loads any block of it.
     *
     * @throws BudgetExceededException giving the set's largest block, its activations and reads
     */
    void requireFits() {
        if (!fits()) {
            BlockInfo largest = blocks.stream()
                    .max(Comparator.comparingLong(BlockInfo::parameterBytes)).orElseThrow();
            throw new BudgetExceededException("block set " + set + " (its largest block "
                    + largest.name() + ", " + largest.parameterBytes() + " bytes, plus "
                    + activationBytes + " bytes of activations and " + readingBytes
                    + " bytes to read it)", minimumBytes(), availableBytes);
        }
    }

    @Override
    public String toString() {
        return "SetResidency[" + set + ": " + residentCount + " of " + blocks.size()
                + " resident (" + MemoryBudget.format(residentBytes()) + "), prefetch " + prefetch
                + ", peak weights " + MemoryBudget.format(peakWeightBytes()) + " + reading "
                + MemoryBudget.format(readingBytes) + " + activations "
                + MemoryBudget.format(activationBytes) + " of " + MemoryBudget.format(availableBytes)
                + "]";
    }
}
