package io.github.sora4j;

import io.github.sora4j.pack.PackManifest;

/**
 * What to generate. Immutable; build with {@link #builder(String)}. Values the record can check on
 * its own are validated here; limits that depend on the model pack (size multiples, prompt length)
 * or on the process (memory, array sizes: {@link io.github.sora4j.device.Feasibility}) are checked
 * by {@link VideoPipeline#generate} before any work starts. Every refusal is an {@link
 * InvalidRequestException} naming the value and the allowed range.
 *
 * <p>Frames, size and fps left unset ({@link #FROM_PACK}) take the pack's native request when the
 * pipeline runs ({@link #withPackDefaults}): the frames and size the model was trained for (the
 * demo pack's 51 frames at 64×64; Open-Sora's 68 at 256×256 for packs that declare none) and the
 * pack's fps. A guidance scale left unset ({@link #GUIDANCE_FROM_PACK}) takes the pack's {@code
 * sampling.guidanceScale} (Open-Sora's 7.0 for packs that declare none), as the CLI does.
 *
 * <pre>{@code
 * GenerationRequest quick = GenerationRequest.builder("a red circle moving left").build();
 * GenerationRequest request = GenerationRequest.builder("a red circle moving left")
 *         .frames(68).size(256, 256).steps(30).seed(42).build();
 * }</pre>
 *
 * @param prompt the text prompt (with visible text: white space of any kind does not count)
 * @param frames pixel frames of the video (≥ 1), or {@link #FROM_PACK}
 * @param width pixel width, or {@link #FROM_PACK} (together with height)
 * @param height pixel height, or {@link #FROM_PACK} (together with width)
 * @param fps frame rate the model is conditioned on and the video is written at, or {@link
 *     #FROM_PACK}
 * @param steps sampling steps K (≥ 1)
 * @param guidanceScale classifier-free guidance scale (0..{@value #MAX_GUIDANCE}; 1 = no
 *     guidance), or {@link #GUIDANCE_FROM_PACK}
 * @param seed seed of the initial noise ({@code torch.manual_seed(seed); torch.randn(shape)})
 * @param aestheticScore value of the {@code " aesthetic score: X.X."} suffix appended to the
 *     prompt as Open-Sora does (0..{@value #MAX_AESTHETIC_SCORE}), or NaN for no suffix
 */
public record GenerationRequest(
        String prompt,
        int frames,
        int width,
        int height,
        int fps,
        int steps,
        double guidanceScale,
        long seed,
        double aestheticScore) {

    /** Frames, size or fps left to the pack's native request. */
    public static final int FROM_PACK = 0;
    /** Open-Sora's frame count (68 frames, 4 temporal chunks). */
    public static final int DEFAULT_FRAMES = 68;
    /** Open-Sora's width and height. */
    public static final int DEFAULT_SIZE = 256;
    /** Open-Sora's frame rate. */
    public static final int DEFAULT_FPS = 24;
    /** Default sampling steps. */
    public static final int DEFAULT_STEPS = 30;
    /** Open-Sora's CFG scale (packs whose manifest declares none sample with it). */
    public static final double DEFAULT_GUIDANCE = 7.0;
    /** Guidance scale left to the pack's {@code sampling.guidanceScale}. */
    public static final double GUIDANCE_FROM_PACK = -1;
    /** Default aesthetic score. */
    public static final double DEFAULT_AESTHETIC_SCORE = 6.5;
    /** Highest frame rate. */
    public static final int MAX_FPS = 240;
    /**
     * Highest CFG scale accepted: Open-Sora uses 7; far above a few tens the guided velocity
     * overflows into a black or garbage video.
     */
    public static final double MAX_GUIDANCE = 100;
    /** Highest aesthetic score: the scorer Open-Sora was trained with rates 0 to 10. */
    public static final double MAX_AESTHETIC_SCORE = 10;

    /**
     * Validates the values that do not depend on the model.
     *
     * @param prompt the text prompt (non-blank)
     * @param frames pixel frames of the video (≥ 1), or {@link #FROM_PACK}
     * @param width pixel width, or {@link #FROM_PACK} (together with height)
     * @param height pixel height, or {@link #FROM_PACK} (together with width)
     * @param fps frame rate, or {@link #FROM_PACK}
     * @param steps sampling steps K (≥ 1)
     * @param guidanceScale classifier-free guidance scale (0..{@value #MAX_GUIDANCE}; 1 = no
     *     guidance), or {@link #GUIDANCE_FROM_PACK}
     * @param seed seed of the initial noise ({@code torch.manual_seed(seed); torch.randn(shape)})
     * @param aestheticScore value of the {@code " aesthetic score: X.X."} suffix appended to the
     *     prompt as Open-Sora does, or NaN for no suffix
     * @throws InvalidRequestException naming the bad value and the allowed range
     */
    public GenerationRequest {
        if (prompt == null || isBlank(prompt)) {
            throw new InvalidRequestException("prompt must contain visible text but was "
                    + (prompt == null ? "null" : describeBlank(prompt)));
        }
        if (frames < 1 && frames != FROM_PACK) {
            throw new InvalidRequestException("frames must be >= 1 (or unset) but was " + frames);
        }
        boolean packSize = width == FROM_PACK && height == FROM_PACK;
        if (!packSize && (width < 1 || height < 1)) {
            throw new InvalidRequestException("width and height must be >= 1 (or both unset) but "
                    + "were " + width + "x" + height);
        }
        if ((fps < 1 || fps > MAX_FPS) && fps != FROM_PACK) {
            throw new InvalidRequestException("fps must be in 1.." + MAX_FPS + " (or unset) but was "
                    + fps);
        }
        if (steps < 1) {
            throw new InvalidRequestException("steps must be >= 1 but was " + steps);
        }
        if (guidanceScale != GUIDANCE_FROM_PACK && (!Double.isFinite(guidanceScale)
                || guidanceScale < 0 || guidanceScale > MAX_GUIDANCE)) {
            throw new InvalidRequestException("guidanceScale must be in 0.." + MAX_GUIDANCE
                    + " (1 = no guidance, " + DEFAULT_GUIDANCE + " Open-Sora's; or unset for "
                    + "the pack's) but was " + guidanceScale);
        }
        if (!Double.isNaN(aestheticScore)
                && (aestheticScore < 0 || aestheticScore > MAX_AESTHETIC_SCORE)) {
            throw new InvalidRequestException("aestheticScore must be in 0.."
                    + MAX_AESTHETIC_SCORE + ", or NaN for no suffix, but was " + aestheticScore);
        }
    }

    /**
     * Whether a prompt has no visible character: only white space in Java's or Unicode's sense
     * ({@link Character#isWhitespace}, {@link Character#isSpaceChar}: also no-break and em
     * spaces), control and format characters (such as zero-width spaces).
     */
    private static boolean isBlank(String prompt) {
        return prompt.codePoints().allMatch(c -> Character.isWhitespace(c)
                || Character.isSpaceChar(c) || Character.isISOControl(c)
                || Character.getType(c) == Character.FORMAT);
    }

    private static String describeBlank(String prompt) {
        if (prompt.isEmpty()) {
            return "empty";
        }
        StringBuilder s = new StringBuilder(prompt.length() + " invisible characters (");
        prompt.codePoints().distinct().limit(4).forEach(c -> s.append(String.format(
                java.util.Locale.ROOT, "U+%04X ", c)));
        s.setLength(s.length() - 1);
        return s.append(prompt.codePoints().distinct().count() > 4 ? " …)" : ")").toString();
    }

    /**
     * Whether frames, size, fps or the guidance scale are left to the pack.
     *
     * @return true if any of them is {@link #FROM_PACK} (the guidance scale {@link
     *     #GUIDANCE_FROM_PACK})
     */
    public boolean usesPackDefaults() {
        return frames == FROM_PACK || width == FROM_PACK || fps == FROM_PACK
                || guidanceScale == GUIDANCE_FROM_PACK;
    }

    /**
     * This request with the values left unset taken from a pack: its native request's frames and
     * size ({@link PackManifest#nativeRequest()}), its sampling fps and guidance scale.
     *
     * @param manifest the pack's manifest
     * @return a request with every frame, size, fps and guidance value set (this one if all were
     *     set)
     */
    public GenerationRequest withPackDefaults(PackManifest manifest) {
        if (!usesPackDefaults()) {
            return this;
        }
        PackManifest.Request n = manifest.nativeRequest();
        boolean packSize = width == FROM_PACK;
        return new GenerationRequest(prompt, frames == FROM_PACK ? n.frames() : frames,
                packSize ? n.width() : width, packSize ? n.height() : height,
                fps == FROM_PACK ? manifest.sampling().fps() : fps, steps,
                guidanceScale == GUIDANCE_FROM_PACK ? manifest.sampling().guidanceScale()
                        : guidanceScale, seed, aestheticScore);
    }

    /**
     * Starts a request with frames, size, fps and the guidance scale left to the pack (its native
     * request and sampling settings, see {@link #withPackDefaults}) and Open-Sora's other sampling
     * defaults (30 steps, seed 42, aesthetic score 6.5).
     *
     * @param prompt the prompt
     * @return a builder
     */
    public static Builder builder(String prompt) {
        return new Builder(prompt);
    }

    /**
     * A builder initialised from this request.
     *
     * @return a builder
     */
    public Builder toBuilder() {
        return new Builder(prompt).frames(frames).size(width, height).fps(fps).steps(steps)
                .guidanceScale(guidanceScale).seed(seed).aestheticScore(aestheticScore);
    }

    /** Builder of {@link GenerationRequest}; validation happens in {@link #build()}. */
    public static final class Builder {
        private String prompt;
        private int frames = FROM_PACK;
        private int width = FROM_PACK;
        private int height = FROM_PACK;
        private int fps = FROM_PACK;
        private int steps = DEFAULT_STEPS;
        private double guidanceScale = GUIDANCE_FROM_PACK;
        private long seed = 42;
        private double aestheticScore = DEFAULT_AESTHETIC_SCORE;

        private Builder(String prompt) {
            this.prompt = prompt;
        }

        /**
         * Sets the prompt.
         *
         * @param prompt the prompt
         * @return this builder
         */
        public Builder prompt(String prompt) {
            this.prompt = prompt;
            return this;
        }

        /**
         * Sets the pixel frame count ({@link #FROM_PACK}: the pack's native count).
         *
         * @param frames frames
         * @return this builder
         */
        public Builder frames(int frames) {
            this.frames = frames;
            return this;
        }

        /**
         * Sets the pixel size ({@link #FROM_PACK} for both: the pack's native size).
         *
         * @param width width
         * @param height height
         * @return this builder
         */
        public Builder size(int width, int height) {
            this.width = width;
            this.height = height;
            return this;
        }

        /**
         * Sets the frame rate ({@link #FROM_PACK}: the pack's).
         *
         * @param fps frames per second
         * @return this builder
         */
        public Builder fps(int fps) {
            this.fps = fps;
            return this;
        }

        /**
         * Sets the sampling steps.
         *
         * @param steps K
         * @return this builder
         */
        public Builder steps(int steps) {
            this.steps = steps;
            return this;
        }

        /**
         * Sets the CFG scale (unset: the pack's {@code sampling.guidanceScale}).
         *
         * @param guidanceScale scale, or {@link GenerationRequest#GUIDANCE_FROM_PACK}
         * @return this builder
         */
        public Builder guidanceScale(double guidanceScale) {
            this.guidanceScale = guidanceScale;
            return this;
        }

        /**
         * Sets the noise seed.
         *
         * @param seed seed
         * @return this builder
         */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * Sets the aesthetic score suffix value (NaN turns the suffix off).
         *
         * @param aestheticScore score
         * @return this builder
         */
        public Builder aestheticScore(double aestheticScore) {
            this.aestheticScore = aestheticScore;
            return this;
        }

        /**
         * Turns the aesthetic-score suffix off.
         *
         * @return this builder
         */
        public Builder noAestheticScore() {
            this.aestheticScore = Double.NaN;
            return this;
        }

        /**
         * Builds the request.
         *
         * @return the validated request
         * @throws InvalidRequestException naming the bad value and the allowed range
         */
        public GenerationRequest build() {
            return new GenerationRequest(prompt, frames, width, height, fps, steps, guidanceScale,
                    seed, aestheticScore);
        }
    }
}
