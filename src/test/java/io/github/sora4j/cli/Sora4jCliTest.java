package io.github.sora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.testing.PackDirs;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Sora4jCliTest {
    /** The random tiny pack: the numbers below (block counts, bytes) are its own. */
    private static final String TINY = ModelPack.embedded("tiny-random").directory().toString();

    /** One run of the command line with its captured output. */
    record Run(int exitCode, String out, String err) {
        List<String> errLines() {
            return err.lines().toList();
        }
    }

    static Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Sora4jCli.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    /** A quick generate command on the tiny pack, unless {@code more} names another pack. */
    private static String[] generate(Path output, String... more) {
        Stream<String> pack = List.of(more).contains("--pack") ? Stream.of()
                : Stream.of("--pack", TINY);
        return Stream.of(Stream.of("generate", "--prompt", "a red circle moving left",
                "--output", output.toString(), "--frames", "9", "--size", "32x32", "--steps", "2"),
                pack, Stream.of(more)).flatMap(x -> x).toArray(String[]::new);
    }

    @Test
    void withoutAPackTheBuiltInDemoPackIsUsed(@TempDir Path dir) {
        Path out = dir.resolve("out.mp4");
        Run r = cli("generate", "--prompt", "a red circle moving left", "--output", out.toString(),
                "--frames", "9", "--size", "32x32", "--steps", "2");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("pack       " + ModelPack.DEFAULT_EMBEDDED + " (built-in demo");
        assertThat(out).isRegularFile();
    }

    @Test
    void withoutFramesOrSizeTheDemoPackRunsItsNativeRequest(@TempDir Path dir) {
        Path out = dir.resolve("out.gif");
        Run r = cli("generate", "--prompt", "a red circle moving left", "--output", out.toString(),
                "--steps", "2");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("(built-in demo pack: coloured shapes, 51 frames 64x64)",
                "request    51 frames 64x64 at 24 fps").doesNotContain("unknown");
    }

    @Test
    void unknownPromptWordsArePrinted(@TempDir Path dir) {
        Path out = dir.resolve("out.mp4");
        Run r = cli("generate", "--prompt", "a crimson circle moving upwards", "--output",
                out.toString(), "--frames", "9", "--size", "32x32", "--steps", "2");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("unknown    the pack's model was not trained on crimson, "
                + "upwards: they are read as unknown");
    }

    @Test
    void generateWritesTheVideoWithPlainProgressAndASummary(@TempDir Path dir) {
        Path out = dir.resolve("out.mp4");
        Run r = cli(generate(out));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(out).isRegularFile();
        assertThat(r.out()).contains("pack       tiny-random (" + TINY + ")",
                "request    9 frames 32x32 at 24 fps, 2 steps, CFG 7.0, seed 42",
                "techniques LPL off, TDTM off; loader resident, budget unlimited",
                "encode text ...", "denoise ...", "step 1/2", "step 2/2", "decode ...",
                "wrote " + out + " (MP4, 9 frames 32x32 at 24 fps",
                "  encode text  ", "  denoise      ", "2 of 2 steps", "  decode       ",
                "  total        ", "peak loaded weights 4.9 MB (20 blocks loaded; loader "
                        + "resident, budget unlimited)", "JVM heap peak");
        assertThat(r.out()).doesNotContain("\r");
        assertThat(r.err()).isEmpty();
    }

    @Test
    void generateWithTheTechniquesReportsLeapMergesAndTheLoader(@TempDir Path dir) {
        Path out = dir.resolve("out.gif");
        Run r = cli(generate(out, "--steps", "4", "--lpl", "fixed:1", "--tdtm-steps", "all",
                "--loader", "ci-dl", "--budget", "40MB"));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(out).isRegularFile();
        assertThat(r.out()).contains("LPL fixed (leap at step 2), TDTM all steps; loader ci-dl,"
                        + " budget 40.0 MB", "step 2/2",
                "2 of 4 steps (LPL leapt at step 2, 2 model calls saved), 2 with TDTM merging",
                "loader ci-dl, budget 40.0 MB)");
    }

    @Test
    void aProfileBringsItsLoaderAndTechniquesAndOptionsOverrideThem(@TempDir Path dir) {
        Run r = cli(generate(dir.resolve("out.mp4"), "--steps", "3", "--profile",
                "phone-arm64-8gb", "--tdtm-steps", "off"));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("techniques LPL fixed (leap at step 16), TDTM off; loader "
                + "ci-dl, budget 3.00 GB (profile phone-arm64-8gb)", "3 of 3 steps");
    }

    @Test
    void aNameWithoutExtensionGetsAFolderOfPngFrames(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("frames");
        Run r = cli(generate(out, "--lpl", "dynamic"));
        assertThat(r.exitCode()).as(r.err()).isZero();
        try (Stream<Path> files = Files.list(out)) {
            assertThat(files.filter(f -> f.toString().endsWith(".png"))).hasSize(9);
        }
        assertThat(r.out()).contains("(PNG frames, 9 frames 32x32");
        assertThat(r.out()).contains("LPL dynamic (sora4j rule");
    }

    @Test
    void theUpstreamRulesAreOfferedAndNamed(@TempDir Path dir) {
        Run r = cli(generate(dir.resolve("out.gif"), "--lpl", "dynamic-upstream", "--tdtm-steps",
                "2", "--tdtm-rule", "upstream"));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("LPL dynamic-upstream (the paper's code",
                "TDTM first 2 steps (upstream odd-T rule)");
    }

    @Test
    void theBarRedrawsOneLinePerStageWithStepAndEta(@TempDir Path dir) {
        // Block redraws are throttled in real time, so which block lines appear depends on the
        // machine's speed; ProgressDisplayTest checks them against a fake clock.
        Run r = cli(generate(dir.resolve("out.mp4"), "--progress", "bar"));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("\rencode text [", "\rdenoise     [", "step 1/2",
                "ETA ", "\rdecode      [", "done in ");
        assertThat(r.out().lines().filter(l -> l.contains("done in "))).hasSize(3);
    }

    @Test
    void progressNonePrintsOnlyTheSummary(@TempDir Path dir) {
        Run r = cli(generate(dir.resolve("out.mp4"), "--progress", "none"));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).doesNotContain("step 1/2", "denoise ...").contains("wrote ");
    }

    @Test
    void badInputIsOneErrorLineAndExitCode2(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out.mp4");
        Files.createDirectories(dir.resolve("locked"));
        String longPrompt = "red ".repeat(400);
        List<List<String>> cases = List.of(
                List.of("generate", "--output", out.toString()),
                List.of(generate(out, "--lpl", "sometimes")),
                List.of(generate(out, "--tdtm-steps", "-3")),
                List.of(generate(out, "--loader", "lazy")),
                List.of(generate(out, "--budget", "lots")),
                List.of(generate(out, "--profile", "toaster")),
                List.of(generate(out, "--size", "30x32")),
                List.of(generate(out, "--size", "wide")),
                List.of(generate(out, "--frames", "0")),
                List.of(generate(out, "--fps", "0")),
                List.of(generate(out, "--budget", "1MB", "--loader", "sequential")),
                List.of(generate(out, "--pack", dir.resolve("no-such-pack").toString())),
                List.of(generate(dir.resolve("missing/out.mp4"))),
                List.of(generate(dir.resolve("out.avi"))),
                List.of("generate", "--prompt", longPrompt, "--output", out.toString()),
                List.of("frobnicate"),
                List.of("inspect", dir.toString()),
                List.of("plan", "--size", "33x32"));
        List<String> expected = List.of("Missing required option: '--prompt=TEXT'",
                "Invalid value for option '--lpl': 'sometimes' is not one of off, fixed",
                "Invalid value for option '--tdtm-steps': expected a step count N >= 0",
                "Invalid value for option '--loader': 'lazy' is not a block loader",
                "Invalid value for option '--budget': 'lots' is not a size",
                "Invalid value for option '--profile': no device profile named 'toaster'",
                "width and height must be multiples of 8 for this model but were 30x32",
                "Invalid value for option '--size': 'wide': expected WIDTHxHEIGHT",
                "frames must be >= 1 but was 0",
                "--fps must be >= 1 but was 0",
                "but the memory budget has 1000000 bytes (1.0 MB) available",
                "model pack directory does not exist",
                "does not exist",
                "unknown video extension '.avi'",
                "prompt is ",
                "Unmatched argument at index 0: 'frobnicate'",
                "not a model pack (no manifest.json): " + dir + ". See docs/model-pack.md",
                "width and height must be multiples of 8 for this model but were 33x32");
        for (int i = 0; i < cases.size(); i++) {
            Run r = cli(cases.get(i).toArray(String[]::new));
            assertThat(r.exitCode()).as("%s: %s", cases.get(i), r.err()).isEqualTo(2);
            assertThat(r.errLines()).as("%s", cases.get(i)).hasSize(1);
            assertThat(r.err()).as("%s", cases.get(i)).startsWith("error: ")
                    .contains(expected.get(i));
        }
        assertThat(out).doesNotExist();
    }

    @Test
    void inspectSummarisesAPackAndVerifiesIt() {
        Run r = cli("inspect", TINY);
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("pack         tiny-random (open-sora-v1.2), format version 1",
                "T5: 2 blocks", "STDiT3: depth 2", "sizes must be multiples of 8",
                "t5                4", "stdit             4", "vae              12",
                "other files       2", "total            22",
                "integrity    OK (sizes and sha256 of 22 files");
        Run demo = cli("inspect");
        assertThat(demo.exitCode()).as(demo.err()).isZero();
        assertThat(demo.out()).contains("pack         " + ModelPack.DEFAULT_EMBEDDED + " (",
                "integrity    OK");
    }

    @Test
    void inspectNamesEveryFileThatFailsTheCheck(@TempDir Path dir) throws IOException {
        Path pack = copyOfTinyPack(dir);
        Path block = pack.resolve("stdit/block_01.pt");
        if (!Files.exists(block)) {
            block = firstFile(pack.resolve("stdit"));
        }
        byte[] bytes = Files.readAllBytes(block);
        bytes[bytes.length / 2] ^= 1;
        Files.write(block, bytes);
        Path vae = firstFile(pack.resolve("vae"));
        Files.delete(vae);
        Run r = cli("inspect", pack.toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.out()).contains("integrity    FAILED: 2 of 22 files (sizes and sha256)",
                pack.relativize(block) + ": sha256 mismatch: expected ",
                pack.relativize(vae) + ": missing");
        Run sizesOnly = cli("inspect", "--no-verify", pack.toString());
        assertThat(sizesOnly.out()).contains("FAILED: 1 of 22 files (sizes)");
    }

    @Test
    void aCorruptPackIsRefusedUnlessVerificationIsSkipped(@TempDir Path dir) throws IOException {
        Path pack = copyOfTinyPack(dir);
        Path npy = pack.resolve("null_embedding.npy");
        byte[] bytes = Files.readAllBytes(npy);
        bytes[bytes.length - 2] ^= 1; // a float of the data, not the header
        Files.write(npy, bytes);
        Path out = dir.resolve("out.mp4");
        Run refused = cli(generate(out, "--pack", pack.toString()));
        assertThat(refused.exitCode()).isEqualTo(2);
        assertThat(refused.err()).startsWith("error: sha256 mismatch for ")
                .contains("null_embedding.npy");
        Run skipped = cli(generate(out, "--pack", pack.toString(), "--no-verify"));
        assertThat(skipped.exitCode()).as(skipped.err()).isZero();
        assertThat(skipped.out()).contains("pack       tiny-random (" + pack.toAbsolutePath());
        assertThat(out).isRegularFile();
    }

    @Test
    void planPrintsTheMemoryPlanWithoutLoading() {
        Run r = cli("plan", "--pack", TINY, "--profile", "phone-arm64-8gb", "--frames", "68",
                "--size", "256");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("Memory plan: pack tiny-random, profile phone-arm64-8gb, "
                + "loader CI-DL", "request 68 frames 256x256", "fits");
        Run bare = cli("plan");
        assertThat(bare.out()).contains("loader resident", "No budget given");
    }

    @Test
    void aMistypedOptionIsNamedWithTheClosestOption(@TempDir Path dir) {
        Run r = cli("generate", "--promt", "a red circle", "--output", dir.resolve("x.mp4").toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err().strip()).isEqualTo("error: unknown option '--promt' (did you mean "
                + "--prompt?) (see 'sora4j generate --help')");
        assertThat(cli("plan", "--profle", "phone-arm64-8gb").err())
                .startsWith("error: unknown option '--profle' (did you mean --profile?)");
        assertThat(cli("inspect", "--no-verfy").err())
                .startsWith("error: unknown option '--no-verfy' (did you mean --no-verify?)");
        assertThat(cli("generate", "--prompt", "x", "--stacktrace", "--zzzzzz").err())
                .startsWith("error: unknown option '--zzzzzz' (see 'sora4j generate --help')");
    }

    @Test
    void planExitsWith3WhenThePlanDoesNotFit() {
        Run r = cli("plan", "--pack", TINY, "--budget", "1MB", "--loader", "sequential");
        assertThat(r.exitCode()).as(r.err()).isEqualTo(Sora4jCli.EXIT_DOES_NOT_FIT).isEqualTo(3);
        assertThat(r.out()).contains("Memory plan: pack tiny-random", "does NOT fit");
        assertThat(cli("plan", "--pack", TINY, "--budget", "1GB", "--loader", "sequential")
                .exitCode()).isZero();
        assertThat(cli("--help").out()).contains("3     plan: the generation does not fit");
    }

    @Test
    void builtInPackNamesWorkWhereverAPackIsAccepted(@TempDir Path dir) {
        Run inspect = cli("inspect", "tiny-random");
        assertThat(inspect.exitCode()).as(inspect.err()).isZero();
        assertThat(inspect.out()).contains("pack         tiny-random (open-sora-v1.2)",
                "integrity    OK");
        assertThat(cli("inspect", "demo").out()).contains("pack         demo (");
        Run plan = cli("plan", "--pack", "tiny-random");
        assertThat(plan.exitCode()).as(plan.err()).isZero();
        assertThat(plan.out()).contains("Memory plan: pack tiny-random");
        Path out = dir.resolve("out.mp4");
        Run gen = cli(generate(out, "--pack", "tiny-random"));
        assertThat(gen.exitCode()).as(gen.err()).isZero();
        assertThat(out).isRegularFile();
    }

    @Test
    void aMissingPackDirectoryNamesTheBuiltInPacksAndTheExportDocs() {
        Run r = cli("inspect", "packs/open-sora-v1.2-float32");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err().strip()).startsWith("error: model pack directory does not exist: "
                + "packs/open-sora-v1.2-float32. Built-in packs: demo, tiny-random. A pack of "
                + "the real weights is made with the exporter: see docs/model-pack.md");
        assertThat(cli("plan", "--pack", "nowhere").err()).contains("docs/model-pack.md");
    }

    @Test
    void versionIsTheArtifactVersion() {
        Run r = cli("--version");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out().strip()).isEqualTo("sora4j " + System.getProperty("sora4j.version"))
                .doesNotContain("${");
    }

    @Test
    void helpListsTheCommandsAndExitCodes() {
        Run r = cli("--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("generate", "plan", "inspect", "130   cancelled (Ctrl-C)");
    }

    @Test
    void exitCodesSeparateBadInputFromFailures() {
        assertThat(Sora4jCli.exitCode(new IllegalArgumentException("x"))).isEqualTo(2);
        assertThat(Sora4jCli.exitCode(new io.github.sora4j.pack.ModelPackException("x")))
                .isEqualTo(2);
        assertThat(Sora4jCli.exitCode(new java.io.UncheckedIOException(new IOException("disk"))))
                .isEqualTo(1);
        assertThat(Sora4jCli.message(new java.io.UncheckedIOException(
                new IOException("disk full\nreally")))).isEqualTo("disk full really");
        assertThat(Sora4jCli.message(new java.io.UncheckedIOException(
                new java.nio.file.AccessDeniedException("/out/.x.mp4.tmp"))))
                .isEqualTo("I/O error on /out/.x.mp4.tmp: permission denied");
        assertThat(Sora4jCli.message(new NullPointerException("boom")))
                .isEqualTo("NullPointerException: boom");
    }

    private static Path copyOfTinyPack(Path dir) throws IOException {
        return PackDirs.copyEmbedded("tiny-random", dir.resolve("pack"));
    }

    private static Path firstFile(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(Files::isRegularFile).sorted().findFirst().orElseThrow();
        }
    }
}
