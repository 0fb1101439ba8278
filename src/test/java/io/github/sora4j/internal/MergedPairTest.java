package io.github.sora4j.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.load.LoadedBlock;
import io.github.sora4j.load.TorchScriptBlock;
import io.github.sora4j.merge.FrameGroups;
import io.github.sora4j.merge.TemporalTokenMerger;
import io.github.sora4j.merge.TokenMerger;
import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.merge.UpstreamTemporalTokenMerger;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.testing.PackDirs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TDTM inside the block ({@code forward_merged}) against the Java merge around the sub-stage
 * methods: the same weights (tiny-random's first pair, as exported now and as exported before the
 * method, {@code src/test/resources/old-pack}), bit-equal outputs for both TDTM rules at T of
 * every residue mod 4 (upstream's rule followed and fallen back from) and for groups of 3 and 4.
 */
class MergedPairTest {
    private static final int S = 4;
    private static final int WIDTH = 64;
    private static ModelPack pack;
    private static ModelPack oldPack;
    private static NDManager manager;
    private static TorchScriptBlock current;
    private static TorchScriptBlock old;

    @BeforeAll
    static void load(@TempDir Path dir) throws IOException {
        pack = ModelPack.embedded("tiny-random");
        manager = NDManager.newBaseManager("PyTorch");
        current = TorchScriptBlock.load(pack, firstPair(pack));
        oldPack = OldPack.copy(dir);
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
        return new LoadedBlock(b, () -> {}, false); // no profiling runs at each new shape
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
    void inBlockMergeEqualsTheJavaMergeBitForBitForBothRulesAndOtherGroupSizes() {
        // T: every residue mod 4 (upstream's rule follows upstream at T ≡ 0, 3 and T = 30 and
        // falls back at T ≡ 1, 2 and T = 31), the 17-frame T = 5, the paper's T = 20 and 30
        int[] ts = {2, 3, 4, 5, 6, 7, 9, 14, 15, 20, 30, 31};
        Map<TokenMerger, int[]> cases = new LinkedHashMap<>();
        cases.put(TokenMergers.tdtm(Integer.MAX_VALUE), ts);
        cases.put(TokenMergers.tdtmUpstream(Integer.MAX_VALUE), ts);
        cases.put(new TemporalTokenMerger(3, 1), new int[] {3, 7, 8});
        cases.put(new TemporalTokenMerger(4, 1), new int[] {6, 7, 9});
        int upstreamFollowed = 0;
        int upstreamFallback = 0;
        for (var c : cases.entrySet()) {
            TokenMerger merger = c.getKey();
            for (int t : c.getValue()) {
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
        assertThat(upstreamFollowed).isEqualTo(6); // 3, 4, 7, 15, 20, 30
        assertThat(upstreamFallback).isEqualTo(6); // 2, 5, 6, 9, 14, 31
    }

    @Test
    void aPackExportedBeforeForwardMergedGeneratesTheSameLatentsBitForBit() {
        // pipelines on the old pack (Java merge) and the current one (in-block merge): T = 5 (the
        // project's rule, a last group of one) and T = 15 (upstream's, a last group of three)
        Object[][] runs = {{TokenMergers.tdtm(1), 17}, {TokenMergers.tdtmUpstream(1), 51}};
        for (Object[] run : runs) {
            TokenMerger merger = (TokenMerger) run[0];
            GenerationRequest request = GenerationRequest.builder("a red circle moving left")
                    .frames((Integer) run[1]).size(40, 32).steps(2).seed(5).build();
            List<float[]> latents = new ArrayList<>();
            for (ModelPack p : new ModelPack[] {pack, oldPack}) {
                try (VideoPipeline pipeline = VideoPipeline.builder().pack(p).recordTrace(true)
                        .tokenMerger(merger).build()) {
                    GenerationResult r = pipeline.generate(request);
                    assertThat(r.report().steps().get(0).merged()).isTrue();
                    assertThat(r.report().steps().get(1).merged()).isFalse();
                    latents.addAll(r.trace().latents());
                }
            }
            for (int i = 0; i < 2; i++) {
                assertThat(latents.get(2 + i)).as("%s, latent after step %d", merger, i)
                        .isEqualTo(latents.get(i));
            }
        }
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
                    .isInstanceOf(InvalidConfigurationException.class)
                    .hasMessageContaining("group 1").hasMessageContaining("must be 1 to 2");
            assertThatThrownBy(() -> MergedPair.layout(g, new int[] {2, 2}, m))
                    .isInstanceOf(InvalidConfigurationException.class)
                    .hasMessageContaining("2 counts for 3 groups");
        }
    }

    /** The embedded tiny-random pack with its STDiT pairs as exported before forward_merged. */
    static final class OldPack {
        private OldPack() {}

        static ModelPack copy(Path dir) throws IOException {
            PackDirs.copyEmbedded("tiny-random", dir);
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
