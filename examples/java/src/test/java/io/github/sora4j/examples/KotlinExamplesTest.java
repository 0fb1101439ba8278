package io.github.sora4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.examples.kotlin.CoroutineCancellation;
import io.github.sora4j.examples.kotlin.KotlinTextToVideo;
import io.github.sora4j.pack.ModelPack;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs the Kotlin examples (examples/kotlin), compiled with the test sources. */
class KotlinExamplesTest {
    @Test
    void kotlinTextToVideoReportsProgressAndWritesTheVideo(@TempDir Path dir) {
        List<String> log = new ArrayList<>();
        Path out = dir.resolve("k.mp4");
        GenerationResult r = KotlinTextToVideo.run(ModelPack.embeddedDefault(),
                GenerationRequest.builder("a red circle moving left").frames(9).size(32, 32)
                        .steps(2).build(), out, line -> {
                    log.add(line);
                    return kotlin.Unit.INSTANCE;
                });
        assertThat(r.frames().frameCount()).isEqualTo(9);
        assertThat(out).isRegularFile();
        assertThat(log).containsExactly("ENCODE_TEXT started", "DENOISE started", "step 1/2",
                "step 2/2", "DECODE started");
    }

    @Test
    void cancellingTheCoroutineStopsTheGeneration() {
        // 100 steps take seconds on the demo pack; the cancellation arrives within one or two.
        GenerationRequest request = GenerationRequest.builder("a red circle moving left")
                .frames(9).size(32, 32).steps(100).build();
        CoroutineCancellation.Outcome o = CoroutineCancellation.run(ModelPack.embeddedDefault(),
                request);
        assertThat(o.getStepsRun()).isBetween(1, 99);
        assertThat(o.getPlannedSteps()).isEqualTo(100);
        assertThat(o.getNext().cancelled()).isFalse();
        assertThat(o.getNext().report().modelCalls()).isEqualTo(2);
    }
}
