package io.github.sora4j.load;

import io.github.sora4j.InvalidConfigurationException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import io.github.sora4j.pack.BlockInfo;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A handle on a block that is loaded and ready to run, given out by {@link BlockLoader#acquire}.
 * Closing the handle releases it back to the loader, which decides whether the block stays
 * resident or is freed. Use it in try-with-resources; {@link #close()} is idempotent.
 */
public final class LoadedBlock implements AutoCloseable {
    private final TorchScriptBlock block;
    private final Runnable release;
    private final boolean optimize;
    private final AtomicBoolean released = new AtomicBoolean();

    /**
     * Creates a handle (for {@link BlockLoader} implementations) on a block that may run many
     * times.
     *
     * @param block the loaded block
     * @param release what closing the handle does (e.g. nothing for a resident block, or freeing
     *     it)
     */
    public LoadedBlock(TorchScriptBlock block, Runnable release) {
        this(block, release, true);
    }

    /**
     * Creates a handle (for {@link BlockLoader} implementations).
     *
     * <p>TorchScript's profiling executor runs a method's first call as a slower, instrumented
     * profiling run and optimises the graph for later calls. A block that is freed after this
     * handle (a streamed block) never gets to the later calls, so its handle should pass {@code
     * optimize = false}: its methods then run the graph as it is, which on the bench pack's STDiT
     * pair took about the time of an optimised call instead of 1.5 to 2 times it. The setting
     * (libtorch's thread-local graph-executor flag) applies to this handle's calls only.
     *
     * @param block the loaded block
     * @param release what closing the handle does
     * @param optimize whether the graph executor may profile and optimise the block's methods
     */
    public LoadedBlock(TorchScriptBlock block, Runnable release, boolean optimize) {
        this.block = block;
        this.release = release;
        this.optimize = optimize;
    }

    /**
     * The block's manifest entry.
     *
     * @return the block info
     */
    public BlockInfo info() {
        return block.info();
    }

    /**
     * Whether the block has a TorchScript method ({@link TorchScriptBlock#hasMethod}).
     *
     * @param method method name
     * @return true if {@link #call} can run it
     */
    public boolean hasMethod(String method) {
        return block.hasMethod(method);
    }

    /**
     * Runs the block's {@code forward}.
     *
     * @param out manager the outputs are attached to
     * @param inputs tensor arguments (not closed)
     * @return the outputs
     */
    public NDList forward(NDManager out, NDArray... inputs) {
        return call("forward", out, inputs);
    }

    /**
     * Runs a named method of the block (e.g. an STDiT sub-stage).
     *
     * @param method method name
     * @param out manager the outputs are attached to
     * @param inputs tensor arguments (not closed)
     * @return the outputs
     */
    public NDList call(String method, NDManager out, NDArray... inputs) {
        if (released.get()) {
            throw new io.github.sora4j.ResourceClosedException("block handle " + info().name() + " was released");
        }
        if (optimize) {
            return block.call(method, out, inputs);
        }
        JniUtils.setGraphExecutorOptimize(false);
        try {
            return block.call(method, out, inputs);
        } finally {
            // Back to what DJL's own blocks use: its ai.djl.pytorch.graph_optimizer property,
            // true (libtorch's default) when unset.
            String p = System.getProperty("ai.djl.pytorch.graph_optimizer");
            JniUtils.setGraphExecutorOptimize(p == null || Boolean.parseBoolean(p));
        }
    }

    /**
     * A handle on the same block whose {@link #close()} releases this handle and then runs an
     * action: for loaders that decorate another one (logging, tests) and need to see releases.
     * Use only the returned handle from then on.
     *
     * @param action run once, after this handle is released
     * @return the new handle
     */
    public LoadedBlock whenClosed(Runnable action) {
        InvalidConfigurationException.requireNonNull(action, "action");
        return new LoadedBlock(block, () -> {
            close();
            action.run();
        }, optimize);
    }

    /** Releases the handle to its loader. */
    @Override
    public void close() {
        if (released.compareAndSet(false, true)) {
            release.run();
        }
    }
}
