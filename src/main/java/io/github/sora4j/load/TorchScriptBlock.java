package io.github.sora4j.load;

import io.github.sora4j.InvalidConfigurationException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import io.github.sora4j.Sora4jException;
import io.github.sora4j.internal.Engines;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.ModelPackException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One TorchScript block of a model pack loaded into native memory. It owns the module and frees it
 * on {@link #close()}; {@link BlockLoader}s create, keep and close these, and hand out {@link
 * LoadedBlock} handles to the pipeline.
 *
 * <p>Calling a block is thread-safe (TorchScript inference does not mutate the module).
 */
public final class TorchScriptBlock implements AutoCloseable {
    private final BlockInfo info;
    private final NDManager manager;
    private final PtSymbolBlock module;
    private final Set<String> methods;
    private final AtomicBoolean closed = new AtomicBoolean();

    private TorchScriptBlock(BlockInfo info, NDManager manager, PtSymbolBlock module) {
        this.info = info;
        this.manager = manager;
        this.module = module;
        this.methods = Set.of(JniUtils.getMethodNames(module));
    }

    /**
     * Loads a block file of a pack.
     *
     * @param pack the pack
     * @param info the block to load
     * @return the loaded block, owned by the caller
     * @throws ModelPackException if the file fails its checks ({@link ModelPack#readBlock}) or
     *     cannot be loaded as TorchScript
     */
    public static TorchScriptBlock load(ModelPack pack, BlockInfo info) {
        Engines.pytorch(); // offline, the CPU check, NNPACK quiet (also when no pipeline started it)
        // Read once, check those bytes in the same pass (size, SHA-256 or a CRC32C of the bytes
        // verified at open: BlockLoadCheck; role tag, TorchScript allowlist), then hand exactly
        // them to libtorch: nothing can change the file between the check and the load.
        byte[] data = pack.readBlock(info);
        NDManager manager = NDManager.newBaseManager("PyTorch");
        try {
            PtSymbolBlock module = JniUtils.loadModule(
                    (PtNDManager) manager, new ByteArrayInputStream(data), true, false);
            return new TorchScriptBlock(info, manager, module);
        } catch (IOException | RuntimeException e) {
            manager.close();
            throw new ModelPackException("cannot load block " + info.name() + " from "
                    + pack.directory().resolve(info.file()) + ": " + e.getMessage(), e);
        }
    }

    /**
     * The block's manifest entry.
     *
     * @return the block info
     */
    public BlockInfo info() {
        return info;
    }

    /**
     * Whether the module has a method: how the library tells a block of the current exporter from
     * one exported before a method existed (e.g. an STDiT pair's {@code forward_merged}).
     *
     * @param method TorchScript method name
     * @return true if {@link #call} can run it
     */
    public boolean hasMethod(String method) {
        return methods.contains(method);
    }

    /**
     * Runs a method of the block ({@code forward} or a sub-stage method).
     *
     * @param method TorchScript method name
     * @param out manager the outputs are attached to
     * @param inputs tensor arguments, in order (not closed)
     * @return the outputs (a tuple is flattened into the list)
     */
    public NDList call(String method, NDManager out, NDArray... inputs) {
        if (closed.get()) {
            throw new io.github.sora4j.ResourceClosedException("block " + info.name() + " is closed");
        }
        IValue[] args = new IValue[inputs.length];
        try {
            for (int i = 0; i < inputs.length; i++) {
                args[i] = IValue.from((PtNDArray) inputs[i]);
            }
            try (IValue result = IValueUtils.runMethod(module, method, args)) {
                return result.toNDList((PtNDManager) out);
            }
        } catch (ClassCastException e) {
            throw new InvalidConfigurationException("block " + info.name()
                    + " needs PyTorch-engine arrays: " + e.getMessage(), e);
        } catch (Sora4jException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new Sora4jException("block " + info.name() + "." + method + " failed: "
                    + e.getMessage(), e);
        } finally {
            for (IValue a : args) {
                if (a != null) {
                    a.close();
                }
            }
        }
    }

    /** Frees the module's native memory; idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            module.close();
            manager.close();
        }
    }

    /**
     * Whether {@link #close()} was called.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return closed.get();
    }

    @Override
    public String toString() {
        return "TorchScriptBlock[" + info.name() + "]";
    }
}
