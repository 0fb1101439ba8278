package io.github.sora4j.pack;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A model pack on disk: its directory and parsed, validated manifest.
 *
 * <p>Opening a pack checks, before any block is loaded: the manifest (format version, every
 * hyper-parameter in range, the block list against the architecture, every path relative and
 * inside the pack), every file's size, by default every file's SHA-256, each block's role tag and
 * TorchScript code (an allowlist of operators), the null embedding's header and, if required, the
 * publisher's signature ({@link PackTrust}). Blocks are later loaded from bytes read once and
 * checked again ({@link #readBlock}), so a file replaced after opening is refused. A pack is
 * immutable and holds no native resources. docs/model-pack.md, "Threat model", says what a pack
 * can and cannot do.
 *
 * <pre>{@code
 * ModelPack pack = ModelPack.open(Path.of("packs/opensora-v1.2-fp32"));
 * ModelPack signed = ModelPack.open(dir, PackTrust.signedBy(PackTrust.readPublicKey(pem)));
 * ModelPack demo = ModelPack.embeddedDefault();
 * }</pre>
 */
public final class ModelPack {
    /** Resource folder of the packs embedded in the jar. */
    static final String EMBEDDED_ROOT = "/io/github/sora4j/packs/";
    /** The signature file next to {@code manifest.json}. */
    static final String SIGNATURE = "manifest.json.sig";
    /** The largest block file sora4j loads (it is read into one array to be checked). */
    static final long MAX_BLOCK_BYTES = Integer.MAX_VALUE - 64;

    /** Name of the pack {@link #embeddedDefault()} returns. */
    public static final String DEFAULT_EMBEDDED = "demo";

    private static final Logger LOG = LoggerFactory.getLogger(ModelPack.class);

    private final Path directory;
    private final PackManifest manifest;
    private final boolean verifyHashes;
    /** Whether the blocks carry role tags: null until known (a pack opened without hashing). */
    private volatile Boolean tagged;
    private final AtomicBoolean warnedUntagged = new AtomicBoolean();

    private ModelPack(Path directory, PackManifest manifest, boolean verifyHashes) {
        this.directory = directory;
        this.manifest = manifest;
        this.verifyHashes = verifyHashes;
    }

    /**
     * Opens and fully verifies (sizes, SHA-256, role tags, TorchScript code) a pack directory.
     *
     * @param directory the pack directory holding {@code manifest.json}
     * @return the pack
     * @throws ModelPackException if the pack is missing, of an unknown version, invalid or corrupt
     */
    public static ModelPack open(Path directory) {
        return open(directory, PackTrust.defaults());
    }

    /**
     * Opens a pack directory, with or without SHA-256 checks ({@link PackTrust#withoutHashes()};
     * turning them off is logged as a warning).
     *
     * @param directory the pack directory holding {@code manifest.json}
     * @param verifyChecksums whether to check every file's SHA-256, now and on every block load
     * @return the pack
     * @throws ModelPackException if the pack is missing, of an unknown version, invalid or corrupt
     */
    public static ModelPack open(Path directory, boolean verifyChecksums) {
        return open(directory, verifyChecksums ? PackTrust.defaults() : PackTrust.withoutHashes());
    }

    /**
     * Opens a pack directory with explicit trust settings.
     *
     * @param directory the pack directory holding {@code manifest.json}
     * @param trust hash checks and required signatures
     * @return the pack
     * @throws ModelPackException if the pack is missing, unsigned or badly signed when a signature
     *     is required, of an unknown version, invalid or corrupt
     */
    public static ModelPack open(Path directory, PackTrust trust) {
        if (trust == null) {
            throw new IllegalArgumentException("trust is null (use PackTrust.defaults())");
        }
        Path dir = checkedDirectory(directory);
        Path manifestFile = PackPaths.resolveExisting(dir, "manifest.json", "manifest.json");
        byte[] bytes = readAll(manifestFile);
        if (!trust.trustedKeys().isEmpty()) {
            PackSignature.verify(dir, bytes, trust.trustedKeys());
        }
        PackManifest manifest = parseManifest(bytes, manifestFile.toString());
        ModelPack pack = new ModelPack(dir, manifest, trust.verifyHashes());
        if (!trust.verifyHashes()) {
            LOG.warn("SHA-256 checks are off for model pack {} at {}: its files are loaded"
                    + " without checking their hashes (sizes, the manifest checks and the"
                    + " TorchScript allowlist still apply)", manifest.name(), dir);
        }
        pack.verifyFiles();
        return pack;
    }

    /**
     * Opens an extracted embedded pack against the manifest from the jar (trusted), checking every
     * file including the on-disk copy of the manifest.
     */
    static ModelPack openTrusted(Path dir, PackManifest manifest, byte[] manifestBytes) {
        Path onDisk = PackPaths.resolveExisting(dir, "manifest.json", "manifest.json");
        if (!java.util.Arrays.equals(readAll(onDisk), manifestBytes)) {
            throw new ModelPackException("manifest.json in " + dir + " differs from the jar's");
        }
        ModelPack pack = new ModelPack(dir, manifest, true);
        pack.verifyFiles();
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
     *     pack, of an unknown format version, incomplete or invalid
     */
    public static PackManifest readManifest(Path directory) {
        Path dir = checkedDirectory(directory);
        Path file = PackPaths.resolveExisting(dir, "manifest.json", "manifest.json");
        return parseManifest(readAll(file), file.toString());
    }

    /**
     * The pack embedded in the sora4j jar and used when no pack is given: the demo pack, a small
     * model of Open-Sora's architecture trained by the project on a procedural world of coloured
     * shapes moving over a plain background (prompts like {@code "a red circle moving left"}; 17
     * frames of 64x64; docs/quality.md). It is extracted once to a per-user cache directory
     * ({@code $XDG_CACHE_HOME/sora4j} or {@code ~/.cache/sora4j}, or {@code -Dsora4j.cacheDir})
     * and checked against the hashes in the jar every time; a changed file is extracted again.
     *
     * @return the embedded default pack
     */
    public static ModelPack embeddedDefault() {
        return embedded(DEFAULT_EMBEDDED);
    }

    /**
     * An embedded pack by name (see {@link #embeddedDefault()}).
     *
     * @param name the pack's folder name under {@code io/github/sora4j/packs/}
     * @return the extracted and verified pack
     * @throws ModelPackException if no such pack is embedded or the cache directory is unusable
     */
    public static ModelPack embedded(String name) {
        return EmbeddedPacks.open(name);
    }

    private static Path checkedDirectory(Path directory) {
        if (directory == null) {
            throw new ModelPackException("model pack directory is null");
        }
        if (!Files.isDirectory(directory)) {
            throw new ModelPackException("model pack directory does not exist: " + directory);
        }
        if (!Files.isRegularFile(directory.resolve("manifest.json"))) {
            throw new ModelPackException("model pack has no manifest.json: "
                    + directory.resolve("manifest.json"));
        }
        return directory.toAbsolutePath().normalize();
    }

    static PackManifest parseManifest(byte[] bytes, String where) {
        return ManifestChecks.parse(bytes, where);
    }

    private void verifyFiles() {
        int withTag = 0;
        BlockInfo untagged = null;
        for (BlockInfo b : manifest.blocks()) {
            if (verifyHashes) {
                if (inspect(b, readBlockBytes(b), false) != null) {
                    withTag++;
                } else if (untagged == null) {
                    untagged = b;
                }
            } else {
                checkSize(b.file(), b.bytes());
            }
        }
        if (withTag > 0 && untagged != null) {
            throw new ModelPackException("block " + untagged.name() + " (" + resolveName(
                    untagged.file()) + ") has no role tag, but " + withTag + " other block(s) of"
                    + " the pack have one: it was put there from another pack");
        }
        if (verifyHashes) {
            tagged = untagged == null;
        }
        for (PackFile f : manifest.files()) {
            if (verifyHashes) {
                checkHash(f.file(), f.sha256(), readFileBytes(f.file(), f.bytes()));
            } else {
                checkSize(f.file(), f.bytes());
            }
        }
        NullEmbeddingHeader.check(resolve(manifest.stdit().nullEmbedding()), manifest);
    }

    /**
     * Reads a block file once into memory and checks those bytes: size, SHA-256 (unless hashing
     * is off), the role tag and the TorchScript code. The caller loads the block from exactly
     * these bytes, so nothing can change between the check and the load.
     *
     * @param block a block of this pack's manifest
     * @return the checked bytes
     * @throws ModelPackException if the file is missing, outside the pack, changed, of another
     *     role, or uses an operator outside the allowlist
     */
    public byte[] readBlock(BlockInfo block) {
        if (block == null || !manifest.blocks().contains(block)) {
            throw new IllegalArgumentException("block " + (block == null ? null : block.name())
                    + " is not in pack "
                    + manifest.name());
        }
        byte[] data = readBlockBytes(block);
        inspect(block, data, true);
        return data;
    }

    /**
     * Reads a non-block file of the pack ({@code files} in the manifest, e.g. the null
     * embedding) once into memory and checks its size and SHA-256 (unless hashing is off).
     *
     * @param relative the path as the manifest writes it
     * @return the checked bytes
     * @throws ModelPackException if the file is not listed, missing, outside the pack or changed
     */
    public byte[] readFile(String relative) {
        PackFile f = manifest.files().stream().filter(x -> x.file().equals(relative)).findFirst()
                .orElseThrow(() -> new ModelPackException("pack " + manifest.name()
                        + " lists no file " + relative));
        byte[] data = readFileBytes(f.file(), f.bytes());
        if (verifyHashes) {
            checkHash(f.file(), f.sha256(), data);
        }
        return data;
    }

    private byte[] readBlockBytes(BlockInfo b) {
        byte[] data = readFileBytes(b.file(), b.bytes());
        if (verifyHashes) {
            checkHash(b.file(), b.sha256(), data);
        }
        return data;
    }

    private BlockArchive.Tag inspect(BlockInfo b, byte[] data, boolean loading) {
        BlockArchive.Tag tag = BlockArchive.check(b, resolveName(b.file()).toString(), data);
        if (tag == null && loading) {
            if (Boolean.TRUE.equals(tagged)) {
                throw new ModelPackException("block " + b.name() + " (" + resolveName(b.file())
                        + ") has no role tag, but the pack's other blocks have one: the file"
                        + " was replaced after the pack was opened");
            }
            if (warnedUntagged.compareAndSet(false, true)) {
                LOG.warn("the blocks of model pack {} carry no role tag (exported before sora4j"
                        + " 0.2); their roles are checked through the manifest only. Add tags"
                        + " with: python3 -m sora4j_export.trust retag {}", manifest.name(),
                        directory);
            }
        }
        return tag;
    }

    /** Bytes per read of a pack file (see {@link #readFileBytes}). */
    private static final int READ_CHUNK = 1 << 20;

    private byte[] readFileBytes(String relative, long expected) {
        Path file = PackPaths.resolveExisting(directory, relative, relative);
        if (expected > MAX_BLOCK_BYTES) {
            throw new ModelPackException("model pack file " + resolveName(relative) + " has "
                    + expected + " bytes; sora4j loads files of at most " + MAX_BLOCK_BYTES
                    + " bytes (re-export with smaller blocks)");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size != expected) {
                throw sizeMismatch(relative, size, expected);
            }
            ByteBuffer buf = ByteBuffer.allocate((int) size);
            while (buf.position() < buf.capacity()) {
                // At most READ_CHUNK bytes per read: reading into a heap buffer makes the JDK copy
                // through a temporary direct buffer of the read's size, which it then keeps cached
                // for the thread (a 772 MB block left 772 MB of native memory behind; docs/memory.md
                // section 9).
                buf.limit(Math.min(buf.capacity(), buf.position() + READ_CHUNK));
                if (ch.read(buf) < 0) {
                    throw sizeMismatch(relative, buf.position(), expected);
                }
            }
            return buf.array();
        } catch (IOException e) {
            throw new ModelPackException("cannot read model pack file " + resolveName(relative)
                    + ": " + e.getMessage(), e);
        }
    }

    private void checkSize(String relative, long expected) {
        Path file = PackPaths.resolveExisting(directory, relative, relative);
        try {
            long size = Files.size(file);
            if (size != expected) {
                throw sizeMismatch(relative, size, expected);
            }
        } catch (IOException e) {
            throw new ModelPackException("cannot read model pack file " + resolveName(relative)
                    + ": " + e.getMessage(), e);
        }
    }

    private ModelPackException sizeMismatch(String relative, long size, long expected) {
        return new ModelPackException("model pack file " + resolveName(relative) + " has " + size
                + " bytes, the manifest says " + expected + " (truncated or replaced)");
    }

    private void checkHash(String relative, String expected, byte[] data) {
        String actual = sha256(data);
        if (!actual.equals(expected)) {
            throw new ModelPackException("sha256 mismatch for " + resolveName(relative)
                    + ": expected " + expected + ", found " + actual);
        }
    }

    private Path resolveName(String relative) {
        return directory.resolve(relative);
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
     * Whether this pack checks SHA-256 values (at open and on every {@link #readBlock}).
     *
     * @return false only when opened with {@link PackTrust#withoutHashes()}
     */
    public boolean verifiesHashes() {
        return verifyHashes;
    }

    /**
     * Resolves an existing file of the pack, following symbolic links, and checks that it lies
     * inside the pack directory.
     *
     * @param relative a relative path from the manifest
     * @return its real path
     * @throws ModelPackException if the path is absolute, contains {@code ..}, is missing or
     *     resolves outside the pack
     */
    public Path resolve(String relative) {
        return PackPaths.resolveExisting(directory, relative, relative);
    }

    @Override
    public String toString() {
        return "ModelPack[" + manifest.name() + " at " + directory + "]";
    }

    static byte[] readAll(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ModelPackException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    static byte[] resource(String name) {
        try (InputStream in = ModelPack.class.getResourceAsStream(name)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            throw new ModelPackException("cannot read " + name + " from the sora4j jar", e);
        }
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every JVM", e);
        }
    }
}
