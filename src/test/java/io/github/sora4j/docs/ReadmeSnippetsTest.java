package io.github.sora4j.docs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's Java code compiles as pasted, against this build's classes, and the quick start
 * runs: each {@code ```java} block that declares a class is compiled as its own source file (so
 * its imports must be complete), and a block that is one builder line (the TDTM addition) is
 * compiled inside the quick start, after its {@code .scheduler(...)} line, with the import the
 * README names next to it.
 */
class ReadmeSnippetsTest {
    private static final Pattern JAVA = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);
    private static final Pattern CLASS = Pattern.compile("public class (\\w+)");

    /** The {@code ```java} blocks of README.md, in order. */
    static List<String> javaBlocks() throws IOException {
        String readme = Files.readString(Path.of("README.md"), StandardCharsets.UTF_8);
        List<String> blocks = new ArrayList<>();
        Matcher m = JAVA.matcher(readme);
        while (m.find()) {
            blocks.add(m.group(1));
        }
        return blocks;
    }

    private static String classPath() {
        return System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    }

    /** Compiles one source file into {@code out}; returns the compiler's messages if it fails. */
    private static String compile(Path dir, String source, Path out) throws IOException {
        Matcher m = CLASS.matcher(source);
        assertThat(m.find()).as("a public class in:%n%s", source).isTrue();
        Path file = dir.resolve(m.group(1) + ".java");
        Files.writeString(file, source);
        Files.createDirectories(out);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StringWriter messages = new StringWriter();
        boolean ok = javac.getTask(messages, null, null, List.of("--release", "17", "-Xlint:all",
                "-Werror", "-classpath", classPath(), "-d", out.toString()), null,
                javac.getStandardFileManager(null, null, StandardCharsets.UTF_8)
                        .getJavaFileObjects(file)).call();
        return ok ? "" : messages.toString();
    }

    private static String quickStart() throws IOException {
        return javaBlocks().stream().filter(b -> b.contains("public class QuickStart"))
                .findFirst().orElseThrow(() -> new AssertionError("README has no QuickStart"));
    }

    @Test
    void everyJavaProgramInTheReadmeCompilesAsPasted(@TempDir Path dir) throws IOException {
        List<String> programs = javaBlocks().stream().filter(b -> CLASS.matcher(b).find()).toList();
        assertThat(programs).isNotEmpty();
        for (String program : programs) {
            assertThat(compile(dir, program, dir.resolve("classes"))).as(program).isEmpty();
        }
    }

    @Test
    void theTdtmLineCompilesInTheQuickStartWithTheImportTheReadmeNames(@TempDir Path dir)
            throws IOException {
        List<String> lines = javaBlocks().stream().filter(b -> !CLASS.matcher(b).find()).toList();
        assertThat(lines).as("the TDTM builder line").hasSize(1);
        String line = lines.get(0);
        assertThat(line.strip()).startsWith(".tokenMerger(TokenMergers.tdtm(");
        String readme = Files.readString(Path.of("README.md"), StandardCharsets.UTF_8);
        String importLine = "import io.github.sora4j.merge.TokenMergers;";
        assertThat(readme).contains("`" + importLine + "`");
        String source = quickStart().replaceFirst("(\\n[^\\n]*\\.scheduler\\([^\\n]*\\n)",
                "$1" + Matcher.quoteReplacement(line));
        assertThat(source).contains(line.strip());
        source = importLine + "\n" + source;
        assertThat(compile(dir, source, dir.resolve("classes"))).as(source).isEmpty();
    }

    @Test
    void theQuickStartRunsAndPrintsAShortReport(@TempDir Path dir) throws Exception {
        Path classes = dir.resolve("classes");
        assertThat(compile(dir, quickStart(), classes)).isEmpty();
        Path work = Files.createDirectories(dir.resolve("work"));
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx1g", "-cp", classes + java.io.File.pathSeparator + classPath(),
                "QuickStart").directory(work.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("out.txt").toFile()).start();
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
        String out = Files.readString(dir.resolve("out.txt"));
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("step 1/30", "step 16/30", "GenerationReport[total=",
                "steps=16/30, leapStep=15, mergedSteps=0", "latentShape=[1, 4, 15, 8, 8]]")
                .doesNotContain("step 17/30", "[J@", "NNPACK");
        assertThat(work.resolve("out.mp4")).isRegularFile();
    }
}
