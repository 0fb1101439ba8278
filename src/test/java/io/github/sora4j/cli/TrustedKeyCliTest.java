package io.github.sora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import io.github.sora4j.testing.PackDirs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code generate --trusted-key PEM} requires a signed pack before anything runs. */
class TrustedKeyCliTest {
    @TempDir Path tmp;

    private Path copyOfTinyPack() throws IOException {
        return PackDirs.copyEmbedded("tiny-random", tmp.resolve("pack"));
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
