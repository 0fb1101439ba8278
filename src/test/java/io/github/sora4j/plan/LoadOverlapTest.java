package io.github.sora4j.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class LoadOverlapTest {
    private static List<LoadOverlap.Block> step(double compute, double load, boolean firstResident) {
        return List.of(new LoadOverlap.Block("embed", 0.1, 0.1, firstResident),
                new LoadOverlap.Block("pair0", compute, load, false),
                new LoadOverlap.Block("pair1", compute, load, false),
                new LoadOverlap.Block("final", 0.1, 0.1, false));
    }

    @Test
    void sequentialLoadingAddsEveryLoad() {
        double s = LoadOverlap.seconds(Collections.nCopies(3, step(1, 0.5, false)), false);
        assertThat(s).isCloseTo(3 * (0.2 + 3.0 + 0.2), within(1e-12));
    }

    @Test
    void residentBlocksLoadOnce() {
        double s = LoadOverlap.seconds(Collections.nCopies(3, step(1, 0.5, true)), false);
        assertThat(s).isCloseTo(3 * (0.2 + 3.0 + 0.2) - 2 * 0.1, within(1e-12));
    }

    @Test
    void prefetchingHidesLoadsUpToTheComputeOfThePreviousBlock() {
        // one run: embed loads (0.1), then pair0 loads during embed (0.5 vs 0.1: waits 0.4),
        // pair1 during pair0 (hidden), final during pair1 (hidden); nothing crosses the first run
        double one = LoadOverlap.seconds(List.of(step(1, 0.5, false)), true);
        assertThat(one).isCloseTo(0.1 + 0.1 + 0.4 + 1 + 1 + 0.1, within(1e-12));
        // the second run loads embed on demand (the first run does not know what follows it);
        // from the third on, embed is prefetched during the previous final (0.1 vs 0.1: hidden)
        double two = LoadOverlap.seconds(Collections.nCopies(2, step(1, 0.5, false)), true);
        double three = LoadOverlap.seconds(Collections.nCopies(3, step(1, 0.5, false)), true);
        assertThat(two - one).isCloseTo(0.1 + 0.1 + 0.4 + 1 + 1 + 0.1, within(1e-12));
        assertThat(three - two).isCloseTo(0.1 + 0.4 + 1 + 1 + 0.1, within(1e-12));
    }

    @Test
    void loadsLongerThanComputeLeaveTheDifference() {
        // Eq. 10: each overlapped block saves min(l, e)
        double seq = LoadOverlap.seconds(Collections.nCopies(10, step(0.2, 0.5, true)), false);
        double ci = LoadOverlap.seconds(Collections.nCopies(10, step(0.2, 0.5, true)), true);
        assertThat(seq - ci).isGreaterThan(9 * 2 * 0.2);
    }

    @Test
    void nothingToLoadMeansNothingChanges() {
        List<LoadOverlap.Block> free = List.of(new LoadOverlap.Block("a", 1, 0, false),
                new LoadOverlap.Block("b", 2, 0, false));
        assertThat(LoadOverlap.seconds(Collections.nCopies(4, free), true)).isEqualTo(12.0);
        assertThat(LoadOverlap.seconds(Collections.nCopies(4, free), false)).isEqualTo(12.0);
    }
}
