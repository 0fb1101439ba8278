package io.github.sora4j.internal;

import io.github.sora4j.InvalidConfigurationException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Reader of NumPy {@code .npy} arrays and {@code .npz} archives (C order, little-endian float32,
 * float64, int64, int32, uint8 and bool), enough for the tensors sora4j packs and references
 * hold. Values are returned as plain Java arrays so no native memory is involved.
 */
public final class Npy {
    private static final Pattern DESCR = Pattern.compile("'descr':\\s*'([^']+)'");
    private static final Pattern ORDER = Pattern.compile("'fortran_order':\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\(([^)]*)\\)");

    /**
     * One array: its shape, NumPy dtype string and raw little-endian data.
     *
     * @param shape dimensions (empty for a scalar)
     * @param descr NumPy dtype descriptor, e.g. {@code <f4}
     * @param data raw bytes in C order
     */
    public record Array(long[] shape, String descr, byte[] data) {
        /**
         * Number of elements.
         *
         * @return the product of the shape
         */
        public long size() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        /**
         * Values as float32 (float32 arrays are copied exactly; float64 rounded).
         *
         * @return the values in C order
         */
        public float[] toFloats() {
            ByteBuffer bb = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
            float[] out = new float[Math.toIntExact(size())];
            switch (descr) {
                case "<f4" -> bb.asFloatBuffer().get(out);
                case "<f8" -> {
                    for (int i = 0; i < out.length; i++) {
                        out[i] = (float) bb.getDouble();
                    }
                }
                default -> throw new InvalidConfigurationException("not a float array: " + descr);
            }
            return out;
        }

        /**
         * Values as float64.
         *
         * @return the values in C order
         */
        public double[] toDoubles() {
            ByteBuffer bb = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
            double[] out = new double[Math.toIntExact(size())];
            for (int i = 0; i < out.length; i++) {
                out[i] = switch (descr) {
                    case "<f8" -> bb.getDouble();
                    case "<f4" -> bb.getFloat();
                    case "<i8" -> bb.getLong();
                    case "<i4" -> bb.getInt();
                    default -> throw new InvalidConfigurationException("not a numeric array: " + descr);
                };
            }
            return out;
        }

        /**
         * Values as int64 (from int64, int32, uint8 or bool arrays).
         *
         * @return the values in C order
         */
        public long[] toLongs() {
            ByteBuffer bb = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
            long[] out = new long[Math.toIntExact(size())];
            for (int i = 0; i < out.length; i++) {
                out[i] = switch (descr) {
                    case "<i8" -> bb.getLong();
                    case "<i4" -> bb.getInt();
                    case "|u1", "|b1" -> bb.get() & 0xff;
                    default -> throw new InvalidConfigurationException("not an integer array: " + descr);
                };
            }
            return out;
        }

        @Override
        public String toString() {
            return "Npy.Array" + Arrays.toString(shape) + " " + descr;
        }
    }

    private Npy() {}

    /**
     * Reads one {@code .npy} file.
     *
     * @param file the file
     * @return the array
     * @throws IOException if it cannot be read or is not a supported .npy file
     */
    public static Array read(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return read(in, file.toString());
        }
    }

    /**
     * Reads every array of an {@code .npz} archive.
     *
     * @param file the archive
     * @return arrays by name (without the {@code .npy} suffix)
     * @throws IOException if it cannot be read
     */
    public static Map<String, Array> readNpz(Path file) throws IOException {
        Map<String, Array> out = new HashMap<>();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            for (ZipEntry e : java.util.Collections.list(zip.entries())) {
                String name = e.getName();
                if (!name.endsWith(".npy")) {
                    continue;
                }
                try (InputStream in = zip.getInputStream(e)) {
                    out.put(name.substring(0, name.length() - 4), read(in, file + ":" + name));
                }
            }
        }
        return out;
    }

    private static Array read(InputStream in, String where) throws IOException {
        byte[] magic = in.readNBytes(8);
        if (magic.length < 8 || (magic[0] & 0xff) != 0x93 || magic[1] != 'N') {
            throw new IOException("not a .npy file: " + where);
        }
        int major = magic[6];
        int headerLen;
        if (major == 1) {
            byte[] b = in.readNBytes(2);
            headerLen = (b[0] & 0xff) | (b[1] & 0xff) << 8;
        } else {
            byte[] b = in.readNBytes(4);
            headerLen = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt();
        }
        String header = new String(in.readNBytes(headerLen), StandardCharsets.ISO_8859_1);
        Matcher d = DESCR.matcher(header);
        Matcher o = ORDER.matcher(header);
        Matcher s = SHAPE.matcher(header);
        if (!d.find() || !o.find() || !s.find()) {
            throw new IOException("bad .npy header in " + where + ": " + header);
        }
        if (o.group(1).equals("True")) {
            throw new IOException("Fortran-order .npy is not supported: " + where);
        }
        String[] parts = s.group(1).split(",");
        long[] shape = Arrays.stream(parts).map(String::trim).filter(p -> !p.isEmpty())
                .mapToLong(Long::parseLong).toArray();
        String descr = d.group(1);
        int itemSize = switch (descr) {
            case "<f4", "<i4" -> 4;
            case "<f8", "<i8" -> 8;
            case "|u1", "|b1" -> 1;
            default -> throw new IOException("unsupported .npy dtype " + descr + " in " + where);
        };
        long n = 1;
        for (long dim : shape) {
            n *= dim;
        }
        byte[] data = in.readNBytes(Math.toIntExact(n * itemSize));
        if (data.length != n * itemSize) {
            throw new IOException("truncated .npy data in " + where);
        }
        return new Array(shape, descr, data);
    }
}
