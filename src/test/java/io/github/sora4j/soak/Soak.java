package io.github.sora4j.soak;

/**
 * The soak suite's length: short by default (CI), long with {@code -Dsoak=long} (see
 * docs/troubleshooting.md, "Fault and soak suite").
 */
public final class Soak {
    private Soak() {}

    /**
     * Whether the long version was asked for.
     *
     * @return true with {@code -Dsoak=long}
     */
    public static boolean isLong() {
        return "long".equalsIgnoreCase(System.getProperty("soak", "short"));
    }

    /**
     * A count for the short or the long run.
     *
     * @param shortCount the CI count
     * @param longCount the {@code -Dsoak=long} count
     * @return the count for this run
     */
    public static int count(int shortCount, int longCount) {
        return isLong() ? longCount : shortCount;
    }
}
