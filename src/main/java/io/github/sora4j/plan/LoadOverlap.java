package io.github.sora4j.plan;

import io.github.sora4j.InvalidConfigurationException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Predicts the wall time of running blocks that must be loaded first: sequentially (load, run,
 * free), or as CI-DL does it (resident blocks loaded once; the next block loaded on a second
 * thread while one runs). A timeline model of the paper's Eq. 10 and 11, for the block sizes,
 * storage speed and compute times at hand (see docs/benchmarks.md).
 *
 * <pre>{@code
 * List<LoadOverlap.Block> step = List.of(
 *         new LoadOverlap.Block("embed", 0.02, 0.05, true),
 *         new LoadOverlap.Block("pair0", 0.30, 0.12, false), …);
 * double seq = LoadOverlap.seconds(Collections.nCopies(30, step), false);
 * double cidl = LoadOverlap.seconds(Collections.nCopies(30, step), true);
 * }</pre>
 *
 * <p>Rules, as {@code StreamingBlockLoader} behaves: a block is loaded when it is needed unless it
 * is loaded already (a resident block after its first use, or the block prefetched); with
 * prefetching, when a block starts running, the next block of the sequence that is not loaded
 * starts loading, one at a time, and the block after waits for it if it is not done; the first
 * run of a set does not yet know which block follows its last one, so nothing is prefetched
 * across the end of the first run. Loading is assumed to take no compute from the running block
 * (true for throttled reads, which sleep; otherwise an overhead the model leaves out).
 */
public final class LoadOverlap {
    private LoadOverlap() {}

    /**
     * One block execution.
     *
     * @param name identifies the block (the same name in several runs is the same block)
     * @param computeSeconds time to run it once loaded
     * @param loadSeconds time to load it
     * @param resident whether it stays loaded after its first use
     */
    public record Block(String name, double computeSeconds, double loadSeconds,
            boolean resident) {

        /**
         * Creates a block execution.
         *
         * @param name identifies the block (the same name in several runs is the same block); not
         *     null
         * @param computeSeconds time to run it once loaded, in seconds, {@code >= 0}
         * @param loadSeconds time to load it from storage, in seconds, {@code >= 0}
         * @param resident whether it stays loaded after its first use
         * @throws InvalidConfigurationException if a time is negative or NaN
         */
        public Block {
            InvalidConfigurationException.requireNonNull(name, "name");
            if (!(computeSeconds >= 0) || !(loadSeconds >= 0)) {
                throw new InvalidConfigurationException("block " + name
                        + ": times must be >= 0 but were " + computeSeconds + ", " + loadSeconds);
            }
        }
    }

    /**
     * The wall time of running the blocks of several runs (e.g. one run per denoising step).
     *
     * @param runs each run's blocks in execution order
     * @param prefetch whether the next block is loaded while one runs (CI)
     * @return seconds
     */
    public static double seconds(List<List<Block>> runs, boolean prefetch) {
        Set<String> loaded = new HashSet<>();
        String inFlight = null;
        double ready = 0;
        double t = 0;
        for (int r = 0; r < runs.size(); r++) {
            List<Block> run = runs.get(r);
            for (int i = 0; i < run.size(); i++) {
                Block b = run.get(i);
                if (b.name().equals(inFlight)) {
                    t = Math.max(t, ready);
                    inFlight = null;
                } else if (!loaded.contains(b.name())) {
                    if (inFlight != null) { // a wrong guess: wait for it, then load on demand
                        t = Math.max(t, ready);
                        inFlight = null;
                    }
                    t += b.loadSeconds();
                }
                if (b.resident()) {
                    loaded.add(b.name());
                }
                if (prefetch && inFlight == null) {
                    Block next = next(runs, r, i, loaded, b.name());
                    if (next != null) {
                        inFlight = next.name();
                        ready = t + next.loadSeconds();
                    }
                }
                t += b.computeSeconds();
            }
        }
        return t;
    }

    private static Block next(List<List<Block>> runs, int r, int i, Set<String> loaded,
            String current) {
        int run = r;
        int index = i + 1;
        while (run < runs.size()) {
            if (index >= runs.get(run).size()) {
                if (run == 0) {
                    return null; // the first run has not learned what follows its last block
                }
                run++;
                index = 0;
                continue;
            }
            Block c = runs.get(run).get(index);
            if (!loaded.contains(c.name()) && !c.name().equals(current)) {
                return c;
            }
            if (c.name().equals(current)) {
                return null;
            }
            index++;
        }
        return null;
    }
}
