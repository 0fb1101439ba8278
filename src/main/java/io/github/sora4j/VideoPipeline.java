package io.github.sora4j;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import io.github.sora4j.device.DeviceProfile;
import io.github.sora4j.device.Feasibility;
import io.github.sora4j.device.MemoryPlan;
import io.github.sora4j.device.ProcessMemory;
import io.github.sora4j.cache.StepCache;
import io.github.sora4j.cache.StepCaches;
import io.github.sora4j.internal.BlockCallback;
import io.github.sora4j.internal.CachedSteps;
import io.github.sora4j.internal.Denoiser;
import io.github.sora4j.internal.Engines;
import io.github.sora4j.internal.Finite;
import io.github.sora4j.internal.Npy;
import io.github.sora4j.internal.Prompts;
import io.github.sora4j.internal.TextEncoder;
import io.github.sora4j.internal.VaeDecoder;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.BlockLoaders;
import io.github.sora4j.load.LoaderStats;
import io.github.sora4j.merge.FrameGroups;
import io.github.sora4j.merge.TokenMerger;
import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.ModelPackException;
import io.github.sora4j.pack.PackManifest;
import io.github.sora4j.plan.FlopModel;
import io.github.sora4j.random.TorchGenerator;
import io.github.sora4j.schedule.SamplingContext;
import io.github.sora4j.schedule.StepDecision;
import io.github.sora4j.schedule.StepScheduler;
import io.github.sora4j.schedule.StepSchedulers;
import io.github.sora4j.schedule.Timesteps;
import io.github.sora4j.video.VideoFormat;
import io.github.sora4j.video.VideoFrames;
import io.github.sora4j.video.VideoWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 *             GenerationRequest.builder("a red circle moving left").frames(17).size(64, 64).build(),
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
    private static final Logger LOG = LoggerFactory.getLogger(VideoPipeline.class);

    private final ModelPack pack;
    private final PackManifest manifest;
    private final StepScheduler scheduler;
    private final TokenMerger merger;
    private final StepCache stepCache;
    private final BlockLoader loader;
    private final boolean recordTrace;
    private final TextEncoder text;
    private final Denoiser denoiser;
    private final VaeDecoder vae;
    private final float[] nullEmbedding;
    private final NDManager root;
    private final FlopModel flopModel;
    private final ReentrantLock lock = new ReentrantLock(true);
    /** Guards the native tokenizer: prompts are tokenised outside {@link #lock}, close frees it. */
    private final Object textLock = new Object();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile ExecutorService asyncExecutor;
    private final java.util.Set<CancellableFuture> pending =
            java.util.concurrent.ConcurrentHashMap.newKeySet();

    private VideoPipeline(Builder b) {
        Engines.pytorch();
        this.pack = b.pack;
        this.manifest = pack.manifest();
        this.scheduler = b.scheduler;
        this.merger = b.merger;
        this.recordTrace = b.recordTrace;
        this.nullEmbedding = readNullEmbedding(pack);
        this.denoiser = new Denoiser(pack);
        this.vae = new VaeDecoder(pack);
        this.stepCache = InvalidConfigurationException.requireNonNull(b.cacheFactory.apply(pack), "step cache");
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
        this.flopModel = flopModelOf(pack);
    }

    private static FlopModel flopModelOf(ModelPack pack) {
        try {
            return FlopModel.of(pack);
        } catch (RuntimeException e) {
            return null; // Feasibility falls back to the manifest's architecture
        }
    }

    private static float[] readNullEmbedding(ModelPack pack) {
        PackManifest.Stdit s = pack.manifest().stdit();
        Path file = pack.resolve(s.nullEmbedding());
        try {
            Npy.Array a = Npy.read(file);
            long[] shape = a.shape();
            if (shape.length != 2 || shape[0] < pack.manifest().text().modelMaxLength()
                    || shape[1] != s.captionChannels()) {
                throw new ModelPackException("null embedding " + file + " has shape "
                        + java.util.Arrays.toString(shape) + ", expected ["
                        + pack.manifest().text().modelMaxLength() + ", " + s.captionChannels()
                        + "]");
            }
            float[] values = a.toFloats();
            if (!Finite.all(values)) {
                int i = 0;
                while (Float.isFinite(values[i])) {
                    i++;
                }
                throw new ModelPackException("null embedding " + file + " holds a non-finite value"
                        + " (" + values[i] + " at index " + i + "): the pack is broken; re-export"
                        + " it");
            }
            return values;
        } catch (IOException e) {
            throw new ModelPackException("cannot read null embedding " + file, e);
        }
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
        prepare(request);
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
        return run(prepare(request), listener, new AtomicBoolean());
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
        VideoFormat format = checkOutput(output);
        Prepared prepared = prepare(request);
        GenerationResult result = run(prepared, listener, new AtomicBoolean());
        if (!result.cancelled()) {
            try {
                VideoWriter.write(result.frames(), output, format,
                        request.withPackDefaults(manifest).fps());
            } catch (IOException e) {
                throw new Sora4jException("cannot write " + output + ": " + e, e);
            }
        }
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
        Prepared prepared = prepare(request);
        AtomicBoolean cancel = new AtomicBoolean();
        CancellableFuture future = new CancellableFuture(cancel);
        pending.add(future);
        future.whenComplete((r, t) -> pending.remove(future));
        try {
            executor().execute(() -> {
                if (future.isDone()) {
                    return;
                }
                try {
                    future.complete(run(prepared, listener, cancel));
                } catch (Throwable t) {
                    future.completeExceptionally(t);
                }
            });
        } catch (RejectedExecutionException | PipelineClosedException e) {
            // close() ran since prepare: the future ends the way close() ends queued ones.
            future.cancel(true);
        }
        return future;
    }

    private ExecutorService executor() {
        ExecutorService e = asyncExecutor;
        if (e == null) {
            synchronized (this) {
                if (closed.get()) {
                    throw new PipelineClosedException("pipeline is closed");
                }
                e = asyncExecutor;
                if (e == null) {
                    e = Executors.newSingleThreadExecutor(r -> {
                        Thread t = new Thread(r, "sora4j-generate");
                        t.setDaemon(true);
                        return t;
                    });
                    asyncExecutor = e;
                }
            }
        }
        return e;
    }

    private static VideoFormat checkOutput(Path output) {
        if (output == null) {
            throw new InvalidRequestException("output path is null");
        }
        return VideoWriter.checkOutput(output);
    }

    /**
     * A request checked against the model (frames, size and fps resolved), with its derived sizes,
     * tokens and the prompt words the model does not know.
     */
    private record Prepared(GenerationRequest request, TextEncoder.Tokens tokens, int latentFrames,
            int latentHeight, int latentWidth, List<String> unknownWords) {}

    private Prepared prepare(GenerationRequest request) {
        if (request == null) {
            throw new InvalidRequestException("request is null");
        }
        request = request.withPackDefaults(manifest);
        if (closed.get()) {
            throw new PipelineClosedException("pipeline is closed");
        }
        if (closed.get()) {
            throw new PipelineClosedException("pipeline is closed");
        }
        int timesteps = manifest.sampling().numTimesteps();
        if (timesteps < 1) {
            throw new ModelPackException("the pack's manifest has sampling.numTimesteps "
                    + timesteps + ", it must be >= 1: the pack is broken");
        }
        if (request.steps() > timesteps) {
            throw new InvalidRequestException("steps must be <= " + timesteps
                    + " (the model's training timesteps) but was " + request.steps());
        }
        PackManifest.Vae v = manifest.vae();
        int sc = v.spatialCompression();
        if (request.width() % sc != 0 || request.height() % sc != 0) {
            throw new InvalidRequestException("width and height must be multiples of " + sc
                    + " for this model but were " + request.width() + "x" + request.height());
        }
        String cleaned = Prompts.clean(request.prompt());
        String prompt = Prompts.prepare(request.prompt(), request.aestheticScore());
        TextEncoder.Tokens tokens;
        List<String> unknownWords;
        synchronized (textLock) {
            // close() frees the native tokenizer under the same lock once closed is set.
            if (closed.get()) {
                throw new PipelineClosedException("pipeline is closed");
            }
            tokens = text.tokenize(prompt);
            unknownWords = text.unknownWords(cleaned);
        }
        // Before any block loads: element counts, Java heap and native memory of this request.
        Feasibility.of(manifest, flopModel, request.frames(), request.height(), request.width(),
                request.steps(), tokens.length(), ProcessMemory.ofProcess()).check();
        return new Prepared(request, tokens, VaeDecoder.latentFrames(v, request.frames()),
                request.height() / sc, request.width() / sc, unknownWords);
    }

    private static final class Cancelled extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Cancelled() {
            super(null, null, false, false);
        }
    }

    private GenerationResult run(Prepared p, ProgressListener listener, AtomicBoolean cancel) {
        lock.lock();
        try {
            if (closed.get()) {
                throw new PipelineClosedException("pipeline is closed");
            }
            return runLocked(p, listener, cancel);
        } finally {
            lock.unlock();
        }
    }

    private GenerationResult runLocked(Prepared p, ProgressListener listener,
            AtomicBoolean cancel) {
        JniUtils.setGradMode(false);
        GenerationRequest r = p.request();
        if (!p.unknownWords().isEmpty()) {
            LOG.warn("pack '{}' does not know the prompt words {}: the model was not trained on "
                    + "them and reads them as unknown", manifest.name(), p.unknownWords());
        }
        PackManifest.Sampling sampling = manifest.sampling();
        long callStart = System.nanoTime();
        LoaderStats before = loader.stats();
        // A budget-aware loader fails here, before any block loads, if the request cannot fit.
        loader.beginGeneration(MemoryPlan.activationPeaks(manifest, r.frames(), r.height(),
                r.width(), p.tokens().length()));
        long[] latentShape = {1, manifest.stdit().inChannels(), p.latentFrames(),
                p.latentHeight(), p.latentWidth()};
        Shape zShape = new Shape(latentShape);
        List<StepReport> steps = new ArrayList<>();
        TraceRecorder trace = TraceRecorder.create(recordTrace);
        float[] pixels = null;
        long textNanos = 0;
        long denoiseNanos = 0;
        long decodeNanos = 0;
        int planned = r.steps();
        boolean cancelled = false;
        VideoFrames frames = null;
        try (NDManager call = root.newSubManager()) {
            // 1. Encode the prompt.
            emit(listener, cancel, new ProgressEvent.StageStarted(Stage.ENCODE_TEXT));
            long t0 = System.nanoTime();
            NDArray y = text.encode(p.tokens(), loader, call,
                    blockEvents(listener, cancel, Stage.ENCODE_TEXT, -1));
            int length = p.tokens().length();
            int ccap = manifest.stdit().captionChannels();
            float[] nullRows = java.util.Arrays.copyOf(nullEmbedding, length * ccap);
            NDArray captions = NDArrays.concat(
                    new NDList(y, call.create(nullRows, new Shape(1, length, ccap))), 0);
            float[] embedding = y.toFloatArray();
            Finite.check(embedding, Stage.ENCODE_TEXT, -1, "the text embedding");
            trace.embedding(embedding);
            textNanos = System.nanoTime() - t0;

            // 2. Denoise.
            emit(listener, cancel, new ProgressEvent.StageStarted(Stage.DENOISE));
            long t1 = System.nanoTime();
            Denoiser.Conditioning cond = new Denoiser.Conditioning(captions,
                    call.create(new float[] {r.fps()}, new Shape(1)),
                    call.create(new float[] {r.height()}, new Shape(1)),
                    call.create(new float[] {r.width()}, new Shape(1)),
                    call.create((long) p.latentFrames()),
                    call.create(new long[] {p.latentFrames(), p.latentHeight(), p.latentWidth()}),
                    denoiser.spatialTokens(p.latentHeight(), p.latentWidth()));
            float[] z = new TorchGenerator(r.seed()).randn(latentShape);
            trace.noise(z);
            Timesteps ts = scheduler.timesteps(new SamplingContext(r.steps(),
                    sampling.numTimesteps(), r.frames(), p.latentFrames(), r.height(), r.width(),
                    sampling.timestepTransform(), sampling.transformScale()));
            planned = ts.count();
            StepScheduler.Session session = scheduler.start(ts);
            CachedSteps cache = CachedSteps.start(stepCache, session, ts.count(), call);
            for (int i = 0; i < ts.count(); i++) {
                long stepStart = System.nanoTime();
                boolean computed = cache.compute(i, z);
                FrameGroups groups = computed ? merger.groups(i, ts.count(), p.latentFrames())
                        : FrameGroups.identity(p.latentFrames());
                StepDecision d;
                try (NDManager step = call.newSubManager()) {
                    NDArray zi = step.create(z, zShape);
                    NDArray v = cache.runsModel(computed) ? denoiser.velocity(zi, ts.get(i),
                            r.guidanceScale(), cond, groups, merger, loader, step,
                            blockEvents(listener, cancel, Stage.DENOISE, i),
                            cache.residuals(computed)) : cache.reusedVelocity(step);
                    d = session.decide(i, v);
                    cache.after(i, computed, z, v);
                    z = zi.add(v.mul((float) (d.dt() / sampling.numTimesteps()))).toFloatArray();
                    Finite.check(z, Stage.DENOISE, i, "the latent after denoising step " + i
                            + " of " + ts.count() + " (timestep " + ts.get(i) + ")");
                    trace.step(ts.get(i), v, z);
                }
                StepReport report = new StepReport(i, ts.get(i), d.dt(),
                        System.nanoTime() - stepStart, !groups.isIdentity(), d.cosine(), d.leap(),
                        computed);
                steps.add(report);
                emit(listener, cancel, new ProgressEvent.StepFinished(report, ts.count()));
                if (d.last()) {
                    break;
                }
            }
            denoiseNanos = System.nanoTime() - t1;

            // 3. Decode.
            emit(listener, cancel, new ProgressEvent.StageStarted(Stage.DECODE));
            long t2 = System.nanoTime();
            try (NDManager dec = call.newSubManager()) {
                pixels = vae.decode(dec.create(z, zShape), r.frames(), loader, dec,
                        blockEvents(listener, cancel, Stage.DECODE, -1)).toFloatArray();
            }
            Finite.check(pixels, Stage.DECODE, -1, "the decoded frames");
            frames = VideoFrames.fromFloatPixels(pixels, r.frames(),
                    p.latentHeight() * manifest.vae().spatialCompression(),
                    p.latentWidth() * manifest.vae().spatialCompression());
            decodeNanos = System.nanoTime() - t2;
        } catch (Cancelled e) {
            cancelled = true;
            LOG.info("generation cancelled after {} steps", steps.size());
        }
        LoaderStats after = loader.stats();
        GenerationReport report = new GenerationReport(textNanos, denoiseNanos, decodeNanos,
                System.nanoTime() - callStart, steps, planned,
                after.loadCount() - before.loadCount(), after.peakLoadedBytes(),
                p.tokens().length(), latentShape, p.unknownWords());
        return new GenerationResult(cancelled ? null : frames, report, cancelled,
                trace.build(p.tokens().ids(), pixels));
    }

    private void emit(ProgressListener listener, AtomicBoolean cancel, ProgressEvent e) {
        if (closed.get()) {
            throw new PipelineClosedException("pipeline was closed during the generation; it "
                    + "stopped at a block boundary and wrote nothing");
        }
        if (cancel.get() || !listener.onProgress(e) || cancel.get()) {
            cancel.set(true);
            throw new Cancelled();
        }
    }

    private BlockCallback blockEvents(ProgressListener listener, AtomicBoolean cancel,
            Stage stage, int step) {
        return (int index, int count, BlockInfo block, long nanos) -> emit(listener, cancel,
                new ProgressEvent.BlockFinished(stage, step, block.name(), index, count, nanos));
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
        ExecutorService e;
        synchronized (this) {
            e = asyncExecutor;
        }
        if (e != null) {
            e.shutdownNow();
        }
        // Queued and running async generations end as cancelled instead of never completing.
        pending.forEach(f -> f.cancel(true));
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

    /** A future whose {@code cancel} stops the generation at the next block boundary. */
    private static final class CancellableFuture extends CompletableFuture<GenerationResult> {
        private final AtomicBoolean cancel;

        CancellableFuture(AtomicBoolean cancel) {
            this.cancel = cancel;
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            cancel.set(true);
            return super.cancel(mayInterruptIfRunning);
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
