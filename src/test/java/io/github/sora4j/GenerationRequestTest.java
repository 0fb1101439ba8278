package io.github.sora4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.sora4j.internal.Prompts;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.PackManifest;
import java.util.List;
import org.junit.jupiter.api.Test;

class GenerationRequestTest {

    @Test
    void framesSizeAndFpsLeftUnsetComeFromThePackTheRestAreOpenSorasDefaults() {
        GenerationRequest r = GenerationRequest.builder("a cat").build();
        assertThat(r.frames()).isEqualTo(GenerationRequest.FROM_PACK);
        assertThat(r.width()).isEqualTo(GenerationRequest.FROM_PACK);
        assertThat(r.height()).isEqualTo(GenerationRequest.FROM_PACK);
        assertThat(r.fps()).isEqualTo(GenerationRequest.FROM_PACK);
        assertThat(r.usesPackDefaults()).isTrue();
        assertThat(r.steps()).isEqualTo(30);
        assertThat(r.guidanceScale()).isEqualTo(7.0);
        assertThat(r.aestheticScore()).isEqualTo(6.5);
        assertThat(r.toBuilder().build()).isEqualTo(r);
    }

    @Test
    void theDemoPacksNativeRequestFillsTheUnsetValues() {
        PackManifest demo = ModelPack.embeddedDefault().manifest();
        GenerationRequest r = GenerationRequest.builder("a cat").seed(7).build()
                .withPackDefaults(demo);
        assertThat(r.frames()).isEqualTo(17);
        assertThat(r.width()).isEqualTo(64);
        assertThat(r.height()).isEqualTo(64);
        assertThat(r.fps()).isEqualTo(demo.sampling().fps());
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
                .containsExactly(17, 32, 48, 12);
        PackManifest tiny = ModelPack.embedded("tiny-random").manifest();
        assertThat(tiny.request()).isNull();
        r = GenerationRequest.builder("a cat").build().withPackDefaults(tiny);
        assertThat(List.of(r.frames(), r.width(), r.height(), r.fps())).containsExactly(
                GenerationRequest.DEFAULT_FRAMES, GenerationRequest.DEFAULT_SIZE,
                GenerationRequest.DEFAULT_SIZE, GenerationRequest.DEFAULT_FPS);
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
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("prompt must not be empty but was '   '");
    }

    @Test
    void stepsBelowOneAreRejected() {
        assertThatThrownBy(() -> GenerationRequest.builder("x").steps(0).build())
                .hasMessage("steps must be >= 1 but was 0");
    }

    @Test
    void nanAndNegativeGuidanceAreRejected() {
        assertThatThrownBy(() -> GenerationRequest.builder("x").guidanceScale(Double.NaN).build())
                .hasMessage("guidanceScale must be finite and >= 0 but was NaN");
        assertThatThrownBy(() -> GenerationRequest.builder("x").guidanceScale(-1).build())
                .hasMessage("guidanceScale must be finite and >= 0 but was -1.0");
    }

    @Test
    void promptsAreCleanedAndGetTheAestheticSuffixLikeOpenSora() {
        String p = Prompts.withAestheticScore(Prompts.clean("  A Red\tcircle  moving LEFT "), 6.5);
        assertThat(p).isEqualTo("a red circle moving left aesthetic score: 6.5.");
        assertThat(Prompts.withAestheticScore("x", Double.NaN)).isEqualTo("x");
    }
}
