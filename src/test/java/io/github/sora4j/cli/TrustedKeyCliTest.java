package io.github.sora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.sora4j.pack.ModelPack;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code generate --trusted-key PEM} requires a signed pack before anything runs. */
class TrustedKeyCliTest {
    @TempDir Path tmp;

    private Path copyOfTinyPack() throws IOException {
        Path source = ModelPack.embedded("tiny-random").directory();
        Path copy = tmp.resolve("pack");
        try (Stream<Path> walk = Files.walk(source)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Path t = copy.resolve(source.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
        return copy;
    }

    private Path publicKey() throws IOException {
        Path pem = tmp.resolve("key.pub.pem");
        try (var in = getClass().getResourceAsStream("/signing/test-key.pub.pem")) {
            Files.write(pem, in.readAllBytes());
        }
        return pem;
    }

    @Test
    void anUnsignedPackIsRefusedBeforeAnyWork() throws IOException {
        Path pack = copyOfTinyPack();
        Path out = tmp.resolve("out.mp4");
        Sora4jCliTest.Run r = Sora4jCliTest.cli("generate", "--pack", pack.toString(),
                "--trusted-key", publicKey().toString(), "--prompt", "a red circle",
                "--output", out.toString(), "--frames", "9", "--size", "32x32", "--steps", "2");
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err()).contains("is not signed (no manifest.json.sig) but a publisher"
                + " signature is required");
        assertThat(out).doesNotExist();
    }

    @Test
    void aTrustedKeyWithoutHashChecksIsAUsageError() throws IOException {
        Path pack = copyOfTinyPack();
        Sora4jCliTest.Run r = Sora4jCliTest.cli("generate", "--pack", pack.toString(),
                "--trusted-key", publicKey().toString(), "--no-verify", "--prompt", "a red circle",
                "--output", tmp.resolve("out.mp4").toString());
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err()).contains("--trusted-key needs the SHA-256 checks");
    }
}
