package io.github.sora4j.load;

import io.github.sora4j.InvalidConfigurationException;
import ai.djl.pytorch.jni.JniUtils;
import io.github.sora4j.internal.NativeHeap;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.PackManifest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
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
 */
public final class StreamingBlockLoader implements BlockLoader {
    private static final Logger LOG = LoggerFactory.getLogger(StreamingBlockLoader.class);
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final ModelPack pack;
    private final LoaderSettings settings;
    private final boolean concurrent;
    private final boolean dynamic;
    private final long available;
    private final Map<String, BlockInfo> byName = new HashMap<>();
    private final Map<String, Integer> setIndex = new HashMap<>();
    private final Map<String, Integer> positionInSet = new HashMap<>();

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Map<String, Entry> entries = new HashMap<>();
    private final Map<String, SetResidency> plans = new HashMap<>();
    private final Map<String, Set<String>> residentNames = new HashMap<>();
    private final Map<String, String> successor = new HashMap<>();
    private ActivationPeaks announced = ActivationPeaks.NONE;
    private String currentSet;
    private List<BlockInfo> currentBlocks = List.of();
    private long limit;
    private String lastAcquired;
    private long loadedBytes;
    private long peakBytes;
    private int loadCount;
    private Entry inFlight;
    private boolean closed;
    private ExecutorService prefetcher;
    private boolean prefetchThreadReady;

    /** A block that is loaded, or being loaded ({@code block == null}). */
    private static final class Entry {
        final BlockInfo info;
        TorchScriptBlock block;
        int holds;

        Entry(BlockInfo info) {
            this.info = info;
        }
    }

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
        this.limit = available;
        PackManifest m = pack.manifest();
        BlockInfo largest = null;
        for (BlockInfo b : m.blocks()) {
            byName.put(b.name(), b);
            if (largest == null || b.parameterBytes() > largest.parameterBytes()) {
                largest = b;
            }
        }
        for (BlockInfo b : m.blocks()) {
            setIndex.putIfAbsent(b.set(), setIndex.size());
        }
        for (String set : setIndex.keySet()) {
            List<BlockInfo> blocks = m.blocks(set);
            for (int i = 0; i < blocks.size(); i++) {
                positionInSet.put(blocks.get(i).name(), i);
            }
        }
        if (largest != null && largest.parameterBytes() > available) {
            throw new BudgetExceededException("block " + largest.name() + " (the largest of pack "
                    + m.name() + ")", largest.parameterBytes(), available);
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
            lastAcquired = null;
            for (String set : setIndex.keySet()) {
                requireFits(SetResidency.plan(set, pack.manifest().blocks(set), activation(set),
                        available, false, false, settings.reader()::readOverheadBytes));
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
            if (lastAcquired != null && !lastAcquired.equals(info.name())) {
                successor.put(lastAcquired, info.name());
            }
            lastAcquired = info.name();
            Entry e = awaitLoaded(info.name());
            if (e == null) {
                awaitNoPrefetch();
                e = awaitLoaded(info.name());
            }
            if (e == null) {
                e = loadNow(info);
            }
            e.holds++;
            schedulePrefetch(info);
            Entry held = e;
            // A streamed block runs once per load: skip TorchScript's profiling run (LoadedBlock).
            return new LoadedBlock(e.block, () -> release(held), isResident(e));
        } finally {
            lock.unlock();
        }
    }

    @Override
    public LoaderStats stats() {
        lock.lock();
        try {
            return new LoaderStats(loadedBytes, peakBytes, loadCount);
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
        ExecutorService p;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            while (entries.values().stream().anyMatch(e -> e.block == null)) {
                changed.awaitUninterruptibly();
            }
            for (Entry e : new ArrayList<>(entries.values())) {
                free(e);
            }
            p = prefetcher;
        } finally {
            lock.unlock();
        }
        if (p != null) {
            p.shutdown();
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

    private void requireFits(SetResidency p) {
        if (!p.fits()) {
            BlockInfo largest = p.blocks().stream()
                    .max(Comparator.comparingLong(BlockInfo::parameterBytes)).orElseThrow();
            throw new BudgetExceededException("block set " + p.set() + " (its largest block "
                    + largest.name() + ", " + largest.parameterBytes() + " bytes, plus "
                    + p.activationBytes() + " bytes of activations and " + p.readingBytes()
                    + " bytes to read it)", p.minimumBytes(),
                    available);
        }
    }

    /** A set starts running: decide its residency and make room for it (once per generation). */
    private void startSet(String set, List<BlockInfo> blocks) {
        SetResidency plan = SetResidency.plan(set, blocks, activation(set), available, dynamic,
                concurrent, settings.reader()::readOverheadBytes);
        requireFits(plan);
        awaitNoPrefetch();
        currentSet = set;
        currentBlocks = plan.blocks();
        limit = available - plan.activationBytes() - plan.readingBytes();
        lastAcquired = null;
        plans.put(set, plan);
        Set<String> names = new HashSet<>();
        plan.residentBlocks().forEach(b -> names.add(b.name()));
        residentNames.put(set, names);
        // 1. Blocks that are loaded but neither held nor resident (stale prefetches, the blocks
        //    of this set beyond its new d) go first.
        for (Entry e : evictionOrder(e -> e.holds == 0 && !isResident(e))) {
            free(e);
        }
        // 2. Resident blocks of other sets stay only while the new plan still fits beside them.
        long others = entries.values().stream().filter(e -> !e.info.set().equals(set))
                .mapToLong(e -> e.info.parameterBytes()).sum();
        for (Entry e : evictionOrder(e -> e.holds == 0 && !e.info.set().equals(set))) {
            if (others + plan.peakWeightBytes() <= limit) {
                break;
            }
            others -= e.info.parameterBytes();
            free(e);
        }
        LOG.debug("{}: {}", this, plan);
        settings.listener().setPlanned(plan);
    }

    private boolean isResident(Entry e) {
        Set<String> names = residentNames.get(e.info.set());
        return names != null && names.contains(e.info.name());
    }

    /**
     * Loaded, unheld entries matching a filter, in eviction order: the set whose next run is
     * furthest away first (in the manifest's set order, cyclically after the running set), and
     * within a set its last blocks first.
     */
    private List<Entry> evictionOrder(Predicate<Entry> filter) {
        int sets = setIndex.size();
        int current = currentSet == null ? 0 : setIndex.getOrDefault(currentSet, 0);
        List<Entry> list = new ArrayList<>();
        for (Entry e : entries.values()) {
            if (e.block != null && filter.test(e)) {
                list.add(e);
            }
        }
        list.sort(Comparator.<Entry>comparingInt(e -> {
            Integer i = setIndex.get(e.info.set());
            return i == null ? sets : Math.floorMod(i - current, sets);
        }).thenComparingInt(e -> positionInSet.getOrDefault(e.info.name(), 0)).reversed());
        return list;
    }

    private Entry awaitLoaded(String name) {
        while (true) {
            Entry e = entries.get(name);
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

    private Entry reserve(BlockInfo info) {
        Entry e = new Entry(info);
        entries.put(info.name(), e);
        loadedBytes += info.parameterBytes();
        peakBytes = Math.max(peakBytes, loadedBytes);
        return e;
    }

    private void unreserve(Entry e) {
        entries.remove(e.info.name());
        loadedBytes -= e.info.parameterBytes();
        settings.listener().freed(e.info, loadedBytes);
        changed.signalAll();
    }

    private void free(Entry e) {
        entries.remove(e.info.name());
        loadedBytes -= e.info.parameterBytes();
        if (e.block != null) {
            e.block.close();
            NativeHeap.trim(); // give the block's pages back (docs/memory.md section 9)
        }
        settings.listener().freed(e.info, loadedBytes);
        changed.signalAll();
    }

    /** Frees what must go for {@code bytes} more to fit, or throws. */
    private void makeRoom(BlockInfo info) {
        long bytes = info.parameterBytes();
        if (loadedBytes + bytes <= limit) {
            return;
        }
        for (Entry e : evictionOrder(e -> e.holds == 0 && !isResident(e))) {
            free(e);
            if (loadedBytes + bytes <= limit) {
                return;
            }
        }
        for (Entry e : evictionOrder(e -> e.holds == 0)) {
            free(e);
            if (loadedBytes + bytes <= limit) {
                return;
            }
        }
        throw new BudgetExceededException("block " + info.name() + " beside the "
                + entries.size() + " blocks held open (" + loadedBytes + " bytes)",
                loadedBytes + bytes, limit);
    }

    /** Loads a block on the caller's thread; the lock is released while the file is read. */
    private Entry loadNow(BlockInfo info) {
        makeRoom(info);
        Entry e = reserve(info);
        long loaded = loadedBytes;
        TorchScriptBlock block = null;
        Throwable failure = null;
        lock.unlock();
        try {
            long start = System.nanoTime();
            settings.listener().loadStarted(info, loaded, false);
            block = settings.reader().read(pack, info);
            settings.listener().loadFinished(info, System.nanoTime() - start);
        } catch (RuntimeException | Error x) {
            failure = x;
        } finally {
            lock.lock();
        }
        if (failure != null || closed) {
            if (block != null) {
                block.close();
            }
            unreserve(e);
            if (failure instanceof RuntimeException r) {
                throw r;
            }
            if (failure instanceof Error err) {
                throw err;
            }
            ensureOpen();
        }
        e.block = block;
        loadCount++;
        changed.signalAll();
        return e;
    }

    private void schedulePrefetch(BlockInfo after) {
        if (!concurrent || inFlight != null) {
            return;
        }
        Set<String> upcoming = new HashSet<>();
        BlockInfo next = predictNext(after, upcoming);
        if (next == null) {
            return;
        }
        // Drop loaded blocks that are neither resident nor expected before the next one (a
        // mispredicted prefetch), then prefetch only within the budget: never evict anything
        // useful for a guess.
        for (Entry e : evictionOrder(
                e -> e.holds == 0 && !isResident(e) && !upcoming.contains(e.info.name()))) {
            free(e);
        }
        if (loadedBytes + next.parameterBytes() > limit) {
            LOG.debug("no room to prefetch {}: {} + {} > {}", next.name(), loadedBytes,
                    next.parameterBytes(), limit);
            return;
        }
        Entry e = reserve(next);
        inFlight = e;
        long loaded = loadedBytes;
        prefetcher().execute(() -> prefetch(e, loaded));
    }

    /**
     * The first block expected after {@code after} that is not loaded yet; the loaded blocks
     * expected before it are added to {@code upcoming}.
     */
    private BlockInfo predictNext(BlockInfo after, Set<String> upcoming) {
        BlockInfo candidate = nextOf(after);
        for (int hops = 0; candidate != null && hops <= currentBlocks.size(); hops++) {
            if (!candidate.set().equals(currentSet)) {
                return null;
            }
            if (!entries.containsKey(candidate.name())) {
                return candidate;
            }
            upcoming.add(candidate.name());
            candidate = nextOf(candidate);
        }
        return null;
    }

    private BlockInfo nextOf(BlockInfo block) {
        String learned = successor.get(block.name());
        if (learned != null) {
            return byName.get(learned);
        }
        for (int i = 0; i + 1 < currentBlocks.size(); i++) {
            if (currentBlocks.get(i).name().equals(block.name())) {
                return currentBlocks.get(i + 1);
            }
        }
        return null;
    }

    private void release(Entry e) {
        lock.lock();
        try {
            e.holds--;
            if (e.holds == 0 && !closed && entries.get(e.info.name()) == e && !isResident(e)) {
                free(e);
            }
        } finally {
            lock.unlock();
        }
    }

    private ExecutorService prefetcher() {
        if (prefetcher == null) {
            prefetcher = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "sora4j-prefetch-" + THREADS.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
        }
        return prefetcher;
    }

    // ---------------------------------------------------------------------------------------
    // the prefetch thread

    private void prefetch(Entry e, long loaded) {
        TorchScriptBlock block = null;
        Throwable failure = null;
        try {
            long start = System.nanoTime();
            settings.listener().loadStarted(e.info, loaded, true);
            block = settings.reader().read(pack, e.info);
            settings.listener().loadFinished(e.info, System.nanoTime() - start);
            if (!prefetchThreadReady) {
                // Only this thread reads the flag. Loading computes nothing, but a block's
                // initialisation code must not record gradients either.
                JniUtils.setGradMode(false);
                prefetchThreadReady = true;
            }
        } catch (RuntimeException | Error x) {
            failure = x;
        }
        lock.lock();
        try {
            inFlight = null;
            if (failure != null || closed) {
                if (block != null) {
                    block.close();
                }
                unreserve(e);
                if (failure != null) {
                    LOG.warn("prefetch of {} failed; it will be loaded on demand: {}",
                            e.info.name(), failure.toString());
                }
            } else {
                e.block = block;
                loadCount++;
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
