package io.github.sora4j;

/**
 * Receives {@link ProgressEvent}s on the generating thread, per block and per step, and can cancel.
 *
 * <p>Return {@code false} to cancel: the pipeline stops at the next block boundary, writes nothing
 * and returns a result with {@link GenerationResult#cancelled()} set. Keep the listener quick; it
 * runs between blocks.
 *
 * <pre>{@code
 * ProgressListener l = event -> {
 *     if (event instanceof ProgressEvent.StepFinished s) {
 *         System.out.println("step " + (s.report().index() + 1) + "/" + s.stepCount());
 *     }
 *     return true;
 * };
 * }</pre>
 */
@FunctionalInterface
public interface ProgressListener {
    /** A listener that ignores everything. */
    ProgressListener NONE = e -> true;

    /**
     * Called for each event.
     *
     * @param event what happened
     * @return {@code true} to go on, {@code false} to cancel
     */
    boolean onProgress(ProgressEvent event);
}
