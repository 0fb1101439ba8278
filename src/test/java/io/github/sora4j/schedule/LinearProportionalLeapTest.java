package io.github.sora4j.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class LinearProportionalLeapTest {
    private static NDManager manager;
    private static final SamplingContext CONTEXT =
            new SamplingContext(30, 1000, 68, 20, 256, 256, true, 1.0);

    @BeforeAll
    static void open() {
        manager = NDManager.newBaseManager("PyTorch");
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    /** A velocity whose direction is (1, angle) in a 2-D plane, repeated: cosine = cos(Δangle). */
    private static NDArray direction(double angle) {
        float[] v = new float[8];
        for (int i = 0; i < 8; i += 2) {
            v[i] = (float) Math.cos(angle);
            v[i + 1] = (float) Math.sin(angle);
        }
        return manager.create(v, new Shape(1, 1, 1, 2, 4));
    }

    /** Runs a session over velocities until it stops; returns the decisions. */
    private static List<StepDecision> run(StepScheduler s, IntFunction<NDArray> velocity) {
        Timesteps ts = s.timesteps(CONTEXT);
        StepScheduler.Session session = s.start(ts);
        List<StepDecision> out = new ArrayList<>();
        for (int i = 0; i < ts.count(); i++) {
            StepDecision d = session.decide(i, velocity.apply(i));
            out.add(d);
            if (d.last()) {
                break;
            }
        }
        return out;
    }

    @Test
    void fixedModeLeapsAtStepFifteenWithTheWholeRemainingTime() {
        StepScheduler s = LinearProportionalLeap.fixed(15);
        Timesteps ts = s.timesteps(CONTEXT);
        List<StepDecision> d = run(s, i -> direction(0));
        assertThat(d).hasSize(16);
        assertThat(d.get(15)).isEqualTo(new StepDecision(ts.get(15), true, true, Double.NaN));
        assertThat(d.get(14).dt()).isEqualTo(ts.eulerDelta(14));
        assertThat(LinearProportionalLeap.fixedFraction(16.0 / 30).leapStep(30)).isEqualTo(15);
    }

    @Test
    void fixedModeAtTheLastStepIsAPlainRun() {
        List<StepDecision> d = run(LinearProportionalLeap.fixed(29), i -> direction(0));
        assertThat(d).hasSize(30);
        assertThat(d).noneMatch(StepDecision::leap);
    }

    @Test
    void dynamicModeLeapsAtTheEarliestPossibleStepWhenSimilarityNeverImproves() {
        // Constant velocity: cosine 1 every time; the first measurement (step 14) improves on
        // -inf, the next three do not, so the leap is at 14 + 3 = 17 (18 model calls).
        List<StepDecision> d = run(LinearProportionalLeap.dynamic(), i -> direction(0));
        assertThat(d).hasSize(18);
        assertThat(d.get(17).leap()).isTrue();
        for (int i = 0; i < 14; i++) {
            assertThat(d.get(i).cosine()).as("step %d not measured", i).isNaN();
        }
        assertThat(d.get(14).cosine()).isCloseTo(1.0, within(1e-12));
    }

    @Test
    void dynamicModeNeverLeapsBeforeTheMinimumStepFraction() {
        for (int patience = 1; patience <= 5; patience++) {
            List<StepDecision> d = run(LinearProportionalLeap.dynamic(0.5, 1e-4, patience,
                    LinearProportionalLeap.CosineScope.FULL_TENSOR), i -> direction(0));
            assertThat(d).hasSize(14 + patience + 1);
        }
        assertThat(LinearProportionalLeap.dynamic().firstMeasuredStep(30)).isEqualTo(14);
        assertThat(LinearProportionalLeap.dynamic().firstMeasuredStep(10)).isEqualTo(4);
    }

    @Test
    void anImprovingSimilarityResetsThePatience() {
        // The angle between consecutive velocities shrinks until step 16 (cosine improves by more
        // than the tolerance each time), then stays constant: leap at 16 + 3 = 19.
        double[] gaps = new double[30];
        for (int i = 0; i < 30; i++) {
            gaps[i] = i <= 16 ? 0.5 / (i + 1) : 0.5 / 17;
        }
        double[] angle = new double[30];
        for (int i = 1; i < 30; i++) {
            angle[i] = angle[i - 1] + gaps[i];
        }
        List<StepDecision> d = run(LinearProportionalLeap.dynamic(), i -> direction(angle[i]));
        assertThat(d).hasSize(20);
        assertThat(d.get(19).leap()).isTrue();
    }

    @Test
    void improvementsSmallerThanTheToleranceDoNotCount() {
        double[] angle = new double[30];
        for (int i = 1; i < 30; i++) {
            // cosine rises by ~5e-6 per step: below the 1e-4 tolerance.
            angle[i] = angle[i - 1] + Math.sqrt(2 * (0.01 - 5e-6 * i));
        }
        List<StepDecision> d = run(LinearProportionalLeap.dynamic(), i -> direction(angle[i]));
        assertThat(d).hasSize(18);
    }

    @Test
    void withAConstantVelocityTheLeapEqualsTheFullRun() {
        // Telescoping: sum of the remaining Euler steps = t'_n, so z_K = z_n + v * t'_n / 1000.
        Timesteps ts = StepSchedulers.rectifiedFlow().timesteps(CONTEXT);
        double v = 0.731;
        double full = 0.25;
        for (int i = 0; i < ts.count(); i++) {
            full += v * ts.eulerDelta(i) / 1000;
        }
        double leapt = 0.25;
        List<StepDecision> d = run(LinearProportionalLeap.fixed(15), i -> direction(0));
        for (StepDecision s : d) {
            leapt += v * s.dt() / 1000;
        }
        // The regular steps are float32-rounded differences, the leap the exact t'_n.
        assertThat(leapt).isCloseTo(full, within(1e-7));
        assertThat(d.stream().mapToDouble(StepDecision::dt).sum()).isCloseTo(1000.0, within(1e-4));
    }

    @Test
    void upstreamDynamicMeasuresFromStepFourteenWhateverTheStepCount() {
        SamplingContext k16 = new SamplingContext(16, 1000, 68, 20, 256, 256, true, 1.0);
        LinearProportionalLeap upstream = LinearProportionalLeap.dynamicUpstream();
        assertThat(upstream.firstMeasuredStep(16)).isEqualTo(14);
        assertThat(upstream.firstMeasuredStep(30)).isEqualTo(14);
        assertThat(LinearProportionalLeap.dynamic().firstMeasuredStep(16)).isEqualTo(7);
        Timesteps ts = upstream.timesteps(k16);
        StepScheduler.Session session = upstream.start(ts);
        List<StepDecision> d = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            d.add(session.decide(i, direction(0)));
        }
        // K = 16: step 14 measures (improves on 0), step 15 is the last: all 16 calls, no leap.
        assertThat(d.stream().filter(StepDecision::leap)).isEmpty();
        assertThat(d.get(13).cosine()).isNaN();
        assertThat(d.get(14).cosine()).isCloseTo(1.0, within(1e-12));
        // The project's rule measures from step 7 and leaps at step 10 (11 calls).
        StepScheduler.Session project = LinearProportionalLeap.dynamic().start(ts);
        int calls = 0;
        for (int i = 0; i < 16; i++) {
            calls++;
            if (project.decide(i, direction(0)).last()) {
                break;
            }
        }
        assertThat(calls).isEqualTo(11);
    }

    @Test
    void upstreamDynamicStartsTheBestCosineAtZero() {
        // Orthogonal consecutive velocities: cosine 0, which never beats 0 + 1e-3, so the counter
        // runs down from step 14 and step 16 leaps (17 calls); the project's rule (best from −∞)
        // takes the first cosine as its best and leaps at step 17.
        IntFunction<NDArray> orthogonal = i -> direction(i * Math.PI / 2);
        List<StepDecision> up = run(LinearProportionalLeap.dynamicUpstream(), orthogonal);
        assertThat(up).hasSize(17);
        assertThat(up.get(16).leap()).isTrue();
        assertThat(up.get(16).dt()).isEqualTo(StepSchedulers.rectifiedFlow().timesteps(CONTEXT)
                .get(16));
        assertThat(run(LinearProportionalLeap.dynamic(), orthogonal)).hasSize(18);
    }

    @Test
    void upstreamDynamicUsesAToleranceOfOneThousandth() {
        // cosine rises by 3e-4 per step: above the project's 1e-4, while three steps stay within
        // upstream's 1e-3 of the best. Upstream leaps at step 17; the project's rule keeps
        // improving until its last step.
        double[] angle = new double[30];
        for (int i = 1; i < 30; i++) {
            double cos = 0.98 + 3e-4 * i;
            angle[i] = angle[i - 1] + Math.acos(cos);
        }
        assertThat(run(LinearProportionalLeap.dynamicUpstream(), i -> direction(angle[i])))
                .hasSize(18);
        assertThat(run(LinearProportionalLeap.dynamic(), i -> direction(angle[i]))).hasSize(30);
        assertThat(StepSchedulers.lplDynamicUpstream().toString()).contains("upstream", "14",
                "0.001", "UPSTREAM_SLICE");
    }

    @Test
    void sessionsDoNotShareState() {
        LinearProportionalLeap s = LinearProportionalLeap.dynamic();
        Timesteps ts = s.timesteps(CONTEXT);
        StepScheduler.Session a = s.start(ts);
        for (int i = 0; i < 17; i++) {
            a.decide(i, direction(0));
        }
        // A fresh session starts from scratch even though a is mid-way.
        assertThat(run(s, i -> direction(0))).hasSize(18);
    }

    @Test
    void upstreamSliceScopeAveragesRowWiseCosines() {
        float[] a = {1, 0, 0, 1, 5, 5};
        float[] b = {1, 0, 1, 0, 9, 9};
        NDArray va = manager.create(a, new Shape(1, 1, 1, 2, 2));
        NDArray vb = manager.create(b, new Shape(1, 1, 1, 2, 2));
        StepScheduler s = LinearProportionalLeap.dynamic(0, 1e-4, 3,
                LinearProportionalLeap.CosineScope.UPSTREAM_SLICE);
        StepScheduler.Session session = s.start(s.timesteps(CONTEXT));
        session.decide(0, va);
        // rows (1,0)·(1,0) = 1 and (0,1)·(1,0) = 0: mean 0.5.
        assertThat(session.decide(1, vb).cosine()).isCloseTo(0.5, within(1e-12));
    }

    @Test
    void badSettingsAreRejectedWithTheValue() {
        assertThatThrownBy(() -> LinearProportionalLeap.fixed(-1))
                .hasMessage("leap step must be >= 0 but was -1");
        assertThatThrownBy(() -> LinearProportionalLeap.dynamic(0.5, 1e-4, 0,
                LinearProportionalLeap.CosineScope.FULL_TENSOR))
                .hasMessage("patience must be >= 1 but was 0");
        assertThatThrownBy(() -> LinearProportionalLeap.dynamic(1.5, 1e-4, 3,
                LinearProportionalLeap.CosineScope.FULL_TENSOR))
                .hasMessage("minStepFraction must be in [0, 1] but was 1.5");
    }
}
