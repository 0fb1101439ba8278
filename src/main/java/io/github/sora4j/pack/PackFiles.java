package io.github.sora4j.pack;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.CRC32C;
import java.util.zip.Checksum;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a pack's files and checks their bytes in the same pass as the read: size, SHA-256 against
 * the manifest, and for blocks loaded after the pack was opened the {@link BlockLoadCheck} chosen
 * from who can write the file. Paths are resolved inside the pack ({@link PackPaths}) on every
 * read.
 */
final class PackFiles {
    /** The largest file sora4j reads (it is read into one array to be checked). */
    static final long MAX_FILE_BYTES = Integer.MAX_VALUE - 64;
    /**
     * Bytes read per system call: the check of a chunk runs while it is in the CPU cache, and the
     * JDK's temporary direct buffer for a read into the heap stays this small (a whole-file read
     * would allocate, and cache per thread, a native buffer as large as the block).
     */
    static final int CHUNK = 4 << 20;

    private static final Logger LOG = LoggerFactory.getLogger(PackFiles.class);

    private final Path directory;
    private final String packName;
    private final boolean verifyHashes;
    private final boolean hashEveryLoad;
    /** CRC32C of each block's bytes whose SHA-256 was checked at open, by block name. */
    private final Map<String, Long> verifiedCrc = new ConcurrentHashMap<>();
    private final AtomicBoolean loggedLoadCheck = new AtomicBoolean();

    PackFiles(Path directory, String packName, boolean verifyHashes, boolean hashEveryLoad) {
        this.directory = directory;
        this.packName = packName;
        this.verifyHashes = verifyHashes;
        this.hashEveryLoad = hashEveryLoad;
    }

    /** At open: the block's bytes, SHA-256 checked (with hashes on; else its size only). */
    byte[] readAtOpen(BlockInfo b) {
        if (!verifyHashes) {
            checkSize(b.file(), b.bytes());
            return null;
        }
        MessageDigest sha = sha256Digest();
        CRC32C crc = new CRC32C();
        byte[] data = read(resolve(b.file()), b.file(), b.bytes(), sha, crc);
        checkHash(b.file(), b.sha256(), sha);
        verifiedCrc.put(b.name(), crc.getValue());
        return data;
    }

    /** A block's bytes for a load, checked as {@link #loadCheck} says. */
    byte[] readForLoad(BlockInfo block) {
        Path file = resolve(block.file());
        switch (loadCheck(block, file)) {
            case SHA256 -> {
                MessageDigest sha = sha256Digest();
                byte[] data = read(file, block.file(), block.bytes(), sha, null);
                checkHash(block.file(), block.sha256(), sha);
                return data;
            }
            case CRC32C -> {
                CRC32C crc = new CRC32C();
                byte[] data = read(file, block.file(), block.bytes(), null, crc);
                long expected = verifiedCrc.get(block.name());
                if (crc.getValue() != expected) {
                    throw new ModelPackException("model pack file " + directory.resolve(
                            block.file()) + " changed after the pack was opened: the CRC32C of"
                            + " the bytes read is " + Long.toHexString(crc.getValue()) + ", of"
                            + " the bytes whose SHA-256 was checked " + Long.toHexString(expected)
                            + "; the block was not loaded (open the pack again)");
                }
                return data;
            }
            default -> {
                return read(file, block.file(), block.bytes(), null, null);
            }
        }
    }

    /** A non-block file's bytes, SHA-256 checked with hashes on. */
    byte[] readFile(PackFile f) {
        MessageDigest sha = verifyHashes ? sha256Digest() : null;
        byte[] data = read(resolve(f.file()), f.file(), f.bytes(), sha, null);
        if (sha != null) {
            checkHash(f.file(), f.sha256(), sha);
        }
        return data;
    }

    /** At open: a non-block file's SHA-256 (with hashes on; else its size only). */
    void checkAtOpen(PackFile f) {
        if (verifyHashes) {
            readFile(f);
        } else {
            checkSize(f.file(), f.bytes());
        }
    }

    BlockLoadCheck loadCheck(BlockInfo block, Path realFile) {
        if (!verifyHashes) {
            return BlockLoadCheck.SIZE;
        }
        if (hashEveryLoad || !verifiedCrc.containsKey(block.name())) {
            return BlockLoadCheck.SHA256;
        }
        String others = WriteProtection.othersCanWrite(realFile);
        if (others == null) {
            if (loggedLoadCheck.compareAndSet(false, true)) {
                LOG.debug("blocks of model pack {} can be changed only by this user and root:"
                        + " each load is checked with a CRC32C against the bytes verified at"
                        + " open", packName);
            }
            return BlockLoadCheck.CRC32C;
        }
        if (loggedLoadCheck.compareAndSet(false, true)) {
            LOG.info("blocks of model pack {} are SHA-256 checked on every load because {};"
                    + " loads are cheaper when only you (and root) can write the pack and its"
                    + " directories (docs/model-pack.md, Threat model)", packName, others);
        }
        return BlockLoadCheck.SHA256;
    }

    Path resolve(String relative) {
        return PackPaths.resolveExisting(directory, relative, relative);
    }

    /**
     * Reads a file into one array in chunks of {@link #CHUNK} bytes, feeding each chunk to the
     * digest and the checksum (either may be null) right after it is read: one pass over the
     * bytes, no second read.
     */
    private byte[] read(Path file, String relative, long expected, MessageDigest sha,
            Checksum crc) {
        if (expected > MAX_FILE_BYTES) {
            throw new ModelPackException("model pack file " + directory.resolve(relative)
                    + " has " + expected + " bytes; sora4j loads files of at most "
                    + MAX_FILE_BYTES + " bytes (re-export with smaller blocks)");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size != expected) {
                throw sizeMismatch(relative, size, expected);
            }
            byte[] data = new byte[(int) size];
            ByteBuffer buf = ByteBuffer.wrap(data);
            int done = 0;
            while (done < data.length) {
                int end = (int) Math.min(data.length, (long) done + CHUNK);
                buf.limit(end);
                while (buf.position() < end) {
                    if (ch.read(buf) < 0) {
                        throw sizeMismatch(relative, buf.position(), expected);
                    }
                }
                if (sha != null) {
                    sha.update(data, done, end - done);
                }
                if (crc != null) {
                    crc.update(data, done, end - done);
                }
                done = end;
            }
            return data;
        } catch (IOException e) {
            throw new ModelPackException("cannot read model pack file "
                    + directory.resolve(relative) + ": " + e.getMessage(), e);
        }
    }

    private void checkSize(String relative, long expected) {
        Path file = resolve(relative);
        try {
            long size = Files.size(file);
            if (size != expected) {
                throw sizeMismatch(relative, size, expected);
            }
        } catch (IOException e) {
            throw new ModelPackException("cannot read model pack file "
                    + directory.resolve(relative) + ": " + e.getMessage(), e);
        }
    }

    private ModelPackException sizeMismatch(String relative, long size, long expected) {
        return new ModelPackException("model pack file " + directory.resolve(relative) + " has "
                + size + " bytes, the manifest says " + expected + " (truncated or replaced)");
    }

    private void checkHash(String relative, String expected, MessageDigest sha) {
        String actual = HexFormat.of().formatHex(sha.digest());
        if (!actual.equals(expected)) {
            throw new ModelPackException("sha256 mismatch for " + directory.resolve(relative)
                    + ": expected " + expected + ", found " + actual);
        }
    }

    static MessageDigest sha256Digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new io.github.sora4j.Sora4jException("SHA-256 is required by every JVM", e);
        }
    }
}
