package io.github.sora4j.testing;

import io.github.sora4j.load.ActivationPeaks;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.LoadedBlock;
import io.github.sora4j.load.LoaderListener;
import io.github.sora4j.load.LoaderSettings;
import io.github.sora4j.load.LoaderStats;
import io.github.sora4j.load.SetResidency;
import io.github.sora4j.pack.BlockInfo;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Wraps a budget-aware loader and logs, in order and with times, what it does (load started and
 * finished, freed, residency planned: through its {@link LoaderListener}) and what its caller does
 * (acquire, release). Optionally holds every block a little longer, to stand for slower compute.
 */
public final class RecordingBlockLoader implements BlockLoader, LoaderListener {

    /** What happened. */
    public enum Kind { LOAD_STARTED, LOAD_FINISHED, FREED, PLANNED, ACQUIRED, RELEASED }

    /**
     * One logged event.
     *
     * @param kind what happened
     * @param block the block's name (the set's name for PLANNED)
     * @param loadedBytes loaded parameter bytes the loader reported (-1 if not reported)
     * @param prefetch for LOAD_STARTED: whether on the prefetch thread
     * @param nanoTime {@link System#nanoTime()} when it was logged
     * @param thread the thread's name
     * @param plan for PLANNED: the decision
     */
    public record Event(Kind kind, String block, long loadedBytes, boolean prefetch,
            long nanoTime, String thread, SetResidency plan) {}

    private final List<Event> events = new CopyOnWriteArrayList<>();
    private final BlockLoader delegate;
    private final long holdMillis;

    /**
     * Makes the delegate with this recorder as its listener.
     *
     * @param settings the delegate's settings (their listener is replaced)
     * @param make makes the delegate from settings
     * @param holdMillis extra milliseconds each acquired block is held before it is returned
     *     (0: none)
     */
    public RecordingBlockLoader(LoaderSettings settings,
            Function<LoaderSettings, BlockLoader> make, long holdMillis) {
        this.holdMillis = holdMillis;
        this.delegate = make.apply(settings.withListener(this));
    }

    private void log(Kind kind, String block, long bytes, boolean prefetch, SetResidency plan) {
        events.add(new Event(kind, block, bytes, prefetch, System.nanoTime(),
                Thread.currentThread().getName(), plan));
    }

    @Override
    public void loadStarted(BlockInfo block, long loadedBytes, boolean prefetch) {
        log(Kind.LOAD_STARTED, block.name(), loadedBytes, prefetch, null);
    }

    @Override
    public void loadFinished(BlockInfo block, long nanos) {
        log(Kind.LOAD_FINISHED, block.name(), -1, false, null);
    }

    @Override
    public void freed(BlockInfo block, long loadedBytes) {
        log(Kind.FREED, block.name(), loadedBytes, false, null);
    }

    @Override
    public void setPlanned(SetResidency plan) {
        log(Kind.PLANNED, plan.set(), -1, false, plan);
    }

    @Override
    public void beginGeneration(ActivationPeaks peaks) {
        delegate.beginGeneration(peaks);
    }

    @Override
    public void beginSet(List<BlockInfo> blocks) {
        delegate.beginSet(blocks);
    }

    @Override
    public LoadedBlock acquire(BlockInfo block) {
        LoadedBlock b = delegate.acquire(block);
        log(Kind.ACQUIRED, block.name(), -1, false, null);
        if (holdMillis > 0) {
            try {
                TimeUnit.MILLISECONDS.sleep(holdMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return b.whenClosed(() -> log(Kind.RELEASED, block.name(), -1, false, null));
    }

    @Override
    public LoaderStats stats() {
        return delegate.stats();
    }

    @Override
    public void close() {
        delegate.close();
    }

    /**
     * Everything logged so far.
     *
     * @return the events in order
     */
    public List<Event> events() {
        return List.copyOf(events);
    }

    /**
     * Events of one kind.
     *
     * @param kind the kind
     * @return them in order
     */
    public List<Event> events(Kind kind) {
        return events.stream().filter(e -> e.kind() == kind).toList();
    }

    /**
     * Block names of LOAD_STARTED events, in order.
     *
     * @return the names
     */
    public List<String> loads() {
        return events(Kind.LOAD_STARTED).stream().map(Event::block).toList();
    }

    /**
     * The most loaded bytes any event reported.
     *
     * @return bytes
     */
    public long peakLoadedBytes() {
        return events.stream().mapToLong(Event::loadedBytes).max().orElse(0);
    }

    /** Forgets everything logged so far. */
    public void clear() {
        events.clear();
    }

    @Override
    public String toString() {
        return "Recording[" + delegate + "]";
    }
}
