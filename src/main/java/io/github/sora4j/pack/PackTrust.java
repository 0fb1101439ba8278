package io.github.sora4j.pack;

import io.github.sora4j.InvalidConfigurationException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.List;

/**
 * What {@link ModelPack#open(Path, PackTrust)} requires of a pack directory before it is used.
 *
 * <p>A pack's blocks are TorchScript archives, i.e. code that libtorch compiles and runs. Whatever
 * the trust settings, sora4j checks every block's code against an allowlist of operators before
 * libtorch sees it (docs/model-pack.md, "Threat model"). On top of that:
 *
 * <ul>
 *   <li>{@link #defaults()}: every file's SHA-256 is checked against the manifest at open, and
 *       the bytes each block is loaded from are checked again ({@link BlockLoadCheck}): with
 *       SHA-256 if users other than this one and root could change the file, else with a
 *       CRC32C against the bytes verified at open;
 *   <li>{@link #withHashOnEveryLoad()}: SHA-256 on every load whoever can write the files
 *       (e.g. a network file system whose permissions do not say who can write);
 *   <li>{@link #signedBy(PublicKey...)}: in addition, {@code manifest.json.sig} must be a valid
 *       Ed25519 signature of {@code manifest.json} by one of the keys (the publisher's); since
 *       the manifest lists every file's SHA-256, this covers the whole pack;
 *   <li>{@link #withoutHashes()}: sizes only, no SHA-256 (faster for huge packs on trusted
 *       storage); the choice is logged as a warning when the pack opens.
 * </ul>
 *
 * @param verifyHashes whether SHA-256 values are checked (at open, and the loaded bytes on every
 *     load)
 * @param trustedKeys Ed25519 public keys of which one must have signed the manifest; empty: no
 *     signature required
 * @param hashEveryLoad whether every load is SHA-256 checked even when only this user and root
 *     can change the pack's files ({@link BlockLoadCheck#SHA256})
 */
public record PackTrust(boolean verifyHashes, List<PublicKey> trustedKeys,
        boolean hashEveryLoad) {

    /**
     * Validates the combination.
     *
     * @param verifyHashes whether SHA-256 values are checked (at open and on every load)
     * @param trustedKeys Ed25519 public keys of which one must have signed the manifest; empty:
     *     no signature required
     * @param hashEveryLoad whether every load is SHA-256 checked whoever can write the files
     * @throws InvalidConfigurationException if a signature is required without hash checks (the
     *     signature covers the files only through their hashes), or SHA-256 on every load without
     *     hash checks, or a key is not Ed25519
     */
    public PackTrust {
        if (!verifyHashes && hashEveryLoad) {
            throw new InvalidConfigurationException("SHA-256 on every load needs hash checks"
                    + " (verifyHashes false, hashEveryLoad true)");
        }
        trustedKeys = trustedKeys == null ? List.of() : List.copyOf(trustedKeys);
        if (!verifyHashes && !trustedKeys.isEmpty()) {
            throw new InvalidConfigurationException("a signed pack must be opened with SHA-256"
                    + " checks: the signature covers the files only through their hashes");
        }
        for (PublicKey k : trustedKeys) {
            if (!k.getAlgorithm().equals("Ed25519") && !k.getAlgorithm().equals("EdDSA")) {
                throw new InvalidConfigurationException("trusted keys must be Ed25519 but one is "
                        + k.getAlgorithm());
            }
        }
    }

    /**
     * Trust settings with the load check chosen from who can write the files (see {@link
     * BlockLoadCheck}).
     *
     * @param verifyHashes whether SHA-256 values are checked (at open and on every load)
     * @param trustedKeys Ed25519 public keys of which one must have signed the manifest
     */
    public PackTrust(boolean verifyHashes, List<PublicKey> trustedKeys) {
        this(verifyHashes, trustedKeys, false);
    }

    /**
     * These settings, with every block load SHA-256 checked whoever can write the pack's files.
     *
     * @return the settings with {@code hashEveryLoad} on
     */
    public PackTrust withHashOnEveryLoad() {
        return new PackTrust(verifyHashes, trustedKeys, true);
    }

    /**
     * SHA-256 checks, no signature required: what {@link ModelPack#open(Path)} uses.
     *
     * @return the default trust settings
     */
    public static PackTrust defaults() {
        return new PackTrust(true, List.of());
    }

    /**
     * No SHA-256 checks (sizes, the manifest checks and the TorchScript allowlist still apply).
     *
     * @return trust settings without hashing
     */
    public static PackTrust withoutHashes() {
        return new PackTrust(false, List.of());
    }

    /**
     * SHA-256 checks and a valid publisher signature by one of the keys.
     *
     * @param keys the publishers' Ed25519 public keys (at least one)
     * @return trust settings that require a signature
     * @throws InvalidConfigurationException if no key is given
     */
    public static PackTrust signedBy(PublicKey... keys) {
        if (keys.length == 0) {
            throw new InvalidConfigurationException("signedBy needs at least one public key");
        }
        return new PackTrust(true, List.of(keys));
    }

    /**
     * Reads an Ed25519 public key written by {@code python3 -m sora4j_export.trust keygen} (PEM
     * {@code PUBLIC KEY}, X.509 SubjectPublicKeyInfo).
     *
     * @param pem the key file
     * @return the key
     * @throws ModelPackException if the file cannot be read or is not an Ed25519 public key
     */
    public static PublicKey readPublicKey(Path pem) {
        try {
            String text = Files.readString(pem, StandardCharsets.US_ASCII);
            int begin = text.indexOf("-----BEGIN PUBLIC KEY-----");
            int end = text.indexOf("-----END PUBLIC KEY-----");
            if (begin < 0 || end < begin) {
                throw new ModelPackException("not a PEM public key (BEGIN PUBLIC KEY): " + pem);
            }
            byte[] der = Base64.getMimeDecoder().decode(
                    text.substring(begin + "-----BEGIN PUBLIC KEY-----".length(), end));
            return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(der));
        } catch (IOException | GeneralSecurityException | IllegalArgumentException e) {
            throw new ModelPackException("cannot read the Ed25519 public key " + pem + ": "
                    + e.getMessage(), e);
        }
    }
}
