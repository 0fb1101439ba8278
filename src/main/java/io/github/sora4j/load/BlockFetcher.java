package io.github.sora4j.load;

import ai.djl.pytorch.jni.JniUtils;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Reads block files for a {@link StreamingBlockLoader}, reporting each read to the listener: on
 * the caller's thread, or, for concurrent inference, on one background daemon thread (started at
 * the first prefetch) that reads the block expected next while the caller runs the one before,
 * then hands the result back to the loader. It holds no lock: the loader reserves a block before
 * the read and takes it over afterwards under its own lock.
 */
final class BlockFetcher {
    private static final AtomicInteger THREADS = new AtomicInteger();

    /** Takes over the result of a prefetch, on the prefetch thread. */
    @FunctionalInterface
    interface Prefetched {
        /**
         * Called once per prefetch, loaded or not.
         *
         * @param e the entry reserved for the block
         * @param block the loaded block, owned by the callee; null if the read failed
         * @param failure why the read failed, null if it did not
         */
        void handOver(BlockEntry e, TorchScriptBlock block, Throwable failure);
    }

    private final ModelPack pack;
    private final LoaderSettings settings;
    private ExecutorService executor; // guarded by the loader's lock
    private boolean prefetchThreadReady; // read and written by the prefetch thread only

    BlockFetcher(ModelPack pack, LoaderSettings settings) {
        this.pack = pack;
        this.settings = settings;
    }

    /**
     * Reads a block with the settings' reader, telling the listener when it starts and ends.
     *
     * @param loaded the bytes loaded, this block included
     * @param prefetch whether this is a prefetch
     * @return the block, owned by the caller
     */
    TorchScriptBlock read(BlockInfo info, long loaded, boolean prefetch) {
        long start = System.nanoTime();
        settings.listener().loadStarted(info, loaded, prefetch);
        TorchScriptBlock block = settings.reader().read(pack, info);
        settings.listener().loadFinished(info, System.nanoTime() - start);
        return block;
    }

    /**
     * Reads a reserved block on the prefetch thread, then hands it over; called with the
     * loader's lock held.
     */
    void prefetch(BlockEntry e, long loaded, Prefetched then) {
        executor().execute(() -> {
            TorchScriptBlock block = null;
            Throwable failure = null;
            try {
                block = read(e.info, loaded, true);
                if (!prefetchThreadReady) {
                    // Only this thread reads the flag. Loading computes nothing, but a block's
                    // initialisation code must not record gradients either.
                    JniUtils.setGradMode(false);
                    prefetchThreadReady = true;
                }
            } catch (RuntimeException | Error x) {
                failure = x;
            }
            then.handOver(e, block, failure);
        });
    }

    /** Lets the prefetch thread end once idle; called with the loader's lock held. */
    void shutdown() {
        if (executor != null) {
            executor.shutdown();
        }
    }

    private ExecutorService executor() {
        if (executor == null) {
            executor = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "sora4j-prefetch-" + THREADS.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
        }
        return executor;
    }
}
