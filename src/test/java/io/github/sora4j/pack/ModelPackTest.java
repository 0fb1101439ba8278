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
        assertThat(m.nativeRequest()).isEqualTo(new PackManifest.Request(17, 64, 64));
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
                        + "multiples of 8 but was Request[frames=17, width=60, height=64]");
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
}
