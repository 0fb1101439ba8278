package io.github.sora4j.benchmarks;

import io.github.sora4j.load.ActivationPeaks;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.LoadedBlock;
import io.github.sora4j.load.LoaderStats;
import io.github.sora4j.pack.BlockInfo;
import java.util.List;
import java.util.Objects;

/**
 * The streaming setting's loader: the STDiT blocks go through the row's loader (sequential or
 * CI-DL, under the budget, at phone-flash speed), the T5 and VAE blocks through a resident one.
 * In the paper's Table 5, T5 + VAE take the same ≈ 180 s in every column, CI-DL's included; this
 * keeps them equal across rows here too, so that a row's total differs from the baseline's only
 * by what its technique does to the STDiT stage. {@link #stats()} reports the STDiT loader's.
 */
final class StditStreamingLoader implements BlockLoader {
    private final BlockLoader stdit;
    private final BlockLoader others;

    /**
     * Routes blocks by set.
     *
     * @param stdit loads the {@code stdit} set; closed with this loader
     * @param others loads the other sets; closed with this loader
     */
    StditStreamingLoader(BlockLoader stdit, BlockLoader others) {
        this.stdit = Objects.requireNonNull(stdit, "stdit");
        this.others = Objects.requireNonNull(others, "others");
    }

    private BlockLoader route(BlockInfo block) {
        return block.set().equals("stdit") ? stdit : others;
    }

    @Override
    public void beginGeneration(ActivationPeaks peaks) {
        stdit.beginGeneration(peaks);
        others.beginGeneration(peaks);
    }

    @Override
    public void beginSet(List<BlockInfo> blocks) {
        if (!blocks.isEmpty()) {
            route(blocks.get(0)).beginSet(blocks);
        }
    }

    @Override
    public LoadedBlock acquire(BlockInfo block) {
        return route(block).acquire(block);
    }

    @Override
    public LoaderStats stats() {
        return stdit.stats();
    }

    @Override
    public void close() {
        try {
            stdit.close();
        } finally {
            others.close();
        }
    }

    @Override
    public String toString() {
        return "StditStreamingLoader[stdit=" + stdit + ", others=" + others + "]";
    }
}
