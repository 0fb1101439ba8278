package io.github.sora4j.load;

import io.github.sora4j.InvalidConfigurationException;
import java.util.Map;

/**
 * Peak activation bytes of each block set for one generation: the memory a set's tensors take at
 * their peak while it runs, besides the weights. Budget-aware loaders subtract the running set's
 * peak from the {@link MemoryBudget} before they decide what to keep loaded.
 *
 * <p>The pipeline announces an estimate from the request's shapes before each generation ({@code
 * io.github.sora4j.device.MemoryPlan#activationPeaks}); a measured value can be fixed instead with
 * {@link LoaderSettings#withActivations}.
 *
 * @param bytesBySet peak bytes per set name ({@code t5}, {@code stdit}, {@code vae}); a set that is
 *     not listed needs 0
 */
public record ActivationPeaks(Map<String, Long> bytesBySet) {

    /** No activation memory at all (the loader only budgets weights). */
    public static final ActivationPeaks NONE = new ActivationPeaks(Map.of());

    /**
     * Creates the peaks from a copy of the map.
     *
     * @param bytesBySet peak activation bytes per set name ({@code t5}, {@code stdit}, {@code
     *     vae}), each {@code >= 0}; sets that are not listed need 0. Neither the map nor its keys
     *     or values may be null.
     * @throws InvalidConfigurationException if a value is negative
     */
    public ActivationPeaks {
        bytesBySet = Map.copyOf(bytesBySet);
        bytesBySet.forEach((set, bytes) -> {
            if (bytes < 0) {
                throw new InvalidConfigurationException("activation bytes of set " + set
                        + " must be >= 0 but were " + bytes);
            }
        });
    }

    /**
     * Peaks of the three Open-Sora sets.
     *
     * @param t5 bytes while the T5 encoder runs
     * @param stdit bytes while an STDiT step runs
     * @param vae bytes while the VAE decodes
     * @return the peaks
     */
    public static ActivationPeaks of(long t5, long stdit, long vae) {
        return new ActivationPeaks(Map.of("t5", t5, "stdit", stdit, "vae", vae));
    }

    /**
     * The same number for every set.
     *
     * @param bytes peak bytes of any set
     * @return the peaks
     */
    public static ActivationPeaks uniform(long bytes) {
        return of(bytes, bytes, bytes);
    }

    /**
     * The peak of one set.
     *
     * @param set a set name
     * @return its bytes, 0 if not listed
     */
    public long bytes(String set) {
        return bytesBySet.getOrDefault(set, 0L);
    }

    /**
     * The largest peak of any set.
     *
     * @return bytes
     */
    public long maxBytes() {
        return bytesBySet.values().stream().mapToLong(Long::longValue).max().orElse(0);
    }
}
