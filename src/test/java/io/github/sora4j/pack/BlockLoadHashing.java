package io.github.sora4j.pack;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.LocalDate;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Measures what checking a block's bytes costs on every load ({@link ModelPack#readBlock}), on a
 * demo-pack copy whose {@code stdit/block_01.pt} is padded to a real block's size (default 384
 * MiB; {@link PaddedBlock}), with the file in the page cache (so the figures are the CPU cost, not
 * the storage's). For each way, the median of 5 interleaved loads:
 *
 * <ul>
 *   <li>{@code size only}: the read and the archive checks (allowlist, tag) without a hash, the
 *       floor every way pays;
 *   <li>{@code before}: session 3's way, the whole file read into the heap, then SHA-256 over the
 *       array in a second pass;
 *   <li>{@code SHA-256 one pass}: {@link BlockLoadCheck#SHA256}, each chunk hashed as it is read;
 *   <li>{@code CRC32C}: {@link BlockLoadCheck#CRC32C}, the check of a pack only this user and
 *       root can write.
 * </ul>
 *
 * <p>The per-step figure multiplies the cost over the floor by the 4.83 GB of STDiT3-XL blocks a
 * streaming loader reads per denoising step (docs/model-pack.md). Run with {@code MAVEN_OPTS=-Xmx3g
 * mvn -B -o -q test-compile exec:java -Dexec.mainClass=io.github.sora4j.pack.BlockLoadHashing
 * -Dexec.classpathScope=test [-Dexec.args=MIB]}; docs/model-pack.md quotes its output.
 */
public final class BlockLoadHashing {
    private static final String FILE = "stdit/block_01.pt";
    private static final double STEP_BYTES = 4.83e9;
    private static final int RUNS = 5;

    private BlockLoadHashing() {}

    /**
     * Runs the measurement.
     *
     * @param args optional block size in MiB (default 384)
     * @throws IOException if the temporary pack cannot be written
     */
    public static void main(String[] args) throws IOException {
        int mib = args.length > 0 ? Integer.parseInt(args[0]) : 384;
        Path tmp = Files.createTempDirectory("sora4j-hashing-");
        try {
            PackCopy pack = PackCopy.of("demo", tmp.resolve("pack"));
            PaddedBlock.pad(pack, FILE, mib << 20, 7);
            PaddedBlock.ownerOnlyWrites(pack.dir);
            ModelPack crc = ModelPack.open(pack.dir);
            ModelPack sha = ModelPack.open(pack.dir, PackTrust.defaults().withHashOnEveryLoad());
            ModelPack size = ModelPack.open(pack.dir, PackTrust.withoutHashes());
            BlockInfo block = crc.manifest().blocks().stream()
                    .filter(b -> b.file().equals(FILE)).findFirst().orElseThrow();
            if (crc.loadCheck(block) != BlockLoadCheck.CRC32C) {
                throw new IllegalStateException("the padded pack is not write-protected here: "
                        + WriteProtection.othersCanWrite(pack.dir.resolve(FILE).toRealPath()));
            }
            Path file = pack.dir.resolve(FILE);
            long bytes = Files.size(file);
            String[] names = {"size only", "before (read, then SHA-256)", "SHA-256 one pass",
                "CRC32C"};
            double[][] ms = new double[names.length][RUNS];
            for (int run = -1; run < RUNS; run++) { // run -1 warms up
                for (int way = 0; way < names.length; way++) {
                    long t = System.nanoTime();
                    byte[] data = switch (way) {
                        case 0 -> size.readBlock(block);
                        case 1 -> before(block, file);
                        case 2 -> sha.readBlock(block);
                        default -> crc.readBlock(block);
                    };
                    double elapsed = (System.nanoTime() - t) / 1e6;
                    if (data.length != bytes) {
                        throw new IllegalStateException("read " + data.length + " of " + bytes);
                    }
                    if (run >= 0) {
                        ms[way][run] = elapsed;
                    }
                }
            }
            System.out.printf(Locale.ROOT, "%s, block of %d bytes (%d MiB padding), median of %d"
                    + " loads, page cache:%n", LocalDate.now(), bytes, mib, RUNS);
            double floor = median(ms[0]);
            for (int way = 0; way < names.length; way++) {
                double m = median(ms[way]);
                double over = (m - floor) / 1e3 / bytes * STEP_BYTES;
                System.out.printf(Locale.ROOT, "  %-28s %8.1f ms  %6.0f MB/s  check over the"
                        + " floor: %+5.2f s per STDiT3-XL step (4.83 GB)%n", names[way], m,
                        bytes / 1e3 / m, over);
            }
        } finally {
            try (Stream<Path> walk = Files.walk(tmp)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** Session 3's load check: the whole file into the heap, SHA-256 over it, the archive checks. */
    private static byte[] before(BlockInfo block, Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate((int) ch.size());
            while (buf.hasRemaining()) {
                if (ch.read(buf) < 0) {
                    throw new IOException("short read");
                }
            }
            byte[] data = buf.array();
            String hex = java.util.HexFormat.of().formatHex(
                    MessageDigest.getInstance("SHA-256").digest(data));
            if (!hex.equals(block.sha256())) {
                throw new IllegalStateException("sha256 mismatch");
            }
            BlockArchive.check(block, file.toString(), data);
            return data;
        } catch (IOException | java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
