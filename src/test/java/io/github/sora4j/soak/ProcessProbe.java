package io.github.sora4j.soak;

import com.sun.jna.Function;
import com.sun.jna.Structure;
import io.github.sora4j.internal.Libc;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.management.JMException;
import javax.management.ObjectName;

/**
 * This process's resident memory, open file descriptors and threads, from {@code /proc/self}, and
 * the bytes glibc's {@code malloc} has handed out and not had back ({@code mallinfo2}).
 *
 * <p>The leak measure is {@link #mallocInUseBytes()}, not the resident set: libtorch allocates
 * every CPU tensor with {@code malloc}, and the count of bytes in use moves only when something is
 * allocated or freed. The resident set also counts the Java heap's pages, which the JVM touches for
 * the first time over dozens of generations (G1 moves its young regions around the committed
 * heap): measured on the tiny pack, the resident set climbed about 65 MB over 60 generations that
 * left the bytes in use flat within 3 MB (docs/troubleshooting.md, "Fault and soak suite").
 *
 * <p>The JVM mallocs too (its compilers' arenas, direct buffers, symbol tables), by megabytes up
 * and down as it compiles and collects: {@link #nativeMallocBytes()} subtracts what the JVM's
 * Native Memory Tracking counts as its own, leaving libtorch, the tokenizer and the JNI code.
 */
public final class ProcessProbe {
    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path FD = Path.of("/proc/self/fd");
    private static final Function MALLINFO2 = Libc.function("mallinfo2");
    /** The "malloc:" total line of {@code VM.native_memory summary}. */
    private static final Pattern NMT_MALLOC = Pattern.compile("\\bmalloc: (\\d+)KB");

    private ProcessProbe() {}

    /**
     * Whether {@code /proc/self} can be read here (Linux).
     *
     * @return true on Linux
     */
    public static boolean available() {
        return Files.isReadable(STATUS) && Files.isDirectory(FD);
    }

    /**
     * Resident set size.
     *
     * @return bytes
     */
    public static long rssBytes() {
        return status("VmRSS:") * 1024;
    }

    /**
     * Whether {@link #mallocInUseBytes()} can be read here: glibc 2.33 or later.
     *
     * @return true where {@code mallinfo2} exists
     */
    public static boolean mallocInfoAvailable() {
        return MALLINFO2 != null;
    }

    /**
     * Bytes allocated with {@code malloc} and not yet freed, over all arenas, mmapped chunks
     * included: {@code mallinfo2}'s {@code uordblks + hblkhd}.
     *
     * @return bytes
     * @throws IllegalStateException where {@link #mallocInfoAvailable()} is false
     */
    public static long mallocInUseBytes() {
        if (MALLINFO2 == null) {
            throw new IllegalStateException("mallinfo2 is not available here (glibc >= 2.33)");
        }
        MallInfo2 m = (MallInfo2) MALLINFO2.invoke(MallInfo2.class, new Object[0]);
        return m.uordblks + m.hblkhd;
    }

    /**
     * Bytes the JVM itself holds from {@code malloc}, from its Native Memory Tracking ({@code
     * jcmd VM.native_memory summary}'s "malloc:" total, kilobyte resolution).
     *
     * @return bytes, or empty where the JVM runs without {@code
     *     -XX:NativeMemoryTracking=summary} (or {@code detail})
     */
    public static OptionalLong jvmMallocBytes() {
        String summary;
        try {
            summary = String.valueOf(ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"),
                    "vmNativeMemory", new Object[] {new String[] {"summary"}},
                    new String[] {String[].class.getName()}));
        } catch (JMException e) {
            return OptionalLong.empty();
        }
        Matcher m = NMT_MALLOC.matcher(summary);
        return m.find() ? OptionalLong.of(Long.parseLong(m.group(1)) * 1024)
                : OptionalLong.empty();
    }

    /**
     * Bytes malloc'd and not freed by everything but the JVM itself: {@link #mallocInUseBytes()}
     * less {@link #jvmMallocBytes()}. Measured on the tiny pack, the JVM's share moved by up to
     * 6 MB between generations while this stayed within 3 kB per generation of flat.
     *
     * @return bytes
     * @throws IllegalStateException where either measure is not available
     */
    public static long nativeMallocBytes() {
        long inUse = mallocInUseBytes();
        long jvm = jvmMallocBytes().orElseThrow(() -> new IllegalStateException(
                "the JVM runs without Native Memory Tracking: start it with "
                        + "-XX:NativeMemoryTracking=summary (the pom's surefire argLine does)"));
        return inUse - jvm;
    }

    /** glibc's {@code struct mallinfo2}: ten {@code size_t}. */
    @Structure.FieldOrder({"arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost"})
    public static final class MallInfo2 extends Structure implements Structure.ByValue {
        public long arena;
        public long ordblks;
        public long smblks;
        public long hblks;
        public long hblkhd;
        public long usmblks;
        public long fsmblks;
        public long uordblks;
        public long fordblks;
        public long keepcost;
    }


    /**
     * Threads of the process, Java and native (libtorch's pools included).
     *
     * @return the count
     */
    public static long threads() {
        return status("Threads:");
    }

    /**
     * Open file descriptors.
     *
     * @return the count
     */
    public static long fileDescriptors() {
        try (Stream<Path> s = Files.list(FD)) {
            return s.count();
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + FD, e);
        }
    }

    private static long status(String key) {
        try {
            List<String> lines = Files.readAllLines(STATUS);
            for (String l : lines) {
                if (l.startsWith(key)) {
                    return Long.parseLong(l.substring(key.length()).replace("kB", "").strip());
                }
            }
            throw new IllegalStateException(key + " not in " + STATUS);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + STATUS, e);
        }
    }

    /**
     * The Theil-Sen slope of samples taken at steps 0, 1, 2, …: the median of the slopes between
     * every pair. A leak moves every pair; one sample caught mid-way through a transient
     * allocation moves only the pairs it is in, which the median ignores (up to 29 % of samples).
     *
     * @param samples at least two values
     * @return change per step
     */
    public static double medianSlope(long[] samples) {
        List<Double> slopes = new ArrayList<>();
        for (int i = 0; i < samples.length; i++) {
            for (int j = i + 1; j < samples.length; j++) {
                slopes.add((samples[j] - samples[i]) / (double) (j - i));
            }
        }
        if (slopes.isEmpty()) {
            throw new IllegalArgumentException("need at least two samples, got "
                    + samples.length);
        }
        Collections.sort(slopes);
        int n = slopes.size();
        return n % 2 == 1 ? slopes.get(n / 2) : (slopes.get(n / 2 - 1) + slopes.get(n / 2)) / 2;
    }

    /**
     * The least-squares slope of samples taken at steps 0, 1, 2, ….
     *
     * @param samples at least two values
     * @return change per step
     */
    public static double slope(long[] samples) {
        int n = samples.length;
        double mx = (n - 1) / 2.0;
        double my = 0;
        for (long s : samples) {
            my += s;
        }
        my /= n;
        double num = 0;
        double den = 0;
        for (int i = 0; i < n; i++) {
            num += (i - mx) * (samples[i] - my);
            den += (i - mx) * (i - mx);
        }
        return num / den;
    }
}
