package io.github.sora4j.merge;

import io.github.sora4j.InvalidConfigurationException;

/**
 * Temporal Dimension Token Merging (TDTM, On-device Sora §5.2): during the first k denoising steps,
 * the tokens of r consecutive latent frames are averaged before self- and cross-attention (in
 * both the spatial and the temporal half of every STDiT block pair) and repeated back after, so
 * attention sees T' = ⌈T/r⌉ frames; the MLP stays at full resolution. With r = 2 this is the
 * paper's TDTM: spatial attention and cross-attention cost halve, temporal attention cost drops
 * to a quarter. An odd T keeps its last frame as a group of its own, and unmerging restores
 * exactly T frames (upstream gets T = 14 and T = 21 wrong).
 *
 * <p>Early steps are noise-dominated, which is why merging them costs little quality (paper
 * Table 4: 15 of 30 steps merged, 1.13×; all 30, 1.27×). Stateless and shareable.
 *
 * <pre>{@code
 * TokenMerger tdtm = TemporalTokenMerger.pairs(15);         // paper app default: first 15 steps
 * TokenMerger all = TemporalTokenMerger.pairs(Integer.MAX_VALUE);
 * TokenMerger coarse = new TemporalTokenMerger(4, 10);      // groups of 4 frames, first 10 steps
 * }</pre>
 */
public final class TemporalTokenMerger implements TokenMerger {
    /** Merged steps of the paper's app. */
    public static final int DEFAULT_MERGE_STEPS = 15;

    private final int groupSize;
    private final int mergeSteps;

    /**
     * Creates a merger.
     *
     * @param groupSize r, frames averaged together, ≥ 2
     * @param mergeSteps k, steps 0..k−1 merge ({@link Integer#MAX_VALUE} for all), ≥ 0
     */
    public TemporalTokenMerger(int groupSize, int mergeSteps) {
        if (groupSize < 2) {
            throw new InvalidConfigurationException("groupSize must be >= 2 but was " + groupSize);
        }
        if (mergeSteps < 0) {
            throw new InvalidConfigurationException("mergeSteps must be >= 0 but was " + mergeSteps);
        }
        this.groupSize = groupSize;
        this.mergeSteps = mergeSteps;
    }

    /**
     * The paper's TDTM: frame pairs, first k steps.
     *
     * @param mergeSteps k ({@link Integer#MAX_VALUE} for all steps)
     * @return the merger
     */
    public static TemporalTokenMerger pairs(int mergeSteps) {
        return new TemporalTokenMerger(2, mergeSteps);
    }

    @Override
    public FrameGroups groups(int step, int stepCount, int frames) {
        return step < mergeSteps ? FrameGroups.consecutive(frames, groupSize)
                : FrameGroups.identity(frames);
    }

    /**
     * Frames per group.
     *
     * @return r
     */
    public int groupSize() {
        return groupSize;
    }

    /**
     * Steps that merge.
     *
     * @return k
     */
    public int mergeSteps() {
        return mergeSteps;
    }

    @Override
    public String toString() {
        return "TemporalTokenMerger[r=" + groupSize + ", steps="
                + (mergeSteps == Integer.MAX_VALUE ? "all" : mergeSteps) + "]";
    }
}
