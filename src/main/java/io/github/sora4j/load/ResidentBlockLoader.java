package io.github.sora4j.load;

import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads each block the first time it is acquired and keeps it until {@link #close()}: fastest,
 * and needs memory for the whole model. Thread-safe.
 */
public final class ResidentBlockLoader implements BlockLoader {
    private static final Logger LOG = LoggerFactory.getLogger(ResidentBlockLoader.class);

    private final ModelPack pack;
    private final Map<String, TorchScriptBlock> blocks = new ConcurrentHashMap<>();
    private long loadedBytes;
    private long peakBytes;
    private int loadCount;
    private boolean closed;

    /**
     * Creates a loader for a pack.
     *
     * @param pack the pack whose blocks it loads
     */
    public ResidentBlockLoader(ModelPack pack) {
        this.pack = pack;
    }

    @Override
    public LoadedBlock acquire(BlockInfo info) {
        TorchScriptBlock block;
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("block loader is closed");
            }
            block = blocks.get(info.name());
            if (block == null) {
                long start = System.nanoTime();
                block = TorchScriptBlock.load(pack, info);
                blocks.put(info.name(), block);
                loadedBytes += info.parameterBytes();
                peakBytes = Math.max(peakBytes, loadedBytes);
                loadCount++;
                LOG.debug("loaded {} ({} bytes) in {} ms", info.name(), info.parameterBytes(),
                        (System.nanoTime() - start) / 1_000_000);
            }
        }
        return new LoadedBlock(block, () -> { });
    }

    @Override
    public synchronized LoaderStats stats() {
        return new LoaderStats(loadedBytes, peakBytes, loadCount);
    }

    @Override
    public void close() {
        List<TorchScriptBlock> toClose;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = new ArrayList<>(blocks.values());
            blocks.clear();
            loadedBytes = 0;
        }
        toClose.forEach(TorchScriptBlock::close);
    }

    @Override
    public String toString() {
        return "ResidentBlockLoader[" + pack.manifest().name() + "]";
    }
}
