package io.github.sora4j.video;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.sora4j.InvalidRequestException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class VideoWriterTest {

    @TempDir Path dir;

    private static final VideoWriter.FrameObserver FAIL_AT_FRAME_1 =
            frame -> {
                if (frame == 1) {
                    throw new IOException("injected failure at frame " + frame);
                }
            };

    private static String name(VideoFormat format) {
        return switch (format) {
            case MP4 -> "clip.mp4";
            case GIF -> "clip.gif";
            case PNG_FRAMES -> "clip";
        };
    }

    private List<String> listing() throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    // ---- validation -------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(VideoFormat.class)
    void aMissingParentDirectoryFailsBeforeWritingAnything(VideoFormat format) throws IOException {
        Path out = dir.resolve("missing").resolve(name(format));
        assertThatThrownBy(
                        () -> VideoWriter.write(VideoTestSupport.gradient(2, 4, 4), out, format, 8))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("does not exist")
                .hasMessageContaining(dir.resolve("missing").toString());
        assertThat(listing()).isEmpty();
    }

    @Test
    void aParentThatIsARegularFileFailsNamingIt() throws IOException {
        Path file = Files.writeString(dir.resolve("file"), "x");
        assertThatThrownBy(
                        () ->
                                VideoWriter.write(
                                        VideoTestSupport.gradient(1, 2, 2),
                                        file.resolve("clip.mp4"),
                                        VideoFormat.MP4,
                                        8))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("is not a directory")
                .hasMessageContaining(file.toString());
        assertThat(listing()).containsExactly("file");
    }

    @Test
    void anUnwritableParentDirectoryFailsBeforeWriting() throws IOException {
        assumeTrue(
                FileSystems.getDefault().supportedFileAttributeViews().contains("posix"),
                "needs POSIX permissions");
        Path locked = Files.createDirectory(dir.resolve("locked"));
        Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            assumeTrue(!Files.isWritable(locked), "running as a user that ignores permissions");
            assertThatThrownBy(
                            () ->
                                    VideoWriter.write(
                                            VideoTestSupport.gradient(1, 2, 2),
                                            locked.resolve("clip.gif"),
                                            VideoFormat.GIF,
                                            8))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining("not writable")
                    .hasMessageContaining(locked.toString());
        } finally {
            Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void fpsOutsideOneTo240IsRejectedNamingTheValue() throws IOException {
        VideoFrames frames = VideoTestSupport.gradient(1, 2, 2);
        for (int fps : new int[] {0, -5, 241}) {
            assertThatThrownBy(
                            () -> VideoWriter.write(frames, dir.resolve("a.mp4"), VideoFormat.MP4, fps))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining("fps")
                    .hasMessageContaining(Integer.toString(fps));
        }
        assertThat(listing()).isEmpty();
    }

    @Test
    void emptyFramesAreRejected() throws IOException {
        VideoFrames empty = VideoFrames.ofRgb(2, 2, List.of());
        assertThatThrownBy(() -> VideoWriter.write(empty, dir.resolve("a.gif"), VideoFormat.GIF, 8))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("empty");
        assertThat(listing()).isEmpty();
    }

    @Test
    void aFileFormatRefusesToReplaceADirectory() throws IOException {
        Files.createDirectory(dir.resolve("clip.mp4"));
        assertThatThrownBy(
                        () ->
                                VideoWriter.write(
                                        VideoTestSupport.gradient(1, 2, 2),
                                        dir.resolve("clip.mp4"),
                                        VideoFormat.MP4,
                                        8))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("existing directory");
    }

    @Test
    void pngFramesRefuseADirectoryHoldingOtherFiles() throws IOException {
        Path out = Files.createDirectory(dir.resolve("frames"));
        Files.writeString(out.resolve("notes.txt"), "keep me");
        assertThatThrownBy(
                        () ->
                                VideoWriter.write(
                                        VideoTestSupport.gradient(1, 2, 2),
                                        out,
                                        VideoFormat.PNG_FRAMES,
                                        8))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("notes.txt");
        assertThat(Files.readString(out.resolve("notes.txt"))).isEqualTo("keep me");
    }

    // ---- atomicity ---------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(VideoFormat.class)
    void aFailureMidWriteLeavesNoFileBehind(VideoFormat format) throws IOException {
        Path out = dir.resolve(name(format));
        assertThatThrownBy(
                        () ->
                                VideoWriter.write(
                                        VideoTestSupport.gradient(3, 8, 8),
                                        out,
                                        format,
                                        8,
                                        VideoWriter.DEFAULT_MP4_QP,
                                        FAIL_AT_FRAME_1))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("injected failure at frame 1");
        assertThat(listing()).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(VideoFormat.class)
    void aFailureMidWriteKeepsThePreviousOutputIntact(VideoFormat format) throws IOException {
        Path out = dir.resolve(name(format));
        VideoFrames first = VideoTestSupport.blocks(2, 6, 6);
        VideoWriter.write(first, out, format, 8);
        List<String> before = listing();
        byte[] snapshot = format == VideoFormat.PNG_FRAMES ? null : Files.readAllBytes(out);

        assertThatThrownBy(
                        () ->
                                VideoWriter.write(
                                        VideoTestSupport.gradient(3, 8, 8),
                                        out,
                                        format,
                                        8,
                                        VideoWriter.DEFAULT_MP4_QP,
                                        frame -> {
                                            if (frame == 2) {
                                                throw new IllegalStateException("boom");
                                            }
                                        }))
                .isInstanceOf(IllegalStateException.class);

        assertThat(listing()).isEqualTo(before);
        if (snapshot != null) {
            assertThat(Files.readAllBytes(out)).isEqualTo(snapshot);
        } else {
            assertPngFramesEqual(out, first);
        }
    }

    @ParameterizedTest
    @EnumSource(VideoFormat.class)
    void aSuccessfulWriteLeavesOnlyTheTargetAndReplacesAnOldOne(VideoFormat format)
            throws IOException {
        Path out = dir.resolve(name(format));
        VideoWriter.write(VideoTestSupport.blocks(4, 6, 6), out, format, 8);
        VideoWriter.write(VideoTestSupport.blocks(2, 6, 6), out, format, 8);
        assertThat(listing()).containsExactly(name(format));
        if (format == VideoFormat.PNG_FRAMES) {
            assertPngFramesEqual(out, VideoTestSupport.blocks(2, 6, 6));
        }
    }

    @Test
    void theFormatCanBeTakenFromThePath() throws IOException {
        VideoWriter.write(VideoTestSupport.blocks(2, 4, 4), dir.resolve("a.gif"), 8);
        VideoWriter.write(VideoTestSupport.blocks(2, 4, 4), dir.resolve("a.mp4"), 8);
        VideoWriter.write(VideoTestSupport.blocks(2, 4, 4), dir.resolve("a"), 8);
        assertThat(Files.readAllBytes(dir.resolve("a.gif"))).startsWith("GIF89a".getBytes());
        assertThat(new String(Files.readAllBytes(dir.resolve("a.mp4")), 4, 4)).isEqualTo("ftyp");
        assertThat(dir.resolve("a").resolve("frame_00001.png")).isRegularFile();
    }

    // ---- PNG ---------------------------------------------------------------------------------

    @Test
    void pngFramesAreLosslessAndNumberedFromZero() throws IOException {
        VideoFrames frames = VideoTestSupport.gradient(3, 7, 5);
        Path out = dir.resolve("frames");
        VideoWriter.write(frames, out, VideoFormat.PNG_FRAMES, 8);
        try (Stream<Path> entries = Files.list(out)) {
            assertThat(entries.map(p -> p.getFileName().toString()).sorted())
                    .containsExactly("frame_00000.png", "frame_00001.png", "frame_00002.png");
        }
        assertPngFramesEqual(out, frames);
    }

    @Test
    void pngFramesCanReplaceAnEmptyDirectory() throws IOException {
        Path out = Files.createDirectory(dir.resolve("frames"));
        VideoFrames frames = VideoTestSupport.blocks(1, 3, 3);
        VideoWriter.write(frames, out, VideoFormat.PNG_FRAMES, 8);
        assertPngFramesEqual(out, frames);
    }

    private static void assertPngFramesEqual(Path out, VideoFrames frames) throws IOException {
        try (Stream<Path> entries = Files.list(out)) {
            assertThat(entries.count()).isEqualTo(frames.frameCount());
        }
        for (int f = 0; f < frames.frameCount(); f++) {
            BufferedImage image = ImageIO.read(out.resolve(VideoWriter.pngFrameName(f)).toFile());
            assertThat(image.getWidth()).isEqualTo(frames.width());
            assertThat(image.getHeight()).isEqualTo(frames.height());
            assertThat(image.getRGB(0, 0, frames.width(), frames.height(), null, 0, frames.width()))
                    .as("frame %d", f)
                    .containsExactly(frames.argb(f));
        }
    }

    // ---- GIF ---------------------------------------------------------------------------------

    @Test
    void aPaletteFriendlyGifRoundTripsExactlyWithLoopingAndDelay() throws IOException {
        VideoFrames frames = VideoTestSupport.blocks(5, 9, 11);
        Path out = dir.resolve("clip.gif");
        VideoWriter.write(frames, out, VideoFormat.GIF, 8);

        assertThat(new String(Files.readAllBytes(out), 0, 6)).isEqualTo("GIF89a");
        List<BufferedImage> images = new ArrayList<>();
        try (ImageInputStream in = ImageIO.createImageInputStream(out.toFile())) {
            ImageReader reader = ImageIO.getImageReaders(in).next();
            reader.setInput(in);
            int count = reader.getNumImages(true);
            assertThat(count).isEqualTo(5);
            for (int i = 0; i < count; i++) {
                images.add(reader.read(i));
                IIOMetadataNode root =
                        (IIOMetadataNode)
                                reader.getImageMetadata(i).getAsTree("javax_imageio_gif_image_1.0");
                IIOMetadataNode control =
                        (IIOMetadataNode) root.getElementsByTagName("GraphicControlExtension").item(0);
                assertThat(control.getAttribute("delayTime")).isEqualTo("13"); // round(100 / 8)
                if (i == 0) {
                    IIOMetadataNode app =
                            (IIOMetadataNode) root.getElementsByTagName("ApplicationExtension").item(0);
                    assertThat(app.getAttribute("applicationID")).isEqualTo("NETSCAPE");
                    assertThat(app.getAttribute("authenticationCode")).isEqualTo("2.0");
                    assertThat((byte[]) app.getUserObject()).containsExactly(1, 0, 0);
                }
            }
            reader.dispose();
        }
        for (int f = 0; f < 5; f++) {
            BufferedImage image = images.get(f);
            assertThat(image.getWidth()).isEqualTo(11);
            assertThat(image.getHeight()).isEqualTo(9);
            assertThat(image.getRGB(0, 0, 11, 9, null, 0, 11))
                    .as("frame %d", f)
                    .containsExactly(frames.argb(f));
        }
    }

    @Test
    void aManyColourGifKeepsFrameCountAndStaysClose() throws IOException {
        VideoFrames frames = VideoTestSupport.gradient(3, 32, 48);
        Path out = dir.resolve("clip.gif");
        VideoWriter.write(frames, out, VideoFormat.GIF, 24);
        try (ImageInputStream in = ImageIO.createImageInputStream(out.toFile())) {
            ImageReader reader = ImageIO.getImageReaders(in).next();
            reader.setInput(in);
            assertThat(reader.getNumImages(true)).isEqualTo(3);
            for (int f = 0; f < 3; f++) {
                int[] actual = reader.read(f).getRGB(0, 0, 48, 32, null, 0, 48);
                int[] expected = frames.argb(f);
                long sum = 0;
                for (int i = 0; i < actual.length; i++) {
                    for (int shift = 0; shift < 24; shift += 8) {
                        sum += Math.abs((actual[i] >> shift & 0xFF) - (expected[i] >> shift & 0xFF));
                    }
                }
                double mae = (double) sum / (actual.length * 3);
                // JDK 17's octree palette: measured 4.2..4.3 on this clip.
                assertThat(mae).as("frame %d mean abs error", f).isLessThan(5.0);
            }
            reader.dispose();
        }
    }

    @Test
    void gifDelayIsRoundedHundredthsOfASecondAndAtLeastOne() {
        assertThat(ImageIoWriters.gifDelayHundredths(1)).isEqualTo(100);
        assertThat(ImageIoWriters.gifDelayHundredths(8)).isEqualTo(13);
        assertThat(ImageIoWriters.gifDelayHundredths(24)).isEqualTo(4);
        assertThat(ImageIoWriters.gifDelayHundredths(30)).isEqualTo(3);
        assertThat(ImageIoWriters.gifDelayHundredths(240)).isEqualTo(1);
    }

    @Test
    void oddSizedGifAndPngFramesAreExact() throws IOException {
        VideoFrames frames = VideoTestSupport.blocks(2, 3, 5);
        VideoWriter.write(frames, dir.resolve("odd"), VideoFormat.PNG_FRAMES, 8);
        assertPngFramesEqual(dir.resolve("odd"), frames);

        VideoWriter.write(frames, dir.resolve("odd.gif"), VideoFormat.GIF, 8);
        try (ImageInputStream in = ImageIO.createImageInputStream(dir.resolve("odd.gif").toFile())) {
            ImageReader reader = ImageIO.getImageReaders(in).next();
            reader.setInput(in);
            assertThat(reader.getNumImages(true)).isEqualTo(2);
            for (int f = 0; f < 2; f++) {
                assertThat(reader.read(f).getRGB(0, 0, 5, 3, null, 0, 5))
                        .containsExactly(frames.argb(f));
            }
            reader.dispose();
        }
    }
}
