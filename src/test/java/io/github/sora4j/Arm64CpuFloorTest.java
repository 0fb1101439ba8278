package io.github.sora4j;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.sora4j.testing.EngineProbe;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hardware floor of the linux-aarch64 natives, shown on emulated CPUs: DJL 0.36's JNI library
 * crashes the JVM with SIGILL on an ARMv8.0 core (qemu's {@code cortex-a72}, the Raspberry Pi 4's
 * core), sora4j refuses such a CPU with a clear {@link Sora4jException} before that, and an
 * ARMv8.2 core ({@code cortex-a76}, the Raspberry Pi 5's) runs.
 *
 * <p>Runs only in the {@code aarch64-emulated} Maven profile (docs/arm64.md), which sets {@code
 * sora4j.arm64.java} to the wrapper that starts the arm64 JVM under qemu-user; elsewhere it is
 * skipped. Each case starts a fresh emulated JVM running {@link EngineProbe} with {@code
 * QEMU_CPU} set. Each JVM's output (for the ARMv8.0 case with the check skipped, a whole JVM
 * crash report) goes to {@code target/arm64-floor/*.log}, not to the build log: one line per case
 * says where.
 */
class Arm64CpuFloorTest {
    private static String java;
    private static String classPath;

    @TempDir
    Path dir;

    /** Where each emulated JVM's output is kept. */
    private static final Path LOGS = Path.of(System.getProperty("sora4j.buildDir", "target"),
            "arm64-floor");

    @BeforeAll
    static void wrapper() {
        java = System.getProperty("sora4j.arm64.java");
        Assumptions.assumeTrue(java != null,
                "not in the aarch64-emulated profile (sora4j.arm64.java is not set)");
        classPath = System.getProperty("surefire.test.class.path",
                System.getProperty("java.class.path"));
    }

    private record Run(int exit, String output) {}

    private Run probe(String cpu, String... jvmArgs) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx1g", "-Dai.djl.offline=true",
                "-XX:ErrorFile=" + dir.resolve("hs_err_pid%p.log"), "-XX:-CreateCoredumpOnCrash"));
        cmd.addAll(List.of(jvmArgs));
        cmd.addAll(List.of("-cp", classPath, EngineProbe.class.getName()));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().put("QEMU_CPU", cpu);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(10, TimeUnit.MINUTES)).isTrue();
        String text = new String(out, StandardCharsets.UTF_8);
        Files.createDirectories(LOGS);
        Path log = LOGS.resolve(cpu + (jvmArgs.length > 0 ? "-check-skipped" : "") + ".log");
        Files.writeString(log, text);
        System.out.printf("QEMU_CPU=%s %s: exit %d, output in %s%n", cpu,
                String.join(" ", jvmArgs), p.exitValue(), log);
        return new Run(p.exitValue(), text);
    }

    @Test
    void onAnArmv80CoreTheNativesCrashWithSigillWhenTheCheckIsSkipped() throws Exception {
        Run r = probe("cortex-a72", "-Dsora4j.skipCpuCheck=true");
        // HotSpot's crash handler exits with 1 when core dumps are off (134, SIGABRT, when on).
        assertThat(r.exit()).isNotZero();
        assertThat(r.output()).contains("A fatal error has been detected", "SIGILL (0x4)",
                "0.36.0-libdjl_torch.so", "c10::detail::atomic_refcount_increment")
                .doesNotContain("probe ok");
        assertThat(hsErrFiles()).hasSize(1);
    }

    @Test
    void onAnArmv80CoreSora4jRefusesTheCpuWithAClearMessageInstead() throws Exception {
        Run r = probe("cortex-a72");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.output())
                .contains("io.github.sora4j.Sora4jException: this ARM64 CPU lacks the ARMv8.1 LSE"
                        + " atomics (AT_HWCAP: fp asimd aes pmull sha1 sha2 crc32 cpuid; no"
                        + " 'atomics')")
                .contains("Cortex-A53/A57/A72 (Raspberry Pi 3/4) are not supported")
                .doesNotContain("A fatal error has been detected", "probe ok");
        assertThat(hsErrFiles()).isEmpty();
    }

    private List<String> hsErrFiles() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString())
                    .filter(n -> n.startsWith("hs_err_pid")).toList();
        }
    }

    @Test
    void onAnArmv82CoreTheNativesRun() throws Exception {
        Run r = probe("cortex-a76");
        assertThat(r.exit()).isZero();
        assertThat(r.output()).contains("probe ok on aarch64: [7.0, 10.0, 15.0, 22.0], conv centre 9.0")
                .doesNotContain("Could not initialize NNPACK");
    }
}
