package io.github.sora4j.device;

import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.pack.PackManifest;
import java.util.Locale;

/**
 * The message of a {@link Feasibility} refusal: the limit a request exceeds, what it needs, and
 * the largest request that fits (the most frames at its size, and the largest size of its aspect
 * at its frames, each found by bisection).
 *
 * @param m the pack's manifest
 * @param frames the request's pixel frames
 * @param height its pixel height
 * @param width its pixel width
 * @param tokens valid caption tokens L
 * @param limits this process's memory
 */
record Refusal(PackManifest m, int frames, int height, int width, int tokens,
        ProcessMemory limits) {

    /** The message for a request whose need exceeds a limit. */
    String message(RequestNeed need) {
        long needed;
        long available;
        String what;
        switch (need.exceeded()) {
            case LATENT -> {
                needed = need.latentElements();
                available = Feasibility.MAX_ARRAY_FLOATS;
                what = String.format(Locale.ROOT, "its latent has %,d elements, more than the "
                        + "%,d a Java float[] copy of a tensor holds", needed, available);
            }
            case PIXELS -> {
                needed = need.pixelElements();
                available = Feasibility.MAX_ARRAY_FLOATS;
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
                        + (limits.nativeSource().equals(ProcessMemory.OVERRIDE_SOURCE)
                                ? ")" : "; override with " + ProcessMemory.OVERRIDE_SOURCE + ")");
            }
        }
        return new StringBuilder("request of ").append(frames).append(" frames at ").append(width)
                .append('x').append(height).append(" cannot run here: ").append(what).append("; ")
                .append(largestFit()).toString();
    }

    /** The most frames at this size, and the largest size of this aspect at these frames. */
    private String largestFit() {
        int sc = m.vae().spatialCompression();
        int lo = 0;
        int hi = frames - 1;
        while (lo < hi) {
            int mid = (int) (((long) lo + hi + 1) / 2);
            if (fits(mid, height, width)) {
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
            if (fits(frames, (int) (mid * sc), (int) (scaled(wl, mid, hl) * sc))) {
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

    private boolean fits(int f, int h, int w) {
        return RequestNeed.of(m, f, h, w, tokens, limits).fits();
    }
}
