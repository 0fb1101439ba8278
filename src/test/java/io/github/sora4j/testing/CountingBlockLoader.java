package io.github.sora4j.testing;

import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.ForwardingBlockLoader;
import io.github.sora4j.load.LoadedBlock;
import io.github.sora4j.pack.BlockInfo;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A fake-free recording wrapper: logs every acquire and set, delegates the work. */
public final class CountingBlockLoader extends ForwardingBlockLoader {
    private final List<String> acquired = new CopyOnWriteArrayList<>();
    private final List<Integer> setSizes = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    public CountingBlockLoader(BlockLoader delegate) {
        super(delegate);
    }

    @Override
    public void beginSet(List<BlockInfo> blocks) {
        setSizes.add(blocks.size());
        super.beginSet(blocks);
    }

    @Override
    public LoadedBlock acquire(BlockInfo block) {
        acquired.add(block.name());
        return super.acquire(block);
    }

    @Override
    public void close() {
        closed = true;
        super.close();
    }

    public List<String> acquired() {
        return List.copyOf(acquired);
    }

    public boolean isClosed() {
        return closed;
    }
}
