package io.github.sora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stops a real {@code sora4j generate} process the way Ctrl-C does: a signal that starts the
 * JVM's shutdown. The test sends SIGTERM ({@link ProcessHandle#destroy()}), because a shell that starts
 * a job in the background makes it ignore SIGINT; both run the same shutdown hook, and the exit
 * code is 128 + the signal (130 for Ctrl-C's SIGINT, 143 here).
 */
class CtrlCTest {
    @Test
    void aSignalCancelsAtTheNextBlockAndWritesNothing(@TempDir Path dir) throws Exception {
        assumeTrue(!System.getProperty("os.name", "").startsWith("Windows"), "POSIX signals");
        Path out = dir.resolve("never.mp4");
        String classPath = System.getProperty("surefire.test.class.path",
                System.getProperty("java.class.path"));
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-cp", classPath, "-Xmx1g",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
                Sora4jCli.class.getName(), "generate", "--prompt", "a red circle moving left",
                "--output", out.toString(), "--frames", "9", "--size", "32x32",
                "--steps", "900", "--progress", "plain")
                .redirectErrorStream(true).start();
        List<String> lines = new ArrayList<>();
        CountDownLatch stepping = new CountDownLatch(1);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(
                    new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    synchronized (lines) {
                        lines.add(line);
                    }
                    if (line.matches("\\s*step\\s+3/900.*")) {
                        stepping.countDown();
                    }
                }
            } catch (IOException e) {
                // the process ended
            } finally {
                stepping.countDown();
            }
        });
        reader.start();
        try {
            assertThat(stepping.await(120, TimeUnit.SECONDS)).as("%s", lines).isTrue();
            assertThat(p.isAlive()).as("still generating: %s", lines).isTrue();
            // Process.destroy() would also close our end of its output; this only signals.
            p.toHandle().destroy();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            reader.join(10_000);
        } finally {
            p.destroyForcibly();
        }
        synchronized (lines) {
            assertThat(lines).contains("cancelled; nothing written");
            assertThat(lines).noneMatch(l -> l.startsWith("wrote ") || l.contains("step 900/900"));
        }
        assertThat(p.exitValue()).isEqualTo(143);
        assertThat(out).doesNotExist();
        try (var files = Files.list(dir)) {
            assertThat(files).as("no temporary file is left").isEmpty();
        }
    }
}
