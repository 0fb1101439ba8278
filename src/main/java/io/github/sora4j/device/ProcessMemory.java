package io.github.sora4j.device;

import io.github.sora4j.InvalidRequestException;
import io.github.sora4j.load.MemoryBudget;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The memory a generation may use in this process: the JVM's maximum heap, which holds the Java
 * arrays (latents, decoded pixels, frames), and the physical memory still available for native
 * tensors (activations and model blocks). {@link Feasibility} checks requests against it.
 *
 * <p>{@link #ofProcess()} reads {@code MemAvailable} from {@code /proc/meminfo} where that file
 * exists (Linux, Android); elsewhere the native side is unknown and not checked. The system
 * property {@value #AVAILABLE_PROPERTY} overrides it (a size such as {@code 6GB}, {@code 512MiB}
 * or a byte count; {@code unlimited} turns the native check off).
 *
 * @param heapBytes the JVM's maximum heap ({@link Runtime#maxMemory()})
 * @param nativeBytes physical memory available for native tensors, or {@link Long#MAX_VALUE} if
 *     unknown or unchecked
 * @param nativeSource where {@code nativeBytes} came from, for messages
 */
public record ProcessMemory(long heapBytes, long nativeBytes, String nativeSource) {

    /** System property that overrides the available physical memory. */
    public static final String AVAILABLE_PROPERTY = "sora4j.availableMemory";

    /** The {@link #nativeSource()} of limits read from {@value #AVAILABLE_PROPERTY}. */
    public static final String OVERRIDE_SOURCE = "-D" + AVAILABLE_PROPERTY;

    private static final Path MEMINFO = Path.of("/proc/meminfo");
    private static final Pattern MEM_AVAILABLE =
            Pattern.compile("(?m)^MemAvailable:\\s+(\\d+)\\s*kB");
    private static final Pattern SIZE =
            Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]i?b?|b)?", Pattern.CASE_INSENSITIVE);

    /**
     * Checks the values.
     *
     * @param heapBytes the JVM's maximum heap, positive
     * @param nativeBytes available physical memory, positive ({@link Long#MAX_VALUE}: unknown)
     * @param nativeSource where {@code nativeBytes} came from
     * @throws InvalidRequestException if a size is not positive
     */
    public ProcessMemory {
        if (heapBytes <= 0 || nativeBytes <= 0) {
            throw new InvalidRequestException("memory sizes must be > 0 but were heap "
                    + heapBytes + ", native " + nativeBytes);
        }
        nativeSource = nativeSource == null ? "unknown" : nativeSource;
    }

    /**
     * Limits without a native check (only the JVM heap counts): where physical memory is unknown.
     *
     * @param heapBytes the maximum heap
     * @return the limits
     */
    public static ProcessMemory heapOnly(long heapBytes) {
        return new ProcessMemory(heapBytes, Long.MAX_VALUE, "unknown");
    }

    /**
     * This process's limits now: the maximum heap, and {@value #AVAILABLE_PROPERTY} or else
     * {@code MemAvailable} from {@code /proc/meminfo}.
     *
     * @return the limits
     * @throws InvalidRequestException if {@value #AVAILABLE_PROPERTY} is set but not a size
     */
    public static ProcessMemory ofProcess() {
        long heap = Runtime.getRuntime().maxMemory();
        String override = System.getProperty(AVAILABLE_PROPERTY);
        if (override != null && !override.isBlank()) {
            if (override.strip().equalsIgnoreCase("unlimited")) {
                return new ProcessMemory(heap, Long.MAX_VALUE, OVERRIDE_SOURCE);
            }
            return new ProcessMemory(heap, parseSize(override), OVERRIDE_SOURCE);
        }
        long available = memAvailable(MEMINFO);
        return available > 0 ? new ProcessMemory(heap, available, "MemAvailable in " + MEMINFO)
                : heapOnly(heap);
    }

    /**
     * Whether the native side is checked.
     *
     * @return false if the available physical memory is unknown
     */
    public boolean nativeKnown() {
        return nativeBytes != Long.MAX_VALUE;
    }

    /**
     * Reads {@code MemAvailable} from a meminfo file.
     *
     * @param meminfo e.g. {@code /proc/meminfo}
     * @return bytes, or -1 if the file or the line is missing
     */
    static long memAvailable(Path meminfo) {
        try {
            if (!Files.isReadable(meminfo)) {
                return -1;
            }
            Matcher m = MEM_AVAILABLE.matcher(Files.readString(meminfo, StandardCharsets.US_ASCII));
            return m.find() ? Math.multiplyExact(Long.parseLong(m.group(1)), 1024L) : -1;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /**
     * Parses a size: a byte count, or a number with {@code kB MB GB TB} (powers of 1000) or {@code
     * KiB MiB GiB TiB} (powers of 1024); the {@code B} may be left out.
     *
     * @param text the size
     * @return bytes
     * @throws InvalidRequestException if it is not a positive size
     */
    static long parseSize(String text) {
        Matcher m = SIZE.matcher(text.strip());
        if (!m.matches()) {
            throw new InvalidRequestException("-D" + AVAILABLE_PROPERTY + " must be a size such as "
                    + "6GB, 512MiB or a byte count, or 'unlimited', but was '" + text + "'");
        }
        double value = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
        double factor = switch (unit.isEmpty() ? 'b' : unit.charAt(0)) {
            case 'k' -> unit.contains("i") ? 1024d : 1e3;
            case 'm' -> unit.contains("i") ? 1024d * 1024 : 1e6;
            case 'g' -> unit.contains("i") ? 1024d * 1024 * 1024 : 1e9;
            case 't' -> unit.contains("i") ? 1024d * 1024 * 1024 * 1024 : 1e12;
            default -> 1;
        };
        double bytes = value * factor;
        if (!(bytes >= 1) || bytes >= Long.MAX_VALUE) {
            throw new InvalidRequestException("-D" + AVAILABLE_PROPERTY + " must be a positive "
                    + "size but was '" + text + "'");
        }
        return (long) bytes;
    }

    @Override
    public String toString() {
        return "heap " + MemoryBudget.format(heapBytes) + ", native "
                + (nativeKnown() ? MemoryBudget.format(nativeBytes) + " (" + nativeSource + ")"
                        : "unknown");
    }
}
