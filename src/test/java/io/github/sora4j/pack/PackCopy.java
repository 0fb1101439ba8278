package io.github.sora4j.pack;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.github.sora4j.testing.PackDirs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/** A writable copy of an embedded pack for tests that break it on purpose. */
final class PackCopy {
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();
    final Path dir;

    private PackCopy(Path dir) {
        this.dir = dir;
    }

    /** Copies the embedded pack {@code name} into {@code target}. */
    static PackCopy of(String name, Path target) throws IOException {
        return new PackCopy(PackDirs.copyEmbedded(name, target));
    }

    JsonObject manifest() throws IOException {
        return GSON.fromJson(Files.readString(dir.resolve("manifest.json")), JsonObject.class);
    }

    void editManifest(Consumer<JsonObject> edit) throws IOException {
        JsonObject m = manifest();
        edit.accept(m);
        Files.writeString(dir.resolve("manifest.json"), GSON.toJson(m), StandardCharsets.UTF_8);
    }

    /** The manifest entry of a block (or file) by its file path. */
    static JsonObject entry(JsonObject manifest, String file) {
        for (String list : new String[] {"blocks", "files"}) {
            for (JsonElement e : manifest.getAsJsonArray(list)) {
                if (e.getAsJsonObject().get("file").getAsString().equals(file)) {
                    return e.getAsJsonObject();
                }
            }
        }
        throw new IllegalArgumentException(file);
    }

    static JsonArray blocks(JsonObject manifest) {
        return manifest.getAsJsonArray("blocks");
    }

    /** Writes {@code data} as {@code file} and records its size and sha256 in the manifest. */
    void replace(String file, byte[] data) throws IOException {
        Files.write(dir.resolve(file), data);
        rehash(file);
    }

    /** Records the current size and sha256 of {@code file} in the manifest. */
    void rehash(String file) throws IOException {
        byte[] data = Files.readAllBytes(dir.resolve(file));
        editManifest(m -> {
            JsonObject e = entry(m, file);
            e.addProperty("bytes", data.length);
            e.addProperty("sha256", ModelPack.sha256(data));
        });
    }
}
