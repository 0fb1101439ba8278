package io.github.sora4j.plan;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.ModelPackException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads an {@link Architecture} from the {@code architecture} object of a pack's manifest (the
 * bench pack has one, see docs/benchmarks.md), falling back to {@link
 * Architecture#fromManifest} for a manifest without it.
 */
final class ArchitectureJson {

    private ArchitectureJson() {}

    /**
     * The architecture of a pack ({@link Architecture#of(ModelPack)}).
     *
     * @throws ModelPackException if the manifest cannot be read or its architecture object is
     *     malformed
     */
    static Architecture read(ModelPack pack) {
        Path file = pack.resolve("manifest.json");
        JsonObject root;
        try {
            root = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8))
                    .getAsJsonObject();
        } catch (IOException | JsonParseException | IllegalStateException e) {
            throw new ModelPackException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (!root.has("architecture")) {
            return Architecture.fromManifest(pack.manifest());
        }
        try {
            return parse(root.getAsJsonObject("architecture"),
                    pack.manifest().text().modelMaxLength());
        } catch (RuntimeException e) {
            throw new ModelPackException("malformed architecture object in " + file + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * Parses an {@code architecture} object (the exporter's config dicts: {@code T5Config},
     * {@code STDiT3Config} and {@code VAEConfig} as {@code to_dict()} writes them).
     *
     * @param a the object with {@code t5}, {@code stdit} and {@code vae} members
     * @param maxLength T5 tokens per prompt (the manifest's {@code text.modelMaxLength})
     * @return the architecture
     */
    static Architecture parse(JsonObject a, int maxLength) {
        JsonObject t = a.getAsJsonObject("t5");
        JsonObject s = a.getAsJsonObject("stdit");
        JsonObject v = a.getAsJsonObject("vae");
        int inChannels = integer(s, "in_channels");
        boolean predSigma = !s.has("pred_sigma") || s.get("pred_sigma").getAsBoolean();
        return new Architecture(
                new Architecture.T5(integer(t, "vocab_size"), integer(t, "d_model"), integer(t, "d_kv"),
                        integer(t, "d_ff"), integer(t, "num_layers"), integer(t, "num_heads"),
                        integer(t, "relative_attention_num_buckets"), maxLength),
                new Architecture.Stdit(integer(s, "hidden_size"), integer(s, "depth"), integer(s, "num_heads"),
                        s.get("mlp_ratio").getAsDouble(), ints(s, "patch_size"), inChannels,
                        predSigma ? 2 * inChannels : inChannels, integer(s, "caption_channels"),
                        s.get("qk_norm").getAsBoolean()),
                new Architecture.Vae(integer(v, "latent_channels"), integer(v, "sd_latent_channels"),
                        integer(v, "out_channels"), integer(v, "temporal_filters"),
                        ints(v, "temporal_channel_multipliers"),
                        integer(v, "temporal_num_res_blocks"), booleans(v, "temporal_downsample"),
                        ints(v, "spatial_block_out_channels"),
                        integer(v, "spatial_layers_per_block"), integer(v, "micro_frame_size")));
    }

    private static int integer(JsonObject o, String key) {
        JsonElement e = o.get(key);
        if (e == null) {
            throw new InvalidConfigurationException("missing " + key);
        }
        return e.getAsInt();
    }

    private static int[] ints(JsonObject o, String key) {
        var arr = o.getAsJsonArray(key);
        int[] r = new int[arr.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = arr.get(i).getAsInt();
        }
        return r;
    }

    private static boolean[] booleans(JsonObject o, String key) {
        var arr = o.getAsJsonArray(key);
        boolean[] r = new boolean[arr.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = arr.get(i).getAsBoolean();
        }
        return r;
    }
}
