package io.github.sora4j.cli;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.device.DeviceProfile;
import io.github.sora4j.device.Feasibility;
import io.github.sora4j.device.MemoryPlan;
import io.github.sora4j.device.ProcessMemory;
import io.github.sora4j.pack.PackManifest;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code sora4j plan}: the memory plan of a generation, from the manifest alone. */
@Command(name = "plan", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Print the memory plan of a generation without loading anything: per "
            + "block set, which blocks stay resident, the peaks of loaded weights and of "
            + "activations, and whether it fits the budget; then whether it fits this process "
            + "(array sizes, heap, physical memory) and the estimated work.",
            "Reads only the pack's manifest.json (see docs/memory.md for the model).",
            "Exits with 3 when the plan does not fit the budget or this process."})
final class PlanCommand implements Callable<Integer> {
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Mixin
    private PackOptions pack;

    @Mixin
    private SizeOptions sizes;

    @Mixin
    private MemoryOptions memory;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PackManifest manifest = pack.manifest();
        Choices.Size size = sizes.size(manifest);
        int multiple = manifest.vae().spatialCompression();
        if (size.width() % multiple != 0 || size.height() % multiple != 0) {
            throw new IllegalArgumentException("width and height must be multiples of " + multiple
                    + " for this model but were " + size);
        }
        GenerationRequest request = GenerationRequest.builder("memory plan")
                .frames(sizes.frames(manifest)).size(size.width(), size.height()).build();
        DeviceProfile profile = memory.effectiveProfile();
        MemoryPlan plan = profile != null ? MemoryPlan.of(manifest, profile, request)
                : MemoryPlan.of(manifest, memory.budget(), memory.kind(), request);
        out.print(plan);
        // The check every generation runs first: array sizes, this JVM's heap, physical memory.
        out.println();
        Feasibility feasibility = Feasibility.of(manifest, null, request.frames(),
                request.height(), request.width(), manifest.sampling().steps(),
                manifest.text().modelMaxLength(), ProcessMemory.ofProcess());
        out.print(feasibility);
        if (!memory.chosen()) {
            out.println();
            out.println("No budget given: add --profile NAME or --budget SIZE (and --loader "
                    + "ci-dl) to plan for a device.");
        }
        out.flush();
        return plan.fits() && feasibility.fits() ? Sora4jCli.EXIT_OK : Sora4jCli.EXIT_DOES_NOT_FIT;
    }
}
