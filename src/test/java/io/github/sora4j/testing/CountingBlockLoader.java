package io.github.sora4j.testing;

import io.github.sora4j.load.ActivationPeaks;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.LoadedBlock;
import io.github.sora4j.load.LoaderStats;
import io.github.sora4j.pack.BlockInfo;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A fake-free recording wrapper: logs every acquire and set, delegates the work. */
public final class CountingBlockLoader implements BlockLoader {
    private final BlockLoader delegate;
    private final List<String> acquired = new CopyOnWriteArrayList<>();
    private final List<Integer> setSizes = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    public CountingBlockLoader(BlockLoader delegate) {
        this.delegate = delegate;
    }

    @Override
    public void beginGeneration(ActivationPeaks peaks) {
        delegate.beginGeneration(peaks);
    }

    @Override
    public void beginSet(List<BlockInfo> blocks) {
        setSizes.add(blocks.size());
        delegate.beginSet(blocks);
    }

    @Override
    public LoadedBlock acquire(BlockInfo block) {
        acquired.add(block.name());
        return delegate.acquire(block);
    }

    @Override
    public LoaderStats stats() {
        return delegate.stats();
    }

    @Override
    public void close() {
        closed = true;
        delegate.close();
    }

    public List<String> acquired() {
        return List.copyOf(acquired);
    }

    public boolean isClosed() {
        return closed;
    }
}
