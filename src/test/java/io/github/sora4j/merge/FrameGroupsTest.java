package io.github.sora4j.merge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class FrameGroupsTest {

    @Test
    void pairsOfAnOddFrameCountKeepTheLastFrameAlone() {
        FrameGroups g = FrameGroups.consecutive(5, 2);
        assertThat(g.sizes()).containsExactly(2, 2, 1);
        assertThat(g.groupCount()).isEqualTo(3);
        assertThat(g.isIdentity()).isFalse();
    }

    @Test
    void identityHasOneGroupPerFrame() {
        assertThat(FrameGroups.identity(4).isIdentity()).isTrue();
        assertThat(FrameGroups.consecutive(4, 1)).isEqualTo(FrameGroups.identity(4));
    }

    @Test
    void sizesMustSumToTheFrameCount() {
        assertThatThrownBy(() -> new FrameGroups(5, new int[] {2, 2}))
                .isInstanceOf(io.github.sora4j.InvalidConfigurationException.class)
                .hasMessage("group sizes [2, 2] sum to 4, not to frames=5");
    }

    @Test
    void noMergerNeverMerges() {
        for (int step = 0; step < 30; step++) {
            assertThat(TokenMergers.none().groups(step, 30, 7).isIdentity()).isTrue();
        }
    }
}
