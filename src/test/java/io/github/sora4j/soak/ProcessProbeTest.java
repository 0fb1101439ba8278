package io.github.sora4j.soak;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Memory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProcessProbeTest {
    @Test
    void theMallocMeterSeesMemoryThatIsAllocatedAndNeverFreed() {
        assumeTrue(ProcessProbe.mallocInfoAvailable(), "needs glibc's mallinfo2");
        List<Memory> leaked = new ArrayList<>();
        long[] samples = new long[20];
        for (int i = 0; i < samples.length; i++) {
            leaked.add(new Memory(1 << 20)); // JNA's Memory is malloc'd
            samples[i] = ProcessProbe.mallocInUseBytes();
        }
        // The JVM's own threads malloc and free meanwhile: within the soak's bound (64 kB).
        assertThat(ProcessProbe.medianSlope(samples)).isCloseTo(1 << 20, within(64_000.0));
        leaked.forEach(Memory::close);
        assertThat(ProcessProbe.mallocInUseBytes()).as("after freeing the 20 MiB")
                .isLessThan(samples[samples.length - 1] - 19_000_000);
    }

    @Test
    void theNativeMeterSeesMallocOutsideTheJvmAndLeavesOutTheJvmsOwn() {
        assumeTrue(ProcessProbe.mallocInfoAvailable(), "needs glibc's mallinfo2");
        assumeTrue(ProcessProbe.jvmMallocBytes().isPresent(),
                "needs -XX:NativeMemoryTracking=summary (the pom's surefire argLine sets it)");
        List<Memory> outside = new ArrayList<>();
        List<ByteBuffer> jvms = new ArrayList<>();
        long[] native_ = new long[20];
        long[] all = new long[20];
        for (int i = 0; i < native_.length; i++) {
            outside.add(new Memory(1 << 20)); // malloc'd by JNA's native code: not the JVM's
            jvms.add(ByteBuffer.allocateDirect(1 << 20)); // malloc'd by the JVM: NMT's "Other"
            native_[i] = ProcessProbe.nativeMallocBytes();
            all[i] = ProcessProbe.mallocInUseBytes();
        }
        // All of malloc sees both, give or take what the JVM's compilers malloc meanwhile.
        assertThat(ProcessProbe.medianSlope(all)).as("both").isGreaterThan(1.5 * (1 << 20));
        assertThat(ProcessProbe.medianSlope(native_)).as("JNA's only")
                .isCloseTo(1 << 20, within(32_000.0));
        outside.forEach(Memory::close);
        assertThat(jvms).hasSize(20);
    }

    @Test
    void theMedianSlopeIgnoresASampleTakenDuringATransientAllocation() {
        long[] flat = {100, 101, 99, 100, 101, 100, 99, 9_000_000, 99, 100};
        assertThat(ProcessProbe.medianSlope(flat)).isCloseTo(0, within(1.0));
        assertThat(ProcessProbe.slope(flat)).as("least squares is pulled by it").isGreaterThan(1e4);
        long[] line = {0, 10, 20, 30, 40};
        assertThat(ProcessProbe.medianSlope(line)).isEqualTo(10);
    }

    @Test
    void theMedianSlopeNeedsTwoSamples() {
        assertThatThrownBy(() -> ProcessProbe.medianSlope(new long[] {1}))
                .hasMessageContaining("got 1");
    }
}
