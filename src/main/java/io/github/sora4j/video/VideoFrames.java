package io.github.sora4j.video;

import io.github.sora4j.InvalidConfigurationException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An immutable clip of 8-bit RGB frames: {@code frameCount} frames of {@code height × width}
 * pixels, each frame stored row-major with interleaved {@code R, G, B} bytes ({@code height *
 * width * 3} bytes per frame, values 0..255 read as unsigned).
 *
 * <p>Construction copies the caller's arrays and every accessor that returns an array returns a
 * fresh copy, so an instance can be shared freely between threads.
 *
 * <p>{@link #fromFloatPixels(float[], int, int, int)} turns the VAE decoder's output for one
 * sample into frames exactly as Open-Sora's {@code save_sample} does.
 *
 * <p><b>AWT.</b> Only {@link #toImage(int)} touches {@code java.awt.image}; everything else works
 * on JVMs without the {@code java.desktop} module (for example Android), as long as {@code
 * toImage} is not called.
 */
public final class VideoFrames {

    private final int height;
    private final int width;
    private final byte[][] frames;

    private VideoFrames(int height, int width, byte[][] ownedFrames) {
        this.height = height;
        this.width = width;
        this.frames = ownedFrames;
    }

    /**
     * Creates frames from per-frame RGB byte arrays (each copied).
     *
     * @param height frame height in pixels, at least 1
     * @param width frame width in pixels, at least 1
     * @param rgbFrames one array of {@code height * width * 3} interleaved RGB bytes per frame,
     *     row-major; may be empty
     * @return the frames
     * @throws InvalidConfigurationException if a size is not positive, the pixel count overflows, or an
     *     array has the wrong length (the message names the frame and its length)
     * @throws InvalidConfigurationException if the list or one of its arrays is null
     */
    public static VideoFrames ofRgb(int height, int width, List<byte[]> rgbFrames) {
        InvalidConfigurationException.requireNonNull(rgbFrames, "rgbFrames");
        int frameBytes = frameBytes(height, width);
        byte[][] copy = new byte[rgbFrames.size()][];
        for (int f = 0; f < copy.length; f++) {
            byte[] frame = InvalidConfigurationException.requireNonNull(rgbFrames.get(f), "rgbFrames[" + f + "]");
            if (frame.length != frameBytes) {
                throw new InvalidConfigurationException(
                        "rgbFrames["
                                + f
                                + "] has "
                                + frame.length
                                + " bytes; a "
                                + height
                                + "x"
                                + width
                                + " RGB frame needs "
                                + frameBytes);
            }
            copy[f] = frame.clone();
        }
        return new VideoFrames(height, width, copy);
    }

    /**
     * Converts one decoded sample, a {@code [3, frames, height, width]} float array in {@code
     * [-1, 1]} (channel-major, the layout Open-Sora's VAE decoder outputs for one sample), to
     * 8-bit RGB frames.
     *
     * <p>Each value is converted by {@link #toUint8(float)}, which reproduces Open-Sora's {@code
     * save_sample} bit for bit (float32 arithmetic).
     *
     * @param data the {@code 3 * frames * height * width} values, index {@code ((c * frames + f) *
     *     height + y) * width + x} for channel {@code c} (0 = R, 1 = G, 2 = B)
     * @param frames number of frames, at least 0
     * @param height frame height, at least 1
     * @param width frame width, at least 1
     * @return the frames
     * @throws InvalidConfigurationException if a size is out of range or {@code data.length} is not
     *     {@code 3 * frames * height * width}
     */
    public static VideoFrames fromFloatPixels(float[] data, int frames, int height, int width) {
        InvalidConfigurationException.requireNonNull(data, "data");
        if (frames < 0) {
            throw new InvalidConfigurationException("frames must be >= 0, got " + frames);
        }
        int frameBytes = frameBytes(height, width);
        long expected = (long) frameBytes * frames;
        if (expected != data.length) {
            throw new InvalidConfigurationException(
                    "data has "
                            + data.length
                            + " floats; shape [3, "
                            + frames
                            + ", "
                            + height
                            + ", "
                            + width
                            + "] needs "
                            + expected);
        }
        int plane = height * width;
        long channelStride = (long) frames * plane;
        byte[][] out = new byte[frames][frameBytes];
        for (int f = 0; f < frames; f++) {
            byte[] dst = out[f];
            for (int c = 0; c < 3; c++) {
                int src = (int) (c * channelStride + (long) f * plane);
                for (int i = 0, d = c; i < plane; i++, d += 3) {
                    dst[d] = (byte) toUint8(data[src + i]);
                }
            }
        }
        return new VideoFrames(height, width, out);
    }

    /**
     * Converts one decoder value in {@code [-1, 1]} to an 8-bit channel value, exactly as Open-Sora's
     * {@code save_sample} does in float32:
     *
     * <pre>{@code
     * v = clamp(x, -1, 1)        // x.clamp_(-1, 1)
     * v = (v + 1) / 2            // x.sub_(-1).div_(2)
     * v = v * 255 + 0.5          // x.mul(255).add_(0.5), two float32 roundings
     * v = clamp(v, 0, 255)       // .clamp_(0, 255)
     * return (int) v             // .to(torch.uint8): truncation toward zero
     * }</pre>
     *
     * <p>So {@code -1 → 0}, {@code 0 → 128}, {@code 1 → 255}, values beyond ±1 saturate, {@code
     * +∞ → 255}, {@code -∞ → 0}. {@code NaN → 0}: PyTorch leaves NaN unclamped and its uint8 cast is
     * undefined (0 on x86), so sora4j defines it as 0.
     *
     * @param x the decoder value
     * @return the channel value, 0..255
     */
    public static int toUint8(float x) {
        if (Float.isNaN(x)) {
            return 0;
        }
        float v = Math.min(Math.max(x, -1f), 1f);
        v = (v + 1f) / 2f;
        v = v * 255f;
        v = v + 0.5f;
        v = Math.min(Math.max(v, 0f), 255f);
        return (int) v;
    }

    /**
     * Returns the number of frames.
     *
     * @return the frame count, at least 0
     */
    public int frameCount() {
        return frames.length;
    }

    /**
     * Returns the frame height.
     *
     * @return height in pixels
     */
    public int height() {
        return height;
    }

    /**
     * Returns the frame width.
     *
     * @return width in pixels
     */
    public int width() {
        return width;
    }

    /**
     * Returns a copy of one frame's interleaved RGB bytes.
     *
     * @param frame frame index, {@code 0 <= frame < frameCount()}
     * @return {@code height * width * 3} bytes, row-major
     * @throws InvalidConfigurationException if the index is out of range (the message names it)
     */
    public byte[] rgb(int frame) {
        return rgbView(frame).clone();
    }

    /**
     * Returns one frame's pixels packed as {@code 0xFFRRGGBB} ints, row-major.
     *
     * @param frame frame index, {@code 0 <= frame < frameCount()}
     * @return {@code height * width} ARGB ints (alpha always 255)
     * @throws InvalidConfigurationException if the index is out of range
     */
    public int[] argb(int frame) {
        byte[] src = rgbView(frame);
        int[] out = new int[height * width];
        fillRgbInts(src, out, 0xFF000000);
        return out;
    }

    /**
     * Returns one frame as a new {@code BufferedImage.TYPE_INT_RGB} image. This is the only method
     * of this class that needs the {@code java.desktop} module.
     *
     * @param frame frame index, {@code 0 <= frame < frameCount()}
     * @return a new image the caller owns
     * @throws InvalidConfigurationException if the index is out of range
     */
    public java.awt.image.BufferedImage toImage(int frame) {
        byte[] src = rgbView(frame);
        java.awt.image.BufferedImage image =
                new java.awt.image.BufferedImage(
                        width, height, java.awt.image.BufferedImage.TYPE_INT_RGB);
        int[] pixels =
                ((java.awt.image.DataBufferInt) image.getRaster().getDataBuffer()).getData();
        fillRgbInts(src, pixels, 0);
        return image;
    }

    /** Returns this object's frame array without copying; callers must not modify it. */
    byte[] rgbView(int frame) {
        if (frame < 0 || frame >= frames.length) {
            throw new InvalidConfigurationException(
                    "frame index " + frame + " out of range [0, " + frames.length + ")");
        }
        return frames[frame];
    }

    private static void fillRgbInts(byte[] src, int[] dst, int alpha) {
        for (int i = 0, s = 0; i < dst.length; i++, s += 3) {
            dst[i] = alpha | (src[s] & 0xFF) << 16 | (src[s + 1] & 0xFF) << 8 | (src[s + 2] & 0xFF);
        }
    }

    private static int frameBytes(int height, int width) {
        if (height < 1) {
            throw new InvalidConfigurationException("height must be >= 1, got " + height);
        }
        if (width < 1) {
            throw new InvalidConfigurationException("width must be >= 1, got " + width);
        }
        long bytes = (long) height * width * 3;
        if (bytes > Integer.MAX_VALUE - 8) {
            throw new InvalidConfigurationException(
                    "a " + height + "x" + width + " RGB frame is too large (" + bytes + " bytes)");
        }
        return (int) bytes;
    }

    /**
     * Returns copies of all frames' RGB bytes, in order.
     *
     * @return one new RGB array per frame
     */
    public List<byte[]> rgbFrames() {
        List<byte[]> out = new ArrayList<>(frames.length);
        for (byte[] frame : frames) {
            out.add(frame.clone());
        }
        return out;
    }

    /**
     * Two instances are equal when they have the same sizes and identical pixels.
     *
     * @param o the other object
     * @return whether sizes and pixels match
     */
    @Override
    public boolean equals(Object o) {
        return o instanceof VideoFrames other
                && height == other.height
                && width == other.width
                && Arrays.deepEquals(frames, other.frames);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * height + width) + Arrays.deepHashCode(frames);
    }

    @Override
    public String toString() {
        return "VideoFrames[frames=" + frames.length + ", height=" + height + ", width=" + width + "]";
    }
}
