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

    /**
     * The paper's TDTM: average frame pairs during the first k steps.
     *
     * @param mergeSteps k (15 in the paper's app; {@link Integer#MAX_VALUE} for all steps)
     * @return the merger
     */
    public static TokenMerger tdtm(int mergeSteps) {
        return TemporalTokenMerger.pairs(mergeSteps);
    }
}
