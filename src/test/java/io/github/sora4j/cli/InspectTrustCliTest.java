package io.github.sora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.HexFormat;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.testing.PackDirs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code inspect} runs the checks a load runs (allowlist, role tags) and, with {@code
 * --trusted-key}, the signature, and says how loads will be checked; {@code plan --trusted-key}
 * refuses a manifest the key did not sign.
 */
class InspectTrustCliTest {
    @TempDir Path tmp;

    private Path copyOfDemoPack() throws IOException {
        return PackDirs.copyEmbedded("demo", tmp.resolve("pack"));
    }

    private Path resource(String name, String as) throws IOException {
        Path file = tmp.resolve(as);
        try (InputStream in = getClass().getResourceAsStream(name)) {
            Files.write(file, in.readAllBytes());
        }
        return file;
    }

    /** Replaces a file and records its size and sha256 in the manifest, as an attacker would. */
    private static void replaceAndRehash(Path pack, String file, byte[] data) throws Exception {
        byte[] old = Files.readAllBytes(pack.resolve(file));
        Files.write(pack.resolve(file), data);
        String hex = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(old));
        String newHex = HexFormat.of().formatHex(
                MessageDigest.getInstance("SHA-256").digest(data));
        Path manifest = pack.resolve("manifest.json");
        String json = Files.readString(manifest);
        int at = json.indexOf(hex);
        int bytesAt = json.lastIndexOf("\"bytes\": " + old.length, at);
        assertThat(at).isPositive();
        assertThat(bytesAt).isPositive();
        json = json.substring(0, bytesAt) + "\"bytes\": " + data.length
                + json.substring(bytesAt + ("\"bytes\": " + old.length).length()).replace(hex,
                        newHex);
        Files.writeString(manifest, json, StandardCharsets.UTF_8);
    }

    private void sign(Path pack) throws Exception {
        String pem = new String(getClass().getResourceAsStream("/signing/test-key.pem")
                .readAllBytes(), StandardCharsets.US_ASCII);
        PrivateKey key = KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(
                Base64.getDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", "")
                        .replaceAll("\\s", ""))));
        Signature s = Signature.getInstance("Ed25519");
        s.initSign(key);
        s.update(Files.readAllBytes(pack.resolve("manifest.json")));
        Files.writeString(pack.resolve("manifest.json.sig"),
                Base64.getEncoder().encodeToString(s.sign()) + "\n");
    }

    @Test
    void inspectReportsTheCodeCheckTheSignatureAndHowLoadsAreChecked() throws Exception {
        Path pack = copyOfDemoPack();
        int blocks = ModelPack.readManifest(pack).blocks().size();
        Sora4jCliTest.Run r = Sora4jCliTest.cli("inspect", pack.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("integrity    OK (sizes and sha256 of ",
                "code         OK (" + blocks + " blocks: every TorchScript operator on the allowlist; role"
                        + " tags match the manifest)",
                "signature    none (unsigned: --trusted-key would refuse the pack)",
                "loads        ");
        Files.setPosixFilePermissions(pack.resolve("stdit/block_01.pt"),
                PosixFilePermissions.fromString("rw-rw-rw-"));
        Sora4jCliTest.Run open = Sora4jCliTest.cli("inspect", pack.toString());
        assertThat(open.out()).contains("loads        SHA-256 of every load ("
                + pack.resolve("stdit/block_01.pt").toRealPath()
                + " is writable by its group or others (mode 666))");
    }

    @Test
    void inspectNamesABlockWhoseCodeUsesARefusedOperatorAndFails() throws Exception {
        Path pack = copyOfDemoPack();
        byte[] hostile;
        try (InputStream in = getClass().getResourceAsStream("/hostile/from_file.pt")) {
            hostile = in.readAllBytes();
        }
        replaceAndRehash(pack, "t5/final_norm.pt", hostile);
        int blocks = ModelPack.readManifest(pack).blocks().size();
        Sora4jCliTest.Run r = Sora4jCliTest.cli("inspect", pack.toString());
        assertThat(r.exitCode()).isEqualTo(1);
        // The hashes match (the attacker rehashed): only the code check sees it.
        assertThat(r.out()).contains("integrity    OK", "code         FAILED: 1 of " + blocks + " blocks",
                "block t5.final_norm (", "uses the TorchScript operator torch.from_file");
        Sora4jCliTest.Run sizes = Sora4jCliTest.cli("inspect", "--no-verify", pack.toString());
        assertThat(sizes.exitCode()).isEqualTo(1);
        assertThat(sizes.out()).contains("code         FAILED: 1 of " + blocks + " blocks");
    }

    @Test
    void inspectAndPlanCheckTheSignatureWithTrustedKey() throws Exception {
        Path pack = copyOfDemoPack();
        Path key = resource("/signing/test-key.pub.pem", "key.pub.pem");
        Sora4jCliTest.Run unsigned = Sora4jCliTest.cli("inspect", "--trusted-key",
                key.toString(), pack.toString());
        assertThat(unsigned.exitCode()).isNotZero();
        assertThat(unsigned.err()).contains("is not signed (no manifest.json.sig) but a"
                + " publisher signature is required");
        assertThat(unsigned.out()).doesNotContain("pack         ");
        Sora4jCliTest.Run planUnsigned = Sora4jCliTest.cli("plan", "--pack", pack.toString(),
                "--trusted-key", key.toString());
        assertThat(planUnsigned.exitCode()).isNotZero();
        assertThat(planUnsigned.err()).contains("is not signed (no manifest.json.sig)");

        sign(pack);
        Sora4jCliTest.Run signed = Sora4jCliTest.cli("inspect", "--trusted-key", key.toString(),
                pack.toString());
        assertThat(signed.exitCode()).as(signed.err()).isZero();
        assertThat(signed.out()).contains("signature    OK (manifest.json.sig made by a"
                + " --trusted-key)");
        assertThat(Sora4jCliTest.cli("inspect", pack.toString()).out()).contains(
                "signature    present, not checked (give the publisher's key: --trusted-key PEM)");
        Sora4jCliTest.Run plan = Sora4jCliTest.cli("plan", "--pack", pack.toString(),
                "--trusted-key", key.toString());
        assertThat(plan.exitCode()).as(plan.err()).isZero();

        // A manifest changed after signing: plan refuses it although it reads nothing else.
        Path manifest = pack.resolve("manifest.json");
        Files.writeString(manifest, Files.readString(manifest).replace("\"steps\": ",
                "\"steps\":  "));
        Sora4jCliTest.Run tampered = Sora4jCliTest.cli("plan", "--pack", pack.toString(),
                "--trusted-key", key.toString());
        assertThat(tampered.exitCode()).isNotZero();
        assertThat(tampered.err()).contains("was not made by the trusted key");
    }

    @Test
    void trustedKeyWithABuiltInPackIsAUsageError() throws Exception {
        Path key = resource("/signing/test-key.pub.pem", "key.pub.pem");
        for (String command : new String[] {"inspect", "plan"}) {
            Sora4jCliTest.Run r = command.equals("inspect")
                    ? Sora4jCliTest.cli("inspect", "--trusted-key", key.toString(), "demo")
                    : Sora4jCliTest.cli("plan", "--trusted-key", key.toString());
            assertThat(r.exitCode()).as(command).isEqualTo(2);
            assertThat(r.err()).as(command).contains("--trusted-key needs");
        }
    }
}
