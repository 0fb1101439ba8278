package io.github.sora4j;

import static io.github.sora4j.testing.References.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.schedule.LinearProportionalLeap;
import io.github.sora4j.schedule.StepScheduler;
import io.github.sora4j.schedule.StepSchedulers;
import io.github.sora4j.testing.References;
import io.github.sora4j.video.VideoFrames;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Whole generations in Java equal the eager PyTorch reference runs of the tiny pack: noise bit for
 * bit, every step's timestep, velocity and latent, and the decoded frames.
 *
 * <p>Tolerances: measured errors are latents ≤ 1.5e-5, CFG velocities ≤ 5.1e-5 (the guidance
 * scale 7 amplifies the model's rounding) and pixels ≤ 9.8e-6 on x86-64 (float32 TorchScript on
 * libtorch 2.7.1 vs eager torch 1.13); the bounds are set at three to four times that: latents
 * {@value #LATENT_TOLERANCE}, velocities {@value #VELOCITY_TOLERANCE}, pixels in [-1, 1] {@value
 * #PIXEL_TOLERANCE}, absolute. LPL cosines agree to 1e-6, timesteps and step sizes exactly.
 */
class ReferenceRunParityTest {
    static final double LATENT_TOLERANCE = 5e-5;
    static final double PIXEL_TOLERANCE = 5e-5;
    static final double VELOCITY_TOLERANCE = 2e-4;

    private static ModelPack pack;

    @BeforeAll
    static void open() {
        pack = ModelPack.embedded("tiny-random");
    }

    static Stream<Arguments> runs() {
        return Stream.of(
                Arguments.of("run_baseline_even.npz"),
                Arguments.of("run_baseline_odd_pad.npz"),
                Arguments.of("run_tdtm.npz"),
                Arguments.of("run_tdtm_odd.npz"),
                Arguments.of("run_lpl_fixed.npz"),
                Arguments.of("run_lpl_dynamic.npz"));
    }

    /** The scheduler the reference run used. */
    static StepScheduler scheduler(References ref) {
        int mode = (int) ref.scalar("lpl_mode");
        return switch (mode) {
            case 0 -> StepSchedulers.rectifiedFlow();
            case 1 -> LinearProportionalLeap.fixed((int) ref.scalar("lpl_target_step"));
            case 2 -> LinearProportionalLeap.dynamic(ref.real("lpl_min_step_fraction"),
                    ref.real("lpl_cos_tolerance"), (int) ref.scalar("lpl_patience"),
                    ref.scalar("lpl_cosine_scope") == 0
                            ? LinearProportionalLeap.CosineScope.FULL_TENSOR
                            : LinearProportionalLeap.CosineScope.UPSTREAM_SLICE);
            default -> throw new IllegalArgumentException("lpl_mode " + mode);
        };
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("runs")
    void javaGenerationEqualsTheReferenceRunStepByStep(String file) {
        References ref = References.load(file);
        int tdtm = (int) ref.scalar("tdtm_steps");
        GenerationRequest request = GenerationRequest.builder(ref.text("prompt_utf8"))
                .frames((int) ref.scalar("num_frames"))
                .size((int) ref.scalar("width"), (int) ref.scalar("height"))
                .steps((int) ref.scalar("steps")).guidanceScale(ref.real("guidance"))
                .seed(ref.scalar("seed")).fps((int) ref.scalar("fps"))
                .aestheticScore(ref.real("aesthetic_score")).build();
        try (VideoPipeline pipeline = VideoPipeline.builder().pack(pack).recordTrace(true)
                .scheduler(scheduler(ref))
                .tokenMerger(tdtm > 0 ? TokenMergers.tdtm(tdtm) : TokenMergers.none()).build()) {
            GenerationResult result = pipeline.generate(request);
            GenerationTrace trace = result.trace();

            assertThat(trace.promptIds()).containsExactly(ref.longs("ids"));
            float[] y = ref.floats("y_cfg");
            float[] yCond = java.util.Arrays.copyOf(y, y.length / 2);
            assertThat(maxAbsDiff(trace.promptEmbedding(), yCond)).isLessThan(1e-5);
            // Initial noise: bit-identical to torch.manual_seed(seed); torch.randn(shape).
            assertThat(trace.initialNoise()).containsExactly(ref.floats("z0"));

            double maxVelocityError = 0;
            double[] ts = ref.doubles("timesteps");
            double[] dts = ref.doubles("dts");
            double[] cosines = ref.doubles("cosines");
            GenerationReport report = result.report();
            assertThat(report.modelCalls()).isEqualTo(ref.scalar("calls"));
            assertThat(report.modelCallsSaved()).isEqualTo(ref.scalar("steps") - ref.scalar("calls"));
            assertThat(report.leapStep()).isEqualTo(ref.scalar("leap_step"));
            assertThat(trace.timesteps()).hasSize(ts.length);
            for (int i = 0; i < ts.length; i++) {
                assertThat(trace.timesteps().get(i)).as("t'[%d]", i).isEqualTo(ts[i]);
                assertThat(report.steps().get(i).dt()).as("dt[%d]", i).isEqualTo(dts[i]);
                if (Double.isNaN(cosines[i])) {
                    assertThat(report.steps().get(i).cosine()).as("cosine[%d]", i).isNaN();
                } else {
                    assertThat(report.steps().get(i).cosine()).as("cosine[%d]", i)
                            .isCloseTo(cosines[i], org.assertj.core.data.Offset.offset(1e-6));
                }
                assertThat(result.report().steps().get(i).merged()).isEqualTo(i < tdtm);
                double dv = maxAbsDiff(trace.velocities().get(i), ref.slice("velocities", i));
                double dz = maxAbsDiff(trace.latents().get(i), ref.slice("latents", i));
                maxVelocityError = Math.max(maxVelocityError, dv);
                assertThat(dv).as("velocity error at step %d", i).isLessThan(VELOCITY_TOLERANCE);
                assertThat(dz).as("latent error at step %d", i).isLessThan(LATENT_TOLERANCE);
            }
            assertThat(maxAbsDiff(trace.latents().get(ts.length - 1), ref.floats("z_final")))
                    .isLessThan(LATENT_TOLERANCE);
            if (!ref.has("frames")) {
                assertThat(file).as("baselines must keep their frames").doesNotContain("baseline");
                return;
            }
            double dp = maxAbsDiff(trace.pixels(), ref.floats("frames"));
            assertThat(dp).as("pixel error").isLessThan(PIXEL_TOLERANCE);
            VideoFrames expected = VideoFrames.fromFloatPixels(ref.floats("frames"),
                    (int) ref.scalar("num_frames"), (int) ref.scalar("height"),
                    (int) ref.scalar("width"));
            assertThat(maxByteDiff(result.frames(), expected)).isLessThanOrEqualTo(1);
            System.out.printf("%s: max |dz|, |dv| over steps and |d pixel| = %.3g, %.3g, %.3g%n",
                    file, maxLatentError(trace, ref), maxVelocityError, dp);
        }
    }

    private static double maxLatentError(GenerationTrace trace, References ref) {
        double m = 0;
        for (int i = 0; i < trace.latents().size(); i++) {
            m = Math.max(m, maxAbsDiff(trace.latents().get(i), ref.slice("latents", i)));
        }
        return m;
    }

    private static int maxByteDiff(VideoFrames a, VideoFrames b) {
        int max = 0;
        for (int f = 0; f < a.frameCount(); f++) {
            byte[] x = a.rgb(f);
            byte[] y = b.rgb(f);
            for (int i = 0; i < x.length; i++) {
                max = Math.max(max, Math.abs((x[i] & 0xff) - (y[i] & 0xff)));
            }
        }
        return max;
    }

}
