package io.github.sora4j.schedule;

import io.github.sora4j.InvalidConfigurationException;
import ai.djl.ndarray.NDArray;

/**
 * Linear Proportional Leap (LPL, On-device Sora §4.2): sample with rectified-flow Euler steps until
 * the velocity stops changing, then take one Euler step with the whole remaining time (dt = t'_n,
 * straight to t = 0) and stop. Because the late trajectory is nearly straight, the leap lands where
 * the remaining steps would: K = 30 with a leap at n = 15 needs 16 model calls instead of 30.
 *
 * <p><b>FIXED</b> leaps at step index n (default 15). <b>DYNAMIC</b> measures the cosine similarity
 * of consecutive CFG velocities from step m = max(1, ⌈f·K⌉ − 1) on (f = 0.5 by default, so m = 14
 * for K = 30), keeps the best similarity so far (starting at −∞) and a counter set to {@code
 * patience} (default 3): a similarity above best + tolerance (default 1e-4, the paper's) becomes the
 * new best and resets the counter, anything else decrements it; the step at which the counter
 * reaches 0 leaps. The earliest dynamic leap is therefore at m + patience (step 17, 18 model calls,
 * for the defaults). The similarity is taken over the whole velocity by default (computed in
 * double precision), or with upstream's scope: batch 0, channel 0, latent frame 0, cosine per row
 * over the width, averaged over rows.
 *
 * <p>{@link #dynamicUpstream()} is the rule of the paper's code (eai-lab/On-device-Sora, commit
 * 47a90a5, {@code RFLOW.compute_cosine_simularity}): tolerance 1e-3, the {@link
 * CosineScope#UPSTREAM_SLICE} cosine, the best similarity starting at 0 instead of −∞, and
 * measuring from step 14 whatever K is (for K ≤ 17 it cannot leap before the last step; at
 * K = 16 the project's rule measures from step 7). Because the first measurement need not beat
 * 0 + 1e-3, its earliest leap is step 16, one before the project's rule's. Upstream computes the cosine in float32 and this class in double; the
 * two agree to ~1e-7, which changes a decision only for a cosine within that of best + tolerance.
 *
 * <p>All state lives in the {@link Session}; a scheduler instance is immutable and can be shared.
 *
 * <pre>{@code
 * StepScheduler fixed = LinearProportionalLeap.fixed(15);          // 16 of 30 calls
 * StepScheduler dynamic = LinearProportionalLeap.dynamic();         // paper defaults
 * StepScheduler custom = LinearProportionalLeap.dynamic(0.5, 1e-3, 3, CosineScope.UPSTREAM_SLICE);
 * StepScheduler upstream = LinearProportionalLeap.dynamicUpstream(); // the paper's code
 * }</pre>
 */
public final class LinearProportionalLeap implements StepScheduler {

    /** How the leap step is chosen. */
    public enum Mode {
        /** Leap at a fixed step index. */
        FIXED,
        /** Leap once consecutive velocities stop becoming more similar. */
        DYNAMIC
    }

    /** Which part of the velocity the dynamic cosine similarity looks at. */
    public enum CosineScope {
        /** The whole CFG velocity, flattened (default). */
        FULL_TENSOR,
        /** Upstream's: v[0, 0, 0] (batch 0, channel 0, frame 0), cosine per row, mean over rows. */
        UPSTREAM_SLICE
    }

    /** Default leap index of FIXED mode (16 model calls of 30). */
    public static final int DEFAULT_LEAP_STEP = 15;
    /** Default minimum step fraction of DYNAMIC mode. */
    public static final double DEFAULT_MIN_STEP_FRACTION = 0.5;
    /** Default cosine tolerance of DYNAMIC mode (the paper's). */
    public static final double DEFAULT_TOLERANCE = 1e-4;
    /** Default patience of DYNAMIC mode (the paper's code's, too). */
    public static final int DEFAULT_PATIENCE = 3;
    /** Cosine tolerance of the paper's code ({@link #dynamicUpstream()}). */
    public static final double UPSTREAM_TOLERANCE = 1e-3;
    /** First measured step of the paper's code, for every K ({@link #dynamicUpstream()}). */
    public static final int UPSTREAM_FIRST_STEP = 14;

    private final Mode mode;
    private final int leapStep;
    private final double leapFraction;
    private final double minStepFraction;
    private final double tolerance;
    private final int patience;
    private final CosineScope scope;
    /** DYNAMIC: the first measured step for every K, or -1 to derive it from minStepFraction. */
    private final int firstStep;
    /** DYNAMIC: the best similarity before the first measurement. */
    private final double initialBest;

    private LinearProportionalLeap(Mode mode, int leapStep, double leapFraction,
            double minStepFraction, double tolerance, int patience, CosineScope scope) {
        this(mode, leapStep, leapFraction, minStepFraction, tolerance, patience, scope, -1,
                Double.NEGATIVE_INFINITY);
    }

    private LinearProportionalLeap(Mode mode, int leapStep, double leapFraction,
            double minStepFraction, double tolerance, int patience, CosineScope scope,
            int firstStep, double initialBest) {
        this.firstStep = firstStep;
        this.initialBest = initialBest;
        this.mode = mode;
        this.leapStep = leapStep;
        this.leapFraction = leapFraction;
        this.minStepFraction = minStepFraction;
        this.tolerance = tolerance;
        this.patience = patience;
        this.scope = scope;
    }

    /**
     * FIXED mode leaping at step index n: n + 1 model calls.
     *
     * @param n the 0-based index of the leaping step, ≥ 0 (a value ≥ K − 1 means no leap)
     * @return the scheduler
     */
    public static LinearProportionalLeap fixed(int n) {
        if (n < 0) {
            throw new InvalidConfigurationException("leap step must be >= 0 but was " + n);
        }
        return new LinearProportionalLeap(Mode.FIXED, n, Double.NaN, Double.NaN, Double.NaN, 0,
                CosineScope.FULL_TENSOR);
    }

    /**
     * FIXED mode leaping after a fraction of the steps: n = round(fraction·K) − 1 (0.53 of 30 →
     * n = 15, 16 calls).
     *
     * @param fraction share of the K steps that run as model calls, in (0, 1]
     * @return the scheduler
     */
    public static LinearProportionalLeap fixedFraction(double fraction) {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new InvalidConfigurationException("leap fraction must be in (0, 1] but was " + fraction);
        }
        return new LinearProportionalLeap(Mode.FIXED, -1, fraction, Double.NaN, Double.NaN, 0,
                CosineScope.FULL_TENSOR);
    }

    /**
     * DYNAMIC mode with the paper's defaults (from 50% of the steps, tolerance 1e-4, patience 3,
     * whole-tensor cosine).
     *
     * @return the scheduler
     */
    public static LinearProportionalLeap dynamic() {
        return dynamic(DEFAULT_MIN_STEP_FRACTION, DEFAULT_TOLERANCE, DEFAULT_PATIENCE,
                CosineScope.FULL_TENSOR);
    }

    /**
     * DYNAMIC mode.
     *
     * @param minStepFraction f: cosines are measured from step max(1, ⌈f·K⌉ − 1), f in [0, 1]
     * @param tolerance a cosine must beat the best by more than this to count as improving, ≥ 0
     * @param patience leap after this many non-improving measurements in a row, ≥ 1
     * @param scope what the cosine compares
     * @return the scheduler
     */
    public static LinearProportionalLeap dynamic(double minStepFraction, double tolerance,
            int patience, CosineScope scope) {
        if (!(minStepFraction >= 0 && minStepFraction <= 1)) {
            throw new InvalidConfigurationException(
                    "minStepFraction must be in [0, 1] but was " + minStepFraction);
        }
        if (!(tolerance >= 0) || Double.isInfinite(tolerance)) {
            throw new InvalidConfigurationException("tolerance must be finite and >= 0 but was "
                    + tolerance);
        }
        if (patience < 1) {
            throw new InvalidConfigurationException("patience must be >= 1 but was " + patience);
        }
        if (scope == null) {
            throw new InvalidConfigurationException("scope must not be null");
        }
        return new LinearProportionalLeap(Mode.DYNAMIC, -1, Double.NaN, minStepFraction,
                tolerance, patience, scope);
    }

    /**
     * DYNAMIC mode exactly as the paper's code runs it (eai-lab/On-device-Sora 47a90a5): measure
     * from step 14 for every K, tolerance 1e-3, patience 3, cosine over v[0, 0, 0] per row and
     * averaged, best similarity starting at 0.
     *
     * @return the scheduler
     */
    public static LinearProportionalLeap dynamicUpstream() {
        return new LinearProportionalLeap(Mode.DYNAMIC, -1, Double.NaN, Double.NaN,
                UPSTREAM_TOLERANCE, DEFAULT_PATIENCE, CosineScope.UPSTREAM_SLICE,
                UPSTREAM_FIRST_STEP, 0.0);
    }

    /**
     * The mode.
     *
     * @return FIXED or DYNAMIC
     */
    public Mode mode() {
        return mode;
    }

    /**
     * The FIXED leap index for K steps.
     *
     * @param steps K
     * @return n, or -1 in DYNAMIC mode
     */
    public int leapStep(int steps) {
        if (mode != Mode.FIXED) {
            return -1;
        }
        return leapStep >= 0 ? leapStep : Math.max(0, (int) Math.round(leapFraction * steps) - 1);
    }

    /**
     * The first step index at which DYNAMIC mode measures a cosine.
     *
     * @param steps K
     * @return max(1, ⌈f·K⌉ − 1), or 14 for {@link #dynamicUpstream()}
     */
    public int firstMeasuredStep(int steps) {
        if (firstStep >= 0) {
            return firstStep;
        }
        return Math.max(1, (int) Math.ceil(minStepFraction * steps) - 1);
    }

    @Override
    public Timesteps timesteps(SamplingContext context) {
        return RectifiedFlow.timesteps(context);
    }

    @Override
    public Session start(Timesteps timesteps) {
        return mode == Mode.FIXED ? new FixedSession(timesteps, leapStep(timesteps.count()))
                : new DynamicSession(timesteps);
    }

    private static void checkStep(Timesteps ts, int step) {
        if (step < 0 || step >= ts.count()) {
            throw new InvalidConfigurationException(
                    "step must be in 0.." + (ts.count() - 1) + " but was " + step);
        }
    }

    private static StepDecision leapOrRegular(Timesteps ts, int step, boolean leap, double cos) {
        int last = ts.count() - 1;
        if (leap && step < last) {
            return new StepDecision(ts.get(step), true, true, cos);
        }
        return new StepDecision(ts.eulerDelta(step), step == last, false, cos);
    }

    private static final class FixedSession implements Session {
        private final Timesteps ts;
        private final int n;

        FixedSession(Timesteps ts, int n) {
            this.ts = ts;
            this.n = n;
        }

        @Override
        public StepDecision decide(int step, NDArray velocity) {
            checkStep(ts, step);
            return leapOrRegular(ts, step, step == n, Double.NaN);
        }

        @Override
        public boolean needsModel(int step) {
            return step == n;
        }
    }

    private final class DynamicSession implements Session {
        private final Timesteps ts;
        private final int first;
        private float[] previous;
        private double best = initialBest;
        private int remaining = patience;

        DynamicSession(Timesteps ts) {
            this.ts = ts;
            this.first = firstMeasuredStep(ts.count());
        }

        @Override
        public StepDecision decide(int step, NDArray velocity) {
            checkStep(ts, step);
            float[] v = velocity.toFloatArray();
            double cos = Double.NaN;
            boolean leap = false;
            if (step >= first && previous != null) {
                cos = scope == CosineScope.FULL_TENSOR ? cosine(previous, v, 0, v.length)
                        : upstreamSlice(previous, v, velocity.getShape().getShape());
                if (cos > best + tolerance) {
                    best = cos;
                    remaining = patience;
                } else {
                    remaining--;
                }
                leap = remaining == 0;
            }
            previous = v;
            return leapOrRegular(ts, step, leap, cos);
        }

        @Override
        public boolean needsModel(int step) {
            // the step before the first measured one gives the first cosine its previous velocity
            return step >= first - 1;
        }
    }

    /**
     * Cosine similarity of a[off..off+n) and b[off..off+n) in double precision: a·b / max(|a||b|,
     * 1e-8).
     *
     * @param a first vector
     * @param b second vector
     * @param off start index
     * @param n length
     * @return the similarity
     */
    static double cosine(float[] a, float[] b, int off, int n) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = off; i < off + n; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.max(Math.sqrt(na) * Math.sqrt(nb), 1e-8);
    }

    private static double upstreamSlice(float[] a, float[] b, long[] shape) {
        // v is [1, C, T, H', W']; v[0, 0, 0] is the first H'·W' values.
        int h = (int) shape[shape.length - 2];
        int w = (int) shape[shape.length - 1];
        double sum = 0;
        for (int r = 0; r < h; r++) {
            sum += cosine(a, b, r * w, w);
        }
        return sum / h;
    }

    @Override
    public String toString() {
        return mode == Mode.FIXED
                ? "LinearProportionalLeap[FIXED, n=" + (leapStep >= 0 ? leapStep
                        : "round(" + leapFraction + "*K)-1") + "]"
                : firstStep >= 0
                        ? "LinearProportionalLeap[DYNAMIC upstream, from step " + firstStep
                                + ", tol=" + tolerance + ", patience=" + patience + ", " + scope
                                + ", best from " + initialBest + "]"
                        : "LinearProportionalLeap[DYNAMIC, f=" + minStepFraction + ", tol="
                                + tolerance + ", patience=" + patience + ", " + scope + "]";
    }
}
