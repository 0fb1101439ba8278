package io.github.sora4j.load;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads blocks under a {@link MemoryBudget}, streaming from storage what does not fit: sequential
 * loading, and the paper's CI-DL (concurrent inference with dynamic loading) and its two halves.
 * Made by {@link BlockLoaders#sequential}, {@link BlockLoaders#concurrentDynamic} and {@link
 * LoaderKind#newLoader}.
 *
 * <ul>
 *   <li><b>Streaming</b> (always): a block is loaded when acquired, unless it is already loaded,
 *       and freed when its handle is closed, unless it is resident.
 *   <li><b>Dynamic loading</b> ({@code dynamic}): when a block set starts running in a
 *       generation, the loader decides once ({@link SetResidency#plan}) how many of its first
 *       blocks stay resident, from the budget, the block sizes in the manifest and the set's
 *       activation peak, with room left for the block running and the one being prefetched.
 *       Resident blocks of every set count against the one budget: when a set starts, resident
 *       blocks of other sets are evicted (the set used furthest in the future first, its last
 *       blocks first) until the new set's plan fits.
 *   <li><b>Concurrent inference</b> ({@code concurrent}): when block i is acquired, the block
 *       expected next (the one that followed block i last time in this set, else the next in
 *       order; resident blocks already loaded are skipped) is loaded on a single background
 *       thread while block i runs; acquiring it waits for that load. At a set's first run the
 *       block after the last one is not known yet, so the first block of the second STDiT step
 *       is loaded on demand; from then on it is prefetched during the last block of the previous
 *       step.
 * </ul>
 *
 * <p><b>The budget is a hard invariant.</b> The parameter bytes of loaded blocks, counting a block
 * from the moment its load is scheduled, never exceed {@code budget.availableBytes()} minus the
 * running set's activation peak. A prefetch that would exceed it is not started (the block is
 * then loaded on demand after the previous one was freed). The loader fails before loading
 * anything, with a {@link BudgetExceededException} giving the bytes needed and available, if its
 * largest block alone exceeds the budget (when made), or if a set's largest block plus its
 * activations does (when the generation is announced or the set starts).
 *
 * <p><b>Threads.</b> The state is guarded by one lock; the background thread only reads a block
 * file and hands the result over under the lock. One caller thread at a time is expected (the
 * pipeline serialises generations), but concurrent callers are safe. {@link #close()} waits for a
 * load in flight, then frees everything.
 *
 * <p>Its parts, all guarded by its lock: {@code PackLayout} (the pack's sets, the eviction
 * order), {@code BlockLedger} (the loaded blocks against the budget, residency, eviction), {@code
 * BlockSuccession} (which block comes next) and {@code BlockFetcher} (the reads, the prefetch
 * thread).
 */
public final class StreamingBlockLoader implements BlockLoader {
    private static final Logger LOG = LoggerFactory.getLogger(StreamingBlockLoader.class);

    private final ModelPack pack;
    private final LoaderSettings settings;
    private final boolean concurrent;
    private final boolean dynamic;
    private final long available;
    private final PackLayout layout;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final BlockLedger ledger;
    private final BlockSuccession succession;
    private final BlockFetcher fetcher;
    private final Map<String, SetResidency> plans = new HashMap<>();
    private ActivationPeaks announced = ActivationPeaks.NONE;
    private String currentSet;
    private List<BlockInfo> currentBlocks = List.of();
    private BlockEntry inFlight;
    private boolean closed;

    /**
     * Creates a loader; nothing is loaded until a block is acquired.
     *
     * @param pack the pack whose blocks it loads
     * @param settings budget, reader, listener and optional fixed activation peaks
     * @param concurrent whether to prefetch the next block on a background thread (CI)
     * @param dynamic whether to keep the first blocks of each set resident (DL)
     * @throws BudgetExceededException if the pack's largest block alone exceeds the budget
     */
    public StreamingBlockLoader(ModelPack pack, LoaderSettings settings, boolean concurrent,
            boolean dynamic) {
        this.pack = InvalidConfigurationException.requireNonNull(pack, "pack");
        this.settings = InvalidConfigurationException.requireNonNull(settings, "settings");
        this.concurrent = concurrent;
        this.dynamic = dynamic;
        this.available = settings.budget().availableBytes();
        this.layout = new PackLayout(pack.manifest());
        this.ledger = new BlockLedger(layout, settings.listener(), changed::signalAll, available);
        this.succession = new BlockSuccession(layout);
        this.fetcher = new BlockFetcher(pack, settings);
        BlockInfo largest = layout.largest();
        if (largest != null && largest.parameterBytes() > available) {
            throw new BudgetExceededException("block " + largest.name() + " (the largest of pack "
                    + pack.manifest().name() + ")", largest.parameterBytes(), available);
        }
    }

    /**
     * Checks that every block set of the pack can run in the budget with these activation peaks
     * (its largest block plus its peak), before anything is loaded; the peaks then apply to the
     * sets of this generation, each of which decides its residency again.
     *
     * @throws BudgetExceededException naming the first set that cannot fit
     */
    @Override
    public void beginGeneration(ActivationPeaks peaks) {
        InvalidConfigurationException.requireNonNull(peaks, "peaks");
        lock.lock();
        try {
            ensureOpen();
            announced = peaks;
            currentSet = null;
            succession.restart();
            for (String set : layout.sets()) {
                SetResidency.plan(set, pack.manifest().blocks(set), activation(set), available, false,
                        false, settings.reader()::readOverheadBytes).requireFits();
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void beginSet(List<BlockInfo> blocks) {
        if (blocks.isEmpty()) {
            return;
        }
        lock.lock();
        try {
            ensureOpen();
            String set = blocks.get(0).set();
            if (!set.equals(currentSet)) {
                startSet(set, blocks);
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public LoadedBlock acquire(BlockInfo info) {
        InvalidConfigurationException.requireNonNull(info, "block");
        lock.lock();
        try {
            ensureOpen();
            if (!info.set().equals(currentSet)) {
                startSet(info.set(), pack.manifest().blocks(info.set()));
            }
            succession.acquired(info.name());
            BlockEntry e = awaitLoaded(info.name());
            if (e == null) {
                awaitNoPrefetch();
                e = awaitLoaded(info.name());
            }
            if (e == null) {
                e = loadNow(info);
            }
            e.holds++;
            schedulePrefetch(info);
            BlockEntry held = e;
            // A streamed block runs once per load: skip TorchScript's profiling run (LoadedBlock).
            return new LoadedBlock(e.block, () -> release(held), ledger.isResident(e));
        } finally {
            lock.unlock();
        }
    }

    @Override
    public LoaderStats stats() {
        lock.lock();
        try {
            return ledger.stats();
        } finally {
            lock.unlock();
        }
    }

    /**
     * The residency decided for a set in the current generation.
     *
     * @param set a set name
     * @return the decision, empty if the set has not started yet
     */
    public Optional<SetResidency> residency(String set) {
        lock.lock();
        try {
            return Optional.ofNullable(plans.get(set));
        } finally {
            lock.unlock();
        }
    }

    /** Waits for a load in flight, then frees every block; idempotent. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            while (ledger.loading()) {
                changed.awaitUninterruptibly();
            }
            ledger.freeAll();
            fetcher.shutdown();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public String toString() {
        String kind = concurrent ? dynamic ? "CI-DL" : "CI" : dynamic ? "DL" : "sequential";
        return "StreamingBlockLoader[" + kind + ", " + pack.manifest().name() + ", "
                + settings.budget() + "]";
    }

    // ---------------------------------------------------------------------------------------
    // everything below runs with the lock held

    private void ensureOpen() {
        if (closed) {
            throw new io.github.sora4j.ResourceClosedException("block loader " + this + " is closed");
        }
    }

    private long activation(String set) {
        ActivationPeaks fixed = settings.activations();
        return (fixed != null ? fixed : announced).bytes(set);
    }

    /** A set starts running: decide its residency and make room for it (once per generation). */
    private void startSet(String set, List<BlockInfo> blocks) {
        SetResidency plan = SetResidency.plan(set, blocks, activation(set), available, dynamic,
                concurrent, settings.reader()::readOverheadBytes);
        plan.requireFits();
        awaitNoPrefetch();
        currentSet = set;
        currentBlocks = plan.blocks();
        succession.restart();
        plans.put(set, plan);
        Set<String> names = new HashSet<>();
        plan.residentBlocks().forEach(b -> names.add(b.name()));
        ledger.startSet(set, names, available - plan.activationBytes() - plan.readingBytes(),
                plan.peakWeightBytes());
        LOG.debug("{}: {}", this, plan);
        settings.listener().setPlanned(plan);
    }

    private BlockEntry awaitLoaded(String name) {
        while (true) {
            BlockEntry e = ledger.get(name);
            if (e == null || e.block != null) {
                return e;
            }
            changed.awaitUninterruptibly();
            ensureOpen();
        }
    }

    private void awaitNoPrefetch() {
        while (inFlight != null) {
            changed.awaitUninterruptibly();
        }
    }

    /** Loads a block on the caller's thread; the lock is released while the file is read. */
    private BlockEntry loadNow(BlockInfo info) {
        ledger.makeRoom(info, currentSet);
        BlockEntry e = ledger.reserve(info);
        long loaded = ledger.loadedBytes();
        TorchScriptBlock block = null;
        Throwable failure = null;
        lock.unlock();
        try {
            block = fetcher.read(info, loaded, false);
        } catch (RuntimeException | Error x) {
            failure = x;
        } finally {
            lock.lock();
        }
        if (failure != null || closed) {
            if (block != null) {
                block.close();
            }
            ledger.unreserve(e);
            if (failure instanceof RuntimeException r) {
                throw r;
            }
            if (failure instanceof Error err) {
                throw err;
            }
            ensureOpen();
        }
        ledger.loaded(e, block);
        changed.signalAll();
        return e;
    }

    private void schedulePrefetch(BlockInfo after) {
        if (!concurrent || inFlight != null) {
            return;
        }
        Set<String> upcoming = new HashSet<>();
        BlockInfo next = succession.predictNext(after, currentSet, currentBlocks,
                ledger::contains, upcoming);
        if (next == null) {
            return;
        }
        // Drop loaded blocks that are neither resident nor expected before the next one (a
        // mispredicted prefetch), then prefetch only within the budget: never evict anything
        // useful for a guess.
        for (BlockEntry e : ledger.evictionOrder(currentSet, e -> e.holds == 0
                && !ledger.isResident(e) && !upcoming.contains(e.info.name()))) {
            ledger.free(e);
        }
        if (!ledger.fits(next.parameterBytes())) {
            LOG.debug("no room to prefetch {}: {} + {} > {}", next.name(), ledger.loadedBytes(),
                    next.parameterBytes(), ledger.limit());
            return;
        }
        BlockEntry e = ledger.reserve(next);
        inFlight = e;
        fetcher.prefetch(e, ledger.loadedBytes(), this::prefetched);
    }

    private void release(BlockEntry e) {
        lock.lock();
        try {
            e.holds--;
            if (e.holds == 0 && !closed && ledger.get(e.info.name()) == e
                    && !ledger.isResident(e)) {
                ledger.free(e);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Takes over a prefetched block (or its failure), on the prefetch thread. */
    private void prefetched(BlockEntry e, TorchScriptBlock block, Throwable failure) {
        lock.lock();
        try {
            inFlight = null;
            if (failure != null || closed) {
                if (block != null) {
                    block.close();
                }
                ledger.unreserve(e);
                if (failure != null) {
                    LOG.warn("prefetch of {} failed; it will be loaded on demand: {}",
                            e.info.name(), failure.toString());
                }
            } else {
                ledger.loaded(e, block);
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
