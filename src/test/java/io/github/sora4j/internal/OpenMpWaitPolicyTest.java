package io.github.sora4j.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.internal.OpenMpWaitPolicy.Outcome;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OpenMpWaitPolicyTest {
    private final List<String> set = new ArrayList<>();

    private Outcome decide(String property, Map<String, String> env, String os, boolean loaded) {
        return OpenMpWaitPolicy.decide(property, env::get, os, () -> loaded, (name, value) -> {
            set.add(name + "=" + value);
            return true;
        });
    }

    @Test
    void byDefaultItSetsPassiveBeforeTheRuntimeLoads() {
        assertThat(decide("passive", Map.of(), "Linux", false)).isEqualTo(Outcome.SET_PASSIVE);
        assertThat(set).containsExactly("OMP_WAIT_POLICY=PASSIVE");
    }

    @Test
    void aWaitPolicyOrSpinCountInTheEnvironmentWins() {
        assertThat(decide("passive", Map.of("OMP_WAIT_POLICY", "ACTIVE"), "Linux", false))
                .isEqualTo(Outcome.LEFT_TO_ENVIRONMENT);
        assertThat(decide("passive", Map.of("GOMP_SPINCOUNT", "10000"), "Linux", false))
                .isEqualTo(Outcome.LEFT_TO_ENVIRONMENT);
        assertThat(set).isEmpty();
    }

    @Test
    void anEmptyVariableCountsAsUnset() {
        assertThat(decide("passive", Map.of("OMP_WAIT_POLICY", " "), "Linux", false))
                .isEqualTo(Outcome.SET_PASSIVE);
    }

    @Test
    void thePropertyDefaultKeepsLibtorchsOwnPolicy() {
        assertThat(decide("Default", Map.of(), "Linux", false)).isEqualTo(Outcome.TURNED_OFF);
        assertThat(set).isEmpty();
    }

    @Test
    void anUnknownPropertyValueIsAConfigurationErrorNamingIt() {
        assertThatThrownBy(() -> decide("sleepy", Map.of(), "Linux", false))
                .isInstanceOf(InvalidConfigurationException.class)
                .hasMessageContaining("sora4j.ompWaitPolicy=sleepy").hasMessageContaining("passive");
    }

    @Test
    void whenTheRuntimeIsAlreadyLoadedItChangesNothingAndSaysTooLate() {
        assertThat(decide("passive", Map.of(), "Linux", true)).isEqualTo(Outcome.TOO_LATE);
        assertThat(set).isEmpty();
    }

    @Test
    void windowsIsLeftAlone() {
        assertThat(decide("passive", Map.of(), "Windows 11", false))
                .isEqualTo(Outcome.UNSUPPORTED);
        assertThat(set).isEmpty();
    }

    /** In a fresh JVM without the variable: the engine's start sets it before libgomp loads. */
    @Test
    void startingTheEngineInAFreshJvmSetsPassiveWhereLibgompReadsIt(@TempDir Path dir)
            throws Exception {
        assumeTrue(Files.isReadable(Path.of("/proc/self/maps")), "Linux only");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(List.of(java, "-Xmx256m", "-Dai.djl.offline=true",
                "-cp", System.getProperty("java.class.path"), Probe.class.getName()))
                .redirectErrorStream(true).redirectOutput(dir.resolve("out.txt").toFile());
        pb.environment().remove("OMP_WAIT_POLICY");
        pb.environment().remove("GOMP_SPINCOUNT");
        Process p = pb.start();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        String out = Files.readString(dir.resolve("out.txt"));
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("before: libgomp loaded false")
                .contains("outcome SET_PASSIVE").contains("native OMP_WAIT_POLICY=PASSIVE")
                .contains("after: libgomp loaded true");
    }

    /** Runs in the forked JVM. */
    public static final class Probe {
        private Probe() {}

        public static void main(String[] args) throws Exception {
            System.out.println("before: libgomp loaded " + gompLoaded());
            Engines.pytorch();
            System.out.println("outcome " + OpenMpWaitPolicy.outcome());
            Object v = com.sun.jna.NativeLibrary.getInstance("c").getFunction("getenv")
                    .invokeString(new Object[] {"OMP_WAIT_POLICY"}, false);
            System.out.println("native OMP_WAIT_POLICY=" + v);
            System.out.println("after: libgomp loaded " + gompLoaded());
        }

        private static boolean gompLoaded() throws Exception {
            return Files.readString(Path.of("/proc/self/maps")).contains("libgomp");
        }
    }
}
