package io.github.sora4j.load;

import io.github.sora4j.Sora4jException;

/**
 * A block loader's {@link MemoryBudget} cannot hold what the model needs. Budget-aware loaders
 * throw it before they load anything: when they are made (a block bigger than the whole budget),
 * when a generation is announced ({@link BlockLoader#beginGeneration}: one block plus the set's
 * activations do not fit, so even sequential loading cannot run), or when a caller holds more
 * blocks at once than fit.
 */
public class BudgetExceededException extends Sora4jException {
    private static final long serialVersionUID = 1L;

    /** Bytes that were needed. */
    private final long requestedBytes;
    /** Bytes the budget had available for it. */
    private final long availableBytes;

    /**
     * Creates the exception; the message states both numbers.
     *
     * @param what what needed the memory, e.g. {@code "block set stdit: largest block
     *     stdit.block.00 plus activations"}
     * @param requestedBytes bytes that were needed
     * @param availableBytes bytes the budget has for it
     */
    public BudgetExceededException(String what, long requestedBytes, long availableBytes) {
        super(what + " needs " + requestedBytes + " bytes (" + MemoryBudget.format(requestedBytes)
                + ") but the memory budget has " + availableBytes + " bytes ("
                + MemoryBudget.format(availableBytes) + ") available");
        this.requestedBytes = requestedBytes;
        this.availableBytes = availableBytes;
    }

    /**
     * Bytes that were needed.
     *
     * @return the requested bytes
     */
    public long requestedBytes() {
        return requestedBytes;
    }

    /**
     * Bytes the budget had for it.
     *
     * @return the available bytes
     */
    public long availableBytes() {
        return availableBytes;
    }
}
