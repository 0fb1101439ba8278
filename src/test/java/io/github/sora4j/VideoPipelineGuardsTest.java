package io.github.sora4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.github.sora4j.device.ProcessMemory;
import io.github.sora4j.internal.Finite;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.ModelPackException;
import io.github.sora4j.testing.CountedTinyPipeline;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The checks before and during a generation: feasibility, output, non-finite values. */
class VideoPipelineGuardsTest {
    private static CountedTinyPipeline tiny;
    private static ModelPack pack;
    private static VideoPipeline pipeline;

    @BeforeAll
    static void open() {
        tiny = new CountedTinyPipeline();
        pack = tiny.pack();
        pipeline = tiny.pipeline();
    }

    @AfterAll
    static void close() {
        tiny.close();
    }

    private static GenerationRequest.Builder small() {
        return GenerationRequest.builder("a red circle moving left").frames(9).size(32, 32)
                .steps(2).seed(5);
    }

    private static void assertNothingLoaded(Runnable r, Class<? extends Throwable> type,
            String message) {
        int before = tiny.loader().acquired().size();
        assertThatThrownBy(r::run).isInstanceOf(type).hasMessageContaining(message);
        assertThat(tiny.loader().acquired()).hasSize(before);
    }

    @Test
    void aLatentTooLargeForAJavaArrayIsRefusedBeforeAnyBlockLoads() {
        assertNothingLoaded(() -> pipeline.validate(small().frames(Integer.MAX_VALUE).build()),
                InfeasibleRequestException.class, "cannot run here: its latent has ");
        assertNothingLoaded(() -> pipeline.generate(small().size(100_000, 100_000).build()),
                InfeasibleRequestException.class, "the largest request that fits is ");
    }

    @Test
    void aRequestBeyondThePhysicalMemoryIsRefusedNamingTheLimit() {
        String old = System.getProperty(ProcessMemory.AVAILABLE_PROPERTY);
        System.setProperty(ProcessMemory.AVAILABLE_PROPERTY, "200MB");
        try {
            assertNothingLoaded(() -> pipeline.generate(small().size(2048, 2048).build()),
                    InfeasibleRequestException.class, "of native memory");
            assertThatThrownBy(() -> pipeline.validate(small().size(2048, 2048).build()))
                    .hasMessageContaining("200.0 MB is available (-Dsora4j.availableMemory");
            pipeline.validate(small().build());
        } finally {
            if (old == null) {
                System.clearProperty(ProcessMemory.AVAILABLE_PROPERTY);
            } else {
                System.setProperty(ProcessMemory.AVAILABLE_PROPERTY, old);
            }
        }
    }

    @Test
    void anExistingDirectoryNamedLikeAVideoIsRefusedBeforeAnyWork(@TempDir Path dir)
            throws Exception {
        Path out = Files.createDirectory(dir.resolve("x.mp4"));
        assertNothingLoaded(() -> pipeline.generate(small().build(), ProgressListener.NONE, out),
                InvalidRequestException.class, "output path '" + out + "' is an existing "
                        + "directory; cannot replace it with a file");
        try (Stream<Path> files = Files.list(out)) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void aNameWhoseTemporaryFormIsTooLongIsRefusedBeforeAnyWork(@TempDir Path dir) {
        Path out = dir.resolve("v".repeat(241) + ".mp4"); // 245 bytes: legal, its temp name not
        assertNothingLoaded(() -> pipeline.generate(small().build(), ProgressListener.NONE, out),
                InvalidRequestException.class, "output file name is 245 bytes; with the "
                        + "temporary name it is written under first");
    }

    @Test
    void theLongestAcceptedNameIsWritten(@TempDir Path dir) {
        Path out = dir.resolve("v".repeat(232) + ".gif"); // 236 bytes
        pipeline.generate(small().build(), ProgressListener.NONE, out);
        assertThat(out).isRegularFile();
    }

    @Test
    void anUnwritableDirectoryIsRefusedBeforeAnyWork(@TempDir Path dir) throws Exception {
        Path ro = Files.createDirectory(dir.resolve("ro"));
        Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            assumeFalse(Files.isWritable(ro), "running as root: every directory is writable");
            assertNothingLoaded(() -> pipeline.generate(small().build(), ProgressListener.NONE,
                    ro.resolve("v.mp4")), InvalidRequestException.class, "is not writable");
        } finally {
            Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void anExistingFileIsReplacedAtomicallyAndNothingElseIsLeft(@TempDir Path dir)
            throws Exception {
        Path out = dir.resolve("v.gif");
        Files.writeString(out, "old contents");
        pipeline.generate(small().build(), ProgressListener.NONE, out);
        assertThat(Files.readAllBytes(out)).startsWith("GIF89a".getBytes());
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).containsExactly(out);
        }
    }

    @Test
    void theFiniteCheckFindsNanAndInfinityAnywhere() {
        for (int n : new int[] {1, 3, 4, 5, 1000}) {
            float[] a = new float[n];
            java.util.Arrays.fill(a, -3.4e38f);
            assertThat(Finite.all(a)).isTrue();
            for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY,
                    Float.NEGATIVE_INFINITY}) {
                for (int i : new int[] {0, n / 2, n - 1}) {
                    float[] b = a.clone();
                    b[i] = bad;
                    assertThat(Finite.all(b)).as("%s at %d of %d", bad, i, n).isFalse();
                }
            }
        }
        float[] frames = {0.5f, Float.NaN, 1f, Float.NaN};
        assertThatThrownBy(() -> Finite.check(frames, Stage.DECODE, -1, "the decoded frames"))
                .isInstanceOf(NonFiniteValueException.class)
                .hasMessageStartingWith("non-finite values in the decoded frames (stage DECODE): "
                        + "2 of 4 are NaN or infinite, the first at index 1 is NaN")
                .satisfies(e -> assertThat(((NonFiniteValueException) e).step()).isEqualTo(-1));
    }

    @Test
    void aNanNullEmbeddingIsRefusedWhenThePipelineIsBuilt(@TempDir Path dir) throws Exception {
        Path copy = copyWithNullEmbedding(dir, Float.NaN);
        assertThatThrownBy(() -> VideoPipeline.builder().pack(ModelPack.open(copy)).build())
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("holds a non-finite value (NaN at index 0)");
    }

    @Test
    void aLatentThatTurnsNonFiniteStopsTheGenerationNamingStageAndStep(@TempDir Path dir)
            throws Exception {
        // A null embedding of huge finite values overflows the unconditional half of CFG.
        Path copy = copyWithNullEmbedding(dir, 3e38f);
        Path out = dir.resolve("v.mp4");
        try (VideoPipeline p = VideoPipeline.builder().pack(ModelPack.open(copy)).build()) {
            assertThatThrownBy(() -> p.generate(small().build(), ProgressListener.NONE, out))
                    .isInstanceOf(NonFiniteValueException.class)
                    .hasMessageStartingWith("non-finite values in the latent after denoising step "
                            + "0 of 2 (timestep ")
                    .satisfies(e -> {
                        NonFiniteValueException n = (NonFiniteValueException) e;
                        assertThat(n.stage()).isEqualTo(Stage.DENOISE);
                        assertThat(n.step()).isZero();
                    });
        }
        assertThat(out).doesNotExist();
    }

    /** A copy of the tiny pack whose null embedding holds one value everywhere, re-hashed. */
    private static Path copyWithNullEmbedding(Path dir, float value) throws Exception {
        Path src = pack.directory();
        Path copy = dir.resolve("pack");
        try (Stream<Path> files = Files.walk(src)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path to = copy.resolve(src.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(f, to);
                }
            }
        }
        Path npy = copy.resolve("null_embedding.npy");
        byte[] bytes = Files.readAllBytes(npy);
        int header = 10 + ((bytes[8] & 0xff) | (bytes[9] & 0xff) << 8);
        ByteBuffer data = ByteBuffer.wrap(bytes, header, bytes.length - header)
                .order(ByteOrder.LITTLE_ENDIAN);
        while (data.remaining() >= 4) {
            data.putFloat(value);
        }
        String oldHash = sha256(Files.readAllBytes(src.resolve("null_embedding.npy")));
        Files.write(npy, bytes);
        Path manifest = copy.resolve("manifest.json");
        Files.writeString(manifest, Files.readString(manifest).replace(oldHash, sha256(bytes)));
        return copy;
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
