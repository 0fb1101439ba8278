package io.github.sora4j.plan;

import io.github.sora4j.plan.FlopModel.Geometry;

/**
 * The STDiT3 formulas for {@link FlopModel}: FLOPs of the embed block, of a spatial+temporal
 * pair and of the final layer for one sample, and parameter counts (docs/benchmarks.md).
 *
 * @param s the model's shapes
 */
record StditCosts(Architecture.Stdit s) {
    private static final int TIMESTEP_FREQUENCIES = 256;

    /**
     * Patch embedding, caption projection of L tokens, timestep and fps embedders and the adaLN
     * table.
     */
    double embedFlops(Geometry g) {
        double d = s.hiddenSize();
        int[] p = s.patchSize();
        double patch = 2.0 * g.tokens() * s.inChannels() * p[0] * p[1] * p[2] * d;
        double caption = 2.0 * g.captionTokens() * (s.captionChannels() * d + d * d);
        double times = 2 * 2.0 * (TIMESTEP_FREQUENCIES * d + d * d) + 2.0 * d * 6 * d;
        return patch + caption + times;
    }

    /**
     * One spatial+temporal pair, the attentions seeing {@code frameGroups} frames (already
     * checked to be in range); the MLP always sees every frame.
     */
    double pairFlops(Geometry g, int frameGroups) {
        double d = s.hiddenSize();
        double n = g.tokens();
        double s1 = g.spatialTokens();
        double nm = (double) frameGroups * s1;
        double l = g.captionTokens();
        double perBlock = 8 * nm * d * d // self-attention q, k, v, output
                + 4 * nm * d * d // cross-attention q, output
                + 4 * l * d * d // cross-attention k, v on the caption
                + 4 * n * d * s.mlpHidden() // MLP (never merged)
                + 4 * nm * l * d; // cross-attention scores and values
        double spatialScores = 4 * nm * s1 * d;
        double temporalScores = 4 * nm * frameGroups * d;
        return 2 * perBlock + spatialScores + temporalScores;
    }

    /** The final layer's projection back to patches. */
    double finalFlops(Geometry g) {
        int[] p = s.patchSize();
        return 2.0 * g.tokens() * s.hiddenSize() * p[0] * p[1] * p[2] * s.outChannels();
    }

    /** Parameters of one spatial or temporal block. */
    long blockParameters() {
        long d = s.hiddenSize();
        long m = s.mlpHidden();
        long attn = 3 * d * d + 3 * d + d * d + d;
        long norms = s.qkNorm() ? 2L * (d / s.numHeads()) : 0;
        long cross = d * d + d + 2 * d * d + 2 * d + d * d + d;
        long mlp = d * m + m + m * d + d;
        return attn + norms + cross + mlp + 6 * d;
    }

    /** Parameters of the whole model: embedders, pairs, final layer; not the null caption. */
    long parameters() {
        long d = s.hiddenSize();
        int[] p = s.patchSize();
        long patchIn = (long) s.inChannels() * p[0] * p[1] * p[2];
        long embed = patchIn * d + d // x_embedder
                + 2 * (TIMESTEP_FREQUENCIES * d + d + d * d + d) // t and fps embedders
                + d * 6 * d + 6 * d // t_block
                + (long) s.captionChannels() * d + d + d * d + d; // y_proj
        long fin = 2 * d + d * (patchIn * s.outChannels()) + patchIn * s.outChannels();
        return embed + s.depth() * (2 * blockParameters()) + fin;
    }
}
