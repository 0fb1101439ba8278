package io.github.sora4j.load;

import io.github.sora4j.InvalidConfigurationException;

/**
 * How much memory a pipeline may use for model weights and activations.
 *
 * <p>{@code totalBytes} is what the process may use (on the paper's iPhone 15 Pro, 3.3 GB of its
 * 8 GB); {@code reservedBytes} is the part of it that the runtime holds regardless of the model
 * (libtorch, the JVM or ART, the tokenizer). What is left, {@link #availableBytes()}, is shared by
 * the loaded blocks' parameters and the activations of the block set that is running. Budget-aware
 * {@link BlockLoader}s treat it as a hard limit: the parameter bytes they hold, counting a block
 * whose load is in flight, never exceed {@code availableBytes() - activation peak} (see
 * docs/memory.md).
 *
 * @param totalBytes memory the process may use, in bytes
 * @param reservedBytes bytes of it held outside the model (runtime, heap), in {@code [0, total)}
 */
public record MemoryBudget(long totalBytes, long reservedBytes) {

    /**
     * Creates a budget; {@link #ofBytes(long)} and {@link #unlimited()} cover the common cases.
     *
     * @param totalBytes memory the process may use, in bytes, {@code > 0}; {@link Long#MAX_VALUE}
     *     means no limit
     * @param reservedBytes the part of {@code totalBytes} held outside the model (libtorch, the JVM
     *     heap, the tokenizer), in bytes, in {@code [0, totalBytes)}
     * @throws InvalidConfigurationException if a value is out of range
     */
    public MemoryBudget {
        if (totalBytes <= 0) {
            throw new InvalidConfigurationException("totalBytes must be > 0 but was " + totalBytes);
        }
        if (reservedBytes < 0 || reservedBytes >= totalBytes) {
            throw new InvalidConfigurationException("reservedBytes must be in [0, totalBytes) but was "
                    + reservedBytes + " of " + totalBytes);
        }
    }

    /**
     * A budget with nothing reserved.
     *
     * @param availableBytes bytes for weights and activations
     * @return the budget
     */
    public static MemoryBudget ofBytes(long availableBytes) {
        return new MemoryBudget(availableBytes, 0);
    }

    /**
     * No limit ({@link Long#MAX_VALUE} bytes): what the plain resident loader assumes.
     *
     * @return the budget
     */
    public static MemoryBudget unlimited() {
        return new MemoryBudget(Long.MAX_VALUE, 0);
    }

    /**
     * Bytes for weights and activations: {@code totalBytes - reservedBytes}.
     *
     * @return the available bytes
     */
    public long availableBytes() {
        return totalBytes - reservedBytes;
    }

    /**
     * Whether this is {@link #unlimited()}.
     *
     * @return true for no limit
     */
    public boolean isUnlimited() {
        return totalBytes == Long.MAX_VALUE;
    }

    /**
     * Formats bytes for messages and tables: {@code 170.0 MB}, {@code 3.30 GB} (powers of 1000).
     *
     * @param bytes a byte count
     * @return the text
     */
    public static String format(long bytes) {
        if (bytes == Long.MAX_VALUE) {
            return "unlimited";
        }
        double b = bytes;
        if (Math.abs(b) >= 1e9) {
            return String.format(java.util.Locale.ROOT, "%.2f GB", b / 1e9);
        }
        if (Math.abs(b) >= 1e6) {
            return String.format(java.util.Locale.ROOT, "%.1f MB", b / 1e6);
        }
        if (Math.abs(b) >= 1e3) {
            return String.format(java.util.Locale.ROOT, "%.1f kB", b / 1e3);
        }
        return bytes + " B";
    }

    @Override
    public String toString() {
        return isUnlimited() ? "MemoryBudget[unlimited]"
                : "MemoryBudget[" + format(totalBytes) + " total, " + format(reservedBytes)
                        + " reserved, " + format(availableBytes()) + " available]";
    }
}
