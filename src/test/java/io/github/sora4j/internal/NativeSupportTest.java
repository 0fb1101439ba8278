package io.github.sora4j.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The ARMv8.1 LSE check of {@link NativeSupport} on sample auxiliary vectors and cpuinfo texts.
 * The {@code AT_HWCAP} values are what qemu-aarch64 7.2 gives a guest for {@code -cpu cortex-a72}
 * ({@code 0x8fb}), {@code cortex-a76} ({@code 0x119ffb}) and {@code max} ({@code 0xecfffffb}),
 * read from {@code /proc/self/auxv} by the emulated JVM; the cpuinfo texts are those of a
 * Raspberry Pi 4 (Cortex-A72), a Raspberry Pi 5 (Cortex-A76) and an x86-64 machine.
 */
class NativeSupportTest {
    static final long A72 = 0x8fb;
    static final long A76 = 0x119ffb;
    static final long MAX = 0xecfffffbL;

    static final String PI4 = """
            processor\t: 0
            BogoMIPS\t: 108.00
            Features\t: fp asimd evtstrm crc32 cpuid
            CPU implementer\t: 0x41
            CPU architecture: 8
            CPU variant\t: 0x0
            CPU part\t: 0xd08
            CPU revision\t: 3
            """;
    static final String PI5 = """
            processor\t: 0
            BogoMIPS\t: 108.00
            Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid \
            asimdrdm lrcpc dcpop asimddp
            CPU implementer\t: 0x41
            CPU architecture: 8
            CPU part\t: 0xd0b
            """;
    static final String X86 = """
            processor\t: 0
            vendor_id\t: AuthenticAMD
            model name\t: AMD EPYC
            flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr
            """;

    /** A little-endian 64-bit auxv: AT_PAGESZ, AT_HWCAP, AT_HWCAP2, AT_NULL. */
    static byte[] auxv(long hwcap) {
        ByteBuffer b = ByteBuffer.allocate(4 * 16).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(6).putLong(4096);
        b.putLong(16).putLong(hwcap);
        b.putLong(26).putLong(0);
        b.putLong(0).putLong(0);
        return b.array();
    }

    @Test
    void otherPlatformsAreNotChecked() {
        assertThat(NativeSupport.problem("Linux", "amd64", auxv(0), X86)).isEmpty();
        assertThat(NativeSupport.problem("Mac OS X", "aarch64", null, null)).isEmpty();
        assertThat(NativeSupport.problem("Windows 11", "amd64", null, null)).isEmpty();
        // Even a cpuinfo without atomics does not matter off linux-aarch64.
        assertThat(NativeSupport.problem("Linux", "x86_64", auxv(A72), PI4)).isEmpty();
    }

    @Test
    void anArmv80HwcapWithoutAtomicsIsRefusedNamingTheFeaturesAndTheCores() {
        Optional<String> p = NativeSupport.problem("Linux", "aarch64", auxv(A72), X86);
        assertThat(p).isPresent();
        assertThat(p.get())
                .startsWith("this ARM64 CPU lacks the ARMv8.1 LSE atomics (AT_HWCAP: fp asimd aes"
                        + " pmull sha1 sha2 crc32 cpuid; no 'atomics') that DJL 0.36's PyTorch"
                        + " 2.7.1 natives need")
                .contains("SIGILL", "Cortex-A53/A57/A72 (Raspberry Pi 3/4)", "-Dsora4j.skipCpuCheck=true");
    }

    @Test
    void armv82AndLaterHwcapsPass() {
        assertThat(NativeSupport.problem("Linux", "aarch64", auxv(A76), null)).isEmpty();
        assertThat(NativeSupport.problem("Linux", "aarch64", auxv(MAX), null)).isEmpty();
        assertThat(NativeSupport.hwcapNames(A76)).isEqualTo("fp asimd aes pmull sha1 sha2 crc32"
                + " atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp");
    }

    @Test
    void theHwcapWinsOverCpuinfoBecauseUnderQemuCpuinfoIsTheHosts() {
        assertThat(NativeSupport.problem("Linux", "aarch64", auxv(A72), PI5)).isPresent();
        assertThat(NativeSupport.problem("Linux", "aarch64", auxv(A76), PI4)).isEmpty();
    }

    @Test
    void withoutAuxvTheCpuinfoFeaturesLineDecides() {
        assertThat(NativeSupport.problem("Linux", "aarch64", null, PI4)).get().asString()
                .contains("(/proc/cpuinfo Features: fp asimd evtstrm crc32 cpuid; no 'atomics')");
        assertThat(NativeSupport.problem("Linux", "aarch64", null, PI5)).isEmpty();
        // An auxv without AT_HWCAP (or a truncated one) falls back to cpuinfo too.
        assertThat(NativeSupport.problem("Linux", "aarch64", new byte[8], PI4)).isPresent();
    }

    @Test
    void whenNothingCanBeReadNothingIsRefused() {
        assertThat(NativeSupport.problem("Linux", "aarch64", null, null)).isEmpty();
        // The guest of qemu-user sees the host's x86 cpuinfo: no Features line.
        assertThat(NativeSupport.problem("Linux", "aarch64", null, X86)).isEmpty();
    }

    @Test
    void theAuxvParserStopsAtAtNull() {
        ByteBuffer b = ByteBuffer.allocate(3 * 16).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(6).putLong(4096).putLong(0).putLong(0).putLong(16).putLong(A72);
        assertThat(NativeSupport.hwcap(b.array())).isNull();
        assertThat(NativeSupport.hwcap(auxv(A72))).isEqualTo(A72);
    }

    @Test
    void onThisMachineTheCheckPasses() {
        // The suite runs on x86-64 and, in the aarch64-emulated profile, on qemu's max CPU.
        assertThatCode(NativeSupport::requireSupportedCpu).doesNotThrowAnyException();
    }

    @Test
    void afterTheEngineStartsNnpackIsOnExactlyWhereItCanStart() {
        Engines.pytorch();
        NativeSupport.Nnpack state = NativeSupport.quietNnpack();
        // Which one depends on the CPU: AVAILABLE on x86-64 with AVX2, DISABLED under qemu-user.
        assertThat(state).isIn(NativeSupport.Nnpack.AVAILABLE, NativeSupport.Nnpack.DISABLED);
        assertThat(NativeSupport.nnpackEnabled())
                .contains(state == NativeSupport.Nnpack.AVAILABLE);
    }

    @Test
    void nnpackOffTurnsLibtorchsSwitchOffWhereNnpackWouldStart() {
        Engines.pytorch();
        boolean before = NativeSupport.nnpackEnabled().orElseThrow();
        try {
            NativeSupport.setNnpackEnabled(true);
            assertThat(NativeSupport.nnpackEnabled()).contains(true);
            assertThat(NativeSupport.configureNnpack("off")).isEqualTo(NativeSupport.Nnpack.DISABLED);
            assertThat(NativeSupport.nnpackEnabled()).contains(false);
            assertThat(NativeSupport.configureNnpack("on")).isEqualTo(NativeSupport.Nnpack.LEFT_ON);
            assertThat(NativeSupport.nnpackEnabled()).contains(false);
        } finally {
            NativeSupport.setNnpackEnabled(before);
        }
    }

    @Test
    void anUnknownNnpackModeIsRefusedNamingTheValue() {
        assertThatThrownBy(() -> NativeSupport.configureNnpack("maybe"))
                .isInstanceOf(io.github.sora4j.InvalidConfigurationException.class)
                .hasMessage("-Dsora4j.nnpack=maybe is not one of auto, off, on");
    }
}
