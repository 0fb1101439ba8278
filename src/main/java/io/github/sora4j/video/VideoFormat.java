package io.github.sora4j.video;

import io.github.sora4j.InvalidConfigurationException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** The output formats {@link VideoWriter} can write. */
public enum VideoFormat {
    /** H.264 video in an MP4 ({@code isom}) container, encoded by JCodec in pure Java. */
    MP4,
    /** Animated GIF89a that loops forever, written by the JDK's ImageIO GIF writer. */
    GIF,
    /**
     * A directory of lossless PNG frames named {@code frame_00000.png}, {@code frame_00001.png},
     * … (five digits, zero-based).
     */
    PNG_FRAMES;

    /**
     * Picks the format from an output path: a name ending in {@code .mp4} gives {@link #MP4}, in
     * {@code .gif} gives {@link #GIF} (both case-insensitive); an existing directory or a name
     * without an extension gives {@link #PNG_FRAMES}. A leading dot (as in {@code .hidden}) does
     * not start an extension.
     *
     * @param path the output path
     * @return the format
     * @throws InvalidConfigurationException if the name has any other extension (the message names the
     *     path and the extension)
     */
    public static VideoFormat fromPath(Path path) {
        InvalidConfigurationException.requireNonNull(path, "path");
        if (Files.isDirectory(path)) {
            return PNG_FRAMES;
        }
        Path fileName = path.getFileName();
        if (fileName == null) {
            throw new InvalidConfigurationException(
                    "cannot pick a video format for path '" + path + "': it has no file name");
        }
        String name = fileName.toString();
        int dot = name.lastIndexOf('.');
        if (dot <= 0) {
            return PNG_FRAMES;
        }
        String extension = name.substring(dot).toLowerCase(Locale.ROOT);
        switch (extension) {
            case ".mp4":
                return MP4;
            case ".gif":
                return GIF;
            default:
                throw new InvalidConfigurationException(
                        "unknown video extension '"
                                + name.substring(dot)
                                + "' in path '"
                                + path
                                + "'; use .mp4, .gif, or a directory / a name without an"
                                + " extension for PNG frames");
        }
    }
}
