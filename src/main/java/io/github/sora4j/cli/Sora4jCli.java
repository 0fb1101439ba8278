package io.github.sora4j.cli;

import io.github.sora4j.load.BudgetExceededException;
import io.github.sora4j.pack.ModelPackException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;

/**
 * The {@code sora4j} command line: {@code generate} a video from a prompt with a progress bar,
 * {@code plan} a generation's memory without loading anything, {@code inspect} a model pack.
 *
 * <pre>
 * sora4j generate --prompt "a red circle moving left" --output out.mp4
 * sora4j generate --pack packs/opensora-v1.2 --prompt "..." --frames 68 --size 256x256 \
 *         --lpl fixed --tdtm-steps 15 --profile phone-arm64-8gb --output out.gif
 * sora4j plan --pack packs/opensora-v1.2 --profile phone-arm64-8gb
 * sora4j inspect packs/opensora-v1.2
 * </pre>
 *
 * <p>From a clone: {@code mvn -q compile exec:java -Dexec.args="generate --prompt '...'"}.
 *
 * <p>Exit codes: {@value #EXIT_OK} success, {@value #EXIT_FAILURE} failure (engine, I/O, a
 * pack that fails its integrity check), {@value #EXIT_USAGE} bad input (options, request, pack,
 * budget), {@value #EXIT_DOES_NOT_FIT} a {@code plan} that does not fit its budget, {@value
 * #EXIT_CANCELLED} cancelled with Ctrl-C. Errors print one line, {@code error:
 * ...}, on standard error ({@code --stacktrace} adds the stack trace).
 */
@Command(name = "sora4j", mixinStandardHelpOptions = true, versionProvider = Sora4jCli.Version.class,
        description = "Text-to-video with Open-Sora v1.2 on memory-limited devices.",
        subcommands = {GenerateCommand.class, PlanCommand.class, InspectCommand.class,
            CommandLine.HelpCommand.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:success", "1:failure (engine, I/O, pack integrity)",
            "2:bad input (options, request, pack, budget)",
            "3:plan: the generation does not fit the memory budget", "130:cancelled (Ctrl-C)"})
public final class Sora4jCli implements Callable<Integer> {
    /** Success. */
    public static final int EXIT_OK = 0;
    /** A failure that is not the input's fault (engine, I/O, a corrupt pack file). */
    public static final int EXIT_FAILURE = 1;
    /** Bad input: an option, the request, the pack or the budget. */
    public static final int EXIT_USAGE = 2;
    /** {@code plan}: the plan does not fit the budget (the plan is printed all the same). */
    public static final int EXIT_DOES_NOT_FIT = 3;
    /** Cancelled (Ctrl-C): nothing was written. */
    public static final int EXIT_CANCELLED = 130;

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    /** {@code --version}: the artifact version, written into a resource at build time. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"sora4j " + version()};
        }

        /**
         * The version of this build, e.g. {@code 0.1.0-SNAPSHOT}.
         *
         * @return the version, or {@code unknown} if the resource is missing
         */
        static String version() {
            try (InputStream in = Sora4jCli.class.getResourceAsStream("version.properties")) {
                if (in == null) {
                    return "unknown";
                }
                Properties p = new Properties();
                p.load(in);
                return p.getProperty("version", "unknown");
            } catch (IOException e) {
                return "unknown";
            }
        }
    }

    @Option(names = "--stacktrace", scope = ScopeType.INHERIT,
            description = "On an error, print the stack trace too.")
    private boolean stacktrace;

    private final boolean terminal;

    private Sora4jCli(boolean terminal) {
        this.terminal = terminal;
    }

    /**
     * Runs the command line and exits with its exit code.
     *
     * @param args the arguments, e.g. {@code generate --prompt "..."}
     */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /**
     * Runs the command line on standard output and error, without exiting.
     *
     * @param args the arguments
     * @return the exit code
     */
    public static int run(String... args) {
        return commandLine(System.console() != null).execute(args);
    }

    /**
     * Runs the command line on the given writers, without exiting (for tests and embedding).
     * Progress is shown as plain lines unless {@code --progress bar} is given.
     *
     * @param out standard output
     * @param err standard error
     * @param args the arguments
     * @return the exit code
     */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = commandLine(false);
        cl.setOut(out);
        cl.setErr(err);
        try {
            return cl.execute(args);
        } finally {
            out.flush();
            err.flush();
        }
    }

    /**
     * The configured picocli command line: one-line errors, exit codes by cause.
     *
     * @param terminal whether standard output is a terminal (progress {@code auto} draws a bar)
     * @return a new command line
     */
    static CommandLine commandLine(boolean terminal) {
        CommandLine cl = new CommandLine(new Sora4jCli(terminal));
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setOverwrittenOptionsAllowed(true); // the last of a repeated option wins
        cl.setParameterExceptionHandler((e, args) -> {
            CommandLine c = e.getCommandLine();
            String message = UnknownOptions.message(c.getCommandSpec(), args)
                    .orElse(oneLine(e.getMessage()));
            c.getErr().println("error: " + message + " (see '"
                    + c.getCommandSpec().qualifiedName() + " --help')");
            c.getErr().flush();
            return EXIT_USAGE;
        });
        cl.setExecutionExceptionHandler((e, c, parsed) -> {
            PrintWriter err = c.getErr();
            err.println("error: " + message(e));
            if (stacktraceRequested(parsed)) {
                e.printStackTrace(err);
            }
            err.flush();
            return exitCode(e);
        });
        return cl;
    }

    /** Whether standard output is a terminal. */
    boolean terminal() {
        return terminal;
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return EXIT_OK;
    }

    /**
     * The exit code of a failure.
     *
     * @param e what was thrown
     * @return {@link #EXIT_USAGE} for bad input, else {@link #EXIT_FAILURE}
     */
    static int exitCode(Throwable e) {
        return e instanceof IllegalArgumentException || e instanceof ModelPackException
                || e instanceof BudgetExceededException
                || e instanceof io.github.sora4j.InvalidRequestException
                || e instanceof io.github.sora4j.InvalidConfigurationException ? EXIT_USAGE
                : EXIT_FAILURE;
    }

    /**
     * A failure's message on one line; an {@link UncheckedIOException}'s is its cause's.
     *
     * @param e what was thrown
     * @return the message
     */
    static String message(Throwable e) {
        Throwable t = e instanceof UncheckedIOException && e.getCause() != null ? e.getCause() : e;
        if (t instanceof FileSystemException f) {
            // Its message is often just the path: say what happened to it.
            String what = f.getReason() != null ? f.getReason()
                    : f instanceof AccessDeniedException ? "permission denied"
                    : f instanceof NoSuchFileException ? "no such file or directory"
                    : f instanceof FileAlreadyExistsException ? "already exists"
                    : f.getClass().getSimpleName();
            return oneLine("I/O error on " + f.getFile()
                    + (f.getOtherFile() != null ? " -> " + f.getOtherFile() : "") + ": " + what);
        }
        String m = t.getMessage();
        if (m == null || m.isBlank()) {
            return t.getClass().getName();
        }
        boolean expected = t instanceof IllegalArgumentException
                || t instanceof io.github.sora4j.Sora4jException
                || t instanceof java.io.IOException;
        return oneLine(expected ? m : t.getClass().getSimpleName() + ": " + m);
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.strip().replaceAll("\\s*\\R\\s*", " ");
    }

    private static boolean stacktraceRequested(ParseResult parsed) {
        for (ParseResult p = parsed; p != null; p = p.subcommand()) {
            if (p.hasMatchedOption("--stacktrace")) {
                return true;
            }
        }
        return false;
    }
}
