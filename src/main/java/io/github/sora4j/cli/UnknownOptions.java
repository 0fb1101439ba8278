package io.github.sora4j.cli;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Unknown options on a command line, and the closest known option to suggest: {@code --promt}
 * gets {@code unknown option '--promt' (did you mean --prompt?)} rather than picocli's report of
 * whatever it checked first (for {@code generate --promt x}, the missing {@code --prompt}).
 */
final class UnknownOptions {
    private UnknownOptions() {}

    /**
     * The error message for the first unknown option among the arguments, if there is one.
     *
     * @param spec the (sub)command the arguments were parsed for
     * @param args the whole command line
     * @return {@code unknown option '--x'} with a suggestion when one is close, or empty
     */
    static Optional<String> message(CommandSpec spec, String... args) {
        List<String> unknown = unknown(spec, args);
        if (unknown.isEmpty()) {
            return Optional.empty();
        }
        String option = unknown.get(0);
        String msg = "unknown option '" + option + "'";
        Optional<String> closest = closest(option, knownOptions(spec));
        if (closest.isPresent()) {
            msg += " (did you mean " + closest.get() + "?)";
        }
        return Optional.of(msg);
    }

    /** Arguments that look like options (after the subcommand's name) and are not known. */
    static List<String> unknown(CommandSpec spec, String... args) {
        Collection<String> known = knownOptions(spec);
        List<String> subcommands = new ArrayList<>();
        for (CommandSpec s = spec; s != null; s = s.parent()) {
            subcommands.add(s.name());
        }
        List<String> out = new ArrayList<>();
        for (String arg : args) {
            if (arg.equals("--")) {
                break;
            }
            if (!arg.startsWith("-") || arg.equals("-") || arg.matches("-\\d.*")) {
                continue;
            }
            String name = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
            if (!known.contains(name) && !subcommands.contains(name)) {
                out.add(name);
            }
        }
        return out;
    }

    private static Collection<String> knownOptions(CommandSpec spec) {
        List<String> names = new ArrayList<>(spec.optionsMap().keySet());
        for (CommandSpec p = spec.parent(); p != null; p = p.parent()) {
            for (CommandLine.Model.OptionSpec o : p.options()) {
                if (o.inherited() || o.scopeType() == CommandLine.ScopeType.INHERIT) {
                    names.addAll(List.of(o.names()));
                }
            }
        }
        return names;
    }

    /**
     * The known option closest to {@code option} by edit distance, if it is close enough to be a
     * typo: at most 2 edits, or a third of the name's length for long names, or a prefix.
     *
     * @param option the unknown option
     * @param known the options of the command
     * @return the suggestion, or empty
     */
    static Optional<String> closest(String option, Collection<String> known) {
        String o = option.toLowerCase(Locale.ROOT);
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String k : known) {
            if (!k.startsWith("--")) {
                continue;
            }
            int d = k.startsWith(o) && o.length() >= 4 ? 0 : distance(o, k.toLowerCase(Locale.ROOT));
            if (d < bestDistance) {
                best = k;
                bestDistance = d;
            }
        }
        int limit = Math.max(2, (o.length() - 2) / 3);
        return best != null && bestDistance <= limit ? Optional.of(best) : Optional.empty();
    }

    /** Optimal string alignment distance: insertions, deletions, substitutions, transpositions. */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1),
                        d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2)
                        && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }
}
