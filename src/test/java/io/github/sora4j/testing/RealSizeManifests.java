package io.github.sora4j.testing;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.github.sora4j.device.WeightPrecision;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.PackManifest;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Manifests of real-size Open-Sora v1.2 packs without weights: the block list and parameter
 * bytes of every block (open-sora-v1.2-block-sizes.json, counted by the exporter's own modules)
 * and the released hyper-parameters, for memory plans. Files, sizes and hashes are placeholders.
 */
public final class RealSizeManifests {
    private static final String RESOURCE = "/io/github/sora4j/device/open-sora-v1.2-block-sizes.json";
    /** TorchScript code and zip overhead per block file (a few kB, docs/model-pack.md). */
    private static final long FILE_OVERHEAD = 16_384;

    private RealSizeManifests() {}

    /**
     * The manifest of a real Open-Sora v1.2 pack exported with a precision.
     *
     * @param precision the exporter's dtype options
     * @return the manifest
     */
    public static PackManifest openSoraV12(WeightPrecision precision) {
        boolean half = precision == WeightPrecision.FLOAT16
                || precision == WeightPrecision.FLOAT16_T5_INT8;
        boolean int8 = precision == WeightPrecision.FLOAT32_T5_INT8
                || precision == WeightPrecision.FLOAT16_T5_INT8;
        String dtype = half ? "float16" : "float32";
        List<BlockInfo> blocks = new ArrayList<>();
        for (JsonElement e : read()) {
            JsonObject o = e.getAsJsonObject();
            boolean q = int8 && o.has("t5Int8");
            long bytes = q ? o.get("t5Int8").getAsLong()
                    : half ? o.get("float32").getAsLong() / 2 : o.get("float32").getAsLong();
            blocks.add(new BlockInfo(o.get("name").getAsString(), o.get("set").getAsString(),
                    o.get("role").getAsString(), o.get("order").getAsInt(),
                    o.get("file").getAsString(), bytes + FILE_OVERHEAD, bytes,
                    q ? "int8" : dtype, "0".repeat(64)));
        }
        String name = "open-sora-v1.2-" + precision.name().toLowerCase().replace('_', '-');
        return new PackManifest("sora4j-pack", PackManifest.FORMAT_VERSION, name,
                "open-sora-v1.2", "real-size manifest without weights (" + precision.label() + ")",
                dtype,
                new PackManifest.Text(300, 4096, 24, 64, 0, 1, "tokenizer.json", int8),
                new PackManifest.Stdit(1152, 28, 16, new int[] {1, 2, 2}, 4, 8, 4096, 512,
                        "null_embedding.npy"),
                new PackManifest.Vae(4, new double[] {3.85, 2.32, 2.33, 3.06},
                        new double[] {-0.10, 0.34, 0.27, 0.98}, 4, 8, 17, 5, 4, 0.18215),
                new PackManifest.Sampling(1000, 30, 7.0, true, 1.0, 24, 6.5), blocks, List.of());
    }

    private static JsonArray read() {
        try (Reader r = new InputStreamReader(
                RealSizeManifests.class.getResourceAsStream(RESOURCE), StandardCharsets.UTF_8)) {
            return new Gson().fromJson(r, JsonObject.class).getAsJsonArray("blocks");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
