package io.github.sora4j.pack;

import io.github.sora4j.Sora4jException;

/**
 * A model pack is missing, corrupt (size or sha256 mismatch, truncated block), of an unknown format
 * version, or otherwise unusable. The message names the file and the offending value.
 */
public final class ModelPackException extends Sora4jException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message what is wrong with the pack, naming the file
     */
    public ModelPackException(String message) {
        super(message);
    }

    /**
     * Creates an exception with a cause.
     *
     * @param message what is wrong with the pack, naming the file
     * @param cause the underlying failure
     */
    public ModelPackException(String message, Throwable cause) {
        super(message, cause);
    }
}
