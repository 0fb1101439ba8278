package io.github.sora4j.pack;

import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
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
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        int eocd = -1;
        for (int p = data.length - 22; p >= Math.max(0, data.length - 22 - 65535); p--) {
            if (b.getInt(p) == 0x06054b50) {
                eocd = p;
                break;
            }
        }
        if (eocd < 0) {
            throw bad(block, file, "not a TorchScript archive (no zip directory)");
        }
        int entries = b.getShort(eocd + 10) & 0xffff;
        long cdOffset = b.getInt(eocd + 16) & 0xffffffffL;
        if (entries == 0xffff || cdOffset == 0xffffffffL) {
            throw bad(block, file, "a zip64 archive, which sora4j blocks never are");
        }
        TorchScriptScanner.Names names = new TorchScriptScanner.Names();
        Tag tag = null;
        long p = cdOffset;
        for (int i = 0; i < entries; i++) {
            need(block, file, data, p, 46);
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
            need(block, file, data, at + 46L, nameLen);
            String name = new String(data, at + 46, nameLen, StandardCharsets.UTF_8);
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
            need(block, file, data, local, 30);
            if (b.getInt((int) local) != 0x04034b50) {
                throw bad(block, file, "a corrupt zip entry " + name);
            }
            long start = local + 30 + (b.getShort((int) local + 26) & 0xffff)
                    + (b.getShort((int) local + 28) & 0xffff);
            need(block, file, data, start, csize);
            byte[] body = body(block, file, name, data, (int) start, (int) csize, usize, method);
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

    private static byte[] body(BlockInfo block, String file, String name, byte[] data, int start,
            int csize, long usize, int method) {
        if (usize > MAX_SOURCE) {
            throw bad(block, file, "an entry " + name + " of " + usize + " bytes, more than"
                    + " TorchScript source or a tag ever needs");
        }
        if (method == 0) {
            if (csize != usize) {
                throw bad(block, file, "a stored entry " + name + " whose sizes disagree");
            }
            return java.util.Arrays.copyOfRange(data, start, start + csize);
        }
        if (method != 8) {
            throw bad(block, file, "entry " + name + " compressed with zip method " + method);
        }
        Inflater inf = new Inflater(true);
        try {
            inf.setInput(data, start, csize);
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
        if (!block.role().equals(tag.role()) || !block.set().equals(tag.set())) {
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

    private static void need(BlockInfo block, String file, byte[] data, long at, long len) {
        if (at < 0 || len < 0 || at + len > data.length) {
            throw bad(block, file, "a truncated or corrupt zip archive");
        }
    }

    private static ModelPackException bad(BlockInfo block, String file, String what) {
        return new ModelPackException("block " + block.name() + " (" + file + ") cannot be checked: " + what
                + "; the block was not loaded");
    }
}
