package io.github.sora4j.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.github.sora4j.pack.ModelPack;
import org.junit.jupiter.api.Test;

class FlopModelTest {
    private static final FlopModel OPEN_SORA = FlopModel.of(Architecture.openSoraV12());

    /** The bench pack's architecture (sora4j_export.bench.BENCH_*), as its manifest records it. */
    private static final Architecture BENCH = new Architecture(
            new Architecture.T5(341, 64, 16, 160, 2, 4, 32, 300),
            new Architecture.Stdit(128, 2, 4, 4.0, new int[] {1, 2, 2}, 4, 8, 64, true),
            new Architecture.Vae(4, 4, 3, 4, new int[] {1, 2, 2, 4}, 1,
                    new boolean[] {false, true, true}, new int[] {4, 8, 16, 16}, 0, 17));

    @Test
    void geometryOfThePapersSettingIs5120TokensPerSample() {
        FlopModel.Geometry g = OPEN_SORA.geometry(68, 256, 256, 300);
        assertThat(g.latentFrames()).isEqualTo(20);
        assertThat(g.latentHeight()).isEqualTo(32);
        assertThat(g.spatialTokens()).isEqualTo(256);
        assertThat(g.tokens()).isEqualTo(5120);
        assertThat(OPEN_SORA.geometry(68, 192, 192, 300).tokens()).isEqualTo(2880);
        assertThat(OPEN_SORA.geometry(51, 480, 848, 300).tokens()).isEqualTo(15 * 30 * 53);
    }

    @Test
    void stditMatchesThePapersFlopAnchors() {
        // performance.md §3b: 11.3 TFLOP per sample per forward, 22.6 per CFG step, TDTM 0.773
        FlopModel.Geometry g = OPEN_SORA.geometry(68, 256, 256, 300);
        assertThat(OPEN_SORA.stditForwardFlops(g, 20) / 1e12).isCloseTo(11.3, within(0.1));
        assertThat(OPEN_SORA.stditStepFlops(g, false) / 1e12).isCloseTo(22.6, within(0.2));
        assertThat(OPEN_SORA.mergedStepRatio(g)).isCloseTo(0.773, within(0.002));
        // 192x192: 12.7 TFLOP per CFG step
        assertThat(OPEN_SORA.stditStepFlops(OPEN_SORA.geometry(68, 192, 192, 300), false) / 1e12)
                .isCloseTo(12.7, within(0.15));
    }

    @Test
    void lplAndTdtmRunsCountModelCallsAndMergedCalls() {
        FlopModel.Geometry g = OPEN_SORA.geometry(68, 256, 256, 300);
        FlopModel.RunFlops full = OPEN_SORA.run(g, 30, -1, 0);
        FlopModel.RunFlops lpl = OPEN_SORA.run(g, 30, 15, 0);
        FlopModel.RunFlops all = OPEN_SORA.run(g, 30, 15, 30);
        assertThat(full.modelCalls()).isEqualTo(30);
        assertThat(lpl.modelCalls()).isEqualTo(16);
        assertThat(all.mergedCalls()).isEqualTo(16);
        assertThat(full.denoiseFlops() / lpl.denoiseFlops()).isCloseTo(30.0 / 16, within(1e-12));
        // performance.md §3b: LPL(16) + TDTM on all steps = 30 / (16 * 0.773) = 2.43x
        assertThat(full.denoiseFlops() / all.denoiseFlops()).isCloseTo(2.43, within(0.01));
        // TDTM on the first 15 of 30 steps: 30 / (15 * 0.773 + 15) = 1.13x
        assertThat(full.denoiseFlops() / OPEN_SORA.run(g, 30, -1, 15).denoiseFlops())
                .isCloseTo(1.13, within(0.005));
    }

    @Test
    void t5AndVaeMatchThePapersAnchors() {
        // performance.md §3b: T5-XXL on 300 tokens 2.8 TFLOP; SD decoder 311 GMAC per 256x256
        // frame (>= 42 TFLOP for 68 frames)
        assertThat(OPEN_SORA.t5Flops() / 1e12).isCloseTo(2.8, within(0.05));
        FlopModel.Geometry g = OPEN_SORA.geometry(68, 256, 256, 300);
        assertThat(OPEN_SORA.vaeSpatialFlops(g) / 2 / 68 / 1e9).isCloseTo(311, within(1.0));
        assertThat(OPEN_SORA.vaeDecodeFlops(g)).isGreaterThan(42e12);
    }

    @Test
    void countsEqualTorchsProfilerOnTheExportedModules() {
        // torch.autograd.profiler.profile(with_flops=True), summing aten::addmm/mm/bmm/conv2d, on
        // the exporter's eager modules (sora4j_export.stdit3 / vae / bench), plus forward hooks
        // on every nn.Conv3d (2 * out.numel() * in_channels * k^3; torch 1.13's profiler does not
        // count conv3d):
        //   stdit_block_pair(bench STDiT, 0)(x[2,5120,128], y[2,18,128], t_mlp, T=20)
        //   stdit_block_pair(STDiT3(STDiT3Config(depth=1)), 0)(x[2,64,1152], y[2,7,1152], .., T=4)
        //   bench VideoVAEDecoder.decode(z[1,4,5,4,6], 17) and .decode(z[1,4,20,2,3], 68)
        //   VideoVAEDecoder(VAEConfig.v1_2()).decode(z[1,4,5,4,4], 17)
        FlopModel bench = FlopModel.of(BENCH);
        FlopModel.Geometry g = bench.geometry(68, 256, 256, 18);
        assertThat(2 * bench.stditPairFlops(g, 20)).isEqualTo(11_035_738_112.0);
        FlopModel.Geometry small = OPEN_SORA.geometry(13, 64, 64, 7);
        assertThat(small.tokens()).isEqualTo(64);
        assertThat(2 * OPEN_SORA.stditPairFlops(small, 4)).isEqualTo(9_681_371_136.0);
        FlopModel.Geometry v1 = bench.geometry(17, 32, 48, 1);
        assertThat(bench.vaeSpatialFlops(v1)).isEqualTo(150_052_608.0);
        assertThat(bench.vaeTemporalFlops(v1)).isEqualTo(19_587_840.0);
        FlopModel.Geometry v2 = bench.geometry(68, 16, 24, 1);
        assertThat(bench.vaeSpatialFlops(v2)).isEqualTo(149_582_592.0);
        assertThat(bench.vaeTemporalFlops(v2)).isEqualTo(19_587_840.0);
        FlopModel.Geometry v3 = OPEN_SORA.geometry(17, 32, 32, 1);
        assertThat(OPEN_SORA.vaeSpatialFlops(v3)).isEqualTo(164_706_984_448.0);
        assertThat(OPEN_SORA.vaeTemporalFlops(v3)).isEqualTo(38_301_207_040.0);
    }

    @Test
    void parameterCountsMatchTheByteModelOfThePaper() {
        // algorithms.md §2.4: one block 21.26 M parameters, a pair 170 MB in float32;
        // performance.md §3c: T5-XXL encoder 4.76 B with its 32128 x 4096 embedding
        assertThat(OPEN_SORA.stditBlockParameters() / 1e6).isCloseTo(21.26, within(0.01));
        assertThat(OPEN_SORA.stditPairParameters() * 4 / 1e6).isCloseTo(170, within(0.2));
        long t5 = 32128L * 4096;
        for (int i = 0; i < 24; i++) {
            t5 += OPEN_SORA.t5BlockParameters(i);
        }
        assertThat(t5 / 1e9).isCloseTo(4.76, within(0.01));
        assertThat(OPEN_SORA.stditParameters() / 1e9).isCloseTo(1.2, within(0.05));
        // the bench pair: 529,280 parameters (+16 RoPE frequencies = the manifest's 2,117,184 B)
        assertThat(FlopModel.of(BENCH).stditPairParameters()).isEqualTo(529_280);
    }

    @Test
    void packsWithoutAnArchitectureObjectGetOpenSoraRatios() {
        ModelPack tiny = ModelPack.embeddedDefault();
        Architecture a = Architecture.of(tiny);
        assertThat(a.stdit().hiddenSize()).isEqualTo(tiny.manifest().stdit().hiddenSize());
        assertThat(a.stdit().mlpRatio()).isEqualTo(4.0);
        assertThat(a.t5().dFf()).isEqualTo((int) Math.round(2.5 * tiny.manifest().text().dModel()));
        assertThat(a.t5().maxLength()).isEqualTo(300);
    }

    @Test
    void badRequestsNameTheValue() {
        assertThatThrownBy(() -> OPEN_SORA.geometry(0, 256, 256, 10))
                .isInstanceOf(io.github.sora4j.InvalidConfigurationException.class).hasMessageContaining("0, 256, 256");
        FlopModel.Geometry g = OPEN_SORA.geometry(68, 256, 256, 10);
        assertThatThrownBy(() -> OPEN_SORA.stditPairFlops(g, 21))
                .isInstanceOf(io.github.sora4j.InvalidConfigurationException.class).hasMessageContaining("21");
    }
}
