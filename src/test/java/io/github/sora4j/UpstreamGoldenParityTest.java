package io.github.sora4j;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.github.sora4j.internal.Prompts;
import io.github.sora4j.merge.FrameGroups;
import io.github.sora4j.merge.TokenMerger;
import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.schedule.RectifiedFlow;
import io.github.sora4j.schedule.SamplingContext;
import io.github.sora4j.schedule.StepScheduler;
import io.github.sora4j.schedule.StepSchedulers;
import io.github.sora4j.schedule.Timesteps;
import io.github.sora4j.testing.References;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * sora4j's upstream-exact presets against the paper's own code (eai-lab/On-device-Sora 47a90a5),
 * run on the CPU in float32 by {@code src/test/python/upstream/make_golden.py} with the weights
 * of the tiny-random pack (src/test/resources/upstream/README.md).
 *
 * <p>Timesteps fed to the model must be bit-equal; final latents agree within {@link
 * #LATENT_TOLERANCE} (measured on x86-64, 2026-12-04: 1.2e-5 at T = 4, 2.3e-5 at T = 15, 3.5e-5
 * at T = 20, 3.1e-5 at T = 30, 1.0e-5 for the 51-frame K = 30 and the 68-frame K = 16 runs).
 */
class UpstreamGoldenParityTest {
    static final double LATENT_TOLERANCE = 1e-4;

    private static ModelPack pack;
    private static JsonObject runs;
    private static References arrays;
    private static References rules;

    @BeforeAll
    static void open() throws IOException {
        pack = ModelPack.embedded("tiny-random");
        try (InputStream in = UpstreamGoldenParityTest.class.getResourceAsStream(
                "/upstream/runs.json")) {
            runs = JsonParser.parseReader(new InputStreamReader(in, StandardCharsets.UTF_8))
                    .getAsJsonObject();
        }
        arrays = References.loadResource("/upstream/runs.npz");
        rules = References.loadResource("/upstream/rules.npz");
    }

    @AfterAll
    static void close() {
        pack = null;
    }

    /** Upstream's schedule without the timestep transform (its transform is 0/0 below 17 frames). */
    private static StepScheduler withoutTransform(StepScheduler s) {
        return new StepScheduler() {
            @Override
            public Timesteps timesteps(SamplingContext c) {
                return RectifiedFlow.timesteps(new SamplingContext(c.steps(), c.numTimesteps(),
                        c.frames(), c.latentFrames(), c.height(), c.width(), false,
                        c.transformScale()));
            }

            @Override
            public Session start(Timesteps timesteps) {
                return s.start(timesteps);
            }
        };
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tdtm_t4", "tdtm_t15", "tdtm_t20", "tdtm_t30", "sample_51f_k30",
        "sample_68f_k16"})
    void upstreamPresetsReproduceTheUpstreamSamplerRun(String name) {
        String prompt = runs.get(name + ".prompt").getAsString();
        int frames = runs.get(name + ".frames").getAsInt();
        int steps = runs.get(name + ".steps").getAsInt();
        int mergeSteps = runs.get(name + ".merge_steps").getAsInt();
        boolean transform = runs.get(name + ".timestep_transform").getAsBoolean();
        assertThat(Prompts.prepare(prompt, 6.5)).isEqualTo(runs.get(name + ".text").getAsString());
        GenerationRequest request = GenerationRequest.builder(prompt).frames(frames)
                .size(runs.get(name + ".width").getAsInt(), runs.get(name + ".height").getAsInt())
                .steps(steps).seed(runs.get(name + ".seed").getAsLong()).build();
        StepScheduler lpl = StepSchedulers.lplDynamicUpstream();
        try (VideoPipeline pipeline = VideoPipeline.builder().pack(pack).recordTrace(true)
                .scheduler(transform ? lpl : withoutTransform(lpl))
                .tokenMerger(TokenMergers.tdtmUpstream(mergeSteps)).build()) {
            GenerationTrace trace = pipeline.generate(request).trace();
            assertThat(trace.initialNoise()).containsExactly(arrays.floats(name + "_z0"));
            float[] fed = arrays.floats(name + "_timesteps");
            assertThat(trace.timesteps()).hasSize(fed.length);
            for (int i = 0; i < fed.length; i++) {
                assertThat((float) (double) trace.timesteps().get(i)).as("t'[%d]", i)
                        .isEqualTo(fed[i]);
            }
            List<float[]> latents = trace.latents();
            assertThat(maxAbsDiff(latents.get(latents.size() - 1), arrays.floats(name + "_z_final")))
                    .isLessThan(LATENT_TOLERANCE);
        }
    }

    @Test
    void theScheduleIsBitEqualToUpstreamsFloat32Timesteps() {
        Pattern key = Pattern.compile("schedule_k(\\d+)_f(\\d+)_(\\d+)x(\\d+)");
        int checked = 0;
        for (String k : rules.keys()) {
            Matcher m = key.matcher(k);
            if (!m.matches()) {
                continue;
            }
            int steps = Integer.parseInt(m.group(1));
            int frames = Integer.parseInt(m.group(2));
            int h = Integer.parseInt(m.group(3));
            int w = Integer.parseInt(m.group(4));
            // 17k frames give 5k latent frames (upstream's nf), one frame gives one
            int latent = frames == 1 ? 1 : frames / 17 * 5;
            Timesteps ts = RectifiedFlow.timesteps(new SamplingContext(steps, 1000, frames, latent,
                    h, w, true, 1.0));
            float[] want = rules.floats(k);
            assertThat(ts.count()).isEqualTo(want.length);
            for (int i = 0; i < want.length; i++) {
                assertThat((float) ts.get(i)).as("%s[%d]", k, i).isEqualTo(want[i]);
                assertThat(ts.get(i)).isEqualTo((double) want[i]);
            }
            checked++;
        }
        assertThat(checked).isEqualTo(11);
    }

    @Test
    void theUpstreamMergerAveragesAndRestoresFramesAsUpstreamsMergeFunctions() {
        TokenMerger merger = TokenMergers.tdtmUpstream(1);
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            for (int t : new int[] {3, 4, 7, 15, 20, 30}) {
                // upstream works on [(B·S), T, C]; sora4j on [B, T·S, C]: here B = 1, S = 6.
                Npy in = new Npy(rules, "merge_t" + t + "_in");
                Npy merged = new Npy(rules, "merge_t" + t + "_merged");
                Npy unmerged = new Npy(rules, "merge_t" + t + "_unmerged");
                FrameGroups g = merger.groups(0, 30, t);
                assertThat(g.groupCount()).isEqualTo(merged.t);
                NDArray x = manager.create(in.toTimeMajor(), new Shape(1, (long) t * in.s, in.c));
                NDArray m = merger.merge(x, g, in.s);
                assertThat(maxAbsDiff(m.toFloatArray(), merged.toTimeMajor())).as("merge T=%d", t)
                        .isEqualTo(0.0);
                NDArray u = merger.unmerge(m, g, in.s);
                assertThat(maxAbsDiff(u.toFloatArray(), unmerged.toTimeMajor()))
                        .as("unmerge T=%d", t).isEqualTo(0.0);
            }
        }
    }

    /** A [S, T, C] golden array. */
    private static final class Npy {
        final float[] v;
        final int s;
        final int t;
        final int c;

        Npy(References r, String key) {
            long[] shape = r.array(key).shape();
            v = r.floats(key);
            s = (int) shape[0];
            t = (int) shape[1];
            c = (int) shape[2];
        }

        /** [S, T, C] → [T, S, C]. */
        float[] toTimeMajor() {
            float[] out = new float[v.length];
            for (int si = 0; si < s; si++) {
                for (int ti = 0; ti < t; ti++) {
                    System.arraycopy(v, (si * t + ti) * c, out, (ti * s + si) * c, c);
                }
            }
            return out;
        }
    }

    static double maxAbsDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }
}
