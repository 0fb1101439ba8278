package io.github.sora4j;

/**
 * Base class of every exception sora4j throws: catching it catches all of them. The subtypes say
 * what went wrong: {@link InvalidRequestException} (a request, prompt or output refused before
 * work), {@link InvalidConfigurationException} (a builder, profile, budget or other setting
 * refused when given), {@link InfeasibleRequestException}, {@link NonFiniteValueException},
 * {@link ResourceClosedException} and {@link PipelineClosedException}, {@code
 * io.github.sora4j.pack.ModelPackException}, {@code io.github.sora4j.load.BudgetExceededException}.
 * docs/troubleshooting.md lists each message with its cause and fix.
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
