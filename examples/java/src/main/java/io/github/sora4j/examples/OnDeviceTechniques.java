package io.github.sora4j.examples;

import io.github.sora4j.GenerationReport;
import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.ProgressListener;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.device.DeviceProfile;
import io.github.sora4j.device.DeviceProfiles;
import io.github.sora4j.device.MemoryPlan;
import io.github.sora4j.load.BlockLoaders;
import io.github.sora4j.load.LoaderSettings;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.schedule.StepSchedulers;
import java.nio.file.Path;

/**
 * Turns on On-device Sora's techniques: LPL (fewer model calls), TDTM (cheaper early steps) and
 * CI-DL (blocks streamed within a memory budget), first through a device profile, then one by
 * one, and prints what each run did.
 *
 * <pre>
 * mvn -q test-compile exec:java -Dexec.mainClass=io.github.sora4j.examples.OnDeviceTechniques
 * </pre>
 *
 * <p>See docs/examples/on-device-techniques.md and docs/techniques.md.
 */
public final class OnDeviceTechniques {
    private OnDeviceTechniques() {}

    /**
     * Runs the example on the built-in demo pack.
     *
     * @param args an optional pack directory
     */
    public static void main(String[] args) {
        ModelPack pack = args.length > 0 ? ModelPack.open(Path.of(args[0]))
                : ModelPack.embeddedDefault();
        GenerationRequest request = GenerationRequest.builder("a red circle moving left")
                .steps(30).build(); // the pack's frames and size
        // 1. Before loading anything: will it fit on the phone?
        System.out.println(MemoryPlan.of(pack.manifest(), DeviceProfiles.PHONE_ARM64_8GB,
                request));
        GenerationResult profiled = withProfile(pack, request, DeviceProfiles.PHONE_ARM64_8GB);
        System.out.println("phone profile: " + describe(profiled.report()));
        GenerationResult custom = oneByOne(pack, request, MemoryBudget.ofBytes(64_000_000L));
        System.out.println("one by one:    " + describe(custom.report()));
    }

    /**
     * Generates with a device profile: its budget and loader, LPL and TDTM defaults.
     *
     * @param pack the model pack
     * @param request what to generate
     * @param profile e.g. {@link DeviceProfiles#PHONE_ARM64_8GB}
     * @return the result
     */
    public static GenerationResult withProfile(ModelPack pack, GenerationRequest request,
            DeviceProfile profile) {
        try (VideoPipeline pipeline = VideoPipeline.builder().pack(pack)
                .deviceProfile(profile)
                .build()) {
            return pipeline.generate(request, ProgressListener.NONE);
        }
    }

    /**
     * Generates with each technique chosen explicitly.
     *
     * @param pack the model pack
     * @param request what to generate
     * @param budget memory for weights and activations
     * @return the result
     */
    public static GenerationResult oneByOne(ModelPack pack, GenerationRequest request,
            MemoryBudget budget) {
        LoaderSettings settings = LoaderSettings.of(budget);
        try (VideoPipeline pipeline = VideoPipeline.builder().pack(pack)
                .scheduler(StepSchedulers.lplFixed(15))       // LPL: leap at step 16 of 30
                .tokenMerger(TokenMergers.tdtm(15))           // TDTM: merge frame pairs, 15 steps
                .blockLoader(p -> BlockLoaders.concurrentDynamic(p, settings))   // CI-DL
                .build()) {
            return pipeline.generate(request, ProgressListener.NONE);
        }
    }

    /**
     * One line about a run.
     *
     * @param r the report
     * @return e.g. {@code 16 of 30 model calls (leap at 16), 15 merged, 4.9 MB peak weights}
     */
    public static String describe(GenerationReport r) {
        return r.modelCalls() + " of " + r.plannedSteps() + " model calls"
                + (r.leapStep() >= 0 ? " (leap at step " + (r.leapStep() + 1) + ")" : "")
                + ", " + r.mergedSteps() + " steps merged, "
                + MemoryBudget.format(r.peakLoadedBytes()) + " peak weights, "
                + String.format(java.util.Locale.ROOT, "%.2f s", r.totalNanos() / 1e9);
    }
}
