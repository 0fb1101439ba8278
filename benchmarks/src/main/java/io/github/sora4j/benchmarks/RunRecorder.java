package io.github.sora4j.benchmarks;

import io.github.sora4j.ProgressEvent;
import io.github.sora4j.ProgressListener;
import io.github.sora4j.Stage;
import io.github.sora4j.load.LoaderListener;
import io.github.sora4j.pack.BlockInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Records one generation block by block: each block's wall time as the pipeline reports it
 * (acquire and run) and, from the loader's listener, how much of it was an on-demand load. A
 * background prefetch is counted as a load but not subtracted (the caller did not wait for it
 * inside the block, or only partly).
 */
final class RunRecorder implements ProgressListener, LoaderListener {

    /**
     * One block execution.
     *
     * @param stage its stage
     * @param step the denoising step, -1 outside the denoise stage
     * @param block the block name
     * @param elapsedNanos acquire and run
     * @param loadNanos the on-demand load inside {@code elapsedNanos}, 0 if none
     */
    record BlockRun(Stage stage, int step, String block, long elapsedNanos, long loadNanos) {

        long computeNanos() {
            return Math.max(0, elapsedNanos - loadNanos);
        }
    }

    private final Map<String, Boolean> prefetching = new ConcurrentHashMap<>();
    private final Map<String, Long> pendingLoad = new ConcurrentHashMap<>();
    private final List<BlockRun> blocks = new ArrayList<>();
    private int loads;
    private long loadNanos;

    synchronized void reset() {
        prefetching.clear();
        pendingLoad.clear();
        blocks.clear();
        loads = 0;
        loadNanos = 0;
    }

    synchronized List<BlockRun> blocks() {
        return List.copyOf(blocks);
    }

    synchronized int loads() {
        return loads;
    }

    synchronized long loadNanos() {
        return loadNanos;
    }

    @Override
    public void loadStarted(BlockInfo block, long loadedBytes, boolean prefetch) {
        prefetching.put(block.name(), prefetch);
    }

    @Override
    public synchronized void loadFinished(BlockInfo block, long nanos) {
        loads++;
        loadNanos += nanos;
        if (!prefetching.getOrDefault(block.name(), false)) {
            pendingLoad.merge(block.name(), nanos, Long::sum);
        }
    }

    @Override
    public synchronized boolean onProgress(ProgressEvent event) {
        if (event instanceof ProgressEvent.BlockFinished f) {
            Long load = pendingLoad.remove(f.block());
            blocks.add(new BlockRun(f.stage(), f.step(), f.block(), f.elapsedNanos(),
                    load == null ? 0 : load));
        }
        return true;
    }
}
