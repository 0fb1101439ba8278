package io.github.sora4j.pack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelPackTest {
    @TempDir Path tmp;
    private Path copy;

    @BeforeEach
    void copyTheEmbeddedPack() throws IOException {
        Path source = ModelPack.embeddedDefault().directory();
        copy = tmp.resolve("pack");
        try (Stream<Path> walk = Files.walk(source)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Path target = copy.resolve(source.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }

    @Test
    void theEmbeddedDefaultPackOpensAndListsEverySet() {
        ModelPack pack = ModelPack.open(copy);
        PackManifest m = pack.manifest();
        assertThat(m.formatVersion()).isEqualTo(1);
        assertThat(m.blocks("t5")).first().extracting(BlockInfo::role).isEqualTo("t5-embed");
        assertThat(m.blocks("t5")).last().extracting(BlockInfo::role).isEqualTo("t5-final-norm");
        assertThat(m.blocksWithRole("stdit-block")).hasSize(m.stdit().depth());
        assertThat(m.blocks("vae")).isNotEmpty();
    }

    @Test
    void theDemoPackDeclaresItsNativeRequestAndVocabulary() {
        PackManifest m = ModelPack.open(copy).manifest();
        assertThat(m.nativeRequest()).isEqualTo(new PackManifest.Request(51, 64, 64));
        assertThat(m.text().vocabulary()).contains("red", "circle", "moving", "left", "background")
                .doesNotContain("crimson", "dog");
    }

    @Test
    void aPackWithoutRequestOrVocabularyStillOpensWithOpenSorasRequest() throws IOException {
        Path manifest = copy.resolve("manifest.json");
        String json = Files.readString(manifest);
        json = json.replaceAll("(?s),\\s*\"vocabulary\": \\[[^\\]]*\\]", "")
                .replaceAll("(?s),\\s*\"request\": \\{[^}]*\\}", "");
        assertThat(json).doesNotContain("\"vocabulary\"", "\"request\"");
        Files.writeString(manifest, json, StandardCharsets.UTF_8);
        PackManifest m = ModelPack.open(copy).manifest();
        assertThat(m.request()).isNull();
        assertThat(m.text().vocabulary()).isNull();
        assertThat(m.nativeRequest()).isEqualTo(PackManifest.Request.OPEN_SORA);
    }

    @Test
    void aNativeRequestTheModelCannotTakeIsRefused() throws IOException {
        Path manifest = copy.resolve("manifest.json");
        String json = Files.readString(manifest).replace("\"width\": 64", "\"width\": 60");
        Files.writeString(manifest, json, StandardCharsets.UTF_8);
        assertThatThrownBy(() -> ModelPack.open(copy))
                .isInstanceOf(ModelPackException.class)
                .hasMessageStartingWith("manifest request must have frames >= 1 and a size in "
                        + "multiples of 8 but was Request[frames=51, width=60, height=64]");
    }

    @Test
    void aMissingDirectoryIsNamed() {
        Path missing = tmp.resolve("nope");
        assertThatThrownBy(() -> ModelPack.open(missing))
                .isInstanceOf(ModelPackException.class)
                .hasMessage("model pack directory does not exist: " + missing);
    }

    @Test
    void aChangedByteIsASha256Mismatch() throws IOException {
        Path block = copy.resolve("stdit/block_01.pt");
        try (RandomAccessFile f = new RandomAccessFile(block.toFile(), "rw")) {
            f.seek(f.length() / 2);
            int b = f.read();
            f.seek(f.length() / 2);
            f.write(b ^ 0xff);
        }
        assertThatThrownBy(() -> ModelPack.open(copy))
                .isInstanceOf(ModelPackException.class)
                .hasMessageStartingWith("sha256 mismatch for " + block);
        // Sizes still match, so a pack opened without hashing is accepted.
        assertThat(ModelPack.open(copy, false).manifest().name()).isNotBlank();
    }

    @Test
    void aTruncatedBlockIsReportedWithBothSizes() throws IOException {
        Path block = copy.resolve("t5/block_00.pt");
        long size = Files.size(block);
        try (RandomAccessFile f = new RandomAccessFile(block.toFile(), "rw")) {
            f.setLength(size - 10);
        }
        assertThatThrownBy(() -> ModelPack.open(copy, false))
                .isInstanceOf(ModelPackException.class)
                .hasMessage("model pack file " + block + " has " + (size - 10)
                        + " bytes, the manifest says " + size + " (truncated or replaced)");
    }

    @Test
    void anUnknownFormatVersionIsRefused() throws IOException {
        Path manifest = copy.resolve("manifest.json");
        String json = Files.readString(manifest).replace("\"formatVersion\": 1",
                "\"formatVersion\": 7");
        Files.writeString(manifest, json, StandardCharsets.UTF_8);
        assertThatThrownBy(() -> ModelPack.open(copy))
                .isInstanceOf(ModelPackException.class)
                .hasMessageStartingWith("unknown model pack format version 7");
    }

    @Test
    void aMissingTokenizerIsNamed() throws IOException {
        Files.delete(copy.resolve("tokenizer.json"));
        assertThatThrownBy(() -> ModelPack.open(copy))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("tokenizer.json");
    }

    @Test
    void aManifestThatIsNotJsonIsRefused() throws IOException {
        Files.writeString(copy.resolve("manifest.json"), "{not json");
        assertThatThrownBy(() -> ModelPack.open(copy))
                .isInstanceOf(ModelPackException.class)
                .hasMessageStartingWith("manifest is not valid JSON");
    }

    /** Writes a .npy header with {@code descr} and {@code shape}, then {@code dataBytes} zeros. */
    private void writeNullEmbedding(String descr, String shape, int dataBytes) throws IOException {
        String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + shape
                + "), }";
        int pad = 64 - (10 + dict.length() + 1) % 64;
        String header = dict + " ".repeat(pad % 64) + "\n";
        byte[] h = header.getBytes(StandardCharsets.ISO_8859_1);
        byte[] out = new byte[10 + h.length + dataBytes];
        out[0] = (byte) 0x93;
        System.arraycopy("NUMPY".getBytes(StandardCharsets.US_ASCII), 0, out, 1, 5);
        out[6] = 1;
        out[8] = (byte) h.length;
        out[9] = (byte) (h.length >> 8);
        System.arraycopy(h, 0, out, 10, h.length);
        Path file = copy.resolve("null_embedding.npy");
        Files.write(file, out);
        String manifest = Files.readString(copy.resolve("manifest.json"));
        com.google.gson.JsonObject m = new com.google.gson.Gson().fromJson(manifest,
                com.google.gson.JsonObject.class);
        for (var e : m.getAsJsonArray("files")) {
            var o = e.getAsJsonObject();
            if (o.get("file").getAsString().equals("null_embedding.npy")) {
                o.addProperty("bytes", out.length);
                o.addProperty("sha256", ModelPack.sha256(out));
            }
        }
        Files.writeString(copy.resolve("manifest.json"), m.toString());
    }

    @Test
    void aFloat16NullEmbeddingIsRefusedWithItsDtypeAtOpen() throws IOException {
        writeNullEmbedding("<f2", "300, 64", 300 * 64 * 2);
        assertThatThrownBy(() -> ModelPack.open(copy))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("(stdit.nullEmbedding) has dtype <f2; sora4j reads"
                        + " little-endian float32 ('<f4') null embeddings");
    }

    @Test
    void aNullEmbeddingWithAHugeShapeIsRefusedWithoutOverflow() throws IOException {
        writeNullEmbedding("<f4", "1000000000, 64", 16);
        assertThatThrownBy(() -> ModelPack.open(copy))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("has shape [1000000000, 64], expected [300, 64]"
                        + " (text.modelMaxLength, stdit.captionChannels)");
    }

    @Test
    void aNullEmbeddingShorterThanItsHeaderSaysIsRefused() throws IOException {
        writeNullEmbedding("<f4", "300, 64", 16);
        assertThatThrownBy(() -> ModelPack.open(copy))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("its header promises");
    }

    @Test
    void readBlockReturnsTheCheckedBytesOfTheFile() throws IOException {
        ModelPack pack = ModelPack.open(copy);
        BlockInfo b = pack.manifest().blocks().get(0);
        assertThat(pack.readBlock(b)).isEqualTo(Files.readAllBytes(copy.resolve(b.file())));
        assertThat(pack.readFile("tokenizer.json"))
                .isEqualTo(Files.readAllBytes(copy.resolve("tokenizer.json")));
    }
}
