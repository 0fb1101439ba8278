package io.github.sora4j.cli;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Cheap process memory figures for the closing summary. */
final class MemoryProbe {
    private MemoryProbe() {}

    /**
     * The sum of the JVM heap pools' peak usage: an upper bound of the heap's peak.
     *
     * @return bytes
     */
    static long heapPeakBytes() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

    /**
     * The process's peak resident set (Linux {@code VmHWM}): heap, libtorch's native tensors and
     * weights, code.
     *
     * @return bytes, or -1 where {@code /proc/self/status} is not available
     */
    static long peakRssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"),
                    StandardCharsets.US_ASCII)) {
                if (line.startsWith("VmHWM:")) {
                    String[] parts = line.substring(6).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or no procfs: leave it out of the summary
        }
        return -1;
    }
}
