package io.github.sora4j.device;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.GenerationRequest;
import io.github.sora4j.InfeasibleRequestException;
import io.github.sora4j.InvalidRequestException;
import io.github.sora4j.internal.VaeDecoder;
import io.github.sora4j.load.ActivationPeaks;
import io.github.sora4j.load.BlockReaders;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.pack.BlockInfo;
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
 * time at a given rate; the time is reported, never refused.
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

    private static final long F32 = 4;
    /** Latent arrays alive at once: the current latent, the next one and the step's copy. */
    private static final long LATENT_COPIES = 3;

    private final int frames;
    private final int width;
    private final int height;
    private final int steps;
    private final Need need;
    private final double flops;
    private final ProcessMemory limits;
    private final String refusal;
    private final Limit exceeded;

    private enum Limit {
        LATENT("latent elements"), PIXELS("decoded pixel elements"), HEAP("JVM heap"),
        NATIVE("native memory");

        final String label;

        Limit(String label) {
            this.label = label;
        }
    }

    /** What a request needs; the heap and native sizes only if the element counts fit. */
    private record Need(long latentElements, long pixelElements, long heapBytes, long nativeBytes,
            String nativeSet, Limit exceeded) {}

    private Feasibility(PackManifest m, FlopModel model, int frames, int height, int width,
            int steps, int captionTokens, ProcessMemory limits) {
        this.frames = frames;
        this.width = width;
        this.height = height;
        this.steps = steps;
        this.limits = limits;
        this.need = need(m, frames, height, width, captionTokens, limits);
        this.exceeded = need.exceeded();
        this.flops = exceeded == Limit.LATENT || exceeded == Limit.PIXELS ? Double.NaN
                : flops(m, model, frames, height, width, steps, captionTokens);
        this.refusal = exceeded == null ? null : refusal(m, captionTokens);
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

    private static Need need(PackManifest m, int frames, int height, int width, int tokens,
            ProcessMemory limits) {
        PackManifest.Vae v = m.vae();
        long latentFrames = VaeDecoder.latentFrames(v, frames);
        long latent = satMul(satMul(m.stdit().inChannels(), latentFrames),
                satMul(height / v.spatialCompression(), width / v.spatialCompression()));
        long pixels = satMul(satMul(3, frames), satMul(height, width));
        if (latent > MAX_ARRAY_FLOATS) {
            return new Need(latent, pixels, -1, -1, null, Limit.LATENT);
        }
        if (pixels > MAX_ARRAY_FLOATS) {
            return new Need(latent, pixels, -1, -1, null, Limit.PIXELS);
        }
        long heap = F32 * LATENT_COPIES * latent + (F32 + 1) * pixels;
        ActivationPeaks peaks = MemoryPlan.activationPeaks(m, frames, height, width, tokens);
        long nativeBytes = 0;
        String set = null;
        for (String s : new String[] {"t5", "stdit", "vae"}) {
            // the largest block while it is read: its weights plus the reader's copies of it
            long largest = m.blocks(s).stream().mapToLong(b -> b.parameterBytes()
                    + BlockReaders.torchScript().readOverheadBytes(b)).max().orElse(0);
            long bytes = peaks.bytes(s) + largest + (s.equals("vae") ? F32 * pixels : 0);
            if (set == null || bytes > nativeBytes) {
                nativeBytes = bytes;
                set = s;
            }
        }
        Limit exceeded = heap > limits.heapBytes() ? Limit.HEAP
                : nativeBytes > limits.nativeBytes() ? Limit.NATIVE : null;
        return new Need(latent, pixels, heap, nativeBytes, set, exceeded);
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

    private String refusal(PackManifest m, int tokens) {
        long needed;
        long available;
        String what;
        switch (exceeded) {
            case LATENT -> {
                needed = need.latentElements();
                available = MAX_ARRAY_FLOATS;
                what = String.format(Locale.ROOT, "its latent has %,d elements, more than the "
                        + "%,d a Java float[] copy of a tensor holds", needed, available);
            }
            case PIXELS -> {
                needed = need.pixelElements();
                available = MAX_ARRAY_FLOATS;
                what = String.format(Locale.ROOT, "its decoded video has %,d values (3 x %d "
                        + "frames x %dx%d), more than the %,d a Java float[] copy of a tensor "
                        + "holds", needed, frames, width, height, available);
            }
            case HEAP -> {
                needed = need.heapBytes();
                available = limits.heapBytes();
                what = "it needs about " + MemoryBudget.format(needed) + " of Java heap (latents,"
                        + " decoded pixels and frames) but the JVM's maximum heap is "
                        + MemoryBudget.format(available) + " (raise -Xmx)";
            }
            default -> {
                needed = need.nativeBytes();
                available = limits.nativeBytes();
                what = "it needs about " + MemoryBudget.format(needed) + " of native memory (the "
                        + need.nativeSet() + " set's activations and largest block) but "
                        + MemoryBudget.format(available) + " is available (" + limits.nativeSource()
                        + "; override with -D" + ProcessMemory.AVAILABLE_PROPERTY + ")";
            }
        }
        return new StringBuilder("request of ").append(frames).append(" frames at ").append(width)
                .append('x').append(height).append(" cannot run here: ").append(what).append("; ")
                .append(largestFit(m, tokens)).toString();
    }

    /** The most frames at this size, and the largest size of this aspect at these frames. */
    private String largestFit(PackManifest m, int tokens) {
        int sc = m.vae().spatialCompression();
        int lo = 0;
        int hi = frames - 1;
        while (lo < hi) {
            int mid = (int) (((long) lo + hi + 1) / 2);
            if (fits(m, mid, height, width, tokens)) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        int mostFrames = lo;
        long hl = height / sc;
        long wl = width / sc;
        long lh = 0;
        long hh = hl;
        while (lh < hh) {
            long mid = (lh + hh + 1) / 2;
            if (fits(m, frames, (int) (mid * sc), (int) (scaled(wl, mid, hl) * sc), tokens)) {
                lh = mid;
            } else {
                hh = mid - 1;
            }
        }
        StringBuilder s = new StringBuilder("the largest request that fits is ");
        if (mostFrames >= 1) {
            s.append(mostFrames).append(" frames at ").append(width).append('x').append(height);
        }
        if (lh >= 1) {
            if (mostFrames >= 1) {
                s.append(", or ");
            }
            s.append(scaled(wl, lh, hl) * sc).append('x').append(lh * sc).append(" at ")
                    .append(frames).append(" frames");
        }
        if (mostFrames < 1 && lh < 1) {
            return "not even 1 frame at " + width + "x" + height + " or " + frames + " frames at "
                    + scaled(wl, 1, hl) * sc + "x" + sc + " fits";
        }
        return s.toString();
    }

    private static long scaled(long wl, long h, long hl) {
        return Math.max(1, wl * h / hl);
    }

    private boolean fits(PackManifest m, int f, int h, int w, int tokens) {
        return need(m, f, h, w, tokens, limits).exceeded() == null;
    }

    private static long satMul(long a, long b) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
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
