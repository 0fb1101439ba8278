package io.github.sora4j.video;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jcodec.api.FrameGrab;
import org.jcodec.api.JCodecException;
import org.jcodec.common.io.FileChannelWrapper;
import org.jcodec.common.io.NIOUtils;
import org.jcodec.common.model.ColorSpace;
import org.jcodec.common.model.Picture;
import org.jcodec.scale.ColorUtil;

/** Shared fixtures: synthetic clips and an MP4 decoder. */
final class VideoTestSupport {

    private VideoTestSupport() {}

    /** A decoded MP4 frame: its cropped size and interleaved RGB. */
    record DecodedFrame(int width, int height, byte[] rgb) {}

    /** A smooth, moving gradient: R along x (drifting per frame), G along y, B diagonal. */
    static VideoFrames gradient(int frames, int height, int width) {
        List<byte[]> out = new ArrayList<>();
        for (int f = 0; f < frames; f++) {
            byte[] rgb = new byte[height * width * 3];
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    int i = (y * width + x) * 3;
                    rgb[i] = (byte) (20 + x * 200 / Math.max(1, width - 1) + f * 2);
                    rgb[i + 1] = (byte) (y * 255 / Math.max(1, height - 1));
                    rgb[i + 2] = (byte) ((x + y) * 255 / Math.max(1, width + height - 2));
                }
            }
            out.add(rgb);
        }
        return VideoFrames.ofRgb(height, width, out);
    }

    /** A clip where every pixel has one of a few flat colours (GIF-palette friendly). */
    static VideoFrames blocks(int frames, int height, int width) {
        int[] colours = {0x000000, 0xFFFFFF, 0xFF0000, 0x00FF00, 0x0000FF, 0x123456, 0xFEDCBA};
        List<byte[]> out = new ArrayList<>();
        for (int f = 0; f < frames; f++) {
            byte[] rgb = new byte[height * width * 3];
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    int c = colours[(x / 3 + y / 2 + f) % colours.length];
                    int i = (y * width + x) * 3;
                    rgb[i] = (byte) (c >> 16);
                    rgb[i + 1] = (byte) (c >> 8);
                    rgb[i + 2] = (byte) c;
                }
            }
            out.add(rgb);
        }
        return VideoFrames.ofRgb(height, width, out);
    }

    /**
     * Decodes every frame of an MP4 with JCodec and converts it to RGB the way players do for
     * untagged/BT.601 limited-range video.
     */
    static List<DecodedFrame> decodeMp4(Path mp4) throws IOException, JCodecException {
        List<DecodedFrame> out = new ArrayList<>();
        try (FileChannelWrapper channel = NIOUtils.readableChannel(mp4.toFile())) {
            FrameGrab grab = FrameGrab.createFrameGrab(channel);
            Picture picture;
            while ((picture = grab.getNativeFrame()) != null) {
                Picture rgb = Picture.create(picture.getWidth(), picture.getHeight(), ColorSpace.RGB);
                ColorUtil.getTransform(picture.getColor(), ColorSpace.RGB).transform(picture, rgb);
                int width = picture.getCroppedWidth();
                int height = picture.getCroppedHeight();
                byte[] src = rgb.getPlaneData(0);
                byte[] dst = new byte[width * height * 3];
                for (int y = 0; y < height; y++) {
                    for (int i = 0; i < width * 3; i++) {
                        dst[y * width * 3 + i] = (byte) (src[y * rgb.getWidth() * 3 + i] + 128);
                    }
                }
                out.add(new DecodedFrame(width, height, dst));
            }
        }
        return out;
    }

    /** Mean absolute difference over the top-left {@code height × width} region of both. */
    static double meanAbsError(byte[] expected, int width, int height, DecodedFrame actual) {
        long sum = 0;
        for (int y = 0; y < height; y++) {
            for (int i = 0; i < width * 3; i++) {
                int e = expected[y * width * 3 + i] & 0xFF;
                int a = actual.rgb()[y * actual.width() * 3 + i] & 0xFF;
                sum += Math.abs(e - a);
            }
        }
        return (double) sum / (width * height * 3);
    }
}
