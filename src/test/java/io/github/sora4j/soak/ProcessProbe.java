package io.github.sora4j.soak;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** This process's resident memory, open file descriptors and threads, from {@code /proc/self}. */
public final class ProcessProbe {
    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path FD = Path.of("/proc/self/fd");

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
