package io.github.sora4j.device;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.load.LoaderKind;
import io.github.sora4j.merge.TokenMerger;
import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.schedule.StepScheduler;
import io.github.sora4j.schedule.StepSchedulers;

/**
 * The acceleration techniques a device profile turns on by default: LPL, TDTM and the block
 * loading strategy (CI-DL).
 *
 * @param lplLeapStep 0-based step at which LPL leaps (15 in the paper: 16 of 30 model calls), or
 *     -1 for no LPL (every step a model call)
 * @param tdtmMergeSteps how many first steps TDTM merges frame pairs in (15 in the paper's app), 0
 *     for no merging
 * @param loader the block loading strategy
 */
public record Techniques(int lplLeapStep, int tdtmMergeSteps, LoaderKind loader) {

    /** The paper's setting: LPL at step 15, TDTM for 15 steps, CI-DL. */
    public static final Techniques PAPER = new Techniques(15, 15, LoaderKind.CONCURRENT_DYNAMIC);

    /** Full quality: no LPL, no TDTM; CI-DL, which changes no output and keeps what fits. */
    public static final Techniques FULL_QUALITY = new Techniques(-1, 0,
            LoaderKind.CONCURRENT_DYNAMIC);

    /**
     * Creates the settings.
     *
     * @param lplLeapStep 0-based step at which LPL leaps, {@code >= 0}, or -1 for no LPL
     * @param tdtmMergeSteps how many first steps TDTM merges frame pairs in, {@code >= 0}; 0 for no
     *     merging
     * @param loader the block loading strategy; not null
     * @throws InvalidConfigurationException if {@code lplLeapStep < -1} or {@code tdtmMergeSteps < 0}
     * @throws InvalidConfigurationException if {@code loader} is null
     */
    public Techniques {
        if (lplLeapStep < -1) {
            throw new InvalidConfigurationException("lplLeapStep must be -1 (off) or >= 0 but was "
                    + lplLeapStep);
        }
        if (tdtmMergeSteps < 0) {
            throw new InvalidConfigurationException("tdtmMergeSteps must be >= 0 but was "
                    + tdtmMergeSteps);
        }
        InvalidConfigurationException.requireNonNull(loader, "loader");
    }

    /**
     * A fresh step scheduler for these settings.
     *
     * @return LPL at {@code lplLeapStep}, or full-step rectified flow
     */
    public StepScheduler scheduler() {
        return lplLeapStep < 0 ? StepSchedulers.rectifiedFlow()
                : StepSchedulers.lplFixed(lplLeapStep);
    }

    /**
     * The token merger for these settings.
     *
     * @return TDTM for the first {@code tdtmMergeSteps} steps, or no merging
     */
    public TokenMerger tokenMerger() {
        return tdtmMergeSteps == 0 ? TokenMergers.none() : TokenMergers.tdtm(tdtmMergeSteps);
    }

    /**
     * A copy with another loader.
     *
     * @param kind the loading strategy
     * @return the copy
     */
    public Techniques withLoader(LoaderKind kind) {
        return new Techniques(lplLeapStep, tdtmMergeSteps, kind);
    }
}
