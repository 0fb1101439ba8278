package io.github.sora4j.benchmarks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs {@code benchmarks/eager_step.py}: one CFG step of the bench pack's STDiT3 in PyTorch,
 * eagerly and from the pack's TorchScript files, with the Java runs' thread count, and collects
 * its step times over several invocations (the ablation starts it once per repetition, so that
 * drift in the machine's load hits it as it hits the Java rows).
 */
final class EagerStep {
    /** The script, relative to the repository root. */
    static final Path SCRIPT = Path.of("benchmarks/eager_step.py");
    private static final long TIMEOUT_SECONDS = 300;

    private final String python;
    private final Path pack;
    private final Path log;
    private final List<Double> eager = new ArrayList<>();
    private final List<Double> torchScript = new ArrayList<>();
    private String torchVersion = "?";
    private String problem;
    private Boolean weightsMatch;

    /**
     * Creates the runner.
     *
     * @param python the Python with PyTorch (e.g. {@code /usr/bin/python3})
     * @param pack the bench pack (the script checks its weights against it)
     * @param log where the script's stderr goes (appended)
     */
    EagerStep(String python, Path pack, Path log) {
        this.python = python;
        this.pack = pack;
        this.log = log;
    }

    /**
     * Runs the script once; a failure is remembered (see {@link #problem()}), not thrown, and
     * stops later runs.
     *
     * @param setting the setting whose request the step is for
     * @param captionTokens the prompt's tokens L
     * @param threads the libtorch intra-op thread count of the Java runs
     * @param steps measured steps per mode
     */
    void run(BenchPack.Setting setting, int captionTokens, int threads, int steps) {
        if (problem != null) {
            return;
        }
        if (!Files.isRegularFile(SCRIPT)) {
            problem = "no " + SCRIPT + " under " + Path.of("").toAbsolutePath();
            return;
        }
        var r = setting.request(30);
        List<String> cmd = List.of(python, SCRIPT.toString(), "--pack", pack.toString(),
                "--threads", Integer.toString(threads), "--steps", Integer.toString(steps),
                "--warmup", "1", "--size", Integer.toString(r.width()), "--frames",
                Integer.toString(r.frames()), "--caption-tokens", Integer.toString(captionTokens));
        try {
            parse(execute(cmd));
        } catch (IOException | RuntimeException e) {
            problem = String.join(" ", cmd) + " failed: " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            problem = "interrupted";
        }
    }

    private String execute(List<String> cmd) throws IOException, InterruptedException {
        if (log.getParent() != null) {
            Files.createDirectories(log.getParent());
        }
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
        Map<String, String> env = pb.environment();
        String pp = env.get("PYTHONPATH");
        env.put("PYTHONPATH", "src/main/python" + (pp == null || pp.isEmpty() ? "" : ":" + pp));
        env.put("PYTHONHASHSEED", "0");
        Process p = pb.start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out after " + TIMEOUT_SECONDS + " s");
        }
        if (p.exitValue() != 0) {
            throw new IOException("exit code " + p.exitValue() + " (see " + log + ")");
        }
        return new String(out, StandardCharsets.UTF_8);
    }

    /**
     * Reads the script's last output line (a JSON object) into the samples.
     *
     * @param output the script's stdout
     * @throws IllegalArgumentException naming the output if it has no step times
     */
    void parse(String output) {
        String[] lines = output.strip().split("\n");
        String json = lines[lines.length - 1];
        List<Double> e = numbers(json, "eager_s");
        if (e.isEmpty()) {
            throw new IllegalArgumentException("no eager_s step times in '" + json + "'");
        }
        eager.addAll(e);
        torchScript.addAll(numbers(json, "torchscript_s"));
        Matcher v = Pattern.compile("\"torch\":\\s*\"([^\"]*)\"").matcher(json);
        if (v.find()) {
            torchVersion = v.group(1);
        }
        Matcher w = Pattern.compile("\"weights_match\":\\s*(true|false)").matcher(json);
        weightsMatch = w.find() ? Boolean.valueOf(w.group(1)) : null;
    }

    private static List<Double> numbers(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\":\\s*\\[([^\\]]*)\\]").matcher(json);
        List<Double> xs = new ArrayList<>();
        if (m.find()) {
            for (String s : m.group(1).split(",")) {
                if (!s.isBlank()) {
                    xs.add(Double.parseDouble(s.trim()));
                }
            }
        }
        return xs;
    }

    /**
     * Eager step times collected so far.
     *
     * @return seconds
     */
    List<Double> eager() {
        return List.copyOf(eager);
    }

    /**
     * Step times of the pack's TorchScript files in Python.
     *
     * @return seconds
     */
    List<Double> torchScript() {
        return List.copyOf(torchScript);
    }

    /**
     * The PyTorch version the script ran.
     *
     * @return e.g. {@code 1.13.0a0}
     */
    String torchVersion() {
        return torchVersion;
    }

    /**
     * Whether the eager modules hold the pack's weights.
     *
     * @return true, false, or null if the script could not tell
     */
    Boolean weightsMatch() {
        return weightsMatch;
    }

    /**
     * Why the script did not run, if it did not.
     *
     * @return the problem, or null
     */
    String problem() {
        return problem;
    }
}
