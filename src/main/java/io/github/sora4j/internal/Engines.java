package io.github.sora4j.internal;

import ai.djl.engine.Engine;
import io.github.sora4j.Sora4jException;
import java.util.Locale;

/** Starts DJL's PyTorch engine offline, with a clear error when its natives are missing. */
public final class Engines {
    private static volatile Engine engine;

    private Engines() {}

    /**
     * The PyTorch engine, started on first use. Sets {@code ai.djl.offline=true} unless the
     * application chose otherwise, so nothing is downloaded at run time, and, before the natives
     * load, OpenMP's passive wait policy ({@link OpenMpWaitPolicy}).
     *
     * @return the engine
     * @throws Sora4jException naming the natives artifact the class path lacks, or the CPU
     *     feature DJL's natives need and this CPU lacks (see {@link NativeSupport})
     */
    public static Engine pytorch() {
        Engine e = engine;
        if (e != null) {
            return e;
        }
        synchronized (Engines.class) {
            if (engine == null) {
                NativeSupport.requireSupportedCpu();
                if (System.getProperty("ai.djl.offline") == null
                        && System.getenv("DJL_OFFLINE") == null) {
                    System.setProperty("ai.djl.offline", "true");
                }
                OpenMpWaitPolicy.apply(); // before libtorch's OpenMP runtime loads
                try {
                    engine = Engine.getEngine("PyTorch");
                    NativeSupport.quietNnpack();
                } catch (RuntimeException | UnsatisfiedLinkError err) {
                    throw new Sora4jException("cannot start DJL's PyTorch engine (" + err.getMessage()
                            + "). sora4j runs offline and needs the natives on the class path: add "
                            + "ai.djl.pytorch:pytorch-native-cpu:2.7.1:" + platform()
                            + " and ai.djl.pytorch:pytorch-jni:2.7.1-0.36.0 (runtime scope)", err);
                }
            }
            return engine;
        }
    }

    /**
     * DJL's classifier for this machine, e.g. {@code linux-x86_64}.
     *
     * @return the classifier
     */
    public static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o = os.startsWith("mac") ? "osx" : os.startsWith("win") ? "win" : "linux";
        String a = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64"
                : arch.equals("aarch64") || arch.equals("arm64") ? "aarch64" : arch;
        return o + "-" + a;
    }
}
