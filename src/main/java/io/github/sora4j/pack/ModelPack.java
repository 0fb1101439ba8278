package io.github.sora4j.pack;

import io.github.sora4j.InvalidConfigurationException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
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
 * checked again in the same pass ({@link #readBlock}, {@link BlockLoadCheck}), so a file replaced
 * after opening is refused (the role tags: {@code RoleTags}). A pack is immutable and holds no
 * native resources. docs/model-pack.md, "Threat model", says what a pack can and cannot do.
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

    /** Name of the pack {@link #embeddedDefault()} returns. */
    public static final String DEFAULT_EMBEDDED = "demo";

    private static final Logger LOG = LoggerFactory.getLogger(ModelPack.class);

    private final Path directory;
    private final PackManifest manifest;
    private final boolean verifyHashes;
    private final PackFiles files;
    private final RoleTags roleTags;

    private ModelPack(Path directory, PackManifest manifest, boolean verifyHashes,
            boolean hashEveryLoad) {
        this.directory = directory;
        this.manifest = manifest;
        this.verifyHashes = verifyHashes;
        this.files = new PackFiles(directory, manifest.name(), verifyHashes, hashEveryLoad);
        this.roleTags = new RoleTags(directory, manifest);
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
            throw new InvalidConfigurationException("trust is null (use PackTrust.defaults())");
        }
        Path dir = checkedDirectory(directory);
        Path manifestFile = PackPaths.resolveExisting(dir, "manifest.json", "manifest.json");
        byte[] bytes = readAll(manifestFile);
        if (!trust.trustedKeys().isEmpty()) {
            PackSignature.verify(dir, bytes, trust.trustedKeys());
        }
        PackManifest manifest = parseManifest(bytes, manifestFile.toString());
        ModelPack pack = new ModelPack(dir, manifest, trust.verifyHashes(), trust.hashEveryLoad());
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
        ModelPack pack = new ModelPack(dir, manifest, true, false);
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
        return readManifest(directory, PackTrust.withoutHashes());
    }

    /**
     * Reads and validates a pack's {@code manifest.json} without checking its files, after
     * checking its publisher signature if {@code trust} requires one: what {@code sora4j plan
     * --trusted-key} reads.
     *
     * @param directory the pack directory holding {@code manifest.json}
     * @param trust the keys one of which must have signed the manifest (hash settings are
     *     ignored: no file but the manifest is read)
     * @return the parsed manifest
     * @throws ModelPackException as {@link #readManifest(Path)}, or if a required signature is
     *     missing or made by another key
     */
    public static PackManifest readManifest(Path directory, PackTrust trust) {
        if (trust == null) {
            throw new InvalidConfigurationException("trust is null (use PackTrust.defaults())");
        }
        Path dir = checkedDirectory(directory);
        Path file = PackPaths.resolveExisting(dir, "manifest.json", "manifest.json");
        byte[] bytes = readAll(file);
        if (!trust.trustedKeys().isEmpty()) {
            PackSignature.verify(dir, bytes, trust.trustedKeys());
        }
        return parseManifest(bytes, file.toString());
    }

    /**
     * Checks the code of one block file of a pack directory as a load does, reading only its
     * zip directory, TorchScript source and role tag (not its weights, not its hash): the path
     * stays inside the pack, every operator is on the allowlist, the tag names this block. For
     * tools that report on a pack ({@code sora4j inspect}).
     *
     * @param directory the pack directory
     * @param block a block of the pack's manifest
     * @return whether the block carries a role tag (false: exported before tags)
     * @throws ModelPackException naming the block and the refused operator, the wrong role, or
     *     why the file cannot be read
     */
    public static boolean checkBlockCode(Path directory, BlockInfo block) {
        Path dir = checkedDirectory(directory);
        if (block == null) {
            throw new InvalidConfigurationException("block is null");
        }
        return BlockArchive.check(block, PackPaths.resolveExisting(dir, block.file(),
                block.file())) != null;
    }

    /**
     * Why users other than this one and root could change a file of a pack directory (its owner,
     * or a mode that lets its group or others write it or a directory above it), or empty if
     * only this user and root can: what decides a load's {@link BlockLoadCheck}.
     *
     * @param directory the pack directory
     * @param relative a path of the manifest
     * @return the reason, or empty
     * @throws ModelPackException if the file is missing or outside the pack
     */
    public static java.util.Optional<String> othersCanWrite(Path directory, String relative) {
        Path dir = checkedDirectory(directory);
        return java.util.Optional.ofNullable(WriteProtection.othersCanWrite(
                PackPaths.resolveExisting(dir, relative, relative)));
    }

    /**
     * The pack embedded in the sora4j jar and used when no pack is given: the demo pack, a small
     * model of Open-Sora's architecture trained by the project on a procedural world of coloured
     * shapes moving over a plain background (prompts like {@code "a red circle moving left"}; 51
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
        roleTags.checkAtOpen(files::readAtOpen, verifyHashes);
        for (PackFile f : manifest.files()) {
            files.checkAtOpen(f);
        }
        NullEmbeddingHeader.check(resolve(manifest.stdit().nullEmbedding()), manifest);
    }

    /**
     * Reads a block file once into memory and checks those bytes: size, content ({@link
     * #loadCheck}: SHA-256, or CRC32C against the bytes verified at open, computed in the same
     * pass as the read; unless hashing is off), the role tag and the TorchScript code. The caller
     * loads the block from exactly these bytes, so nothing can change between the check and the
     * load.
     *
     * @param block a block of this pack's manifest
     * @return the checked bytes
     * @throws ModelPackException if the file is missing, outside the pack, changed, of another
     *     role, or uses an operator outside the allowlist
     */
    public byte[] readBlock(BlockInfo block) {
        requireBlock(block);
        byte[] data = files.readForLoad(block);
        roleTags.check(block, data, true);
        return data;
    }

    /**
     * How the next load of a block will check its bytes: {@link BlockLoadCheck#SIZE} with hashes
     * off; {@link BlockLoadCheck#CRC32C} when only this user and root can change the file and
     * its directories (owners and modes are read now) and hashing on every load was not asked
     * for; {@link BlockLoadCheck#SHA256} otherwise.
     *
     * @param block a block of this pack's manifest
     * @return the check
     * @throws ModelPackException if the block's file is missing or outside the pack
     */
    public BlockLoadCheck loadCheck(BlockInfo block) {
        requireBlock(block);
        return files.loadCheck(block, files.resolve(block.file()));
    }

    private void requireBlock(BlockInfo block) {
        if (block == null || !manifest.blocks().contains(block)) {
            throw new InvalidConfigurationException("block " + (block == null ? null : block.name())
                    + " is not in pack " + manifest.name());
        }
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
        return files.readFile(f);
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
        return HexFormat.of().formatHex(PackFiles.sha256Digest().digest(bytes));
    }
}
