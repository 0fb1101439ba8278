package io.github.sora4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.device.DeviceProfiles;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.pack.ModelPack;
import org.junit.jupiter.api.Test;

class OnDeviceTechniquesTest {
    private static final GenerationRequest REQUEST =
            GenerationRequest.builder("a red circle moving left").frames(9).size(32, 32)
                    .steps(30).build();

    @Test
    void theProfileLeapsAtStep16AndMergesTheFirst15() {
        GenerationResult r = OnDeviceTechniques.withProfile(ModelPack.embeddedDefault(), REQUEST,
                DeviceProfiles.PHONE_ARM64_8GB);
        assertThat(r.report().modelCalls()).isEqualTo(16);
        assertThat(r.report().leapStep()).isEqualTo(15);
        assertThat(r.report().mergedSteps()).isEqualTo(15);
    }

    @Test
    void eachTechniqueOnItsOwnDoesTheSame() {
        GenerationResult r = OnDeviceTechniques.oneByOne(ModelPack.embeddedDefault(), REQUEST,
                MemoryBudget.ofBytes(64_000_000L));
        assertThat(r.report().modelCalls()).isEqualTo(16);
        assertThat(r.report().mergedSteps()).isEqualTo(15);
        assertThat(OnDeviceTechniques.describe(r.report()))
                .startsWith("16 of 30 model calls (leap at step 16), 15 steps merged");
    }
}
