package io.github.sora4j.internal;

import java.text.Normalizer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The part of {@code ftfy.fix_text} (ftfy 6.3, default settings) that Open-Sora's prompt cleaning
 * relies on, in Java. Per line, repeated until nothing changes: HTML entities ending in {@code ;}
 * (until a line contains {@code <}: from there on they stay), C1 controls read as windows-1252, Latin ligatures,
 * fullwidth/halfwidth forms, curly quotes, line breaks, ANSI escapes, control characters, NFC.
 *
 * <p>Not implemented: ftfy's mojibake repair ({@code fix_encoding}: text decoded in the wrong
 * encoding, such as {@code "âœ”"} for {@code "✔"}), its upper-case entity variants ({@code
 * &EACUTE;}) and its surrogate-pair repair. A prompt that needs them cleans differently from
 * upstream; ordinary prompts (including the golden set under {@code src/test/resources/upstream})
 * do not.
 */
final class TextFixer {
    private TextFixer() {}

    private static final Pattern ENTITY = Pattern.compile("&#?[0-9A-Za-z]{1,24};");
    private static final Pattern ANSI = Pattern.compile("\u001b\\[((?:\\d|;)*)([a-zA-Z])");
    private static final String CP1252_80 = "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021"
            + "\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022"
            + "\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178";

    /**
     * ftfy's {@code fix_text} without mojibake repair.
     *
     * @param text text
     * @return fixed text
     */
    static String fixText(String text) {
        StringBuilder out = new StringBuilder();
        int pos = 0;
        // ftfy: once a line contains '<', entities stay escaped in it and in every later line.
        boolean unescape = true;
        while (pos < text.length()) {
            int brk = text.indexOf('\n', pos) + 1;
            if (brk == 0) {
                brk = text.length();
            }
            String segment = text.substring(pos, brk);
            unescape &= segment.indexOf('<') < 0;
            out.append(fixSegment(segment, unescape));
            pos = brk;
        }
        return out.toString();
    }

    private static String fixSegment(String s, boolean unescape) {
        while (true) {
            String orig = s;
            if (unescape) {
                s = unescapeEntities(s);
            }
            s = c1Controls(s);
            s = ligatures(s);
            s = width(s);
            s = uncurl(s);
            s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
                    .replace("\u2029", "\n").replace("\u0085", "\n");
            s = ANSI.matcher(s).replaceAll("");
            s = controlChars(s);
            s = Normalizer.normalize(s, Normalizer.Form.NFC);
            if (s.equals(orig)) {
                return s;
            }
        }
    }

    private static String unescapeEntities(String s) {
        if (s.indexOf('&') < 0) {
            return s;
        }
        Matcher m = ENTITY.matcher(s);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String e = m.group();
            String r = HtmlText.entity(e.substring(1));
            if (r == null) {
                r = e;
                if (e.startsWith("&#")) {
                    String u = HtmlText.unescape(e);
                    r = u.indexOf(';') >= 0 ? e : u;
                }
            }
            m.appendReplacement(out, Matcher.quoteReplacement(r));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static String c1Controls(String s) {
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= 0x80 && c <= 0x9f) {
                if (b == null) {
                    b = new StringBuilder(s.substring(0, i));
                }
                b.append(CP1252_80.charAt(c - 0x80));
            } else if (b != null) {
                b.append(c);
            }
        }
        return b == null ? s : b.toString();
    }

    private static String ligatures(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case 'Ĳ' -> b.append("IJ");
                case 'ĳ' -> b.append("ij");
                case 'ŉ' -> b.append("ʼn");
                case 'Ǳ' -> b.append("DZ");
                case 'ǲ' -> b.append("Dz");
                case 'ǳ' -> b.append("dz");
                case 'Ǆ' -> b.append("DŽ");
                case 'ǅ' -> b.append("Dž");
                case 'ǆ' -> b.append("dž");
                case 'Ǉ' -> b.append("LJ");
                case 'ǈ' -> b.append("Lj");
                case 'ǉ' -> b.append("lj");
                case 'Ǌ' -> b.append("NJ");
                case 'ǋ' -> b.append("Nj");
                case 'ǌ' -> b.append("nj");
                case '\ufb00' -> b.append("ff");
                case '\ufb01' -> b.append("fi");
                case '\ufb02' -> b.append("fl");
                case '\ufb03' -> b.append("ffi");
                case '\ufb04' -> b.append("ffl");
                case '\ufb05' -> b.append("\u017ft");
                case '\ufb06' -> b.append("st");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    /** U+3000 → space, U+FF01..U+FFEF → their NFKC form where it differs. */
    private static String width(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\u3000') {
                b.append(' ');
            } else if (c >= '\uff01' && c < '\ufff0') {
                b.append(Normalizer.normalize(String.valueOf(c), Normalizer.Form.NFKC));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    private static String uncurl(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= '\u201c' && c <= '\u201f') {
                b.append('"');
            } else if (c == '\u02bc' || (c >= '\u2018' && c <= '\u201b')) {
                b.append('\'');
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    private static String controlChars(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean drop = c <= 0x08 || c == 0x0b || (c >= 0x0e && c <= 0x1f) || c == 0x7f
                    || (c >= 0x206a && c <= 0x206f) || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffc);
            if (!drop) {
                b.append(c);
            }
        }
        return b.toString();
    }
}
