package io.github.sora4j.merge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class UpstreamTemporalTokenMergerTest {
    private static NDManager manager;

    @BeforeAll
    static void open() {
        manager = NDManager.newBaseManager("PyTorch");
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    @Test
    void frameCountsThreeModFourDropTheLastFrameIntoTheLastPair() {
        TokenMerger m = TokenMergers.tdtmUpstream(15);
        assertThat(m.groups(0, 30, 15).sizes()).containsExactly(2, 2, 2, 2, 2, 2, 3);
        assertThat(m.groups(0, 30, 3).sizes()).containsExactly(3);
        assertThat(m.groups(14, 30, 15).groupCount()).isEqualTo(7);
        assertThat(m.groups(15, 30, 15).isIdentity()).isTrue();
        // The project's rule keeps the last frame alone: 8 merged frames instead of 7.
        assertThat(TokenMergers.tdtm(15).groups(0, 30, 15).groupCount()).isEqualTo(8);
    }

    @Test
    void frameCountsUpstreamCannotRunFallBackToTheProjectsRule() {
        TokenMerger m = TokenMergers.tdtmUpstream(Integer.MAX_VALUE);
        for (int t : new int[] {1, 2, 4, 5, 6, 9, 10, 20, 21, 30, 31}) {
            assertThat(m.groups(29, 30, t)).as("T=%d", t)
                    .isEqualTo(FrameGroups.consecutive(t, 2));
        }
        assertThat(UpstreamTemporalTokenMerger.followsUpstream(4)).isTrue();
        assertThat(UpstreamTemporalTokenMerger.followsUpstream(15)).isTrue();
        assertThat(UpstreamTemporalTokenMerger.followsUpstream(30)).isTrue();
        assertThat(UpstreamTemporalTokenMerger.followsUpstream(5)).isFalse();
        assertThat(UpstreamTemporalTokenMerger.followsUpstream(10)).isFalse();
        assertThat(UpstreamTemporalTokenMerger.followsUpstream(31)).isFalse();
    }

    @Test
    void mergeAveragesPairsWithoutTheLastFrameAndUnmergeCopiesTheLastPairOntoIt() {
        int b = 2;
        int t = 7;
        int s = 3;
        int c = 4;
        float[] in = random(b * t * s * c, 7);
        NDArray x = manager.create(in, new Shape(b, (long) t * s, c));
        TokenMerger m = TokenMergers.tdtmUpstream(1);
        FrameGroups g = m.groups(0, 30, t);
        float[] merged = m.merge(x, g, s).toFloatArray();
        assertThat(merged).hasSize(b * 3 * s * c);
        for (int bi = 0; bi < b; bi++) {
            for (int f = 0; f < 3; f++) {
                for (int i = 0; i < s * c; i++) {
                    float a = in[(bi * t + 2 * f) * s * c + i];
                    float a2 = in[(bi * t + 2 * f + 1) * s * c + i];
                    assertThat(merged[(bi * 3 + f) * s * c + i]).isEqualTo((a + a2) / 2);
                }
            }
        }
        NDArray out = manager.create(random(b * 3 * s * c, 8), new Shape(b, 3L * s, c));
        float[] o = out.toFloatArray();
        float[] back = m.unmerge(out, g, s).toFloatArray();
        assertThat(back).hasSize(b * t * s * c);
        for (int bi = 0; bi < b; bi++) {
            for (int f = 0; f < t; f++) {
                int src = Math.min(f / 2, 2);
                for (int i = 0; i < s * c; i++) {
                    assertThat(back[(bi * t + f) * s * c + i])
                            .isEqualTo(o[(bi * 3 + src) * s * c + i]);
                }
            }
        }
    }

    @Test
    void negativeMergeStepsAreRejected() {
        assertThatThrownBy(() -> TokenMergers.tdtmUpstream(-1))
                .isInstanceOf(io.github.sora4j.InvalidConfigurationException.class).hasMessageContaining("-1");
        assertThat(TokenMergers.tdtmUpstream(Integer.MAX_VALUE).toString()).contains("all");
    }
}
