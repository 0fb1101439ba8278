package io.github.sora4j.device;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.load.ActivationPeaks;
import io.github.sora4j.load.BlockLoaders;
import io.github.sora4j.load.LoaderKind;
import io.github.sora4j.load.LoaderSettings;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.load.SetResidency;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.PackManifest;
import io.github.sora4j.testing.RealSizeManifests;
import io.github.sora4j.testing.RecordingBlockLoader;
import io.github.sora4j.testing.RecordingBlockLoader.Event;
import io.github.sora4j.testing.RecordingBlockLoader.Kind;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class MemoryPlanTest {
    private static final GenerationRequest PAPER = GenerationRequest.builder("a cat")
            .frames(68).size(256, 256).build();

    @Test
    void openSoraAt256x256x68FitsThePhoneWithCiDl() {
        PackManifest m = RealSizeManifests.openSoraV12(WeightPrecision.FLOAT32_T5_INT8);
        MemoryPlan plan = MemoryPlan.of(m, DeviceProfiles.PHONE_ARM64_8GB, PAPER);
        assertThat(plan.fits()).isTrue();
        assertThat(plan.peakBytes()).isLessThanOrEqualTo(3_000_000_000L);
        // STDiT: embed (69.1 MB) + 8 pairs (170.0 MB each) resident, 20 pairs and the final
        // layer streamed with prefetch, room kept for reading a pair (its file three more times);
        // the VAE decoder (0.86 GB) fits whole.
        SetResidency stdit = plan.phase("stdit").residency();
        assertThat(stdit.residentCount()).isEqualTo(9);
        assertThat(stdit.residentBlocks().get(8).name()).isEqualTo("stdit.block.07");
        assertThat(stdit.readingBytes()).isEqualTo(3 * stdit.streamedBlocks().stream()
                .mapToLong(BlockInfo::bytes).max().orElseThrow());
        assertThat(stdit.prefetch()).isTrue();
        assertThat(plan.phase("vae").residency().residentCount()).isEqualTo(12);
        assertThat(plan.phase("t5").residency().prefetch()).isTrue();
        assertThat(plan.toString()).contains("phone-arm64-8gb", "CI-DL", "fits",
                "stdit.block.07");
    }

    @Test
    void keepingEverythingResidentDoesNotFitThePhoneAndThePlanSaysSo() {
        PackManifest m = RealSizeManifests.openSoraV12(WeightPrecision.FLOAT32_T5_INT8);
        MemoryPlan plan = MemoryPlan.of(m, DeviceProfiles.PHONE_ARM64_8GB.budget(),
                LoaderKind.RESIDENT, PAPER);
        assertThat(plan.fits()).isFalse();
        // The whole float32 + T5 int8 pack is 10.85 GB.
        assertThat(plan.peakWeightBytes()).isBetween(10_840_000_000L, 10_860_000_000L);
        assertThat(plan.toString()).contains("does NOT fit");
    }

    @Test
    void aRequestWhoseActivationsAloneExceedThePhoneDoesNotFitEvenSequentially() {
        PackManifest m = RealSizeManifests.openSoraV12(WeightPrecision.FLOAT32_T5_INT8);
        MemoryPlan plan = MemoryPlan.of(m, DeviceProfiles.PHONE_ARM64_8GB,
                GenerationRequest.builder("a cat").frames(68).size(512, 512).build());
        assertThat(plan.fits()).isFalse();
        // The numbers docs/memory.md quotes from the loader's BudgetExceededException.
        SetResidency stdit = plan.phase("stdit").residency();
        assertThat(stdit.activationBytes()).isEqualTo(6_712_995_840L);
        // a pair (170,045,712 bytes) and three copies of its file (170,062,096 bytes) beside them
        assertThat(stdit.minimumBytes()).isEqualTo(7_393_227_840L);
        assertThat(plan.phase("stdit").fits()).isFalse();
    }

    @Test
    void sequentialLoadingNeedsOnlyTheLargestBlockAndItsReadBesideTheActivations() {
        PackManifest m = RealSizeManifests.openSoraV12(WeightPrecision.FLOAT32);
        MemoryPlan plan = MemoryPlan.of(m, DeviceProfiles.PHONE_ARM64_8GB.budget(),
                LoaderKind.SEQUENTIAL, PAPER);
        assertThat(plan.phase("t5").peakWeightBytes()).isEqualTo(771_792_896L);
        assertThat(plan.phase("stdit").peakWeightBytes()).isEqualTo(170_045_712L);
        // reading a 772 MB float32 T5 block holds three more copies of its file: not on the phone
        long t5File = m.blocks("t5").stream().mapToLong(BlockInfo::bytes).max().orElseThrow();
        assertThat(plan.phase("t5").residency().readingBytes()).isEqualTo(3 * t5File);
        assertThat(plan.phase("t5").fits()).isFalse();
        assertThat(plan.fits()).isFalse();
        // the T5-int8 pack the profile names fits sequentially
        assertThat(MemoryPlan.of(RealSizeManifests.openSoraV12(WeightPrecision.FLOAT32_T5_INT8),
                DeviceProfiles.PHONE_ARM64_8GB.budget(), LoaderKind.SEQUENTIAL, PAPER).fits())
                .isTrue();
    }

    @Test
    void stditActivationsFollowTheDocumentedModel() {
        PackManifest m = RealSizeManifests.openSoraV12(WeightPrecision.FLOAT32);
        // T=20, S=16·16=256, N=5120, B=2, C=1152, 16 heads, L=300 (floats):
        // x = 2·5120·1152 = 11,796,480; spatial attention 5x + 2·2·20·16·256² = 142,868,480
        // (the largest stage); kept 2x + 2·300·1152 + 2·300·4096 + 2·(4+4+8)·20·32·32
        // = 27,397,120; (142,868,480 + 27,397,120) · 4 bytes = 681,062,400.
        assertThat(MemoryPlan.activationPeaks(m, PAPER).bytes("stdit")).isEqualTo(681_062_400L);
        ActivationPeaks small = MemoryPlan.activationPeaks(m,
                GenerationRequest.builder("a cat").frames(68).size(192, 192).build());
        assertThat(small.bytes("stdit")).isLessThan(681_062_400L);
        assertThat(small.bytes("vae")).isLessThan(
                MemoryPlan.activationPeaks(m, PAPER).bytes("vae"));
    }

    @Test
    void vaeWidthsAreReadOffTheOutputBlocks() {
        // Real VAE: last widths 128 (spatial) and 128 (temporal); at 256x256 the decoder takes
        // two frames at a time: spatial 3·2·256·256·256 floats dominate (the temporal stage's
        // 7·512·20·32·32 do not), plus frames kept 3 times and the latents.
        PackManifest m = RealSizeManifests.openSoraV12(WeightPrecision.FLOAT32);
        long spatial = 3L * 2 * 256 * 256 * 256;
        assertThat(spatial).isGreaterThan(7L * 512 * 20 * 32 * 32);
        long kept = 3L * 3 * 68 * 256 * 256 + 4L * 4 * 20 * 32 * 32 + 2L * 4 * 68 * 32 * 32;
        assertThat(MemoryPlan.activationPeaks(m, PAPER).bytes("vae"))
                .isEqualTo(4 * (spatial + kept));
    }

    @Test
    void thePlanMakesTheLoadersDecisionsAndBoundsTheirPeak() {
        ModelPack pack = ModelPack.embedded("tiny-random");
        GenerationRequest r = GenerationRequest.builder("a red circle").frames(17)
                .size(64, 64).steps(2).build();
        ActivationPeaks peaks = ActivationPeaks.of(0, 1_637_248, 0);
        // 3 MB for weights and activations, plus room for reading a block (the reader's copies)
        MemoryBudget budget = MemoryBudget.ofBytes(4_800_000);
        MemoryPlan plan = MemoryPlan.of(pack.manifest(), budget, LoaderKind.CONCURRENT_DYNAMIC,
                r, peaks);
        AtomicReference<RecordingBlockLoader> rec = new AtomicReference<>();
        LoaderSettings settings = LoaderSettings.of(budget).withActivations(peaks);
        try (VideoPipeline p = VideoPipeline.builder().pack(pack).blockLoader(pk -> {
            rec.set(new RecordingBlockLoader(settings,
                    s -> BlockLoaders.concurrentDynamic(pk, s), 0));
            return rec.get();
        }).build()) {
            p.generate(r);
        }
        List<SetResidency> decided = rec.get().events(Kind.PLANNED).stream().map(Event::plan)
                .toList();
        assertThat(decided).hasSize(3);
        for (SetResidency d : decided) {
            SetResidency planned = plan.phase(d.set()).residency();
            assertThat(d.residentBlocks()).extracting(BlockInfo::name).as(d.set())
                    .isEqualTo(planned.residentBlocks().stream().map(BlockInfo::name).toList());
            assertThat(d.prefetch()).isEqualTo(planned.prefetch());
        }
        assertThat(rec.get().peakLoadedBytes()).isLessThanOrEqualTo(plan.peakWeightBytes());
        assertThat(plan.fits()).isTrue();
    }
}
