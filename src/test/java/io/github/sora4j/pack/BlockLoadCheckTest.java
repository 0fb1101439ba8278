package io.github.sora4j.pack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each load checks the bytes it hands to libtorch, in the same pass as the read: SHA-256 when
 * users other than this one and root could change the file, else a CRC32C against the bytes whose
 * SHA-256 was checked at open; a file changed after opening is refused either way.
 */
class BlockLoadCheckTest {
    private static final String FILE = "stdit/block_01.pt";

    @TempDir Path tmp;
    private PackCopy pack;

    @BeforeEach
    void copyTheDemoPackWithALargeBlock() throws IOException {
        pack = PackCopy.of("demo", tmp.resolve("pack"));
        // Larger than two read chunks, not a multiple of one: the one-pass read joins its chunks.
        PaddedBlock.pad(pack, FILE, 2 * PackFiles.CHUNK + 12345, 1);
        PaddedBlock.ownerOnlyWrites(pack.dir);
    }

    private static BlockInfo block(ModelPack p) {
        return p.manifest().blocks().stream().filter(b -> b.file().equals(FILE)).findFirst()
                .orElseThrow();
    }

    private ModelPack openOwnerOnly() {
        ModelPack p = ModelPack.open(pack.dir);
        String why = WriteProtection.othersCanWrite(pack.dir.resolve(FILE));
        assumeTrue(why == null, () -> "the test directory's parents are not write-protected: "
                + why);
        return p;
    }

    private void flipAByteInTheMiddle() throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(pack.dir.resolve(FILE).toFile(), "rw")) {
            f.seek(f.length() / 2);
            int b = f.read();
            f.seek(f.length() / 2);
            f.write(b ^ 0x20);
        }
    }

    @Test
    void aPackOnlyThisUserCanWriteIsCheckedWithACrcOfTheVerifiedBytes() throws IOException {
        ModelPack p = openOwnerOnly();
        assertThat(p.loadCheck(block(p))).isEqualTo(BlockLoadCheck.CRC32C);
        assertThat(p.readBlock(block(p))).isEqualTo(Files.readAllBytes(pack.dir.resolve(FILE)));
    }

    @Test
    void aByteChangedAfterOpeningFailsTheCrcCheckOnLoad() throws IOException {
        ModelPack p = openOwnerOnly();
        flipAByteInTheMiddle();
        assertThatThrownBy(() -> p.readBlock(block(p)))
                .isInstanceOf(ModelPackException.class)
                .hasMessageStartingWith("model pack file " + pack.dir.resolve(FILE)
                        + " changed after the pack was opened: the CRC32C of the bytes read is ")
                .hasMessageEndingWith("; the block was not loaded (open the pack again)");
    }

    @Test
    void aBlockFileOthersCanWriteIsSha256CheckedOnEveryLoad() throws IOException {
        ModelPack p = ModelPack.open(pack.dir);
        Files.setPosixFilePermissions(pack.dir.resolve(FILE),
                PosixFilePermissions.fromString("rw-rw-r--"));
        assertThat(p.loadCheck(block(p))).isEqualTo(BlockLoadCheck.SHA256);
        assertThat(WriteProtection.othersCanWrite(pack.dir.resolve(FILE).toRealPath()))
                .isEqualTo(pack.dir.resolve(FILE).toRealPath()
                        + " is writable by its group or others (mode 664)");
        assertThat(p.readBlock(block(p))).isEqualTo(Files.readAllBytes(pack.dir.resolve(FILE)));
        flipAByteInTheMiddle();
        assertThatThrownBy(() -> p.readBlock(block(p)))
                .isInstanceOf(ModelPackException.class)
                .hasMessageStartingWith("sha256 mismatch for " + pack.dir.resolve(FILE));
    }

    @Test
    void aDirectoryOthersCanWriteAboveTheBlockMeansSha256() throws IOException {
        ModelPack p = ModelPack.open(pack.dir);
        Files.setPosixFilePermissions(pack.dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        assertThat(p.loadCheck(block(p))).isEqualTo(BlockLoadCheck.SHA256);
        Files.setAttribute(pack.dir, "unix:mode", 01777);
        // Sticky: others cannot rename or remove the entries that are this user's.
        assumeTrue(WriteProtection.othersCanWrite(tmp) == null);
        assertThat(p.loadCheck(block(p))).isEqualTo(BlockLoadCheck.CRC32C);
    }

    @Test
    void hashOnEveryLoadIsSha256WhoeverCanWrite() throws IOException {
        ModelPack p = ModelPack.open(pack.dir, PackTrust.defaults().withHashOnEveryLoad());
        assertThat(p.loadCheck(block(p))).isEqualTo(BlockLoadCheck.SHA256);
        flipAByteInTheMiddle();
        assertThatThrownBy(() -> p.readBlock(block(p)))
                .isInstanceOf(ModelPackException.class)
                .hasMessageStartingWith("sha256 mismatch for " + pack.dir.resolve(FILE));
    }

    @Test
    void withoutHashesOnlyTheSizeIsChecked() throws IOException {
        ModelPack p = ModelPack.open(pack.dir, PackTrust.withoutHashes());
        assertThat(p.loadCheck(block(p))).isEqualTo(BlockLoadCheck.SIZE);
        flipAByteInTheMiddle();
        assertThat(p.readBlock(block(p))).isEqualTo(Files.readAllBytes(pack.dir.resolve(FILE)));
    }

    @Test
    void aLoadLeavesNoNativeBufferAsLargeAsTheBlockOnItsThread() throws Exception {
        // A whole-file read into the heap makes the JDK allocate a temporary direct buffer of the
        // file's size and cache it on the reading thread for the thread's life (772 MB for a
        // float32 T5-XXL block); chunked reads keep it at one chunk.
        ModelPack p = ModelPack.open(pack.dir);
        long[] grown = new long[1];
        Thread t = new Thread(() -> {
            long before = directBytes();
            p.readBlock(block(p));
            grown[0] = directBytes() - before;
        });
        t.start();
        t.join();
        assertThat(Files.size(pack.dir.resolve(FILE))).isGreaterThan(2L * PackFiles.CHUNK);
        assertThat(grown[0]).isLessThanOrEqualTo(PackFiles.CHUNK + (1L << 20));
    }

    private static long directBytes() {
        return java.lang.management.ManagementFactory.getPlatformMXBeans(
                java.lang.management.BufferPoolMXBean.class).stream()
                .filter(b -> b.getName().equals("direct")).mapToLong(
                        java.lang.management.BufferPoolMXBean::getMemoryUsed).sum();
    }

    @Test
    void hashOnEveryLoadWithoutHashesIsAContradiction() {
        assertThatThrownBy(() -> new PackTrust(false, java.util.List.of(), true))
                .hasMessage("SHA-256 on every load needs hash checks (verifyHashes false,"
                        + " hashEveryLoad true)");
    }
}
