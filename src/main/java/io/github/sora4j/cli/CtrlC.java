package io.github.sora4j.cli;

import java.io.PrintWriter;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Turns Ctrl-C (SIGINT, or any JVM shutdown) into a clean cancellation of a running generation.
 *
 * <p>A shutdown hook sets {@link #requested()}; the progress listener then returns false and the
 * pipeline stops at the next block boundary, frees its memory and writes nothing. The hook waits
 * (at most {@link #GRACE_SECONDS}) until {@link #close()} says the command has finished, so the JVM
 * does not exit under a running native block and the command's last words are printed. Before the
 * generation starts (opening and hashing a pack, say) the hook does not wait: nothing is being
 * written.
 */
final class CtrlC implements AutoCloseable {
    /** How long the hook lets a generation run to its next block boundary. */
    static final long GRACE_SECONDS = 120;

    private final AtomicBoolean requested = new AtomicBoolean();
    private final AtomicBoolean generating = new AtomicBoolean();
    private final CountDownLatch finished = new CountDownLatch(1);
    private final PrintWriter err;
    private final Thread hook;

    private CtrlC(PrintWriter err) {
        this.err = err;
        this.hook = new Thread(this::onShutdown, "sora4j-ctrl-c");
    }

    /**
     * Installs the hook.
     *
     * @param err where to say that the run is being cancelled
     * @return the handle; close it when the command ends
     */
    static CtrlC install(PrintWriter err) {
        CtrlC c = new CtrlC(err);
        Runtime.getRuntime().addShutdownHook(c.hook);
        return c;
    }

    private void onShutdown() {
        requested.set(true);
        if (!generating.get()) {
            err.println();
            err.println("cancelled; nothing written");
            err.flush();
            return;
        }
        err.println();
        err.println("cancelling at the next block ...");
        err.flush();
        try {
            finished.await(GRACE_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Whether Ctrl-C was pressed.
     *
     * @return true once the JVM is shutting down
     */
    boolean requested() {
        return requested.get();
    }

    /**
     * Marks the start of the span in which the hook waits for the command to finish: the
     * generation, writing the video and the summary. {@link #close()} ends it.
     *
     * @param value true once the generation starts
     */
    void generating(boolean value) {
        generating.set(value);
    }

    /** Releases a waiting hook, or removes the hook if there was no Ctrl-C. */
    @Override
    public void close() {
        finished.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook is running and has just been released
        }
    }
}
