package io.github.sora4j;

import io.github.sora4j.device.Feasibility;
import io.github.sora4j.device.ProcessMemory;
import io.github.sora4j.internal.Prompts;
import io.github.sora4j.internal.TextEncoder;
import io.github.sora4j.internal.VaeDecoder;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.ModelPackException;
import io.github.sora4j.pack.PackManifest;
import io.github.sora4j.plan.FlopModel;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Checks a request against a {@link VideoPipeline}'s model before any block runs: resolves the
 * pack's defaults, checks steps and size, tokenises the prompt and checks that the request fits
 * this process's memory. Borrows the pipeline's tokenizer under its text lock; owns nothing.
 */
final class RequestPreparer {
    private final PackManifest manifest;
    private final FlopModel flopModel;
    private final TextEncoder text;
    private final Object textLock;
    private final AtomicBoolean closed;

    /**
     * A request checked against the model (frames, size and fps resolved), with its derived
     * sizes, tokens and the prompt words the model does not know.
     *
     * @param request the request with the pack's defaults filled in
     * @param tokens the prompt's tokens
     * @param latentFrames latent frames (T)
     * @param latentHeight latent height (H')
     * @param latentWidth latent width (W')
     * @param unknownWords the prompt words the pack's tokenizer does not know
     */
    record Prepared(GenerationRequest request, TextEncoder.Tokens tokens, int latentFrames,
            int latentHeight, int latentWidth, List<String> unknownWords) {}

    /**
     * Makes the checks of a pipeline.
     *
     * @param pack the pipeline's pack
     * @param text the pipeline's text encoder (tokenised under {@code textLock})
     * @param textLock the lock under which the pipeline's {@code close()} frees the tokenizer
     * @param closed the pipeline's closed flag
     */
    RequestPreparer(ModelPack pack, TextEncoder text, Object textLock, AtomicBoolean closed) {
        this.manifest = pack.manifest();
        this.flopModel = flopModelOf(pack);
        this.text = text;
        this.textLock = textLock;
        this.closed = closed;
    }

    private static FlopModel flopModelOf(ModelPack pack) {
        try {
            return FlopModel.of(pack);
        } catch (RuntimeException e) {
            return null; // Feasibility falls back to the manifest's architecture
        }
    }

    /**
     * Checks a request and tokenises its prompt.
     *
     * @param request the request
     * @return the checked request
     * @throws InvalidRequestException naming the value the model cannot take, or {@link
     *     InfeasibleRequestException} if the request cannot fit this process's memory
     * @throws PipelineClosedException if the pipeline is closed
     */
    Prepared prepare(GenerationRequest request) {
        if (request == null) {
            throw new InvalidRequestException("request is null");
        }
        request = request.withPackDefaults(manifest);
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
}
