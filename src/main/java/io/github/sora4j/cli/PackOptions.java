package io.github.sora4j.cli;

import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.PackManifest;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --pack DIR} and {@code --no-verify}, shared by the commands that run or plan a pack. */
final class PackOptions {
    @Option(names = "--pack", paramLabel = "DIR", description = "Model pack directory (default: "
            + "the built-in demo pack, a tiny model with random weights whose videos are noise).")
    Path directory;

    @Option(names = "--no-verify", description = "Skip the SHA-256 check of the pack's files "
            + "(sizes are still checked): saves a minute on a 25 GB pack.")
    boolean noVerify;

    /** Whether no pack was given, so the built-in demo pack is used. */
    boolean isDemo() {
        return directory == null;
    }

    /** Opens the pack, verified unless {@code --no-verify}. */
    ModelPack open() {
        return isDemo() ? ModelPack.embeddedDefault() : ModelPack.open(directory, !noVerify);
    }

    /** The pack's manifest alone: no file is checked. */
    PackManifest manifest() {
        return isDemo() ? ModelPack.embeddedDefault().manifest()
                : ModelPack.readManifest(directory);
    }
}
