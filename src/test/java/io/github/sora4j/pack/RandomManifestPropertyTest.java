package io.github.sora4j.pack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import io.github.sora4j.GenerationRequest;
import io.github.sora4j.ProgressListener;
import io.github.sora4j.Sora4jException;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.soak.Soak;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random damage to a valid pack, from fixed seeds (40 cases, 300 with {@code -Dsoak=long}): one
 * to three mutations of the tiny pack's manifest (a number, string, array or object anywhere in
 * it replaced by an edge value, removed or duplicated; blocks dropped, duplicated or swapped)
 * and of its files (truncated, a byte flipped, a block put in another's place, with or without
 * the manifest's hashes updated), then a small generation. Each case ends in a {@link
 * Sora4jException} subtype with a short message or a valid video, never another exception type,
 * and the output directory never holds a partial or temporary file.
 */
@Tag("soak")
class RandomManifestPropertyTest {
    private static final Object[] NUMBERS = {0, -1, 1, 2, 3, 7, 1_000_000, Integer.MAX_VALUE,
        Long.MAX_VALUE, -1e300, 1e300, 0.5, 1e-45};
    private static final String[] STRINGS = {"", " ", "../x", "/etc/passwd", "a/./b", "x\u0000y",
        "t5/block_00.pt", "float16", "stdit-block", "\u00e9\u2003"};

    @TempDir Path tmp;

    static Stream<Long> seeds() {
        return Stream.iterate(1L, s -> s + 1).limit(Soak.count(40, 300));
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void aRandomlyDamagedPackEndsInAClearSora4jExceptionOrAValidVideoAndNeverAPartialFile(
            long seed) throws Exception {
        Random r = new Random(seed * 7919);
        PackCopy pack = PackCopy.of("tiny-random", tmp.resolve("pack"));
        List<String> done = new ArrayList<>();
        for (int i = 0, n = 1 + r.nextInt(3); i < n; i++) {
            done.add(mutate(r, pack));
        }
        Path outDir = Files.createDirectories(tmp.resolve("out"));
        Path out = outDir.resolve("v.mp4");
        String described = "seed " + seed + ": " + done;
        try {
            ModelPack p = ModelPack.open(pack.dir);
            try (VideoPipeline pipeline = VideoPipeline.builder().pack(p).build()) {
                GenerationRequest request = GenerationRequest.builder("a red circle moving left")
                        .frames(1 + 8 * r.nextInt(2)).size(32, 32).steps(1 + r.nextInt(2))
                        .seed(seed).build();
                pipeline.generate(request, ProgressListener.NONE, out);
            }
            byte[] head = Arrays.copyOf(Files.readAllBytes(out), 8);
            assertThat(new String(head, 4, 4, StandardCharsets.US_ASCII)).as(described)
                    .isEqualTo("ftyp");
            try (Stream<Path> s = Files.list(outDir)) {
                assertThat(s.toList()).as(described).containsExactly(out);
            }
        } catch (Sora4jException e) {
            assertThat(e.getMessage()).as(described).isNotBlank().hasSizeLessThan(2000);
            try (Stream<Path> s = Files.list(outDir)) {
                assertThat(s.toList()).as("%s refused (%s): nothing written", described,
                        e.getMessage()).isEmpty();
            }
        } catch (Throwable t) {
            fail("case " + described + " threw " + t.getClass().getName()
                    + ", not a Sora4jException: " + t.getMessage(), t);
        }
    }

    /** {@code e} if it is a non-empty array of objects that each name a {@code file}, else null. */
    private static JsonArray filesListed(JsonElement e) {
        if (e == null || !e.isJsonArray() || e.getAsJsonArray().isEmpty()) {
            return null;
        }
        for (JsonElement x : e.getAsJsonArray()) {
            if (!x.isJsonObject() || !(x.getAsJsonObject().get("file") instanceof JsonPrimitive f)
                    || !f.isString()) {
                return null;
            }
        }
        return e.getAsJsonArray();
    }

    /** One random mutation; returns what it did. */
    private static String mutate(Random r, PackCopy pack) throws IOException {
        JsonObject m = pack.manifest();
        int kind = r.nextInt(10);
        JsonArray blocks = filesListed(m.get("blocks"));
        if (kind >= 4 && kind <= 8 && (blocks == null || filesListed(m.get("files")) == null)) {
            // An earlier mutation broke the lists these need: the pack stays as it is.
            return "kind " + kind + " skipped (blocks or files no longer a list of files)";
        }
        switch (kind) {
            case 0, 1, 2, 3 -> {
                List<Map.Entry<JsonElement, Object>> leaves = new ArrayList<>();
                collect(m, leaves);
                if (leaves.isEmpty()) {
                    return "no leaf left to change";
                }
                Map.Entry<JsonElement, Object> leaf = leaves.get(r.nextInt(leaves.size()));
                JsonElement value = r.nextInt(3) == 0
                        ? new JsonPrimitive(STRINGS[r.nextInt(STRINGS.length)])
                        : new JsonPrimitive((Number) NUMBERS[r.nextInt(NUMBERS.length)]);
                boolean remove = r.nextInt(5) == 0;
                set(leaf, remove ? null : value);
                pack.editManifest(x -> copyInto(m, x));
                return (remove ? "removed " : "set to " + value + ": ") + leaf.getValue();
            }
            case 4 -> {
                int i = r.nextInt(blocks.size());
                JsonElement b = blocks.remove(i);
                if (r.nextBoolean()) {
                    blocks.add(b); // moved to the end instead
                    pack.editManifest(x -> copyInto(m, x));
                    return "block " + i + " moved to the end";
                }
                pack.editManifest(x -> copyInto(m, x));
                return "block " + i + " removed";
            }
            case 5 -> {
                int i = r.nextInt(blocks.size());
                blocks.add(blocks.get(i).deepCopy());
                pack.editManifest(x -> copyInto(m, x));
                return "block " + i + " duplicated";
            }
            case 6 -> {
                int i = r.nextInt(blocks.size());
                int j = r.nextInt(blocks.size());
                String a = blocks.get(i).getAsJsonObject().get("file").getAsString();
                String b = blocks.get(j).getAsJsonObject().get("file").getAsString();
                byte[] bytes = Files.readAllBytes(pack.dir.resolve(b));
                if (r.nextBoolean()) {
                    pack.replace(a, bytes);
                    return "block file " + a + " replaced by " + b + ", rehashed";
                }
                Files.write(pack.dir.resolve(a), bytes);
                return "block file " + a + " replaced by " + b;
            }
            case 7 -> {
                String f = blocks.get(r.nextInt(blocks.size())).getAsJsonObject().get("file")
                        .getAsString();
                long size = Files.size(pack.dir.resolve(f));
                long keep = size == 0 ? 0 : (long) (r.nextDouble() * size);
                try (RandomAccessFile raf = new RandomAccessFile(
                        pack.dir.resolve(f).toFile(), "rw")) {
                    raf.setLength(keep);
                }
                if (r.nextBoolean()) {
                    pack.rehash(f);
                    return f + " truncated to " + keep + ", rehashed";
                }
                return f + " truncated to " + keep;
            }
            case 8 -> {
                List<String> files = new ArrayList<>();
                blocks.forEach(b -> files.add(b.getAsJsonObject().get("file").getAsString()));
                m.getAsJsonArray("files").forEach(
                        f -> files.add(f.getAsJsonObject().get("file").getAsString()));
                String f = files.get(r.nextInt(files.size()));
                byte[] bytes = Files.readAllBytes(pack.dir.resolve(f));
                if (bytes.length == 0) {
                    return f + " empty, unchanged";
                }
                int at = r.nextInt(bytes.length);
                bytes[at] ^= (byte) (1 + r.nextInt(255));
                if (r.nextBoolean()) {
                    pack.replace(f, bytes);
                    return f + " byte " + at + " flipped, rehashed";
                }
                Files.write(pack.dir.resolve(f), bytes);
                return f + " byte " + at + " flipped";
            }
            default -> {
                // A whole object or array replaced by an edge value.
                List<Map.Entry<JsonElement, Object>> nodes = new ArrayList<>();
                collectContainers(m, nodes);
                Map.Entry<JsonElement, Object> node = nodes.get(r.nextInt(nodes.size()));
                JsonElement value = switch (r.nextInt(3)) {
                    case 0 -> new JsonArray();
                    case 1 -> new JsonObject();
                    default -> new JsonPrimitive(1);
                };
                set(node, value);
                pack.editManifest(x -> copyInto(m, x));
                return "replaced by " + value + ": " + node.getValue();
            }
        }
    }

    /** Parent container and key (String) or index (Integer) of every primitive leaf. */
    private static void collect(JsonElement e, List<Map.Entry<JsonElement, Object>> out) {
        if (e.isJsonObject()) {
            for (String k : e.getAsJsonObject().keySet()) {
                JsonElement c = e.getAsJsonObject().get(k);
                if (c.isJsonPrimitive()) {
                    out.add(Map.entry(e, k));
                } else {
                    collect(c, out);
                }
            }
        } else if (e.isJsonArray()) {
            for (int i = 0; i < e.getAsJsonArray().size(); i++) {
                JsonElement c = e.getAsJsonArray().get(i);
                if (c.isJsonPrimitive()) {
                    out.add(Map.entry(e, i));
                } else {
                    collect(c, out);
                }
            }
        }
    }

    private static void collectContainers(JsonElement e,
            List<Map.Entry<JsonElement, Object>> out) {
        if (e.isJsonObject()) {
            for (String k : e.getAsJsonObject().keySet()) {
                JsonElement c = e.getAsJsonObject().get(k);
                if (!c.isJsonPrimitive()) {
                    out.add(Map.entry(e, k));
                    collectContainers(c, out);
                }
            }
        } else if (e.isJsonArray()) {
            for (int i = 0; i < e.getAsJsonArray().size(); i++) {
                JsonElement c = e.getAsJsonArray().get(i);
                if (!c.isJsonPrimitive()) {
                    out.add(Map.entry(e, i));
                    collectContainers(c, out);
                }
            }
        }
    }

    private static void set(Map.Entry<JsonElement, Object> at, JsonElement value) {
        if (at.getValue() instanceof String key) {
            if (value == null) {
                at.getKey().getAsJsonObject().remove(key);
            } else {
                at.getKey().getAsJsonObject().add(key, value);
            }
        } else {
            int i = (Integer) at.getValue();
            if (value == null) {
                at.getKey().getAsJsonArray().remove(i);
            } else {
                at.getKey().getAsJsonArray().set(i, value);
            }
        }
    }

    private static void copyInto(JsonObject from, JsonObject to) {
        for (String k : new ArrayList<>(to.keySet())) {
            to.remove(k);
        }
        from.entrySet().forEach(e -> to.add(e.getKey(), e.getValue()));
    }
}
