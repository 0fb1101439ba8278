package io.github.sora4j.cli;

import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.ModelPackException;
import io.github.sora4j.pack.PackManifest;
import io.github.sora4j.pack.PackTrust;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * {@code --pack PACK}, shared by the commands that run or plan a pack: a pack directory or the
 * name of a pack built into the jar ({@value ModelPack#DEFAULT_EMBEDDED}, {@code tiny-random}).
 */
final class PackOptions {
    /** The packs built into the jar, by name; a directory of the same name wins. */
    static final List<String> BUILT_IN = List.of(ModelPack.DEFAULT_EMBEDDED, "tiny-random");

    /** Where a user learns how packs are made. */
    static final String PACK_DOCS = "docs/model-pack.md (exporting the Open-Sora v1.2 weights: "
            + "https://github.com/sora4j/sora4j/blob/main/docs/model-pack.md"
            + "#exporting-the-real-open-sora-v12-weights)";

    @Option(names = "--pack", paramLabel = "PACK", description = "Model pack: a directory, or a "
            + "built-in pack's name: demo (the default: a small model trained on coloured shapes "
            + "moving over a plain background, prompts like 'a red circle moving left') or "
            + "tiny-random (random weights, for tests).")
    String pack;

    @Option(names = "--trusted-key", paramLabel = "PEM", description = "Require --pack to be "
            + "signed (manifest.json.sig) by this Ed25519 public key (repeatable; "
            + "docs/model-pack.md, Threat model).")
    List<Path> trustedKeys = new ArrayList<>();

    /** Whether the pack is the built-in demo pack (given by name or by default). */
    boolean isDemo() {
        return pack == null || isBuiltIn(pack) && pack.equals(ModelPack.DEFAULT_EMBEDDED);
    }

    /** Opens the pack; sizes are always checked, SHA-256 if {@code verify}, the signature if keys are given. */
    ModelPack open(boolean verify) {
        String p = pack == null ? ModelPack.DEFAULT_EMBEDDED : pack;
        if (isBuiltIn(p)) {
            if (!trustedKeys.isEmpty()) {
                throw new IllegalArgumentException("--trusted-key needs --pack DIR (the built-in"
                        + " packs are trusted through the jar)");
            }
            return ModelPack.embedded(p);
        }
        if (trustedKeys.isEmpty()) {
            return open(pack, verify);
        }
        if (!verify) {
            throw new IllegalArgumentException("--trusted-key needs the SHA-256 checks (the"
                    + " signature covers the files through their hashes): drop --no-verify");
        }
        PublicKey[] keys = trustedKeys.stream().map(PackTrust::readPublicKey)
                .toArray(PublicKey[]::new);
        return ModelPack.open(directory(p), PackTrust.signedBy(keys));
    }

    /** The pack's manifest alone (no other file is checked), signature-checked with --trusted-key. */
    PackManifest manifest() {
        String p = pack == null ? ModelPack.DEFAULT_EMBEDDED : pack;
        if (isBuiltIn(p)) {
            if (!trustedKeys.isEmpty()) {
                throw new IllegalArgumentException("--trusted-key needs --pack DIR (the built-in"
                        + " packs are trusted through the jar)");
            }
            return ModelPack.embedded(p).manifest();
        }
        if (trustedKeys.isEmpty()) {
            return ModelPack.readManifest(directory(p));
        }
        return ModelPack.readManifest(directory(p), PackTrust.signedBy(trustedKeys.stream()
                .map(PackTrust::readPublicKey).toArray(PublicKey[]::new)));
    }

    /**
     * Opens a pack by directory or built-in name.
     *
     * @param pack a directory, a built-in pack's name, or null for the demo pack
     * @param verify whether to check SHA-256 too
     * @return the pack
     */
    static ModelPack open(String pack, boolean verify) {
        String p = pack == null ? ModelPack.DEFAULT_EMBEDDED : pack;
        return isBuiltIn(p) ? ModelPack.embedded(p) : ModelPack.open(directory(p), verify);
    }

    /**
     * Whether {@code pack} names a built-in pack: one of {@link #BUILT_IN} with no directory of
     * that name in the working directory.
     *
     * @param pack the argument
     * @return whether it is a built-in pack's name
     */
    static boolean isBuiltIn(String pack) {
        return BUILT_IN.contains(pack) && !Files.isDirectory(Path.of(pack));
    }

    /**
     * The directory of a pack given by path, checked to exist and hold a manifest.
     *
     * @param pack the argument
     * @return the directory
     * @throws ModelPackException naming the argument, the built-in packs and where packs come from
     */
    static Path directory(String pack) {
        Path dir;
        try {
            dir = Path.of(pack);
        } catch (InvalidPathException e) {
            throw new ModelPackException("'" + pack + "' is not a valid pack directory name ("
                    + e.getReason() + ")");
        }
        if (!Files.isDirectory(dir)) {
            throw new ModelPackException("model pack directory does not exist: " + pack
                    + ". Built-in packs: " + String.join(", ", BUILT_IN) + ". A pack of the real"
                    + " weights is made with the exporter: see " + PACK_DOCS);
        }
        if (!Files.isRegularFile(dir.resolve("manifest.json"))) {
            throw new ModelPackException("not a model pack (no manifest.json): " + pack
                    + ". See " + PACK_DOCS);
        }
        return dir;
    }
}
