package io.github.sora4j.soak;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * close() racing validate, generate and generateAsync never crashes the JVM: {@link CloseRace}
 * runs the race 200 times (1,000 with {@code -Dsoak=long}) in a forked JVM, so a SIGSEGV (as
 * libtokenizers gave when close() freed the tokenizer under a concurrent tokenisation) fails this
 * test with the JVM's exit code instead of killing the test runner.
 */
@Tag("soak")
class CloseRaceTest {

    @Test
    void closeRacingEveryEntryPointNeverCrashesAndEndsEachCallCleanly(@TempDir Path dir)
            throws Exception {
        int iterations = Soak.isLong() ? 1000 : 200;
        Path log = dir.resolve("race.log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "-Xmx512m", "-Dai.djl.offline=true",
                "-XX:ErrorFile=" + dir.resolve("hs_err_%p.log"),
                "-cp", System.getProperty("java.class.path"), CloseRace.class.getName(),
                Integer.toString(iterations), "7"))
                .redirectErrorStream(true).redirectOutput(log.toFile()).directory(dir.toFile())
                .start();
        boolean done = p.waitFor(Soak.isLong() ? 1800 : 300, TimeUnit.SECONDS);
        if (!done) {
            p.destroyForcibly().waitFor();
        }
        String output = Files.readString(log);
        assertThat(done).as("race finished in time; output:%n%s", output).isTrue();
        assertThat(p.exitValue()).as("exit code (134 = JVM crash); output:%n%s", tail(output))
                .isZero();
        assertThat(output).contains("OK " + iterations + " races");
        File[] crashes = dir.toFile().listFiles((d, n) -> n.startsWith("hs_err"));
        assertThat(crashes).isEmpty();
    }

    private static String tail(String s) {
        return s.length() <= 6000 ? s : s.substring(s.length() - 6000);
    }
}
