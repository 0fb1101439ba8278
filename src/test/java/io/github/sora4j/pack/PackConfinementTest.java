package io.github.sora4j.pack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A pack reads nothing outside its directory, whatever its manifest or its symbolic links say. */
class PackConfinementTest {
    @TempDir Path tmp;
    private PackCopy pack;
    private Path outside;

    @BeforeEach
    void copyTheDemoPack() throws IOException {
        pack = PackCopy.of("demo", tmp.resolve("pack"));
        outside = Files.createDirectories(tmp.resolve("outside"));
    }

    @Test
    void aBlockThatIsASymbolicLinkOutOfThePackIsRefusedEvenWithAMatchingHash() throws IOException {
        Path block = pack.dir.resolve("stdit/block_01.pt");
        Path elsewhere = outside.resolve("block_01.pt");
        Files.move(block, elsewhere);
        Files.createSymbolicLink(block, elsewhere);
        assertThatThrownBy(() -> ModelPack.open(pack.dir))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("model pack file " + block + " (stdit/block_01.pt) resolves"
                        + " to " + elsewhere.toRealPath() + ", outside the pack directory");
        assertThatThrownBy(() -> ModelPack.open(pack.dir, false))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("outside the pack directory");
    }

    @Test
    void aTokenizerThatIsASymbolicLinkOutOfThePackIsRefused() throws IOException {
        Path tokenizer = pack.dir.resolve("tokenizer.json");
        Path elsewhere = outside.resolve("tokenizer.json");
        Files.move(tokenizer, elsewhere);
        Files.createSymbolicLink(tokenizer, elsewhere);
        assertThatThrownBy(() -> ModelPack.open(pack.dir))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("(tokenizer.json) resolves to " + elsewhere.toRealPath()
                        + ", outside the pack directory");
    }

    @Test
    void aSymbolicLinkThatStaysInsideThePackIsAccepted() throws IOException {
        Path tokenizer = pack.dir.resolve("tokenizer.json");
        Path moved = Files.createDirectories(pack.dir.resolve("shared")).resolve("t.json");
        Files.move(tokenizer, moved);
        Files.createSymbolicLink(tokenizer, Path.of("shared/t.json"));
        ModelPack opened = ModelPack.open(pack.dir);
        assertThat(opened.resolve("tokenizer.json")).isEqualTo(moved.toRealPath());
    }

    @Test
    void aPackDirectoryReachedThroughASymbolicLinkStillWorks() throws IOException {
        Path link = Files.createSymbolicLink(tmp.resolve("link"), pack.dir);
        assertThat(ModelPack.open(link).manifest().name()).isEqualTo("demo");
    }

    @Test
    void resolveRefusesPathsThatLeaveThePack() {
        ModelPack opened = ModelPack.open(pack.dir);
        assertThatThrownBy(() -> opened.resolve("../outside"))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("leaves the pack directory: ../outside");
        assertThatThrownBy(() -> opened.resolve(outside.toString()))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("is an absolute path");
    }
}
