package io.github.sora4j.pack;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Random;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * Makes a block file as large as a real one: its TorchScript archive rewritten with one more
 * stored entry of random bytes under {@code data/} (where libtorch keeps tensor storages), so the
 * pack's checks (size, hash, zip directory, allowlist, role tag) see a block of that size.
 */
final class PaddedBlock {
    private PaddedBlock() {}

    /** Pads {@code file} of the pack with {@code padBytes} random bytes and rehashes it. */
    static void pad(PackCopy pack, String file, int padBytes, long seed) throws IOException {
        byte[] original = Files.readAllBytes(pack.dir.resolve(file));
        ByteArrayOutputStream out = new ByteArrayOutputStream(original.length + padBytes + 4096);
        String root = null;
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(original));
                ZipOutputStream zip = new ZipOutputStream(out)) {
            for (ZipEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
                if (root == null) {
                    root = e.getName().substring(0, e.getName().indexOf('/'));
                }
                put(zip, e.getName(), in.readAllBytes());
            }
            byte[] pad = new byte[padBytes];
            new Random(seed).nextBytes(pad);
            put(zip, root + "/data/sora4j-padding", pad);
        }
        pack.replace(file, out.toByteArray());
    }

    private static void put(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        e.setCrc(crc.getValue());
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }

    /** Makes every file of the pack 0644 and every directory 0755: writable by the owner only. */
    static void ownerOnlyWrites(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(
                        Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
    }
}
