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
     * The paper's TDTM: average frame pairs during the first k steps, with the project's rule for
     * an odd latent frame count T (the last frame is a group of its own).
     *
     * @param mergeSteps k (15 in the paper's app; {@link Integer#MAX_VALUE} for all steps)
     * @return the merger
     */
    public static TokenMerger tdtm(int mergeSteps) {
        return TemporalTokenMerger.pairs(mergeSteps);
    }

    /**
     * TDTM as the paper's code runs it (eai-lab/On-device-Sora 47a90a5): frame pairs during the
     * first k steps; for T ≡ 3 (mod 4) the last frame is dropped when merging and gets the last
     * pair's output after unmerging. Where upstream's code fails (T ≡ 1 mod 4, T ≡ 2 mod 4 other
     * than 30, T = 31) it uses the project's rule; see {@link UpstreamTemporalTokenMerger}.
     *
     * @param mergeSteps k ({@link Integer#MAX_VALUE} for all steps)
     * @return the merger
     */
    public static TokenMerger tdtmUpstream(int mergeSteps) {
        return new UpstreamTemporalTokenMerger(mergeSteps);
    }
}
