package io.github.sora4j.cli;

import io.github.sora4j.GenerationReport;
import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.ProgressEvent;
import io.github.sora4j.ProgressListener;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.pack.ModelPack;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The {@code sora4j} command line: {@code generate} a video from a prompt.
 *
 * <pre>
 * sora4j generate --prompt "a red circle moving left" --frames 17 --size 64x64 --output out.mp4
 * </pre>
 */
@Command(name = "sora4j", mixinStandardHelpOptions = true, version = "sora4j 0.1.0",
        description = "Text-to-video with Open-Sora v1.2 on memory-limited devices.",
        subcommands = {Sora4jCli.Generate.class})
public final class Sora4jCli implements Callable<Integer> {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    /**
     * Runs the command line.
     *
     * @param args arguments
     */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /**
     * Runs the command line without exiting.
     *
     * @param args arguments
     * @return the exit code
     */
    public static int run(String... args) {
        return new CommandLine(new Sora4jCli())
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    cmd.getErr().println("error: " + e.getMessage());
                    return e instanceof IllegalArgumentException ? 2 : 1;
                })
                .execute(args);
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }

    /** {@code generate}: one video from a prompt. */
    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = "Generate a video (.mp4, .gif, or a folder of PNG frames).")
    static final class Generate implements Callable<Integer> {
        @CommandLine.Spec
        private CommandLine.Model.CommandSpec spec;

        @Option(names = {"-p", "--prompt"}, required = true, description = "The text prompt.")
        private String prompt;

        @Option(names = "--pack", description = "Model pack directory (default: the embedded "
                + "demo pack).")
        private Path pack;

        @Option(names = {"-o", "--output"}, defaultValue = "sora4j.mp4",
                description = "Output: .mp4, .gif or a folder for PNG frames (default: ${DEFAULT-VALUE}).")
        private Path output;

        @Option(names = "--frames", defaultValue = "17", description = "Pixel frames (default: ${DEFAULT-VALUE}).")
        private int frames;

        @Option(names = "--size", defaultValue = "64x64", description = "WIDTHxHEIGHT in pixels (default: ${DEFAULT-VALUE}).")
        private String size;

        @Option(names = "--steps", defaultValue = "30", description = "Sampling steps (default: ${DEFAULT-VALUE}).")
        private int steps;

        @Option(names = "--guidance", defaultValue = "7.0", description = "CFG scale (default: ${DEFAULT-VALUE}).")
        private double guidance;

        @Option(names = "--seed", defaultValue = "42", description = "Noise seed (default: ${DEFAULT-VALUE}).")
        private long seed;

        @Option(names = "--fps", defaultValue = "24", description = "Frame rate (default: ${DEFAULT-VALUE}).")
        private int fps;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            String[] wh = size.toLowerCase(Locale.ROOT).split("x");
            if (wh.length != 2) {
                throw new IllegalArgumentException("--size must be WIDTHxHEIGHT but was " + size);
            }
            GenerationRequest request;
            try {
                request = GenerationRequest.builder(prompt).frames(frames)
                        .size(Integer.parseInt(wh[0]), Integer.parseInt(wh[1])).steps(steps)
                        .guidanceScale(guidance).seed(seed).fps(fps).build();
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--size must be WIDTHxHEIGHT but was " + size, e);
            }
            ModelPack modelPack = pack == null ? ModelPack.embeddedDefault() : ModelPack.open(pack);
            AtomicBoolean interrupted = new AtomicBoolean();
            java.util.concurrent.CountDownLatch finished = new java.util.concurrent.CountDownLatch(1);
            // Ctrl-C: ask the pipeline to stop at the next block and wait for it to clean up.
            Thread hook = new Thread(() -> {
                interrupted.set(true);
                try {
                    finished.await(60, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            Runtime.getRuntime().addShutdownHook(hook);
            ProgressListener listener = event -> {
                if (event instanceof ProgressEvent.StageStarted s) {
                    out.printf("%s...%n", s.stage().name().toLowerCase(Locale.ROOT));
                } else if (event instanceof ProgressEvent.StepFinished s) {
                    out.printf("  step %d/%d  t=%.1f  %.0f ms%n", s.report().index() + 1,
                            s.stepCount(), s.report().timestep(), s.report().elapsedNanos() / 1e6);
                }
                out.flush();
                return !interrupted.get();
            };
            try (VideoPipeline pipeline = VideoPipeline.builder().pack(modelPack).build()) {
                GenerationResult result = pipeline.generate(request, listener, output);
                if (result.cancelled()) {
                    out.println("cancelled; nothing written");
                    return 130;
                }
                GenerationReport r = result.report();
                out.printf("wrote %s: %d frames %dx%d; text %.2f s, denoise %.2f s (%d steps), "
                                + "decode %.2f s, total %.2f s%n", output,
                        result.frames().frameCount(), result.frames().width(),
                        result.frames().height(), r.textEncodeNanos() / 1e9,
                        r.denoiseNanos() / 1e9, r.modelCalls(), r.decodeNanos() / 1e9,
                        r.totalNanos() / 1e9);
                return 0;
            } finally {
                finished.countDown();
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException ignored) {
                    // shutting down
                }
            }
        }
    }
}
