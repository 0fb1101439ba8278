package io.github.sora4j.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.load.LoadedBlock;
import io.github.sora4j.merge.FrameGroups;
import io.github.sora4j.merge.TokenMerger;
import java.util.Optional;

/**
 * One STDiT block pair on a merged (TDTM) step. Two paths, with the same result bit for bit:
 *
 * <ul>
 *   <li><b>in the block</b>: one call of the pair's {@code forward_merged} (packs of the current
 *       exporter), which merges, attends and unmerges inside TorchScript, given the partition as
 *       an int64 [2, G] tensor (frames per group; frames averaged per group, {@link
 *       TokenMerger#averagedFrames}). No token copies in Java;
 *   <li><b>in Java</b>: the ten sub-stage calls with {@link TokenMerger#merge} and {@link
 *       TokenMerger#unmerge} between them, for blocks exported before {@code forward_merged} and
 *       for mergers whose arithmetic the method cannot express.
 * </ul>
 */
public final class MergedPair {
    /** The pair's TDTM method of the current exporter. */
    public static final String METHOD = "forward_merged";
    private static final String[] HALVES = {"spatial", "temporal"};

    private MergedPair() {}

    /**
     * Whether {@link #run} takes the in-block path for a block and merger.
     *
     * @param block the pair
     * @param merger the step's merger
     * @param groups the step's partition
     * @return true if the block has {@value #METHOD} and the merger describes its merge
     */
    public static boolean inBlock(LoadedBlock block, TokenMerger merger, FrameGroups groups) {
        return block.hasMethod(METHOD) && merger.averagedFrames(groups).isPresent();
    }

    /**
     * Runs the pair on a merged step, in the block where it can ({@link #inBlock}), else in Java.
     *
     * @param block the pair
     * @param x tokens [B, T·S, C]
     * @param yTokens caption tokens [B, L, C]
     * @param tMlp modulation [B, 6C]
     * @param groups the partition of T (not the identity)
     * @param merger merges and unmerges; describes its merge for the in-block path
     * @param spatialTokens S
     * @param out manager of the result and of every intermediate
     * @return the pair's output tokens [B, T·S, C]
     */
    public static NDArray run(LoadedBlock block, NDArray x, NDArray yTokens, NDArray tMlp,
            FrameGroups groups, TokenMerger merger, int spatialTokens, NDManager out) {
        Optional<int[]> averaged = block.hasMethod(METHOD) ? merger.averagedFrames(groups)
                : Optional.empty();
        return averaged.isPresent()
                ? block.call(METHOD, out, x, yTokens, tMlp, layout(groups, averaged.get(), out))
                        .head()
                : inJava(block, x, yTokens, tMlp, groups, merger, spatialTokens, out);
    }

    /**
     * The partition as {@value #METHOD} takes it: int64 [2, G], row 0 the frames of each group,
     * row 1 the frames its merge averages.
     *
     * @param groups the partition
     * @param averaged frames averaged per group (each 1 to the group's size)
     * @param out manager of the tensor
     * @return the layout tensor
     * @throws InvalidConfigurationException if {@code averaged} does not fit the groups
     */
    public static NDArray layout(FrameGroups groups, int[] averaged, NDManager out) {
        int g = groups.groupCount();
        if (averaged.length != g) {
            throw new InvalidConfigurationException("averagedFrames gave " + averaged.length
                    + " counts for " + g + " groups " + groups);
        }
        long[] rows = new long[2 * g];
        for (int i = 0; i < g; i++) {
            if (averaged[i] < 1 || averaged[i] > groups.size(i)) {
                throw new InvalidConfigurationException("group " + i + " of " + groups + " has "
                        + groups.size(i) + " frames but averagedFrames says " + averaged[i]
                        + " of them are averaged (must be 1 to " + groups.size(i) + ")");
            }
            rows[i] = groups.size(i);
            rows[g + i] = averaged[i];
        }
        return out.create(rows, new Shape(2, g));
    }

    /**
     * The Java path: the sub-stage calls with the merger's merge and unmerge between them.
     *
     * @param block the pair
     * @param x tokens [B, T·S, C]
     * @param yTokens caption tokens [B, L, C]
     * @param tMlp modulation [B, 6C]
     * @param groups the partition of T
     * @param merger merges and unmerges
     * @param spatialTokens S
     * @param out manager of the result and of every intermediate
     * @return the pair's output tokens [B, T·S, C]
     */
    public static NDArray inJava(LoadedBlock block, NDArray x, NDArray yTokens, NDArray tMlp,
            FrameGroups groups, TokenMerger merger, int spatialTokens, NDManager out) {
        int s = spatialTokens;
        NDArray mergedFrames = out.create((long) groups.groupCount());
        for (String half : HALVES) {
            NDArray h = block.call(half + "_norm_msa", out, x, tMlp).head();
            NDArray a = block.call(half + "_self_attn", out, merger.merge(h, groups, s),
                    mergedFrames).head();
            x = block.call(half + "_gate_msa", out, x, merger.unmerge(a, groups, s), tMlp).head();
            NDArray c = block.call(half + "_cross_attn", out, merger.merge(x, groups, s), yTokens)
                    .head();
            x = x.add(merger.unmerge(c, groups, s));
            x = block.call(half + "_mlp", out, x, tMlp).head();
        }
        return x;
    }
}
