package io.github.sora4j;

/**
 * A request, prompt or output path the pipeline refuses before any work starts: a value out of
 * range, a prompt the model cannot take, an output that could not be written. The message names
 * the offending value and what is allowed; nothing has been loaded or written.
 */
public class InvalidRequestException extends Sora4jException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message the offending value and the allowed range or the fix
     */
    public InvalidRequestException(String message) {
        super(message);
    }

    /**
     * Creates an exception with a cause.
     *
     * @param message the offending value and the allowed range or the fix
     * @param cause the underlying failure (e.g. the probe file that could not be created)
     */
    public InvalidRequestException(String message, Throwable cause) {
        super(message, cause);
    }
}
