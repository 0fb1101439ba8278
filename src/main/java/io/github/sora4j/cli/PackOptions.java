package io.github.sora4j.cli;

import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.PackManifest;
import io.github.sora4j.pack.PackTrust;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** {@code --pack DIR}, shared by the commands that run or plan a pack. */
final class PackOptions {
    @Option(names = "--pack", paramLabel = "DIR", description = "Model pack directory (default: "
            + "the built-in demo pack, a small model trained on coloured shapes moving over a plain "
            + "background: prompts like 'a red circle moving left').")
    Path directory;

    @Option(names = "--trusted-key", paramLabel = "PEM", description = "Require --pack to be "
            + "signed (manifest.json.sig) by this Ed25519 public key (repeatable; "
            + "docs/model-pack.md, Threat model).")
    List<Path> trustedKeys = new ArrayList<>();

    /** Whether no pack was given, so the built-in demo pack is used. */
    boolean isDemo() {
        return directory == null;
    }

    /** Opens the pack; sizes are always checked, SHA-256 if {@code verify}, the signature if keys are given. */
    ModelPack open(boolean verify) {
        if (isDemo()) {
            if (!trustedKeys.isEmpty()) {
                throw new IllegalArgumentException("--trusted-key needs --pack DIR (the built-in"
                        + " demo pack is trusted through the jar)");
            }
            return ModelPack.embeddedDefault();
        }
        if (trustedKeys.isEmpty()) {
            return ModelPack.open(directory, verify);
        }
        if (!verify) {
            throw new IllegalArgumentException("--trusted-key needs the SHA-256 checks (the"
                    + " signature covers the files through their hashes): drop --no-verify");
        }
        PublicKey[] keys = trustedKeys.stream().map(PackTrust::readPublicKey)
                .toArray(PublicKey[]::new);
        return ModelPack.open(directory, PackTrust.signedBy(keys));
    }

    /** The pack's manifest alone: no file is checked. */
    PackManifest manifest() {
        return isDemo() ? ModelPack.embeddedDefault().manifest()
                : ModelPack.readManifest(directory);
    }
}
