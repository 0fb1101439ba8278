package io.github.sora4j.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.sora4j.load.LoadedBlock;
import io.github.sora4j.load.TorchScriptBlock;
import io.github.sora4j.merge.FrameGroups;
import io.github.sora4j.merge.TemporalTokenMerger;
import io.github.sora4j.merge.TokenMerger;
import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.merge.UpstreamTemporalTokenMerger;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TDTM inside the block ({@code forward_merged}) against the Java merge around the sub-stage
 * methods: the same weights (tiny-random's first pair, as exported now and as exported before the
 * method, {@code src/test/resources/old-pack}), bit-equal outputs for both TDTM rules at every T
 * from 2 to 31 and for groups of 3 and 4 frames.
 */
class MergedPairTest {
    private static final int S = 4;
    private static final int WIDTH = 64;
    private static ModelPack pack;
    private static NDManager manager;
    private static TorchScriptBlock current;
    private static TorchScriptBlock old;

    @BeforeAll
    static void load(@TempDir Path dir) throws IOException {
        pack = ModelPack.embedded("tiny-random");
        manager = NDManager.newBaseManager("PyTorch");
        current = TorchScriptBlock.load(pack, firstPair(pack));
        ModelPack oldPack = OldPack.copy(dir);
        old = TorchScriptBlock.load(oldPack, firstPair(oldPack));
    }

    private static BlockInfo firstPair(ModelPack p) {
        return p.manifest().blocks("stdit").stream()
                .filter(b -> b.role().equals("stdit-block")).findFirst().orElseThrow();
    }

    @AfterAll
    static void close() {
        for (AutoCloseable c : new AutoCloseable[] {current, old, manager}) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }
    }

    private static LoadedBlock handle(TorchScriptBlock b) {
        return new LoadedBlock(b, () -> {});
    }

    @Test
    void currentPairsHaveForwardMergedAndPairsExportedBeforeDoNot() {
        assertThat(current.hasMethod(MergedPair.METHOD)).isTrue();
        assertThat(current.hasMethod("forward")).isTrue();
        assertThat(current.hasMethod("temporal_self_attn")).isTrue();
        assertThat(old.hasMethod(MergedPair.METHOD)).isFalse();
        assertThat(old.hasMethod("spatial_norm_msa")).isTrue();
    }

    @Test
    void inBlockMergeEqualsTheJavaMergeBitForBitForBothRulesAtEveryT() {
        List<TokenMerger> mergers = List.of(TokenMergers.tdtm(Integer.MAX_VALUE),
                TokenMergers.tdtmUpstream(Integer.MAX_VALUE), new TemporalTokenMerger(3, 1),
                new TemporalTokenMerger(4, 1));
        int upstreamFollowed = 0;
        int upstreamFallback = 0;
        for (TokenMerger merger : mergers) {
            for (int t = 2; t <= 31; t++) {
                FrameGroups g = merger.groups(0, 30, t);
                if (g.isIdentity()) {
                    continue;
                }
                if (merger instanceof UpstreamTemporalTokenMerger) {
                    if (UpstreamTemporalTokenMerger.followsUpstream(t)) {
                        upstreamFollowed++;
                    } else {
                        upstreamFallback++;
                    }
                }
                try (NDManager step = manager.newSubManager()) {
                    NDArray x = step.randomNormal(new Shape(2, (long) t * S, WIDTH));
                    NDArray y = step.randomNormal(new Shape(2, 3, WIDTH));
                    NDArray tMlp = step.randomNormal(new Shape(2, 6 * WIDTH));
                    assertThat(MergedPair.inBlock(handle(current), merger, g)).isTrue();
                    float[] inBlock = MergedPair.run(handle(current), x, y, tMlp, g, merger, S,
                            step).toFloatArray();
                    float[] inJava = MergedPair.inJava(handle(current), x, y, tMlp, g, merger, S,
                            step).toFloatArray();
                    assertThat(inBlock).as("%s T=%d %s", merger, t, g).isEqualTo(inJava);
                    // a pair exported before forward_merged takes the Java path: the same bits
                    assertThat(MergedPair.inBlock(handle(old), merger, g)).isFalse();
                    assertThat(MergedPair.run(handle(old), x, y, tMlp, g, merger, S, step)
                            .toFloatArray()).as("old pair, %s T=%d", merger, t)
                            .isEqualTo(inBlock);
                }
            }
        }
        assertThat(upstreamFollowed).isGreaterThanOrEqualTo(14); // T ≡ 0, 3 (mod 4) and T = 30
        assertThat(upstreamFallback).isGreaterThanOrEqualTo(14);
    }

    @Test
    void aMergerWithItsOwnArithmeticTakesTheJavaPath() {
        TokenMerger own = new TokenMerger() {
            @Override
            public FrameGroups groups(int step, int stepCount, int frames) {
                return FrameGroups.consecutive(frames, 2);
            }

            @Override
            public NDArray merge(NDArray tokens, FrameGroups groups, int spatialTokens) {
                return TokenMerger.super.merge(tokens, groups, spatialTokens).mul(1f);
            }
        };
        FrameGroups g = own.groups(0, 1, 4);
        assertThat(own.averagedFrames(g)).isEmpty();
        assertThat(MergedPair.inBlock(handle(current), own, g)).isFalse();
        TokenMerger groupsOnly = (step, count, frames) -> FrameGroups.consecutive(frames, 2);
        assertThat(groupsOnly.averagedFrames(FrameGroups.consecutive(5, 2)))
                .hasValueSatisfying(a -> assertThat(a).containsExactly(2, 2, 1));
        assertThat(MergedPair.inBlock(handle(current), groupsOnly, g)).isTrue();
    }

    @Test
    void aLayoutThatDoesNotFitTheGroupsIsRefusedNamingTheGroup() {
        FrameGroups g = FrameGroups.consecutive(5, 2);
        try (NDManager m = manager.newSubManager()) {
            assertThat(MergedPair.layout(g, new int[] {2, 1, 1}, m).toLongArray())
                    .containsExactly(2, 2, 1, 2, 1, 1);
            assertThatThrownBy(() -> MergedPair.layout(g, new int[] {2, 3, 1}, m))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("group 1").hasMessageContaining("must be 1 to 2");
            assertThatThrownBy(() -> MergedPair.layout(g, new int[] {2, 2}, m))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("2 counts for 3 groups");
        }
    }

    /** The embedded tiny-random pack with its STDiT pairs as exported before forward_merged. */
    static final class OldPack {
        private OldPack() {}

        static ModelPack copy(Path dir) throws IOException {
            Path source = ModelPack.embedded("tiny-random").directory();
            try (var walk = Files.walk(source)) {
                for (Path p : (Iterable<Path>) walk::iterator) {
                    Path t = dir.resolve(source.relativize(p).toString());
                    if (Files.isDirectory(p)) {
                        Files.createDirectories(t);
                    } else {
                        Files.copy(p, t);
                    }
                }
            }
            String manifest = Files.readString(dir.resolve("manifest.json"));
            for (String file : new String[] {"stdit/block_00.pt", "stdit/block_01.pt"}) {
                byte[] was = Files.readAllBytes(dir.resolve(file));
                byte[] data;
                try (var in = MergedPairTest.class.getResourceAsStream(
                        "/old-pack/tiny-random/" + file)) {
                    data = in.readAllBytes();
                }
                Files.write(dir.resolve(file), data);
                manifest = manifest.replace(sha256(was), sha256(data))
                        .replace("\"bytes\": " + was.length + ",", "\"bytes\": " + data.length
                                + ",");
            }
            Files.writeString(dir.resolve("manifest.json"), manifest);
            return ModelPack.open(dir);
        }

        private static String sha256(byte[] data) {
            try {
                return java.util.HexFormat.of().formatHex(
                        java.security.MessageDigest.getInstance("SHA-256").digest(data));
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
