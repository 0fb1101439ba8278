package io.github.sora4j.load;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.Sora4jException;
import java.util.concurrent.TimeUnit;

/** Factories of the built-in {@link BlockReader}s. */
public final class BlockReaders {
    private static final BlockReader TORCH_SCRIPT = TorchScriptBlock::load;

    private BlockReaders() {}

    /**
     * Loads the block file with libtorch ({@link TorchScriptBlock#load}).
     *
     * @return the reader
     */
    public static BlockReader torchScript() {
        return TORCH_SCRIPT;
    }

    /**
     * Makes every read take at least {@code bytes × byteScale / bytesPerSecond} seconds, by
     * sleeping after the real read for what is left of that time. It simulates storage slower
     * than this machine's page cache, e.g. a phone's flash at 1.45 GB/s (iPhone 15 Pro, see
     * docs/memory.md); {@code byteScale} lets a small pack's blocks stand for real-size ones
     * (a tiny STDiT pair of 0.53 MB read as the real 170 MB needs a scale of about 318).
     *
     * @param reader the reader that does the real work
     * @param bytesPerSecond simulated read bandwidth, > 0
     * @param byteScale simulated bytes per file byte, > 0
     * @return the reader
     */
    public static BlockReader throttled(BlockReader reader, double bytesPerSecond,
            double byteScale) {
        if (!(bytesPerSecond > 0) || Double.isInfinite(bytesPerSecond)) {
            throw new InvalidConfigurationException("bytesPerSecond must be > 0 but was "
                    + bytesPerSecond);
        }
        if (!(byteScale > 0) || Double.isInfinite(byteScale)) {
            throw new InvalidConfigurationException("byteScale must be > 0 but was " + byteScale);
        }
        return (pack, block) -> {
            long start = System.nanoTime();
            TorchScriptBlock b = reader.read(pack, block);
            long target = (long) (block.bytes() * byteScale / bytesPerSecond * 1e9);
            long left = target - (System.nanoTime() - start);
            if (left > 0) {
                try {
                    TimeUnit.NANOSECONDS.sleep(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    b.close();
                    throw new Sora4jException("interrupted while reading block " + block.name(), e);
                }
            }
            return b;
        };
    }
}
