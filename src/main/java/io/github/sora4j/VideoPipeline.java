package io.github.sora4j;

import ai.djl.ndarray.NDManager;
import io.github.sora4j.cache.StepCache;
import io.github.sora4j.cache.StepCaches;
import io.github.sora4j.device.DeviceProfile;
import io.github.sora4j.internal.Denoiser;
import io.github.sora4j.internal.Engines;
import io.github.sora4j.internal.TextEncoder;
import io.github.sora4j.internal.VaeDecoder;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.BlockLoaders;
import io.github.sora4j.merge.TokenMerger;
import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.PackManifest;
import io.github.sora4j.schedule.StepScheduler;
import io.github.sora4j.schedule.StepSchedulers;
import io.github.sora4j.video.VideoFormat;
import io.github.sora4j.video.VideoWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * Text-to-video with Open-Sora v1.2 from a model pack: T5 → STDiT3 (rectified flow with CFG) →
 * VAE → frames, with pluggable {@link StepScheduler}, {@link TokenMerger}, {@link StepCache} and
 * {@link BlockLoader}, or a named {@link Preset} of them.
 *
 * <pre>{@code
 * try (VideoPipeline pipeline = VideoPipeline.builder()
 *         .pack(ModelPack.embeddedDefault())
 *         .build()) {
 *     GenerationResult result = pipeline.generate(
 *             GenerationRequest.builder("a red circle moving left").build(), // the pack's frames and size
 *             ProgressListener.NONE, Path.of("out.mp4"));
 * }
 * }</pre>
 *
 * <p><b>Threads.</b> A pipeline may be shared between threads: {@code generate} calls are
 * serialised (one runs at a time, the others wait in arrival order), so they never corrupt each
 * other and the memory of one generation is never doubled. {@link #generateAsync} queues work on
 * the pipeline's own thread.
 *
 * <p><b>Memory.</b> Each call owns one {@link NDManager}; every step and the decoder run in a
 * sub-manager closed when they end, so no native tensor outlives a call. Model blocks belong to
 * the {@link BlockLoader}, freed by {@link #close()}.
 *
 * <p><b>Exiting.</b> The JVM must not exit (SIGTERM, Ctrl-C, {@code System.exit}) while a block
 * runs: {@code exit()} runs libtorch's static destructors under the running TorchScript call and
 * the JVM crashes with SIGSEGV in {@code libtorch_cpu.so}. An application that may be stopped
 * mid-generation cancels from a shutdown hook (its listener returns false, or it cancels the
 * {@link #generateAsync} future) and then waits for {@link #close()}, which returns once the
 * running generation has stopped at its next block boundary; docs/troubleshooting.md has the code.
 */
public final class VideoPipeline implements AutoCloseable {
    private final ModelPack pack;
    private final PackManifest manifest;
    private final BlockLoader loader;
    private final TextEncoder text;
    private final NDManager root;
    private final ReentrantLock lock = new ReentrantLock(true);
    /** Guards the native tokenizer: prompts are tokenised outside {@link #lock}, close frees it. */
    private final Object textLock = new Object();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final RequestPreparer requests;
    private final GenerationLoop loop;
    private final AsyncGenerations async;

    private VideoPipeline(Builder b) {
        Engines.pytorch();
        this.pack = b.pack;
        this.manifest = pack.manifest();
        StepScheduler scheduler = b.scheduler;
        TokenMerger merger = b.merger;
        boolean recordTrace = b.recordTrace;
        float[] nullEmbedding = NullEmbedding.read(pack);
        Denoiser denoiser = new Denoiser(pack);
        VaeDecoder vae = new VaeDecoder(pack);
        StepCache stepCache = InvalidConfigurationException.requireNonNull(b.cacheFactory.apply(pack), "step cache");
        this.text = new TextEncoder(pack);
        BlockLoader l = null;
        NDManager r = null;
        try {
            l = InvalidConfigurationException.requireNonNull(b.loaderFactory.apply(pack), "block loader factory result");
            r = NDManager.newBaseManager("PyTorch");
        } catch (RuntimeException e) {
            text.close();
            if (l != null) {
                l.close();
            }
            throw e;
        }
        this.loader = l;
        this.root = r;
        // The pipeline owns and closes loader, text and root; these borrow them.
        this.requests = new RequestPreparer(pack, text, textLock, closed);
        this.loop = new GenerationLoop(manifest, scheduler, merger, stepCache, loader, recordTrace,
                text, denoiser, vae, nullEmbedding, root, closed);
        this.async = new AsyncGenerations(closed);
    }

    /**
     * Starts a builder.
     *
     * @return a builder with the plain strategies (full-step Euler, no merging, all resident)
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The model pack this pipeline runs.
     *
     * @return the pack
     */
    public ModelPack pack() {
        return pack;
    }

    /**
     * The request as this pipeline runs it: frames, size and fps left unset take the pack's
     * native request (see {@link GenerationRequest#withPackDefaults}).
     *
     * @param request the request
     * @return the request with every frame, size and fps value set
     */
    public GenerationRequest resolve(GenerationRequest request) {
        return InvalidConfigurationException.requireNonNull(request, "request").withPackDefaults(manifest);
    }

    /**
     * Checks a request against this pipeline's model without running anything.
     *
     * @param request the request
     * @throws InvalidRequestException naming the value the model cannot take, or {@link
     *     InfeasibleRequestException} if the request cannot fit this process's memory
     * @throws PipelineClosedException if the pipeline is closed
     */
    public void validate(GenerationRequest request) {
        requests.prepare(request);
    }

    /**
     * Generates a video.
     *
     * @param request what to generate
     * @return the frames and a report
     * @throws InvalidRequestException before any work if the model cannot take the request
     *     ({@link InfeasibleRequestException} if it cannot fit this process's memory)
     * @throws NonFiniteValueException if the text embedding, a latent or the frames turn NaN
     * @throws PipelineClosedException if the pipeline is closed, before or during the call
     */
    public GenerationResult generate(GenerationRequest request) {
        return generate(request, ProgressListener.NONE);
    }

    /**
     * Generates a video, reporting progress.
     *
     * @param request what to generate
     * @param listener told per block and per step; returning false cancels
     * @return the frames and a report, or a cancelled result
     * @throws InvalidRequestException before any work if the model cannot take the request
     *     ({@link InfeasibleRequestException} if it cannot fit this process's memory)
     * @throws NonFiniteValueException if the text embedding, a latent or the frames turn NaN
     * @throws PipelineClosedException if the pipeline is closed, before or during the call
     */
    public GenerationResult generate(GenerationRequest request, ProgressListener listener) {
        return run(requests.prepare(request), listener, new AtomicBoolean());
    }

    /**
     * Generates a video and writes it (MP4, GIF or a folder of PNG frames, chosen by the path's
     * extension) at the request's fps. The output is checked first ({@link
     * VideoWriter#checkOutput}: the directory exists and a probe file can be created in it, the
     * name is legal, an existing directory is not replaced by a file); an existing file is
     * replaced. The file is written under a temporary name and renamed into place; a cancelled or
     * failed generation writes nothing.
     *
     * @param request what to generate
     * @param listener told per block and per step; returning false cancels
     * @param output where to write the video
     * @return the frames and a report, or a cancelled result
     * @throws InvalidRequestException before any work if the request or output path is bad
     * @throws NonFiniteValueException if the text embedding, a latent or the frames turn NaN
     * @throws PipelineClosedException if the pipeline is closed, before or during the call
     * @throws Sora4jException if writing fails (its cause is the {@link IOException}); nothing is
     *     left behind
     */
    public GenerationResult generate(GenerationRequest request, ProgressListener listener,
            Path output) {
        VideoFormat format = VideoOutput.check(output);
        RequestPreparer.Prepared prepared = requests.prepare(request);
        GenerationResult result = run(prepared, listener, new AtomicBoolean());
        VideoOutput.writeUnlessCancelled(result, output, format, prepared.request().fps());
        return result;
    }

    /**
     * Generates on the pipeline's own thread. Cancelling the future (e.g. a cancelled Kotlin
     * coroutine awaiting it) stops the work at the next block boundary. The future completes as
     * cancelled at once, while the running block may still be finishing; {@link #close()} waits for
     * it.
     *
     * @param request what to generate
     * @param listener told per block and per step; returning false cancels
     * @return a future of the result
     * @throws InvalidRequestException before any work if the model cannot take the request
     *     ({@link InfeasibleRequestException} if it cannot fit this process's memory)
     * @throws NonFiniteValueException if the text embedding, a latent or the frames turn NaN
     * @throws PipelineClosedException if the pipeline is closed, before or during the call
     */
    public CompletableFuture<GenerationResult> generateAsync(GenerationRequest request,
            ProgressListener listener) {
        RequestPreparer.Prepared prepared = requests.prepare(request);
        return async.submit(cancel -> run(prepared, listener, cancel));
    }

    private GenerationResult run(RequestPreparer.Prepared p, ProgressListener listener,
            AtomicBoolean cancel) {
        lock.lock();
        try {
            if (closed.get()) {
                throw new PipelineClosedException("pipeline is closed");
            }
            return loop.run(p, listener, cancel);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Native arrays currently held by this pipeline's managers (0 between calls); for leak tests.
     *
     * @return the count
     */
    int liveArrayCount() {
        return root.isOpen() ? root.getManagedArrays().size() : 0;
    }

    /**
     * Frees the model blocks, the tokenizer and the pipeline's thread; idempotent and safe to call
     * while other threads use the pipeline. Pending {@link #generateAsync} futures are cancelled; a
     * {@code generate} running on another thread stops at its next block boundary with a {@link
     * PipelineClosedException}, as do calls that start after it, and a {@code validate} or a
     * prompt being tokenised finishes first. It waits for the running generation to return and for
     * a block load in flight before it frees anything, so once it returns no native call of this
     * pipeline is running and the JVM may exit.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        // Queued and running async generations end as cancelled instead of never completing.
        async.shutdown();
        lock.lock();
        try {
            loader.close();
            synchronized (textLock) {
                text.close();
            }
            root.close();
        } finally {
            lock.unlock();
        }
    }

    /** Builder of {@link VideoPipeline}. */
    public static final class Builder {
        private ModelPack pack;
        private StepScheduler scheduler = StepSchedulers.rectifiedFlow();
        private TokenMerger merger = TokenMergers.none();
        private Function<ModelPack, BlockLoader> loaderFactory = BlockLoaders::resident;
        private Function<ModelPack, StepCache> cacheFactory = p -> StepCaches.none();
        private boolean recordTrace;

        private Builder() {}

        /**
         * Sets the model pack (required).
         *
         * @param pack an opened pack, e.g. {@link ModelPack#embeddedDefault()}
         * @return this builder
         */
        public Builder pack(ModelPack pack) {
            this.pack = pack;
            return this;
        }

        /**
         * Opens and verifies a pack directory.
         *
         * @param directory the pack directory
         * @return this builder
         */
        public Builder pack(Path directory) {
            this.pack = ModelPack.open(directory);
            return this;
        }

        /**
         * Sets the step scheduler (default: full-step rectified-flow Euler).
         *
         * @param scheduler the scheduler
         * @return this builder
         */
        public Builder scheduler(StepScheduler scheduler) {
            this.scheduler = InvalidConfigurationException.requireNonNull(scheduler, "scheduler");
            return this;
        }

        /**
         * Sets the token merger (default: no merging).
         *
         * @param merger the merger
         * @return this builder
         */
        public Builder tokenMerger(TokenMerger merger) {
            this.merger = InvalidConfigurationException.requireNonNull(merger, "merger");
            return this;
        }

        /**
         * Sets the step cache (default: {@link StepCaches#none()}, every step computes).
         *
         * @param cache the cache
         * @return this builder
         */
        public Builder stepCache(StepCache cache) {
            InvalidConfigurationException.requireNonNull(cache, "cache");
            this.cacheFactory = p -> cache;
            return this;
        }

        /**
         * Sets a step cache made from the pack when the pipeline is built (e.g. {@link
         * StepCaches#magCache(double, int, int, StepCache.Reuse)}, which reads the pack's
         * calibration).
         *
         * @param factory makes the cache for the pack
         * @return this builder
         */
        public Builder stepCache(Function<ModelPack, StepCache> factory) {
            this.cacheFactory = InvalidConfigurationException.requireNonNull(factory, "factory");
            return this;
        }

        /**
         * Applies a named preset: its scheduler, token merger and step cache (call {@link
         * #scheduler}, {@link #tokenMerger} or {@link #stepCache} afterwards to override one).
         *
         * @param preset e.g. {@link Preset#LPL_CACHE}
         * @return this builder
         */
        public Builder preset(Preset preset) {
            InvalidConfigurationException.requireNonNull(preset, "preset");
            this.scheduler = preset.scheduler();
            this.merger = preset.tokenMerger();
            this.cacheFactory = preset.stepCache();
            return this;
        }

        /**
         * Sets how the block loader is made for the pack (default: everything resident). The
         * pipeline owns the loader and closes it.
         *
         * @param factory makes a loader for the pack
         * @return this builder
         */
        public Builder blockLoader(Function<ModelPack, BlockLoader> factory) {
            this.loaderFactory = InvalidConfigurationException.requireNonNull(factory, "factory");
            return this;
        }

        /**
         * Applies a device profile: its block loader under its memory budget, its LPL and TDTM
         * defaults (call {@link #scheduler} or {@link #tokenMerger} afterwards to override them),
         * and its thread counts as DJL's {@code ai.djl.pytorch.num_threads} and {@code
         * ai.djl.pytorch.num_interop_threads} system properties. Those are set only if unset, and
         * take effect only if DJL's PyTorch engine has not started yet in this JVM (the first
         * pipeline built starts it). See docs/memory.md.
         *
         * @param profile e.g. {@link io.github.sora4j.device.DeviceProfiles#PHONE_ARM64_8GB}
         * @return this builder
         */
        public Builder deviceProfile(DeviceProfile profile) {
            InvalidConfigurationException.requireNonNull(profile, "profile");
            this.loaderFactory = profile.loaderFactory();
            this.scheduler = profile.techniques().scheduler();
            this.merger = profile.techniques().tokenMerger();
            profile.threadProperties().forEach(System.getProperties()::putIfAbsent);
            return this;
        }

        /**
         * Records intermediate tensors in each result's {@link GenerationTrace} (costs memory
         * and copies; for parity checks and debugging).
         *
         * @param record whether to record
         * @return this builder
         */
        public Builder recordTrace(boolean record) {
            this.recordTrace = record;
            return this;
        }

        /**
         * Builds the pipeline: opens the tokenizer and makes the loader; blocks load on first use.
         *
         * @return the pipeline, owned by the caller
         * @throws InvalidConfigurationException if no pack was set
         * @throws Sora4jException if DJL's PyTorch engine cannot start here: its natives are not
         *     on the class path, or the CPU is an ARMv8.0 ARM64 core without the LSE atomics they
         *     need (see docs/arm64.md)
         */
        public VideoPipeline build() {
            if (pack == null) {
                throw new InvalidConfigurationException("no model pack set: call pack(...)");
            }
            return new VideoPipeline(this);
        }
    }
}
