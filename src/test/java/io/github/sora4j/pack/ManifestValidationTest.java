package io.github.sora4j.pack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every broken manifest is refused when the pack opens, before any file is read or any block
 * loads, with a message that names the field, the value and what is allowed.
 */
class ManifestValidationTest {
    @TempDir Path tmp;
    private PackCopy pack;

    @BeforeEach
    void copyTheDemoPack() throws IOException {
        pack = PackCopy.of("demo", tmp.resolve("pack"));
    }

    private static Arguments broken(String what, Consumer<JsonObject> edit, String message) {
        return Arguments.of(what, edit, message);
    }

    private static JsonObject section(JsonObject m, String name) {
        return m.getAsJsonObject(name);
    }

    private static JsonObject block(JsonObject m, String name) {
        for (var e : PackCopy.blocks(m)) {
            if (e.getAsJsonObject().get("name").getAsString().equals(name)) {
                return e.getAsJsonObject();
            }
        }
        throw new IllegalArgumentException(name);
    }

    static Stream<Arguments> brokenManifests() {
        return Stream.of(
                broken("spatialCompression 0 (was a division by zero)",
                        m -> section(m, "vae").addProperty("spatialCompression", 0),
                        "vae.spatialCompression is 0; allowed: 1 to 64"),
                broken("microFrameSize 0 (was a division by zero)",
                        m -> section(m, "vae").addProperty("microFrameSize", 0),
                        "vae.microFrameSize is 0; allowed: 1 to 4096"),
                broken("temporalCompression 0",
                        m -> section(m, "vae").addProperty("temporalCompression", 0),
                        "vae.temporalCompression is 0; allowed: 1 to 64"),
                broken("microZFrameSize inconsistent with the compression",
                        m -> section(m, "vae").addProperty("microZFrameSize", 3),
                        "vae.microZFrameSize is 3; it must be ceil(vae.microFrameSize /"
                                + " vae.temporalCompression) = ceil(17 / 4) = 5"),
                broken("modelMaxLength 0 (was an ArrayIndexOutOfBoundsException)",
                        m -> section(m, "text").addProperty("modelMaxLength", 0),
                        "text.modelMaxLength is 0; allowed: 1 to 4096"),
                broken("a short scale array (was an AIOOBE after every block loaded)",
                        m -> {
                            JsonArray a = new JsonArray();
                            a.add(1.0);
                            a.add(1.0);
                            section(m, "vae").add("scale", a);
                        },
                        "vae.scale has 2 entries; allowed: one per latent channel"
                                + " (vae.latentChannels = 4)"),
                broken("8 latent channels",
                        m -> section(m, "vae").addProperty("latentChannels", 8),
                        "vae.latentChannels is 8; it must equal stdit.inChannels (4)"),
                broken("inChannels 3 (was a TorchScript traceback)",
                        m -> section(m, "stdit").addProperty("inChannels", 3),
                        "stdit.outChannels is 8; allowed: stdit.inChannels (3) or twice that"),
                broken("inChannels 8 with outChannels 16",
                        m -> {
                            section(m, "stdit").addProperty("inChannels", 8);
                            section(m, "stdit").addProperty("outChannels", 16);
                        },
                        "vae.latentChannels is 4; it must equal stdit.inChannels (8)"),
                broken("a zero scale entry",
                        m -> section(m, "vae").getAsJsonArray("scale").set(2,
                                new com.google.gson.JsonPrimitive(0.0)),
                        "vae.scale[2] is 0.0; allowed: a finite, non-zero number"),
                broken("spatialScalingFactor 0",
                        m -> section(m, "vae").addProperty("spatialScalingFactor", 0),
                        "vae.spatialScalingFactor is 0.0; allowed: a finite number > 0"),
                broken("negative block bytes (was Gson's 'Failed to invoke constructor')",
                        m -> block(m, "stdit.block.01").addProperty("bytes", -5),
                        "manifest block stdit.block.01 has bytes -5 and parameterBytes"),
                broken("negative parameterBytes",
                        m -> block(m, "t5.embed").addProperty("parameterBytes", -1),
                        "manifest block t5.embed has bytes"),
                broken("numTimesteps 0 (was reported as a bad request)",
                        m -> section(m, "sampling").addProperty("numTimesteps", 0),
                        "sampling.numTimesteps is 0; allowed: 1 to 1000000"),
                broken("steps beyond numTimesteps",
                        m -> section(m, "sampling").addProperty("steps", 1001),
                        "sampling.steps is 1001; allowed: 1 to 1000"),
                broken("fps 0", m -> section(m, "sampling").addProperty("fps", 0),
                        "sampling.fps is 0; allowed: 1 to 240"),
                broken("a huge guidance scale",
                        m -> section(m, "sampling").addProperty("guidanceScale", 1e9),
                        "sampling.guidanceScale is 1.0E9; allowed: 0 to 1000"),
                broken("transformScale 0",
                        m -> section(m, "sampling").addProperty("transformScale", 0),
                        "sampling.transformScale is 0.0; allowed: a finite number > 0"),
                broken("depth 99 in the hyper-parameters",
                        m -> section(m, "stdit").addProperty("depth", 99),
                        "the manifest lists 4 stdit-block block(s); the architecture needs 99"
                                + " (stdit.depth)"),
                broken("a block removed from the list",
                        m -> PackCopy.blocks(m).remove(block(m, "stdit.block.01")),
                        "the manifest lists 3 stdit-block block(s); the architecture needs 4"
                                + " (stdit.depth)"),
                broken("numBlocks that does not match the T5 blocks",
                        m -> section(m, "text").addProperty("numBlocks", 5),
                        "the manifest lists 2 t5-block block(s); the architecture needs 5"
                                + " (text.numBlocks)"),
                broken("a gap in order",
                        m -> block(m, "stdit.block.02").addProperty("order", 5),
                        "the stdit-block blocks have orders [0, 1, 3, 5]; they must be 0 to 3"
                                + " without gaps (order 2 is missing)"),
                broken("two blocks with the same order",
                        m -> block(m, "stdit.block.02").addProperty("order", 1),
                        "two stdit-block blocks have order 1"),
                broken("duplicate names",
                        m -> block(m, "stdit.block.02").addProperty("name", "stdit.block.01"),
                        "block name stdit.block.01 is listed twice"),
                broken("two blocks sharing a file",
                        m -> block(m, "stdit.block.02").addProperty("file",
                                "stdit/block_01.pt"),
                        "block file stdit/block_01.pt is listed twice"),
                broken("a role of another set",
                        m -> block(m, "stdit.block.02").addProperty("set", "vae"),
                        "has set \"vae\" but role stdit-block belongs to set \"stdit\""),
                broken("an unknown role",
                        m -> block(m, "stdit.block.02").addProperty("role", "stdit-evil"),
                        "manifest block stdit.block.02 has an unknown role: stdit-evil"),
                broken("an unknown block dtype",
                        m -> block(m, "stdit.block.02").addProperty("dtype", "float64"),
                        "has dtype \"float64\"; allowed:"),
                broken("a block without dtype",
                        m -> block(m, "stdit.block.02").remove("dtype"),
                        "has dtype null; allowed:"),
                broken("a block without set (was a NullPointerException)",
                        m -> block(m, "stdit.block.02").remove("set"),
                        "has set null but role stdit-block belongs to set \"stdit\""),
                broken("a block without role",
                        m -> block(m, "stdit.block.02").remove("role"),
                        "manifest block stdit.block.02 has an unknown role: null"),
                broken("an unknown weight dtype",
                        m -> m.addProperty("weightDtype", "int4"),
                        "weightDtype is \"int4\"; allowed: \"float32\" or \"float16\""),
                broken("hiddenSize not a multiple of numHeads",
                        m -> section(m, "stdit").addProperty("numHeads", 3),
                        "stdit.hiddenSize 128 is not a multiple of stdit.numHeads 3"),
                broken("numHeads 0", m -> section(m, "stdit").addProperty("numHeads", 0),
                        "stdit.numHeads is 0; allowed: 1 to 128"),
                broken("a two-entry patch size",
                        m -> {
                            JsonArray a = new JsonArray();
                            a.add(1);
                            a.add(2);
                            section(m, "stdit").add("patchSize", a);
                        },
                        "stdit.patchSize is [1, 2]; allowed: 3 entries"),
                broken("captionChannels unlike the T5 width",
                        m -> section(m, "stdit").addProperty("captionChannels", 32),
                        "stdit.captionChannels is 32; it must equal text.dModel (64)"),
                broken("a negative pad token",
                        m -> section(m, "text").addProperty("padTokenId", -1),
                        "text.padTokenId is -1; allowed: 0 to 2147483647"),
                broken("a block path with '..' (was opened outside the pack)",
                        m -> block(m, "t5.final_norm").addProperty("file",
                                "../../../../etc/hostname"),
                        "leaves the pack directory: ../../../../etc/hostname"),
                broken("an absolute block path",
                        m -> block(m, "t5.final_norm").addProperty("file", "/etc/passwd"),
                        "is an absolute path: /etc/passwd"),
                broken("a tokenizer outside the pack",
                        m -> section(m, "text").addProperty("tokenizer", "/etc/passwd"),
                        "manifest text.tokenizer is an absolute path: /etc/passwd"),
                broken("a null embedding behind '..'",
                        m -> section(m, "stdit").addProperty("nullEmbedding", "a/../../x.npy"),
                        "manifest stdit.nullEmbedding leaves the pack directory"),
                broken("a path with '.' parts",
                        m -> block(m, "t5.embed").addProperty("file", "t5/./embed.pt"),
                        "is not a normalised relative path: t5/./embed.pt"),
                broken("a tokenizer missing from files",
                        m -> m.getAsJsonArray("files").remove(1),
                        "tokenizer.json (text.tokenizer or stdit.nullEmbedding) is not listed in"
                                + " files"),
                broken("a bad file sha256",
                        m -> m.getAsJsonArray("files").get(0).getAsJsonObject()
                                .addProperty("sha256", "xyz"),
                        "files[0] (null_embedding.npy) has sha256 \"xyz\"; allowed: 64"),
                broken("a size beyond a long",
                        m -> block(m, "t5.embed").addProperty("bytes",
                                new java.math.BigDecimal("1e30")),
                        "$.blocks[0].bytes"),
                broken("a missing stdit section", m -> m.remove("stdit"),
                        "manifest lacks text, stdit, vae or sampling"),
                broken("a null block", m -> PackCopy.blocks(m).add(com.google.gson.JsonNull
                        .INSTANCE), "blocks or files has a null entry"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("brokenManifests")
    void aBrokenManifestIsRefusedWithTheFieldTheValueAndTheAllowedRange(String what,
            Consumer<JsonObject> edit, String message) throws IOException {
        pack.editManifest(edit);
        assertThatThrownBy(() -> ModelPack.open(pack.dir))
                .as(what)
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining(message);
        // inspect and plan read the manifest alone: they refuse it the same way
        assertThatThrownBy(() -> ModelPack.readManifest(pack.dir))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining(message);
    }

    @Test
    void theUntouchedDemoManifestPasses() {
        assertThat(ModelPack.readManifest(pack.dir).name()).isEqualTo("demo");
    }
}
