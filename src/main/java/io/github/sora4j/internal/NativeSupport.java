package io.github.sora4j.internal;

import io.github.sora4j.Sora4jException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Checks, before DJL loads its JNI library, that this CPU can run DJL 0.36's PyTorch natives.
 *
 * <p>On linux-aarch64, DJL's {@code 0.36.0-libdjl_torch.so} contains ARMv8.1 LSE atomic
 * instructions ({@code ldaddal} in {@code c10::detail::atomic_refcount_increment}), inlined
 * rather than behind a run-time check. On an ARMv8.0 core (Cortex-A53/A57/A72: Raspberry Pi 3 and
 * 4, many older boards) the first tensor the engine creates kills the JVM with SIGILL. This class
 * turns that crash into a {@link Sora4jException} that says so.
 *
 * <p>How it detects the CPU: the kernel's {@code AT_HWCAP} word, read from {@code
 * /proc/self/auxv} ({@code HWCAP_ATOMICS} is bit 8), which is also what a process under qemu-user
 * sees for the emulated CPU; if that cannot be read, the {@code Features} line of {@code
 * /proc/cpuinfo} ({@code atomics}). If neither says anything (another OS, a sandbox without
 * {@code /proc}), nothing is refused. Other platforms (x86-64, macOS on Apple Silicon, which is
 * ARMv8.5+) are not checked. {@code -Dsora4j.skipCpuCheck=true} skips the check.
 */
public final class NativeSupport {
    /** {@code AT_HWCAP} in the ELF auxiliary vector. */
    static final long AT_HWCAP = 16;
    /** {@code HWCAP_ATOMICS} (ARMv8.1 LSE) in arm64's {@code AT_HWCAP}. */
    static final long HWCAP_ATOMICS = 1L << 8;
    /** The system property that skips the check. */
    public static final String SKIP_PROPERTY = "sora4j.skipCpuCheck";

    /** The names of arm64's {@code AT_HWCAP} bits 0..31, as the kernel prints them in cpuinfo. */
    private static final String[] HWCAP_NAMES = {"fp", "asimd", "evtstrm", "aes", "pmull", "sha1",
        "sha2", "crc32", "atomics", "fphp", "asimdhp", "cpuid", "asimdrdm", "jscvt", "fcma",
        "lrcpc", "dcpop", "sha3", "sm3", "sm4", "asimddp", "sha512", "sve", "asimdfhm", "dit",
        "uscat", "ilrcpc", "flagm", "ssbs", "sb", "paca", "pacg"};

    private static volatile boolean checked;

    private NativeSupport() {}

    /**
     * Refuses, with a clear message, a CPU that DJL's PyTorch natives would crash on. Cheap after
     * the first call.
     *
     * @throws Sora4jException on a linux-aarch64 CPU without the ARMv8.1 LSE atomics
     */
    public static void requireSupportedCpu() {
        if (checked || Boolean.getBoolean(SKIP_PROPERTY)) {
            return;
        }
        String os = System.getProperty("os.name", "");
        String arch = System.getProperty("os.arch", "");
        if (isLinuxAarch64(os, arch)) {
            Optional<String> problem = problem(os, arch, read("/proc/self/auxv"),
                    readText("/proc/cpuinfo"));
            if (problem.isPresent()) {
                throw new Sora4jException(problem.get());
            }
        }
        checked = true;
    }

    /**
     * Why DJL's natives cannot run on the described machine, or empty if they can (or it cannot
     * be told).
     *
     * @param osName {@code os.name}
     * @param osArch {@code os.arch}
     * @param auxv the bytes of {@code /proc/self/auxv}, or null if unreadable
     * @param cpuinfo the text of {@code /proc/cpuinfo}, or null if unreadable
     * @return the message of the exception to throw, if any
     */
    static Optional<String> problem(String osName, String osArch, byte[] auxv, String cpuinfo) {
        if (!isLinuxAarch64(osName, osArch)) {
            return Optional.empty();
        }
        Long hwcap = hwcap(auxv);
        String features;
        String source;
        boolean atomics;
        if (hwcap != null) {
            atomics = (hwcap & HWCAP_ATOMICS) != 0;
            features = hwcapNames(hwcap);
            source = "AT_HWCAP";
        } else {
            features = cpuinfoFeatures(cpuinfo);
            if (features == null) {
                return Optional.empty();
            }
            atomics = List.of(features.split("\\s+")).contains("atomics");
            source = "/proc/cpuinfo Features";
        }
        if (atomics) {
            return Optional.empty();
        }
        return Optional.of("this ARM64 CPU lacks the ARMv8.1 LSE atomics (" + source + ": "
                + features + "; no 'atomics') that DJL 0.36's PyTorch 2.7.1 natives need: their"
                + " JNI library 0.36.0-libdjl_torch.so uses LSE instructions and would crash the"
                + " JVM with SIGILL. ARMv8.0 cores such as Cortex-A53/A57/A72 (Raspberry Pi 3/4)"
                + " are not supported; ARMv8.2+ cores are (Cortex-A55/A76 and later, Neoverse"
                + " N1/V1, AWS Graviton2+, Raspberry Pi 5, Apple Silicon). Set -D" + SKIP_PROPERTY
                + "=true to skip this check.");
    }

    static boolean isLinuxAarch64(String osName, String osArch) {
        String arch = osArch.toLowerCase(Locale.ROOT);
        return osName.toLowerCase(Locale.ROOT).startsWith("linux")
                && (arch.equals("aarch64") || arch.equals("arm64"));
    }

    /**
     * The {@code AT_HWCAP} value of a 64-bit little-endian auxiliary vector, or null.
     *
     * @param auxv (type, value) pairs of 8-byte words, ended by {@code AT_NULL}
     * @return the value, or null if absent or {@code auxv} is null
     */
    static Long hwcap(byte[] auxv) {
        if (auxv == null) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(auxv).order(ByteOrder.LITTLE_ENDIAN);
        while (b.remaining() >= 16) {
            long type = b.getLong();
            long value = b.getLong();
            if (type == AT_HWCAP) {
                return value;
            }
            if (type == 0) {
                break;
            }
        }
        return null;
    }

    /** The feature names of the set bits, in bit order, e.g. {@code fp asimd ... cpuid}. */
    static String hwcapNames(long hwcap) {
        List<String> names = new ArrayList<>();
        for (int bit = 0; bit < 64; bit++) {
            if ((hwcap & (1L << bit)) != 0) {
                names.add(bit < HWCAP_NAMES.length ? HWCAP_NAMES[bit] : "bit" + bit);
            }
        }
        return String.join(" ", names);
    }

    /** The value of the first {@code Features} line (arm64 cpuinfo), or null. */
    static String cpuinfoFeatures(String cpuinfo) {
        if (cpuinfo == null) {
            return null;
        }
        for (String line : cpuinfo.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equals("Features")) {
                return line.substring(colon + 1).trim();
            }
        }
        return null;
    }

    private static byte[] read(String file) {
        try {
            return Files.readAllBytes(Path.of(file));
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static String readText(String file) {
        byte[] b = read(file);
        return b == null ? null : new String(b, StandardCharsets.US_ASCII);
    }
}
