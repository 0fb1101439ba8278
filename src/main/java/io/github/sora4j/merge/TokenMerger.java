package io.github.sora4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.util.Optional;

/**
 * Decides, per denoising step, whether and how STDiT tokens are merged along time before
 * attention: the strategy behind TDTM (Temporal Dimension Token Merging).
 *
 * <p>When {@link #groups} returns a non-identity partition for a step, the denoiser runs each
 * STDiT block pair through its sub-stages and, for both the spatial and the temporal half,
 * {@link #merge merges} the normalised+modulated tokens before self-attention and the residual
 * stream before cross-attention, and {@link #unmerge unmerges} the outputs before the gate or the
 * residual add; the MLP stays at full resolution. An identity partition takes the fused fast path.
 *
 * <p>Tokens are laid out [B, T·S, C] in (t, row, col) order, S tokens per frame. The default
 * {@code merge} averages each group's frames (summing in order, then dividing by the group
 * size); {@code unmerge} repeats each group back to its frames, restoring exactly T frames.
 *
 * <p>Packs of the current exporter merge inside the block instead (the pair's {@code
 * forward_merged} method, one call per pair, no token copies in Java), for every merger whose
 * merge {@link #averagedFrames can be described} as averaging each group's leading frames and
 * whose unmerge repeats the group: the same float32 operations, bit-equal to {@code merge} and
 * {@code unmerge} here. Other mergers, and packs exported before the method, take the Java path.
 *
 * <pre>{@code
 * TokenMerger none = TokenMergers.none();
 * FrameGroups g = none.groups(0, 30, 20);   // identity: no merging
 * }</pre>
 */
public interface TokenMerger {

    /**
     * The frame partition to use at a step.
     *
     * @param step 0-based step index
     * @param stepCount steps K of the generation
     * @param frames latent frames T
     * @return the grouping; {@link FrameGroups#identity} means no merging at this step
     */
    FrameGroups groups(int step, int stepCount, int frames);

    /**
     * How many leading frames of each group {@link #merge} averages, for the in-block merge of
     * packs that have it ({@code forward_merged}: group g's output is the mean of its first {@code
     * averaged[g]} frames, summed in order then divided, and unmerging repeats it over all the
     * group's frames). Empty means this merger's arithmetic is not that, and the pipeline merges
     * in Java with {@link #merge} and {@link #unmerge}.
     *
     * <p>The default describes the default {@code merge} and {@code unmerge} (every frame of a
     * group averaged) and is empty for a class that overrides either of them; such a class
     * overrides this method too if its merge is still of that form (as {@link
     * UpstreamTemporalTokenMerger} does).
     *
     * @param groups a partition from {@link #groups}
     * @return frames averaged per group (each 1 to the group's size), or empty
     */
    default Optional<int[]> averagedFrames(FrameGroups groups) {
        return DefaultArithmetic.keptBy(getClass()) ? Optional.of(groups.sizes()) : Optional.empty();
    }

    /**
     * Merges tokens: [B, T·S, C] → [B, T'·S, C] by averaging each group's frames.
     *
     * @param tokens the tokens (not closed)
     * @param groups the partition of T
     * @param spatialTokens S, tokens per frame
     * @return the merged tokens, attached to the input's manager
     */
    default NDArray merge(NDArray tokens, FrameGroups groups, int spatialTokens) {
        Shape s = tokens.getShape();
        long b = s.get(0);
        long c = s.get(2);
        NDArray frames = tokens.reshape(b, groups.frames(), spatialTokens, c);
        // Leading groups of one size r: one strided view per position in the group, summed in
        // order and divided by r for all of them at once (the same arithmetic, in a handful of
        // native calls instead of several per group).
        int r = groups.size(0);
        int uniform = 0;
        while (uniform < groups.groupCount() && groups.size(uniform) == r) {
            uniform++;
        }
        NDList parts = new NDList();
        if (r > 1 && uniform > 1) {
            NDArray u = frames.get(new NDIndex(":, 0:{}", uniform * r))
                    .reshape(b, uniform, r, spatialTokens, c);
            NDArray sum = u.get(new NDIndex(":, :, 0"));
            for (int f = 1; f < r; f++) {
                sum = sum.add(u.get(new NDIndex(":, :, {}", f)));
            }
            parts.add(sum.div((float) r));
        } else {
            uniform = 0;
        }
        int start = uniform * r;
        for (int g = uniform; g < groups.groupCount(); g++) {
            int size = groups.size(g);
            NDArray sum = frames.get(new NDIndex(":, {}:{}", start, start + 1));
            for (int f = 1; f < size; f++) {
                sum = sum.add(frames.get(new NDIndex(":, {}:{}", start + f, start + f + 1)));
            }
            parts.add(size == 1 ? sum : sum.div((float) size));
            start += size;
        }
        NDArray merged = parts.size() == 1 ? parts.head() : NDArrays.concat(parts, 1);
        return merged.reshape(b, (long) groups.groupCount() * spatialTokens, c);
    }

    /**
     * Unmerges tokens: [B, T'·S, C] → [B, T·S, C] by repeating each group for its frames.
     *
     * @param tokens merged tokens (not closed)
     * @param groups the partition used to merge
     * @param spatialTokens S, tokens per frame
     * @return tokens at full frame count, attached to the input's manager
     */
    default NDArray unmerge(NDArray tokens, FrameGroups groups, int spatialTokens) {
        Shape s = tokens.getShape();
        long b = s.get(0);
        long c = s.get(2);
        NDArray merged = tokens.reshape(b, groups.groupCount(), spatialTokens, c);
        // Leading groups of one size r: repeat each of them r times along time in one call.
        int r = groups.size(0);
        int uniform = 0;
        while (uniform < groups.groupCount() && groups.size(uniform) == r) {
            uniform++;
        }
        NDList parts = new NDList();
        if (r > 1 && uniform > 1) {
            parts.add(merged.get(new NDIndex(":, 0:{}", uniform)).repeat(1, r));
        } else {
            uniform = 0;
        }
        for (int g = uniform; g < groups.groupCount(); g++) {
            NDArray frame = merged.get(new NDIndex(":, {}:{}", g, g + 1));
            for (int f = 0; f < groups.size(g); f++) {
                parts.add(frame);
            }
        }
        NDArray full = parts.size() == 1 ? parts.head() : NDArrays.concat(parts, 1);
        return full.reshape(b, (long) groups.frames() * spatialTokens, c);
    }
}
