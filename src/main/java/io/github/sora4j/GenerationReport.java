package io.github.sora4j;

import io.github.sora4j.load.MemoryBudget;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * What ran in a generation: timings per stage and per step, model calls and block loading.
 *
 * @param textEncodeNanos wall time of prompt tokenisation and T5
 * @param denoiseNanos wall time of all sampling steps
 * @param decodeNanos wall time of the VAE decoder
 * @param totalNanos wall time of the whole call
 * @param steps one report per step that ran
 * @param plannedSteps steps K the scheduler planned
 * @param blocksLoaded blocks read from disk during this generation
 * @param peakLoadedBytes the most block parameter bytes loaded at once (loader's view)
 * @param promptTokens valid prompt tokens L (including {@code </s>})
 * @param latentShape shape of the latent [1, C, T, H', W']
 * @param unknownWords prompt words the pack's model does not know (mapped to the tokenizer's
 *     unknown token, or outside the pack's declared vocabulary), in prompt order; empty if none
 */
public record GenerationReport(
        long textEncodeNanos,
        long denoiseNanos,
        long decodeNanos,
        long totalNanos,
        List<StepReport> steps,
        int plannedSteps,
        int blocksLoaded,
        long peakLoadedBytes,
        int promptTokens,
        long[] latentShape,
        List<String> unknownWords) {

    /**
     * Copies the lists.
     *
     * @param textEncodeNanos wall time of prompt tokenisation and T5
     * @param denoiseNanos wall time of all sampling steps
     * @param decodeNanos wall time of the VAE decoder
     * @param totalNanos wall time of the whole call
     * @param steps one report per step that ran
     * @param plannedSteps steps K the scheduler planned
     * @param blocksLoaded blocks read from disk during this generation
     * @param peakLoadedBytes the most block parameter bytes loaded at once (loader's view)
     * @param promptTokens valid prompt tokens L (including {@code </s>})
     * @param latentShape shape of the latent [1, C, T, H', W']
     * @param unknownWords prompt words the model does not know, in prompt order
     */
    public GenerationReport {
        steps = List.copyOf(steps);
        latentShape = latentShape.clone();
        unknownWords = List.copyOf(unknownWords);
    }

    /**
     * A report without unknown prompt words.
     *
     * @param textEncodeNanos wall time of prompt tokenisation and T5
     * @param denoiseNanos wall time of all sampling steps
     * @param decodeNanos wall time of the VAE decoder
     * @param totalNanos wall time of the whole call
     * @param steps one report per step that ran
     * @param plannedSteps steps K the scheduler planned
     * @param blocksLoaded blocks read from disk during this generation
     * @param peakLoadedBytes the most block parameter bytes loaded at once (loader's view)
     * @param promptTokens valid prompt tokens L (including {@code </s>})
     * @param latentShape shape of the latent [1, C, T, H', W']
     */
    public GenerationReport(long textEncodeNanos, long denoiseNanos, long decodeNanos,
            long totalNanos, List<StepReport> steps, int plannedSteps, int blocksLoaded,
            long peakLoadedBytes, int promptTokens, long[] latentShape) {
        this(textEncodeNanos, denoiseNanos, decodeNanos, totalNanos, steps, plannedSteps,
                blocksLoaded, peakLoadedBytes, promptTokens, latentShape, List.of());
    }

    /**
     * Denoiser (STDiT) calls made: one per step that ran.
     *
     * @return the number of steps that ran
     */
    public int modelCalls() {
        return steps.size();
    }

    /**
     * Model calls saved relative to the plan (e.g. by an LPL leap).
     *
     * @return planned minus run
     */
    public int modelCallsSaved() {
        return plannedSteps - steps.size();
    }

    /**
     * The step that leapt straight to t = 0 (LPL), or -1.
     *
     * @return the leap step index or -1
     */
    public int leapStep() {
        return steps.stream().filter(StepReport::leap).mapToInt(StepReport::index).findFirst()
                .orElse(-1);
    }

    /**
     * Steps that ran STDiT's block stack; the others reused a step cache's residual or velocity
     * ({@link io.github.sora4j.cache.StepCache}).
     *
     * @return the count (all steps without a cache)
     */
    public int computedSteps() {
        return (int) steps.stream().filter(StepReport::computed).count();
    }

    /**
     * Steps that ran with merged tokens (TDTM).
     *
     * @return the count
     */
    public int mergedSteps() {
        return (int) steps.stream().filter(StepReport::merged).count();
    }

    /**
     * The shape of the latent [1, C, T, H', W'].
     *
     * @return a copy of the shape
     */
    @Override
    public long[] latentShape() {
        return latentShape.clone();
    }

    /**
     * A one-line summary with values, e.g. {@code GenerationReport[total=2.26 s, textEncode=0.24 s,
     * denoise=1.30 s, decode=0.71 s, steps=16/30, leapStep=15, mergedSteps=0, blocksLoaded=22,
     * peakLoaded=11.1 MB, promptTokens=13, latentShape=[1, 4, 15, 8, 8]]}, with {@code computedSteps=N}
     * after mergedSteps when a step cache skipped steps. The per-step reports are in {@link
     * #steps()}.
     *
     * @return the summary
     */
    @Override
    public String toString() {
        return String.format(Locale.ROOT, "GenerationReport[total=%s, textEncode=%s, denoise=%s, "
                        + "decode=%s, steps=%d/%d, leapStep=%d, mergedSteps=%d, %sblocksLoaded=%d, "
                        + "peakLoaded=%s, promptTokens=%d, latentShape=%s]",
                seconds(totalNanos), seconds(textEncodeNanos), seconds(denoiseNanos),
                seconds(decodeNanos), steps.size(), plannedSteps, leapStep(), mergedSteps(),
                computedSteps() == steps.size() ? "" : "computedSteps=" + computedSteps() + ", ",
                blocksLoaded, MemoryBudget.format(peakLoadedBytes), promptTokens,
                Arrays.toString(latentShape));
    }

    private static String seconds(long nanos) {
        return String.format(Locale.ROOT, "%.2f s", nanos / 1e9);
    }
}
