package io.github.sora4j.pack;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks the header of a pack's null embedding ({@code .npy}) when the pack opens: little-endian
 * float32, C order, shape {@code [rows >= text.modelMaxLength, stdit.captionChannels]} and a file
 * size that matches, so reading it later cannot fail or overflow.
 */
final class NullEmbeddingHeader {
    private static final Pattern DESCR = Pattern.compile("'descr':\\s*'([^']+)'");
    private static final Pattern ORDER = Pattern.compile("'fortran_order':\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\(([^)]*)\\)");

    private NullEmbeddingHeader() {}

    static void check(Path file, PackManifest m) {
        String where = "null embedding " + file + " (stdit.nullEmbedding)";
        try (InputStream in = Files.newInputStream(file)) {
            byte[] magic = in.readNBytes(10);
            if (magic.length < 10 || (magic[0] & 0xff) != 0x93 || magic[1] != 'N'
                    || magic[2] != 'U' || magic[3] != 'M' || magic[4] != 'P' || magic[5] != 'Y') {
                throw new ModelPackException(where + " is not a .npy file");
            }
            long headerLen;
            long prefix;
            if (magic[6] == 1) {
                headerLen = (magic[8] & 0xff) | (magic[9] & 0xff) << 8;
                prefix = 10;
            } else {
                byte[] b = in.readNBytes(2);
                if (b.length < 2) {
                    throw new ModelPackException(where + " is a truncated .npy file");
                }
                headerLen = (magic[8] & 0xffL) | (magic[9] & 0xffL) << 8 | (b[0] & 0xffL) << 16
                        | (b[1] & 0xffL) << 24;
                prefix = 12;
            }
            if (headerLen > 65536) {
                throw new ModelPackException(where + " has a .npy header of " + headerLen
                        + " bytes");
            }
            String header = new String(in.readNBytes((int) headerLen), StandardCharsets.ISO_8859_1);
            Matcher d = DESCR.matcher(header);
            Matcher o = ORDER.matcher(header);
            Matcher s = SHAPE.matcher(header);
            if (!d.find() || !o.find() || !s.find()) {
                throw new ModelPackException(where + " has a bad .npy header: " + header.strip());
            }
            if (!d.group(1).equals("<f4")) {
                throw new ModelPackException(where + " has dtype " + d.group(1) + "; sora4j reads"
                        + " little-endian float32 ('<f4') null embeddings (re-export the pack:"
                        + " the exporter writes float32 whatever --dtype is)");
            }
            if (o.group(1).equals("True")) {
                throw new ModelPackException(where + " is in Fortran order; C order is required");
            }
            String[] parts = s.group(1).split(",");
            long[] shape = java.util.Arrays.stream(parts).map(String::trim)
                    .filter(p -> !p.isEmpty()).mapToLong(p -> parse(where, p)).toArray();
            int rows = m.text().modelMaxLength();
            int cols = m.stdit().captionChannels();
            if (shape.length != 2 || shape[0] < rows || shape[0] > 65536 || shape[1] != cols) {
                throw new ModelPackException(where + " has shape " + java.util.Arrays.toString(
                        shape) + ", expected [" + rows + ", " + cols + "] (text.modelMaxLength,"
                        + " stdit.captionChannels)");
            }
            long expected = prefix + headerLen + shape[0] * shape[1] * 4;
            long size = Files.size(file);
            if (size != expected) {
                throw new ModelPackException(where + " has " + size + " bytes; its header"
                        + " promises " + expected);
            }
        } catch (IOException e) {
            throw new ModelPackException("cannot read " + where + ": " + e.getMessage(), e);
        }
    }

    private static long parse(String where, String dim) {
        try {
            return Long.parseLong(dim);
        } catch (NumberFormatException e) {
            throw new ModelPackException(where + " has a bad .npy shape entry: " + dim);
        }
    }
}
