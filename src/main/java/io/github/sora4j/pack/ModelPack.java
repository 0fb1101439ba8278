package io.github.sora4j.pack;

import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * A model pack on disk: its directory and parsed, validated manifest.
 *
 * <p>Opening a pack checks, before anything is loaded, that the manifest is a known format
 * version, that every listed file exists with the listed size, and (unless disabled) that every
 * file's SHA-256 matches. A pack is immutable and holds no native resources.
 *
 * <pre>{@code
 * ModelPack pack = ModelPack.open(Path.of("packs/opensora-v1.2-fp32"));
 * ModelPack demo = ModelPack.embeddedDefault();
 * }</pre>
 */
public final class ModelPack {
    /** Resource folder of the packs embedded in the jar. */
    static final String EMBEDDED_ROOT = "/io/github/sora4j/packs/";

    /** Name of the pack {@link #embeddedDefault()} returns. */
    public static final String DEFAULT_EMBEDDED = "demo";

    private final Path directory;
    private final PackManifest manifest;

    private ModelPack(Path directory, PackManifest manifest) {
        this.directory = directory;
        this.manifest = manifest;
    }

    /**
     * Opens and fully verifies (sizes and SHA-256) a pack directory.
     *
     * @param directory the pack directory holding {@code manifest.json}
     * @return the pack
     * @throws ModelPackException if the pack is missing, of an unknown version or corrupt
     */
    public static ModelPack open(Path directory) {
        return open(directory, true);
    }

    /**
     * Opens a pack directory.
     *
     * @param directory the pack directory holding {@code manifest.json}
     * @param verifyChecksums whether to hash every file (sizes are always checked)
     * @return the pack
     * @throws ModelPackException if the pack is missing, of an unknown version or corrupt
     */
    public static ModelPack open(Path directory, boolean verifyChecksums) {
        if (directory == null) {
            throw new ModelPackException("model pack directory is null");
        }
        Path manifestFile = directory.resolve("manifest.json");
        if (!Files.isDirectory(directory)) {
            throw new ModelPackException("model pack directory does not exist: " + directory);
        }
        if (!Files.isRegularFile(manifestFile)) {
            throw new ModelPackException("model pack has no manifest.json: " + manifestFile);
        }
        PackManifest manifest = parseManifest(manifestFile);
        ModelPack pack = new ModelPack(directory.toAbsolutePath().normalize(), manifest);
        pack.verify(verifyChecksums);
        return pack;
    }

    /**
     * Reads and validates a pack's {@code manifest.json} without checking its files: for tools
     * that report on a pack (the CLI's {@code inspect} and {@code plan}) even when some of its
     * files are missing or corrupt.
     *
     * @param directory the pack directory holding {@code manifest.json}
     * @return the parsed manifest
     * @throws ModelPackException if there is no manifest, or it is not valid JSON, not a sora4j
     *     pack, of an unknown format version or incomplete
     */
    public static PackManifest readManifest(Path directory) {
        if (directory == null) {
            throw new ModelPackException("model pack directory is null");
        }
        if (!Files.isDirectory(directory)) {
            throw new ModelPackException("model pack directory does not exist: " + directory);
        }
        Path manifestFile = directory.resolve("manifest.json");
        if (!Files.isRegularFile(manifestFile)) {
            throw new ModelPackException("model pack has no manifest.json: " + manifestFile);
        }
        return parseManifest(manifestFile);
    }

    /**
     * The pack embedded in the sora4j jar and used when no pack is given: the demo pack, a small
     * model of Open-Sora's architecture trained by the project on a procedural world of coloured
     * shapes moving over a plain background (prompts like {@code "a red circle moving left"}; 17
     * frames of 64x64; docs/quality.md). It is extracted once to a cache directory
     * under {@code java.io.tmpdir} (or {@code sora4j.cacheDir}) and verified.
     *
     * @return the embedded default pack
     */
    public static ModelPack embeddedDefault() {
        return embedded(DEFAULT_EMBEDDED);
    }

    /**
     * An embedded pack by name.
     *
     * @param name the pack's folder name under {@code io/github/sora4j/packs/}
     * @return the extracted and verified pack
     * @throws ModelPackException if no such pack is embedded
     */
    public static ModelPack embedded(String name) {
        String base = EMBEDDED_ROOT + name + "/";
        byte[] manifestBytes;
        try (InputStream in = ModelPack.class.getResourceAsStream(base + "manifest.json")) {
            if (in == null) {
                throw new ModelPackException("no embedded model pack named '" + name + "'");
            }
            manifestBytes = in.readAllBytes();
        } catch (IOException e) {
            throw new ModelPackException("cannot read embedded pack " + name, e);
        }
        String key = name + "-" + sha256(manifestBytes).substring(0, 16);
        Path cacheRoot =
                Path.of(System.getProperty("sora4j.cacheDir", System.getProperty("java.io.tmpdir")))
                        .resolve("sora4j-packs");
        Path target = cacheRoot.resolve(key);
        if (!Files.isRegularFile(target.resolve("manifest.json"))) {
            extract(base, manifestBytes, cacheRoot, target);
        }
        return open(target, true);
    }

    private static void extract(String base, byte[] manifestBytes, Path cacheRoot, Path target) {
        PackManifest manifest = parseManifest(manifestBytes, base + "manifest.json");
        Path tmp = null;
        try {
            Files.createDirectories(cacheRoot);
            tmp = Files.createTempDirectory(cacheRoot, ".extract-");
            Files.write(tmp.resolve("manifest.json"), manifestBytes);
            List<String> files = new ArrayList<>();
            manifest.blocks().forEach(b -> files.add(b.file()));
            manifest.files().forEach(f -> files.add(f.file()));
            for (String file : files) {
                Path out = tmp.resolve(file);
                Files.createDirectories(out.getParent());
                try (InputStream in = ModelPack.class.getResourceAsStream(base + file)) {
                    if (in == null) {
                        throw new ModelPackException("embedded pack is missing " + base + file);
                    }
                    Files.copy(in, out);
                }
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target);
            }
            tmp = null;
        } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
            // Another process extracted it first; its copy is verified on open.
        } catch (IOException e) {
            throw new ModelPackException("cannot extract embedded pack to " + target, e);
        } finally {
            if (tmp != null) {
                deleteTree(tmp);
            }
        }
    }

    private static PackManifest parseManifest(Path file) {
        try {
            return parseManifest(Files.readAllBytes(file), file.toString());
        } catch (IOException e) {
            throw new ModelPackException("cannot read " + file, e);
        }
    }

    private static PackManifest parseManifest(byte[] bytes, String where) {
        PackManifest m;
        try {
            m = new Gson().fromJson(new String(bytes, java.nio.charset.StandardCharsets.UTF_8),
                    PackManifest.class);
        } catch (JsonParseException e) {
            throw new ModelPackException("manifest is not valid JSON: " + where + ": "
                    + e.getMessage(), e);
        }
        if (m == null || !"sora4j-pack".equals(m.format())) {
            throw new ModelPackException("not a sora4j model pack manifest (format="
                    + (m == null ? null : m.format()) + "): " + where);
        }
        if (m.formatVersion() != PackManifest.FORMAT_VERSION) {
            throw new ModelPackException("unknown model pack format version " + m.formatVersion()
                    + " in " + where + " (this sora4j reads version "
                    + PackManifest.FORMAT_VERSION + ")");
        }
        if (m.text() == null || m.stdit() == null || m.vae() == null || m.sampling() == null) {
            throw new ModelPackException("manifest lacks text, stdit, vae or sampling: " + where);
        }
        for (String set : List.of("t5", "stdit", "vae")) {
            if (m.blocks(set).isEmpty()) {
                throw new ModelPackException("manifest lists no '" + set + "' blocks: " + where);
            }
        }
        PackManifest.Request r = m.request();
        int multiple = m.vae().spatialCompression();
        if (r != null && (r.frames() < 1 || r.width() < multiple || r.height() < multiple
                || r.width() % multiple != 0 || r.height() % multiple != 0)) {
            throw new ModelPackException("manifest request must have frames >= 1 and a size in "
                    + "multiples of " + multiple + " but was " + r + ": " + where);
        }
        return m;
    }

    private void verify(boolean checksums) {
        for (BlockInfo b : manifest.blocks()) {
            verifyFile(b.file(), b.bytes(), b.sha256(), checksums);
        }
        for (PackFile f : manifest.files()) {
            verifyFile(f.file(), f.bytes(), f.sha256(), checksums);
        }
        Path tokenizer = directory.resolve(manifest.text().tokenizer());
        if (!Files.isRegularFile(tokenizer)) {
            throw new ModelPackException("model pack has no tokenizer: " + tokenizer);
        }
        Path nullEmbedding = directory.resolve(manifest.stdit().nullEmbedding());
        if (!Files.isRegularFile(nullEmbedding)) {
            throw new ModelPackException("model pack has no null embedding: " + nullEmbedding);
        }
    }

    private void verifyFile(String name, long bytes, String sha, boolean checksums) {
        Path file = directory.resolve(name);
        if (!Files.isRegularFile(file)) {
            throw new ModelPackException("model pack file is missing: " + file);
        }
        try {
            long size = Files.size(file);
            if (size != bytes) {
                throw new ModelPackException("model pack file " + file + " has " + size
                        + " bytes, the manifest says " + bytes + " (truncated or replaced)");
            }
            if (checksums) {
                String actual = sha256(file);
                if (!actual.equals(sha)) {
                    throw new ModelPackException("sha256 mismatch for " + file + ": expected " + sha
                            + ", found " + actual);
                }
            }
        } catch (IOException e) {
            throw new ModelPackException("cannot read model pack file " + file, e);
        }
    }

    /**
     * The pack directory (absolute).
     *
     * @return the directory
     */
    public Path directory() {
        return directory;
    }

    /**
     * The parsed manifest.
     *
     * @return the manifest
     */
    public PackManifest manifest() {
        return manifest;
    }

    /**
     * Resolves a file of the pack.
     *
     * @param relative a path from the manifest
     * @return its absolute path
     */
    public Path resolve(String relative) {
        return directory.resolve(relative);
    }

    @Override
    public String toString() {
        return "ModelPack[" + manifest.name() + " at " + directory + "]";
    }

    static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(digest().digest(bytes));
    }

    static String sha256(Path file) throws IOException {
        MessageDigest md = digest();
        byte[] buffer = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                md.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every JVM", e);
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
            // best effort: a leftover temp directory is named ".extract-*" and ignored
        }
    }
}
