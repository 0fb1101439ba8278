package io.github.sora4j.cli;

import io.github.sora4j.GenerationReport;
import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.Preset;
import io.github.sora4j.ProgressListener;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.device.DeviceProfile;
import io.github.sora4j.device.Techniques;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.PackManifest;
import io.github.sora4j.video.VideoFormat;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code sora4j generate}: one video from a prompt, with a progress bar and a summary. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generate a video from a prompt and write it as .mp4, .gif or a folder of "
            + "PNG frames.",
            "Shows a progress bar (stage, step, block, ETA) on a terminal, plain lines otherwise, "
                + "and a summary: time per stage, steps run, peak memory. Ctrl-C cancels at the "
                + "next block and writes nothing."})
final class GenerateCommand implements Callable<Integer> {

    /** How to show progress. */
    enum Progress {
        /** A bar on a terminal, plain lines otherwise. */
        auto,
        /** The bar, redrawn with carriage returns. */
        bar,
        /** A line per stage and per step. */
        plain,
        /** Nothing but the summary. */
        none
    }

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @CommandLine.ParentCommand
    private Sora4jCli parent;

    @Option(names = {"-p", "--prompt"}, required = true, paramLabel = "TEXT",
            description = "The text prompt.")
    private String prompt;

    @Option(names = {"-o", "--output"}, defaultValue = "sora4j.mp4", paramLabel = "PATH",
            description = "Output: FILE.mp4, FILE.gif, or a folder (a name without extension) "
                    + "for PNG frames (default: ${DEFAULT-VALUE}).")
    private Path output;

    @Mixin
    private PackOptions pack;

    @Option(names = "--no-verify", description = "Skip the SHA-256 check of the pack's files "
            + "(sizes are still checked): saves a minute on a 25 GB pack.")
    private boolean noVerify;

    @Mixin
    private SizeOptions sizes;

    @Option(names = "--steps", paramLabel = "K", description = "Sampling steps (default: the "
            + "pack's, 30).")
    private Integer steps;

    @Option(names = "--guidance", paramLabel = "S", description = "Classifier-free guidance "
            + "scale (default: the pack's, 7.0).")
    private Double guidance;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "N",
            description = "Noise seed (default: ${DEFAULT-VALUE}).")
    private long seed;

    @Option(names = "--fps", paramLabel = "N", description = "Frame rate (default: the pack's, "
            + "24).")
    private Integer fps;

    @Option(names = "--preset", paramLabel = "NAME", converter = Choices.PresetConverter.class,
            description = "A named combination of LPL, TDTM and step caching (docs/benchmarks.md):"
                    + " full, lpl, tdtm, paper (LPL + TDTM 15/30), cache (calibrated step mask),"
                    + " cache-adaptive, lpl-cache (LPL + mask: meets the speed/quality bar"
                    + " without TDTM's flicker), lpl-cache-adaptive, all (LPL + TDTM +"
                    + " mask). --lpl and --tdtm-steps override its parts.")
    private Preset preset;

    @Option(names = "--lpl", paramLabel = "MODE", converter = Choices.LplConverter.class,
            description = "Linear Proportional Leap: off, fixed (leap at step 16 of 30), fixed:N "
                    + "(0-based leap step N: N+1 model calls), dynamic (leap once velocities "
                    + "stop changing; sora4j's rule: tolerance 1e-4, whole-velocity cosine, from "
                    + "step K/2), dynamic-upstream (the paper's code's rule: tolerance 1e-3, "
                    + "cosine of v[0,0,0], from step 15). Default: the profile's, else off.")
    private Choices.Lpl lpl;

    @Option(names = "--tdtm-steps", paramLabel = "N", converter = Choices.TdtmConverter.class,
            description = "Temporal token merging in the first N steps: a number, all, or off "
                    + "(= 0). Default: the profile's, else off.")
    private Choices.Tdtm tdtm;

    @Option(names = "--tdtm-rule", paramLabel = "RULE", converter = Choices.TdtmRuleConverter.class,
            description = "TDTM at an odd latent frame count: sora4j (the last frame is a group "
                    + "of its own; default) or upstream (the paper's code: it is dropped when "
                    + "merging and gets the last pair's output).")
    private String tdtmRule;

    @Mixin
    private MemoryOptions memory;

    @Option(names = "--progress", defaultValue = "auto", paramLabel = "HOW",
            description = "Progress display: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}:"
                    + " a bar on a terminal, plain lines otherwise).")
    private Progress progress;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (CtrlC ctrlC = CtrlC.install(err)) {
            ModelPack modelPack = pack.open(!noVerify);
            PackManifest.Sampling sampling = modelPack.manifest().sampling();
            Choices.Size size = sizes.size(modelPack.manifest());
            if (fps != null && fps < 1) {
                // 0 would mean "the pack's" to the API: on the command line it is a mistake.
                throw new IllegalArgumentException("--fps must be >= 1 but was " + fps);
            }
            GenerationRequest request = GenerationRequest.builder(prompt)
                    .frames(sizes.frames(modelPack.manifest())).size(size.width(), size.height())
                    .steps(steps != null ? steps : sampling.steps())
                    .guidanceScale(guidance != null ? guidance : sampling.guidanceScale())
                    .fps(fps != null ? fps : sampling.fps()).seed(seed)
                    .aestheticScore(sampling.aestheticScore()).build();
            if (request.steps() > sampling.numTimesteps()) {
                throw new IllegalArgumentException("--steps must be at most "
                        + sampling.numTimesteps() + " (the model's training timesteps) but was "
                        + request.steps());
            }
            DeviceProfile profile = memory.effectiveProfile();
            Techniques defaults = preset != null ? new Techniques(preset.lplLeapStep(),
                    preset.tdtmMergeSteps(), io.github.sora4j.load.LoaderKind.RESIDENT)
                    : profile != null ? profile.techniques() : null;
            Choices.Lpl lplChoice = lpl != null ? lpl
                    : defaults == null || defaults.lplLeapStep() < 0 ? Choices.Lpl.OFF
                    : new Choices.Lpl("fixed", defaults.lplLeapStep());
            Choices.Tdtm tdtmChoice = tdtm != null ? tdtm
                    : defaults == null ? Choices.Tdtm.OFF : new Choices.Tdtm(
                            defaults.tdtmMergeSteps());
            if (tdtmRule != null) {
                tdtmChoice = tdtmChoice.withUpstreamRule(tdtmRule.equals("upstream"));
            }

            VideoPipeline.Builder builder = VideoPipeline.builder().pack(modelPack);
            if (profile != null) {
                builder.deviceProfile(profile);
            }
            if (memory.chosen()) {
                builder.blockLoader(memory.loaderFactory());
            }
            builder.scheduler(lplChoice.scheduler()).tokenMerger(tdtmChoice.merger());
            if (preset != null) {
                builder.stepCache(preset.stepCache());
            }

            out.printf(Locale.ROOT, "pack       %s%s%n", modelPack.manifest().name(),
                    pack.isDemo() ? String.format(Locale.ROOT,
                            " (built-in demo pack: coloured shapes, %d frames %dx%d)",
                            modelPack.manifest().nativeRequest().frames(),
                            modelPack.manifest().nativeRequest().width(),
                            modelPack.manifest().nativeRequest().height())
                            : " (" + modelPack.directory() + ")");
            out.printf(Locale.ROOT, "request    %d frames %dx%d at %d fps, %d steps, CFG %s, "
                            + "seed %d%n", request.frames(), request.width(), request.height(),
                    request.fps(), request.steps(), trim(request.guidanceScale()),
                    request.seed());
            out.printf(Locale.ROOT, "techniques %s%s, %s%s; %s%n",
                    preset != null ? "preset " + preset.id() + ": " : "", lplChoice.describe(),
                    tdtmChoice.describe(), preset != null && preset.caches()
                            ? ", step cache " + (preset.needsCalibration() ? "calibrated mask"
                                    : "adaptive") : "", memory.describe());
            out.flush();

            ProgressDisplay display = new ProgressDisplay(out, mode(), columns(),
                    System::nanoTime, lplChoice.maxCalls(request.steps()),
                    lplChoice.mayEndEarly());
            ProgressListener listener = event -> {
                display.accept(event);
                return !ctrlC.requested();
            };
            GenerationResult result;
            try (VideoPipeline pipeline = builder.build()) {
                // From here on Ctrl-C waits for this command to finish (closing ctrlC).
                ctrlC.generating(true);
                result = pipeline.generate(request, listener, output);
            }
            if (result.cancelled()) {
                display.abandon();
                out.println("cancelled; nothing written");
                out.flush();
                return Sora4jCli.EXIT_CANCELLED;
            }
            display.finish(result.report().decodeNanos()); // the VAE's time, as the summary
            if (!result.report().unknownWords().isEmpty()) {
                out.printf(Locale.ROOT, "unknown    the pack's model was not trained on %s: "
                        + "they are read as unknown (see the pack's vocabulary)%n",
                        String.join(", ", result.report().unknownWords()));
            }
            summary(out, request, result, memory.describe());
            return Sora4jCli.EXIT_OK;
        }
    }

    private ProgressDisplay.Mode mode() {
        return switch (progress) {
            case bar -> ProgressDisplay.Mode.BAR;
            case plain -> ProgressDisplay.Mode.PLAIN;
            case none -> ProgressDisplay.Mode.NONE;
            case auto -> parent.terminal() ? ProgressDisplay.Mode.BAR
                    : ProgressDisplay.Mode.PLAIN;
        };
    }

    private static int columns() {
        try {
            String c = System.getenv("COLUMNS");
            return c == null ? 80 : Integer.parseInt(c.trim());
        } catch (NumberFormatException e) {
            return 80;
        }
    }

    private void summary(PrintWriter out, GenerationRequest request, GenerationResult result,
            String loader) {
        GenerationReport r = result.report();
        VideoFormat format = VideoFormat.fromPath(output);
        out.printf(Locale.ROOT, "wrote %s (%s, %d frames %dx%d at %d fps, %s)%n", output,
                format == VideoFormat.PNG_FRAMES ? "PNG frames" : format.name(),
                result.frames().frameCount(), result.frames().width(), result.frames().height(),
                request.fps(), MemoryBudget.format(outputBytes(output)));
        out.printf(Locale.ROOT, "  encode text  %s%n", ProgressDisplay.seconds(r.textEncodeNanos()));
        out.printf(Locale.ROOT, "  denoise      %s  %s%n", ProgressDisplay.seconds(r.denoiseNanos()),
                steps(r));
        out.printf(Locale.ROOT, "  decode       %s%n", ProgressDisplay.seconds(r.decodeNanos()));
        out.printf(Locale.ROOT, "  total        %s%n", ProgressDisplay.seconds(r.totalNanos()));
        out.printf(Locale.ROOT, "  memory       peak loaded weights %s (%d blocks loaded; %s)%n",
                MemoryBudget.format(r.peakLoadedBytes()), r.blocksLoaded(), loader);
        long heap = MemoryProbe.heapPeakBytes();
        long rss = MemoryProbe.peakRssBytes();
        out.printf(Locale.ROOT, "               JVM heap peak %s%s%n", MemoryBudget.format(heap),
                rss > 0 ? ", process peak RSS " + MemoryBudget.format(rss) : "");
        out.flush();
    }

    /** E.g. {@code 16 of 30 steps (LPL leapt at step 16, 14 model calls saved), 15 merged}. */
    static String steps(GenerationReport r) {
        StringBuilder s = new StringBuilder();
        s.append(r.modelCalls()).append(" of ").append(r.plannedSteps()).append(" steps");
        if (r.leapStep() >= 0) {
            s.append(" (LPL leapt at step ").append(r.leapStep() + 1).append(", ")
                    .append(r.modelCallsSaved()).append(" model calls saved)");
        }
        if (r.mergedSteps() > 0) {
            s.append(", ").append(r.mergedSteps()).append(" with TDTM merging");
        }
        if (r.computedSteps() < r.modelCalls()) {
            s.append(", ").append(r.modelCalls() - r.computedSteps())
                    .append(" reused from the step cache");
        }
        if (r.modelCalls() > 0) {
            s.append(", ").append(ProgressDisplay.seconds(r.denoiseNanos() / (double) r.modelCalls()))
                    .append(" per step");
        }
        return s.toString();
    }

    private static long outputBytes(Path output) {
        try {
            if (Files.isDirectory(output)) {
                try (Stream<Path> files = Files.list(output)) {
                    return files.filter(Files::isRegularFile).mapToLong(f -> {
                        try {
                            return Files.size(f);
                        } catch (IOException e) {
                            return 0;
                        }
                    }).sum();
                }
            }
            return Files.size(output);
        } catch (IOException e) {
            return 0;
        }
    }

    private static String trim(double v) {
        return v == Math.rint(v) ? String.format(Locale.ROOT, "%.1f", v) : Double.toString(v);
    }
}
