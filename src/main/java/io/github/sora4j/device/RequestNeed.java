package io.github.sora4j.device;

import io.github.sora4j.internal.VaeDecoder;
import io.github.sora4j.load.ActivationPeaks;
import io.github.sora4j.load.BlockReaders;
import io.github.sora4j.pack.PackManifest;

/**
 * What a request needs for {@link Feasibility}, and the first limit it exceeds; the heap and
 * native sizes only if the element counts fit (else -1).
 *
 * @param latentElements C·T·H'·W', saturating
 * @param pixelElements 3·F·H·W, saturating
 * @param heapBytes the latents, decoded pixels and frames on the Java heap
 * @param nativeBytes the most demanding block set's activations, largest block while read, and
 *     for the VAE the decoded pixels' transfer buffer
 * @param nativeSet that set's name
 * @param exceeded the first limit exceeded, null if none
 */
record RequestNeed(long latentElements, long pixelElements, long heapBytes, long nativeBytes,
        String nativeSet, Limit exceeded) {
    private static final long F32 = 4;
    /** Latent arrays alive at once: the current latent, the next one and the step's copy. */
    private static final long LATENT_COPIES = 3;

    /** The limits {@link Feasibility} checks, in that order. */
    enum Limit {
        LATENT("latent elements"), PIXELS("decoded pixel elements"), HEAP("JVM heap"),
        NATIVE("native memory");

        final String label;

        Limit(String label) {
            this.label = label;
        }
    }

    /** Whether the request fits every limit. */
    boolean fits() {
        return exceeded == null;
    }

    /**
     * The needs of a request of these shapes.
     *
     * @param tokens valid caption tokens L
     * @param limits this process's memory
     */
    static RequestNeed of(PackManifest m, int frames, int height, int width, int tokens,
            ProcessMemory limits) {
        PackManifest.Vae v = m.vae();
        long latentFrames = VaeDecoder.latentFrames(v, frames);
        long latent = satMul(satMul(m.stdit().inChannels(), latentFrames),
                satMul(height / v.spatialCompression(), width / v.spatialCompression()));
        long pixels = satMul(satMul(3, frames), satMul(height, width));
        if (latent > Feasibility.MAX_ARRAY_FLOATS) {
            return new RequestNeed(latent, pixels, -1, -1, null, Limit.LATENT);
        }
        if (pixels > Feasibility.MAX_ARRAY_FLOATS) {
            return new RequestNeed(latent, pixels, -1, -1, null, Limit.PIXELS);
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
        return new RequestNeed(latent, pixels, heap, nativeBytes, set, exceeded);
    }

    private static long satMul(long a, long b) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }
}
