package io.github.sora4j.video;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.InvalidRequestException;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes {@link VideoFrames} to disk as MP4, animated GIF or a directory of PNG frames.
 *
 * <p><b>Validation first.</b> Every argument is checked before any file is created: the frames
 * must be non-empty, {@code fps} must be in {@value #MIN_FPS}..{@value #MAX_FPS}, the output's
 * parent directory must exist and be writable, and the output must not be something the format
 * cannot replace (a directory for MP4/GIF; a regular file, or a directory holding anything other
 * than {@code frame_NNNNN.png} files, for PNG frames), and the temporary name (below) must be a
 * legal name of at most 255 bytes. Violations throw {@link
 * InvalidRequestException} naming the offending value or path. {@link #checkOutput(Path)} runs
 * the same checks, plus a probe file, before the frames exist (the pipeline calls it before it
 * generates).
 *
 * <p><b>Atomic output.</b> Output is first written under a hidden temporary name in the target's
 * directory ({@code .<name>.tmp-<random>}, a file or, for PNG frames, a directory), flushed to
 * disk, then renamed onto the target with {@link StandardCopyOption#ATOMIC_MOVE} (falling back to
 * {@link StandardCopyOption#REPLACE_EXISTING} where the file system cannot move atomically). If
 * anything fails, the temporary file or directory is deleted and the exception propagates, so the
 * target is either the complete new output or whatever was there before. An existing MP4/GIF file
 * is replaced atomically. An existing PNG frame directory is replaced by renaming it aside, renaming
 * the new directory into place and then deleting the old one; the target is briefly absent in
 * between but never half-written.
 *
 * <p><b>Formats.</b>
 *
 * <ul>
 *   <li>{@link VideoFormat#MP4}: H.264 (constant QP, default {@value #DEFAULT_MP4_QP}) in an MP4
 *       container, encoded by JCodec in pure Java without AWT. RGB is converted to BT.601
 *       limited-range 4:2:0 YCbCr (what players assume for untagged video, and what Open-Sora's
 *       own torchvision/libx264 writer produces), and the stream is tagged as such (SMPTE 170M,
 *       limited range). 4:2:0 needs even sizes, so an odd width or height is padded by repeating
 *       the last column or row: the MP4 is then {@code width + 1} and/or {@code height + 1}
 *       pixels (H.264 cannot crop by a single pixel in 4:2:0).
 *   <li>{@link VideoFormat#GIF}: GIF89a through the JDK's ImageIO writer, looping forever
 *       (NETSCAPE2.0), each frame shown {@code max(1, round(100 / fps))} hundredths of a second.
 *       Frames with at most 256 colours are stored exactly; others are reduced to 256 colours by
 *       ImageIO. Browsers usually show delays below 2 hundredths as 10.
 *   <li>{@link VideoFormat#PNG_FRAMES}: a directory of lossless {@code frame_00000.png}, {@code
 *       frame_00001.png}, … (RGB, 8 bits per channel).
 * </ul>
 *
 * <p>GIF and PNG output use {@code java.awt.image} and {@code javax.imageio} (module {@code
 * java.desktop}) and throw {@link io.github.sora4j.Sora4jException} up front where they are missing
 * (for example on Android); MP4 output does not load them and runs on {@code java.base} alone.
 *
 * <p>All methods are thread-safe and share no state. Concurrent MP4/GIF writes to the same target
 * leave one complete file; concurrent PNG-frame writes to the same directory may fail (never with
 * a half-written directory in place).
 */
public final class VideoWriter {

    /** The lowest accepted frame rate. */
    public static final int MIN_FPS = 1;

    /** The highest accepted frame rate. */
    public static final int MAX_FPS = 240;

    /**
     * The constant H.264 quantiser {@link #write(VideoFrames, Path, VideoFormat, int)} uses for
     * MP4. JCodec 0.2.5's encoder loses chroma detail sharply above QP 14 (on a smooth gradient
     * the mean error jumps from about 1.1 to 3.5 levels at QP 16), so the default stays below it.
     */
    public static final int DEFAULT_MP4_QP = 12;

    /** The accepted H.264 quantiser range. */
    static final int MIN_QP = 0;

    static final int MAX_QP = 51;

    private static final int MAX_GIF_SIZE = 65535;

    private VideoWriter() {}

    /**
     * Called before each frame is encoded; tests use it to inject failures mid-write.
     *
     * <p>Package-private: not part of the public API.
     */
    @FunctionalInterface
    interface FrameObserver {
        /** Observes nothing. */
        FrameObserver NONE = frame -> {};

        /**
         * Called before frame {@code frame} is encoded.
         *
         * @param frame zero-based frame index
         * @throws IOException to abort the write
         */
        void beforeFrame(int frame) throws IOException;
    }

    /**
     * Writes frames in the format chosen by {@link VideoFormat#fromPath(Path)}.
     *
     * @param frames the frames, at least one
     * @param out the output file ({@code .mp4}, {@code .gif}) or directory (PNG frames)
     * @param fps frames per second, {@value #MIN_FPS}..{@value #MAX_FPS}
     * @throws InvalidRequestException if an argument is invalid (see the class documentation)
     * @throws IOException if writing fails; nothing is left behind
     */
    public static void write(VideoFrames frames, Path out, int fps) throws IOException {
        InvalidConfigurationException.requireNonNull(out, "out");
        write(frames, out, OutputChecks.formatOf(out), fps);
    }

    /**
     * Checks, before any frames exist, that a video can be written to {@code out}: the format
     * from the name ({@link VideoFormat#fromPath}; an existing directory named {@code x.mp4} or
     * {@code x.gif} is refused rather than filled with PNG frames), the parent directory exists and
     * a probe file can be created in it (then deleted), the name and its temporary form are legal
     * and at most 255 bytes, and an existing target is something the format
     * replaces: a file for MP4/GIF (replaced atomically), a directory of {@code frame_NNNNN.png}
     * files for PNG frames.
     *
     * @param out the output path
     * @return the format it will be written in
     * @throws InvalidRequestException naming the path and what is wrong
     */
    public static VideoFormat checkOutput(Path out) {
        return OutputChecks.checkOutput(out);
    }

    /**
     * Writes frames in the given format (MP4 with {@link #DEFAULT_MP4_QP}).
     *
     * @param frames the frames, at least one
     * @param out the output file (MP4, GIF) or directory (PNG frames); its parent must exist
     * @param format the format; the extension of {@code out} is not checked against it
     * @param fps frames per second, {@value #MIN_FPS}..{@value #MAX_FPS}
     * @throws InvalidRequestException if an argument is invalid (see the class documentation)
     * @throws io.github.sora4j.Sora4jException for GIF or PNG frames on a JVM without {@code
     *     javax.imageio}
     * @throws IOException if writing fails; nothing is left behind
     */
    public static void write(VideoFrames frames, Path out, VideoFormat format, int fps)
            throws IOException {
        write(frames, out, format, fps, DEFAULT_MP4_QP, FrameObserver.NONE);
    }

    /**
     * Writes an MP4 with an explicit constant H.264 quantiser.
     *
     * @param frames the frames, at least one
     * @param out the output file; its parent must exist
     * @param fps frames per second, {@value #MIN_FPS}..{@value #MAX_FPS}
     * @param qp H.264 quantiser, 0 (best, largest) .. 51 (worst, smallest); see {@link
     *     #DEFAULT_MP4_QP}
     * @throws InvalidRequestException if an argument is invalid
     * @throws IOException if writing fails; nothing is left behind
     */
    public static void writeMp4(VideoFrames frames, Path out, int fps, int qp) throws IOException {
        write(frames, out, VideoFormat.MP4, fps, qp, FrameObserver.NONE);
    }

    /** The full write, with a test hook; validates everything before touching the disk. */
    static void write(
            VideoFrames frames,
            Path out,
            VideoFormat format,
            int fps,
            int qp,
            FrameObserver observer)
            throws IOException {
        InvalidConfigurationException.requireNonNull(frames, "frames");
        InvalidConfigurationException.requireNonNull(out, "out");
        InvalidConfigurationException.requireNonNull(format, "format");
        InvalidConfigurationException.requireNonNull(observer, "observer");
        if (frames.frameCount() == 0) {
            throw new InvalidRequestException("frames is empty (0 frames); nothing to write to " + out);
        }
        if (fps < MIN_FPS || fps > MAX_FPS) {
            throw new InvalidRequestException(
                    "fps must be in " + MIN_FPS + ".." + MAX_FPS + ", got " + fps);
        }
        if (qp < MIN_QP || qp > MAX_QP) {
            throw new InvalidRequestException(
                    "H.264 qp must be in " + MIN_QP + ".." + MAX_QP + ", got " + qp);
        }
        if (format == VideoFormat.GIF
                && (frames.width() > MAX_GIF_SIZE || frames.height() > MAX_GIF_SIZE)) {
            throw new InvalidRequestException(
                    "GIF frames are at most "
                            + MAX_GIF_SIZE
                            + " pixels a side, got "
                            + frames.height()
                            + "x"
                            + frames.width());
        }
        if (format != VideoFormat.MP4) {
            requireImageIo(format);
        }
        Path target = out.toAbsolutePath();
        Path parent = OutputChecks.checkParent(out, target);
        switch (format) {
            case MP4:
                OutputChecks.checkReplaceableFile(out, target);
                writeFileAtomically(
                        parent, target, temp -> Mp4Writer.write(frames, temp, fps, qp, observer));
                break;
            case GIF:
                OutputChecks.checkReplaceableFile(out, target);
                writeFileAtomically(
                        parent, target, temp -> ImageIoWriters.writeGif(frames, temp, fps, observer));
                break;
            case PNG_FRAMES:
                OutputChecks.checkReplaceableFrameDirectory(out, target);
                writeDirectoryAtomically(
                        parent, target, temp -> ImageIoWriters.writePngFrames(frames, temp, observer));
                break;
            default:
                throw new AssertionError(format);
        }
    }

    /** Returns the PNG file name of frame {@code index}: {@code frame_00000.png}. */
    static String pngFrameName(int index) {
        return String.format("frame_%05d.png", index);
    }

    private static void requireImageIo(VideoFormat format) {
        try {
            Class.forName("javax.imageio.ImageIO", false, VideoWriter.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw new io.github.sora4j.Sora4jException(
                    format
                            + " output needs javax.imageio (module java.desktop), which this JVM"
                            + " lacks; write MP4 instead",
                    e);
        }
    }

    @FunctionalInterface
    private interface TempWriter {
        void write(Path temp) throws IOException;
    }

    private static void writeFileAtomically(Path parent, Path target, TempWriter writer)
            throws IOException {
        Path temp = newTempPath(parent, target, "tmp");
        try {
            writer.write(temp);
            moveIntoPlace(temp, target);
        } catch (IOException | RuntimeException | Error e) {
            deleteAfterFailure(temp, e);
            throw e;
        }
    }

    private static void writeDirectoryAtomically(Path parent, Path target, TempWriter writer)
            throws IOException {
        Path temp = newTempPath(parent, target, "tmp");
        Files.createDirectory(temp);
        try {
            writer.write(temp);
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                replaceDirectory(parent, temp, target);
            } else {
                moveIntoPlace(temp, target);
            }
        } catch (IOException | RuntimeException | Error e) {
            deleteAfterFailure(temp, e);
            throw e;
        }
    }

    /** Swaps a finished directory in for an existing one, restoring the old one on failure. */
    private static void replaceDirectory(Path parent, Path fresh, Path target) throws IOException {
        Path old = newTempPath(parent, target, "old");
        moveIntoPlace(target, old);
        try {
            moveIntoPlace(fresh, target);
        } catch (IOException | RuntimeException | Error e) {
            try {
                moveIntoPlace(old, target);
            } catch (IOException restore) {
                e.addSuppressed(restore);
            }
            throw e;
        }
        try {
            deleteRecursively(old);
        } catch (IOException e) {
            // The new output is in place; a leftover hidden old copy is not worth failing for.
            System.getLogger(VideoWriter.class.getName())
                    .log(System.Logger.Level.WARNING, "could not delete old frames at " + old, e);
        }
    }

    private static Path newTempPath(Path parent, Path target, String kind) throws IOException {
        String name = target.getFileName().toString();
        for (int attempt = 0; attempt < 100; attempt++) {
            String suffix = Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36);
            Path candidate = parent.resolve("." + name + "." + kind + "-" + suffix);
            if (!Files.exists(candidate, LinkOption.NOFOLLOW_LINKS)) {
                return candidate;
            }
        }
        throw new FileAlreadyExistsException(
                parent.resolve("." + name + "." + kind + "-*").toString(),
                null,
                "no free temporary name after 100 tries");
    }

    private static void moveIntoPlace(Path source, Path target) throws IOException {
        try {
            Files.move(source, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException | FileAlreadyExistsException e) {
            Files.move(source, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void deleteAfterFailure(Path temp, Throwable failure) {
        try {
            deleteRecursively(temp);
        } catch (IOException | RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    private static void deleteRecursively(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(
                path,
                new SimpleFileVisitor<>() {
                    @Override
                    public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
                            throws IOException {
                        Files.deleteIfExists(file);
                        return FileVisitResult.CONTINUE;
                    }

                    @Override
                    public FileVisitResult postVisitDirectory(Path dir, IOException e)
                            throws IOException {
                        if (e != null) {
                            throw e;
                        }
                        Files.deleteIfExists(dir);
                        return FileVisitResult.CONTINUE;
                    }
                });
    }
}
