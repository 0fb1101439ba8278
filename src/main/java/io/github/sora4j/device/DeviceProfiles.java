package io.github.sora4j.device;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.load.MemoryBudget;
import java.util.List;

/**
 * The built-in {@link DeviceProfile}s. Budgets are in bytes (GB = 10^9); docs/memory.md explains
 * each number and how to pick a profile.
 */
public final class DeviceProfiles {

    /**
     * An 8 GB ARM64 phone modelled on the paper's iPhone 15 Pro: 3.3 GB usable by one app, of
     * which 0.3 GB is kept for the runtime (libtorch, the JVM or ART, the tokenizer); 4 compute
     * threads (the big cores), 1 inter-op thread; float32 with int8 T5 as On-device Sora runs;
     * LPL at step 15, TDTM for 15 steps, CI-DL.
     */
    public static final DeviceProfile PHONE_ARM64_8GB = new DeviceProfile("phone-arm64-8gb",
            "8 GB ARM64 phone, 3.3 GB usable per app (the paper's iPhone 15 Pro)",
            new MemoryBudget(3_300_000_000L, 300_000_000L), 4, 1,
            WeightPrecision.FLOAT32_T5_INT8, Techniques.PAPER);

    /**
     * A 12 GB ARM64 Android phone: 6 GB for the app (Android has no fixed per-app cap; about half
     * the RAM is what a foreground app can hold without the low-memory killer taking it), 0.4 GB
     * of it for the runtime; 4 compute threads, 1 inter-op thread; float32 with int8 T5; LPL,
     * TDTM and CI-DL as in the paper.
     */
    public static final DeviceProfile ANDROID_ARM64_12GB = new DeviceProfile(
            "android-arm64-12gb",
            "12 GB ARM64 Android phone, about 6 GB for a foreground app",
            new MemoryBudget(6_000_000_000L, 400_000_000L), 4, 1,
            WeightPrecision.FLOAT32_T5_INT8, Techniques.PAPER);

    /**
     * A desktop or laptop with 32 GB: 24 GB for the pipeline, 1 GB of it for the runtime; DJL's
     * default threads (one per core); float32; no LPL or TDTM (full quality), CI-DL, which keeps
     * everything resident that fits and streams the rest.
     */
    public static final DeviceProfile DESKTOP = new DeviceProfile("desktop",
            "desktop or laptop with 32 GB of RAM",
            new MemoryBudget(24_000_000_000L, 1_000_000_000L), 0, 0,
            WeightPrecision.FLOAT32, Techniques.FULL_QUALITY);

    private DeviceProfiles() {}

    /**
     * Every built-in profile, smallest first.
     *
     * @return the profiles
     */
    public static List<DeviceProfile> all() {
        return List.of(PHONE_ARM64_8GB, ANDROID_ARM64_12GB, DESKTOP);
    }

    /**
     * A built-in profile by name.
     *
     * @param name e.g. {@code phone-arm64-8gb}
     * @return the profile
     * @throws InvalidConfigurationException naming the known profiles if there is none by that name
     */
    public static DeviceProfile byName(String name) {
        for (DeviceProfile p : all()) {
            if (p.name().equals(name)) {
                return p;
            }
        }
        throw new InvalidConfigurationException("no device profile named '" + name + "'; known: "
                + all().stream().map(DeviceProfile::name).toList());
    }
}
