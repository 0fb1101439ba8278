package io.github.sora4j.internal;

import com.sun.jna.Function;
import io.github.sora4j.InvalidConfigurationException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes libtorch's OpenMP threads sleep, not spin, while they wait for work: sets {@code
 * OMP_WAIT_POLICY=PASSIVE} in the process environment before DJL loads libtorch and its OpenMP
 * runtime, which read the variable once, when they load.
 *
 * <p>Why: by default an OpenMP worker that finishes its share of an operator spins for a while
 * (GNU libgomp: 300,000 iterations) before it sleeps, and the thread that started the operator
 * spins at the barrier until every worker is done. When another process holds one of the cores
 * (a build, a second app, a phone's UI thread), a worker that lost its core is not done until the
 * scheduler gives it back, and the threads that still have a core burn their time slices
 * spinning. {@code benchmarks/omp_wait.sh} measures the demo pack's generation both ways, with the
 * cores free and beside busy processes (docs/benchmarks.md, "OpenMP wait policy").
 *
 * <p>What it leaves alone: an {@code OMP_WAIT_POLICY} or {@code GOMP_SPINCOUNT} already in the
 * environment (the user's choice wins); {@code -Dsora4j.ompWaitPolicy=default} (libtorch's own
 * default); systems other than Linux (it is set through glibc's {@code setenv}; on macOS and
 * Windows set the variable yourself). If an OpenMP runtime is already in
 * the process (the application started DJL's PyTorch engine before sora4j did), setting the
 * variable would change nothing: it logs one warning saying how to set it instead.
 */
public final class OpenMpWaitPolicy {
    /** The system property: {@code passive} (the default) or {@code default}. */
    public static final String PROPERTY = "sora4j.ompWaitPolicy";
    /** The variable OpenMP runtimes read. */
    public static final String VARIABLE = "OMP_WAIT_POLICY";

    private static final Logger LOG = LoggerFactory.getLogger(OpenMpWaitPolicy.class);
    private static final Path MAPS = Path.of("/proc/self/maps");

    /** What {@link #apply()} found and did. */
    public enum Outcome {
        /** {@code OMP_WAIT_POLICY=PASSIVE} set before the OpenMP runtime loaded. */
        SET_PASSIVE,
        /** The environment already has {@code OMP_WAIT_POLICY} or {@code GOMP_SPINCOUNT}. */
        LEFT_TO_ENVIRONMENT,
        /** {@code -Dsora4j.ompWaitPolicy=default}. */
        TURNED_OFF,
        /** An OpenMP runtime was already loaded: too late, a warning says so. */
        TOO_LATE,
        /** Not Linux (macOS, Windows: nothing set), or {@code setenv} failed. */
        UNSUPPORTED
    }

    private static volatile Outcome outcome;

    private OpenMpWaitPolicy() {}

    /**
     * Sets {@code OMP_WAIT_POLICY=PASSIVE} unless told or found otherwise; once per process.
     *
     * @return what it did (the first call's outcome on later calls)
     */
    public static synchronized Outcome apply() {
        if (outcome == null) {
            outcome = decide(System.getProperty(PROPERTY, "passive"), System::getenv,
                    System.getProperty("os.name", ""), OpenMpWaitPolicy::openMpLoaded,
                    OpenMpWaitPolicy::setenv);
            LOG.debug("OpenMP wait policy: {}", outcome);
        }
        return outcome;
    }

    /**
     * What {@link #apply()} did, or null before it ran.
     *
     * @return the outcome
     */
    public static Outcome outcome() {
        return outcome;
    }

    /** The decision, with the process's state passed in (tests call it directly). */
    static Outcome decide(String property, UnaryOperator<String> env, String osName,
            BooleanSupplier openMpLoaded, Setenv setenv) {
        String p = property.strip().toLowerCase(Locale.ROOT);
        if (p.equals("default")) {
            return Outcome.TURNED_OFF;
        }
        if (!p.equals("passive")) {
            throw new InvalidConfigurationException("-D" + PROPERTY + "="
                    + property + " is not a wait policy: use passive (the default: OpenMP threads "
                    + "sleep while they wait) or default (libtorch's own, which spins)");
        }
        if (isSet(env.apply(VARIABLE)) || isSet(env.apply("GOMP_SPINCOUNT"))) {
            return Outcome.LEFT_TO_ENVIRONMENT;
        }
        if (osName.toLowerCase(Locale.ROOT).startsWith("win")) {
            return Outcome.UNSUPPORTED;
        }
        if (openMpLoaded.getAsBoolean()) {
            LOG.warn("libtorch's OpenMP runtime was loaded before sora4j could set {}=PASSIVE: "
                    + "where other processes keep cores busy, its threads spin and generation can "
                    + "be many times slower (docs/troubleshooting.md, \"Slow on a busy machine\"). "
                    + "Set {}=PASSIVE in the environment that starts the JVM", VARIABLE, VARIABLE);
            return Outcome.TOO_LATE;
        }
        return setenv.set(VARIABLE, "PASSIVE") ? Outcome.SET_PASSIVE : Outcome.UNSUPPORTED;
    }

    private static boolean isSet(String value) {
        return value != null && !value.isBlank();
    }

    /** {@code setenv(name, value, 0)}. */
    @FunctionalInterface
    interface Setenv {
        /**
         * Sets a variable in the process environment.
         *
         * @param name the variable
         * @param value its value
         * @return whether it was set
         */
        boolean set(String name, String value);
    }

    private static boolean setenv(String name, String value) {
        Function f = Libc.function("setenv");
        return f != null && f.invokeInt(new Object[] {name, value, 0}) == 0;
    }

    /** Whether a GNU or LLVM OpenMP runtime is mapped into this process (Linux only). */
    private static boolean openMpLoaded() {
        if (!Files.isReadable(MAPS)) {
            return false;
        }
        try (var lines = Files.lines(MAPS)) {
            return lines.anyMatch(l -> l.contains("libgomp") || l.contains("libomp")
                    || l.contains("libiomp"));
        } catch (IOException | UncheckedIOException e) {
            return false;
        }
    }
}
