package io.github.sora4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.sora4j.load.BlockLoaders;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.testing.CountedTinyPipeline;
import io.github.sora4j.testing.CountingBlockLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VideoPipelineTest {
    private static CountedTinyPipeline tiny;
    private static ModelPack pack;
    private static VideoPipeline pipeline;

    @BeforeAll
    static void open() {
        tiny = new CountedTinyPipeline();
        pack = tiny.pack();
        pipeline = tiny.pipeline();
    }

    @AfterAll
    static void close() {
        tiny.close();
    }

    private static GenerationRequest.Builder small() {
        return GenerationRequest.builder("a red circle moving left").frames(17).size(64, 64)
                .steps(3).seed(5);
    }

    @Test
    void generatesTheRequestedFramesAndReportsEveryStep() {
        GenerationResult r = pipeline.generate(small().size(72, 48).build());
        assertThat(r.cancelled()).isFalse();
        assertThat(r.frames().frameCount()).isEqualTo(17);
        assertThat(r.frames().width()).isEqualTo(72);
        assertThat(r.frames().height()).isEqualTo(48);
        assertThat(r.report().steps()).hasSize(3);
        assertThat(r.report().modelCalls()).isEqualTo(3);
        assertThat(r.report().latentShape()).containsExactly(1, 4, 5, 6, 9);
        // float32 schedule, as upstream's: at 72x48, T = 5 the first timestep is 999.99988.
        assertThat(r.report().steps().get(0).timestep()).isEqualTo(999.9998779296875);
        assertThat(r.frames().toImage(0).getWidth()).isEqualTo(72);
    }

    @Test
    void unknownPromptWordsAreWarnedOnceAndListedInTheReport() {
        java.io.PrintStream err = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        GenerationResult r;
        try {
            System.setErr(new java.io.PrintStream(captured, true,
                    java.nio.charset.StandardCharsets.UTF_8));
            r = pipeline.generate(GenerationRequest.builder("A crimson circle moving upwards, "
                    + "crimson").frames(9).size(32, 32).steps(2).build());
        } finally {
            System.setErr(err);
        }
        assertThat(r.report().unknownWords()).containsExactly("crimson", "upwards");
        String log = captured.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertThat(log.lines().filter(l -> l.contains("WARN"))).singleElement().asString()
                .contains("pack 'tiny-random' does not know the prompt words [crimson, upwards]");
        GenerationResult known = pipeline.generate(small().frames(9).size(32, 32).steps(2).build());
        assertThat(known.report().unknownWords()).isEmpty();
    }

    @Test
    void runsTheBlocksOfEachSetInPipelineOrder() {
        int before = tiny.loader().acquired().size();
        pipeline.generate(small().steps(2).build());
        List<String> acquired = tiny.loader().acquired();
        List<String> calls = acquired.subList(before, acquired.size());
        List<String> expected = new ArrayList<>(
                List.of("t5.embed", "t5.block.00", "t5.block.01", "t5.final_norm"));
        for (int step = 0; step < 2; step++) {
            expected.addAll(List.of("stdit.embed", "stdit.block.00", "stdit.block.01",
                    "stdit.final"));
        }
        // 17 frames: one temporal chunk; 17 frames in spatial micro-batches of 4: 5 batches.
        for (int i = 0; i < 6; i++) {
            expected.add(String.format("vae.temporal.%02d", i));
        }
        for (int batch = 0; batch < 5; batch++) {
            for (int i = 0; i < 6; i++) {
                expected.add(String.format("vae.spatial.%02d", i));
            }
        }
        assertThat(calls).containsExactlyElementsOf(expected);
    }

    @Test
    void theSameSeedGivesTheSameVideoAndAnotherSeedAnother() {
        GenerationResult a = pipeline.generate(small().build());
        GenerationResult b = pipeline.generate(small().build());
        GenerationResult c = pipeline.generate(small().seed(6).build());
        assertThat(b.frames()).isEqualTo(a.frames());
        assertThat(c.frames()).isNotEqualTo(a.frames());
    }

    @Test
    void noNativeArrayOutlivesAGeneration() {
        pipeline.generate(small().build());
        int after1 = pipeline.liveArrayCount();
        for (int i = 0; i < 3; i++) {
            pipeline.generate(small().seed(i).build());
        }
        assertThat(after1).isZero();
        assertThat(pipeline.liveArrayCount()).isZero();
    }

    @Test
    void sizesTheModelCannotTakeFailBeforeAnyWork() {
        int before = tiny.loader().acquired().size();
        assertThatThrownBy(() -> pipeline.generate(small().size(60, 64).build()))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessage("width and height must be multiples of 8 for this model but were 60x64");
        assertThat(tiny.loader().acquired()).hasSize(before);
    }

    @Test
    void anOverLongPromptFailsSayingWhatWouldBeCut() {
        String prompt = "red ".repeat(298) + "blue green";
        assertThatThrownBy(() -> pipeline.generate(small().prompt(prompt).build()))
                .isInstanceOf(InvalidRequestException.class)
                // 298 + blue, green + "aesthetic score : 6 . 5 ." (7) + </s> = 308 tokens; 299 fit.
                .hasMessage("prompt is 308 tokens (with </s>; 1224 characters), the model takes "
                        + "300; it would lose the last 8 tokens, starting 'green aesthetic score "
                        + ": 6 . 5 .': shorten the prompt");
    }

    @Test
    void aListenerCancelsAtTheNextBlockAndNothingIsWritten(@TempDir Path dir) {
        Path out = dir.resolve("video.mp4");
        AtomicInteger blocks = new AtomicInteger();
        GenerationResult r = pipeline.generate(small().build(), e -> {
            if (e instanceof ProgressEvent.BlockFinished b && b.stage() == Stage.DENOISE) {
                blocks.incrementAndGet();
            }
            return !(e instanceof ProgressEvent.StepFinished s && s.report().index() == 1);
        }, out);
        assertThat(r.cancelled()).isTrue();
        assertThat(r.frames()).isNull();
        assertThat(r.report().steps()).hasSize(2);
        assertThat(blocks.get()).isEqualTo(8);
        assertThat(out).doesNotExist();
        assertThat(pipeline.liveArrayCount()).isZero();
    }

    @Test
    void writesTheVideoAtomically(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("video.gif");
        pipeline.generate(small().build(), ProgressListener.NONE, out);
        assertThat(out).isRegularFile();
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).containsExactly(out);
        }
    }

    @Test
    void aMissingOutputDirectoryFailsBeforeAnyWork(@TempDir Path dir) {
        int before = tiny.loader().acquired().size();
        Path out = dir.resolve("missing/video.mp4");
        assertThatThrownBy(() -> pipeline.generate(small().build(), ProgressListener.NONE, out))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("does not exist")
                .hasMessageContaining("missing");
        assertThat(tiny.loader().acquired()).hasSize(before);
    }

    @Test
    void cancellingTheAsyncFutureStopsTheGeneration() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        AtomicInteger steps = new AtomicInteger();
        CompletableFuture<GenerationResult> f = pipeline.generateAsync(small().steps(30).build(),
                e -> {
                    if (e instanceof ProgressEvent.StepFinished) {
                        steps.incrementAndGet();
                        started.countDown();
                    }
                    return true;
                });
        assertThat(started.await(60, TimeUnit.SECONDS)).isTrue();
        assertThat(f.cancel(true)).isTrue();
        int atCancel = steps.get();
        assertThat(f.isCancelled()).isTrue();
        // Calls are serialised, so once the next one finishes the cancelled one has stopped; at
        // most the step in flight when cancel was called may still have finished.
        GenerationResult next = pipeline.generateAsync(small().build(), ProgressListener.NONE)
                .get(60, TimeUnit.SECONDS);
        assertThat(next.cancelled()).isFalse();
        assertThat(steps.get()).isLessThanOrEqualTo(atCancel + 1).isLessThan(30);
        assertThat(pipeline.liveArrayCount()).isZero();
    }

    @Test
    void concurrentCallsAreSerialisedAndGiveTheSameResultsAsSequentialOnes() throws Exception {
        GenerationResult expectedA = pipeline.generate(small().seed(11).build());
        GenerationResult expectedB = pipeline.generate(small().seed(12).build());
        var pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            Future<GenerationResult> a = pool.submit(() -> pipeline.generate(small().seed(11).build()));
            Future<GenerationResult> b = pool.submit(() -> pipeline.generate(small().seed(12).build()));
            assertThat(a.get(120, TimeUnit.SECONDS).frames()).isEqualTo(expectedA.frames());
            assertThat(b.get(120, TimeUnit.SECONDS).frames()).isEqualTo(expectedB.frames());
        } catch (ExecutionException e) {
            throw new AssertionError(e.getCause());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void moreStepsThanTrainingTimestepsAreRejected() {
        assertThatThrownBy(() -> pipeline.generate(small().steps(1001).build()))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessage("steps must be <= 1000 (the model's training timesteps) but was 1001");
    }

    @Test
    void closingThePipelineCancelsQueuedAsyncGenerations() throws Exception {
        VideoPipeline p = VideoPipeline.builder().pack(pack).build();
        CompletableFuture<GenerationResult> running = p.generateAsync(small().steps(200).build(),
                ProgressListener.NONE);
        CompletableFuture<GenerationResult> queued = p.generateAsync(small().build(),
                ProgressListener.NONE);
        p.close();
        assertThat(queued.isCancelled()).isTrue();
        assertThat(running.isCancelled()).isTrue();
    }

    @Test
    void aRunningAsyncGenerationThatFailsBecauseThePipelineClosesEndsCancelled() throws Exception {
        VideoPipeline p = VideoPipeline.builder().pack(pack).build();
        CountDownLatch inside = new CountDownLatch(1);
        CompletableFuture<GenerationResult> running = p.generateAsync(small().build(), e -> {
            inside.countDown();
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException interrupted) {
                // close() interrupts the pipeline's thread: the generation ends with an error.
                throw new IllegalStateException("interrupted by close()", interrupted);
            }
            return true;
        });
        assertThat(inside.await(60, TimeUnit.SECONDS)).isTrue();
        p.close();
        assertThat(running.isCancelled()).as("ended by close(), so cancelled, whichever came "
                + "first: the error or close()'s cancel").isTrue();
    }

    @Test
    void closingThePipelineClosesItsLoaderAndRefusesWork() {
        CountingBlockLoader[] own = new CountingBlockLoader[1];
        VideoPipeline p = VideoPipeline.builder().pack(pack)
                .blockLoader(x -> own[0] = new CountingBlockLoader(BlockLoaders.resident(x)))
                .build();
        p.close();
        p.close();
        assertThat(own[0].isClosed()).isTrue();
        assertThatThrownBy(() -> p.generate(small().build()))
                .isInstanceOf(PipelineClosedException.class).hasMessage("pipeline is closed");
    }
}
