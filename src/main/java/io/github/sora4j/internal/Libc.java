package io.github.sora4j.internal;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import java.util.Locale;

/** Functions of the C library on Linux, looked up through JNA; absent elsewhere. */
public final class Libc {
    private Libc() {}

    /**
     * The C library's function {@code name} on Linux.
     *
     * @param name the symbol, e.g. {@code malloc_trim}
     * @return the function, or null where this is not Linux or the C library lacks it (musl, an
     *     old glibc)
     */
    public static Function function(String name) {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
            return null;
        }
        try {
            return NativeLibrary.getInstance("c").getFunction(name);
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            return null;
        }
    }
}
