package io.github.sora4j.pack;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * Keeps a pack's files inside its directory: every path a manifest names must be relative, in
 * normal form (no {@code .}, {@code ..}, empty segments or backslashes) and, once symbolic links
 * are resolved, inside the pack directory. Checked before anything is opened.
 */
final class PackPaths {
    /** Segments of a manifest path: no separators, no control characters, not {@code .}/{@code ..}. */
    private static final Pattern SEGMENT = Pattern.compile("[^/\\\\\\x00-\\x1f:]+");

    private PackPaths() {}

    /**
     * Checks the form of a manifest path without touching the file system.
     *
     * @param field the manifest field, e.g. {@code blocks[3].file}
     * @param relative the path as the manifest writes it
     * @throws ModelPackException naming the field and the path if it is not a plain relative path
     */
    static void checkForm(String field, String relative) {
        if (relative == null || relative.isBlank()) {
            throw new ModelPackException("manifest " + field + " is missing (a path relative to the"
                    + " pack directory is required)");
        }
        if (relative.startsWith("/") || relative.startsWith("\\")
                || relative.matches("^[A-Za-z]:.*")) {
            throw new ModelPackException("manifest " + field + " is an absolute path: " + relative
                    + " (pack paths must be relative to the pack directory)");
        }
        for (String segment : relative.split("/", -1)) {
            if (segment.equals("..")) {
                throw new ModelPackException("manifest " + field + " leaves the pack directory: "
                        + relative + " ('..' is not allowed in pack paths)");
            }
            if (segment.isEmpty() || segment.equals(".") || !SEGMENT.matcher(segment).matches()) {
                throw new ModelPackException("manifest " + field + " is not a normalised relative"
                        + " path: " + relative + " (use '/'-separated names without '.', '..',"
                        + " '\\', ':' or empty parts)");
            }
        }
    }

    /**
     * Resolves a manifest path inside a pack directory, following symbolic links, and checks that
     * the real file lies inside the real pack directory.
     *
     * @param directory the pack directory (absolute, normalised)
     * @param field the manifest field, for messages
     * @param relative the path as the manifest writes it
     * @return the real path of the file (it exists)
     * @throws ModelPackException if the path is malformed, missing or resolves outside the pack
     */
    static Path resolveExisting(Path directory, String field, String relative) {
        checkForm(field, relative);
        Path file = directory.resolve(relative).normalize();
        try {
            Path realDir = directory.toRealPath();
            Path real = file.toRealPath();
            if (!real.startsWith(realDir)) {
                throw new ModelPackException("model pack file " + file + " (" + field
                        + ") resolves to " + real + ", outside the pack directory " + realDir
                        + " (a symbolic link out of the pack is not allowed)");
            }
            if (!Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS)) {
                throw new ModelPackException("model pack file " + file + " (" + field
                        + ") is not a regular file");
            }
            return real;
        } catch (NoSuchFileException e) {
            throw new ModelPackException("model pack file is missing: " + file + " (" + field
                    + ")");
        } catch (IOException e) {
            throw new ModelPackException("cannot read model pack file " + file + " (" + field
                    + "): " + e.getMessage(), e);
        }
    }
}
