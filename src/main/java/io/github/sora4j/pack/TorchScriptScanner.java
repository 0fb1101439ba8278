package io.github.sora4j.pack;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks TorchScript source (the {@code .py} entries of a block archive) against the allowlist of
 * names the sora4j exporter emits ({@code torchscript-allowlist.txt} next to this class). The Java
 * twin of the exporter's {@code sora4j_export/archive.py}; both split the source into identifiers,
 * dots and parentheses without skipping comments or strings (a name hidden there is checked too)
 * and classify the dotted chains:
 *
 * <ul>
 *   <li>starting with {@code torch}, {@code ops} or {@code __torch__.torch.classes}: the whole
 *       chain must be an allowed {@code op}, called or not (so {@code torch.from_file} cannot even
 *       be named);
 *   <li>a called single name: an allowed builtin {@code call}, a {@code def} of the archive or a
 *       printer alias {@code _0}, {@code _1}, …;
 *   <li>a called method ({@code x.name(…)} or {@code (expr).name(…)}): an allowed {@code method}
 *       or a {@code def} of the archive; chains starting with {@code __torch__} name the archive's
 *       own (also scanned) code.
 * </ul>
 */
final class TorchScriptScanner {
    private static final Pattern TOKEN = Pattern.compile(
            "[A-Za-z_][A-Za-z0-9_]*|[0-9][A-Za-z0-9_.]*|\\\\\\r?\\n|\\s+|.", Pattern.DOTALL);
    private static final Pattern IDENT = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern ALIAS = Pattern.compile("_[0-9]+");
    /** Python keywords: not names. The same list as {@code KEYWORDS} in archive.py. */
    static final Set<String> KEYWORDS = Set.of("False", "None", "True", "and", "as", "assert",
            "async", "await", "break", "class", "continue", "def", "del", "elif", "else", "except",
            "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
            "not", "or", "pass", "raise", "return", "try", "while", "with", "yield");
    /** Names that reach files, processes or I/O: named as such in messages. */
    private static final Pattern IO = Pattern.compile(
            ".*(from_file|save|load|open|file|system|exec|eval|import|print|fork|spawn|popen|socket"
                    + "|classes).*");

    private static final Allowlist ALLOW = Allowlist.read();

    private TorchScriptScanner() {}

    /** The parsed allowlist. */
    private record Allowlist(Set<String> ops, Set<String> calls, Set<String> methods) {
        static Allowlist read() {
            Set<String> ops = new HashSet<>();
            Set<String> calls = new HashSet<>();
            Set<String> methods = new HashSet<>();
            try (InputStream in = TorchScriptScanner.class.getResourceAsStream(
                    "torchscript-allowlist.txt")) {
                if (in == null) {
                    throw new io.github.sora4j.Sora4jException("torchscript-allowlist.txt is missing from"
                            + " the sora4j jar");
                }
                for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8)
                        .split("\n")) {
                    line = line.strip();
                    if (line.isEmpty() || line.startsWith("#")) {
                        continue;
                    }
                    String[] kv = line.split("\\s+");
                    (switch (kv[0]) {
                        case "op" -> ops;
                        case "call" -> calls;
                        case "method" -> methods;
                        default -> throw new io.github.sora4j.Sora4jException("bad allowlist line: " + line);
                    }).add(kv[1]);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return new Allowlist(Set.copyOf(ops), Set.copyOf(calls), Set.copyOf(methods));
        }
    }

    /** Names found in some source, by kind. */
    static final class Names {
        final Set<String> ops = new TreeSet<>();
        final Set<String> calls = new TreeSet<>();
        final Set<String> methods = new TreeSet<>();
        final Set<String> defs = new HashSet<>();

        /**
         * Adds the names of one source.
         *
         * @param src TorchScript source
         */
        void scan(String src) {
            List<String> toks = new ArrayList<>();
            Matcher m = TOKEN.matcher(src);
            while (m.find()) {
                String t = m.group();
                if (!t.isBlank() && !t.startsWith("\\")) {
                    toks.add(t);
                }
            }
            int i = 0;
            while (i < toks.size()) {
                String t = toks.get(i);
                if (!isName(t)) {
                    i++;
                    continue;
                }
                String prev = i > 0 ? toks.get(i - 1) : null;
                List<String> chain = new ArrayList<>(List.of(t));
                int j = i + 1;
                while (j + 1 < toks.size() && toks.get(j).equals(".") && isName(toks.get(j + 1))) {
                    chain.add(toks.get(j + 1));
                    j += 2;
                }
                boolean called = j < toks.size() && toks.get(j).equals("(");
                String last = chain.get(chain.size() - 1);
                if ("def".equals(prev) || "class".equals(prev)) {
                    defs.add(t);
                } else if (".".equals(prev)) {
                    if (called) {
                        methods.add(last);
                    }
                } else if (t.equals("torch") || t.equals("ops") || (chain.size() >= 3
                        && t.equals("__torch__") && chain.get(1).equals("torch")
                        && chain.get(2).equals("classes"))) {
                    ops.add(String.join(".", chain));
                } else if (called && !t.equals("__torch__")) {
                    (chain.size() == 1 ? calls : methods).add(last);
                }
                i = j;
            }
        }

        private static boolean isName(String t) {
            return IDENT.matcher(t).matches() && !KEYWORDS.contains(t);
        }

        /**
         * The names the allowlist does not allow, sorted.
         *
         * @return the refused names (empty when the code passes)
         */
        List<String> refused() {
            TreeSet<String> bad = new TreeSet<>();
            ops.stream().filter(o -> !ALLOW.ops().contains(o)).forEach(bad::add);
            calls.stream().filter(c -> !ALLOW.calls().contains(c) && !defs.contains(c)
                    && !ALIAS.matcher(c).matches()).forEach(bad::add);
            methods.stream().filter(c -> !ALLOW.methods().contains(c) && !defs.contains(c))
                    .forEach(bad::add);
            return List.copyOf(bad);
        }
    }

    /**
     * Whether a refused name reaches files, processes or I/O (for the wording of messages).
     *
     * @param name a refused name
     * @return true for names like {@code torch.from_file}
     */
    static boolean isIo(String name) {
        return IO.matcher(name.toLowerCase(java.util.Locale.ROOT)).matches();
    }
}
