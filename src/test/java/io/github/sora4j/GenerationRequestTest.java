package io.github.sora4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.sora4j.internal.Prompts;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.PackManifest;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class GenerationRequestTest {

    @Test
    void framesSizeFpsAndGuidanceLeftUnsetComeFromThePackTheRestAreOpenSorasDefaults() {
        GenerationRequest r = GenerationRequest.builder("a cat").build();
        assertThat(r.frames()).isEqualTo(GenerationRequest.FROM_PACK);
        assertThat(r.width()).isEqualTo(GenerationRequest.FROM_PACK);
        assertThat(r.height()).isEqualTo(GenerationRequest.FROM_PACK);
        assertThat(r.fps()).isEqualTo(GenerationRequest.FROM_PACK);
        assertThat(r.usesPackDefaults()).isTrue();
        assertThat(r.steps()).isEqualTo(30);
        assertThat(r.guidanceScale()).isEqualTo(GenerationRequest.GUIDANCE_FROM_PACK);
        assertThat(r.aestheticScore()).isEqualTo(6.5);
        assertThat(r.toBuilder().build()).isEqualTo(r);
    }

    @Test
    void theDemoPacksNativeRequestFillsTheUnsetValues() {
        PackManifest demo = ModelPack.embeddedDefault().manifest();
        GenerationRequest r = GenerationRequest.builder("a cat").seed(7).build()
                .withPackDefaults(demo);
        assertThat(r.frames()).isEqualTo(51);
        assertThat(r.width()).isEqualTo(64);
        assertThat(r.height()).isEqualTo(64);
        assertThat(r.fps()).isEqualTo(demo.sampling().fps());
        assertThat(r.guidanceScale()).isEqualTo(demo.sampling().guidanceScale());
        assertThat(r.seed()).isEqualTo(7);
        assertThat(r.usesPackDefaults()).isFalse();
        assertThat(r.withPackDefaults(demo)).isSameAs(r);
    }

    @Test
    void valuesTheCallerSetAreKeptAndPacksWithoutARequestGetOpenSoras() {
        PackManifest demo = ModelPack.embeddedDefault().manifest();
        GenerationRequest r = GenerationRequest.builder("a cat").frames(9).build()
                .withPackDefaults(demo);
        assertThat(List.of(r.frames(), r.width(), r.height())).containsExactly(9, 64, 64);
        r = GenerationRequest.builder("a cat").size(32, 48).fps(12).build().withPackDefaults(demo);
        assertThat(List.of(r.frames(), r.width(), r.height(), r.fps()))
                .containsExactly(51, 32, 48, 12);
        PackManifest tiny = ModelPack.embedded("tiny-random").manifest();
        assertThat(tiny.request()).isNull();
        r = GenerationRequest.builder("a cat").build().withPackDefaults(tiny);
        assertThat(List.of(r.frames(), r.width(), r.height(), r.fps())).containsExactly(
                GenerationRequest.DEFAULT_FRAMES, GenerationRequest.DEFAULT_SIZE,
                GenerationRequest.DEFAULT_SIZE, GenerationRequest.DEFAULT_FPS);
        assertThat(r.guidanceScale()).isEqualTo(tiny.sampling().guidanceScale())
                .isEqualTo(GenerationRequest.DEFAULT_GUIDANCE);
        r = GenerationRequest.builder("a cat").guidanceScale(2.5).build().withPackDefaults(demo);
        assertThat(r.guidanceScale()).isEqualTo(2.5);
    }

    @Test
    void negativeFramesHalfASizeAndBadFpsAreRejectedWithTheValue() {
        assertThatThrownBy(() -> GenerationRequest.builder("x").frames(-1).build())
                .hasMessage("frames must be >= 1 (or unset) but was -1");
        assertThatThrownBy(() -> GenerationRequest.builder("x").size(0, 64).build())
                .hasMessage("width and height must be >= 1 (or both unset) but were 0x64");
        assertThatThrownBy(() -> GenerationRequest.builder("x").fps(241).build())
                .hasMessage("fps must be in 1..240 (or unset) but was 241");
    }

    @Test
    void emptyPromptIsRejectedWithTheValue() {
        assertThatThrownBy(() -> GenerationRequest.builder("   ").build())
                .isInstanceOf(InvalidRequestException.class)
                .hasMessage("prompt must contain visible text but was 3 invisible characters "
                        + "(U+0020)");
        assertThatThrownBy(() -> GenerationRequest.builder("").build())
                .hasMessage("prompt must contain visible text but was empty");
        assertThatThrownBy(() -> GenerationRequest.builder(null).build())
                .hasMessage("prompt must contain visible text but was null");
    }

    @ParameterizedTest
    @ValueSource(strings = {"\u00a0\u00a0", "\u2003", "\u3000 \u2009", "\u200b\u200b", "\t\u2028"})
    void promptsOfUnicodeSpacesAreBlankToo(String prompt) {
        assertThatThrownBy(() -> GenerationRequest.builder(prompt).build())
                .isInstanceOf(InvalidRequestException.class)
                .hasMessageStartingWith("prompt must contain visible text but was "
                        + prompt.length() + " invisible characters (U+");
    }

    @Test
    void aBlankPromptOfAHundredThousandSpacesGetsAShortMessage() {
        String prompt = "\u00a0".repeat(100_000);
        assertThatThrownBy(() -> GenerationRequest.builder(prompt).build())
                .hasMessage("prompt must contain visible text but was 100000 invisible characters "
                        + "(U+00A0)");
    }

    @Test
    void aPromptWithVisibleTextBetweenUnicodeSpacesIsKept() {
        assertThat(GenerationRequest.builder("\u00a0a cat\u2003").build().prompt())
                .isEqualTo("\u00a0a cat\u2003");
    }

    @Test
    void stepsBelowOneAreRejected() {
        assertThatThrownBy(() -> GenerationRequest.builder("x").steps(0).build())
                .isInstanceOf(InvalidRequestException.class)
                .hasMessage("steps must be >= 1 but was 0");
    }

    @Test
    void nanNegativeAndAbsurdGuidanceAreRejectedWithTheRange() {
        for (double g : new double[] {Double.NaN, -0.5, -2, Double.POSITIVE_INFINITY, 1e30,
            100.5}) {
            assertThatThrownBy(() -> GenerationRequest.builder("x").guidanceScale(g).build())
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessage("guidanceScale must be in 0..100.0 (1 = no guidance, 7.0 "
                            + "Open-Sora's; or unset for the pack's) but was " + g);
        }
        assertThat(GenerationRequest.builder("x").guidanceScale(100).build().guidanceScale())
                .isEqualTo(100);
    }

    @Test
    void infiniteNegativeOrAbsurdAestheticScoresAreRejectedWithTheRange() {
        for (double a : new double[] {Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY, -0.5,
                10.01, 1e300}) {
            assertThatThrownBy(() -> GenerationRequest.builder("x").aestheticScore(a).build())
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessage("aestheticScore must be in 0..10.0, or NaN for no suffix, but was "
                            + a);
        }
        assertThat(GenerationRequest.builder("x").noAestheticScore().build().aestheticScore())
                .isNaN();
    }

    @Test
    void everyRefusalIsASora4jException() {
        assertThatThrownBy(() -> GenerationRequest.builder("x").frames(-1).build())
                .isInstanceOf(Sora4jException.class)
                .hasMessage("frames must be >= 1 (or unset) but was -1");
        assertThatThrownBy(() -> GenerationRequest.builder("x").size(0, 5).build())
                .isInstanceOf(Sora4jException.class)
                .hasMessage("width and height must be >= 1 (or both unset) but were 0x5");
        assertThatThrownBy(() -> GenerationRequest.builder("x").fps(241).build())
                .isInstanceOf(Sora4jException.class)
                .hasMessage("fps must be in 1..240 (or unset) but was 241");
    }

    @Test
    void promptsAreCleanedAndGetTheAestheticSuffixLikeOpenSora() {
        String p = Prompts.withAestheticScore(Prompts.clean("  A Red\tcircle  moving LEFT "), 6.5);
        assertThat(p).isEqualTo("a red circle moving left aesthetic score: 6.5.");
        assertThat(Prompts.withAestheticScore("x", Double.NaN)).isEqualTo("x");
    }
}
