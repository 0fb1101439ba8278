import java.security.MessageDigest;
import java.util.Random;

/**
 * SHA-256 throughput of this JVM, the cost sora4j pays per byte of every block it loads with hash
 * checks on (docs/model-pack.md, "Threat model"). Run: {@code java benchmarks/Sha256Throughput.java}.
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
    }
}
