package io.github.sora4j.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.sora4j.pack.BlockInfo;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SetResidencyTest {
    private static final long MB = 1_000_000;

    private static BlockInfo block(int i, long bytes) {
        return new BlockInfo(String.format("stdit.block.%02d", i), "stdit", "stdit-block", i,
                String.format("stdit/block_%02d.pt", i), bytes + 1000, bytes, "float32",
                "0".repeat(64));
    }

    private static List<BlockInfo> equalBlocks(int count, long bytes) {
        List<BlockInfo> blocks = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            blocks.add(block(i, bytes));
        }
        return blocks;
    }

    @Test
    void equalBlocksGiveThePapersFormula() {
        // d = floor((budget - activations - 2 * block) / block) = floor((3000 - 700 - 340) / 170)
        SetResidency r = SetResidency.plan("stdit", equalBlocks(28, 170 * MB), 700 * MB,
                3000 * MB, true, true);
        assertThat(r.residentCount()).isEqualTo((3000 - 700 - 340) / 170);
        assertThat(r.prefetch()).isTrue();
        assertThat(r.peakWeightBytes()).isEqualTo((11 + 2) * 170 * MB);
        assertThat(r.fits()).isTrue();
    }

    @Test
    void unequalBlocksKeepTheLongestPrefixThatLeavesRoomForTheTwoLargestStreamedOnes() {
        List<BlockInfo> blocks = List.of(block(0, 100), block(1, 300), block(2, 50),
                block(3, 50), block(4, 200));
        // d=2: 400 resident + (200 + 50) streamed = 650 <= 700; d=3: 450 + 250 = 700 <= 700;
        // d=4: 500 + 200 (one streamed block left) = 700 <= 700; d=5: 700 <= 700.
        assertThat(SetResidency.plan("stdit", blocks, 0, 700, true, true).residentCount())
                .isEqualTo(5);
        // 650 available: d=3 needs 700, d=2 needs 400 + 250 = 650.
        SetResidency r = SetResidency.plan("stdit", blocks, 0, 650, true, true);
        assertThat(r.residentCount()).isEqualTo(2);
        assertThat(r.residentBlocks()).extracting(BlockInfo::order).containsExactly(0, 1);
        assertThat(r.streamedBytesPerRun()).isEqualTo(300);
        assertThat(r.peakWeightBytes()).isEqualTo(650);
    }

    @Test
    void prefetchIsDroppedWhenOnlyOneStreamedBlockFits() {
        List<BlockInfo> blocks = equalBlocks(4, 100);
        SetResidency r = SetResidency.plan("stdit", blocks, 50, 199, true, true);
        assertThat(r.prefetch()).isFalse();
        assertThat(r.residentCount()).isZero();
        assertThat(r.peakBytes()).isEqualTo(150);
        assertThat(r.fits()).isTrue();
    }

    @Test
    void withoutDynamicLoadingNothingStaysResident() {
        SetResidency r = SetResidency.plan("stdit", equalBlocks(4, 100), 0, 10_000, false, true);
        assertThat(r.residentCount()).isZero();
        assertThat(r.prefetch()).isTrue();
        assertThat(r.peakWeightBytes()).isEqualTo(200);
    }

    @Test
    void aSetWhoseLargestBlockAndActivationsExceedTheBudgetDoesNotFit() {
        SetResidency r = SetResidency.plan("stdit", equalBlocks(4, 100), 50, 149, true, true);
        assertThat(r.fits()).isFalse();
        assertThat(r.minimumBytes()).isEqualTo(150);
    }

    @Test
    void repeatedBlocksCountOnce() {
        List<BlockInfo> blocks = new ArrayList<>(equalBlocks(2, 100));
        blocks.addAll(equalBlocks(2, 100));
        assertThat(SetResidency.plan("vae", blocks, 0, 1000, true, true).blocks()).hasSize(2);
    }

    @Test
    void budgetsRejectReservationsThatLeaveNothing() {
        assertThatThrownBy(() -> new MemoryBudget(100, 100))
                .hasMessage("reservedBytes must be in [0, totalBytes) but was 100 of 100");
        assertThat(new MemoryBudget(3_300_000_000L, 300_000_000L).availableBytes())
                .isEqualTo(3_000_000_000L);
    }
}
