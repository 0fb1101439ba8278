package io.github.sora4j;

import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * The {@link VideoPipeline#generateAsync} plumbing: the pipeline's own daemon thread ({@code
 * sora4j-generate}, started on first use) and the futures not yet completed, whose {@code cancel}
 * stops their generation at the next block boundary. {@link #shutdown} (from the pipeline's
 * {@code close()}) stops the thread and ends every pending future as cancelled. Owns the thread,
 * no native resource.
 */
final class AsyncGenerations {
    private final AtomicBoolean closed;
    private volatile ExecutorService executor;
    private final Set<CancellableFuture> pending = ConcurrentHashMap.newKeySet();

    /**
     * Async plumbing of a pipeline.
     *
     * @param closed the pipeline's closed flag: no thread starts once it is set
     */
    AsyncGenerations(AtomicBoolean closed) {
        this.closed = closed;
    }

    /**
     * Queues a generation on the pipeline's thread.
     *
     * @param generation runs the generation with the future's cancel flag
     * @return its future; cancelled at once if the pipeline closed before it was queued
     */
    CompletableFuture<GenerationResult> submit(
            Function<AtomicBoolean, GenerationResult> generation) {
        AtomicBoolean cancel = new AtomicBoolean();
        CancellableFuture future = new CancellableFuture(cancel);
        pending.add(future);
        future.whenComplete((r, t) -> pending.remove(future));
        try {
            executor().execute(() -> {
                if (future.isDone()) {
                    return;
                }
                try {
                    future.complete(generation.apply(cancel));
                } catch (Throwable t) {
                    if (closed.get()) {
                        // close() stopped it (the closed pipeline or the interrupt): it ends as
                        // close() ends every pending generation.
                        future.cancel(true);
                    } else {
                        future.completeExceptionally(t);
                    }
                }
            });
        } catch (RejectedExecutionException | PipelineClosedException e) {
            // close() ran since prepare: the future ends the way close() ends queued ones.
            future.cancel(true);
        }
        return future;
    }

    private ExecutorService executor() {
        ExecutorService e = executor;
        if (e == null) {
            synchronized (this) {
                if (closed.get()) {
                    throw new PipelineClosedException("pipeline is closed");
                }
                e = executor;
                if (e == null) {
                    e = Executors.newSingleThreadExecutor(r -> {
                        Thread t = new Thread(r, "sora4j-generate");
                        t.setDaemon(true);
                        return t;
                    });
                    executor = e;
                }
            }
        }
        return e;
    }

    /**
     * Stops the thread (interrupting a running generation's thread) and cancels every pending
     * future, so queued and running async generations end as cancelled instead of never
     * completing. Called once, after the pipeline's closed flag is set.
     */
    void shutdown() {
        // Cancel first: interrupting the thread first let a running generation end with an
        // error (it saw the interrupt or the closed pipeline) before its future was cancelled.
        pending.forEach(f -> f.cancel(true));
        ExecutorService e;
        synchronized (this) {
            e = executor;
        }
        if (e != null) {
            e.shutdownNow();
        }
        pending.forEach(f -> f.cancel(true)); // any queued since the first pass
    }

    /** A future whose {@code cancel} stops the generation at the next block boundary. */
    private static final class CancellableFuture extends CompletableFuture<GenerationResult> {
        private final AtomicBoolean cancel;

        CancellableFuture(AtomicBoolean cancel) {
            this.cancel = cancel;
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            cancel.set(true);
            return super.cancel(mayInterruptIfRunning);
        }
    }
}
