package io.github.sora4j;

import static io.github.sora4j.testing.References.maxAbsDiff;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.sora4j.internal.Npy;
import io.github.sora4j.load.TorchScriptBlock;
import io.github.sora4j.merge.FrameGroups;
import io.github.sora4j.merge.TokenMerger;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.testing.References;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every TorchScript block of the tiny pack, called from Java through {@link TorchScriptBlock} on
 * the inputs stored in {@code blocks.npz}, returns the outputs the eager PyTorch modules returned:
 * T5 embed, blocks and final norm; STDiT embed, each pair's fused forward and each of its
 * sub-stage methods (plain and around the Java {@link TokenMerger} for TDTM), STDiT final; every
 * VAE temporal and spatial part.
 *
 * <p>Every stage is fed the stored reference inputs (not the Java output of the stage before), so
 * each comparison measures one method's error alone.
 *
 * <p>Tolerance: measured max abs errors on x86-64 CPU (TorchScript on libtorch 2.7.1 through DJL
 * vs eager torch 1.13; values are up to about 6 in T5/STDiT and 15 in the VAE): T5 embed and final
 * norm exact, blocks 1.7e-6 (position bias exact, passed through bit for bit); STDiT embed 3.0e-6
 * ({@code t_emb}), pair forward 1.2e-6, sub-stages 1.2e-6 (gates and residual adds exact), TDTM
 * path 1.4e-6, final 9.5e-7; VAE temporal parts 4.8e-6, spatial parts 4.3e-6. One absolute bound
 * of about three times the largest (4.8e-6), {@value #TOLERANCE}, applies to every block output.
 * The Java frame merge of stored tensors ({@code norm_msa.out} → {@code merged_h}, {@code
 * gate_msa.out} → {@code merged_x}) is pure float32 averaging; it is exact as measured and is held
 * to {@value #MERGE_TOLERANCE}.
 */
class BlockParityTest {
    static final double TOLERANCE = 1.5e-5;
    static final double MERGE_TOLERANCE = 1e-6;

    private static ModelPack pack;
    private static References ref;
    private static final Map<String, TorchScriptBlock> blocks = new HashMap<>();
    private static final Map<String, Double> measured = new TreeMap<>();
    /** Uses the interface's default {@code merge}/{@code unmerge}, which are what is tested. */
    private static final TokenMerger merger = (step, count, frames) ->
            FrameGroups.consecutive(frames, 2);

    @BeforeAll
    static void open() {
        pack = ModelPack.embedded("tiny-random");
        ref = References.load("blocks.npz");
    }

    @AfterAll
    static void close() {
        blocks.values().forEach(TorchScriptBlock::close);
        blocks.clear();
        System.out.println("BlockParityTest max abs errors:");
        measured.forEach((k, v) -> System.out.printf("  %-72s %.3g%n", k, v));
    }

    private static synchronized TorchScriptBlock block(String name) {
        return blocks.computeIfAbsent(name, n -> {
            BlockInfo info = pack.manifest().blocks().stream()
                    .filter(b -> b.name().equals(n)).findFirst()
                    .orElseThrow(() -> new AssertionError("tiny pack has no block " + n));
            return TorchScriptBlock.load(pack, info);
        });
    }

    /** The stored array as an NDArray of its own dtype (float32 or int64) and shape. */
    private static NDArray in(NDManager m, String key) {
        Npy.Array a = ref.array(key);
        if (a.shape().length == 0 && a.descr().equals("<i8")) {
            return m.create(a.toLongs()[0]);
        }
        Shape shape = new Shape(a.shape());
        return switch (a.descr()) {
            case "<f4" -> m.create(a.toFloats(), shape);
            case "<i8" -> m.create(a.toLongs(), shape);
            default -> throw new IllegalArgumentException(key + " has dtype " + a.descr());
        };
    }

    /** Asserts that {@code actual} has the stored shape and equals it within {@link #TOLERANCE}. */
    private static void check(String key, NDArray actual) {
        check(key, actual, TOLERANCE);
    }

    private static void check(String key, NDArray actual, double tolerance) {
        check(key, actual, tolerance, key);
    }

    /** As above; {@code label} names the measurement (a key can be checked several ways). */
    private static void check(String key, NDArray actual, double tolerance, String label) {
        Npy.Array expected = ref.array(key);
        assertThat(actual.getDataType()).as(key).isEqualTo(DataType.FLOAT32);
        assertThat(actual.getShape().getShape()).as("shape of %s", key)
                .containsExactly(expected.shape());
        double err = maxAbsDiff(actual.toFloatArray(), expected.toFloats());
        synchronized (measured) {
            measured.merge(label, err, Math::max);
        }
        assertThat(err).as("max abs error of %s", label).isLessThanOrEqualTo(tolerance);
    }

    private static NDList call(String block, String method, NDManager m, NDArray... inputs) {
        return block(block).call(method, m, inputs);
    }

    private static String pair(int j) {
        return String.format("stdit.block.%02d", j);
    }

    // ---------------------------------------------------------------- T5

    @Test
    void theT5EmbeddingEqualsTheEagerModule() {
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDList out = call("t5.embed", "forward", m, in(m, "t5.embed.in.input_ids"));
            assertThat(out).hasSize(1);
            check("t5.embed.out.hidden", out.head());
        }
    }

    @Test
    void theFirstT5BlockReturnsTheHiddenStateAndTheMaskedPositionBias() {
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDList out = call("t5.block.00", "forward", m, in(m, "t5.embed.out.hidden"),
                    in(m, "t5.block.00.in.attention_mask"));
            assertThat(out).hasSize(2);
            check("t5.block.00.out.hidden", out.get(0));
            check("t5.block.00.out.position_bias", out.get(1));
        }
    }

    @Test
    void aLaterT5BlockEqualsTheEagerModuleAndPassesThePositionBiasThroughUnchanged() {
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDArray bias = in(m, "t5.block.00.out.position_bias");
            NDList out = call("t5.block.01", "forward", m, in(m, "t5.block.00.out.hidden"), bias);
            assertThat(out).hasSize(2);
            check("t5.block.01.out.hidden", out.get(0));
            assertThat(out.get(1).toFloatArray()).as("position bias passed through")
                    .containsExactly(bias.toFloatArray());
        }
    }

    @Test
    void theT5FinalNormEqualsTheEagerModule() {
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDList out = call("t5.final_norm", "forward", m, in(m, "t5.block.01.out.hidden"));
            check("t5.final_norm.out.hidden", out.singletonOrThrow());
        }
    }

    // ---------------------------------------------------------------- STDiT

    @Test
    void theStditEmbedReturnsAllFourOutputsOfTheEagerModule() {
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDList out = call("stdit.embed", "forward", m, in(m, "stdit.embed.in.z"),
                    in(m, "stdit.embed.in.timestep"), in(m, "stdit.embed.in.y"),
                    in(m, "stdit.embed.in.fps"), in(m, "stdit.embed.in.height"),
                    in(m, "stdit.embed.in.width"));
            assertThat(out).hasSize(4);
            check("stdit.embed.out.x", out.get(0));
            check("stdit.embed.out.y_tokens", out.get(1));
            check("stdit.embed.out.t_mlp", out.get(2));
            check("stdit.embed.out.t_emb", out.get(3));
        }
    }

    @ParameterizedTest(name = "pair {0}")
    @ValueSource(ints = {0, 1})
    void eachStditPairsFusedForwardEqualsTheEagerModule(int j) {
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDList out = call(pair(j), "forward", m, in(m, pair(j) + ".in.x"),
                    in(m, "stdit.embed.out.y_tokens"), in(m, "stdit.embed.out.t_mlp"),
                    in(m, "stdit.num_frames"));
            check(pair(j) + ".out.x", out.singletonOrThrow());
        }
        if (j + 1 < pack.manifest().stdit().depth()) {
            assertThat(ref.floats(pair(j) + ".out.x"))
                    .as("pair %d's output is the next pair's input", j)
                    .containsExactly(ref.floats(pair(j + 1) + ".in.x"));
        }
    }

    @ParameterizedTest(name = "pair {0}")
    @ValueSource(ints = {0, 1})
    void eachStditPairsSubStageMethodsEqualTheEagerSubStages(int j) {
        String p = pair(j);
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDArray y = in(m, "stdit.embed.out.y_tokens");
            NDArray tMlp = in(m, "stdit.embed.out.t_mlp");
            NDArray frames = in(m, "stdit.num_frames");
            for (String half : List.of("spatial", "temporal")) {
                String k = p + "." + half + ".";
                NDArray x = in(m, half.equals("spatial") ? p + ".in.x" : p + ".spatial.mlp.out");
                check(k + "norm_msa.out",
                        call(p, half + "_norm_msa", m, x, tMlp).singletonOrThrow());
                check(k + "self_attn.out", call(p, half + "_self_attn", m,
                        in(m, k + "norm_msa.out"), frames).singletonOrThrow());
                check(k + "gate_msa.out", call(p, half + "_gate_msa", m, x,
                        in(m, k + "self_attn.out"), tMlp).singletonOrThrow());
                check(k + "cross_attn.out", call(p, half + "_cross_attn", m,
                        in(m, k + "gate_msa.out"), y).singletonOrThrow());
                check(k + "mlp.in", in(m, k + "gate_msa.out").add(in(m, k + "cross_attn.out")));
                check(k + "mlp.out", call(p, half + "_mlp", m, in(m, k + "mlp.in"), tMlp)
                        .singletonOrThrow());
            }
            assertThat(ref.floats(p + ".temporal.mlp.out")).as("temporal mlp.out is out.x")
                    .containsExactly(ref.floats(p + ".out.x"));
        }
    }

    @ParameterizedTest(name = "pair {0}")
    @ValueSource(ints = {0, 1})
    void eachStditPairsSubStagesAroundTheJavaFrameMergeEqualTheEagerTdtmPath(int j) {
        String p = pair(j);
        int t = (int) ref.scalar("stdit.num_frames");
        FrameGroups groups = FrameGroups.consecutive(t, 2);
        assertThat((long) groups.groupCount()).isEqualTo(ref.scalar("stdit.num_frames_merged"));
        int s = (int) (ref.array(p + ".in.x").shape()[1] / t);
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDArray y = in(m, "stdit.embed.out.y_tokens");
            NDArray tMlp = in(m, "stdit.embed.out.t_mlp");
            NDArray merged = m.create((long) groups.groupCount());
            for (String half : List.of("spatial", "temporal")) {
                String k = p + ".tdtm." + half + ".";
                NDArray x = in(m, half.equals("spatial") ? p + ".in.x"
                        : p + ".tdtm.spatial.mlp.out");
                NDArray h = call(p, half + "_norm_msa", m, x, tMlp).singletonOrThrow();
                check(k + "merged_h", merger.merge(h, groups, s));
                check(k + "self_attn.out", call(p, half + "_self_attn", m,
                        in(m, k + "merged_h"), merged).singletonOrThrow());
                NDArray a = merger.unmerge(in(m, k + "self_attn.out"), groups, s);
                check(k + "gate_msa.out",
                        call(p, half + "_gate_msa", m, x, a, tMlp).singletonOrThrow());
                check(k + "merged_x", merger.merge(in(m, k + "gate_msa.out"), groups, s),
                        MERGE_TOLERANCE);
                check(k + "cross_attn.out", call(p, half + "_cross_attn", m,
                        in(m, k + "merged_x"), y).singletonOrThrow());
                check(k + "mlp.in", in(m, k + "gate_msa.out")
                        .add(merger.unmerge(in(m, k + "cross_attn.out"), groups, s)));
                check(k + "mlp.out", call(p, half + "_mlp", m, in(m, k + "mlp.in"), tMlp)
                        .singletonOrThrow());
            }
            check(p + ".tdtm.out.x", in(m, p + ".tdtm.temporal.mlp.out"), 0);
        }
    }

    @ParameterizedTest(name = "pair {0}")
    @ValueSource(ints = {0, 1})
    void theJavaMergeOfTheNormalisedTokensEqualsTheReferenceMergeWithinRounding(int j) {
        String p = pair(j);
        int t = (int) ref.scalar("stdit.num_frames");
        FrameGroups groups = FrameGroups.consecutive(t, 2);
        int s = (int) (ref.array(p + ".in.x").shape()[1] / t);
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            // Spatial TDTM starts from the same x as the plain path, so norm_msa.out is stored.
            check(p + ".tdtm.spatial.merged_h",
                    merger.merge(in(m, p + ".spatial.norm_msa.out"), groups, s), MERGE_TOLERANCE,
                    p + ".tdtm.spatial.merged_h (Java merge of stored norm_msa.out)");
        }
    }

    @Test
    void theStditFinalLayerEqualsTheEagerModule() {
        int last = pack.manifest().stdit().depth() - 1;
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDList out = call("stdit.final", "forward", m, in(m, pair(last) + ".out.x"),
                    in(m, "stdit.embed.out.t_emb"), in(m, "stdit.final.in.latent_size"));
            check("stdit.final.out", out.singletonOrThrow());
        }
    }

    // ---------------------------------------------------------------- VAE

    @Test
    void everyVaeTemporalPartEqualsTheEagerModule() {
        List<BlockInfo> parts = pack.manifest().blocksWithRole("vae-temporal");
        assertThat(parts).hasSize(6);
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDArray frames = in(m, "vae.temporal.num_frames");
            for (int k = 0; k < parts.size(); k++) {
                String name = parts.get(k).name();
                String outKey = k + 1 < parts.size()
                        ? String.format("vae.temporal.%02d.in.h", k + 1) : "vae.temporal.out.h";
                check(outKey, call(name, "forward", m, in(m, name + ".in.h"), frames)
                        .singletonOrThrow());
            }
        }
    }

    @Test
    void everyVaeSpatialPartEqualsTheEagerModule() {
        List<BlockInfo> parts = pack.manifest().blocksWithRole("vae-spatial");
        assertThat(parts).hasSize(6);
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            for (int k = 0; k < parts.size(); k++) {
                String name = parts.get(k).name();
                String outKey = k + 1 < parts.size()
                        ? String.format("vae.spatial.%02d.in.h", k + 1) : "vae.spatial.out.h";
                check(outKey, call(name, "forward", m, in(m, name + ".in.h")).singletonOrThrow());
            }
        }
    }

    @Test
    void everyBlockOfThePackIsCoveredByThisTest() {
        List<String> names = pack.manifest().blocks().stream().map(BlockInfo::name).toList();
        assertThat(names).containsExactlyInAnyOrder("t5.embed", "t5.block.00", "t5.block.01",
                "t5.final_norm", "stdit.embed", "stdit.block.00", "stdit.block.01", "stdit.final",
                "vae.temporal.00", "vae.temporal.01", "vae.temporal.02", "vae.temporal.03",
                "vae.temporal.04", "vae.temporal.05", "vae.spatial.00", "vae.spatial.01",
                "vae.spatial.02", "vae.spatial.03", "vae.spatial.04", "vae.spatial.05");
    }
}
