package io.github.sora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged command line, {@code target/sora4j-VERSION-cli.jar}, run as a user runs it: {@code
 * java -jar} with nothing else on the class path, from another directory. Runs in {@code mvn
 * verify} (Failsafe, after {@code package}).
 */
class CliJarIT {
    private static final Path JAR = Path.of(System.getProperty("sora4j.cliJar",
            "target/sora4j-" + System.getProperty("sora4j.version") + "-cli.jar")).toAbsolutePath();

    private record Run(int exit, String out, String err) {}

    private static Run java(Path dir, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
                "-jar", JAR.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile())
                .redirectOutput(dir.resolve("stdout.txt").toFile())
                .redirectError(dir.resolve("stderr.txt").toFile());
        pb.environment().remove("CLASSPATH");
        Process p = pb.start();
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("finished").isTrue();
        return new Run(p.exitValue(),
                Files.readString(dir.resolve("stdout.txt"), StandardCharsets.UTF_8),
                Files.readString(dir.resolve("stderr.txt"), StandardCharsets.UTF_8));
    }

    @Test
    void theJarGeneratesAVideoOnItsOwnAndStandardErrorStaysEmpty(@TempDir Path dir)
            throws Exception {
        assertThat(JAR).isRegularFile();
        Run r = java(dir, "generate", "--prompt", "a red circle moving left", "--output", "x.mp4",
                "--frames", "9", "--size", "32x32", "--steps", "3", "--progress", "plain");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("pack       demo (built-in demo pack", "wrote x.mp4 (MP4");
        assertThat(dir.resolve("x.mp4")).isRegularFile();
        // No libtorch NNPACK warning, no SLF4J provider warning, no DJL INFO lines: nothing.
        assertThat(r.err()).doesNotContain("NNPACK", "SLF4J", "INFO").isEmpty();
    }

    @Test
    void versionPrintsTheArtifactVersion(@TempDir Path dir) throws Exception {
        Run r = java(dir, "--version");
        assertThat(r.exit()).isZero();
        assertThat(r.out().strip()).isEqualTo("sora4j " + System.getProperty("sora4j.version"));
        assertThat(r.err()).isEmpty();
    }

    @Test
    void aMistypedOptionIsNamedOnStandardErrorWithExitCode2(@TempDir Path dir) throws Exception {
        Run r = java(dir, "generate", "--promt", "x");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err().strip()).isEqualTo("error: unknown option '--promt' (did you mean "
                + "--prompt?) (see 'sora4j generate --help')");
    }
}
