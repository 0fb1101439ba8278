package io.github.sora4j.testing;

import io.github.sora4j.internal.Npy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

/**
 * The reference tensors the PyTorch reference sampler wrote next to the tiny pack
 * (src/test/resources/reference/tiny-random, see its README.md).
 */
public final class References {
    private final Map<String, Npy.Array> arrays;
    private final String file;

    private References(String file, Map<String, Npy.Array> arrays) {
        this.file = file;
        this.arrays = arrays;
    }

    /** Loads one .npz file of the tiny-random references. */
    public static References load(String name) {
        return loadResource("/reference/tiny-random/" + name);
    }

    /** Loads an .npz file from the test classpath, e.g. {@code /upstream/runs.npz}. */
    public static References loadResource(String name) {
        URL url = References.class.getResource(name);
        if (url == null) {
            throw new IllegalStateException("missing reference file " + name);
        }
        try {
            return new References(name, Npy.readNpz(Path.of(url.toURI())));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    public Npy.Array array(String key) {
        Npy.Array a = arrays.get(key);
        if (a == null) {
            throw new IllegalArgumentException(file + " has no key " + key + "; keys: "
                    + new java.util.TreeSet<>(arrays.keySet()));
        }
        return a;
    }

    /** The keys of the file, sorted. */
    public java.util.SortedSet<String> keys() {
        return new java.util.TreeSet<>(arrays.keySet());
    }

    public boolean has(String key) {
        return arrays.containsKey(key);
    }

    public float[] floats(String key) {
        return array(key).toFloats();
    }

    public long[] longs(String key) {
        return array(key).toLongs();
    }

    public double[] doubles(String key) {
        return array(key).toDoubles();
    }

    public long scalar(String key) {
        return longs(key)[0];
    }

    public double real(String key) {
        return doubles(key)[0];
    }

    public String text(String key) {
        long[] bytes = longs(key);
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) bytes[i];
        }
        return new String(b, StandardCharsets.UTF_8);
    }

    /** Row {@code index} of a stacked array [N, ...] as a flat array. */
    public float[] slice(String key, int index) {
        Npy.Array a = array(key);
        float[] all = a.toFloats();
        int per = all.length / (int) a.shape()[0];
        return java.util.Arrays.copyOfRange(all, index * per, (index + 1) * per);
    }

    /** Largest absolute difference between two arrays of the same length. */
    public static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        }
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs((double) a[i] - b[i]);
            if (Double.isNaN(d)) {
                return Double.NaN;
            }
            max = Math.max(max, d);
        }
        return max;
    }
}
