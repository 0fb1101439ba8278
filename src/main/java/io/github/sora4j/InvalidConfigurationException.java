package io.github.sora4j;

/**
 * A configuration value sora4j refuses when it is given, before any work starts: a builder or
 * factory argument out of range or missing (a pipeline builder, a {@code DeviceProfile}, a {@code
 * MemoryBudget}, {@code LoaderSettings}, a step scheduler or token merger, a video writer's
 * arguments). The message names the parameter, the offending value and what is allowed.
 *
 * <p>Earlier versions threw {@link IllegalArgumentException} (and {@link NullPointerException} for a
 * missing value) here; both are now this type, so that every exception a caller meets is a {@link
 * Sora4jException}. Code that caught {@code IllegalArgumentException} should catch this type (or
 * {@link Sora4jException}).
 */
public class InvalidConfigurationException extends Sora4jException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message the parameter, the offending value and the allowed range or the fix
     */
    public InvalidConfigurationException(String message) {
        super(message);
    }

    /**
     * Creates an exception with a cause.
     *
     * @param message the parameter, the offending value and the allowed range or the fix
     * @param cause the underlying failure
     */
    public InvalidConfigurationException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * Returns a value that must be given, or throws naming it.
     *
     * @param <T> the value's type
     * @param value the value
     * @param name the parameter's name, for the message
     * @return the value
     * @throws InvalidConfigurationException if the value is null
     */
    public static <T> T requireNonNull(T value, String name) {
        if (value == null) {
            throw new InvalidConfigurationException(name + " is null (a value is required)");
        }
        return value;
    }
}
