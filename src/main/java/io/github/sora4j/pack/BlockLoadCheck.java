package io.github.sora4j.pack;

/**
 * How the bytes of a block are checked each time the block is loaded ({@link
 * ModelPack#readBlock}, {@link ModelPack#loadCheck}). Whatever the check, the file is read once,
 * the check runs over those bytes in the same pass, and libtorch loads exactly those bytes; the
 * role tag and the TorchScript allowlist are checked on every load too.
 */
public enum BlockLoadCheck {
    /**
     * Hash checks are off ({@link PackTrust#withoutHashes()}): the size only.
     */
    SIZE,
    /**
     * SHA-256 of the bytes loaded against the manifest: used when users other than this one (and
     * root) could change the file, where the write protection cannot be read, and with {@link
     * PackTrust#withHashOnEveryLoad()}.
     */
    SHA256,
    /**
     * CRC32C of the bytes loaded against the CRC32C of the bytes whose SHA-256 was checked when
     * the pack was opened (computed in the same pass). Used when only this user and root can
     * change the file and its directories (owners and modes checked on every load): both
     * already control the process, so what remains to catch is an accidental change, which a
     * CRC32C does at memory speed.
     */
    CRC32C
}
