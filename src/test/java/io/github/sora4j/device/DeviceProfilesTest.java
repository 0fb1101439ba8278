package io.github.sora4j.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.sora4j.load.LoaderKind;
import io.github.sora4j.load.MemoryBudget;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DeviceProfilesTest {

    @Test
    void thePhoneProfileModelsThePapersDevice() {
        DeviceProfile p = DeviceProfiles.PHONE_ARM64_8GB;
        assertThat(p.budget().totalBytes()).isEqualTo(3_300_000_000L);
        assertThat(p.budget().availableBytes()).isEqualTo(3_000_000_000L);
        assertThat(p.weightPrecision()).isEqualTo(WeightPrecision.FLOAT32_T5_INT8);
        assertThat(p.techniques()).isEqualTo(new Techniques(15, 15,
                LoaderKind.CONCURRENT_DYNAMIC));
        assertThat(p.threadProperties()).containsExactly(
                Map.entry("ai.djl.pytorch.num_threads", "4"),
                Map.entry("ai.djl.pytorch.num_interop_threads", "1"));
    }

    @Test
    void everyBuiltInProfileIsFoundByNameAndUnknownNamesListTheKnownOnes() {
        for (DeviceProfile p : DeviceProfiles.all()) {
            assertThat(DeviceProfiles.byName(p.name())).isSameAs(p);
        }
        assertThatThrownBy(() -> DeviceProfiles.byName("toaster"))
                .hasMessage("no device profile named 'toaster'; known: [phone-arm64-8gb, "
                        + "android-arm64-12gb, desktop]");
    }

    @Test
    void defaultThreadCountsSetNoProperty() {
        assertThat(DeviceProfiles.DESKTOP.threadProperties()).isEmpty();
    }

    @Test
    void customProfilesAreCopiesWithOneValueChanged() {
        DeviceProfile mine = DeviceProfiles.PHONE_ARM64_8GB.withName("mine")
                .withBudget(new MemoryBudget(5_000_000_000L, 400_000_000L))
                .withTechniques(Techniques.PAPER.withLoader(LoaderKind.SEQUENTIAL));
        assertThat(mine.name()).isEqualTo("mine");
        assertThat(mine.budget().availableBytes()).isEqualTo(4_600_000_000L);
        assertThat(mine.techniques().loader()).isEqualTo(LoaderKind.SEQUENTIAL);
        assertThat(mine.computeThreads()).isEqualTo(4);
    }

    @Test
    void badValuesAreRejectedNamingThem() {
        assertThatThrownBy(() -> DeviceProfiles.DESKTOP.withThreads(-1, 0))
                .hasMessageContaining("computeThreads=-1");
        assertThatThrownBy(() -> new Techniques(-2, 0, LoaderKind.RESIDENT))
                .hasMessage("lplLeapStep must be -1 (off) or >= 0 but was -2");
        assertThatThrownBy(() -> DeviceProfiles.DESKTOP.withName(" "))
                .hasMessage("profile name must not be empty but was ' '");
    }

    @Test
    void techniquesMakeTheirStrategies() {
        assertThat(Techniques.FULL_QUALITY.tokenMerger().toString())
                .isEqualTo(io.github.sora4j.merge.TokenMergers.none().toString());
        assertThat(Techniques.PAPER.scheduler()).isNotNull();
    }
}
