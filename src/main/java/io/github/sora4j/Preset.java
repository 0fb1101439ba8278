package io.github.sora4j;

import io.github.sora4j.cache.MagCacheCalibration;
import io.github.sora4j.cache.StepCache;
import io.github.sora4j.cache.StepCaches;
import io.github.sora4j.merge.TokenMerger;
import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.schedule.StepScheduler;
import io.github.sora4j.schedule.StepSchedulers;
import java.util.Arrays;
import java.util.Locale;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Named combinations of the speed techniques: LPL (fixed leap at step 15: 16 of 30 model calls),
 * TDTM and step caching, the same names as the CLI's {@code --preset} and the rows of
 * docs/benchmarks.md and docs/quality.md (issue 18). Apply one with {@link
 * VideoPipeline.Builder#preset}.
 *
 * <p>The caching presets reuse the last computed velocity on skipped steps (on the demo pack it
 * gave a higher PSNR than reusing the block stack's residual at the same skips, and a skipped step
 * then runs no block at all; docs/techniques.md). The {@code cache} and {@code lpl-cache} masks come
 * from the pack's calibration ({@link MagCacheCalibration}); a pack without one is refused when
 * the pipeline is built.
 */
public enum Preset {
    /** 30 full steps, nothing skipped or merged (the reference). */
    FULL("full", -1, 0, null),
    /** LPL: leap at step 15 (16 of 30 model calls). */
    LPL("lpl", 15, 0, null),
    /** TDTM on all 30 steps. */
    TDTM("tdtm", -1, 30, null),
    /** The paper's app: LPL 16/30 and TDTM on the first 15 steps. */
    PAPER("paper", 15, 15, null),
    /** MagCache-style fixed mask from the pack's calibration (threshold 0.1, ≤ 3 skips in a row). */
    CACHE("cache", -1, 0, CacheKind.MASK),
    /** The adaptive rule alone (threshold 0.4, ≤ 4 skips in a row, from step 2). */
    CACHE_ADAPTIVE("cache-adaptive", -1, 0, CacheKind.ADAPTIVE),
    /** LPL 16/30 with the calibrated mask: the fast preset that keeps quality (no TDTM flicker). */
    LPL_CACHE("lpl-cache", 15, 0, CacheKind.MASK),
    /** LPL 16/30 with the adaptive rule. */
    LPL_CACHE_ADAPTIVE("lpl-cache-adaptive", 15, 0, CacheKind.ADAPTIVE),
    /**
     * LPL 16/30, TDTM on the first 15 steps and the calibrated mask: the fastest; TDTM makes single
     * frames flicker on the demo pack.
     */
    ALL("all", 15, 15, CacheKind.MASK);

    /** The mask's accumulated-error threshold. */
    public static final double MASK_THRESHOLD = 0.1;
    /** The mask's longest run of skipped steps. */
    public static final int MASK_MAX_SKIPS = 3;
    /** The mask's first steps that always compute. */
    public static final int MASK_WARMUP = 3;
    /** The adaptive rule's threshold on the estimated relative output change. */
    public static final double ADAPTIVE_THRESHOLD = 0.4;
    /** The adaptive rule's longest run of skipped steps. */
    public static final int ADAPTIVE_MAX_SKIPS = 4;
    /** The adaptive rule's first steps that always compute. */
    public static final int ADAPTIVE_WARMUP = 2;

    private enum CacheKind { MASK, ADAPTIVE }

    private final String id;
    private final int lplLeapStep;
    private final int tdtmMergeSteps;
    private final CacheKind cache;

    Preset(String id, int lplLeapStep, int tdtmMergeSteps, CacheKind cache) {
        this.id = id;
        this.lplLeapStep = lplLeapStep;
        this.tdtmMergeSteps = tdtmMergeSteps;
        this.cache = cache;
    }

    /**
     * The name on the command line and in the tables.
     *
     * @return e.g. {@code lpl-cache}
     */
    public String id() {
        return id;
    }

    /**
     * LPL's fixed leap step, or -1 for none.
     *
     * @return the step
     */
    public int lplLeapStep() {
        return lplLeapStep;
    }

    /**
     * Steps TDTM merges frame pairs in, 0 for none.
     *
     * @return the count
     */
    public int tdtmMergeSteps() {
        return tdtmMergeSteps;
    }

    /**
     * Whether the preset caches steps.
     *
     * @return true for the caching presets
     */
    public boolean caches() {
        return cache != null;
    }

    /**
     * Whether its cache needs the pack's calibration.
     *
     * @return true for the mask presets
     */
    public boolean needsCalibration() {
        return cache == CacheKind.MASK;
    }

    /**
     * The step scheduler.
     *
     * @return LPL fixed at {@link #lplLeapStep()}, or plain rectified flow
     */
    public StepScheduler scheduler() {
        return lplLeapStep < 0 ? StepSchedulers.rectifiedFlow()
                : StepSchedulers.lplFixed(lplLeapStep);
    }

    /**
     * The token merger.
     *
     * @return TDTM for {@link #tdtmMergeSteps()} steps, or none
     */
    public TokenMerger tokenMerger() {
        return tdtmMergeSteps == 0 ? TokenMergers.none() : TokenMergers.tdtm(tdtmMergeSteps);
    }

    /**
     * The step cache, made from the pack when the pipeline is built (the mask presets read its
     * calibration).
     *
     * @return a factory for {@link VideoPipeline.Builder#stepCache(Function)}
     */
    public Function<ModelPack, StepCache> stepCache() {
        return pack -> stepCache(needsCalibration() ? MagCacheCalibration.of(pack) : null);
    }

    /**
     * The step cache with a given calibration (e.g. one pack's mask timed on another).
     *
     * @param calibration the residual magnitude ratios; ignored (may be null) unless {@link
     *     #needsCalibration()}
     * @return the cache ({@link StepCaches#none()} for the presets without caching)
     */
    public StepCache stepCache(MagCacheCalibration calibration) {
        if (cache == null) {
            return StepCaches.none();
        }
        return cache == CacheKind.ADAPTIVE
                ? StepCaches.adaptive(ADAPTIVE_THRESHOLD, ADAPTIVE_MAX_SKIPS, ADAPTIVE_WARMUP,
                        StepCache.Reuse.VELOCITY)
                : StepCaches.magCache(InvalidConfigurationException.requireNonNull(calibration,
                        "calibration"), MASK_THRESHOLD, MASK_MAX_SKIPS, MASK_WARMUP,
                        StepCache.Reuse.VELOCITY);
    }

    /**
     * The preset of a name.
     *
     * @param id e.g. {@code lpl-cache} (case-insensitive)
     * @return the preset
     * @throws InvalidConfigurationException naming the value and the known names
     */
    public static Preset of(String id) {
        for (Preset p : values()) {
            if (p.id.equalsIgnoreCase(id == null ? "" : id.trim())) {
                return p;
            }
        }
        throw new InvalidConfigurationException("unknown preset '" + id + "' (presets: " + names()
                + ")");
    }

    /**
     * All names, comma-separated.
     *
     * @return e.g. {@code full, lpl, …}
     */
    public static String names() {
        return Arrays.stream(values()).map(Preset::id).collect(Collectors.joining(", "));
    }

    @Override
    public String toString() {
        return id.toLowerCase(Locale.ROOT);
    }
}
