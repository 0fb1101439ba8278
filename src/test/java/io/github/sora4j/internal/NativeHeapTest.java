package io.github.sora4j.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Locale;
import org.junit.jupiter.api.Test;

class NativeHeapTest {

    @Test
    void trimmingCallsGlibcOnLinuxAndCanBeTurnedOff() {
        boolean linux = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux");
        long before = NativeHeap.trims();
        NativeHeap.trim();
        assertThat(NativeHeap.available()).isEqualTo(linux);
        assertThat(NativeHeap.trims()).isEqualTo(before + (linux ? 1 : 0));
        String old = System.getProperty(NativeHeap.PROPERTY);
        System.setProperty(NativeHeap.PROPERTY, "false");
        try {
            assertThat(NativeHeap.available()).isFalse();
            assertThat(NativeHeap.trim()).isFalse();
            assertThat(NativeHeap.trims()).isEqualTo(before + (linux ? 1 : 0));
        } finally {
            if (old == null) {
                System.clearProperty(NativeHeap.PROPERTY);
            } else {
                System.setProperty(NativeHeap.PROPERTY, old);
            }
        }
    }
}
