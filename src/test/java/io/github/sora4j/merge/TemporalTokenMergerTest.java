package io.github.sora4j.merge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.sora4j.load.TorchScriptBlock;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TemporalTokenMergerTest {
    private static NDManager manager;

    @BeforeAll
    static void open() {
        manager = NDManager.newBaseManager("PyTorch");
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private static NDArray tokens(int b, int t, int s, int c, long seed) {
        Random r = new Random(seed);
        float[] v = new float[b * t * s * c];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return manager.create(v, new Shape(b, (long) t * s, c));
    }

    @Test
    void tdtmMergesFramePairsForTheFirstKStepsOnly() {
        TokenMerger m = TokenMergers.tdtm(15);
        assertThat(m.groups(0, 30, 20).sizes()).hasSize(10).containsOnly(2);
        assertThat(m.groups(14, 30, 20).groupCount()).isEqualTo(10);
        assertThat(m.groups(15, 30, 20).isIdentity()).isTrue();
        assertThat(TokenMergers.tdtm(Integer.MAX_VALUE).groups(29, 30, 20).isIdentity()).isFalse();
    }

    @Test
    void mergingAveragesEachPairAndShrinksTheFrameAxis() {
        int t = 4;
        int s = 3;
        NDArray x = tokens(2, t, s, 5, 1);
        FrameGroups g = FrameGroups.consecutive(t, 2);
        NDArray merged = TokenMergers.tdtm(1).merge(x, g, s);
        assertThat(merged.getShape()).isEqualTo(new Shape(2, 2 * s, 5));
        float[] in = x.toFloatArray();
        float[] out = merged.toFloatArray();
        // Token (b=1, merged frame 1, s=2, c=4) = (frame 2 + frame 3) / 2.
        int c = 5;
        int idx = ((1 * 2 + 1) * s + 2) * c + 4;
        int f2 = ((1 * t + 2) * s + 2) * c + 4;
        int f3 = ((1 * t + 3) * s + 2) * c + 4;
        assertThat(out[idx]).isEqualTo((in[f2] + in[f3]) / 2);
    }

    @Test
    void anOddFrameCountKeepsItsLastFrameAndUnmergesToExactlyTFrames() {
        for (int t : new int[] {1, 5, 7, 14, 21}) {
            int s = 2;
            NDArray x = tokens(2, t, s, 3, t);
            FrameGroups g = FrameGroups.consecutive(t, 2);
            TokenMerger m = TokenMergers.tdtm(1);
            NDArray merged = m.merge(x, g, s);
            assertThat(merged.getShape().get(1)).isEqualTo((long) ((t + 1) / 2) * s);
            NDArray back = m.unmerge(merged, g, s);
            assertThat(back.getShape()).isEqualTo(x.getShape());
            if (t % 2 == 1) {
                // The unpaired last frame passes through untouched.
                float[] a = x.toFloatArray();
                float[] b = back.toFloatArray();
                int frame = 2 * s * 3;
                for (int i = 0; i < 2; i++) {
                    int off = (i * t + t - 1) * frame / 2;
                    for (int k = 0; k < frame / 2; k++) {
                        assertThat(b[off + k]).isEqualTo(a[off + k]);
                    }
                }
            }
        }
    }

    @Test
    void tokensConstantInTimeAreRestoredExactly() {
        int t = 7;
        int s = 4;
        int c = 3;
        float[] frame = tokens(1, 1, s, c, 9).toFloatArray();
        float[] v = new float[t * s * c];
        for (int f = 0; f < t; f++) {
            System.arraycopy(frame, 0, v, f * s * c, s * c);
        }
        NDArray x = manager.create(v, new Shape(1, (long) t * s, c));
        // Averaging r equal floats is exact when r is a power of two (TDTM's r = 2); r = 3 is
        // within one rounding of the sum.
        FrameGroups g2 = FrameGroups.consecutive(t, 2);
        TokenMerger m2 = TokenMergers.tdtm(1);
        assertThat(m2.unmerge(m2.merge(x, g2, s), g2, s).toFloatArray()).containsExactly(v);
        FrameGroups g4 = new FrameGroups(t, new int[] {4, 2, 1});
        assertThat(m2.unmerge(m2.merge(x, g4, s), g4, s).toFloatArray()).containsExactly(v);
        FrameGroups g3 = FrameGroups.consecutive(t, 3);
        TokenMerger m3 = new TemporalTokenMerger(3, 1);
        float[] back = m3.unmerge(m3.merge(x, g3, s), g3, s).toFloatArray();
        for (int i = 0; i < v.length; i++) {
            assertThat(back[i]).isCloseTo(v[i], org.assertj.core.data.Offset.offset(
                    2 * Math.ulp(Math.abs(v[i]))));
        }
    }

    @Test
    void identityGroupsThroughTheSubStagesEqualTheFusedBlockBitForBit() {
        ModelPack pack = ModelPack.embeddedDefault();
        BlockInfo info = pack.manifest().blocksWithRole("stdit-block").get(0);
        int hidden = pack.manifest().stdit().hiddenSize();
        int t = 3;
        int s = 4;
        try (TorchScriptBlock block = TorchScriptBlock.load(pack, info);
                NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDArray x = m.create(tokens(2, t, s, hidden, 3).toFloatArray(),
                    new Shape(2, (long) t * s, hidden));
            NDArray y = m.create(tokens(2, 1, 5, hidden, 4).toFloatArray(), new Shape(2, 5, hidden));
            NDArray tMlp = m.create(tokens(2, 1, 6, hidden, 5).toFloatArray(),
                    new Shape(2, 6L * hidden));
            NDArray frames = m.create((long) t);
            NDArray fused = block.call("forward", m, x, y, tMlp, frames).head();
            FrameGroups g = FrameGroups.identity(t);
            TokenMerger merger = TokenMergers.none();
            NDArray h = x;
            for (String half : new String[] {"spatial", "temporal"}) {
                NDArray n = block.call(half + "_norm_msa", m, h, tMlp).head();
                NDArray a = block.call(half + "_self_attn", m, merger.merge(n, g, s), frames).head();
                h = block.call(half + "_gate_msa", m, h, merger.unmerge(a, g, s), tMlp).head();
                NDArray c = block.call(half + "_cross_attn", m, merger.merge(h, g, s), y).head();
                h = h.add(merger.unmerge(c, g, s));
                h = block.call(half + "_mlp", m, h, tMlp).head();
            }
            assertThat(h.toFloatArray()).containsExactly(fused.toFloatArray());
        }
    }

    /** The per-group definition: sum each group's frames in order, divide by its size. */
    private static float[] mergeByDefinition(float[] v, FrameGroups g, int b, int s, int c) {
        int t = g.frames();
        float[] out = new float[b * g.groupCount() * s * c];
        for (int i = 0; i < b; i++) {
            int start = 0;
            for (int k = 0; k < g.groupCount(); k++) {
                for (int j = 0; j < s * c; j++) {
                    float sum = v[(i * t + start) * s * c + j];
                    for (int f = 1; f < g.size(k); f++) {
                        sum += v[(i * t + start + f) * s * c + j];
                    }
                    out[(i * g.groupCount() + k) * s * c + j] = g.size(k) == 1 ? sum
                            : sum / g.size(k);
                }
                start += g.size(k);
            }
        }
        return out;
    }

    @Test
    void vectorisedMergeAndUnmergeEqualThePerGroupDefinitionBitForBit() {
        TokenMerger m = TokenMergers.none();
        int b = 2;
        int s = 6;
        int c = 5;
        int[][] cases = {{20, 2}, {5, 2}, {7, 3}, {8, 4}, {9, 4}, {3, 1}};
        for (int[] tc : cases) {
            FrameGroups g = FrameGroups.consecutive(tc[0], tc[1]);
            NDArray x = tokens(b, tc[0], s, c, 11 + tc[0]);
            float[] merged = m.merge(x, g, s).toFloatArray();
            assertThat(merged).as("merge T=%d r=%d", tc[0], tc[1])
                    .containsExactly(mergeByDefinition(x.toFloatArray(), g, b, s, c));
            NDArray y = tokens(b, g.groupCount(), s, c, 5 + tc[0]);
            float[] back = m.unmerge(y, g, s).toFloatArray();
            float[] yv = y.toFloatArray();
            int t = tc[0];
            for (int i = 0; i < b; i++) {
                int frame = 0;
                for (int k = 0; k < g.groupCount(); k++) {
                    for (int f = 0; f < g.size(k); f++, frame++) {
                        for (int j = 0; j < s * c; j++) {
                            assertThat(back[(i * t + frame) * s * c + j])
                                    .isEqualTo(yv[(i * g.groupCount() + k) * s * c + j]);
                        }
                    }
                }
            }
        }
    }

    @Test
    void badSettingsAreRejected() {
        assertThatThrownBy(() -> new TemporalTokenMerger(1, 15))
                .hasMessage("groupSize must be >= 2 but was 1");
        assertThatThrownBy(() -> TemporalTokenMerger.pairs(-1))
                .hasMessage("mergeSteps must be >= 0 but was -1");
    }

}
