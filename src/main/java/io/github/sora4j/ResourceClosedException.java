package io.github.sora4j;

/**
 * An object was used after {@code close()}: a block loader, a loaded block or its handle, or
 * (the subtype {@link PipelineClosedException}) a pipeline. Make a new one; nothing was loaded or
 * written by the refused call.
 */
public class ResourceClosedException extends Sora4jException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message what was used after it was closed
     */
    public ResourceClosedException(String message) {
        super(message);
    }
}
