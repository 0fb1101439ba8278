package io.github.sora4j.benchmarks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.github.sora4j.GenerationRequest;
import io.github.sora4j.ProgressEvent;
import io.github.sora4j.Stage;
import io.github.sora4j.StepReport;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.internal.MergedPair;
import io.github.sora4j.load.TorchScriptBlock;
import io.github.sora4j.merge.FrameGroups;
import io.github.sora4j.merge.TokenMerger;
import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.plan.FlopModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The bare TorchScript calls of one STDiT step, for Java's overhead per step: the same blocks
 * (loaded once more, resident), the same methods and the same inputs (shapes, dtypes; random
 * values) as {@code io.github.sora4j.internal.Denoiser#velocity} in the compute setting, called
 * directly through {@link TorchScriptBlock#call}, without the pipeline, its
 * loader or its progress events. Like the pipeline, it frees each pair's intermediates after the
 * pair (so that both allocate and free native memory alike).
 *
 * <p>Each bare step times its TorchScript calls one by one ({@link Sample#callNanos()}, what the
 * pipeline's step is compared with) and, apart, the Java-side tensor work the step needs besides
 * them: the CFG batch (z twice), the CFG combination and the Euler update ({@link
 * Sample#glueNanos()}); in a merged (TDTM) step made in Java also the token merges, unmerges and
 * the residual add around the sub-stage calls ({@link Sample#mergeNanos()}). A merged step runs
 * its pairs as the pipeline does ({@code io.github.sora4j.internal.MergedPair}): one {@code
 * forward_merged} call per pair where the pack has the method (the merges are then inside the
 * calls, and {@code mergeNanos} is the layout tensor's creation), else the ten sub-stage calls
 * with the merges in Java; {@link #measurePaired(VideoPipeline, GenerationRequest, boolean,
 * boolean)} can ask for the Java path on such a pack too, to pair it with a pipeline whose merger
 * takes it. Bare steps run on the thread that
 * runs the pipelines, so that libtorch's thread-local settings (graph optimizer) are the same, and
 * each right after a step of a pipeline ({@link #measurePaired}): the overhead is then the median
 * of paired differences, which drift in the machine's load, large on a shared machine, hardly
 * touches.
 */
final class StepOverhead implements AutoCloseable {
    private static final String[] HALVES = {"spatial", "temporal"};
    private static final float TIMESTEP = 900f;
    private static final float GUIDANCE = 7f;

    /**
     * One bare step.
     *
     * @param merged whether it merged frame pairs (TDTM)
     * @param inBlock whether a merged step called {@code forward_merged} (false: plain, or the
     *     merges in Java)
     * @param callNanos the sum of its TorchScript calls
     * @param glueNanos CFG batch, CFG combination and Euler update
     * @param mergeNanos token merges, unmerges and residual adds (0 unmerged)
     */
    record Sample(boolean merged, boolean inBlock, long callNanos, long glueNanos,
            long mergeNanos) {}

    /**
     * A pipeline step and the bare step made right after it.
     *
     * @param pipelineNanos the pipeline's step as {@link StepReport} times it
     * @param pipelineBlockNanos the sum of the step's blocks as the pipeline times them
     *     (acquire and run), from its block events
     * @param bare the bare step
     */
    record Pair(long pipelineNanos, long pipelineBlockNanos, Sample bare) {}

    private final List<TorchScriptBlock> blocks = new ArrayList<>();
    private final TorchScriptBlock embed;
    private final List<TorchScriptBlock> pairs;
    private final TorchScriptBlock fin;
    private final NDManager manager;
    private final NDArray captions;
    private final NDArray fps;
    private final NDArray height;
    private final NDArray width;
    private final NDArray numFrames;
    private final NDArray latentSize;
    private final float[] z;
    private final Shape zShape;
    private final int spatialTokens;
    private final int inChannels;
    private final TokenMerger merger = TokenMergers.tdtm(Integer.MAX_VALUE);
    private final FrameGroups groups;
    private final List<Pair> measured = new ArrayList<>();
    private final boolean packMergesInBlock;

    /**
     * Loads the STDiT blocks and makes the inputs of a step of a setting's request.
     *
     * @param pack the bench pack
     * @param setting the setting whose request the step is for
     * @param captionTokens the prompt's tokens L (the caption rows are [2, L, C_cap])
     */
    StepOverhead(ModelPack pack, BenchPack.Setting setting, int captionTokens) {
        if (captionTokens < 1) {
            throw new IllegalArgumentException("captionTokens must be >= 1 but was "
                    + captionTokens);
        }
        var request = setting.request(30);
        FlopModel.Geometry g = FlopModel.of(pack).geometry(request.frames(), request.height(),
                request.width(), captionTokens);
        var stdit = pack.manifest().stdit();
        inChannels = stdit.inChannels();
        spatialTokens = g.spatialTokens();
        groups = merger.groups(0, 30, g.latentFrames());
        for (BlockInfo b : pack.manifest().blocks("stdit")) {
            blocks.add(TorchScriptBlock.load(pack, b));
        }
        embed = role(pack, "stdit-embed");
        fin = role(pack, "stdit-final");
        pairs = blocks.stream().filter(b -> b.info().role().equals("stdit-block")).toList();
        packMergesInBlock = pairs.stream().allMatch(b -> b.hasMethod(MergedPair.METHOD));
        manager = NDManager.newBaseManager("PyTorch");
        captions = manager.randomNormal(new Shape(2, captionTokens, stdit.captionChannels()));
        fps = manager.create(new float[] {24}, new Shape(1));
        height = manager.create(new float[] {request.height()}, new Shape(1));
        width = manager.create(new float[] {request.width()}, new Shape(1));
        numFrames = manager.create((long) g.latentFrames());
        latentSize = manager.create(new long[] {g.latentFrames(), g.latentHeight(),
            g.latentWidth()});
        zShape = new Shape(1, inChannels, g.latentFrames(), g.latentHeight(), g.latentWidth());
        z = gaussian(zShape.size());
    }

    private TorchScriptBlock role(ModelPack pack, String role) {
        return blocks.stream().filter(b -> b.info().role().equals(role)).findFirst()
                .orElseThrow(() -> new IllegalStateException("pack " + pack.manifest().name()
                        + " has no '" + role + "' block"));
    }

    private static float[] gaussian(long n) {
        Random r = new Random(42);
        float[] xs = new float[Math.toIntExact(n)];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) r.nextGaussian();
        }
        return xs;
    }

    /**
     * Runs bare steps, plain and merged alternately, and forgets them (first calls, allocations).
     *
     * @param steps steps of each kind
     */
    void warmUp(int steps) {
        for (int i = 0; i < steps; i++) {
            step(false, false);
            step(true, false);
            if (packMergesInBlock) {
                step(true, true);
            }
        }
    }

    /**
     * Whether every pair of the pack has {@code forward_merged}, i.e. whether a TDTM pipeline's
     * merged steps merge in the blocks.
     *
     * @return true for a pack of the current exporter
     */
    boolean packMergesInBlock() {
        return packMergesInBlock;
    }

    /**
     * Runs a generation of a pipeline and, right after each of its steps (from the progress
     * listener, outside the step's timing), one bare step of the same kind: every pipeline step
     * is paired with a bare step made a moment later, so that drift in the machine's load hits
     * both alike.
     *
     * @param pipeline a compute-setting pipeline (resident blocks) of the ablation
     * @param request a request of the compute setting's shapes
     * @param merged whether to pair the pipeline's merged (TDTM) steps or its plain ones
     */
    void measurePaired(VideoPipeline pipeline, GenerationRequest request, boolean merged) {
        measurePaired(pipeline, request, merged, false);
    }

    /**
     * As {@link #measurePaired(VideoPipeline, GenerationRequest, boolean)}, with the merged bare
     * steps made in Java even where the pack's pairs have {@code forward_merged}: for a pipeline
     * whose merger takes the Java path.
     *
     * @param pipeline a compute-setting pipeline (resident blocks)
     * @param request a request of the compute setting's shapes
     * @param merged whether to pair the pipeline's merged (TDTM) steps or its plain ones
     * @param inJava whether the merged bare steps merge in Java
     */
    void measurePaired(VideoPipeline pipeline, GenerationRequest request, boolean merged,
            boolean inJava) {
        boolean inBlock = merged && packMergesInBlock && !inJava;
        Map<Integer, Long> blockNanos = new HashMap<>();
        pipeline.generate(request, event -> {
            if (event instanceof ProgressEvent.BlockFinished f && f.stage() == Stage.DENOISE) {
                blockNanos.merge(f.step(), f.elapsedNanos(), Long::sum);
            } else if (event instanceof ProgressEvent.StepFinished f
                    && f.report().merged() == merged) {
                StepReport r = f.report();
                measured.add(new Pair(r.elapsedNanos(), blockNanos.getOrDefault(r.index(), 0L),
                        step(merged, inBlock)));
            }
            return true;
        });
    }

    /**
     * The pairs measured so far.
     *
     * @return plain and merged pairs, in the order they ran
     */
    List<Pair> pairs() {
        return List.copyOf(measured);
    }

    /** Counters of one bare step. */
    private static final class Clock {
        long calls;
        long glue;
        long merge;
    }

    private Sample step(boolean merged, boolean inBlock) {
        Clock c = new Clock();
        try (NDManager step = manager.newSubManager()) {
            long t = System.nanoTime();
            NDArray zi = step.create(z, zShape);
            NDArray zIn = NDArrays.concat(new NDList(zi, zi), 0);
            NDArray ts = step.create(new float[] {TIMESTEP, TIMESTEP}, new Shape(2));
            c.glue += System.nanoTime() - t;
            NDList e = call(c, embed, "forward", step, zIn, ts, captions, fps, height, width);
            NDArray x = e.get(0);
            for (TorchScriptBlock pair : pairs) {
                NDArray input = x;
                // As the pipeline: each pair's intermediates live in a scope freed after it.
                try (NDManager scope = step.newSubManager()) {
                    x = merged && inBlock ? inBlockPair(c, pair, x, e.get(1), e.get(2), scope)
                            : merged ? mergedPair(c, pair, x, e.get(1), e.get(2), scope)
                            : call(c, pair, "forward", scope, x, e.get(1), e.get(2), numFrames)
                                    .head();
                    x.attach(step);
                }
                input.close();
            }
            NDArray o = call(c, fin, "forward", step, x, e.get(3), latentSize).head();
            t = System.nanoTime();
            NDArray vCond = o.get(new NDIndex("0:1, 0:{}", inChannels));
            NDArray vUncond = o.get(new NDIndex("1:2, 0:{}", inChannels));
            NDArray v = vUncond.add(vCond.sub(vUncond).mul(GUIDANCE));
            float[] next = zi.add(v.mul(-1f / 30)).toFloatArray();
            c.glue += System.nanoTime() - t;
            if (next.length != z.length) {
                throw new IllegalStateException("velocity has " + next.length
                        + " values, the latent " + z.length);
            }
        }
        return new Sample(merged, inBlock, c.calls, c.glue, c.merge);
    }

    /** The pair's one {@code forward_merged} call, as the pipeline makes it. */
    private NDArray inBlockPair(Clock c, TorchScriptBlock pair, NDArray x, NDArray yTokens,
            NDArray tMlp, NDManager out) {
        long t = System.nanoTime();
        NDArray layout = MergedPair.layout(groups, merger.averagedFrames(groups).orElseThrow(),
                out);
        c.merge += System.nanoTime() - t;
        return call(c, pair, MergedPair.METHOD, out, x, yTokens, tMlp, layout).head();
    }

    /** The sub-stage calls of a merged pair, as the pipeline's Java merge path makes them. */
    private NDArray mergedPair(Clock c, TorchScriptBlock pair, NDArray x, NDArray yTokens,
            NDArray tMlp, NDManager out) {
        NDArray mergedFrames = out.create((long) groups.groupCount());
        for (String half : HALVES) {
            NDArray h = call(c, pair, half + "_norm_msa", out, x, tMlp).head();
            long t = System.nanoTime();
            NDArray hm = merger.merge(h, groups, spatialTokens);
            c.merge += System.nanoTime() - t;
            NDArray a = call(c, pair, half + "_self_attn", out, hm, mergedFrames).head();
            t = System.nanoTime();
            NDArray au = merger.unmerge(a, groups, spatialTokens);
            c.merge += System.nanoTime() - t;
            x = call(c, pair, half + "_gate_msa", out, x, au, tMlp).head();
            t = System.nanoTime();
            NDArray xm = merger.merge(x, groups, spatialTokens);
            c.merge += System.nanoTime() - t;
            NDArray ca = call(c, pair, half + "_cross_attn", out, xm, yTokens).head();
            t = System.nanoTime();
            x = x.add(merger.unmerge(ca, groups, spatialTokens));
            c.merge += System.nanoTime() - t;
            x = call(c, pair, half + "_mlp", out, x, tMlp).head();
        }
        return x;
    }

    private static NDList call(Clock c, TorchScriptBlock block, String method, NDManager out,
            NDArray... inputs) {
        long t = System.nanoTime();
        NDList r = block.call(method, out, inputs);
        c.calls += System.nanoTime() - t;
        return r;
    }

    /** Frees the blocks and the inputs. */
    @Override
    public void close() {
        blocks.forEach(TorchScriptBlock::close);
        manager.close();
    }
}
