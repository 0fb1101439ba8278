package io.github.sora4j.device;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.GenerationRequest;
import io.github.sora4j.InfeasibleRequestException;
import io.github.sora4j.InvalidRequestException;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.pack.PackManifest;
import io.github.sora4j.plan.Architecture;
import io.github.sora4j.plan.FlopModel;
import java.util.Locale;

/**
 * Whether a request can run in this process at all, decided from the manifest and the request's
 * shapes before any block loads; {@link io.github.sora4j.VideoPipeline} checks it for every
 * request (with or without a memory budget) and {@code sora4j plan} prints it. Three limits:
 *
 * <ol>
 *   <li><b>Array elements.</b> The latent (C·T·H'·W') and the decoded pixels (3·F·H·W) are copied
 *       into Java {@code float[]} arrays through a byte buffer, so each holds at most {@value
 *       #MAX_ARRAY_FLOATS} floats.
 *   <li><b>JVM heap.</b> The latents (about three alive at once), the decoded pixels as floats and
 *       the frames as bytes must fit the maximum heap ({@code -Xmx}).
 *   <li><b>Native memory.</b> The block set with the largest need, its activation peak ({@link
 *       MemoryPlan#activationPeaks}) plus its largest block and the copies reading it holds
 *       ({@link io.github.sora4j.load.BlockReader#readOverheadBytes}), plus the decoded pixels' transfer
 *       buffer for the VAE, must fit the physical memory available ({@link ProcessMemory}). That is
 *       what even loading one block at a time needs; a loader that keeps more blocks needs more,
 *       and budget-aware loaders check that against their budget ({@link MemoryPlan}).
 * </ol>
 *
 * <p>It also estimates the work of the T5 encoder and the denoising steps from the {@link
 * FlopModel} (all steps, no LPL or TDTM: an upper bound; the VAE decoder is not counted) and the
 * time at a given rate; the time is reported, never refused. (The needs are computed by {@code
 * RequestNeed}, a refusal's message and largest fit by {@code Refusal}.)
 *
 * <pre>{@code
 * Feasibility f = Feasibility.of(pack.manifest(), request, ProcessMemory.ofProcess());
 * if (!f.fits()) System.out.println(f.refusal());   // names the limit and the largest fit
 * }</pre>
 */
public final class Feasibility {
    /** Most floats a tensor copied into a Java array may hold (its bytes index a buffer). */
    public static final long MAX_ARRAY_FLOATS = Integer.MAX_VALUE / 4;
    /** System property: the FLOP rate time estimates assume. */
    public static final String RATE_PROPERTY = "sora4j.flopsPerSecond";
    /** The FLOP rate assumed when {@value #RATE_PROPERTY} is unset: 50 GFLOP/s. */
    public static final double DEFAULT_FLOPS_PER_SECOND = 50e9;

    private final int frames;
    private final int width;
    private final int height;
    private final int steps;
    private final RequestNeed need;
    private final double flops;
    private final ProcessMemory limits;
    private final String refusal;
    private final RequestNeed.Limit exceeded;

    private Feasibility(PackManifest m, FlopModel model, int frames, int height, int width,
            int steps, int captionTokens, ProcessMemory limits) {
        this.frames = frames;
        this.width = width;
        this.height = height;
        this.steps = steps;
        this.limits = limits;
        this.need = RequestNeed.of(m, frames, height, width, captionTokens, limits);
        this.exceeded = need.exceeded();
        this.flops = exceeded == RequestNeed.Limit.LATENT || exceeded == RequestNeed.Limit.PIXELS
                ? Double.NaN : flops(m, model, frames, height, width, steps, captionTokens);
        this.refusal = exceeded == null ? null
                : new Refusal(m, frames, height, width, captionTokens, limits).message(need);
    }

    /**
     * Checks a request assuming the longest caption the model takes.
     *
     * @param manifest the pack's manifest
     * @param request the request
     * @param limits this process's memory, e.g. {@link ProcessMemory#ofProcess()}
     * @return the verdict
     */
    public static Feasibility of(PackManifest manifest, GenerationRequest request,
            ProcessMemory limits) {
        return of(manifest, null, request.frames(), request.height(), request.width(),
                request.steps(), manifest.text().modelMaxLength(), limits);
    }

    /**
     * Checks a request's shapes.
     *
     * @param manifest the pack's manifest
     * @param flopModel the pack's FLOP model ({@link FlopModel#of(io.github.sora4j.pack.ModelPack)}),
     *     or null for {@link Architecture#fromManifest}
     * @param frames pixel frames
     * @param height pixel height, a multiple of the spatial compression
     * @param width pixel width, a multiple of the spatial compression
     * @param steps sampling steps
     * @param captionTokens valid caption tokens L
     * @param limits this process's memory
     * @return the verdict
     * @throws InvalidRequestException if a size is not positive
     */
    public static Feasibility of(PackManifest manifest, FlopModel flopModel, int frames,
            int height, int width, int steps, int captionTokens, ProcessMemory limits) {
        if (frames < 1 || height < 1 || width < 1 || steps < 1 || captionTokens < 1) {
            throw new InvalidRequestException("frames, height, width, steps and captionTokens "
                    + "must be >= 1 but were " + frames + ", " + height + ", " + width + ", "
                    + steps + ", " + captionTokens);
        }
        return new Feasibility(manifest, flopModel, frames, height, width, steps, captionTokens,
                InvalidConfigurationException.requireNonNull(limits, "limits"));
    }

    private static double flops(PackManifest m, FlopModel model, int frames, int height,
            int width, int steps, int tokens) {
        try {
            FlopModel f = model != null ? model : FlopModel.of(Architecture.fromManifest(m));
            FlopModel.RunFlops run = f.run(f.geometry(frames, height, width, tokens), steps, -1, 0);
            // Not the VAE: without the pack's architecture object the FLOP model assumes Open-Sora's
            // decoder, which a small pack (the demo's) does not have.
            return run.textFlops() + run.denoiseFlops();
        } catch (RuntimeException e) {
            return Double.NaN; // an architecture the FLOP model cannot describe: no estimate
        }
    }

    /**
     * Whether the request fits every limit.
     *
     * @return true if it can run here
     */
    public boolean fits() {
        return exceeded == null;
    }

    /**
     * Why the request cannot run: the limit, what it needs and the largest request that fits.
     *
     * @return the message, or null if it fits
     */
    public String refusal() {
        return refusal;
    }

    /**
     * Throws if the request does not fit.
     *
     * @throws InfeasibleRequestException naming the limit and the largest request that fits
     */
    public void check() {
        if (exceeded != null) {
            long needed = switch (exceeded) {
                case LATENT -> need.latentElements();
                case PIXELS -> need.pixelElements();
                case HEAP -> need.heapBytes();
                case NATIVE -> need.nativeBytes();
            };
            long available = switch (exceeded) {
                case LATENT, PIXELS -> MAX_ARRAY_FLOATS;
                case HEAP -> limits.heapBytes();
                case NATIVE -> limits.nativeBytes();
            };
            throw new InfeasibleRequestException(exceeded.label, needed, available, refusal);
        }
    }

    /**
     * Elements of the latent C·T·H'·W' (saturating at {@link Long#MAX_VALUE}).
     *
     * @return elements
     */
    public long latentElements() {
        return need.latentElements();
    }

    /**
     * Values of the decoded video 3·F·H·W (saturating).
     *
     * @return elements
     */
    public long pixelElements() {
        return need.pixelElements();
    }

    /**
     * Estimated Java heap the generation needs, or -1 if the element counts already fail.
     *
     * @return bytes
     */
    public long heapBytes() {
        return need.heapBytes();
    }

    /**
     * Estimated native memory of the most demanding block set run one block at a time, or -1 if
     * the element counts already fail.
     *
     * @return bytes
     */
    public long nativeBytes() {
        return need.nativeBytes();
    }

    /**
     * Estimated floating-point work of the T5 encoder and all denoising steps without LPL or TDTM
     * (the VAE decoder is not counted).
     *
     * @return FLOPs, or NaN if the FLOP model cannot describe the pack or the request
     */
    public double flops() {
        return flops;
    }

    /**
     * Estimated time at a FLOP rate.
     *
     * @param flopsPerSecond the rate, e.g. {@link #assumedFlopsPerSecond()}
     * @return seconds, or NaN without a FLOP estimate
     */
    public double estimatedSeconds(double flopsPerSecond) {
        return flops / flopsPerSecond;
    }

    /**
     * The FLOP rate {@value #RATE_PROPERTY} sets, else {@link #DEFAULT_FLOPS_PER_SECOND}.
     *
     * @return FLOP/s
     */
    public static double assumedFlopsPerSecond() {
        String p = System.getProperty(RATE_PROPERTY);
        try {
            double r = p == null ? DEFAULT_FLOPS_PER_SECOND : Double.parseDouble(p.strip());
            return Double.isFinite(r) && r > 0 ? r : DEFAULT_FLOPS_PER_SECOND;
        } catch (NumberFormatException e) {
            return DEFAULT_FLOPS_PER_SECOND;
        }
    }

    /** A few lines: the verdict, each need against its limit, and the time estimate. */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "Feasibility: %d frames %dx%d, %d steps: %s%n",
                frames, width, height, steps, fits() ? "fits this process" : "does NOT fit"));
        s.append(String.format(Locale.ROOT, "latent %,d elements, pixels %,d (at most %,d each)%n",
                need.latentElements(), need.pixelElements(), MAX_ARRAY_FLOATS));
        if (need.heapBytes() >= 0) {
            s.append(String.format(Locale.ROOT, "heap %s of %s; native %s (%s set) of %s%n",
                    MemoryBudget.format(need.heapBytes()), MemoryBudget.format(limits.heapBytes()),
                    MemoryBudget.format(need.nativeBytes()), need.nativeSet(),
                    limits.nativeKnown() ? MemoryBudget.format(limits.nativeBytes()) + " ("
                            + limits.nativeSource() + ")" : "unknown"));
        }
        if (Double.isFinite(flops)) {
            double rate = assumedFlopsPerSecond();
            s.append(String.format(Locale.ROOT, "work %.3g TFLOP (T5 and %d steps, no LPL/TDTM), "
                    + "about %s at an assumed %.0f GFLOP/s (-D%s)%n", flops / 1e12, steps,
                    duration(estimatedSeconds(rate)),
                    rate / 1e9, RATE_PROPERTY));
        }
        if (refusal != null) {
            s.append(refusal).append('\n');
        }
        return s.toString();
    }

    private static String duration(double seconds) {
        if (seconds < 120) {
            return String.format(Locale.ROOT, "%.1f s", seconds);
        }
        if (seconds < 7200) {
            return String.format(Locale.ROOT, "%.1f min", seconds / 60);
        }
        return String.format(Locale.ROOT, "%.1f h", seconds / 3600);
    }
}
