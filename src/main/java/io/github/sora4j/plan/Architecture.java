package io.github.sora4j.plan;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.ModelPackException;
import io.github.sora4j.pack.PackManifest;
import java.util.Arrays;

/**
 * Every width and depth of the three Open-Sora v1.2 models that their FLOPs and parameter counts
 * depend on: what a {@link FlopModel} needs besides a request.
 *
 * <p>A pack's manifest carries part of it (hidden sizes, depths, heads); packs written with an
 * {@code architecture} object (the bench pack, see docs/benchmarks.md) carry all of it, and {@link
 * #of(ModelPack)} reads that. For other packs it fills the rest with Open-Sora v1.2's ratios (T5
 * d_ff = 2.5 · d_model, MLP ratio 4) and v1.2's VAE, which is right for exported real packs and
 * approximate for tiny test packs. ({@code ArchitectureJson} reads the {@code architecture}
 * object.)
 *
 * @param t5 the T5 encoder
 * @param stdit the STDiT3 denoiser
 * @param vae the VAE decoder
 */
public record Architecture(T5 t5, Stdit stdit, Vae vae) {

    /**
     * Creates the architecture; {@link #of(ModelPack)} reads one from a pack.
     *
     * @param t5 the T5 encoder's shapes; not null
     * @param stdit the STDiT3 denoiser's shapes; not null
     * @param vae the VAE decoder's shapes; not null
     * @throws InvalidConfigurationException if a part is null
     */
    public Architecture {
        InvalidConfigurationException.requireNonNull(t5, "t5");
        InvalidConfigurationException.requireNonNull(stdit, "stdit");
        InvalidConfigurationException.requireNonNull(vae, "vae");
    }

    /**
     * T5 encoder shapes.
     *
     * @param vocabSize embedding rows
     * @param dModel hidden size (4096 for T5-XXL)
     * @param dKv width of one attention head (64)
     * @param dFf gated-GELU feed-forward width (10240)
     * @param numLayers encoder blocks (24)
     * @param numHeads attention heads (64)
     * @param relativeAttentionBuckets position-bias buckets of block 0 (32)
     * @param maxLength tokens per prompt after padding (300 for Open-Sora); T5 runs on all of them
     */
    public record T5(int vocabSize, int dModel, int dKv, int dFf, int numLayers, int numHeads,
            int relativeAttentionBuckets, int maxLength) {

        /**
         * Creates the T5 shapes (Open-Sora v1.2's T5-XXL values in parentheses).
         *
         * @param vocabSize embedding rows (32128)
         * @param dModel hidden size, {@code > 0} (4096)
         * @param dKv width of one attention head, {@code > 0} (64)
         * @param dFf gated-GELU feed-forward width, {@code > 0} (10240)
         * @param numLayers encoder blocks, {@code > 0} (24)
         * @param numHeads attention heads, {@code > 0} (64)
         * @param relativeAttentionBuckets position-bias buckets of block 0 (32)
         * @param maxLength tokens per prompt after padding, {@code > 0} (300)
         * @throws InvalidConfigurationException if a value that must be positive is not
         */
        public T5 {
            positive("t5.dModel", dModel);
            positive("t5.dKv", dKv);
            positive("t5.dFf", dFf);
            positive("t5.numLayers", numLayers);
            positive("t5.numHeads", numHeads);
            positive("t5.maxLength", maxLength);
        }

        /**
         * Width of all heads together (d_kv · heads).
         *
         * @return the inner attention width
         */
        public int inner() {
            return dKv * numHeads;
        }
    }

    /**
     * STDiT3 shapes.
     *
     * @param hiddenSize token width d (1152 for XL/2)
     * @param depth spatial+temporal block pairs (28)
     * @param numHeads attention heads (16)
     * @param mlpRatio MLP hidden width over d (4)
     * @param patchSize (t, h, w) patch, (1, 2, 2)
     * @param inChannels latent channels (4)
     * @param outChannels output channels (8)
     * @param captionChannels caption width, the T5 d_model (4096)
     * @param qkNorm whether q and k have an RMSNorm (true)
     */
    public record Stdit(int hiddenSize, int depth, int numHeads, double mlpRatio, int[] patchSize,
            int inChannels, int outChannels, int captionChannels, boolean qkNorm) {

        /**
         * Creates the STDiT3 shapes (Open-Sora v1.2's STDiT3-XL/2 values in parentheses); the
         * patch array is copied.
         *
         * @param hiddenSize token width d, {@code > 0} (1152)
         * @param depth spatial+temporal block pairs, {@code > 0} (28)
         * @param numHeads attention heads, {@code > 0} (16)
         * @param mlpRatio MLP hidden width over d, {@code > 0} (4.0)
         * @param patchSize the (t, h, w) patch, exactly 3 entries ((1, 2, 2))
         * @param inChannels latent channels, {@code > 0} (4)
         * @param outChannels output channels, {@code > 0} (8, twice the latent channels)
         * @param captionChannels caption width, the T5 d_model, {@code > 0} (4096)
         * @param qkNorm whether q and k have an RMSNorm (true)
         * @throws InvalidConfigurationException if a value is out of range or {@code patchSize} does not
         *     have 3 entries
         */
        public Stdit {
            positive("stdit.hiddenSize", hiddenSize);
            positive("stdit.depth", depth);
            positive("stdit.numHeads", numHeads);
            if (!(mlpRatio > 0)) {
                throw new InvalidConfigurationException("stdit.mlpRatio must be > 0 but was " + mlpRatio);
            }
            if (patchSize == null || patchSize.length != 3) {
                throw new InvalidConfigurationException("stdit.patchSize must have 3 entries but was "
                        + Arrays.toString(patchSize));
            }
            patchSize = patchSize.clone();
            positive("stdit.inChannels", inChannels);
            positive("stdit.outChannels", outChannels);
            positive("stdit.captionChannels", captionChannels);
        }

        /**
         * The (t, h, w) patch size.
         *
         * @return a copy
         */
        @Override
        public int[] patchSize() {
            return patchSize.clone();
        }

        /**
         * The MLP hidden width, {@code (int) (hiddenSize · mlpRatio)} as upstream.
         *
         * @return the width
         */
        public int mlpHidden() {
            return (int) (hiddenSize * mlpRatio);
        }
    }

    /**
     * VAE decoder shapes (temporal MAGVIT-v2-style decoder, then the SD spatial decoder).
     *
     * @param latentChannels video latent channels (4)
     * @param sdLatentChannels channels between the halves (4)
     * @param outChannels pixel channels (3)
     * @param temporalFilters base width of the temporal decoder (128)
     * @param temporalChannelMultipliers widths per level over the base ((1, 2, 2, 4))
     * @param temporalNumResBlocks residual blocks per level (4)
     * @param temporalDownsample whether level i+1 doubles time on the way up ((F, T, T))
     * @param spatialBlockOutChannels SD decoder widths, encoder order ((128, 256, 512, 512))
     * @param spatialLayersPerBlock ResNets per up block minus one (2)
     * @param microFrameSize pixel frames per temporal chunk (17)
     */
    public record Vae(int latentChannels, int sdLatentChannels, int outChannels,
            int temporalFilters, int[] temporalChannelMultipliers, int temporalNumResBlocks,
            boolean[] temporalDownsample, int[] spatialBlockOutChannels, int spatialLayersPerBlock,
            int microFrameSize) {

        /**
         * Creates the VAE decoder shapes (Open-Sora v1.2's values in parentheses); the arrays are
         * copied.
         *
         * @param latentChannels video latent channels, {@code > 0} (4)
         * @param sdLatentChannels channels between the temporal and the spatial half (4)
         * @param outChannels pixel channels (3)
         * @param temporalFilters base width of the temporal decoder, {@code > 0} (128)
         * @param temporalChannelMultipliers widths per level over the base ((1, 2, 2, 4)); not null
         * @param temporalNumResBlocks residual blocks per level (4)
         * @param temporalDownsample whether level i+1 doubles time on the way up, one entry fewer
         *     than {@code temporalChannelMultipliers} ((false, true, true))
         * @param spatialBlockOutChannels SD decoder widths in encoder order, not empty ((128, 256,
         *     512, 512))
         * @param spatialLayersPerBlock ResNets per up block minus one (2)
         * @param microFrameSize pixel frames per temporal chunk, {@code > 0} (17)
         * @throws InvalidConfigurationException if a value is out of range or the array lengths do not
         *     match
         */
        public Vae {
            positive("vae.latentChannels", latentChannels);
            positive("vae.temporalFilters", temporalFilters);
            temporalChannelMultipliers = temporalChannelMultipliers.clone();
            temporalDownsample = temporalDownsample.clone();
            spatialBlockOutChannels = spatialBlockOutChannels.clone();
            if (temporalDownsample.length != temporalChannelMultipliers.length - 1) {
                throw new InvalidConfigurationException("vae.temporalDownsample needs "
                        + (temporalChannelMultipliers.length - 1) + " entries but has "
                        + temporalDownsample.length);
            }
            if (spatialBlockOutChannels.length == 0) {
                throw new InvalidConfigurationException("vae.spatialBlockOutChannels is empty");
            }
            positive("vae.microFrameSize", microFrameSize);
        }

        /**
         * Widths per level over the base.
         *
         * @return a copy
         */
        @Override
        public int[] temporalChannelMultipliers() {
            return temporalChannelMultipliers.clone();
        }

        /**
         * Whether each level but the first doubles time.
         *
         * @return a copy
         */
        @Override
        public boolean[] temporalDownsample() {
            return temporalDownsample.clone();
        }

        /**
         * SD decoder widths in encoder order.
         *
         * @return a copy
         */
        @Override
        public int[] spatialBlockOutChannels() {
            return spatialBlockOutChannels.clone();
        }

        /**
         * Pixel frames per latent frame: 2 per temporal up-sampling (4).
         *
         * @return the temporal compression
         */
        public int temporalCompression() {
            int c = 1;
            for (boolean d : temporalDownsample) {
                c *= d ? 2 : 1;
            }
            return c;
        }

        /**
         * Pixels per latent pixel: 2 per spatial up block but the last (8).
         *
         * @return the spatial compression
         */
        public int spatialCompression() {
            return 1 << (spatialBlockOutChannels.length - 1);
        }

        /**
         * Latent frames per temporal chunk: ceil(microFrameSize / temporal compression) (5).
         *
         * @return the latent frames of a full chunk
         */
        public int microZFrameSize() {
            int tc = temporalCompression();
            return (microFrameSize + tc - 1) / tc;
        }
    }

    /**
     * Open-Sora v1.2 as released: T5-v1.1-XXL encoder (300 tokens), STDiT3-XL/2 and the v1.2 VAE.
     *
     * @return the architecture
     */
    public static Architecture openSoraV12() {
        return new Architecture(
                new T5(32128, 4096, 64, 10240, 24, 64, 32, 300),
                new Stdit(1152, 28, 16, 4.0, new int[] {1, 2, 2}, 4, 8, 4096, true),
                openSoraV12Vae());
    }

    private static Vae openSoraV12Vae() {
        return new Vae(4, 4, 3, 128, new int[] {1, 2, 2, 4}, 4,
                new boolean[] {false, true, true}, new int[] {128, 256, 512, 512}, 2, 17);
    }

    /**
     * The architecture of a pack: its manifest's {@code architecture} object if it has one (the
     * bench pack does), else {@link #fromManifest} of its manifest.
     *
     * @param pack the pack
     * @return the architecture
     * @throws ModelPackException if the manifest cannot be read or its architecture object is
     *     malformed
     */
    public static Architecture of(ModelPack pack) {
        return ArchitectureJson.read(pack);
    }

    /**
     * The architecture from what every manifest has, with Open-Sora v1.2's values for the rest:
     * T5 d_kv = d_model / heads and d_ff = 2.5 · d_model (T5-XXL's ratios), STDiT MLP ratio 4 and
     * q/k norms, the VAE of v1.2.
     *
     * @param m the manifest
     * @return the architecture
     */
    public static Architecture fromManifest(PackManifest m) {
        PackManifest.Text t = m.text();
        PackManifest.Stdit s = m.stdit();
        return new Architecture(
                new T5(0, t.dModel(), t.dModel() / t.numHeads(), (int) Math.round(2.5 * t.dModel()),
                        t.numBlocks(), t.numHeads(), 32, t.modelMaxLength()),
                new Stdit(s.hiddenSize(), s.depth(), s.numHeads(), 4.0, s.patchSize(),
                        s.inChannels(), s.outChannels(), s.captionChannels(), true),
                openSoraV12Vae());
    }

    private static void positive(String name, int value) {
        if (value <= 0) {
            throw new InvalidConfigurationException(name + " must be > 0 but was " + value);
        }
    }
}
