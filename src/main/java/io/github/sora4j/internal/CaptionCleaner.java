package io.github.sora4j.internal;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Open-Sora v1.2's {@code clean_caption} (the T5 prompt cleaning of its {@code text_encoder/t5.py},
 * which On-device Sora keeps), re-implemented in Java: URL decoding, lower case, URLs, HTML,
 * {@code @nicknames}, CJK ideographs, dash and quote normalisation, IP addresses, ids, hashtags,
 * file names, runs of punctuation, {@code ftfy} ({@link TextFixer}) and HTML unescaping, product
 * codes, "free shipping"-style phrases, sizes like 1920x1080, and the spacing rules.
 *
 * <p>The regular expressions are Python's, translated so that Java matches what Python's {@code
 * re} matches on str patterns: {@code \w} is a Unicode letter, number or underscore, {@code \b}
 * the boundary of that, {@code \s} Python's whitespace (which includes U+001C..U+001F), {@code \d}
 * a decimal digit, and {@code $} matches only before a final {@code \n}. The golden strings under
 * {@code src/test/resources/upstream/captions.json} (made by upstream's own function with the real
 * ftfy and bs4) must come out identical. Known gaps: see {@link TextFixer} and {@link HtmlText}.
 */
public final class CaptionCleaner {
    private CaptionCleaner() {}

    private static final String W = "[\\p{L}\\p{N}_]";
    private static final String B = "(?:(?<=" + W + ")(?!" + W + ")|(?<!" + W + ")(?=" + W + "))";
    private static final String SPACE_CHARS = "\\t\\n\\x0B\\f\\r\\x1C-\\x20\\x85\\xA0\\u1680"
            + "\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";
    private static final String S = "[" + SPACE_CHARS + "]";
    private static final String NS = "[^" + SPACE_CHARS + "]";
    private static final String D = "\\p{Nd}";
    private static final String ND = "\\P{Nd}";

    private static Pattern p(String regex) {
        return Pattern.compile(regex.replace("\\w", W).replace("\\b", B).replace("\\s", S)
                .replace("\\S", NS).replace("\\d", D).replace("\\D", ND), Pattern.UNIX_LINES);
    }

    private static final Pattern URL_HTTP = p("\\b((?:https?:(?:/{1,3}|[a-zA-Z0-9%])|[a-zA-Z0-9.\\-]+"
            + "[.](?:com|co|ru|net|org|edu|gov|it)[\\p{L}\\p{N}_/-]*\\b/?(?!@)))");
    private static final Pattern URL_WWW = p("\\b((?:www:(?:/{1,3}|[a-zA-Z0-9%])|[a-zA-Z0-9.\\-]+"
            + "[.](?:com|co|ru|net|org|edu|gov|it)[\\p{L}\\p{N}_/-]*\\b/?(?!@)))");
    private static final Pattern NICK = p("@[\\p{L}\\p{N}_]+\\b");
    private static final Pattern[] CJK = {
        p("[\\u31c0-\\u31ef]+"), p("[\\u31f0-\\u31ff]+"), p("[\\u3200-\\u32ff]+"),
        p("[\\u3300-\\u33ff]+"), p("[\\u3400-\\u4dbf]+"), p("[\\u4dc0-\\u4dff]+"),
        p("[\\u4e00-\\u9fff]+")};
    private static final Pattern DASHES = p("[\\-\\u058A\\u05BE\\u1400\\u1806\\u2010-\\u2015"
            + "\\u2E17\\u2E1A\\u2E3A\\u2E3B\\u2E40\\u301C\\u3030\\u30A0\\uFE31\\uFE32\\uFE58\\uFE63"
            + "\\uFF0D]+");
    private static final Pattern DOUBLE_QUOTES = p("[`\u00b4\u00ab\u00bb\u201c\u201d\u00a8]");
    private static final Pattern SINGLE_QUOTES = p("[\u2018\u2019]");
    private static final Pattern QUOT = p("&quot;?");
    private static final Pattern AMP = p("&amp");
    private static final Pattern IP = p("\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
    private static final Pattern ARTICLE_ID = p("\\d:\\d\\d\\s+$");
    private static final Pattern LITERAL_NEWLINE = Pattern.compile("\\\\n");
    private static final Pattern HASH_SHORT = p("#\\d{1,3}\\b");
    private static final Pattern HASH_LONG = p("#\\d{5,}\\b");
    private static final Pattern LONG_NUMBER = p("\\b\\d{6,}\\b");
    private static final Pattern FILENAME = p("[\\S]+\\.(?:png|jpg|jpeg|bmp|webp|eps|pdf|apk|mp4)");
    private static final Pattern QUOTE_RUN = p("[\"']{2,}");
    private static final Pattern DOT_RUN = p("[.]{2,}");
    private static final Pattern BAD_PUNCT = p("[#\u00ae\u2022\u00a9\u2122&@\u00b7\u00ba\u00bd\u00be"
            + "\u00bf\u00a1\u00a7~)(\\]\\[}{|\\\\/*]{1,}");
    private static final Pattern LONE_DOT = p("\\s+\\.\\s+");
    private static final Pattern DASH_OR_UNDERSCORE = p("(?:\\-|_)");
    private static final Pattern CODE1 = p("\\b[a-zA-Z]{1,3}\\d{3,15}\\b");
    private static final Pattern CODE2 = p("\\b[a-zA-Z]+\\d+[a-zA-Z]+\\b");
    private static final Pattern CODE3 = p("\\b\\d+[a-zA-Z]+\\d+\\b");
    private static final Pattern SHIPPING = p("(worldwide\\s+)?(free\\s+)?shipping");
    private static final Pattern DOWNLOAD = p("(free\\s)?download(\\sfree)?");
    private static final Pattern CLICK = p("\\bclick\\b\\s(?:for|on)\\s\\w+");
    private static final Pattern IMAGE_WORD = p("\\b(?:png|jpg|jpeg|bmp|webp|eps|pdf|apk|mp4)"
            + "(\\simage[s]?)?");
    private static final Pattern PAGE = p("\\bpage\\s+\\d+\\b");
    private static final Pattern CODE4 = p("\\b\\d*[a-zA-Z]+\\d+[a-zA-Z]+\\d+[a-zA-Z\\d]*\\b");
    private static final Pattern SIZE = p("\\b\\d+\\.?\\d*[x\u0445\u00d7]\\d+\\.?\\d*\\b");
    private static final Pattern COLON = p("\\b\\s+:\\s+");
    private static final Pattern PUNCT_SPACE = p("(\\D[,./])\\b");
    private static final Pattern SPACES = p("\\s+");
    private static final Pattern QUOTED = p("^[\"']([\\w\\W]+)[\"']$");
    private static final Pattern LEADING = p("^['_,\\-:;]");
    private static final Pattern TRAILING = p("['_,\\-:\\-+]$");
    private static final Pattern DOT_WORD = p("^\\.\\S+$");

    /**
     * Upstream's {@code text_preprocessing}: {@link #cleanCaption} applied twice.
     *
     * @param text the prompt
     * @return the cleaned prompt
     */
    public static String textPreprocessing(String text) {
        return cleanCaption(cleanCaption(text));
    }

    /**
     * Upstream's {@code clean_caption}, one pass.
     *
     * @param caption the text
     * @return the cleaned text
     */
    public static String cleanCaption(String caption) {
        String c = unquotePlus(caption);
        c = pyStrip(c).toLowerCase(Locale.ROOT);
        c = c.replace("<person>", "person");
        c = URL_HTTP.matcher(c).replaceAll("");
        c = URL_WWW.matcher(c).replaceAll("");
        c = HtmlText.text(c);
        c = NICK.matcher(c).replaceAll("");
        for (Pattern cjk : CJK) {
            c = cjk.matcher(c).replaceAll("");
        }
        c = DASHES.matcher(c).replaceAll("-");
        c = DOUBLE_QUOTES.matcher(c).replaceAll("\"");
        c = SINGLE_QUOTES.matcher(c).replaceAll("'");
        c = QUOT.matcher(c).replaceAll("");
        c = AMP.matcher(c).replaceAll("");
        c = IP.matcher(c).replaceAll(" ");
        c = ARTICLE_ID.matcher(c).replaceAll("");
        c = LITERAL_NEWLINE.matcher(c).replaceAll(" ");
        c = HASH_SHORT.matcher(c).replaceAll("");
        c = HASH_LONG.matcher(c).replaceAll("");
        c = LONG_NUMBER.matcher(c).replaceAll("");
        c = FILENAME.matcher(c).replaceAll("");
        c = QUOTE_RUN.matcher(c).replaceAll("\"");
        c = DOT_RUN.matcher(c).replaceAll(" ");
        c = BAD_PUNCT.matcher(c).replaceAll(" ");
        c = LONE_DOT.matcher(c).replaceAll(" ");
        Matcher dashes = DASH_OR_UNDERSCORE.matcher(c);
        int count = 0;
        while (dashes.find()) {
            count++;
        }
        if (count > 3) {
            c = DASH_OR_UNDERSCORE.matcher(c).replaceAll(" ");
        }
        c = basicClean(c);
        c = CODE1.matcher(c).replaceAll("");
        c = CODE2.matcher(c).replaceAll("");
        c = CODE3.matcher(c).replaceAll("");
        c = SHIPPING.matcher(c).replaceAll("");
        c = DOWNLOAD.matcher(c).replaceAll("");
        c = CLICK.matcher(c).replaceAll("");
        c = IMAGE_WORD.matcher(c).replaceAll("");
        c = PAGE.matcher(c).replaceAll("");
        c = CODE4.matcher(c).replaceAll(" ");
        c = SIZE.matcher(c).replaceAll("");
        c = COLON.matcher(c).replaceAll(": ");
        c = PUNCT_SPACE.matcher(c).replaceAll("$1 ");
        c = SPACES.matcher(c).replaceAll(" ");
        c = QUOTED.matcher(c).replaceAll("$1");
        c = LEADING.matcher(c).replaceAll("");
        c = TRAILING.matcher(c).replaceAll("");
        c = DOT_WORD.matcher(c).replaceAll("");
        return pyStrip(c);
    }

    /** Upstream's basic_clean: ftfy, HTML unescaping twice, strip. */
    private static String basicClean(String text) {
        return pyStrip(HtmlText.unescape(HtmlText.unescape(TextFixer.fixText(text))));
    }

    /**
     * Python's {@code str.strip()}: removes leading and trailing characters for which {@code
     * str.isspace()} holds.
     *
     * @param s text
     * @return stripped text
     */
    static String pyStrip(String s) {
        int a = 0;
        int b = s.length();
        while (a < b && isPySpace(s.charAt(a))) {
            a++;
        }
        while (b > a && isPySpace(s.charAt(b - 1))) {
            b--;
        }
        return s.substring(a, b);
    }

    private static boolean isPySpace(char c) {
        return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0
                || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029
                || c == 0x202f || c == 0x205f || c == 0x3000;
    }

    /**
     * Python's {@code urllib.parse.unquote_plus}: {@code +} to a space, then each run of ASCII
     * characters has its valid {@code %XX} escapes decoded as UTF-8, malformed bytes becoming
     * U+FFFD; other characters pass through.
     *
     * @param s text
     * @return decoded text
     */
    static String unquotePlus(String s) {
        s = s.replace('+', ' ');
        if (s.indexOf('%') < 0) {
            return s;
        }
        StringBuilder out = new StringBuilder(s.length());
        int i = 0;
        while (i < s.length()) {
            int j = i;
            while (j < s.length() && s.charAt(j) < 0x80) {
                j++;
            }
            if (j > i) {
                out.append(decodeAsciiRun(s.substring(i, j)));
                i = j;
            }
            while (j < s.length() && s.charAt(j) >= 0x80) {
                j++;
            }
            out.append(s, i, j);
            i = j;
        }
        return out.toString();
    }

    private static String decodeAsciiRun(String run) {
        if (run.indexOf('%') < 0) {
            return run;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(run.length());
        for (int i = 0; i < run.length(); i++) {
            char ch = run.charAt(i);
            if (ch == '%' && i + 2 < run.length() && hex(run.charAt(i + 1)) >= 0
                    && hex(run.charAt(i + 2)) >= 0) {
                bytes.write(hex(run.charAt(i + 1)) * 16 + hex(run.charAt(i + 2)));
                i += 2;
            } else {
                bytes.write(ch);
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPLACE)
                    .onUnmappableCharacter(CodingErrorAction.REPLACE)
                    .decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
        } catch (CharacterCodingException e) {
            throw new io.github.sora4j.Sora4jException("cannot decode a caption: " + e, e);
        }
    }

    private static int hex(char c) {
        return Character.digit(c, 16) >= 0 && c < 0x80 ? Character.digit(c, 16) : -1;
    }

    /**
     * Lower-cases like Python's {@code str.lower()} for the prompts sora4j handles.
     *
     * @param s text
     * @return lower-cased text
     */
    static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }
}
