import java.security.MessageDigest;
import java.util.Random;
import java.util.zip.CRC32C;

/**
 * SHA-256 and CRC32C throughput of this JVM: the per-byte cost of the checks sora4j runs on every
 * block it loads (SHA-256 where others could change the pack's files, else a CRC32C against the
 * bytes verified at open; docs/model-pack.md, "Threat model"). Run: {@code java
 * benchmarks/Sha256Throughput.java}.
 */
public class Sha256Throughput {
    public static void main(String[] args) throws Exception {
        byte[] b = new byte[256 << 20];
        new Random(1).nextBytes(b);
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.digest(b); // warm-up
        long t = System.nanoTime();
        for (int i = 0; i < 4; i++) {
            md.digest(b);
        }
        double s = (System.nanoTime() - t) / 1e9;
        System.out.printf("SHA-256: %.0f MB/s (4 x 256 MiB)%n", 4 * 256 * 1.048576 / s);
        CRC32C crc = new CRC32C();
        crc.update(b, 0, b.length); // warm-up
        t = System.nanoTime();
        for (int i = 0; i < 4; i++) {
            crc.reset();
            crc.update(b, 0, b.length);
        }
        s = (System.nanoTime() - t) / 1e9;
        System.out.printf("CRC32C:  %.0f MB/s (4 x 256 MiB)%n", 4 * 256 * 1.048576 / s);
    }
}
