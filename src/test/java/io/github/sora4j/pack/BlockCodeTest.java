package io.github.sora4j.pack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.JniUtils;
import io.github.sora4j.load.TorchScriptBlock;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A block's bytes are checked before libtorch sees them: its TorchScript code against the
 * operator allowlist, its role tag against the manifest, its hash against the manifest, all on
 * the bytes that are then loaded. The hostile blocks come from src/test/python/hostile_blocks.py.
 */
class BlockCodeTest {
    /** The file the hostile blocks create when they run (hostile_blocks.py, MARKER). */
    private static final Path MARKER = Path.of("/tmp/sora4j-hostile-block-ran");

    @TempDir Path tmp;
    private PackCopy pack;
    private FileChannel lockFile;
    private FileLock lock;

    @BeforeEach
    void copyTheDemoPackAndOwnTheMarker() throws IOException {
        pack = PackCopy.of("demo", tmp.resolve("pack"));
        if (Files.isDirectory(MARKER.getParent())) {
            // Other test JVMs on this machine (other checkouts) use the same marker: take turns.
            lockFile = FileChannel.open(Path.of(MARKER + ".lock"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE);
            lock = lockFile.lock();
            Files.deleteIfExists(MARKER);
        }
    }

    @AfterEach
    void releaseTheMarker() throws IOException {
        if (lock != null) {
            Files.deleteIfExists(MARKER);
            lock.release();
            lockFile.close();
        }
    }

    private static byte[] hostile(String name) throws IOException {
        try (InputStream in = BlockCodeTest.class.getResourceAsStream("/hostile/" + name)) {
            return in.readAllBytes();
        }
    }

    private BlockInfo block(ModelPack p, String name) {
        return p.manifest().blocks().stream().filter(b -> b.name().equals(name)).findFirst()
                .orElseThrow();
    }

    @ParameterizedTest
    @ValueSource(strings = {"from_file.pt", "from_file_hidden.pt"})
    void aBlockThatCallsTorchFromFileIsRefusedBeforeItRuns(String file) throws IOException {
        assumeTrue(Files.isDirectory(MARKER.getParent()), "needs /tmp");
        pack.replace("t5/final_norm.pt", hostile(file));
        // Rehashed by the attacker: the hashes match, so only the code check can stop it.
        assertThatThrownBy(() -> ModelPack.open(pack.dir))
                .isInstanceOf(ModelPackException.class)
                .hasMessageStartingWith("block t5.final_norm (" + pack.dir.toRealPath()
                        .resolve("t5/final_norm.pt") + ") uses the TorchScript operator"
                        + " torch.from_file, torch.sum, which is not on sora4j's allowlist (file,"
                        + " process or I/O access is refused)");
        // Opened without hashing, the pack opens (sizes match); loading the block is refused.
        ModelPack p = ModelPack.open(pack.dir, false);
        assertThatThrownBy(() -> TorchScriptBlock.load(p, block(p, "t5.final_norm")))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("uses the TorchScript operator torch.from_file");
        assertThat(MARKER).doesNotExist();
    }

    @Test
    void theHostileFixtureReallyTouchesTheFileSystemWhenLoadedWithoutTheCheck() throws IOException {
        assumeTrue(Files.isDirectory(MARKER.getParent()), "needs /tmp");
        // The control: libtorch itself runs the block, which creates the marker file.
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            PtSymbolBlock module = JniUtils.loadModule((PtNDManager) m,
                    new ByteArrayInputStream(hostile("from_file.pt")), true, false);
            try {
                NDArray x = m.ones(new ai.djl.ndarray.types.Shape(2));
                NDList out = module.forward(new ai.djl.training.ParameterStore(m, false),
                        new NDList(x), false);
                assertThat(out.singletonOrThrow().toFloatArray()).containsExactly(1f, 1f);
            } finally {
                module.close();
            }
        }
        assertThat(MARKER).exists();
        Files.delete(MARKER);
    }

    @Test
    void aBlockThatCallsOpsAtenSaveIsRefused() throws IOException {
        pack.replace("t5/final_norm.pt", hostile("save.pt"));
        assertThatThrownBy(() -> ModelPack.open(pack.dir))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("uses the TorchScript operator ops.aten.save,"
                        + " torch.from_file, torch.sum");
    }

    @Test
    void aBlockOfAnotherRoleFailsWithItsRoleAndTheExpectedOne() throws IOException {
        pack.replace("stdit/final.pt", Files.readAllBytes(pack.dir.resolve("t5/final_norm.pt")));
        assertThatThrownBy(() -> ModelPack.open(pack.dir))
                .isInstanceOf(ModelPackException.class)
                .hasMessageStartingWith("block stdit.final (" + pack.dir.toRealPath().resolve(
                        "stdit/final.pt") + ") has role t5-final-norm, expected stdit-final");
    }

    @Test
    void twoSwappedBlocksOfTheSameRoleAreNamed() throws IOException {
        byte[] b0 = Files.readAllBytes(pack.dir.resolve("stdit/block_00.pt"));
        byte[] b1 = Files.readAllBytes(pack.dir.resolve("stdit/block_01.pt"));
        pack.replace("stdit/block_00.pt", b1);
        pack.replace("stdit/block_01.pt", b0);
        assertThatThrownBy(() -> ModelPack.open(pack.dir))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("is stdit.block.01 (stdit-block order 1), expected"
                        + " stdit.block.00 (stdit-block order 0)");
    }

    @Test
    void aBlockReplacedAfterOpeningIsRefusedOnLoadFromTheBytesActuallyRead() throws IOException {
        // SHA-256 on every load; the CRC32C check of write-protected packs: BlockLoadCheckTest.
        ModelPack p = ModelPack.open(pack.dir, PackTrust.defaults().withHashOnEveryLoad());
        Path file = pack.dir.resolve("stdit/block_01.pt");
        byte[] data = Files.readAllBytes(file);
        data[data.length / 2] ^= 0x5a;
        Files.write(file, data);
        assertThatThrownBy(() -> TorchScriptBlock.load(p, block(p, "stdit.block.01")))
                .isInstanceOf(ModelPackException.class)
                .hasMessageStartingWith("sha256 mismatch for " + file);
        // Without hashing, the same change is not seen (documented): the choice is explicit.
        ModelPack unhashed = ModelPack.open(pack.dir, false);
        assertThat(unhashed.verifiesHashes()).isFalse();
    }

    @Test
    void aPackExportedBeforeRoleTagsStillOpensAndLoads() throws IOException {
        for (BlockInfo b : ModelPack.open(pack.dir).manifest().blocks()) {
            pack.replace(b.file(), withoutTag(Files.readAllBytes(pack.dir.resolve(b.file()))));
        }
        ModelPack legacy = ModelPack.open(pack.dir);
        try (TorchScriptBlock b = TorchScriptBlock.load(legacy, block(legacy, "stdit.final"))) {
            assertThat(b.info().role()).isEqualTo("stdit-final");
        }
    }

    @Test
    void oneUntaggedBlockAmongTaggedOnesIsRefused() throws IOException {
        pack.replace("vae/spatial_02.pt",
                withoutTag(Files.readAllBytes(pack.dir.resolve("vae/spatial_02.pt"))));
        assertThatThrownBy(() -> ModelPack.open(pack.dir))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("block vae.spatial.02 (")
                .hasMessageContaining("has no role tag, but 21 other block(s) of the pack have"
                        + " one");
    }

    @Test
    void aFileThatIsNotAZipArchiveIsRefusedWithoutReachingLibtorch() throws IOException {
        pack.replace("vae/spatial_05.pt", "import os\nos.system('true')\n".getBytes());
        assertThatThrownBy(() -> ModelPack.open(pack.dir))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("block vae.spatial.05 (")
                .hasMessageContaining("cannot be checked: not a TorchScript archive");
    }

    /** The archive without its role tag entry, as the exporter wrote it before tags. */
    static byte[] withoutTag(byte[] archive) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(archive));
                ZipOutputStream zip = new ZipOutputStream(out)) {
            for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                byte[] body = in.readAllBytes();
                if (e.getName().endsWith("/" + BlockArchive.TAG_ENTRY)) {
                    continue;
                }
                ZipEntry copy = new ZipEntry(e.getName());
                copy.setMethod(ZipEntry.STORED);
                copy.setSize(body.length);
                CRC32 crc = new CRC32();
                crc.update(body);
                copy.setCrc(crc.getValue());
                zip.putNextEntry(copy);
                zip.write(body);
                zip.closeEntry();
            }
        }
        return out.toByteArray();
    }
}
