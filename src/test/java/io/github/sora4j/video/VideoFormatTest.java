package io.github.sora4j.video;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VideoFormatTest {

    @TempDir Path dir;

    @Test
    void mp4AndGifExtensionsPickTheirFormatsCaseInsensitively() {
        assertThat(VideoFormat.fromPath(Path.of("out/clip.mp4"))).isEqualTo(VideoFormat.MP4);
        assertThat(VideoFormat.fromPath(Path.of("clip.MP4"))).isEqualTo(VideoFormat.MP4);
        assertThat(VideoFormat.fromPath(Path.of("a.b/clip.gif"))).isEqualTo(VideoFormat.GIF);
        assertThat(VideoFormat.fromPath(Path.of("clip.Gif"))).isEqualTo(VideoFormat.GIF);
    }

    @Test
    void aNameWithoutExtensionOrAnExistingDirectoryMeansPngFrames() {
        assertThat(VideoFormat.fromPath(Path.of("out/frames"))).isEqualTo(VideoFormat.PNG_FRAMES);
        assertThat(VideoFormat.fromPath(Path.of(".hidden"))).isEqualTo(VideoFormat.PNG_FRAMES);
        assertThat(VideoFormat.fromPath(dir)).isEqualTo(VideoFormat.PNG_FRAMES);
    }

    @Test
    void anExistingDirectoryWithADotInItsNameStillMeansPngFrames() throws Exception {
        Path frames = java.nio.file.Files.createDirectory(dir.resolve("run.v2"));
        assertThat(VideoFormat.fromPath(frames)).isEqualTo(VideoFormat.PNG_FRAMES);
    }

    @Test
    void anUnknownExtensionFailsNamingTheExtensionAndPath() {
        assertThatThrownBy(() -> VideoFormat.fromPath(Path.of("out/clip.avi")))
                .isInstanceOf(io.github.sora4j.InvalidConfigurationException.class)
                .hasMessageContaining("'.avi'")
                .hasMessageContaining("clip.avi")
                .hasMessageContaining(".mp4");
    }
}
