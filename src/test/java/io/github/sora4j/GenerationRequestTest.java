package io.github.sora4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.sora4j.internal.Prompts;
import org.junit.jupiter.api.Test;

class GenerationRequestTest {

    @Test
    void defaultsAreOpenSoras() {
        GenerationRequest r = GenerationRequest.builder("a cat").build();
        assertThat(r.frames()).isEqualTo(68);
        assertThat(r.width()).isEqualTo(256);
        assertThat(r.steps()).isEqualTo(30);
        assertThat(r.guidanceScale()).isEqualTo(7.0);
        assertThat(r.fps()).isEqualTo(24);
        assertThat(r.aestheticScore()).isEqualTo(6.5);
        assertThat(r.toBuilder().build()).isEqualTo(r);
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
