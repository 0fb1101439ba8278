package io.github.sora4j.video;

import io.github.sora4j.InvalidRequestException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The checks of an output path that {@link VideoWriter} runs before it writes, and that {@link
 * VideoWriter#checkOutput} runs before a generation: format, parent directory, name length, what
 * an existing target is, and a probe file.
 */
final class OutputChecks {
    private static final Pattern FRAME_FILE = Pattern.compile("frame_\\d{5,}\\.png");

    /** The longest file name most file systems take (ext4, APFS, NTFS in UTF-16 units). */
    static final int MAX_NAME_BYTES = 255;

    /** Longest random suffix of a temporary name: an unsigned long in base 36. */
    static final int MAX_SUFFIX = 13;

    /** Bytes a temporary name adds to the target's: {@code "." + name + ".tmp-" + suffix}. */
    static final int TEMP_NAME_EXTRA = 1 + 5 + MAX_SUFFIX;

    private OutputChecks() {}

    /** The checks of {@link VideoWriter#checkOutput(Path)}. */
    static VideoFormat checkOutput(Path out) {
        if (out == null) {
            throw new InvalidRequestException("output path is null");
        }
        VideoFormat format = formatOf(out);
        Path target = out.toAbsolutePath();
        Path parent = checkParent(out, target);
        try {
            if (format == VideoFormat.PNG_FRAMES) {
                checkReplaceableFrameDirectory(out, target);
            } else {
                checkReplaceableFile(out, target);
            }
        } catch (IOException e) {
            throw new InvalidRequestException("cannot read output directory '" + out + "': " + e,
                    e);
        }
        Path probe = parent.resolve("." + target.getFileName() + ".tmp-"
                + "probe" + "0".repeat(MAX_SUFFIX - 5));
        try {
            Files.deleteIfExists(probe);
            Files.createFile(probe);
            Files.delete(probe);
        } catch (IOException | UnsupportedOperationException e) {
            throw new InvalidRequestException("cannot create a file in output directory '" + parent
                    + "' (probe " + probe.getFileName() + "): " + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : " " + e.getMessage())
                    + "; pick a writable directory", e);
        }
        return format;
    }

    /** {@link VideoFormat#fromPath}, refusing a directory named like a file format. */
    static VideoFormat formatOf(Path out) {
        VideoFormat format;
        try {
            format = VideoFormat.fromPath(out);
        } catch (io.github.sora4j.InvalidConfigurationException e) {
            throw new InvalidRequestException(e.getMessage(), e);
        }
        Path name = out.getFileName();
        String lower = name == null ? "" : name.toString().toLowerCase(Locale.ROOT);
        if (format == VideoFormat.PNG_FRAMES && (lower.endsWith(".mp4") || lower.endsWith(".gif"))
                && lower.indexOf('.') > 0) {
            throw new InvalidRequestException("output path '" + out + "' is an existing "
                    + "directory; cannot replace it with a file (name the video differently, or "
                    + "give a name without extension for PNG frames)");
        }
        return format;
    }

    static Path checkParent(Path out, Path target) {
        Path parent = target.getParent();
        if (parent == null || target.getFileName() == null) {
            throw new InvalidRequestException(
                    "output path '" + out + "' has no parent directory or no file name");
        }
        if (!Files.exists(parent)) {
            throw new InvalidRequestException(
                    "parent directory '" + parent + "' of output path '" + out + "' does not exist");
        }
        if (!Files.isDirectory(parent)) {
            throw new InvalidRequestException(
                    "parent '" + parent + "' of output path '" + out + "' is not a directory");
        }
        if (!Files.isWritable(parent)) {
            throw new InvalidRequestException(
                    "parent directory '" + parent + "' of output path '" + out + "' is not writable");
        }
        String name = target.getFileName().toString();
        int bytes = name.getBytes(StandardCharsets.UTF_8).length;
        if (name.equals(".") || name.equals("..")) {
            throw new InvalidRequestException("output path '" + out + "' names a directory ('"
                    + name + "'), not a video");
        }
        if (bytes + TEMP_NAME_EXTRA > MAX_NAME_BYTES) {
            throw new InvalidRequestException("output file name is " + bytes + " bytes; with the "
                    + "temporary name it is written under first ('." + "NAME.tmp-…', "
                    + TEMP_NAME_EXTRA + " more) it would exceed the " + MAX_NAME_BYTES + "-byte "
                    + "limit of file names: use a name of at most "
                    + (MAX_NAME_BYTES - TEMP_NAME_EXTRA) + " bytes");
        }
        return parent;
    }

    static void checkReplaceableFile(Path out, Path target) {
        if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new InvalidRequestException(
                    "output path '" + out + "' is an existing directory; cannot replace it with a file");
        }
    }

    static void checkReplaceableFrameDirectory(Path out, Path target) throws IOException {
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new InvalidRequestException(
                    "output path '"
                            + out
                            + "' exists and is not a directory; PNG frames need a directory");
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(target)) {
            for (Path entry : entries) {
                if (!FRAME_FILE.matcher(entry.getFileName().toString()).matches()
                        || !Files.isRegularFile(entry, LinkOption.NOFOLLOW_LINKS)) {
                    throw new InvalidRequestException(
                            "output directory '"
                                    + out
                                    + "' holds '"
                                    + entry.getFileName()
                                    + "', which is not a PNG frame; refusing to replace it");
                }
            }
        }
    }
}
