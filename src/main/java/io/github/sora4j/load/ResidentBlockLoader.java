package io.github.sora4j.load;

import io.github.sora4j.InvalidConfigurationException;
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
 *
 * <p>With a {@link MemoryBudget} (see {@link LoaderSettings}) it fails before loading anything if
 * the whole pack, plus the largest activation peak once a generation is announced, does not fit.
 */
public final class ResidentBlockLoader implements BlockLoader {
    private static final Logger LOG = LoggerFactory.getLogger(ResidentBlockLoader.class);

    private final ModelPack pack;
    private final LoaderSettings settings;
    private final long totalBytes;
    private final Map<String, TorchScriptBlock> blocks = new ConcurrentHashMap<>();
    private long loadedBytes;
    private long peakBytes;
    private int loadCount;
    private boolean closed;

    /**
     * Creates a loader for a pack with no memory limit.
     *
     * @param pack the pack whose blocks it loads
     */
    public ResidentBlockLoader(ModelPack pack) {
        this(pack, LoaderSettings.of(MemoryBudget.unlimited()));
    }

    /**
     * Creates a loader for a pack under a budget.
     *
     * @param pack the pack whose blocks it loads
     * @param settings budget, reader, listener and optional fixed activation peaks
     * @throws BudgetExceededException if the pack's blocks together exceed the budget
     */
    public ResidentBlockLoader(ModelPack pack, LoaderSettings settings) {
        this.pack = InvalidConfigurationException.requireNonNull(pack, "pack");
        this.settings = InvalidConfigurationException.requireNonNull(settings, "settings");
        this.totalBytes = pack.manifest().blocks().stream().mapToLong(BlockInfo::parameterBytes)
                .sum();
        long available = settings.budget().availableBytes();
        if (totalBytes > available) {
            throw new BudgetExceededException("all " + pack.manifest().blocks().size()
                    + " blocks of pack " + pack.manifest().name() + " (resident)", totalBytes,
                    available);
        }
        if (settings.activations() != null) {
            requireFits(settings.activations());
        }
    }

    /**
     * Checks that the whole pack plus the largest activation peak fits the budget.
     *
     * @throws BudgetExceededException if it does not
     */
    @Override
    public void beginGeneration(ActivationPeaks peaks) {
        InvalidConfigurationException.requireNonNull(peaks, "peaks");
        synchronized (this) {
            if (closed) {
                throw new io.github.sora4j.ResourceClosedException("block loader " + this + " is closed");
            }
        }
        requireFits(settings.activations() != null ? settings.activations() : peaks);
    }

    private void requireFits(ActivationPeaks peaks) {
        long need = totalBytes + peaks.maxBytes();
        long available = settings.budget().availableBytes();
        if (need < 0 || need > available) {
            throw new BudgetExceededException("all blocks of pack " + pack.manifest().name()
                    + " (resident) plus " + peaks.maxBytes() + " bytes of activations",
                    need < 0 ? Long.MAX_VALUE : need, available);
        }
    }

    @Override
    public LoadedBlock acquire(BlockInfo info) {
        TorchScriptBlock block;
        synchronized (this) {
            if (closed) {
                throw new io.github.sora4j.ResourceClosedException("block loader " + this + " is closed");
            }
            block = blocks.get(info.name());
            if (block == null) {
                long start = System.nanoTime();
                loadedBytes += info.parameterBytes();
                peakBytes = Math.max(peakBytes, loadedBytes);
                try {
                    settings.listener().loadStarted(info, loadedBytes, false);
                    block = settings.reader().read(pack, info);
                } catch (RuntimeException | Error e) {
                    loadedBytes -= info.parameterBytes();
                    settings.listener().freed(info, loadedBytes);
                    throw e;
                }
                blocks.put(info.name(), block);
                loadCount++;
                long nanos = System.nanoTime() - start;
                settings.listener().loadFinished(info, nanos);
                LOG.debug("loaded {} ({} bytes) in {} ms", info.name(), info.parameterBytes(),
                        nanos / 1_000_000);
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
        }
        for (TorchScriptBlock b : toClose) {
            b.close();
            synchronized (this) {
                loadedBytes -= b.info().parameterBytes();
                settings.listener().freed(b.info(), loadedBytes);
            }
        }
    }

    @Override
    public String toString() {
        return "ResidentBlockLoader[" + pack.manifest().name() + ", " + settings.budget() + "]";
    }
}
