package io.github.sora4j.internal;

import io.github.sora4j.InvalidConfigurationException;
import ai.djl.pytorch.jni.LibUtils;
import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 *
 * <p>It also keeps libtorch quiet about NNPACK ({@link #quietNnpack()}): where NNPACK cannot
 * start (no AVX2 on x86-64, an ARM CPU that cpuinfo cannot read, qemu-user), libtorch 2.7 prints
 * {@code Could not initialize NNPACK! Reason: Unsupported hardware.} to the process's standard
 * error, from native code, once for every 2-D convolution it considers for NNPACK.
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

    /** The system property that chooses what {@link #quietNnpack()} does: auto, off or on. */
    public static final String NNPACK_PROPERTY = "sora4j.nnpack";

    private static final Logger LOG = LoggerFactory.getLogger(NativeSupport.class);

    /** libtorch's symbols: {@code nnp_initialize} and {@code at::Context}'s NNPACK switch. */
    private static final String NNP_INITIALIZE = "nnp_initialize";
    private static final String[] GLOBAL_CONTEXT = {"_ZN2at13globalContextEv",
        "?globalContext@at@@YAAEAVContext@1@XZ"};
    private static final String[] SET_NNPACK = {"_ZN2at7Context20setUserEnabledNNPACKEb",
        "?setUserEnabledNNPACK@Context@at@@QEAAX_N@Z"};
    private static final String[] GET_NNPACK = {"_ZNK2at7Context17userEnabledNNPACKEv",
        "?userEnabledNNPACK@Context@at@@QEBA_NXZ"};

    /** What {@link #quietNnpack()} found and did. */
    public enum Nnpack {
        /** NNPACK starts on this CPU: left on, libtorch uses it where it fits, nothing printed. */
        AVAILABLE,
        /** NNPACK cannot start here (or {@code -Dsora4j.nnpack=off}): turned off. */
        DISABLED,
        /** {@code -Dsora4j.nnpack=on}: left as libtorch has it. */
        LEFT_ON,
        /** libtorch's symbols could not be reached (another platform's natives); nothing done. */
        UNKNOWN
    }

    private static volatile boolean checked;
    private static volatile Nnpack nnpack;

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

    /**
     * Turns NNPACK off in libtorch where it cannot start, as {@code
     * torch.backends.nnpack.set_flags(False)} does in Python, so that libtorch never prints
     * {@code Could not initialize NNPACK! Reason: Unsupported hardware.}; where NNPACK starts,
     * it is left on and nothing changes. Call after DJL's engine has loaded libtorch; runs once.
     *
     * <p>Why this way: the message comes from libtorch's C++ code on file descriptor 2, at
     * every 2-D convolution, so neither Java logging nor {@code System.err} sees it; the
     * environment variable {@code TORCH_CPP_LOG_LEVEL} would hide every libtorch warning, and
     * only if set before the JVM starts. Instead this calls libtorch's own {@code
     * nnp_initialize()} (what libtorch calls before its first NNPACK convolution; it prints
     * nothing) and, if that fails, {@code at::globalContext().setUserEnabledNNPACK(false)},
     * through JNA (a dependency of DJL). Convolutions then take libtorch's other CPU kernels,
     * which they would take anyway, since NNPACK cannot run. {@code -Dsora4j.nnpack=off} turns
     * NNPACK off even where it starts (one kernel choice on every machine), {@code on} leaves
     * libtorch alone.
     *
     * @return what was found and done
     */
    public static synchronized Nnpack quietNnpack() {
        if (nnpack == null) {
            nnpack = configureNnpack(System.getProperty(NNPACK_PROPERTY, "auto"));
        }
        return nnpack;
    }

    /**
     * Whether libtorch will consider NNPACK for convolutions ({@code
     * at::globalContext().userEnabledNNPACK()}), if its symbols can be reached.
     *
     * @return the flag, or empty if it cannot be read
     */
    public static Optional<Boolean> nnpackEnabled() {
        try {
            NativeLibrary torch = libtorch();
            Pointer context = function(torch, GLOBAL_CONTEXT).invokePointer(new Object[0]);
            return Optional.of(function(torch, GET_NNPACK).invokeInt(new Object[] {context})
                    % 256 != 0);
        } catch (RuntimeException | LinkageError e) {
            return Optional.empty();
        }
    }

    /** Sets libtorch's NNPACK switch (tests restore it with this). */
    static void setNnpackEnabled(boolean enabled) {
        NativeLibrary torch = libtorch();
        Pointer context = function(torch, GLOBAL_CONTEXT).invokePointer(new Object[0]);
        function(torch, SET_NNPACK).invokeVoid(new Object[] {context, enabled});
    }

    static Nnpack configureNnpack(String mode) {
        String m = mode.strip().toLowerCase(Locale.ROOT);
        if (!List.of("auto", "off", "on").contains(m)) {
            throw new InvalidConfigurationException("-D" + NNPACK_PROPERTY + "=" + mode
                    + " is not one of auto, off, on");
        }
        if (m.equals("on")) {
            return Nnpack.LEFT_ON;
        }
        try {
            NativeLibrary torch = libtorch();
            if (m.equals("auto") && torch.getFunction(NNP_INITIALIZE)
                    .invokeInt(new Object[0]) == 0) { // nnp_status_success
                return Nnpack.AVAILABLE;
            }
            Pointer context = function(torch, GLOBAL_CONTEXT).invokePointer(new Object[0]);
            function(torch, SET_NNPACK).invokeVoid(new Object[] {context, Boolean.FALSE});
            return Nnpack.DISABLED;
        } catch (RuntimeException | LinkageError e) {
            LOG.debug("cannot reach libtorch's NNPACK switch; left as it is", e);
            return Nnpack.UNKNOWN;
        }
    }

    private static NativeLibrary libtorch() {
        Path dir = Path.of(LibUtils.getLibtorchPath());
        Path lib = Files.isDirectory(dir) ? dir.resolve(System.mapLibraryName("torch_cpu")) : dir;
        return NativeLibrary.getInstance(lib.toString());
    }

    private static Function function(NativeLibrary lib, String[] names) {
        UnsatisfiedLinkError last = null;
        for (String name : names) {
            try {
                return lib.getFunction(name);
            } catch (UnsatisfiedLinkError e) {
                last = e;
            }
        }
        throw last;
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
