package io.github.sora4j.device;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.LoaderSettings;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.pack.ModelPack;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * A class of device the pipeline runs on: its memory budget, CPU threads, preferred weight
 * precision and default techniques. Built-ins are in {@link DeviceProfiles}; make your own with
 * the constructor or the {@code with…} copies.
 *
 * <pre>{@code
 * DeviceProfile mine = DeviceProfiles.PHONE_ARM64_8GB
 *         .withName("my-phone")
 *         .withBudget(new MemoryBudget(5_000_000_000L, 400_000_000L));
 * try (VideoPipeline p = VideoPipeline.builder().pack(pack).deviceProfile(mine).build()) { … }
 * }</pre>
 *
 * @param name a short identifier, e.g. {@code phone-arm64-8gb}
 * @param description what device it models
 * @param budget memory the pipeline may use (weights and activations; see docs/memory.md)
 * @param computeThreads libtorch intra-op threads, 0 for DJL's default (one per core)
 * @param interopThreads libtorch inter-op threads, 0 for DJL's default
 * @param weightPrecision the pack precision to export for this device
 * @param techniques LPL, TDTM and the block loader turned on by default
 */
public record DeviceProfile(String name, String description, MemoryBudget budget,
        int computeThreads, int interopThreads, WeightPrecision weightPrecision,
        Techniques techniques) {

    /** DJL's system property for libtorch intra-op threads. */
    public static final String NUM_THREADS_PROPERTY = "ai.djl.pytorch.num_threads";
    /** DJL's system property for libtorch inter-op threads. */
    public static final String NUM_INTEROP_THREADS_PROPERTY = "ai.djl.pytorch.num_interop_threads";

    /**
     * Creates a profile; the {@code with…} copies of a built-in in {@link DeviceProfiles} are
     * usually shorter.
     *
     * @param name a short identifier, e.g. {@code phone-arm64-8gb} (what {@code --profile} takes);
     *     not blank
     * @param description what device it models, one line; not null
     * @param budget memory the pipeline may use for weights and activations; not null
     * @param computeThreads libtorch intra-op threads, {@code >= 0}; 0 for DJL's default (one per
     *     core)
     * @param interopThreads libtorch inter-op threads, {@code >= 0}; 0 for DJL's default
     * @param weightPrecision the pack precision to export for this device; not null
     * @param techniques LPL, TDTM and the block loader turned on by default; not null
     * @throws InvalidConfigurationException if the name is null or blank or a thread count is negative
     * @throws InvalidConfigurationException if another argument is null
     */
    public DeviceProfile {
        if (name == null || name.isBlank()) {
            throw new InvalidConfigurationException("profile name must not be empty but was "
                    + (name == null ? "null" : "'" + name + "'"));
        }
        InvalidConfigurationException.requireNonNull(description, "description");
        InvalidConfigurationException.requireNonNull(budget, "budget");
        if (computeThreads < 0 || interopThreads < 0) {
            throw new InvalidConfigurationException("thread counts must be >= 0 (0: DJL's default) "
                    + "but were computeThreads=" + computeThreads + ", interopThreads="
                    + interopThreads);
        }
        InvalidConfigurationException.requireNonNull(weightPrecision, "weightPrecision");
        InvalidConfigurationException.requireNonNull(techniques, "techniques");
    }

    /**
     * How a pipeline makes its block loader on this device: the profile's loader kind under its
     * budget.
     *
     * @return a loader factory for {@code VideoPipeline.Builder.blockLoader}
     */
    public Function<ModelPack, BlockLoader> loaderFactory() {
        LoaderSettings settings = LoaderSettings.of(budget);
        return pack -> techniques.loader().newLoader(pack, settings);
    }

    /**
     * The DJL system properties that set this profile's thread counts (those that are not 0).
     * They take effect only if set before DJL's PyTorch engine starts, i.e. before the first
     * pipeline of the JVM is built.
     *
     * @return property names and values
     */
    public Map<String, String> threadProperties() {
        Map<String, String> p = new LinkedHashMap<>();
        if (computeThreads > 0) {
            p.put(NUM_THREADS_PROPERTY, Integer.toString(computeThreads));
        }
        if (interopThreads > 0) {
            p.put(NUM_INTEROP_THREADS_PROPERTY, Integer.toString(interopThreads));
        }
        return p;
    }

    /**
     * A copy with another name.
     *
     * @param newName the name
     * @return the copy
     */
    public DeviceProfile withName(String newName) {
        return new DeviceProfile(newName, description, budget, computeThreads, interopThreads,
                weightPrecision, techniques);
    }

    /**
     * A copy with another budget.
     *
     * @param newBudget the budget
     * @return the copy
     */
    public DeviceProfile withBudget(MemoryBudget newBudget) {
        return new DeviceProfile(name, description, newBudget, computeThreads, interopThreads,
                weightPrecision, techniques);
    }

    /**
     * A copy with other thread counts.
     *
     * @param compute intra-op threads (0: DJL's default)
     * @param interop inter-op threads (0: DJL's default)
     * @return the copy
     */
    public DeviceProfile withThreads(int compute, int interop) {
        return new DeviceProfile(name, description, budget, compute, interop, weightPrecision,
                techniques);
    }

    /**
     * A copy with another weight precision.
     *
     * @param precision the precision
     * @return the copy
     */
    public DeviceProfile withWeightPrecision(WeightPrecision precision) {
        return new DeviceProfile(name, description, budget, computeThreads, interopThreads,
                precision, techniques);
    }

    /**
     * A copy with other techniques.
     *
     * @param newTechniques the techniques
     * @return the copy
     */
    public DeviceProfile withTechniques(Techniques newTechniques) {
        return new DeviceProfile(name, description, budget, computeThreads, interopThreads,
                weightPrecision, newTechniques);
    }
}
