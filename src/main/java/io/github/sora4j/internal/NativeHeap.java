package io.github.sora4j.internal;

import com.sun.jna.Function;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives freed native memory back to the system: glibc's {@code malloc_trim(0)}.
 *
 * <p>libtorch allocates tensors with {@code malloc}. glibc serves allocations below its mmap
 * threshold (which grows at run time up to 32 MB, so every STDiT weight) from its arenas, and
 * keeps the pages of a freed block unless they sit at an arena's top: measured on the full-size
 * rehearsal (docs/memory.md section 9), the process kept up to about 0.9 GB more than the loaded
 * blocks. {@code malloc_trim(0)} returns every free page of every arena. The block loaders call
 * {@link #trim()} after freeing a block, so the process's resident memory follows the loader's
 * count of loaded bytes.
 *
 * <p>Where there is no glibc (macOS, Windows, musl, Android's bionic) the call is not found and
 * {@link #trim()} does nothing. {@code -Dsora4j.mallocTrim=false} turns it off.
 */
public final class NativeHeap {
    /** The system property that turns trimming off. */
    public static final String PROPERTY = "sora4j.mallocTrim";

    private static final Logger LOG = LoggerFactory.getLogger(NativeHeap.class);
    private static final AtomicLong TRIMS = new AtomicLong();
    private static volatile Function mallocTrim;
    private static volatile boolean resolved;

    private NativeHeap() {}

    /**
     * Returns freed native memory to the system, if this is glibc and trimming is not off.
     *
     * @return whether memory was released ({@code malloc_trim}'s result); false where not
     *     available
     */
    public static boolean trim() {
        Function f = function();
        if (f == null) {
            return false;
        }
        TRIMS.incrementAndGet();
        return f.invokeInt(new Object[] {0L}) != 0;
    }

    /**
     * How many times {@link #trim()} called {@code malloc_trim} in this JVM.
     *
     * @return the count
     */
    public static long trims() {
        return TRIMS.get();
    }

    /**
     * Whether {@code malloc_trim} is available and on.
     *
     * @return true on glibc unless {@code -Dsora4j.mallocTrim=false}
     */
    public static boolean available() {
        return function() != null;
    }

    private static Function function() {
        if (!resolved) {
            synchronized (NativeHeap.class) {
                if (!resolved) {
                    mallocTrim = lookUp();
                    resolved = true;
                }
            }
        }
        return "false".equalsIgnoreCase(System.getProperty(PROPERTY)) ? null : mallocTrim;
    }

    private static Function lookUp() {
        Function f = Libc.function("malloc_trim");
        if (f == null) {
            LOG.debug("no malloc_trim here (not Linux with glibc?)");
        }
        return f;
    }
}
