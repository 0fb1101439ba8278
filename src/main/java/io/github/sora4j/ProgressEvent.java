package io.github.sora4j;

/**
 * What a {@link ProgressListener} is told while a generation runs.
 *
 * <p>The set is closed so a {@code switch} over it is exhaustive.
 */
public sealed interface ProgressEvent
        permits ProgressEvent.StageStarted, ProgressEvent.BlockFinished, ProgressEvent.StepFinished {

    /**
     * A stage begins.
     *
     * @param stage the stage
     */
    record StageStarted(Stage stage) implements ProgressEvent {}

    /**
     * A block finished running.
     *
     * @param stage the stage it belongs to
     * @param step the sampling step (denoise stage) or -1
     * @param block the block's name
     * @param index position of the block in its set
     * @param count blocks in the set
     * @param elapsedNanos time the block took (acquire and run)
     */
    record BlockFinished(Stage stage, int step, String block, int index, int count,
            long elapsedNanos) implements ProgressEvent {}

    /**
     * A sampling step finished.
     *
     * @param report what the step did
     * @param stepCount steps K planned
     */
    record StepFinished(StepReport report, int stepCount) implements ProgressEvent {}
}
