package io.github.sora4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.pack.ModelPack;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProgressAndCancelTest {
    private static final GenerationRequest REQUEST =
            GenerationRequest.builder("a red circle moving left").frames(9).size(32, 32).steps(3)
                    .build();

    @Test
    void printsEveryStageAndStepWithinTheLimit(@TempDir Path dir) {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        Path out = dir.resolve("out.mp4");
        GenerationResult r = ProgressAndCancel.run(ModelPack.embeddedDefault(), REQUEST, out,
                Duration.ofMinutes(5), new PrintStream(log, true, StandardCharsets.UTF_8));
        assertThat(r.cancelled()).isFalse();
        assertThat(out).isRegularFile();
        assertThat(log.toString(StandardCharsets.UTF_8))
                .contains("ENCODE_TEXT started", "DENOISE started", "step 1/3", "step 3/3",
                        "DECODE started");
    }

    @Test
    void cancelsAndWritesNothingPastTheLimit(@TempDir Path dir) {
        Path out = dir.resolve("out.mp4");
        GenerationResult r = ProgressAndCancel.run(ModelPack.embeddedDefault(), REQUEST, out,
                Duration.ZERO, new PrintStream(new ByteArrayOutputStream(), true,
                        StandardCharsets.UTF_8));
        assertThat(r.cancelled()).isTrue();
        assertThat(r.frames()).isNull();
        assertThat(out).doesNotExist();
    }
}
