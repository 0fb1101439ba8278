package io.github.sora4j.pack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Extracts the packs embedded in the jar into a per-user cache and checks the cached copy against
 * the jar's manifest (which lists every file's SHA-256 and is trusted because it is in the jar)
 * every time one is opened; a missing or changed file makes the pack be extracted again.
 *
 * <p>The cache root is {@code -Dsora4j.cacheDir}, else {@code $XDG_CACHE_HOME/sora4j}, else
 * {@code ~/.cache/sora4j} (when that cannot be used, e.g. no writable home, {@code
 * java.io.tmpdir/sora4j-<user>}, logged); sora4j creates its directories with owner-only
 * permissions (0700) and refuses a cache directory that belongs to another user or that others
 * can write.
 */
final class EmbeddedPacks {
    /** The system property that overrides the cache root. */
    static final String CACHE_DIR_PROPERTY = "sora4j.cacheDir";
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedPacks.class);
    private static final int ATTEMPTS = 3;

    private EmbeddedPacks() {}

    static ModelPack open(String name) {
        if (name == null || !name.matches("[A-Za-z0-9][A-Za-z0-9._-]*")) {
            throw new ModelPackException("no embedded model pack named '" + name + "'");
        }
        String base = ModelPack.EMBEDDED_ROOT + name + "/";
        byte[] manifestBytes = ModelPack.resource(base + "manifest.json");
        if (manifestBytes == null) {
            throw new ModelPackException("no embedded model pack named '" + name + "'");
        }
        PackManifest manifest = ModelPack.parseManifest(manifestBytes, "jar:" + base
                + "manifest.json");
        Path packs = cacheRoot().resolve("packs");
        ensurePrivate(packs);
        Path target = packs.resolve(name + "-" + ModelPack.sha256(manifestBytes).substring(0, 16));
        ModelPackException last = null;
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            if (Files.isDirectory(target)) {
                try {
                    return ModelPack.openTrusted(target, manifest, manifestBytes);
                } catch (ModelPackException e) {
                    last = e;
                    LOG.warn("cached embedded pack {} does not match the jar ({}); extracting it"
                            + " again", target, e.getMessage());
                    discard(packs, target);
                }
            }
            extract(base, manifestBytes, manifest, packs, target);
        }
        throw new ModelPackException("the embedded pack " + name + " extracted to " + target
                + " keeps failing its checks (is something else writing there?): "
                + (last == null ? "" : last.getMessage()), last);
    }

    /**
     * The cache root: {@code sora4j.cacheDir}, {@code $XDG_CACHE_HOME/sora4j} or {@code
     * ~/.cache/sora4j}, created owner-only and checked.
     *
     * @return the root directory
     */
    static Path cacheRoot() {
        String prop = System.getProperty(CACHE_DIR_PROPERTY);
        if (prop != null && !prop.isBlank()) {
            Path root = Path.of(prop).toAbsolutePath().normalize();
            ensurePrivate(root);
            return root;
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path root = (xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute()
                ? Path.of(xdg, "sora4j")
                : Path.of(System.getProperty("user.home"), ".cache", "sora4j"))
                .toAbsolutePath().normalize();
        try {
            ensurePrivate(root);
            return root;
        } catch (ModelPackException e) {
            // No usable home (a service account, a read-only container): a private directory
            // of this user under the temp dir, with the same owner and permission checks.
            Path fallback = Path.of(System.getProperty("java.io.tmpdir"),
                    "sora4j-" + System.getProperty("user.name", "user").replaceAll(
                            "[^A-Za-z0-9._-]", "_")).toAbsolutePath().normalize();
            LOG.warn("{}; using {} instead", e.getMessage(), fallback);
            ensurePrivate(fallback);
            return fallback;
        }
    }

    /** Creates a directory owner-only if absent; refuses one of another user or writable by others. */
    static void ensurePrivate(Path dir) {
        boolean posix = FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
        try {
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir.getParent());
                FileAttribute<?>[] attrs = posix ? new FileAttribute<?>[] {
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(
                            "rwx------"))} : new FileAttribute<?>[0];
                try {
                    Files.createDirectory(dir, attrs);
                } catch (FileAlreadyExistsException e) {
                    // created concurrently: checked below like any existing directory
                }
            }
            Path probe;
            try {
                probe = Files.createTempFile(dir, ".owner-", ".tmp");
            } catch (IOException e) {
                throw unusable(dir, "this user cannot write to it (" + e.getMessage() + ")");
            }
            try {
                if (!Files.getOwner(probe).equals(Files.getOwner(dir))) {
                    throw unusable(dir, "it belongs to another user (" + Files.getOwner(dir)
                            .getName() + ")");
                }
            } finally {
                Files.deleteIfExists(probe);
            }
            if (posix) {
                Set<PosixFilePermission> p = Files.getPosixFilePermissions(dir);
                if (p.contains(PosixFilePermission.GROUP_WRITE)
                        || p.contains(PosixFilePermission.OTHERS_WRITE)) {
                    throw unusable(dir, "other users can write to it ("
                            + PosixFilePermissions.toString(p) + "; chmod 700 it)");
                }
            }
        } catch (IOException e) {
            throw unusable(dir, e.toString());
        }
    }

    private static ModelPackException unusable(Path dir, String why) {
        return new ModelPackException("cannot use " + dir + " as the sora4j pack cache: " + why
                + ". Set -D" + CACHE_DIR_PROPERTY + "=DIR to a directory of your own (default"
                + " $XDG_CACHE_HOME/sora4j or ~/.cache/sora4j)");
    }

    private static void extract(String base, byte[] manifestBytes, PackManifest manifest,
            Path packs, Path target) {
        Path tmp = null;
        try {
            tmp = Files.createTempDirectory(packs, ".extract-");
            Files.write(tmp.resolve("manifest.json"), manifestBytes);
            List<String> files = new ArrayList<>();
            manifest.blocks().forEach(b -> files.add(b.file()));
            manifest.files().forEach(f -> files.add(f.file()));
            for (String file : files) {
                byte[] data = ModelPack.resource(base + file);
                if (data == null) {
                    throw new ModelPackException("embedded pack is missing " + base + file);
                }
                Path out = tmp.resolve(file);
                Files.createDirectories(out.getParent());
                Files.write(out, data);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target);
            }
            tmp = null;
        } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
            // Another process extracted it first; its copy is checked like any other.
        } catch (IOException e) {
            throw new ModelPackException("cannot extract embedded pack to " + target + ": " + e
                    + ". Set -D" + CACHE_DIR_PROPERTY + "=DIR to a writable directory of your"
                    + " own", e);
        } finally {
            if (tmp != null) {
                deleteTree(tmp);
            }
        }
    }

    /** Moves a bad copy aside (atomically, so a concurrent reader never sees half of it). */
    private static void discard(Path packs, Path target) {
        try {
            Path stale = Files.createTempDirectory(packs, ".stale-");
            Files.move(target, stale.resolve("pack"), StandardCopyOption.ATOMIC_MOVE);
            deleteTree(stale);
        } catch (IOException e) {
            deleteTree(target);
        }
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            // best effort: leftovers are named .extract-* / .stale-* and ignored
        }
    }
}
