package io.github.sora4j.cli;

import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.PackManifest;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --pack DIR}, shared by the commands that run or plan a pack. */
final class PackOptions {
    @Option(names = "--pack", paramLabel = "DIR", description = "Model pack directory (default: "
            + "the built-in demo pack, a small model trained on coloured shapes moving over a plain "
            + "background: prompts like 'a red circle moving left').")
    Path directory;

    /** Whether no pack was given, so the built-in demo pack is used. */
    boolean isDemo() {
        return directory == null;
    }

    /** Opens the pack; sizes are always checked, SHA-256 if {@code verify}. */
    ModelPack open(boolean verify) {
        return isDemo() ? ModelPack.embeddedDefault() : ModelPack.open(directory, verify);
    }

    /** The pack's manifest alone: no file is checked. */
    PackManifest manifest() {
        return isDemo() ? ModelPack.embeddedDefault().manifest()
                : ModelPack.readManifest(directory);
    }
}
