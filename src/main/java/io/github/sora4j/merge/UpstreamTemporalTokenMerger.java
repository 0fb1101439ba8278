package io.github.sora4j.merge;

import io.github.sora4j.InvalidConfigurationException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.util.Optional;

/**
 * TDTM with the frame rule of the paper's code (eai-lab/On-device-Sora, commit 47a90a5, {@code
 * merge.merge}/{@code merge.unmerge} of its modified STDiT3): frame pairs during the first k
 * steps, and for an odd latent frame count T the last frame is <em>dropped</em> when merging and,
 * after unmerging, receives a copy of the last pair's output. The project's {@link
 * TemporalTokenMerger} instead keeps the last frame as a group of its own.
 *
 * <p>Upstream's unmerge restores T frames only for T ≡ 0 or 3 (mod 4), and for T = 30 through a
 * special case; for every other T (T ≡ 1 mod 4 such as the 17-frame T = 5; T ≡ 2 mod 4 other
 * than 30; T = 31) it produces a wrong frame count and the model call fails. For those T this
 * merger uses the project's rule, so it runs at every T: for T ≡ 2 (mod 4) that is plain pairs,
 * which is what upstream's merge computes; for T ≡ 1 (mod 4) and T = 31 the last frame is a
 * group of its own. {@link #followsUpstream(int)} says which rule a T gets.
 *
 * <p>As {@link FrameGroups}, a dropped last frame is the third frame of the last group ([2, …, 2,
 * 3]): {@link #merge} averages only the group's first two frames and the default unmerge repeats
 * the group's output over all three. Stateless and shareable.
 *
 * <pre>{@code
 * TokenMerger upstream = TokenMergers.tdtmUpstream(15);
 * upstream.groups(0, 30, 15);   // FrameGroups[2, 2, 2, 2, 2, 2, 3]: 7 merged frames, as upstream
 * }</pre>
 */
public final class UpstreamTemporalTokenMerger implements TokenMerger {
    private final int mergeSteps;

    /**
     * Creates the merger.
     *
     * @param mergeSteps k, steps 0..k−1 merge ({@link Integer#MAX_VALUE} for all), ≥ 0
     */
    public UpstreamTemporalTokenMerger(int mergeSteps) {
        if (mergeSteps < 0) {
            throw new InvalidConfigurationException("mergeSteps must be >= 0 but was " + mergeSteps);
        }
        this.mergeSteps = mergeSteps;
    }

    /**
     * Whether upstream's code runs at T latent frames, i.e. whether this merger reproduces it
     * there rather than falling back to the project's rule.
     *
     * @param frames T
     * @return true for T ≡ 0 (mod 4), T ≡ 3 (mod 4) except 31, and T = 30
     */
    public static boolean followsUpstream(int frames) {
        return frames % 4 == 0 || (frames % 4 == 3 && frames != 31) || frames == 30;
    }

    @Override
    public FrameGroups groups(int step, int stepCount, int frames) {
        if (step >= mergeSteps) {
            return FrameGroups.identity(frames);
        }
        if (frames % 4 == 3 && frames != 31) {
            int[] sizes = new int[(frames - 1) / 2];
            java.util.Arrays.fill(sizes, 2);
            sizes[sizes.length - 1] = 3;
            return new FrameGroups(frames, sizes);
        }
        return FrameGroups.consecutive(frames, 2);
    }

    /**
     * Averages frame pairs; for a last group of three frames (upstream's odd T) the third frame
     * is left out, as upstream drops it before averaging.
     */
    @Override
    public NDArray merge(NDArray tokens, FrameGroups groups, int spatialTokens) {
        int last = groups.groupCount() - 1;
        if (groups.size(last) != 3) {
            return TokenMerger.super.merge(tokens, groups, spatialTokens);
        }
        Shape s = tokens.getShape();
        long b = s.get(0);
        long c = s.get(2);
        int kept = groups.frames() - 1;
        NDArray withoutLast = tokens.reshape(b, groups.frames(), spatialTokens, c)
                .get(new NDIndex(":, 0:{}", kept)).reshape(b, (long) kept * spatialTokens, c);
        return TokenMerger.super.merge(withoutLast, FrameGroups.consecutive(kept, 2),
                spatialTokens);
    }

    /**
     * Every frame of each group, except in a last group of three (upstream's odd T), whose third
     * frame {@link #merge} leaves out: the in-block merge then computes what {@code merge} does.
     *
     * @param groups a partition from {@link #groups}
     * @return frames averaged per group
     */
    @Override
    public Optional<int[]> averagedFrames(FrameGroups groups) {
        int[] averaged = groups.sizes();
        int last = averaged.length - 1;
        if (averaged[last] == 3) {
            averaged[last] = 2;
        }
        return Optional.of(averaged);
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
        return "UpstreamTemporalTokenMerger[steps="
                + (mergeSteps == Integer.MAX_VALUE ? "all" : mergeSteps) + "]";
    }
}
