package io.github.sora4j.internal;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The HTML pieces of Open-Sora's {@code clean_caption}, in Java: Python's {@code html.unescape}
 * and the text of {@code BeautifulSoup(caption, "html.parser")} (Python's {@code html.parser}
 * tokenizer with bs4's entity and character-reference handling).
 *
 * <p>Covered: start and end tags (attributes, quoted values with {@code >} inside), comments,
 * declarations and processing instructions (dropped from the text, as bs4's {@code .text} drops
 * them), named and numeric character references (bs4: a reference below 256 is read as
 * windows-1252, an unknown name keeps {@code &name} without its semicolon), a literal {@code <}
 * or {@code &}, and html.parser's end-of-input cases for an unterminated tag or reference. Not
 * covered: {@code <script>}/{@code <style>} content (html.parser's CDATA mode; bs4 keeps it out
 * of {@code .text}, this class keeps it in) and {@code <![CDATA[…]]>} sections.
 */
final class HtmlText {
    private HtmlText() {}

    private static final Map<String, String> HTML5 = loadEntities();
    /** Windows-1252 for 0x80..0x9F; the five undefined bytes map to themselves. */
    private static final String CP1252_80 = "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021"
            + "\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022"
            + "\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178";

    private static final Pattern CHARREF = Pattern.compile(
            "&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\\t\\n\\f <&#;]{1,32};?)");
    private static final Pattern P_ENTITYREF = Pattern.compile("&([a-zA-Z][-.a-zA-Z0-9]*)[^a-zA-Z0-9]");
    private static final Pattern P_CHARREF = Pattern.compile("&#(?:[0-9]+|[xX][0-9a-fA-F]+)[^0-9a-fA-F]");
    private static final Pattern P_INCOMPLETE = Pattern.compile("&[a-zA-Z#]");
    private static final String SP = "[\\t\\n\\x0B\\f\\r\\x1C-\\x20\\x85\\xA0\\u1680"
            + "\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]";
    private static final String NSP = SP.replace("[", "[^");
    /** html.parser's locatestarttagend_tolerant. */
    private static final Pattern P_STARTTAG = Pattern.compile(
            ("<[a-zA-Z][^\\t\\n\\r\\f />\\x00]*(?:[S/]*(?:(?<=['\"S/])[^S/>][^S/=>]*"
                    + "(?:S*=+S*(?:'[^']*'|\"[^\"]*\"|(?!['\"])[^>S]*)S*)?(?:S|/(?!>))*)*)?S*")
                    .replace("[^S/>]", NSP.replace("]", "/>]"))
                    .replace("[^S/=>]", NSP.replace("]", "/=>]"))
                    .replace("[^>S]", NSP.replace("]", ">]"))
                    .replace("['\"S/]", SP.replace("]", "'\"/]"))
                    .replace("[S/]", SP.replace("]", "/]"))
                    .replace("S", SP));

    private static Map<String, String> loadEntities() {
        Map<String, String> m = new HashMap<>(4096);
        try (InputStream in = HtmlText.class.getResourceAsStream("html5-entities.tsv")) {
            if (in == null) {
                throw new io.github.sora4j.Sora4jException("html5-entities.tsv missing from the classpath");
            }
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line; (line = r.readLine()) != null;) {
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                int tab = line.indexOf('\t');
                StringBuilder v = new StringBuilder();
                for (String hex : line.substring(tab + 1).split(" ")) {
                    v.appendCodePoint(Integer.parseInt(hex, 16));
                }
                m.put(line.substring(0, tab), v.toString());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return m;
    }

    /**
     * The HTML5 character reference named {@code name} (with its {@code ;} where it needs one).
     *
     * @param name the name, e.g. {@code "amp;"}
     * @return the characters, or null
     */
    static String entity(String name) {
        return HTML5.get(name);
    }

    /**
     * Python's {@code html.unescape}.
     *
     * @param s text
     * @return text with character references replaced
     */
    static String unescape(String s) {
        if (s.indexOf('&') < 0) {
            return s;
        }
        Matcher m = CHARREF.matcher(s);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(out, Matcher.quoteReplacement(replaceCharref(m.group(1))));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static String replaceCharref(String s) {
        if (s.charAt(0) == '#') {
            boolean hex = s.charAt(1) == 'x' || s.charAt(1) == 'X';
            String digits = s.substring(hex ? 2 : 1);
            if (digits.endsWith(";")) {
                digits = digits.substring(0, digits.length() - 1);
            }
            BigInteger big = new BigInteger(digits, hex ? 16 : 10);
            if (big.compareTo(BigInteger.valueOf(0x10FFFF)) > 0) {
                return "\ufffd";
            }
            int num = big.intValue();
            if (num == 0) {
                return "\ufffd";
            }
            if (num == 0x0d) {
                return "\r";
            }
            if (num >= 0x80 && num <= 0x9f) {
                return String.valueOf(CP1252_80.charAt(num - 0x80));
            }
            if (num >= 0xD800 && num <= 0xDFFF) {
                return "\ufffd";
            }
            if ((num >= 0x1 && num <= 0x8) || num == 0xb || (num >= 0xe && num <= 0x1f)
                    || (num >= 0x7f && num <= 0x9f) || (num >= 0xfdd0 && num <= 0xfdef)
                    || (num & 0xfffe) == 0xfffe) {
                return "";
            }
            return new String(Character.toChars(num));
        }
        String v = HTML5.get(s);
        if (v != null) {
            return v;
        }
        for (int x = s.length() - 1; x > 1; x--) {
            String p = HTML5.get(s.substring(0, x));
            if (p != null) {
                return p + s.substring(x);
            }
        }
        return "&" + s;
    }

    /**
     * {@code BeautifulSoup(s, features="html.parser").text}: the character data of {@code s}
     * with tags, comments and declarations removed and references resolved as bs4 does.
     *
     * @param s markup
     * @return its text
     */
    static String text(String s) {
        StringBuilder out = new StringBuilder();
        // bs4 feeds the whole string (html.parser goahead(end=False)) and then closes it
        // (goahead(end=True)) on what is left.
        int rest = goahead(s, 0, false, out);
        if (rest < s.length()) {
            goahead(s, rest, true, out);
        }
        return out.toString();
    }

    private static int goahead(String raw, int start, boolean end, StringBuilder out) {
        int i = start;
        int n = raw.length();
        while (i < n) {
            int j = i;
            while (j < n && raw.charAt(j) != '<' && raw.charAt(j) != '&') {
                j++;
            }
            out.append(raw, i, j);
            i = j;
            if (i == n) {
                break;
            }
            if (raw.charAt(i) == '<') {
                int k;
                if (i + 1 < n && isAsciiLetter(raw.charAt(i + 1))) {
                    k = startTag(raw, i);
                } else if (raw.startsWith("</", i)) {
                    k = closingAt(raw, i + 2, ">");
                } else if (raw.startsWith("<!--", i)) {
                    k = closingAt(raw, i + 4, "-->");
                } else if (raw.startsWith("<?", i) || raw.startsWith("<!", i)) {
                    k = closingAt(raw, i + 2, ">");
                } else if (i + 1 < n) {
                    out.append('<');
                    k = i + 1;
                } else {
                    break;
                }
                if (k < 0) {
                    if (!end) {
                        break;
                    }
                    k = raw.indexOf('>', i + 1);
                    if (k < 0) {
                        k = raw.indexOf('<', i + 1);
                        if (k < 0) {
                            k = i + 1;
                        }
                    } else {
                        k++;
                    }
                    out.append(raw, i, k);
                }
                i = k;
            } else if (raw.startsWith("&#", i)) {
                Matcher m = P_CHARREF.matcher(raw).region(i, n);
                if (m.lookingAt()) {
                    String g = m.group();
                    out.append(bs4Charref(g.substring(2, g.length() - 1)));
                    i = raw.charAt(m.end() - 1) == ';' ? m.end() : m.end() - 1;
                    continue;
                }
                if (raw.indexOf(';', i) >= 0) {
                    out.append("&#");
                    i += 2;
                }
                break;
            } else {
                Matcher m = P_ENTITYREF.matcher(raw).region(i, n);
                if (m.lookingAt()) {
                    String name = m.group(1);
                    String v = HTML5.get(name + ";");
                    if (v == null) {
                        v = HTML5.get(name);
                    }
                    out.append(v != null ? v : "&" + name);
                    i = raw.charAt(m.end() - 1) == ';' ? m.end() : m.end() - 1;
                    continue;
                }
                Matcher inc = P_INCOMPLETE.matcher(raw).region(i, n);
                if (inc.lookingAt()) {
                    if (end && inc.end() == n) {
                        i = i + 1;
                    }
                    break;
                } else if (i + 1 < n) {
                    out.append('&');
                    i++;
                } else {
                    break;
                }
            }
        }
        if (end && i < n) {
            out.append(raw, i, n);
            i = n;
        }
        return i;
    }

    private static boolean isAsciiLetter(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }

    /** html.parser's check_for_whole_start_tag: the end of the tag, or -1 if incomplete. */
    private static int startTag(String raw, int i) {
        Matcher m = P_STARTTAG.matcher(raw).region(i, raw.length());
        if (!m.lookingAt()) {
            return -1;
        }
        int j = m.end();
        if (j >= raw.length()) {
            return -1;
        }
        char next = raw.charAt(j);
        if (next == '>') {
            return j + 1;
        }
        if (next == '/') {
            if (raw.startsWith("/>", j)) {
                return j + 2;
            }
            return -1;
        }
        if (isAsciiLetter(next) || next == '=' || next == '/') {
            return -1;
        }
        return j > i ? j : i + 1;
    }

    private static int closingAt(String raw, int from, String close) {
        int k = raw.indexOf(close, from);
        return k < 0 ? -1 : k + close.length();
    }

    /** bs4's handle_charref: below 256 as windows-1252, else the code point, else U+FFFD. */
    private static String bs4Charref(String name) {
        boolean hex = name.startsWith("x") || name.startsWith("X");
        BigInteger big = new BigInteger(hex ? name.substring(1) : name, hex ? 16 : 10);
        if (big.compareTo(BigInteger.valueOf(0x10FFFF)) > 0) {
            return "\ufffd";
        }
        int num = big.intValue();
        if (num >= 0x80 && num <= 0x9f) {
            return String.valueOf(CP1252_80.charAt(num - 0x80));
        }
        return new String(Character.toChars(num));
    }
}
