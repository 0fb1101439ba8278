package io.github.sora4j;

/**
 * The pipeline was closed: before the call, or while the generation was running on another thread
 * (it then stops at the next block boundary, frees its memory and writes nothing).
 */
public final class PipelineClosedException extends ResourceClosedException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message what was refused or stopped
     */
    public PipelineClosedException(String message) {
        super(message);
    }
}
