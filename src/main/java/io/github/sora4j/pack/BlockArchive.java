package io.github.sora4j.pack;

import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Locale;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The checks of one block file's bytes before libtorch sees them: the file must be a zip archive
 * (TorchScript's format) that this class can read the way libtorch does (through the central
 * directory), every {@code .py} entry (TorchScript source, compiled by libtorch on load) may use
 * only allowlisted names ({@link TorchScriptScanner}), and the role tag entry {@code
 * <root>/extra/sora4j-block.json}, when present, must name the block the manifest expects.
 */
final class BlockArchive {
    /** Entry, under the archive's root folder, of the exporter's role tag. */
    static final String TAG_ENTRY = "extra/sora4j-block.json";
    private static final int MAX_SOURCE = 16 << 20;
    /** The largest zip directory read (a block has a few hundred entries of short names). */
    private static final long MAX_DIRECTORY = 64 << 20;

    /**
     * The role tag written by the exporter.
     *
     * @param format always {@code sora4j-block}
     * @param version tag version (1)
     * @param name block name
     * @param set block set
     * @param role block role
     * @param order order within the role
     */
    record Tag(String format, int version, String name, String set, String role, int order) {}

    private BlockArchive() {}

    /**
     * Checks a block file's bytes.
     *
     * @param block the manifest entry
     * @param file the file, for messages
     * @param data the bytes that will be handed to libtorch
     * @return the block's tag, or null for a block exported before tags
     * @throws ModelPackException if the archive is unreadable, uses a refused name, or its tag
     *     does not match the manifest
     */
    static Tag check(BlockInfo block, String file, byte[] data) {
        return check(block, file, new ArraySource(data));
    }

    /**
     * Checks a block file on disk without reading it whole: only the zip directory, the {@code
     * .py} entries and the tag are read (for {@code sora4j inspect}, whose memory stays small).
     *
     * @param block the manifest entry
     * @param file the file (its real path inside the pack)
     * @return the block's tag, or null for a block exported before tags
     * @throws ModelPackException as {@link #check(BlockInfo, String, byte[])}, or if the file
     *     cannot be read
     */
    static Tag check(BlockInfo block, Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return check(block, file.toString(), new ChannelSource(ch));
        } catch (IOException | UncheckedIOException e) {
            throw new ModelPackException("cannot read model pack file " + file + ": "
                    + e.getMessage(), e);
        }
    }

    private static Tag check(BlockInfo block, String file, Source src) {
        long length = src.size();
        long eocd = -1;
        int tailLength = (int) Math.min(length, 22 + 65535);
        byte[] tail = src.bytes(length - tailLength, tailLength);
        ByteBuffer t = ByteBuffer.wrap(tail).order(ByteOrder.LITTLE_ENDIAN);
        for (int p = tail.length - 22; p >= 0; p--) {
            if (t.getInt(p) == 0x06054b50) {
                eocd = length - tailLength + p;
                break;
            }
        }
        if (eocd < 0) {
            throw bad(block, file, "not a TorchScript archive (no zip directory)");
        }
        int at0 = (int) (eocd - (length - tailLength));
        int entries = t.getShort(at0 + 10) & 0xffff;
        long cdSize = t.getInt(at0 + 12) & 0xffffffffL;
        long cdOffset = t.getInt(at0 + 16) & 0xffffffffL;
        if (entries == 0xffff || cdOffset == 0xffffffffL) {
            throw bad(block, file, "a zip64 archive, which sora4j blocks never are");
        }
        need(block, file, length, cdOffset, cdSize);
        if (cdSize > MAX_DIRECTORY) {
            throw bad(block, file, "a zip directory of " + cdSize + " bytes");
        }
        byte[] cd = src.bytes(cdOffset, (int) cdSize);
        ByteBuffer b = ByteBuffer.wrap(cd).order(ByteOrder.LITTLE_ENDIAN);
        TorchScriptScanner.Names names = new TorchScriptScanner.Names();
        Tag tag = null;
        long p = 0;
        for (int i = 0; i < entries; i++) {
            need(block, file, cd.length, p, 46);
            int at = (int) p;
            if (b.getInt(at) != 0x02014b50) {
                throw bad(block, file, "a corrupt zip directory");
            }
            int flags = b.getShort(at + 8) & 0xffff;
            int method = b.getShort(at + 10) & 0xffff;
            long csize = b.getInt(at + 20) & 0xffffffffL;
            long usize = b.getInt(at + 24) & 0xffffffffL;
            int nameLen = b.getShort(at + 28) & 0xffff;
            int extraLen = b.getShort(at + 30) & 0xffff;
            int commentLen = b.getShort(at + 32) & 0xffff;
            long local = b.getInt(at + 42) & 0xffffffffL;
            need(block, file, cd.length, at + 46L, nameLen);
            String name = new String(cd, at + 46, nameLen, StandardCharsets.UTF_8);
            p = at + 46L + nameLen + extraLen + commentLen;
            if ((flags & 1) != 0) {
                throw bad(block, file, "an encrypted zip entry " + name);
            }
            String lower = name.toLowerCase(Locale.ROOT);
            boolean source = lower.endsWith(".py");
            boolean isTag = name.indexOf('/') > 0
                    && name.substring(name.indexOf('/') + 1).equals(TAG_ENTRY);
            if (!source && !isTag) {
                continue;
            }
            need(block, file, length, local, 30);
            ByteBuffer h = ByteBuffer.wrap(src.bytes(local, 30)).order(ByteOrder.LITTLE_ENDIAN);
            if (h.getInt(0) != 0x04034b50) {
                throw bad(block, file, "a corrupt zip entry " + name);
            }
            long start = local + 30 + (h.getShort(26) & 0xffff) + (h.getShort(28) & 0xffff);
            need(block, file, length, start, csize);
            if (usize > MAX_SOURCE || csize > MAX_SOURCE) {
                throw bad(block, file, "an entry " + name + " of " + Math.max(usize, csize)
                        + " bytes, more than TorchScript source or a tag ever needs");
            }
            byte[] body = body(block, file, name, src.bytes(start, (int) csize), usize, method);
            String text = new String(body, StandardCharsets.UTF_8);
            if (source) {
                names.scan(text);
            } else {
                tag = parseTag(block, file, text);
            }
        }
        List<String> refused = names.refused();
        if (!refused.isEmpty()) {
            String what = refused.stream().anyMatch(TorchScriptScanner::isIo)
                    ? "file, process or I/O access is refused" : "the sora4j exporter never emits it";
            throw new ModelPackException("block " + block.name() + " (" + file + ") uses the"
                    + " TorchScript operator " + String.join(", ", refused) + ", which is not on"
                    + " sora4j's allowlist (" + what + "); the block was not loaded. A pack's"
                    + " blocks are code: use packs from publishers you trust (docs/model-pack.md,"
                    + " Threat model)");
        }
        if (tag != null) {
            checkTag(block, file, tag);
        }
        return tag;
    }

    /** Random access to an archive's bytes. */
    private interface Source {
        long size();

        byte[] bytes(long at, int length);
    }

    private record ArraySource(byte[] data) implements Source {
        @Override
        public long size() {
            return data.length;
        }

        @Override
        public byte[] bytes(long at, int length) {
            return java.util.Arrays.copyOfRange(data, (int) at, (int) at + length);
        }
    }

    private record ChannelSource(FileChannel ch) implements Source {
        @Override
        public long size() {
            try {
                return ch.size();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public byte[] bytes(long at, int length) {
            ByteBuffer buf = ByteBuffer.allocate(length);
            try {
                while (buf.hasRemaining()) {
                    if (ch.read(buf, at + buf.position()) < 0) {
                        throw new UncheckedIOException(new EOFException("the file ended at "
                                + (at + buf.position())));
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return buf.array();
        }
    }

    private static byte[] body(BlockInfo block, String file, String name, byte[] stored,
            long usize, int method) {
        if (method == 0) {
            if (stored.length != usize) {
                throw bad(block, file, "a stored entry " + name + " whose sizes disagree");
            }
            return stored;
        }
        if (method != 8) {
            throw bad(block, file, "entry " + name + " compressed with zip method " + method);
        }
        Inflater inf = new Inflater(true);
        try {
            inf.setInput(stored);
            byte[] out = new byte[(int) usize];
            int n = 0;
            while (n < out.length && !inf.finished()) {
                int k = inf.inflate(out, n, out.length - n);
                if (k == 0 && (inf.needsInput() || inf.needsDictionary())) {
                    break;
                }
                n += k;
            }
            if (n != usize) {
                throw bad(block, file, "a corrupt compressed entry " + name);
            }
            return out;
        } catch (DataFormatException e) {
            throw bad(block, file, "a corrupt compressed entry " + name);
        } finally {
            inf.end();
        }
    }

    private static Tag parseTag(BlockInfo block, String file, String json) {
        try {
            Tag t = new Gson().fromJson(json, Tag.class);
            if (t == null || !"sora4j-block".equals(t.format()) || t.version() != 1) {
                throw bad(block, file, "a role tag of an unknown format: " + json);
            }
            return t;
        } catch (JsonParseException e) {
            throw bad(block, file, "a role tag that is not valid JSON: " + e.getMessage());
        }
    }

    private static void checkTag(BlockInfo block, String file, Tag tag) {
        if (!block.role().equals(tag.role()) || !java.util.Objects.equals(block.set(), tag.set())) {
            throw new ModelPackException("block " + block.name() + " (" + file + ") has role "
                    + tag.role() + ", expected " + block.role() + " (the file is block "
                    + tag.name() + " of another place or pack)");
        }
        if (block.order() != tag.order() || !block.name().equals(tag.name())) {
            throw new ModelPackException("block " + block.name() + " (" + file + ") is "
                    + tag.name() + " (" + tag.role() + " order " + tag.order() + "), expected "
                    + block.name() + " (" + block.role() + " order " + block.order() + ")");
        }
    }

    private static void need(BlockInfo block, String file, long size, long at, long len) {
        if (at < 0 || len < 0 || at + len > size) {
            throw bad(block, file, "a truncated or corrupt zip archive");
        }
    }

    private static ModelPackException bad(BlockInfo block, String file, String what) {
        return new ModelPackException("block " + block.name() + " (" + file + ") cannot be checked: " + what
                + "; the block was not loaded");
    }
}
