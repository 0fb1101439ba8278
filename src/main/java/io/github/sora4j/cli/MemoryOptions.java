package io.github.sora4j.cli;

import io.github.sora4j.device.DeviceProfile;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.LoaderKind;
import io.github.sora4j.load.LoaderSettings;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.pack.ModelPack;
import java.util.function.Function;
import picocli.CommandLine.Option;

/** {@code --profile}, {@code --loader} and {@code --budget}: how blocks are loaded, in what memory. */
final class MemoryOptions {
    @Option(names = "--profile", paramLabel = "NAME", converter = Choices.ProfileConverter.class,
            completionCandidates = Choices.ProfileNames.class,
            description = "Device profile (${COMPLETION-CANDIDATES}): its memory budget and block "
                    + "loader, and for generate its LPL and TDTM defaults and thread counts.")
    DeviceProfile profile;

    @Option(names = "--loader", paramLabel = "KIND", converter = Choices.LoaderConverter.class,
            completionCandidates = Choices.LoaderNames.class,
            description = "Block loader: resident (everything loaded once), sequential (one block "
                    + "at a time), ci-dl (resident as the budget allows, the rest streamed with "
                    + "prefetch); ci and dl are its halves. Default: the profile's, else resident.")
    LoaderKind loader;

    @Option(names = "--budget", paramLabel = "SIZE", converter = Choices.BytesConverter.class,
            description = "Memory for weights and activations, e.g. 3GB, 800MB, 2GiB (default: "
                    + "the profile's, else unlimited).")
    Long budgetBytes;

    /** Whether anything was chosen (else the pipeline keeps its defaults). */
    boolean chosen() {
        return profile != null || loader != null || budgetBytes != null;
    }

    LoaderKind kind() {
        return loader != null ? loader
                : profile != null ? profile.techniques().loader() : LoaderKind.RESIDENT;
    }

    MemoryBudget budget() {
        return budgetBytes != null ? MemoryBudget.ofBytes(budgetBytes)
                : profile != null ? profile.budget() : MemoryBudget.unlimited();
    }

    /** The profile with the loader and budget overrides applied, or null if none was given. */
    DeviceProfile effectiveProfile() {
        return profile == null ? null : profile.withBudget(budget())
                .withTechniques(profile.techniques().withLoader(kind()));
    }

    Function<ModelPack, BlockLoader> loaderFactory() {
        LoaderKind kind = kind();
        LoaderSettings settings = LoaderSettings.of(budget());
        return pack -> kind.newLoader(pack, settings);
    }

    String describe() {
        MemoryBudget b = budget();
        return "loader " + kind().label().toLowerCase(java.util.Locale.ROOT) + ", budget "
                + (b.isUnlimited() ? "unlimited" : MemoryBudget.format(b.availableBytes()))
                + (profile == null ? "" : " (profile " + profile.name() + ")");
    }
}
