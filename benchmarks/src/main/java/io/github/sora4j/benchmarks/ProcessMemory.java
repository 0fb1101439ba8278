package io.github.sora4j.benchmarks;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.management.JMException;
import javax.management.ObjectName;

/**
 * The process's peak resident memory (Linux {@code VmHWM}), reset before each ablation run so
 * that every row of one JVM gets its own peak.
 *
 * <p>{@link #begin()} first collects the Java heap (a full GC, after which G1 may give unused
 * heap back) and returns freed native memory to the system (glibc {@code malloc_trim}, through
 * the JVM's {@code System.trim_native_heap} diagnostic command, where the JVM has it), so that
 * memory freed by an earlier row does not count as this row's, then writes
 * {@code 5} to {@code /proc/self/clear_refs} (Linux ≥ 4.0), which sets {@code VmHWM} to the
 * current {@code VmRSS}. {@link #peakBytes()} then reads the peak since the reset. Where the reset
 * is not permitted, the peak is the process's peak since it started: {@link Sample#reset()} says
 * which.
 */
final class ProcessMemory {
    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

    private ProcessMemory() {}

    /**
     * The memory of one run.
     *
     * @param rssBeforeBytes {@code VmRSS} right after the reset, before the run; -1 if unknown
     * @param peakBytes {@code VmHWM} after the run; -1 if unknown
     * @param reset whether the high-water mark was reset before the run (if not, {@code
     *     peakBytes} is the process's peak since it started)
     */
    record Sample(long rssBeforeBytes, long peakBytes, boolean reset) {
        /** A sample where /proc is not readable. */
        static final Sample UNKNOWN = new Sample(-1, -1, false);

        /**
         * How far the run raised the resident memory above where it started.
         *
         * @return {@code peakBytes - rssBeforeBytes}, or -1 if unknown
         */
        long riseBytes() {
            return peakBytes < 0 || rssBeforeBytes < 0 ? -1 : peakBytes - rssBeforeBytes;
        }
    }

    /** A run's start: whether the reset worked and the resident memory then. */
    record Start(long rssBytes, boolean reset) {
        /**
         * Ends the run.
         *
         * @return its sample
         */
        Sample finish() {
            long peak = peakBytes();
            return peak < 0 ? Sample.UNKNOWN : new Sample(rssBytes, peak, reset);
        }
    }

    /**
     * Collects the Java heap, trims the native heap and resets {@code VmHWM} to the current
     * {@code VmRSS}.
     *
     * @return the run's start
     */
    static Start begin() {
        System.gc();
        trimNativeHeap();
        boolean reset = resetPeak();
        return new Start(statusBytes("VmRSS"), reset);
    }

    /**
     * Resets the process's {@code VmHWM} (writes {@code 5} to {@code /proc/self/clear_refs}).
     *
     * @return true if the kernel accepted it, false if not permitted or not Linux
     */
    static boolean resetPeak() {
        try {
            Files.writeString(CLEAR_REFS, "5", StandardCharsets.US_ASCII);
            return true;
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return false;
        }
    }

    /**
     * The process's peak resident memory since the last reset.
     *
     * @return {@code VmHWM} in bytes, or -1 where /proc/self/status has none
     */
    static long peakBytes() {
        return statusBytes("VmHWM");
    }

    /**
     * A {@code kB} field of /proc/self/status.
     *
     * @param field e.g. {@code VmRSS}
     * @return bytes, or -1 if there is no such file or field
     */
    static long statusBytes(String field) {
        try {
            for (String line : Files.readAllLines(STATUS, StandardCharsets.US_ASCII)) {
                if (line.startsWith(field + ":")) {
                    return parseKb(line) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /**
     * Parses a {@code /proc/self/status} line such as {@code VmHWM:   123456 kB}.
     *
     * @param line the line
     * @return the number of kB
     * @throws IllegalArgumentException naming the line if it has no {@code kB} value
     */
    static long parseKb(String line) {
        String v = line.substring(line.indexOf(':') + 1).trim();
        if (!v.endsWith("kB")) {
            throw new IllegalArgumentException("not a kB field: '" + line + "'");
        }
        return Long.parseLong(v.substring(0, v.length() - 2).trim());
    }

    /** Returns freed malloc memory to the system where the JVM can (JDK 17.0.9+, glibc). */
    private static void trimNativeHeap() {
        try {
            ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"),
                    "systemTrimNativeHeap", new Object[] {null},
                    new String[] {String[].class.getName()});
        } catch (JMException | RuntimeException e) {
            // not available: freed native memory may then count towards the next row's peak
        }
    }
}
