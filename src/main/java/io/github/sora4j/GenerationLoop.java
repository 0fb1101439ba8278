package io.github.sora4j;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import io.github.sora4j.cache.StepCache;
import io.github.sora4j.device.MemoryPlan;
import io.github.sora4j.internal.BlockCallback;
import io.github.sora4j.internal.CachedSteps;
import io.github.sora4j.internal.Denoiser;
import io.github.sora4j.internal.Finite;
import io.github.sora4j.internal.TextEncoder;
import io.github.sora4j.internal.VaeDecoder;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.LoaderStats;
import io.github.sora4j.merge.FrameGroups;
import io.github.sora4j.merge.TokenMerger;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.PackManifest;
import io.github.sora4j.random.TorchGenerator;
import io.github.sora4j.schedule.SamplingContext;
import io.github.sora4j.schedule.StepDecision;
import io.github.sora4j.schedule.StepScheduler;
import io.github.sora4j.schedule.Timesteps;
import io.github.sora4j.video.VideoFrames;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One {@link VideoPipeline} generation, start to end: encode the prompt, denoise (scheduler, token
 * merger and step cache asked per step), decode, and assemble the report and trace; progress
 * events go to the listener, which may cancel at every block boundary.
 *
 * <p>Borrows every part from its pipeline and owns none: the pipeline closes the loader, the
 * tokenizer and the root manager. {@link #run} must be called under the pipeline's generation
 * lock; each call opens one sub-manager of the root, closed before it returns.
 */
final class GenerationLoop {
    // Logged under the pipeline's name, as before this class was split out of it.
    private static final Logger LOG = LoggerFactory.getLogger(VideoPipeline.class);

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
    private final AtomicBoolean closed;

    /**
     * The loop of a pipeline, over the pipeline's parts (borrowed, not owned).
     *
     * @param manifest the pack's manifest
     * @param scheduler the step scheduler
     * @param merger the token merger
     * @param stepCache the step cache
     * @param loader the block loader
     * @param recordTrace whether results carry a {@link GenerationTrace}
     * @param text the text encoder
     * @param denoiser the STDiT runner
     * @param vae the VAE runner
     * @param nullEmbedding the pack's null embedding ({@link NullEmbedding#read})
     * @param root the pipeline's manager; each call runs in a sub-manager of it
     * @param closed the pipeline's closed flag, checked at every progress event
     */
    GenerationLoop(PackManifest manifest, StepScheduler scheduler, TokenMerger merger,
            StepCache stepCache, BlockLoader loader, boolean recordTrace, TextEncoder text,
            Denoiser denoiser, VaeDecoder vae, float[] nullEmbedding, NDManager root,
            AtomicBoolean closed) {
        this.manifest = manifest;
        this.scheduler = scheduler;
        this.merger = merger;
        this.stepCache = stepCache;
        this.loader = loader;
        this.recordTrace = recordTrace;
        this.text = text;
        this.denoiser = denoiser;
        this.vae = vae;
        this.nullEmbedding = nullEmbedding;
        this.root = root;
        this.closed = closed;
    }

    /** Unwinds a cancelled generation from the block boundary to {@link #run}. */
    private static final class Cancelled extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Cancelled() {
            super(null, null, false, false);
        }
    }

    /**
     * Runs one generation; the caller holds the pipeline's generation lock.
     *
     * @param p the checked request
     * @param listener told per stage, block and step; returning false cancels
     * @param cancel set to cancel at the next block boundary (set here when the listener cancels)
     * @return the frames and a report, or a cancelled result
     * @throws NonFiniteValueException if the text embedding, a latent or the frames turn NaN
     * @throws PipelineClosedException if the pipeline is closed during the call
     */
    GenerationResult run(RequestPreparer.Prepared p, ProgressListener listener,
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
}
