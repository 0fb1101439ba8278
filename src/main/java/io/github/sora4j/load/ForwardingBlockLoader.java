package io.github.sora4j.load;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.pack.BlockInfo;
import java.util.List;

/**
 * A {@link BlockLoader} that passes every call to another one: the base of decorators that log,
 * count or time what a loader does and override only those methods. Closing it closes the
 * delegate; override {@link #close()} to share a loader between pipelines. To see when a handed
 * out block is released, wrap it with {@link LoadedBlock#whenClosed(Runnable)}.
 *
 * <pre>{@code
 * BlockLoader counting = new ForwardingBlockLoader(BlockLoaders.resident(pack)) {
 *     @Override
 *     public LoadedBlock acquire(BlockInfo block) {
 *         acquired.incrementAndGet();
 *         return super.acquire(block);
 *     }
 * };
 * }</pre>
 */
public abstract class ForwardingBlockLoader implements BlockLoader {
    private final BlockLoader delegate;

    /**
     * Wraps a loader.
     *
     * @param delegate the loader every call goes to; closed with this one
     */
    protected ForwardingBlockLoader(BlockLoader delegate) {
        this.delegate = InvalidConfigurationException.requireNonNull(delegate, "delegate");
    }

    /**
     * The wrapped loader.
     *
     * @return the delegate
     */
    protected final BlockLoader delegate() {
        return delegate;
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
        return delegate.acquire(block);
    }

    @Override
    public LoaderStats stats() {
        return delegate.stats();
    }

    @Override
    public void close() {
        delegate.close();
    }
}
