package io.github.sora4j.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;

/** Prompt cleaning against upstream's own clean_caption (src/test/resources/upstream). */
class CaptionCleanerTest {

    private static JsonArray golden() throws IOException {
        try (InputStream in = CaptionCleanerTest.class.getResourceAsStream(
                "/upstream/captions.json")) {
            return JsonParser.parseReader(new InputStreamReader(in, StandardCharsets.UTF_8))
                    .getAsJsonArray();
        }
    }

    @Test
    void everyGoldenPromptCleansExactlyAsUpstreamDoes() throws IOException {
        JsonArray cases = golden();
        assertThat(cases.size()).isGreaterThanOrEqualTo(40);
        SoftAssertions soft = new SoftAssertions();
        for (JsonElement e : cases) {
            JsonObject c = e.getAsJsonObject();
            String prompt = c.get("prompt").getAsString();
            soft.assertThat(CaptionCleaner.textPreprocessing(prompt)).as("clean %s", prompt)
                    .isEqualTo(c.get("clean").getAsString());
            soft.assertThat(Prompts.prepare(prompt, 6.5)).as("prepared %s", prompt)
                    .isEqualTo(c.get("prepared").getAsString());
        }
        soft.assertAll();
    }

    @Test
    void theAestheticScoreIsAppendedBeforeCleaning() {
        // Cleaning after appending: the trailing comma is no longer trailing, so it stays.
        assertThat(Prompts.prepare("a cat,", 6.5)).isEqualTo("a cat, aesthetic score: 6.5.");
        assertThat(Prompts.withAestheticScore(Prompts.clean("a cat,"), 6.5))
                .isEqualTo("a cat, aesthetic score: 6.5.");
        assertThat(Prompts.prepare("A cat aesthetic score: 5.0.", 6.5))
                .isEqualTo("a cat aesthetic score: 5.0.");
        assertThat(Prompts.prepare("A cat", Double.NaN)).isEqualTo("a cat");
    }

    @Test
    void pythonStyleHelpersFollowPythonsDefinitions() {
        // Expected values printed by Python 3.11 (urllib.parse, str.strip, html, bs4 4.15).
        assertThat(CaptionCleaner.unquotePlus("a%20b+c%zz%E2%82%AC%E2%82")).isEqualTo("a b c%zz€\ufffd");
        assertThat(CaptionCleaner.pyStrip("\u001c\u00a0 x \u3000")).isEqualTo("x");
        assertThat(HtmlText.unescape("&amp;&ampx &#x41;&#65 &#0; &#128; &bogus; &notit;"))
                .isEqualTo("&&x AA \ufffd \u20ac &bogus; \u00acit;");
        assertThat(HtmlText.text("<a href='x>y'>link</a> &amp; <!-- c --> 1 < 2 &foo; &#147;"))
                .isEqualTo("link &  1 < 2 &foo \u201c");
        // html.parser at the end of its input (values printed by Python 3.11 with bs4 4.15).
        assertThat(HtmlText.text("fish &amp")).isEqualTo("fish &amp");
        assertThat(HtmlText.text("a &b")).isEqualTo("a b");
        assertThat(HtmlText.text("x <b")).isEqualTo("x <b");
    }
}
