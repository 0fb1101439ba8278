package io.github.sora4j.load;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
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
    private final AtomicBoolean released = new AtomicBoolean();

    /**
     * Creates a handle (for {@link BlockLoader} implementations).
     *
     * @param block the loaded block
     * @param release what closing the handle does (e.g. nothing for a resident block, or freeing
     *     it)
     */
    public LoadedBlock(TorchScriptBlock block, Runnable release) {
        this.block = block;
        this.release = release;
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
            throw new IllegalStateException("block handle " + info().name() + " was released");
        }
        return block.call(method, out, inputs);
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
        java.util.Objects.requireNonNull(action, "action");
        return new LoadedBlock(block, () -> {
            close();
            action.run();
        });
    }

    /** Releases the handle to its loader. */
    @Override
    public void close() {
        if (released.compareAndSet(false, true)) {
            release.run();
        }
    }
}
