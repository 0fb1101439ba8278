package io.github.sora4j.pack;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Base64;
import java.util.List;

/**
 * Checks a pack's publisher signature: {@code manifest.json.sig} holds the Base64 Ed25519
 * signature of the exact bytes of {@code manifest.json} (written by {@code python3 -m
 * sora4j_export.trust sign}).
 */
final class PackSignature {
    private PackSignature() {}

    /**
     * Verifies the signature of the manifest bytes that will be parsed.
     *
     * @param dir the pack directory
     * @param manifest the bytes of {@code manifest.json} as read
     * @param keys trusted keys, one of which must have signed
     * @throws ModelPackException if there is no signature or none of the keys made it
     */
    static void verify(Path dir, byte[] manifest, List<PublicKey> keys) {
        Path file = dir.resolve(ModelPack.SIGNATURE);
        if (!Files.isRegularFile(file)) {
            throw new ModelPackException("model pack " + dir + " is not signed (no "
                    + ModelPack.SIGNATURE + ") but a publisher signature is required; sign it"
                    + " with python3 -m sora4j_export.trust sign DIR KEY.pem or open it without"
                    + " PackTrust.signedBy");
        }
        byte[] sig;
        try {
            String text = new String(ModelPack.readAll(PackPaths.resolveExisting(dir,
                    ModelPack.SIGNATURE, ModelPack.SIGNATURE)), StandardCharsets.US_ASCII);
            sig = Base64.getDecoder().decode(text.strip());
        } catch (IllegalArgumentException e) {
            throw new ModelPackException(file + " is not a Base64 signature: " + e.getMessage(),
                    e);
        }
        for (PublicKey key : keys) {
            try {
                Signature s = Signature.getInstance("Ed25519");
                s.initVerify(key);
                s.update(manifest);
                if (s.verify(sig)) {
                    return;
                }
            } catch (GeneralSecurityException e) {
                // a malformed signature counts as not made by this key
            }
        }
        throw new ModelPackException("the signature " + file + " of model pack " + dir
                + " was not made by " + (keys.size() == 1 ? "the trusted key" : "any of the "
                + keys.size() + " trusted keys") + ": the manifest was changed after signing, or"
                + " the pack comes from another publisher");
    }
}
