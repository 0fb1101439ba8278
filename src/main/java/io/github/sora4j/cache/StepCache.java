package io.github.sora4j.cache;

import java.util.function.IntPredicate;

/**
 * Decides, before each sampling step, whether STDiT's block stack runs or the step reuses what
 * the last computed step produced (residual or velocity caching; issue 18): the strategy behind
 * {@link StepCaches#magCache MagCache-style} fixed step masks and the {@link StepCaches#adaptive
 * adaptive} rule.
 *
 * <p>The pipeline opens a {@link Session} per generation. Before step i it asks {@link
 * Session#compute} with the relative L1 change of the latent since the last computed step; after
 * a computed step it tells {@link Session#computed} that change and the relative L1 change of the
 * CFG velocity. A skipped step reuses the cached block-stack residual (output − input of the block
 * pairs, added to the embed block's output; embed and final layer still run) or, with {@link
 * Reuse#VELOCITY}, the last computed velocity (nothing runs). Step 0 and every step the step
 * scheduler needs a fresh velocity for (LPL's leap step) always compute. A cache never touches
 * native memory: the pipeline owns the cached tensors.
 *
 * <pre>{@code
 * VideoPipeline.builder().pack(pack)
 *         .scheduler(StepSchedulers.lplFixed(15))
 *         .stepCache(StepCaches.magCache(0.1, 2, 3, StepCache.Reuse.RESIDUAL))
 *         .build();
 * }</pre>
 */
public interface StepCache {

    /** What a skipped step reuses. */
    enum Reuse {
        /** The block stack's residual (embed and final layer run). */
        RESIDUAL,
        /** The last computed CFG velocity (no block runs). */
        VELOCITY
    }

    /**
     * What skipped steps reuse.
     *
     * @return the reuse mode
     */
    Reuse reuse();

    /**
     * Whether this cache may ever skip a step ({@link StepCaches#none()} never does: the pipeline
     * then runs exactly as without a cache).
     *
     * @return true if it may skip
     */
    default boolean enabled() {
        return true;
    }

    /**
     * Starts the per-generation state.
     *
     * @param steps timesteps of the generation
     * @param mustCompute steps that must compute whatever the rule says (the scheduler's leap step)
     * @return a fresh session, used by one generation only
     */
    Session start(int steps, IntPredicate mustCompute);

    /** The state of one generation; not shared between generations or threads. */
    interface Session {
        /**
         * Decides whether step {@code step} runs the block stack.
         *
         * @param step 0-based step index
         * @param inputChange mean|z_i − z_c| / mean|z_c| of the latent against the last computed
         *     step's, or NaN before the first computed step
         * @return true to compute, false to reuse the cache
         */
        boolean compute(int step, double inputChange);

        /**
         * Told after a computed step.
         *
         * @param step 0-based step index
         * @param inputChange as passed to {@link #compute} for this step (NaN for the first)
         * @param outputChange mean|v_i − v_c| / mean|v_c| of the CFG velocity against the last
         *     computed step's, NaN for the first computed step
         */
        void computed(int step, double inputChange, double outputChange);
    }
}
