package io.github.sora4j.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.InfeasibleRequestException;
import io.github.sora4j.InvalidRequestException;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.PackManifest;
import io.github.sora4j.testing.RealSizeManifests;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FeasibilityTest {
    private static final long GB = 1_000_000_000L;
    private static final PackManifest DEMO = ModelPack.embeddedDefault().manifest();
    private static final PackManifest OPEN_SORA =
            RealSizeManifests.openSoraV12(WeightPrecision.FLOAT32);
    private static final ProcessMemory ROOMY = new ProcessMemory(4 * GB, 24 * GB, "test");

    private static Feasibility check(PackManifest m, int frames, int h, int w, ProcessMemory l) {
        return Feasibility.of(m, null, frames, h, w, 30, 300, l);
    }

    @Test
    void theDemoRequestFitsWithAWorkEstimate() {
        Feasibility f = check(DEMO, 17, 64, 64, ROOMY);
        assertThat(f.fits()).isTrue();
        assertThat(f.refusal()).isNull();
        assertThat(f.latentElements()).isEqualTo(4L * 5 * 8 * 8);
        assertThat(f.pixelElements()).isEqualTo(3L * 17 * 64 * 64);
        assertThat(f.flops()).isPositive().isFinite();
        assertThat(f.estimatedSeconds(1e9)).isEqualTo(f.flops() / 1e9);
        f.check();
    }

    @Test
    void openSoraAtThePapersSizeFitsA24GbMachineButNot1024Squared() {
        assertThat(check(OPEN_SORA, 68, 256, 256, ROOMY).fits()).isTrue();
        Feasibility big = check(OPEN_SORA, 68, 1024, 1024, ROOMY);
        assertThat(big.fits()).isFalse();
        assertThatThrownBy(big::check).isInstanceOf(InfeasibleRequestException.class)
                .hasMessageStartingWith("request of 68 frames at 1024x1024 cannot run here: it "
                        + "needs about ")
                .hasMessageContaining("of native memory (the stdit set's activations and largest"
                        + " block) but 24.00 GB is available (test; override with "
                        + "-Dsora4j.availableMemory); the largest request that fits is ")
                .satisfies(e -> assertThat(((InfeasibleRequestException) e).limit())
                        .isEqualTo("native memory"));
    }

    @Test
    void aRefusalUnderTheOverrideNamesItOnce() {
        ProcessMemory overridden = new ProcessMemory(4 * GB, 16 * GB,
                ProcessMemory.OVERRIDE_SOURCE);
        assertThatThrownBy(check(OPEN_SORA, 68, 1024, 1024, overridden)::check)
                .hasMessageContaining("but 16.00 GB is available (-Dsora4j.availableMemory); the "
                        + "largest request that fits is ")
                .hasMessageNotContaining("override with");
    }

    @Test
    void theLargestRequestNamedInTheRefusalFitsAndOneMoreDoesNot() {
        Feasibility big = check(OPEN_SORA, 68, 1024, 1024, ROOMY);
        Matcher m = Pattern.compile("fits is (\\d+) frames at 1024x1024, or (\\d+)x(\\d+) at 68 "
                + "frames$").matcher(big.refusal());
        assertThat(m.find()).as(big.refusal()).isTrue();
        int frames = Integer.parseInt(m.group(1));
        int side = Integer.parseInt(m.group(2));
        assertThat(Integer.parseInt(m.group(3))).isEqualTo(side);
        assertThat(check(OPEN_SORA, frames, 1024, 1024, ROOMY).fits()).isTrue();
        assertThat(check(OPEN_SORA, frames + 1, 1024, 1024, ROOMY).fits()).isFalse();
        assertThat(check(OPEN_SORA, 68, side, side, ROOMY).fits()).isTrue();
        assertThat(check(OPEN_SORA, 68, side + 8, side + 8, ROOMY).fits()).isFalse();
    }

    @Test
    void aLatentTooBigForAJavaArrayIsRefusedWithoutOverflow() {
        Feasibility f = check(DEMO, Integer.MAX_VALUE, 64, 64, ROOMY);
        // T = 126,322,567 chunks of 17 frames * 5 + ceil(8 / 4) latent frames, 4 channels, 8x8.
        assertThat(f.latentElements()).isEqualTo(4L * (126_322_567L * 5 + 2) * 64);
        assertThat(f.flops()).isNaN();
        assertThatThrownBy(f::check).isInstanceOf(InfeasibleRequestException.class)
                .hasMessageStartingWith("request of 2147483647 frames at 64x64 cannot run here: "
                        + "its latent has 161,692,886,272 elements, more than the 536,870,911 a "
                        + "Java float[] copy of a tensor holds; the largest request that fits is ");
        Feasibility huge = check(DEMO, 17, 100_000, 100_000, ROOMY);
        assertThat(huge.fits()).isFalse();
        assertThat(huge.refusal()).contains("its latent has 3,125,000,000 elements");
    }

    @Test
    void openSoraAt4096SquaredIsTooManyPixelsForAJavaArray() {
        assertThat(check(OPEN_SORA, 68, 4096, 4096, ROOMY).refusal()).isEqualTo("request of 68 "
                + "frames at 4096x4096 cannot run here: its decoded video has 3,422,552,064 values"
                + " (3 x 68 frames x 4096x4096), more than the 536,870,911 a Java float[] copy of"
                + " a tensor holds; the largest request that fits is 704x704 at 68 frames");
    }

    @Test
    void decodedPixelsTooBigForAJavaArrayAreRefused() {
        // 3 * 1100 * 512 * 512 = 865 M values; the latent (4 * 325 * 64 * 64 = 5.3 M) is fine.
        Feasibility f = check(DEMO, 1100, 512, 512, ROOMY);
        assertThatThrownBy(f::check).isInstanceOf(InfeasibleRequestException.class)
                .hasMessageStartingWith("request of 1100 frames at 512x512 cannot run here: its "
                        + "decoded video has 865,075,200 values (3 x 1100 frames x 512x512)")
                .hasMessageContaining("the largest request that fits is 682 frames at 512x512");
    }

    @Test
    void theJvmHeapLimitsTheJavaArrays() {
        ProcessMemory smallHeap = new ProcessMemory(128_000_000, 24 * GB, "test");
        Feasibility f = check(DEMO, 68, 1024, 1024, smallHeap);
        assertThat(f.heapBytes()).isGreaterThan(128_000_000);
        assertThatThrownBy(f::check).isInstanceOf(InfeasibleRequestException.class)
                .hasMessageContaining("of Java heap (latents, decoded pixels and frames) but the "
                        + "JVM's maximum heap is 128.0 MB (raise -Xmx)");
        assertThat(check(DEMO, 68, 256, 256, smallHeap).fits()).isTrue();
    }

    @Test
    void unknownPhysicalMemoryIsNotChecked() {
        assertThat(check(OPEN_SORA, 68, 1024, 1024, ProcessMemory.heapOnly(4 * GB)).fits())
                .isTrue();
    }

    @Test
    void aRequestOverloadUsesTheLongestCaption() {
        GenerationRequest r = GenerationRequest.builder("x").frames(17).size(64, 64).build();
        assertThat(Feasibility.of(DEMO, r, ROOMY).nativeBytes())
                .isEqualTo(check(DEMO, 17, 64, 64, ROOMY).nativeBytes());
    }

    @Test
    void memAvailableIsReadFromMeminfo(@TempDir Path dir) throws Exception {
        Path meminfo = dir.resolve("meminfo");
        Files.writeString(meminfo, "MemTotal:       24000000 kB\nMemFree:  100 kB\n"
                + "MemAvailable:   12345678 kB\n");
        assertThat(ProcessMemory.memAvailable(meminfo)).isEqualTo(12345678L * 1024);
        Files.writeString(meminfo, "MemTotal: 1 kB\n");
        assertThat(ProcessMemory.memAvailable(meminfo)).isEqualTo(-1);
        assertThat(ProcessMemory.memAvailable(dir.resolve("missing"))).isEqualTo(-1);
    }

    @Test
    void theAvailableMemoryOverrideTakesSizes() {
        assertThat(ProcessMemory.parseSize("6GB")).isEqualTo(6 * GB);
        assertThat(ProcessMemory.parseSize("512MiB")).isEqualTo(512L << 20);
        assertThat(ProcessMemory.parseSize("1.5g")).isEqualTo(1_500_000_000L);
        assertThat(ProcessMemory.parseSize("1000")).isEqualTo(1000);
        assertThatThrownBy(() -> ProcessMemory.parseSize("lots"))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessage("-Dsora4j.availableMemory must be a size such as 6GB, 512MiB or a "
                        + "byte count, or 'unlimited', but was 'lots'");
        String old = System.getProperty(ProcessMemory.AVAILABLE_PROPERTY);
        try {
            System.setProperty(ProcessMemory.AVAILABLE_PROPERTY, "3GB");
            assertThat(ProcessMemory.ofProcess().nativeBytes()).isEqualTo(3 * GB);
            System.setProperty(ProcessMemory.AVAILABLE_PROPERTY, "unlimited");
            assertThat(ProcessMemory.ofProcess().nativeKnown()).isFalse();
        } finally {
            if (old == null) {
                System.clearProperty(ProcessMemory.AVAILABLE_PROPERTY);
            } else {
                System.setProperty(ProcessMemory.AVAILABLE_PROPERTY, old);
            }
        }
    }
}
