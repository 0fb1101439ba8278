package io.github.sora4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.pack.ModelPack;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextToVideoTest {
    @Test
    void writesTheVideoOfTheRequest(@TempDir Path dir) {
        Path out = dir.resolve("out.mp4");
        GenerationResult r = TextToVideo.run(ModelPack.embeddedDefault(),
                GenerationRequest.builder("a red circle moving left").frames(9).size(32, 32)
                        .steps(2).build(), out);
        assertThat(r.cancelled()).isFalse();
        assertThat(r.frames().frameCount()).isEqualTo(9);
        assertThat(out).isRegularFile();
    }

    @Test
    void mainRunsWithItsDefaults(@TempDir Path dir) {
        Path out = dir.resolve("main.gif");
        TextToVideo.main(new String[] {"a blue square", out.toString()});
        assertThat(Files.isRegularFile(out)).isTrue();
    }
}
