package io.github.sora4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.sora4j.cache.MagCacheCalibration;
import io.github.sora4j.cache.StepCache;
import io.github.sora4j.cache.StepCaches;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.ModelPackException;
import io.github.sora4j.schedule.StepSchedulers;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Step caching end to end on the demo pack: which steps compute, what reused steps report and
 * emit, cancelling on a reused step, composition with LPL and TDTM, and the Python reference
 * sampler's decisions ({@code sora4j_export.stepcache}, where docs/quality.md measures them).
 */
class StepCachePipelineTest {
    private static final ModelPack DEMO = ModelPack.embeddedDefault();
    /** The demo STDiT's block pairs: one fused pair block each. */
    private static final int DEPTH = DEMO.manifest().stdit().depth();
    private static final String PROMPT = "a red circle moving left";

    private static GenerationRequest request(int steps) {
        return GenerationRequest.builder(PROMPT).steps(steps).seed(42).build();
    }

    private static List<Integer> computed(GenerationReport r) {
        return r.steps().stream().filter(StepReport::computed).map(StepReport::index).toList();
    }

    /** Records the events of one generation. */
    private static final class Events implements ProgressListener {
        final List<ProgressEvent> events = new ArrayList<>();
        int cancelAfterStep = -1;

        @Override
        public boolean onProgress(ProgressEvent e) {
            events.add(e);
            return !(e instanceof ProgressEvent.StepFinished s
                    && s.report().index() == cancelAfterStep);
        }

        List<String> blocksOfStep(int step) {
            return events.stream().filter(e -> e instanceof ProgressEvent.BlockFinished b
                    && b.stage() == Stage.DENOISE && b.step() == step)
                    .map(e -> ((ProgressEvent.BlockFinished) e).block()).toList();
        }

        List<StepReport> steps() {
            return events.stream().filter(e -> e instanceof ProgressEvent.StepFinished)
                    .map(e -> ((ProgressEvent.StepFinished) e).report()).toList();
        }
    }

    @Test
    void withCachingOffTheFramesAreBitEqualToAPipelineWithoutACache() {
        byte[] plain;
        byte[] none;
        try (VideoPipeline p = VideoPipeline.builder().pack(DEMO).build()) {
            plain = p.generate(request(6)).frames().rgb(9);
        }
        try (VideoPipeline p = VideoPipeline.builder().pack(DEMO).stepCache(StepCaches.none())
                .build()) {
            GenerationResult r = p.generate(request(6));
            none = r.frames().rgb(9);
            assertThat(r.report().computedSteps()).isEqualTo(6);
        }
        assertThat(none).isEqualTo(plain);
    }

    @Test
    void lplCacheComputesTheMasksStepsAndTheLeapAndReusedStepsRunNoBlock() {
        Events events = new Events();
        GenerationResult r;
        try (VideoPipeline p = VideoPipeline.builder().pack(DEMO).preset(Preset.LPL_CACHE)
                .recordTrace(true).build()) {
            r = p.generate(request(30), events);
            assertThat(p.liveArrayCount()).isZero();
        }
        GenerationReport report = r.report();
        assertThat(report.modelCalls()).isEqualTo(16);
        assertThat(report.leapStep()).isEqualTo(15);
        // the Python reference sampler's mask (sora4j_export.stepcache, threshold 0.1, 3 skips)
        assertThat(computed(report)).containsExactly(0, 1, 2, 4, 7, 10, 13, 15);
        assertThat(report.computedSteps()).isEqualTo(8);
        assertThat(report.toString()).contains("computedSteps=8");
        // every step reports progress; a reused step runs no block and reuses the velocity of
        // the last computed step bit for bit
        assertThat(events.steps()).extracting(StepReport::computed)
                .isEqualTo(report.steps().stream().map(StepReport::computed).toList());
        List<float[]> v = r.trace().velocities();
        assertThat(v).hasSize(16);
        int last = 0;
        for (StepReport s : report.steps()) {
            if (s.computed()) {
                assertThat(events.blocksOfStep(s.index())).hasSize(2 + DEPTH); // embed, blocks, final
                last = s.index();
            } else {
                assertThat(events.blocksOfStep(s.index())).isEmpty();
                assertThat(v.get(s.index())).isEqualTo(v.get(last));
            }
        }
    }

    @Test
    void residualReuseRunsOnlyTheEmbedBlockAndTheFinalLayerOnSkippedSteps() {
        Events events = new Events();
        GenerationReport report;
        try (VideoPipeline p = VideoPipeline.builder().pack(DEMO)
                .scheduler(StepSchedulers.lplFixed(15))
                .stepCache(StepCaches.magCache(0.1, 3, 3, StepCache.Reuse.RESIDUAL)).build()) {
            report = p.generate(request(30), events).report();
            assertThat(p.liveArrayCount()).isZero();
        }
        assertThat(computed(report)).containsExactly(0, 1, 2, 4, 7, 10, 13, 15);
        assertThat(events.blocksOfStep(3)).hasSize(2).allMatch(b -> !b.contains("block"));
        assertThat(events.blocksOfStep(4)).hasSize(2 + DEPTH);
    }

    @Test
    void theCacheComposesWithTdtmWhichMergesOnlyOnComputedSteps() {
        GenerationReport report;
        try (VideoPipeline p = VideoPipeline.builder().pack(DEMO).preset(Preset.ALL).build()) {
            report = p.generate(request(30)).report();
        }
        assertThat(computed(report)).containsExactly(0, 1, 2, 4, 7, 10, 13, 15);
        // TDTM merges steps < 15: the computed ones of them
        assertThat(report.steps().stream().filter(StepReport::merged).map(StepReport::index))
                .containsExactly(0, 1, 2, 4, 7, 10, 13);
    }

    @Test
    void theAdaptivePresetDecidesAsThePythonReferenceSampler() {
        try (VideoPipeline p = VideoPipeline.builder().pack(DEMO)
                .preset(Preset.LPL_CACHE_ADAPTIVE).build()) {
            // reference.Sampler with stepcache.CacheConfig("adaptive", 0.4, 4, 2, "velocity"),
            // LPL fixed 15, seed 42 (sora4j_export.demo.cache_sweep.generate; demo.embed prints them)
            assertThat(computed(p.generate(request(30)).report()))
                    .containsExactly(0, 1, 3, 5, 8, 13, 15);
            assertThat(computed(p.generate(GenerationRequest.builder(
                    "a blue square moving up slowly on a light background").steps(30).seed(42)
                    .build()).report())).containsExactly(0, 1, 2, 4, 7, 12, 15);
        }
    }

    @Test
    void cancellingOnAReusedStepStopsLikeOnAComputedOne() {
        Events events = new Events();
        events.cancelAfterStep = 3;
        try (VideoPipeline p = VideoPipeline.builder().pack(DEMO).preset(Preset.LPL_CACHE)
                .build()) {
            GenerationResult r = p.generate(request(30), events);
            assertThat(r.cancelled()).isTrue();
            assertThat(r.report().steps()).hasSize(4);
            assertThat(r.report().steps().get(3).computed()).isFalse();
            assertThat(p.liveArrayCount()).isZero();
        }
    }

    @Test
    void aMaskPresetOnAPackWithoutCalibrationFailsWhenThePipelineIsBuilt() {
        ModelPack tiny = ModelPack.embedded("tiny-random");
        assertThatThrownBy(() -> VideoPipeline.builder().pack(tiny).preset(Preset.LPL_CACHE)
                .build()).isInstanceOf(ModelPackException.class)
                .hasMessageContaining(MagCacheCalibration.FILE);
        // the adaptive rule needs none
        VideoPipeline.builder().pack(tiny).preset(Preset.CACHE_ADAPTIVE).build().close();
    }
}
