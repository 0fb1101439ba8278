package io.github.sora4j.soak;

import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.ForwardingBlockLoader;
import io.github.sora4j.load.LoadedBlock;
import io.github.sora4j.load.LoaderListener;
import io.github.sora4j.pack.BlockInfo;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Watches a budget-aware loader at every instant it changes what is loaded: as its {@link
 * LoaderListener} (each load reserved, including prefetches on the loader's own threads, and each
 * free) and as a decorator of {@code acquire} and the handle's release. Records the highest loaded
 * bytes seen and every moment they were above the limit.
 */
public final class BudgetWatch implements LoaderListener {
    private final long limit;
    private final AtomicLong highest = new AtomicLong();
    private final ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();

    /**
     * A watch.
     *
     * @param limit the budget's available bytes
     */
    public BudgetWatch(long limit) {
        this.limit = limit;
    }

    private void see(long loaded, String when) {
        highest.accumulateAndGet(loaded, Math::max);
        if (loaded > limit) {
            violations.add(loaded + " bytes loaded " + when + " (limit " + limit + ")");
        }
    }

    @Override
    public void loadStarted(BlockInfo block, long loadedBytes, boolean prefetch) {
        see(loadedBytes, "when " + (prefetch ? "prefetching " : "loading ") + block.name());
    }

    @Override
    public void freed(BlockInfo block, long loadedBytes) {
        see(loadedBytes, "after freeing " + block.name());
    }

    /**
     * Decorates the loader so that acquire and release are watched too.
     *
     * @param loader the loader made with this watch as its listener
     * @return the decorated loader
     */
    public BlockLoader decorate(BlockLoader loader) {
        return new ForwardingBlockLoader(loader) {
            @Override
            public LoadedBlock acquire(BlockInfo block) {
                LoadedBlock b = super.acquire(block);
                see(stats().loadedBytes(), "holding " + block.name());
                return b.whenClosed(() -> see(stats().loadedBytes(), "releasing "
                        + block.name()));
            }
        };
    }

    /**
     * The most bytes seen loaded.
     *
     * @return bytes
     */
    public long highest() {
        return highest.get();
    }

    /**
     * Every instant above the limit.
     *
     * @return descriptions, empty if the budget held
     */
    public java.util.List<String> violations() {
        return java.util.List.copyOf(violations);
    }
}
