package io.github.sora4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.sora4j.device.DeviceProfiles;
import io.github.sora4j.device.MemoryPlan;
import io.github.sora4j.device.Techniques;
import io.github.sora4j.load.ActivationPeaks;
import io.github.sora4j.load.BlockReaders;
import io.github.sora4j.load.BudgetExceededException;
import io.github.sora4j.load.LoaderKind;
import io.github.sora4j.load.LoaderSettings;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.load.SetResidency;
import io.github.sora4j.load.TorchScriptBlock;
import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.testing.RecordingBlockLoader;
import io.github.sora4j.testing.RecordingBlockLoader.Event;
import io.github.sora4j.testing.RecordingBlockLoader.Kind;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Budget-aware loaders inside the pipeline, on the embedded tiny pack: the budget invariant, bit
 * for bit equal output, overlap of prefetch and compute, and failing up front.
 */
class CiDlPipelineTest {
    /**
     * 3 MB with fixed activation peaks such that STDiT has room for its embed block and two pairs
     * (CI-DL keeps the embed block resident and streams the pairs with prefetch), and the VAE for
     * three resident blocks and two streamed ones.
     */
    private static final long BUDGET = 3_000_000;
    private static final ActivationPeaks PEAKS = ActivationPeaks.of(0, 1_637_248, 0);

    private static ModelPack pack;
    private static Map<String, float[]> reference;

    @BeforeAll
    static void open() {
        pack = ModelPack.embedded("tiny-random");
        try (VideoPipeline p = VideoPipeline.builder().pack(pack).recordTrace(true)
                .tokenMerger(TokenMergers.tdtm(2)).build()) {
            reference = trace(p.generate(request().build()));
        }
    }

    private static GenerationRequest.Builder request() {
        return GenerationRequest.builder("a red circle moving left").frames(17).size(64, 64)
                .steps(3).seed(7);
    }

    private static Map<String, float[]> trace(GenerationResult r) {
        Map<String, float[]> t = new HashMap<>();
        t.put("embedding", r.trace().promptEmbedding());
        for (int i = 0; i < r.trace().latents().size(); i++) {
            t.put("latent" + i, r.trace().latents().get(i));
            t.put("velocity" + i, r.trace().velocities().get(i));
        }
        t.put("pixels", r.trace().pixels());
        return t;
    }

    private static LoaderSettings settings(LoaderKind kind) {
        long total = pack.manifest().blocks().stream().mapToLong(BlockInfo::parameterBytes).sum();
        // The resident loader needs the whole pack beside the largest activation peak.
        long budget = kind == LoaderKind.RESIDENT ? total + PEAKS.maxBytes() : BUDGET;
        // A reader without the real one's copies of the file, so that the budget counts blocks.
        return LoaderSettings.of(MemoryBudget.ofBytes(budget)).withActivations(PEAKS)
                .withReader(TorchScriptBlock::load);
    }

    private static VideoPipeline pipeline(AtomicReference<RecordingBlockLoader> recorder,
            LoaderSettings settings, LoaderKind kind, long holdMillis) {
        return VideoPipeline.builder().pack(pack).recordTrace(true)
                .tokenMerger(TokenMergers.tdtm(2))
                .blockLoader(p -> {
                    recorder.set(new RecordingBlockLoader(settings,
                            s -> kind.newLoader(p, s), holdMillis));
                    return recorder.get();
                })
                .build();
    }

    @ParameterizedTest
    @EnumSource(LoaderKind.class)
    void everyLoaderStaysWithinTheBudgetAndGivesTheResidentLoadersOutputBitForBit(
            LoaderKind kind) {
        AtomicReference<RecordingBlockLoader> rec = new AtomicReference<>();
        LoaderSettings settings = settings(kind);
        long available = settings.budget().availableBytes();
        try (VideoPipeline p = pipeline(rec, settings, kind, 0)) {
            for (int run = 0; run < 2; run++) {
                GenerationResult r = p.generate(request().build());
                assertThat(r.report().peakLoadedBytes()).isLessThanOrEqualTo(available);
                Map<String, float[]> t = trace(r);
                assertThat(t.keySet()).isEqualTo(reference.keySet());
                for (String key : reference.keySet()) {
                    assertThat(t.get(key)).as("%s %s run %d", kind, key, run)
                            .containsExactly(reference.get(key));
                }
            }
        }
        // The log of every load and free: loaded bytes never above the budget minus the
        // activations of the set that was running.
        String set = null;
        for (Event e : rec.get().events()) {
            if (e.kind() == Kind.PLANNED) {
                set = e.block();
            }
            if (e.loadedBytes() >= 0) {
                long limit = available - (kind == LoaderKind.RESIDENT ? PEAKS.maxBytes()
                        : set == null ? 0 : PEAKS.bytes(set));
                assertThat(e.loadedBytes()).as("%s after %s %s", kind, e.kind(), e.block())
                        .isLessThanOrEqualTo(limit);
            }
        }
        assertThat(rec.get().stats().peakLoadedBytes()).isLessThanOrEqualTo(available);
        assertThat(rec.get().stats().loadedBytes()).isZero();
    }

    @Test
    void ciDlKeepsTheFirstBlocksOfEachSetResidentAndDecidesOncePerSetPerGeneration() {
        AtomicReference<RecordingBlockLoader> rec = new AtomicReference<>();
        try (VideoPipeline p = pipeline(rec, settings(LoaderKind.CONCURRENT_DYNAMIC),
                LoaderKind.CONCURRENT_DYNAMIC, 0)) {
            p.generate(request().build());
            p.generate(request().build());
        }
        List<Event> planned = rec.get().events(Kind.PLANNED);
        assertThat(planned).extracting(Event::block)
                .containsExactly("t5", "stdit", "vae", "t5", "stdit", "vae");
        SetResidency stdit = planned.get(1).plan();
        assertThat(stdit.residentBlocks()).extracting(BlockInfo::name)
                .containsExactly("stdit.embed");
        assertThat(stdit.prefetch()).isTrue();
        assertThat(planned.get(2).plan().residentCount()).isEqualTo(3);
        // Generation 1 loads stdit.embed once for all 3 steps, and the pairs on every step.
        int secondGeneration = rec.get().events().indexOf(planned.get(3));
        List<String> first = rec.get().events().subList(0, secondGeneration).stream()
                .filter(e -> e.kind() == Kind.LOAD_STARTED).map(Event::block).toList();
        assertThat(first.stream().filter("stdit.embed"::equals)).hasSize(1);
        assertThat(first.stream().filter("stdit.block.01"::equals)).hasSize(3);
    }

    @Test
    void prefetchOfTheNextBlockStartsBeforeTheCurrentBlocksComputeEnds() {
        AtomicReference<RecordingBlockLoader> rec = new AtomicReference<>();
        // Reads take >= 20 ms (a 0.53 MB pair read as 170 MB at 8.5 GB/s); each block is held
        // 40 ms longer than its compute, standing for a slower device.
        LoaderSettings settings = settings(LoaderKind.CONCURRENT_DYNAMIC).withReader(
                BlockReaders.throttled(TorchScriptBlock::load, 8.5e9, 318));
        try (VideoPipeline p = pipeline(rec, settings, LoaderKind.CONCURRENT_DYNAMIC, 40)) {
            p.generate(request().steps(3).build());
        }
        List<Event> events = rec.get().events();
        int overlapped = 0;
        for (int i = 0; i < events.size(); i++) {
            Event start = events.get(i);
            if (start.kind() != Kind.LOAD_STARTED || !start.prefetch()
                    || !start.block().startsWith("stdit.block")) {
                continue;
            }
            // Block i+1 is the prefetched block; block i is the one acquired just before it.
            int next = indexOf(events, Kind.ACQUIRED, start.block(), i + 1);
            if (next < 0) {
                continue; // prefetched for a step that never came (the last step's wrap-around)
            }
            Event current = null;
            for (int j = next - 1; j >= 0 && current == null; j--) {
                if (events.get(j).kind() == Kind.ACQUIRED) {
                    current = events.get(j);
                }
            }
            Event computeEnd = events.get(indexOf(events, Kind.RELEASED, current.block(),
                    events.indexOf(current)));
            assertThat(start.thread()).startsWith("sora4j-prefetch");
            assertThat(start.nanoTime()).as("load of %s starts before %s's compute ends",
                    start.block(), current.block()).isLessThan(computeEnd.nanoTime());
            overlapped++;
        }
        // Every step prefetches both pairs: block.00 while the embed block (or, from step 2,
        // the previous step's final block) runs, block.01 while block.00 runs.
        assertThat(overlapped).isGreaterThanOrEqualTo(2 * 3);
    }

    private static int indexOf(List<Event> events, Kind kind, String block, int from) {
        for (int i = from; i < events.size(); i++) {
            if (events.get(i).kind() == kind && events.get(i).block().equals(block)) {
                return i;
            }
        }
        return -1;
    }

    @Test
    void aBudgetThatCannotHoldOneBlockAndItsActivationsFailsBeforeLoadingAnything() {
        long largest = pack.manifest().blocks().stream().mapToLong(BlockInfo::parameterBytes)
                .max().orElseThrow();
        GenerationRequest r = request().build();
        long vaePeak = MemoryPlan.activationPeaks(pack.manifest(), r).bytes("vae");
        // Enough for the largest block, not for it plus the VAE's estimated activations.
        LoaderSettings settings = LoaderSettings.of(MemoryBudget.ofBytes(largest + 1000));
        for (LoaderKind kind : List.of(LoaderKind.SEQUENTIAL, LoaderKind.CONCURRENT_DYNAMIC)) {
            AtomicReference<RecordingBlockLoader> rec = new AtomicReference<>();
            try (VideoPipeline p = VideoPipeline.builder().pack(pack).blockLoader(pk -> {
                rec.set(new RecordingBlockLoader(settings, s -> kind.newLoader(pk, s), 0));
                return rec.get();
            }).build()) {
                assertThatThrownBy(() -> p.generate(r))
                        .isInstanceOfSatisfying(BudgetExceededException.class, e -> {
                            assertThat(e.availableBytes()).isEqualTo(largest + 1000);
                            assertThat(e.requestedBytes()).isGreaterThan(largest + 1000);
                            assertThat(e.getMessage()).contains(
                                    Long.toString(e.requestedBytes()),
                                    Long.toString(largest + 1000));
                        });
                assertThat(rec.get().loads()).isEmpty();
                assertThat(vaePeak).isPositive();
            }
        }
        // A budget below the largest block fails when the pipeline is built.
        assertThatThrownBy(() -> VideoPipeline.builder().pack(pack)
                .blockLoader(pk -> LoaderKind.SEQUENTIAL.newLoader(pk,
                        LoaderSettings.of(MemoryBudget.ofBytes(largest - 1))))
                .build())
                .isInstanceOf(BudgetExceededException.class)
                .hasMessageContaining("vae.temporal.01")
                .hasMessageContaining(Long.toString(largest))
                .hasMessageContaining(Long.toString(largest - 1));
    }

    @Test
    void aDeviceProfileBringsItsLoaderAndTechniques() {
        var profile = DeviceProfiles.PHONE_ARM64_8GB.withThreads(0, 0)
                .withTechniques(new Techniques(1, 1, LoaderKind.CONCURRENT_DYNAMIC));
        try (VideoPipeline p = VideoPipeline.builder().pack(pack).deviceProfile(profile)
                .build()) {
            GenerationResult r = p.generate(request().steps(4).build());
            // LPL leaping at step 1: 2 model calls; TDTM merges the first step.
            assertThat(r.report().modelCalls()).isEqualTo(2);
            assertThat(r.report().mergedSteps()).isEqualTo(1);
            assertThat(r.report().peakLoadedBytes()).isPositive();
        }
    }
}
