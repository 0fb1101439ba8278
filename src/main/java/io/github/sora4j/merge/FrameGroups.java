package io.github.sora4j.merge;

import io.github.sora4j.InvalidConfigurationException;
import java.util.Arrays;

/**
 * A partition of T consecutive latent frames into groups whose tokens a {@link TokenMerger}
 * averages (merge) and later repeats back (unmerge). Group g covers {@code sizes[g]} frames,
 * in order.
 *
 * @param frames T, the frame count being partitioned
 * @param sizes group sizes, each ≥ 1, summing to T (copied)
 */
public record FrameGroups(int frames, int[] sizes) {

    /**
     * Validates and copies.
     *
     * @param frames T, the frame count being partitioned
     * @param sizes group sizes, each ≥ 1, summing to T (copied)
     */
    public FrameGroups {
        if (frames < 1) {
            throw new InvalidConfigurationException("frames must be >= 1 but was " + frames);
        }
        sizes = sizes.clone();
        int sum = 0;
        for (int s : sizes) {
            if (s < 1) {
                throw new InvalidConfigurationException("group sizes must be >= 1 but were "
                        + Arrays.toString(sizes));
            }
            sum += s;
        }
        if (sum != frames) {
            throw new InvalidConfigurationException("group sizes " + Arrays.toString(sizes)
                    + " sum to " + sum + ", not to frames=" + frames);
        }
    }

    /**
     * One group per frame: nothing merges.
     *
     * @param frames T
     * @return the identity partition
     */
    public static FrameGroups identity(int frames) {
        int[] ones = new int[frames];
        Arrays.fill(ones, 1);
        return new FrameGroups(frames, ones);
    }

    /**
     * Consecutive groups of r frames; a shorter last group holds the remainder (so an odd T with
     * r = 2 keeps its last frame on its own and unmerging restores exactly T frames).
     *
     * @param frames T
     * @param r frames per group, ≥ 1
     * @return the partition
     */
    public static FrameGroups consecutive(int frames, int r) {
        if (r < 1) {
            throw new InvalidConfigurationException("group size r must be >= 1 but was " + r);
        }
        int n = (frames + r - 1) / r;
        int[] s = new int[n];
        for (int g = 0; g < n; g++) {
            s[g] = Math.min(r, frames - g * r);
        }
        return new FrameGroups(frames, s);
    }

    /**
     * Number of groups, i.e. the merged frame count T'.
     *
     * @return T'
     */
    public int groupCount() {
        return sizes.length;
    }

    /**
     * Whether every group is a single frame.
     *
     * @return true if merging would change nothing
     */
    public boolean isIdentity() {
        return sizes.length == frames;
    }

    /**
     * The size of each group, in frame order.
     *
     * @return a copy of the sizes
     */
    @Override
    public int[] sizes() {
        return sizes.clone();
    }

    /**
     * Size of one group.
     *
     * @param g group index
     * @return frames in group g
     */
    public int size(int g) {
        return sizes[g];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FrameGroups f && f.frames == frames && Arrays.equals(f.sizes, sizes);
    }

    @Override
    public int hashCode() {
        return 31 * frames + Arrays.hashCode(sizes);
    }

    @Override
    public String toString() {
        return "FrameGroups" + Arrays.toString(sizes);
    }
}
