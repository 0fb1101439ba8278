package io.github.sora4j.pack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded packs are extracted to a per-user cache with owner-only permissions and checked
 * against the jar's hashes every time they are opened.
 */
class EmbeddedPackCacheTest {
    @TempDir Path tmp;
    private String saved;
    private Path root;

    @BeforeEach
    void useAPrivateCacheRoot() {
        saved = System.getProperty(EmbeddedPacks.CACHE_DIR_PROPERTY);
        root = tmp.resolve("cache");
        System.setProperty(EmbeddedPacks.CACHE_DIR_PROPERTY, root.toString());
    }

    @AfterEach
    void restoreTheProperty() {
        if (saved == null) {
            System.clearProperty(EmbeddedPacks.CACHE_DIR_PROPERTY);
        } else {
            System.setProperty(EmbeddedPacks.CACHE_DIR_PROPERTY, saved);
        }
    }

    private static boolean posix() {
        return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    }

    @Test
    void theCacheIsCreatedOwnerOnly() throws IOException {
        assumeTrue(posix());
        ModelPack pack = ModelPack.embedded("tiny-random");
        assertThat(pack.directory()).startsWith(root.resolve("packs"));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(root)))
                .isEqualTo("rwx------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(
                root.resolve("packs")))).isEqualTo("rwx------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(
                pack.directory()))).isEqualTo("rwx------");
    }

    @Test
    void anAlteredFileInTheCacheIsExtractedAgain() throws IOException {
        Path block = ModelPack.embedded("tiny-random").directory().resolve("t5/final_norm.pt");
        byte[] good = Files.readAllBytes(block);
        byte[] bad = good.clone();
        bad[bad.length / 2] ^= 1;
        Files.write(block, bad);
        ModelPack again = ModelPack.embedded("tiny-random");
        assertThat(Files.readAllBytes(again.directory().resolve("t5/final_norm.pt")))
                .isEqualTo(good);
    }

    @Test
    void aPlantedPackWithItsOwnManifestIsReplacedByTheJarsCopy() throws IOException {
        Path dir = ModelPack.embedded("tiny-random").directory();
        // Someone who could write there plants another block and a manifest that matches it.
        Path block = dir.resolve("stdit/final.pt");
        Files.write(block, Files.readAllBytes(dir.resolve("t5/final_norm.pt")));
        String manifest = Files.readString(dir.resolve("manifest.json"));
        Files.writeString(dir.resolve("manifest.json"), manifest.replace("\"tiny-random\"",
                "\"planted\""));
        ModelPack again = ModelPack.embedded("tiny-random");
        assertThat(again.manifest().name()).isEqualTo("tiny-random");
        assertThat(Files.readString(again.directory().resolve("manifest.json")))
                .isEqualTo(manifest);
        assertThat(ModelPack.open(again.directory()).manifest().name()).isEqualTo("tiny-random");
    }

    @Test
    void aMissingFileIsExtractedAgain() throws IOException {
        Path dir = ModelPack.embedded("tiny-random").directory();
        Files.delete(dir.resolve("tokenizer.json"));
        assertThat(ModelPack.embedded("tiny-random").directory().resolve("tokenizer.json"))
                .exists();
    }

    @Test
    void aCacheDirectoryOthersCanWriteIsRefusedWithTheFix() throws IOException {
        assumeTrue(posix());
        Files.createDirectories(root, PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxrwxrwx"));
        assertThatThrownBy(() -> ModelPack.embedded("tiny-random"))
                .isInstanceOf(ModelPackException.class)
                .hasMessage("cannot use " + root + " as the sora4j pack cache: other users can"
                        + " write to it (rwxrwxrwx; chmod 700 it). Set -Dsora4j.cacheDir=DIR to"
                        + " a directory of your own (default $XDG_CACHE_HOME/sora4j or"
                        + " ~/.cache/sora4j)");
    }

    @Test
    void aCacheDirectoryOfAnotherUserIsRefused() throws IOException {
        assumeTrue(posix());
        UserPrincipal nobody;
        try {
            nobody = root.getFileSystem().getUserPrincipalLookupService()
                    .lookupPrincipalByName("nobody");
            Files.createDirectories(root);
            Files.setOwner(root, nobody);
        } catch (IOException | UnsupportedOperationException e) {
            assumeTrue(false, "cannot give a directory to another user here (not root)");
            return;
        }
        assertThatThrownBy(() -> ModelPack.embedded("tiny-random"))
                .isInstanceOf(ModelPackException.class)
                .hasMessageStartingWith("cannot use " + root + " as the sora4j pack cache: it"
                        + " belongs to another user (nobody)");
    }

    @Test
    void twoUsersGetTwoCaches() {
        // The default root follows the user: XDG_CACHE_HOME or the home directory.
        System.clearProperty(EmbeddedPacks.CACHE_DIR_PROPERTY);
        String home = System.getProperty("user.home");
        try {
            System.setProperty("user.home", tmp.resolve("alice").toString());
            Path alice = EmbeddedPacks.cacheRoot();
            System.setProperty("user.home", tmp.resolve("bob").toString());
            Path bob = EmbeddedPacks.cacheRoot();
            if (System.getenv("XDG_CACHE_HOME") == null) {
                assertThat(alice).isEqualTo(tmp.resolve("alice/.cache/sora4j"));
                assertThat(bob).isEqualTo(tmp.resolve("bob/.cache/sora4j"));
            }
        } finally {
            System.setProperty("user.home", home);
        }
    }

    @Test
    void withoutAUsableHomeThePackGoesToAPrivateDirectoryOfTheUserUnderTheTempDir()
            throws IOException {
        assumeTrue(posix());
        System.clearProperty(EmbeddedPacks.CACHE_DIR_PROPERTY);
        assumeTrue(System.getenv("XDG_CACHE_HOME") == null, "XDG_CACHE_HOME is set");
        String home = System.getProperty("user.home");
        String tmpdir = System.getProperty("java.io.tmpdir");
        Path file = Files.writeString(tmp.resolve("not-a-directory"), "x");
        try {
            System.setProperty("user.home", file.toString());
            System.setProperty("java.io.tmpdir", tmp.toString());
            Path root = EmbeddedPacks.cacheRoot();
            assertThat(root.getParent()).isEqualTo(tmp.toAbsolutePath());
            assertThat(root.getFileName().toString()).startsWith("sora4j-");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(root)))
                    .isEqualTo("rwx------");
        } finally {
            System.setProperty("user.home", home);
            System.setProperty("java.io.tmpdir", tmpdir);
        }
    }
}
