package io.github.sora4j.pack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Publisher signatures: Ed25519 over manifest.json, required only when the caller asks. */
class PackSignatureTest {
    /** The test key's signature of "sora4j signature test vector". */
    static final String VECTOR = "NG51X69i47e3UaxU7S9ak9OZVGBhNH3MRwMyGc8DQADDG+IfacpDu877Psy2S2m8"
            + "FtHQCHotqPwSO8C8njsiDQ==";

    @TempDir Path tmp;
    private PackCopy pack;
    private PublicKey publicKey;
    private PrivateKey privateKey;

    @BeforeEach
    void copyTheDemoPack() throws Exception {
        pack = PackCopy.of("demo", tmp.resolve("pack"));
        Path pub = tmp.resolve("pub.pem");
        try (var in = getClass().getResourceAsStream("/signing/test-key.pub.pem")) {
            Files.write(pub, in.readAllBytes());
        }
        publicKey = PackTrust.readPublicKey(pub);
        privateKey = privateKey();
    }

    private static PrivateKey privateKey() throws IOException, GeneralSecurityException {
        try (var in = PackSignatureTest.class.getResourceAsStream("/signing/test-key.pem")) {
            String pem = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
            String b64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
            return KeyFactory.getInstance("Ed25519").generatePrivate(
                    new PKCS8EncodedKeySpec(Base64.getDecoder().decode(b64)));
        }
    }

    private void sign(PrivateKey key) throws Exception {
        Signature s = Signature.getInstance("Ed25519");
        s.initSign(key);
        s.update(Files.readAllBytes(pack.dir.resolve("manifest.json")));
        Files.writeString(pack.dir.resolve("manifest.json.sig"),
                Base64.getEncoder().encodeToString(s.sign()) + "\n");
    }

    @Test
    void javaSignsExactlyAsThePythonExporterDoes() throws Exception {
        Signature s = Signature.getInstance("Ed25519");
        s.initSign(privateKey);
        s.update("sora4j signature test vector".getBytes(StandardCharsets.UTF_8));
        assertThat(Base64.getEncoder().encodeToString(s.sign())).isEqualTo(VECTOR);
    }

    @Test
    void aPackSignedByATrustedKeyOpens() throws Exception {
        sign(privateKey);
        ModelPack p = ModelPack.open(pack.dir, PackTrust.signedBy(publicKey));
        assertThat(p.manifest().name()).isEqualTo("demo");
        assertThat(p.verifiesHashes()).isTrue();
    }

    @Test
    void anUnsignedPackIsRefusedWhenASignatureIsRequired() {
        assertThatThrownBy(() -> ModelPack.open(pack.dir, PackTrust.signedBy(publicKey)))
                .isInstanceOf(ModelPackException.class)
                .hasMessageStartingWith("model pack " + pack.dir.toAbsolutePath() + " is not"
                        + " signed (no manifest.json.sig) but a publisher signature is required");
        // Without the requirement the same pack opens: signatures are optional.
        assertThat(ModelPack.open(pack.dir).manifest().name()).isEqualTo("demo");
    }

    @Test
    void aManifestChangedAfterSigningIsRefused() throws Exception {
        sign(privateKey);
        pack.editManifest(m -> m.getAsJsonObject("sampling").addProperty("steps", 10));
        assertThatThrownBy(() -> ModelPack.open(pack.dir, PackTrust.signedBy(publicKey)))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("was not made by the trusted key: the manifest was changed"
                        + " after signing, or the pack comes from another publisher");
    }

    @Test
    void aPackSignedByAnotherKeyIsRefused() throws Exception {
        sign(KeyPairGenerator.getInstance("Ed25519").generateKeyPair().getPrivate());
        assertThatThrownBy(() -> ModelPack.open(pack.dir, PackTrust.signedBy(publicKey)))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("was not made by the trusted key");
    }

    @Test
    void aBlockChangedAfterSigningFailsItsHash() throws Exception {
        sign(privateKey);
        Path block = pack.dir.resolve("vae/spatial_01.pt");
        byte[] data = Files.readAllBytes(block);
        data[data.length - 100] ^= 1;
        Files.write(block, data);
        assertThatThrownBy(() -> ModelPack.open(pack.dir, PackTrust.signedBy(publicKey)))
                .isInstanceOf(ModelPackException.class)
                .hasMessageStartingWith("sha256 mismatch for " + block);
    }

    @Test
    void aSignatureWithoutHashChecksIsAContradiction() {
        assertThatThrownBy(() -> new PackTrust(false, java.util.List.of(publicKey)))
                .isInstanceOf(io.github.sora4j.InvalidConfigurationException.class)
                .hasMessageContaining("a signed pack must be opened with SHA-256 checks");
    }

    @Test
    void aFileThatIsNotAPublicKeyIsNamed() throws IOException {
        Path notAKey = Files.writeString(tmp.resolve("x.pem"), "hello");
        assertThatThrownBy(() -> PackTrust.readPublicKey(notAKey))
                .isInstanceOf(ModelPackException.class)
                .hasMessageContaining("not a PEM public key (BEGIN PUBLIC KEY): " + notAKey);
    }
}
