package io.github.sora4j.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.LoadedBlock;
import io.github.sora4j.merge.FrameGroups;
import io.github.sora4j.merge.TokenMerger;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.ModelPackException;
import io.github.sora4j.pack.PackManifest;
import java.util.List;

/**
 * Runs the STDiT3 blocks for one sampling step with classifier-free guidance: embed, the block
 * pairs (fused, or with token merging: {@link MergedPair}), final layer, CFG combination.
 */
public final class Denoiser {
    private final PackManifest.Stdit config;
    private final BlockInfo embed;
    private final List<BlockInfo> pairs;
    private final BlockInfo fin;
    private final List<BlockInfo> all;

    /**
     * Reads the STDiT blocks of a pack.
     *
     * @param pack the pack
     */
    public Denoiser(ModelPack pack) {
        this.config = pack.manifest().stdit();
        this.all = pack.manifest().blocks("stdit");
        this.embed = single(all, "stdit-embed");
        this.fin = single(all, "stdit-final");
        this.pairs = all.stream().filter(b -> b.role().equals("stdit-block")).toList();
    }

    private static BlockInfo single(List<BlockInfo> blocks, String role) {
        List<BlockInfo> found = blocks.stream().filter(b -> b.role().equals(role)).toList();
        if (found.size() != 1) {
            throw new ModelPackException("the stdit set needs exactly one '" + role + "' block, "
                    + "found " + found.size());
        }
        return found.get(0);
    }

    /**
     * Tokens per frame after padding the latent to multiples of the patch size.
     *
     * @param latentHeight H'
     * @param latentWidth W'
     * @return S = ceil(H'/p_h)·ceil(W'/p_w)
     */
    public int spatialTokens(int latentHeight, int latentWidth) {
        int ph = config.patchSize()[1];
        int pw = config.patchSize()[2];
        return ((latentHeight + ph - 1) / ph) * ((latentWidth + pw - 1) / pw);
    }

    /**
     * Per-generation inputs that do not change between steps.
     *
     * @param captions conditional and null caption rows, [2, L, Ccap]
     * @param fps [1] frame rate
     * @param height [1] pixel height
     * @param width [1] pixel width
     * @param numFrames int64 scalar T
     * @param latentSize int64 [3] (T, H', W')
     * @param spatialTokens S
     */
    public record Conditioning(NDArray captions, NDArray fps, NDArray height, NDArray width,
            NDArray numFrames, NDArray latentSize, int spatialTokens) {}

    /**
     * Runs one step.
     *
     * @param z latent [1, C, T, H', W']
     * @param timestep t' of this step
     * @param guidance CFG scale
     * @param cond the per-generation inputs
     * @param groups frame grouping for token merging (identity: fused path)
     * @param merger merges and unmerges tokens when {@code groups} is not the identity
     * @param loader loads the blocks
     * @param out manager of the returned velocity and of every intermediate
     * @param afterBlock told after each block
     * @return the CFG velocity [1, C, T, H', W'] attached to {@code out}
     */
    public NDArray velocity(NDArray z, double timestep, double guidance, Conditioning cond,
            FrameGroups groups, TokenMerger merger, BlockLoader loader, NDManager out,
            BlockCallback afterBlock) {
        return velocity(z, timestep, guidance, cond, groups, merger, loader, out, afterBlock, null);
    }

    /**
     * The block stack's residual for step caching: a skipped step adds a cached residual to the
     * embed block's output instead of running the block pairs; a computed step hands over its own.
     */
    public interface Residuals {
        /**
         * The residual to reuse, or null to run the block pairs.
         *
         * @return [2, N, D] or null
         */
        NDArray cached();

        /**
         * Told the residual (output − input of the block pairs) of a computed step.
         *
         * @param residual attached to the step's manager; the callee may re-attach it
         */
        void computed(NDArray residual);
    }

    /**
     * Runs one step, reusing or recording the block stack's residual.
     *
     * @param z latent [1, C, T, H', W']
     * @param timestep t' of this step
     * @param guidance CFG scale
     * @param cond the per-generation inputs
     * @param groups frame grouping for token merging (identity: fused path)
     * @param merger merges and unmerges tokens when {@code groups} is not the identity
     * @param loader loads the blocks
     * @param out manager of the returned velocity and of every intermediate
     * @param afterBlock told after each block
     * @param residuals step caching, or null (the block pairs run, nothing is kept)
     * @return the CFG velocity [1, C, T, H', W'] attached to {@code out}
     */
    public NDArray velocity(NDArray z, double timestep, double guidance, Conditioning cond,
            FrameGroups groups, TokenMerger merger, BlockLoader loader, NDManager out,
            BlockCallback afterBlock, Residuals residuals) {
        loader.beginSet(all);
        int count = all.size();
        int index = 0;
        NDArray zIn = NDArrays.concat(new NDList(z, z), 0);
        NDArray t = out.create(new float[] {(float) timestep, (float) timestep}, new Shape(2));
        NDList e = run(loader, embed, out, index++, count, afterBlock, zIn, t, cond.captions(),
                cond.fps(), cond.height(), cond.width());
        NDArray x = e.get(0);
        NDArray yTokens = e.get(1);
        NDArray tMlp = e.get(2);
        NDArray tEmb = e.get(3);
        NDArray reused = residuals == null ? null : residuals.cached();
        NDArray embedded = x;
        if (reused != null) {
            x = x.add(reused);
            index += pairs.size();
        }
        for (BlockInfo pair : reused != null ? List.<BlockInfo>of() : pairs) {
            long start = System.nanoTime();
            NDArray input = x;
            // Each pair's intermediates live in a scope freed after it: only x crosses pairs, so
            // a step holds one pair's activations, not all of them (docs/memory.md).
            try (LoadedBlock block = loader.acquire(pair);
                    NDManager scope = out.newSubManager()) {
                x = groups.isIdentity()
                        ? block.forward(scope, x, yTokens, tMlp, cond.numFrames()).head()
                        : mergedPair(block, x, yTokens, tMlp, groups, merger, cond, scope);
                x.attach(out);
            }
            if (residuals == null || input != embedded) {
                input.close();
            }
            afterBlock.done(index++, count, pair, System.nanoTime() - start);
        }
        if (residuals != null && reused == null) {
            residuals.computed(x.sub(embedded));
            embedded.close();
        }
        NDArray o = run(loader, fin, out, index, count, afterBlock, x, tEmb, cond.latentSize())
                .head();
        long c = config.inChannels();
        NDArray vCond = o.get(new NDIndex("0:1, 0:{}", c));
        NDArray vUncond = o.get(new NDIndex("1:2, 0:{}", c));
        return vUncond.add(vCond.sub(vUncond).mul((float) guidance));
    }

    private NDArray mergedPair(LoadedBlock block, NDArray x, NDArray yTokens, NDArray tMlp,
            FrameGroups groups, TokenMerger merger, Conditioning cond, NDManager out) {
        return MergedPair.run(block, x, yTokens, tMlp, groups, merger, cond.spatialTokens(), out);
    }

    private static NDList run(BlockLoader loader, BlockInfo info, NDManager out, int index,
            int count, BlockCallback afterBlock, NDArray... inputs) {
        long start = System.nanoTime();
        NDList result;
        try (LoadedBlock block = loader.acquire(info)) {
            result = block.forward(out, inputs);
        }
        afterBlock.done(index, count, info, System.nanoTime() - start);
        return result;
    }
}
