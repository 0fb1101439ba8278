package io.github.sora4j.pack;

import java.util.List;

/**
 * The parsed {@code manifest.json} of a model pack (format version 1, see docs/model-pack.md).
 *
 * @param format always {@code sora4j-pack}
 * @param formatVersion the pack format version; this library reads version {@value
 *     #FORMAT_VERSION}
 * @param name the pack's name
 * @param family the model family, e.g. {@code open-sora-v1.2}
 * @param description free text
 * @param weightDtype stored weight dtype of the blocks
 * @param text the T5 text encoder's hyper-parameters
 * @param stdit the STDiT3 denoiser's hyper-parameters
 * @param vae the VAE decoder's hyper-parameters
 * @param sampling the sampling defaults the model was trained for
 * @param blocks every block, in set order
 * @param files the other files with their integrity data
 * @param request the request the model was trained for (optional: null in packs written before
 *     it; see {@link #nativeRequest()})
 */
public record PackManifest(
        String format,
        int formatVersion,
        String name,
        String family,
        String description,
        String weightDtype,
        Text text,
        Stdit stdit,
        Vae vae,
        Sampling sampling,
        List<BlockInfo> blocks,
        List<PackFile> files,
        Request request) {

    /** The format version this library reads. */
    public static final int FORMAT_VERSION = 1;

    /** Block roles in pipeline order; blocks run by role in this order, then by {@code order}. */
    public static final List<String> ROLES = List.of("t5-embed", "t5-block", "t5-final-norm",
            "stdit-embed", "stdit-block", "stdit-final", "vae-temporal", "vae-spatial");

    /**
     * Copies the lists.
     *
     * @param format always {@code sora4j-pack}
     * @param formatVersion the pack format version; this library reads version {@value
     *     #FORMAT_VERSION}
     * @param name the pack's name
     * @param family the model family, e.g. {@code open-sora-v1.2}
     * @param description free text
     * @param weightDtype stored weight dtype of the blocks
     * @param text the T5 text encoder's hyper-parameters
     * @param stdit the STDiT3 denoiser's hyper-parameters
     * @param vae the VAE decoder's hyper-parameters
     * @param sampling the sampling defaults the model was trained for
     * @param blocks every block, in set order
     * @param files the other files with their integrity data
     * @param request the request the model was trained for, or null
     * @throws ModelPackException if blocks or files has a null entry
     */
    public PackManifest {
        if ((blocks != null && blocks.stream().anyMatch(java.util.Objects::isNull))
                || (files != null && files.stream().anyMatch(java.util.Objects::isNull))) {
            throw new ModelPackException("blocks or files has a null entry");
        }
        blocks = blocks == null ? List.of() : List.copyOf(blocks);
        files = files == null ? List.of() : List.copyOf(files);
    }

    /**
     * A manifest without a declared native request (packs written before it existed).
     *
     * @param format always {@code sora4j-pack}
     * @param formatVersion the pack format version
     * @param name the pack's name
     * @param family the model family
     * @param description free text
     * @param weightDtype stored weight dtype of the blocks
     * @param text the T5 text encoder's hyper-parameters
     * @param stdit the STDiT3 denoiser's hyper-parameters
     * @param vae the VAE decoder's hyper-parameters
     * @param sampling the sampling defaults
     * @param blocks every block, in set order
     * @param files the other files with their integrity data
     */
    public PackManifest(String format, int formatVersion, String name, String family,
            String description, String weightDtype, Text text, Stdit stdit, Vae vae,
            Sampling sampling, List<BlockInfo> blocks, List<PackFile> files) {
        this(format, formatVersion, name, family, description, weightDtype, text, stdit, vae,
                sampling, blocks, files, null);
    }

    /**
     * The request the model was trained for: the manifest's {@code request}, or Open-Sora's 68
     * frames at 256×256 for packs that declare none. Requests that leave frames and size unset
     * ({@code GenerationRequest.builder(prompt)}) get these.
     *
     * @return frames, width and height
     */
    public Request nativeRequest() {
        return request != null ? request : Request.OPEN_SORA;
    }

    /**
     * The blocks of one set in pipeline order: by role (see {@link #ROLES}), then by {@code
     * order}, which counts per role.
     *
     * @param set {@code t5}, {@code stdit} or {@code vae}
     * @return the blocks of that set (empty if none)
     */
    public List<BlockInfo> blocks(String set) {
        return blocks.stream()
                .filter(b -> set.equals(b.set())) // a null set is refused by ManifestChecks
                .sorted(java.util.Comparator.<BlockInfo>comparingInt(b -> ROLES.indexOf(b.role()))
                        .thenComparingInt(BlockInfo::order))
                .toList();
    }

    /**
     * The blocks of one role in order.
     *
     * @param role a role from {@link #ROLES}
     * @return the blocks with that role, by {@code order}
     */
    public List<BlockInfo> blocksWithRole(String role) {
        return blocks.stream().filter(b -> b.role().equals(role))
                .sorted(java.util.Comparator.comparingInt(BlockInfo::order)).toList();
    }

    /**
     * T5 encoder hyper-parameters.
     *
     * @param modelMaxLength tokens per prompt after padding (300 for Open-Sora)
     * @param dModel hidden size
     * @param numBlocks encoder blocks
     * @param numHeads attention heads
     * @param padTokenId id of {@code <pad>}
     * @param eosTokenId id of {@code </s>}
     * @param tokenizer tokenizer file name inside the pack
     * @param int8 whether the T5 blocks are int8 dynamically quantised
     * @param vocabulary the words the model was trained on, for packs trained on a closed
     *     vocabulary (the demo pack); null when the pack declares none. Prompt words outside it
     *     are reported as unknown.
     */
    public record Text(
            int modelMaxLength,
            int dModel,
            int numBlocks,
            int numHeads,
            int padTokenId,
            int eosTokenId,
            String tokenizer,
            boolean int8,
            List<String> vocabulary) {

        /**
         * Copies the vocabulary.
         *
         * @param modelMaxLength tokens per prompt after padding
         * @param dModel hidden size
         * @param numBlocks encoder blocks
         * @param numHeads attention heads
         * @param padTokenId id of {@code <pad>}
         * @param eosTokenId id of {@code </s>}
         * @param tokenizer tokenizer file name inside the pack
         * @param int8 whether the T5 blocks are int8 dynamically quantised
         * @param vocabulary the declared vocabulary, or null
         */
        public Text {
            vocabulary = vocabulary == null ? null : List.copyOf(vocabulary);
        }

        /**
         * Hyper-parameters without a declared vocabulary.
         *
         * @param modelMaxLength tokens per prompt after padding
         * @param dModel hidden size
         * @param numBlocks encoder blocks
         * @param numHeads attention heads
         * @param padTokenId id of {@code <pad>}
         * @param eosTokenId id of {@code </s>}
         * @param tokenizer tokenizer file name inside the pack
         * @param int8 whether the T5 blocks are int8 dynamically quantised
         */
        public Text(int modelMaxLength, int dModel, int numBlocks, int numHeads, int padTokenId,
                int eosTokenId, String tokenizer, boolean int8) {
            this(modelMaxLength, dModel, numBlocks, numHeads, padTokenId, eosTokenId, tokenizer,
                    int8, null);
        }
    }

    /**
     * The request a model was trained for.
     *
     * @param frames pixel frames
     * @param width pixel width
     * @param height pixel height
     */
    public record Request(int frames, int width, int height) {
        /** Open-Sora v1.2's request: 68 frames at 256×256. */
        public static final Request OPEN_SORA = new Request(68, 256, 256);
    }

    /**
     * STDiT3 hyper-parameters.
     *
     * @param hiddenSize token width C
     * @param depth number of spatial+temporal block pairs
     * @param numHeads attention heads
     * @param patchSize (t, h, w) patch size
     * @param inChannels latent channels in
     * @param outChannels channels out (8: velocity and the ignored sigma half)
     * @param captionChannels width of the caption embedding (T5 d_model)
     * @param inputSqSize reference size of the 2-D position embedding
     * @param nullEmbedding file of the CFG null caption embedding (.npy)
     */
    public record Stdit(
            int hiddenSize,
            int depth,
            int numHeads,
            int[] patchSize,
            int inChannels,
            int outChannels,
            int captionChannels,
            int inputSqSize,
            String nullEmbedding) {}

    /**
     * VAE decoder hyper-parameters.
     *
     * @param latentChannels latent channels
     * @param scale per-channel scale applied before decoding ({@code z*scale+shift})
     * @param shift per-channel shift applied before decoding
     * @param temporalCompression pixel frames per latent frame
     * @param spatialCompression pixels per latent pixel along height and width
     * @param microFrameSize pixel frames decoded per temporal chunk
     * @param microZFrameSize latent frames per temporal chunk
     * @param spatialMicroBatch frames per spatial-decoder batch
     * @param spatialScalingFactor the SD latent scaling factor (0.18215)
     */
    public record Vae(
            int latentChannels,
            double[] scale,
            double[] shift,
            int temporalCompression,
            int spatialCompression,
            int microFrameSize,
            int microZFrameSize,
            int spatialMicroBatch,
            double spatialScalingFactor) {}

    /**
     * Sampling defaults.
     *
     * @param numTimesteps training timesteps (1000)
     * @param steps default sampling steps
     * @param guidanceScale default CFG scale
     * @param timestepTransform whether the resolution/length timestep shift is applied
     * @param transformScale extra scale of that shift
     * @param fps frame rate the model is conditioned on
     * @param aestheticScore default aesthetic-score suffix value
     */
    public record Sampling(
            int numTimesteps,
            int steps,
            double guidanceScale,
            boolean timestepTransform,
            double transformScale,
            int fps,
            double aestheticScore) {}
}
