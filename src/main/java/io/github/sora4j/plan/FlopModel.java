package io.github.sora4j.plan;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.pack.ModelPack;

/**
 * Counts the floating-point work of a generation (2 FLOPs per multiply-add, matrix products and
 * convolutions only) and the parameters of each block, for an {@link Architecture} and a request:
 * what LPL and TDTM remove, and what CI-DL has to load. docs/benchmarks.md derives every formula
 * and checks them against the paper's numbers.
 *
 * <pre>{@code
 * FlopModel model = FlopModel.of(Architecture.openSoraV12());
 * FlopModel.Geometry g = model.geometry(68, 256, 256, 300);    // 5,120 tokens per sample
 * double step = model.stditStepFlops(g, false);                // ≈ 22.6e12 (CFG batch 2)
 * double tdtm = model.stditStepFlops(g, true) / step;           // ≈ 0.773
 * FlopModel.RunFlops lpl = model.run(g, 30, 15, 0);             // 16 of 30 model calls
 * }</pre>
 *
 * <p>Per sample, with N = T·S tokens (T latent frames, S patches per frame), width d, MLP width
 * r·d and L caption tokens, one spatial or temporal block costs 8·N·d² (q, k, v and output
 * projections) + 4·N·d² (cross-attention q and output) + 4·L·d² (caption k and v) + 4r·N·d²
 * (MLP) + 4·N·L·d (cross-attention scores and values) + 4·N·S·d (spatial) or 4·N·T·d (temporal)
 * self-attention scores and values. Under TDTM the frames are merged into G groups before both
 * attentions (N' = G·S tokens there) and unmerged before the MLP. Norms, softmax, modulation,
 * merging and other element-wise work are not counted: they are where a measured speedup can
 * differ from these ratios.
 *
 * <p>The formulas live per model in {@code T5Costs}, {@code StditCosts} and {@code VaeCosts};
 * this class checks the arguments and combines them into steps and runs. Instances are immutable
 * and thread-safe.
 */
public final class FlopModel {
    private static final int CFG_BATCH = 2;

    private final Architecture arch;
    private final T5Costs t5;
    private final StditCosts stdit;
    private final VaeCosts vae;

    private FlopModel(Architecture arch) {
        this.arch = InvalidConfigurationException.requireNonNull(arch, "architecture");
        this.t5 = new T5Costs(arch.t5());
        this.stdit = new StditCosts(arch.stdit());
        this.vae = new VaeCosts(arch.vae());
    }

    /**
     * A model of an architecture.
     *
     * @param architecture e.g. {@link Architecture#openSoraV12()}
     * @return the model
     */
    public static FlopModel of(Architecture architecture) {
        return new FlopModel(architecture);
    }

    /**
     * A model of a pack ({@link Architecture#of(ModelPack)}).
     *
     * @param pack the pack
     * @return the model
     */
    public static FlopModel of(ModelPack pack) {
        return new FlopModel(Architecture.of(pack));
    }

    /**
     * The architecture counted.
     *
     * @return the architecture
     */
    public Architecture architecture() {
        return arch;
    }

    /**
     * The token geometry of a request.
     *
     * @param frames pixel frames F
     * @param height pixel height
     * @param width pixel width
     * @param latentFrames latent frames T
     * @param latentHeight latent height H'
     * @param latentWidth latent width W'
     * @param gridFrames patch rows along time (T / p_t, rounded up)
     * @param gridHeight patch rows (H' / p_h, rounded up: the padded latent)
     * @param gridWidth patch columns (W' / p_w, rounded up)
     * @param captionTokens valid caption tokens L the cross-attention sees
     */
    public record Geometry(int frames, int height, int width, int latentFrames, int latentHeight,
            int latentWidth, int gridFrames, int gridHeight, int gridWidth, int captionTokens) {

        /**
         * Tokens per frame S (the spatial attention length).
         *
         * @return S
         */
        public int spatialTokens() {
            return gridHeight * gridWidth;
        }

        /**
         * Tokens per sample N = T·S.
         *
         * @return N
         */
        public int tokens() {
            return gridFrames * spatialTokens();
        }
    }

    /**
     * The geometry of a request, as the pipeline derives it: T = (F div 17)·5 + ceil((F mod
     * 17) / 4), H' = H / 8, W' = W / 8, patches padded up.
     *
     * @param frames pixel frames
     * @param height pixel height (a multiple of the spatial compression)
     * @param width pixel width
     * @param captionTokens valid caption tokens L (including {@code </s>}); the paper's FLOP
     *     counts take the padded 300
     * @return the geometry
     * @throws InvalidConfigurationException for non-positive sizes
     */
    public Geometry geometry(int frames, int height, int width, int captionTokens) {
        if (frames <= 0 || height <= 0 || width <= 0 || captionTokens <= 0) {
            throw new InvalidConfigurationException("frames, height, width and captionTokens must be > 0"
                    + " but were " + frames + ", " + height + ", " + width + ", " + captionTokens);
        }
        Architecture.Vae v = arch.vae();
        int full = frames / v.microFrameSize();
        int rest = frames % v.microFrameSize();
        int tc = v.temporalCompression();
        int t = full * v.microZFrameSize() + (rest + tc - 1) / tc;
        int sc = v.spatialCompression();
        int h = height / sc;
        int w = width / sc;
        int[] p = arch.stdit().patchSize();
        return new Geometry(frames, height, width, t, h, w, ceil(t, p[0]), ceil(h, p[1]),
                ceil(w, p[2]), captionTokens);
    }

    // -------------------------------------------------------------------------------------------
    // T5

    /**
     * T5 encoder FLOPs for one prompt (batch 1: Open-Sora's null caption is a learned table, so
     * CFG needs no second pass), over all {@code maxLength} padded tokens as the encoder runs.
     *
     * @return FLOPs (2.8e12 for T5-XXL at 300 tokens)
     */
    public double t5Flops() {
        return t5.flops();
    }

    // -------------------------------------------------------------------------------------------
    // STDiT

    /**
     * FLOPs of the embed block for one sample: patch embedding, caption projection of L tokens,
     * timestep and fps embedders and the adaLN table.
     *
     * @param g the geometry
     * @return FLOPs
     */
    public double stditEmbedFlops(Geometry g) {
        return stdit.embedFlops(g);
    }

    /**
     * FLOPs of one spatial+temporal pair for one sample.
     *
     * @param g the geometry
     * @param frameGroups frames the attentions see: the grid's frames unmerged, ceil(T/2) under
     *     the paper's TDTM
     * @return FLOPs
     */
    public double stditPairFlops(Geometry g, int frameGroups) {
        if (frameGroups < 1 || frameGroups > g.gridFrames()) {
            throw new InvalidConfigurationException("frameGroups must be in [1, " + g.gridFrames()
                    + "] but was " + frameGroups);
        }
        return stdit.pairFlops(g, frameGroups);
    }

    /**
     * FLOPs of the final layer for one sample.
     *
     * @param g the geometry
     * @return FLOPs
     */
    public double stditFinalFlops(Geometry g) {
        return stdit.finalFlops(g);
    }

    /**
     * One STDiT forward of one sample: embed, every pair, final layer.
     *
     * @param g the geometry
     * @param frameGroups frames the attentions see (see {@link #stditPairFlops})
     * @return FLOPs (1.13e13 for XL/2 at 68×256×256, 300 caption tokens)
     */
    public double stditForwardFlops(Geometry g, int frameGroups) {
        return stditEmbedFlops(g) + arch.stdit().depth() * stditPairFlops(g, frameGroups)
                + stditFinalFlops(g);
    }

    /**
     * One denoising step: a forward of the CFG batch of 2 (conditional and null caption).
     *
     * @param g the geometry
     * @param merged whether TDTM merges frame pairs (ceil(T/2) groups) at this step
     * @return FLOPs (2.26e13 for XL/2 at 68×256×256)
     */
    public double stditStepFlops(Geometry g, boolean merged) {
        return CFG_BATCH * stditForwardFlops(g, merged ? mergedGroups(g) : g.gridFrames());
    }

    /**
     * FLOPs of a merged step over an unmerged one: the inverse of TDTM's ideal per-step speedup.
     *
     * @param g the geometry
     * @return the ratio (0.773 for XL/2 at 68×256×256)
     */
    public double mergedStepRatio(Geometry g) {
        return stditStepFlops(g, true) / stditStepFlops(g, false);
    }

    private static int mergedGroups(Geometry g) {
        return (g.gridFrames() + 1) / 2;
    }

    // -------------------------------------------------------------------------------------------
    // VAE

    /**
     * VAE decoder FLOPs for one video: the temporal decoder on every chunk of latent frames, then
     * the spatial decoder on every pixel frame.
     *
     * @param g the geometry
     * @return FLOPs (about 5.2e13 for v1.2 at 68×256×256, 4.2e13 of it spatial)
     */
    public double vaeDecodeFlops(Geometry g) {
        return vaeTemporalFlops(g) + vaeSpatialFlops(g);
    }

    /**
     * The temporal decoder's part of {@link #vaeDecodeFlops}.
     *
     * @param g the geometry
     * @return FLOPs
     */
    public double vaeTemporalFlops(Geometry g) {
        return vae.temporalFlops(g);
    }

    /**
     * The spatial decoder's part of {@link #vaeDecodeFlops}.
     *
     * @param g the geometry
     * @return FLOPs
     */
    public double vaeSpatialFlops(Geometry g) {
        return vae.spatialFlops(g);
    }

    // -------------------------------------------------------------------------------------------
    // parameters (the byte model: multiply by the bytes per weight)

    /**
     * Parameters of one spatial or temporal STDiT block.
     *
     * @return the count (21.26 M for XL/2)
     */
    public long stditBlockParameters() {
        return stdit.blockParameters();
    }

    /**
     * Parameters of a spatial+temporal pair: the unit CI-DL loads (42.5 M, 170 MB in float32, for
     * XL/2; the app's {@code loadMemory} constant).
     *
     * @return the count
     */
    public long stditPairParameters() {
        return 2 * stditBlockParameters();
    }

    /**
     * Parameters of the whole STDiT3 (embedders, pairs, final layer; not the null caption).
     *
     * @return the count (about 1.2 B for XL/2)
     */
    public long stditParameters() {
        return stdit.parameters();
    }

    /**
     * Parameters of one T5 encoder block (block 0 also holds the relative position bias).
     *
     * @param index the block index
     * @return the count (193 M for T5-XXL)
     */
    public long t5BlockParameters(int index) {
        return t5.blockParameters(index);
    }

    // -------------------------------------------------------------------------------------------
    // runs

    /**
     * The FLOPs of a whole generation with LPL and TDTM settings.
     *
     * @param textFlops T5
     * @param denoiseFlops all STDiT steps that run
     * @param decodeFlops VAE
     * @param modelCalls STDiT steps that run
     * @param mergedCalls of them, those with merged frames
     */
    public record RunFlops(double textFlops, double denoiseFlops, double decodeFlops,
            int modelCalls, int mergedCalls) {

        /**
         * All stages together.
         *
         * @return FLOPs
         */
        public double totalFlops() {
            return textFlops + denoiseFlops + decodeFlops;
        }
    }

    /**
     * The FLOPs of a generation.
     *
     * @param g the geometry
     * @param steps planned steps K
     * @param lplLeapStep the fixed LPL leap index n (n + 1 model calls), or -1 for none
     * @param tdtmMergeSteps the first steps TDTM merges in (0 for none)
     * @return per-stage FLOPs and model calls
     */
    public RunFlops run(Geometry g, int steps, int lplLeapStep, int tdtmMergeSteps) {
        if (steps < 1) {
            throw new InvalidConfigurationException("steps must be >= 1 but was " + steps);
        }
        int calls = lplLeapStep < 0 ? steps : Math.min(steps, lplLeapStep + 1);
        int merged = Math.min(calls, Math.max(0, tdtmMergeSteps));
        double denoise = merged * stditStepFlops(g, true)
                + (calls - merged) * stditStepFlops(g, false);
        return new RunFlops(t5Flops(), denoise, vaeDecodeFlops(g), calls, merged);
    }

    private static int ceil(int a, int b) {
        return (a + b - 1) / b;
    }

    @Override
    public String toString() {
        Architecture.Stdit s = arch.stdit();
        return "FlopModel[STDiT d=" + s.hiddenSize() + " depth=" + s.depth() + ", T5 d="
                + arch.t5().dModel() + "x" + arch.t5().numLayers() + "]";
    }
}
