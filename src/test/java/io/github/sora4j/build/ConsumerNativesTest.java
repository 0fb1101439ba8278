package io.github.sora4j.build;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An application that depends on sora4j gets the PyTorch natives of the machine that builds it.
 *
 * <p>Each test resolves the dependency tree of the README's minimal pom.xml, with this
 * checkout's pom.xml as the published sora4j pom, in a Maven whose JVM reports another {@code
 * os.name}/{@code os.arch} ({@code MAVEN_OPTS}: Maven 3.8 reads them from the JVM when it
 * activates profiles, so {@code mvn -Dos.arch=...} alone would not do). Only poms are resolved
 * ({@code dependency:tree}), never the 100+ MB natives jars. The consumer's local repository is a
 * fresh directory whose "remote" repositories are this build's local repository (a {@code file:}
 * URL) and, unless the build runs offline, Maven Central; so it works offline once the build's
 * local repository holds the dependency plugin, and it never writes into that repository.
 */
class ConsumerNativesTest {
    private static final String VERSION = System.getProperty("sora4j.version", "0.1.0-SNAPSHOT");
    private static final String TREE =
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:tree";

    @TempDir
    static Path work;

    @BeforeAll
    static void consumerProject() throws IOException {
        Path installed = work.resolve("under-test/io/github/sora4j/sora4j/" + VERSION);
        Files.createDirectories(installed);
        Files.copy(Path.of("pom.xml"), installed.resolve("sora4j-" + VERSION + ".pom"));
        Files.createDirectories(work.resolve("app"));
        Files.writeString(work.resolve("app/pom.xml"), readmePom());
        String buildRepo = Path.of(System.getProperty("sora4j.mavenLocalRepository",
                System.getProperty("user.home") + "/.m2/repository")).toUri().toString();
        String underTest = work.resolve("under-test").toUri().toString();
        Files.writeString(work.resolve("settings.xml"), """
                <settings>
                  <localRepository>%s</localRepository>
                  <profiles>
                    <profile>
                      <id>consumer</id>
                      <repositories>
                        <repository><id>under-test</id><url>%s</url></repository>
                        <repository><id>build-local</id><url>%s</url></repository>
                      </repositories>
                      <pluginRepositories>
                        <pluginRepository><id>build-local</id><url>%s</url></pluginRepository>
                      </pluginRepositories>
                    </profile>
                  </profiles>
                  <activeProfiles><activeProfile>consumer</activeProfile></activeProfiles>
                </settings>
                """.formatted(work.resolve("local"), underTest, buildRepo, buildRepo));
    }

    /** The minimal pom.xml of the README ("Add it to a project"): the consumer project. */
    static String readmePom() throws IOException {
        String readme = Files.readString(Path.of("README.md"), StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("```xml\\n(<project.*?)```", Pattern.DOTALL).matcher(readme);
        assertThat(m.find()).as("README.md has a minimal pom.xml").isTrue();
        String pom = m.group(1);
        assertThat(pom).contains("<maven.compiler.release>17</maven.compiler.release>",
                "<artifactId>sora4j</artifactId>", "<version>" + VERSION + "</version>");
        return pom;
    }

    /** The natives dependency the consumer resolves when Maven's JVM reports these values. */
    private static String nativesFor(String osName, String osArch, String... mavenArgs)
            throws IOException, InterruptedException {
        Path tree = work.resolve("tree-" + osName + "-" + osArch + mavenArgs.length + ".txt");
        List<String> cmd = new ArrayList<>(List.of(maven(), "-B", "-q", "-s",
                work.resolve("settings.xml").toString(), "-f", work.resolve("app/pom.xml").toString()));
        if ("offline=true".equals(System.getProperty("sora4j.mavenOffline"))) {
            cmd.addAll(List.of("-o", "-Daether.offline.protocols=file"));
        }
        cmd.addAll(List.of(mavenArgs));
        cmd.addAll(List.of(TREE, "-DoutputFile=" + tree));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(work.resolve("maven.log").toFile());
        pb.environment().put("MAVEN_OPTS", "-Dos.name=" + osName + " -Dos.arch=" + osArch);
        Process p = pb.start();
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("mvn finished").isTrue();
        String log = Files.readString(work.resolve("maven.log"), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(log).isZero();
        assertThat(log).as("the sora4j pom is valid").doesNotContain("is invalid");
        return Files.readAllLines(tree).stream().filter(l -> l.contains("pytorch-native-cpu"))
                .map(l -> l.replaceAll("^[\\s|+\\\\-]*", "")).findFirst().orElse("none: " + tree);
    }

    private static String maven() {
        String home = System.getProperty("maven.home");
        boolean windows = System.getProperty("os.name").startsWith("Windows");
        if (home != null && Files.isDirectory(Path.of(home, "bin"))) {
            return Path.of(home, "bin", windows ? "mvn.cmd" : "mvn").toString();
        }
        return windows ? "mvn.cmd" : "mvn";
    }

    @Test
    void aConsumerBuiltOnLinuxX8664GetsTheLinuxX8664Natives() throws Exception {
        assertThat(nativesFor("Linux", "amd64"))
                .isEqualTo("ai.djl.pytorch:pytorch-native-cpu:jar:linux-x86_64:2.7.1:runtime");
    }

    @Test
    void aConsumerBuiltOnLinuxAarch64GetsTheLinuxAarch64Natives() throws Exception {
        assertThat(nativesFor("Linux", "aarch64"))
                .isEqualTo("ai.djl.pytorch:pytorch-native-cpu:jar:linux-aarch64:2.7.1:runtime");
    }

    @Test
    void aConsumerBuiltOnAppleSiliconGetsTheOsxAarch64Natives() throws Exception {
        assertThat(nativesFor("Mac_OS_X", "aarch64"))
                .isEqualTo("ai.djl.pytorch:pytorch-native-cpu:jar:osx-aarch64:2.7.1:runtime");
    }

    @Test
    void onAnotherPlatformTheLinuxX8664NativesAreTheFallback() throws Exception {
        assertThat(nativesFor("FreeBSD", "riscv64"))
                .isEqualTo("ai.djl.pytorch:pytorch-native-cpu:jar:linux-x86_64:2.7.1:runtime");
    }

    @Test
    void aConsumerCanAskForAnotherPlatformsNatives() throws Exception {
        assertThat(nativesFor("Linux", "amd64", "-Dsora4j.natives=linux-aarch64"))
                .isEqualTo("ai.djl.pytorch:pytorch-native-cpu:jar:linux-aarch64:2.7.1:runtime");
    }
}
