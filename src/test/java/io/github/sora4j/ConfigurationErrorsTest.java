package io.github.sora4j;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.sora4j.device.DeviceProfiles;
import io.github.sora4j.load.BlockReaders;
import io.github.sora4j.load.LoaderSettings;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.pack.PackTrust;
import io.github.sora4j.schedule.StepSchedulers;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A bad value given to a public configuration API fails at once with an {@link
 * InvalidConfigurationException} (a {@link Sora4jException}) naming the value: never an {@code
 * IllegalArgumentException}, {@code IllegalStateException} or {@code NullPointerException}.
 */
class ConfigurationErrorsTest {
    static List<Arguments> badConfigurations() {
        return List.of(
                Arguments.of("a negative budget", (ThrowingCallable) () -> MemoryBudget.ofBytes(-5),
                        "-5"),
                Arguments.of("an unknown profile",
                        (ThrowingCallable) () -> DeviceProfiles.byName("toaster"), "toaster"),
                Arguments.of("a null budget", (ThrowingCallable) () -> new LoaderSettings(null,
                        BlockReaders.torchScript(), null, null), "budget is null"),
                Arguments.of("a throttle of 0 bytes/s", (ThrowingCallable) () ->
                        BlockReaders.throttled(BlockReaders.torchScript(), 0, 1), "0.0"),
                Arguments.of("a fixed LPL at step -1",
                        (ThrowingCallable) () -> StepSchedulers.lplFixed(-1), "-1"),
                Arguments.of("TDTM with a negative count",
                        (ThrowingCallable) () -> TokenMergers.tdtm(-3), "-3"),
                Arguments.of("signedBy without keys",
                        (ThrowingCallable) PackTrust::signedBy, "at least one public key"),
                Arguments.of("a pipeline without a pack",
                        (ThrowingCallable) () -> VideoPipeline.builder().build(),
                        "no model pack set"),
                Arguments.of("a null scheduler", (ThrowingCallable) () ->
                        VideoPipeline.builder().scheduler(null), "scheduler is null"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badConfigurations")
    void aBadConfigurationValueIsAnInvalidConfigurationExceptionNamingIt(String what,
            ThrowingCallable call, String named) {
        assertThatThrownBy(call).isInstanceOf(InvalidConfigurationException.class)
                .isInstanceOf(Sora4jException.class).hasMessageContaining(named);
    }
}
