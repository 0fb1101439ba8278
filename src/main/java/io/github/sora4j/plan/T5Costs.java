package io.github.sora4j.plan;

/**
 * The T5 encoder's formulas for {@link FlopModel}: FLOPs of one prompt and parameters of one
 * block (docs/benchmarks.md).
 *
 * @param t the encoder's shapes
 */
record T5Costs(Architecture.T5 t) {

    /** Encoder FLOPs for one prompt over all {@code maxLength} padded tokens. */
    double flops() {
        double n = t.maxLength();
        double perLayer = 2 * n * t.dModel() * 4.0 * t.inner() // q, k, v, o
                + 2 * n * 3.0 * t.dModel() * t.dFf() // wi_0, wi_1, wo
                + 4 * n * n * t.inner(); // scores and values
        return perLayer * t.numLayers();
    }

    /** Parameters of encoder block {@code index} (block 0 also holds the relative position bias). */
    long blockParameters(int index) {
        long d = t.dModel();
        long bias = index == 0 ? (long) t.relativeAttentionBuckets() * t.numHeads() : 0;
        return 4 * d * t.inner() + 3 * d * t.dFf() + 2 * d + bias;
    }
}
