package io.github.sora4j;

/**
 * Base class of the unchecked exceptions sora4j throws at run time (bad requests throw {@link
 * IllegalArgumentException} instead, before any work starts).
 *
 * <p>Engine failures from DJL are wrapped with the original exception as the cause.
 */
public class Sora4jException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception with a message.
     *
     * @param message what went wrong, naming the offending value
     */
    public Sora4jException(String message) {
        super(message);
    }

    /**
     * Creates an exception with a message and a cause.
     *
     * @param message what went wrong, naming the offending value
     * @param cause the underlying failure
     */
    public Sora4jException(String message, Throwable cause) {
        super(message, cause);
    }
}
