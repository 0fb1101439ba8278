package io.github.sora4j.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.testing.RecordingBlockLoader;
import io.github.sora4j.testing.RecordingBlockLoader.Event;
import io.github.sora4j.testing.RecordingBlockLoader.Kind;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Budget-aware loaders on the embedded tiny pack, driven block by block without a pipeline. */
class StreamingBlockLoaderTest {
    private static ModelPack pack;
    private static List<BlockInfo> t5;
    private static List<BlockInfo> stdit;
    private static long largest;

    @BeforeAll
    static void open() {
        pack = ModelPack.embedded("tiny-random");
        t5 = pack.manifest().blocks("t5");
        stdit = pack.manifest().blocks("stdit");
        largest = pack.manifest().blocks().stream().mapToLong(BlockInfo::parameterBytes).max()
                .orElseThrow();
    }

    private static long bytes(List<BlockInfo> blocks) {
        return blocks.stream().mapToLong(BlockInfo::parameterBytes).sum();
    }

    /** Runs one set the way the pipeline does: beginSet, then acquire and close each block. */
    private static void run(BlockLoader loader, List<BlockInfo> blocks) {
        loader.beginSet(blocks);
        for (BlockInfo b : blocks) {
            try (LoadedBlock block = loader.acquire(b)) {
                assertThat(block.info()).isEqualTo(b);
            }
        }
    }

    /**
     * Settings whose reader costs nothing beyond the weights, so the budgets below count blocks
     * exactly; {@link #theReadersCopiesCountAgainstTheBudget} covers the real reader's copies.
     */
    private static LoaderSettings settings(MemoryBudget budget) {
        return LoaderSettings.of(budget).withReader(TorchScriptBlock::load);
    }

    @Test
    void theReadersCopiesCountAgainstTheBudget() {
        List<BlockInfo> stdit = pack.manifest().blocks("stdit");
        BlockReader reader = BlockReaders.torchScript();
        // every block resident and room to read them, but one byte short
        long budget = bytes(stdit) + SetResidency.readingBytes(stdit, stdit.size(), false,
                reader::readOverheadBytes) - 1;
        SetResidency free = SetResidency.plan("stdit", stdit, 0, budget, true, true);
        SetResidency copies = SetResidency.plan("stdit", stdit, 0, budget, true, true,
                reader::readOverheadBytes);
        assertThat(free.residentCount()).isEqualTo(stdit.size());
        assertThat(free.readingBytes()).isZero();
        assertThat(copies.residentCount()).isLessThan(stdit.size());
        assertThat(copies.readingBytes()).isPositive();
        assertThat(copies.fits()).isTrue();
        assertThat(copies.peakBytes()).isLessThanOrEqualTo(budget);
        // the loader decides the same with the real reader, and keeps its count within the plan
        try (RecordingBlockLoader loader = recording(LoaderSettings.of(MemoryBudget.ofBytes(budget)),
                LoaderKind.CONCURRENT_DYNAMIC)) {
            run(loader, stdit);
            run(loader, stdit);
            assertThat(loader.stats().peakLoadedBytes())
                    .isLessThanOrEqualTo(budget - copies.readingBytes());
            assertThat(loader.events(Kind.PLANNED).get(0).plan().residentCount())
                    .isEqualTo(copies.residentCount());
        }
    }

    private static RecordingBlockLoader recording(LoaderSettings settings, LoaderKind kind) {
        return new RecordingBlockLoader(settings, s -> kind.newLoader(pack, s), 0);
    }

    @Test
    void sequentialLoaderLoadsOnAcquireAndFreesOnClose() {
        try (RecordingBlockLoader loader = recording(
                settings(MemoryBudget.ofBytes(largest)), LoaderKind.SEQUENTIAL)) {
            run(loader, t5);
            run(loader, t5);
            List<String> order = loader.events().stream()
                    .filter(e -> e.kind() == Kind.LOAD_STARTED || e.kind() == Kind.FREED)
                    .map(e -> e.kind() + " " + e.block()).toList();
            assertThat(order.subList(0, 4)).containsExactly("LOAD_STARTED t5.embed",
                    "FREED t5.embed", "LOAD_STARTED t5.block.00", "FREED t5.block.00");
            assertThat(loader.loads()).hasSize(2 * t5.size());
            assertThat(loader.stats().loadedBytes()).isZero();
            assertThat(loader.stats().peakLoadedBytes())
                    .isEqualTo(t5.stream().mapToLong(BlockInfo::parameterBytes).max().orElseThrow());
        }
    }

    @Test
    void everyStreamingLoaderThatCannotHoldTheLargestBlockFailsWhenMadeWithTheNumbers() {
        LoaderSettings tooSmall = settings(MemoryBudget.ofBytes(largest - 1));
        for (LoaderKind kind : LoaderKind.values()) {
            assertThatThrownBy(() -> kind.newLoader(pack, tooSmall))
                    .as(kind.label())
                    .isInstanceOfSatisfying(BudgetExceededException.class, e -> {
                        assertThat(e.availableBytes()).isEqualTo(largest - 1);
                        assertThat(e.requestedBytes()).isGreaterThanOrEqualTo(largest);
                        assertThat(e.getMessage()).contains(Long.toString(largest - 1))
                                .contains(Long.toString(e.requestedBytes()));
                    });
        }
    }

    @Test
    void announcingAGenerationThatCannotFitFailsBeforeLoadingAnything() {
        for (LoaderKind kind : List.of(LoaderKind.SEQUENTIAL, LoaderKind.CONCURRENT_DYNAMIC)) {
            try (RecordingBlockLoader loader = recording(
                    settings(MemoryBudget.ofBytes(largest + 1000)), kind)) {
                assertThatThrownBy(() -> loader.beginGeneration(ActivationPeaks.of(0, 0, 1001)))
                        .isInstanceOfSatisfying(BudgetExceededException.class, e -> {
                            assertThat(e.requestedBytes()).isEqualTo(largest + 1001);
                            assertThat(e.availableBytes()).isEqualTo(largest + 1000);
                            assertThat(e.getMessage()).contains("block set vae",
                                    "vae.temporal.01", Long.toString(largest + 1001));
                        });
                assertThat(loader.events()).isEmpty();
                assertThat(loader.stats().loadCount()).isZero();
            }
        }
    }

    @Test
    void firstBlocksStayResidentAcrossRunsOfTheirSetAndTheRestAreStreamed() {
        // Room for the embed block, plus two pairs (one running, one prefetched), not more.
        long budget = stdit.get(0).parameterBytes() + 2 * stdit.get(1).parameterBytes();
        RecordingBlockLoader loader = recording(
                settings(MemoryBudget.ofBytes(budget)), LoaderKind.CONCURRENT_DYNAMIC);
        for (int step = 0; step < 3; step++) {
            run(loader, stdit);
        }
        loader.close(); // waits for the last prefetch, so every load is logged
        SetResidency plan = loader.events(Kind.PLANNED).get(0).plan();
        assertThat(plan.residentCount()).isEqualTo(1);
        assertThat(plan.prefetch()).isTrue();
        assertThat(loader.events(Kind.PLANNED)).hasSize(1);
        assertThat(loader.loads().stream().filter("stdit.embed"::equals)).hasSize(1);
        // Once per run, plus once more: from the second run on, the last block's successor is
        // known, so block.00 is prefetched while stdit.final runs, for a next run that the
        // caller (here) never starts.
        assertThat(loader.loads().stream().filter("stdit.block.00"::equals)).hasSize(4);
        assertThat(loader.events(Kind.FREED)).extracting(Event::block)
                .containsOnlyOnce("stdit.embed");
        assertThat(loader.peakLoadedBytes()).isLessThanOrEqualTo(budget);
        assertThat(loader.stats().peakLoadedBytes()).isLessThanOrEqualTo(budget);
    }

    @Test
    void prefetchIsSkippedRatherThanExceedTheBudget() {
        // While STDiT runs, one pair plus the embed block fit beside its activations, two pairs
        // do not: block.00 is prefetched while the embed block runs, block.01 never is.
        long limit = stdit.get(0).parameterBytes() + stdit.get(1).parameterBytes();
        LoaderSettings settings = settings(MemoryBudget.ofBytes(largest))
                .withActivations(ActivationPeaks.of(0, largest - limit, 0));
        try (RecordingBlockLoader loader = recording(settings, LoaderKind.CONCURRENT)) {
            for (int step = 0; step < 3; step++) {
                run(loader, stdit);
            }
            assertThat(loader.events(Kind.LOAD_STARTED)).filteredOn(Event::prefetch)
                    .extracting(Event::block).contains("stdit.block.00")
                    .doesNotContain("stdit.block.01");
            assertThat(loader.peakLoadedBytes()).isLessThanOrEqualTo(limit);
        }
    }

    @Test
    void startingASetEvictsOtherSetsResidentBlocksOnlyAsFarAsNeeded() {
        long budget = bytes(t5) + bytes(stdit);
        try (RecordingBlockLoader loader = recording(
                settings(MemoryBudget.ofBytes(budget)), LoaderKind.CONCURRENT_DYNAMIC)) {
            run(loader, t5);
            run(loader, stdit);
            // Both sets fit together: nothing was freed.
            assertThat(loader.events(Kind.FREED)).isEmpty();
            assertThat(loader.stats().loadedBytes()).isEqualTo(budget);
        }
        try (RecordingBlockLoader loader = recording(
                settings(MemoryBudget.ofBytes(budget - 1)),
                LoaderKind.CONCURRENT_DYNAMIC)) {
            run(loader, t5);
            run(loader, stdit);
            // One byte short: T5's last block goes first, the rest of T5 stays.
            assertThat(loader.events(Kind.FREED)).extracting(Event::block).first()
                    .isEqualTo("t5.final_norm");
            assertThat(loader.peakLoadedBytes()).isLessThanOrEqualTo(budget - 1);
        }
    }

    @Test
    void holdingMoreBlocksThanFitFailsWithTheNumbers() {
        BlockInfo a = pack.manifest().blocksWithRole("vae-temporal").get(1);
        BlockInfo b = pack.manifest().blocksWithRole("vae-temporal").get(0);
        try (BlockLoader loader = BlockLoaders.sequential(pack,
                settings(MemoryBudget.ofBytes(largest)));
                LoadedBlock held = loader.acquire(a)) {
            assertThatThrownBy(() -> loader.acquire(b))
                    .isInstanceOfSatisfying(BudgetExceededException.class, e -> {
                        assertThat(e.requestedBytes())
                                .isEqualTo(a.parameterBytes() + b.parameterBytes());
                        assertThat(e.availableBytes()).isEqualTo(largest);
                    });
            assertThat(held.info()).isEqualTo(a);
        }
    }

    @Test
    void closeWaitsForALoadInFlightAndFreesEverything() {
        // Each read takes at least 0.3 s, so the prefetch of block.00 is still running at close.
        LoaderSettings slow = settings(MemoryBudget.unlimited())
                .withReader(BlockReaders.throttled(BlockReaders.torchScript(), 1e9, 600));
        RecordingBlockLoader loader = recording(slow, LoaderKind.CONCURRENT);
        loader.beginSet(stdit);
        try (LoadedBlock b = loader.acquire(stdit.get(0))) {
            assertThat(b.info().name()).isEqualTo("stdit.embed");
        }
        loader.close();
        loader.close();
        assertThat(loader.loads()).containsExactly("stdit.embed", "stdit.block.00");
        assertThat(loader.events(Kind.FREED)).extracting(Event::block)
                .containsExactlyInAnyOrder("stdit.embed", "stdit.block.00");
        assertThat(loader.stats().loadedBytes()).isZero();
        assertThatThrownBy(() -> loader.acquire(stdit.get(0)))
                .isInstanceOf(io.github.sora4j.ResourceClosedException.class).hasMessageContaining("closed");
    }

    @Test
    void residentLoaderUnderABudgetFailsUpFrontWhenThePackDoesNotFit() {
        long total = bytes(pack.manifest().blocks());
        assertThatThrownBy(() -> BlockLoaders.resident(pack,
                settings(MemoryBudget.ofBytes(total - 1))))
                .isInstanceOfSatisfying(BudgetExceededException.class, e -> {
                    assertThat(e.requestedBytes()).isEqualTo(total);
                    assertThat(e.availableBytes()).isEqualTo(total - 1);
                });
        try (BlockLoader loader = BlockLoaders.resident(pack,
                settings(MemoryBudget.ofBytes(total)))) {
            assertThatThrownBy(() -> loader.beginGeneration(ActivationPeaks.uniform(1)))
                    .isInstanceOf(BudgetExceededException.class)
                    .hasMessageContaining(Long.toString(total + 1));
        }
    }

    @Test
    void decoratingLoadersSeeEveryReleaseOnce() {
        int[] released = new int[1];
        try (BlockLoader loader = BlockLoaders.resident(pack)) {
            LoadedBlock b = loader.acquire(t5.get(0)).whenClosed(() -> released[0]++);
            b.close();
            b.close();
        }
        assertThat(released[0]).isEqualTo(1);
    }

}
