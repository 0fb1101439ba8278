package io.github.sora4j.benchmarks;

import io.github.sora4j.VideoPipeline;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.BlockLoaders;
import io.github.sora4j.load.LoaderListener;
import io.github.sora4j.load.LoaderSettings;
import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.schedule.StepSchedulers;
import java.util.function.Function;

/**
 * The rows of the ablation (the paper's Table 5 and the LPL / TDTM settings of Tables 3 and 4):
 * which scheduler, token merger and, in the streaming setting, loader each uses.
 */
public enum Variant {
    /** Full 30-step rectified flow, no merging; resident (compute) or sequential (streaming). */
    BASELINE("Baseline", "baseline", -1, 0, false),
    /** LPL leaping at step 15: 16 of 30 model calls. */
    LPL("LPL 16/30", "lpl", 15, 0, false),
    /** TDTM on the first 15 of 30 steps (the app's default). */
    TDTM_15("TDTM 15/30", "tdtm15", -1, 15, false),
    /** TDTM on all 30 steps (Table 5's setting). */
    TDTM_30("TDTM 30/30", "tdtm", -1, 30, false),
    /** CI-DL: concurrent inference with dynamic loading (streaming setting only). */
    CI_DL("CI-DL", "ci-dl", -1, 0, true),
    /** LPL 16/30 with TDTM on every step that runs (and CI-DL in the streaming setting). */
    ALL("All", "all", 15, 30, true);

    private final String label;
    private final String key;
    private final int lplLeapStep;
    private final int tdtmMergeSteps;
    private final boolean ciDl;

    Variant(String label, String key, int lplLeapStep, int tdtmMergeSteps, boolean ciDl) {
        this.label = label;
        this.key = key;
        this.lplLeapStep = lplLeapStep;
        this.tdtmMergeSteps = tdtmMergeSteps;
        this.ciDl = ciDl;
    }

    /**
     * The row label in a setting ({@code All} without CI-DL is {@code LPL + TDTM} when everything
     * is resident).
     *
     * @param setting the setting
     * @return the label
     */
    public String label(BenchPack.Setting setting) {
        return this == ALL && setting == BenchPack.Setting.COMPUTE ? "LPL + TDTM 30/30" : label;
    }

    /**
     * The JMH parameter value.
     *
     * @return e.g. {@code tdtm15}
     */
    public String key() {
        return key;
    }

    /**
     * The fixed LPL leap step, or -1.
     *
     * @return the step
     */
    public int lplLeapStep() {
        return lplLeapStep;
    }

    /**
     * Steps TDTM merges in.
     *
     * @return the count, 0 for none
     */
    public int tdtmMergeSteps() {
        return tdtmMergeSteps;
    }

    /**
     * Whether the row uses the CI-DL loader in the streaming setting.
     *
     * @return true for CI-DL and All
     */
    public boolean ciDl() {
        return ciDl;
    }

    /**
     * Builds the row's pipeline.
     *
     * @param pack the bench pack
     * @param setting where it runs
     * @param listener told about block loads (streaming setting)
     * @return the pipeline, owned by the caller
     */
    public VideoPipeline pipeline(ModelPack pack, BenchPack.Setting setting,
            LoaderListener listener) {
        return pipeline(pack, setting, listener, BlockLoaders::resident);
    }

    /**
     * Builds the row's pipeline with a given resident loader: the compute setting's, and the T5
     * and VAE blocks' in the streaming setting (the ablation shares one between its rows, so
     * that the blocks load once).
     *
     * @param pack the bench pack
     * @param setting where it runs
     * @param listener told about STDiT block loads (streaming setting)
     * @param resident makes the resident loader
     * @return the pipeline, owned by the caller
     */
    public VideoPipeline pipeline(ModelPack pack, BenchPack.Setting setting,
            LoaderListener listener, Function<ModelPack, BlockLoader> resident) {
        VideoPipeline.Builder b = VideoPipeline.builder().pack(pack)
                .scheduler(lplLeapStep < 0 ? StepSchedulers.rectifiedFlow()
                        : StepSchedulers.lplFixed(lplLeapStep))
                .tokenMerger(tdtmMergeSteps == 0 ? TokenMergers.none()
                        : TokenMergers.tdtm(tdtmMergeSteps));
        if (setting == BenchPack.Setting.COMPUTE) {
            b.blockLoader(resident);
        } else {
            b.blockLoader(p -> {
                LoaderSettings s = BenchPack.streamingSettings(p, listener);
                return new StditStreamingLoader(ciDl ? BlockLoaders.concurrentDynamic(p, s)
                        : BlockLoaders.sequential(p, s), resident.apply(p));
            });
        }
        return b.build();
    }

    /**
     * Parses a JMH parameter value.
     *
     * @param key e.g. {@code lpl}
     * @return the variant
     */
    public static Variant of(String key) {
        for (Variant v : values()) {
            if (v.key.equals(key)) {
                return v;
            }
        }
        throw new IllegalArgumentException("unknown variant '" + key + "'");
    }
}
