package io.github.sora4j.merge;

/** Factories of the built-in {@link TokenMerger}s. */
public final class TokenMergers {
    private static final TokenMerger NONE = new TokenMerger() {
        @Override
        public FrameGroups groups(int step, int stepCount, int frames) {
            return FrameGroups.identity(frames);
        }

        @Override
        public String toString() {
            return "TokenMergers.none()";
        }
    };

    private TokenMergers() {}

    /**
     * Never merges: every step takes the fused block forward.
     *
     * @return the no-merge strategy
     */
    public static TokenMerger none() {
        return NONE;
    }
}
