package io.github.sora4j.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.github.sora4j.cache.StepCache;
import io.github.sora4j.schedule.StepScheduler;

/**
 * One generation's step cache: asks the {@link StepCache} whether each step computes, and owns
 * what skipped steps reuse (the last computed residual or velocity) in a manager of its own, a
 * child of the generation's, so nothing outlives the call. With {@link
 * io.github.sora4j.cache.StepCaches#none()} it keeps nothing and every step computes.
 */
public final class CachedSteps {
    private final boolean enabled;
    private final StepCache.Reuse reuse;
    private final StepCache.Session session;
    private final NDManager manager;
    private float[] lastLatent;
    private float[] lastVelocity;
    private NDArray velocity;
    private NDArray residual;
    private double inputChange = Double.NaN;

    private CachedSteps(StepCache cache, StepScheduler.Session scheduler, int steps,
            NDManager call) {
        this.enabled = cache.enabled();
        this.reuse = cache.reuse();
        this.session = enabled ? cache.start(steps, scheduler::needsModel) : null;
        this.manager = enabled ? call.newSubManager() : null;
    }

    /**
     * Starts the cache of a generation.
     *
     * @param cache the strategy
     * @param scheduler the generation's scheduler session (its leap step always computes)
     * @param steps timesteps of the generation
     * @param call the generation's manager
     * @return the per-generation state
     */
    public static CachedSteps start(StepCache cache, StepScheduler.Session scheduler, int steps,
            NDManager call) {
        return new CachedSteps(cache, scheduler, steps, call);
    }

    /**
     * Decides whether a step runs the block stack.
     *
     * @param step 0-based step
     * @param latent the latent the step starts from
     * @return true to compute
     */
    public boolean compute(int step, float[] latent) {
        if (!enabled) {
            return true;
        }
        inputChange = lastLatent == null ? Double.NaN : relativeL1(latent, lastLatent);
        return lastLatent == null || session.compute(step, inputChange);
    }

    /**
     * Whether the model runs at all on a step (a skipped step with residual reuse still runs the
     * embed block and the final layer).
     *
     * @param compute what {@link #compute} said
     * @return true if {@link Denoiser#velocity} runs
     */
    public boolean runsModel(boolean compute) {
        return compute || reuse == StepCache.Reuse.RESIDUAL;
    }

    /**
     * The residual hook for {@link Denoiser#velocity}.
     *
     * @param compute what {@link #compute} said
     * @return null without a cache, else the hook that reuses (skipped) or keeps (computed)
     */
    public Denoiser.Residuals residuals(boolean compute) {
        if (!enabled) {
            return null;
        }
        return new Denoiser.Residuals() {
            @Override
            public NDArray cached() {
                return compute ? null : residual;
            }

            @Override
            public void computed(NDArray r) {
                if (reuse == StepCache.Reuse.RESIDUAL) {
                    if (residual != null) {
                        residual.close();
                    }
                    r.attach(manager);
                    residual = r;
                }
            }
        };
    }

    /**
     * The velocity a skipped step reuses (velocity mode).
     *
     * @param step the step's manager, which owns the returned copy
     * @return a copy of the last computed velocity
     */
    public NDArray reusedVelocity(NDManager step) {
        NDArray v = velocity.duplicate();
        v.attach(step);
        return v;
    }

    /**
     * Told after each step's model call.
     *
     * @param step 0-based step
     * @param compute what {@link #compute} said
     * @param latent the latent the step started from
     * @param v the step's CFG velocity
     */
    public void after(int step, boolean compute, float[] latent, NDArray v) {
        if (!enabled || !compute) {
            return;
        }
        float[] values = v.toFloatArray();
        double outputChange = lastVelocity == null ? Double.NaN
                : relativeL1(values, lastVelocity);
        session.computed(step, inputChange, outputChange);
        lastLatent = latent;
        lastVelocity = values;
        if (reuse == StepCache.Reuse.VELOCITY) {
            if (velocity != null) {
                velocity.close();
            }
            velocity = v.duplicate();
            velocity.attach(manager);
        }
    }

    /**
     * mean|a − b| / mean|b| in double precision; 0 when a equals b.
     *
     * @param a values
     * @param b reference values, same length
     * @return the relative L1 change
     */
    static double relativeL1(float[] a, float[] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            num += Math.abs((double) a[i] - b[i]);
            den += Math.abs((double) b[i]);
        }
        return num == 0 ? 0 : den > 0 ? num / den : Double.POSITIVE_INFINITY;
    }
}
