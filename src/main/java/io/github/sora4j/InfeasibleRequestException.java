package io.github.sora4j;

/**
 * A request that cannot run in this process, refused before any block loads: its latent or its
 * decoded frames are too many elements for a Java array, or its estimated memory exceeds the JVM
 * heap or the physical memory available. The message names the limit, what the request needs and
 * the largest request of the same shape that fits; see {@link
 * io.github.sora4j.device.Feasibility}.
 */
public final class InfeasibleRequestException extends InvalidRequestException {
    private static final long serialVersionUID = 1L;

    /** The limit that is exceeded. */
    private final String limit;
    /** What the request needs. */
    private final long needed;
    /** What the limit allows. */
    private final long available;

    /**
     * Creates an exception.
     *
     * @param limit the limit that is exceeded, e.g. {@code "native memory"}
     * @param needed what the request needs (bytes or elements, as the message says)
     * @param available what the limit allows, in the same unit
     * @param message the full message: the limit, both numbers and the largest request that fits
     */
    public InfeasibleRequestException(String limit, long needed, long available, String message) {
        super(message);
        this.limit = limit;
        this.needed = needed;
        this.available = available;
    }

    /**
     * The limit that is exceeded.
     *
     * @return e.g. {@code "native memory"}, {@code "JVM heap"}, {@code "latent elements"}
     */
    public String limit() {
        return limit;
    }

    /**
     * What the request needs.
     *
     * @return bytes or elements
     */
    public long needed() {
        return needed;
    }

    /**
     * What the limit allows.
     *
     * @return bytes or elements
     */
    public long available() {
        return available;
    }
}
