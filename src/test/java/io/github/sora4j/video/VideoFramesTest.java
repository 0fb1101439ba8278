package io.github.sora4j.video;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.util.List;
import org.junit.jupiter.api.Test;

class VideoFramesTest {

    @Test
    void minusOneMapsToZeroOneTo255AndZeroTo128() {
        assertThat(VideoFrames.toUint8(-1f)).isEqualTo(0);
        assertThat(VideoFrames.toUint8(1f)).isEqualTo(255);
        assertThat(VideoFrames.toUint8(0f)).isEqualTo(128);
        assertThat(VideoFrames.toUint8(-0f)).isEqualTo(128);
    }

    @Test
    void valuesBeyondPlusMinusOneAndInfinitiesSaturate() {
        assertThat(VideoFrames.toUint8(2f)).isEqualTo(255);
        assertThat(VideoFrames.toUint8(-3f)).isEqualTo(0);
        assertThat(VideoFrames.toUint8(1.0000001f)).isEqualTo(255);
        assertThat(VideoFrames.toUint8(Float.POSITIVE_INFINITY)).isEqualTo(255);
        assertThat(VideoFrames.toUint8(Float.NEGATIVE_INFINITY)).isEqualTo(0);
        assertThat(VideoFrames.toUint8(Float.MAX_VALUE)).isEqualTo(255);
    }

    @Test
    void nanMapsToZero() {
        assertThat(VideoFrames.toUint8(Float.NaN)).isEqualTo(0);
        assertThat(VideoFrames.toUint8(Float.intBitsToFloat(0x7fc12345))).isEqualTo(0);
    }

    @Test
    void conversionMatchesSaveSampleInFloat32ArithmeticOnReferenceValues() {
        // Expected values computed with numpy float32, op by op, as torch does in save_sample.
        assertThat(VideoFrames.toUint8(0.5f)).isEqualTo(191);
        assertThat(VideoFrames.toUint8(-0.5f)).isEqualTo(64);
        assertThat(VideoFrames.toUint8(0.25f)).isEqualTo(159);
        assertThat(VideoFrames.toUint8(-0.25f)).isEqualTo(96);
        assertThat(VideoFrames.toUint8(-0.99607843f)).isEqualTo(1);
        assertThat(VideoFrames.toUint8(0.0019608f)).isEqualTo(128);
        assertThat(VideoFrames.toUint8(-0.0019608f)).isEqualTo(127);
        assertThat(VideoFrames.toUint8(0.33333334f)).isEqualTo(170);
        assertThat(VideoFrames.toUint8(-0.6f)).isEqualTo(51);
        // Inputs where float32 and float64 evaluation truncate to different bytes.
        assertThat(VideoFrames.toUint8(Float.intBitsToFloat(1060945083))).isEqualTo(222);
        assertThat(VideoFrames.toUint8(Float.intBitsToFloat(1044431036))).isEqualTo(152);
        assertThat(VideoFrames.toUint8(0.9647058248519897f)).isEqualTo(251);
    }

    @Test
    void fromFloatPixelsReadsChannelMajorLayoutIntoInterleavedRgb() {
        int frames = 2;
        int height = 2;
        int width = 3;
        float[] data = new float[3 * frames * height * width];
        // channel c, frame f, pixel p gets a distinct value
        for (int c = 0; c < 3; c++) {
            for (int f = 0; f < frames; f++) {
                for (int p = 0; p < height * width; p++) {
                    data[(c * frames + f) * height * width + p] = -1f + (c * 12 + f * 6 + p) / 20f;
                }
            }
        }
        VideoFrames video = VideoFrames.fromFloatPixels(data, frames, height, width);

        assertThat(video.frameCount()).isEqualTo(2);
        assertThat(video.height()).isEqualTo(2);
        assertThat(video.width()).isEqualTo(3);
        for (int f = 0; f < frames; f++) {
            byte[] rgb = video.rgb(f);
            assertThat(rgb).hasSize(height * width * 3);
            for (int p = 0; p < height * width; p++) {
                for (int c = 0; c < 3; c++) {
                    float x = data[(c * frames + f) * height * width + p];
                    assertThat(rgb[p * 3 + c] & 0xFF)
                            .as("frame %d pixel %d channel %d", f, p, c)
                            .isEqualTo(VideoFrames.toUint8(x));
                }
            }
        }
    }

    @Test
    void fromFloatPixelsRejectsWrongLengthNamingTheShape() {
        assertThatThrownBy(() -> VideoFrames.fromFloatPixels(new float[10], 1, 2, 2))
                .isInstanceOf(io.github.sora4j.InvalidConfigurationException.class)
                .hasMessageContaining("10")
                .hasMessageContaining("[3, 1, 2, 2]")
                .hasMessageContaining("12");
    }

    @Test
    void fromFloatPixelsRejectsNonPositiveSizes() {
        assertThatThrownBy(() -> VideoFrames.fromFloatPixels(new float[0], 1, 0, 2))
                .isInstanceOf(io.github.sora4j.InvalidConfigurationException.class)
                .hasMessageContaining("height")
                .hasMessageContaining("0");
        assertThatThrownBy(() -> VideoFrames.fromFloatPixels(new float[0], 1, 2, -4))
                .isInstanceOf(io.github.sora4j.InvalidConfigurationException.class)
                .hasMessageContaining("width")
                .hasMessageContaining("-4");
        assertThatThrownBy(() -> VideoFrames.fromFloatPixels(new float[0], -1, 2, 2))
                .isInstanceOf(io.github.sora4j.InvalidConfigurationException.class)
                .hasMessageContaining("frames")
                .hasMessageContaining("-1");
    }

    @Test
    void ofRgbRejectsAFrameOfTheWrongLengthNamingItsIndex() {
        assertThatThrownBy(
                        () -> VideoFrames.ofRgb(2, 2, List.of(new byte[12], new byte[11])))
                .isInstanceOf(io.github.sora4j.InvalidConfigurationException.class)
                .hasMessageContaining("rgbFrames[1]")
                .hasMessageContaining("11")
                .hasMessageContaining("12");
    }

    @Test
    void framesAreDefensivelyCopiedOnTheWayInAndOut() {
        byte[] source = new byte[12];
        VideoFrames video = VideoFrames.ofRgb(2, 2, List.of(source));
        source[0] = 99;
        assertThat(video.rgb(0)[0]).isEqualTo((byte) 0);

        byte[] copy = video.rgb(0);
        copy[0] = 42;
        assertThat(video.rgb(0)[0]).isEqualTo((byte) 0);
        video.rgbFrames().get(0)[1] = 42;
        assertThat(video.rgb(0)[1]).isEqualTo((byte) 0);
    }

    @Test
    void frameIndexOutOfRangeNamesTheIndex() {
        VideoFrames video = VideoTestSupport.gradient(2, 2, 2);
        assertThatThrownBy(() -> video.rgb(2))
                .isInstanceOf(io.github.sora4j.InvalidConfigurationException.class)
                .hasMessageContaining("2")
                .hasMessageContaining("[0, 2)");
        assertThatThrownBy(() -> video.argb(-1)).isInstanceOf(io.github.sora4j.InvalidConfigurationException.class);
    }

    @Test
    void argbAndToImagePackTheSamePixels() {
        byte[] rgb = {(byte) 255, 0, 1, 2, (byte) 128, (byte) 200};
        VideoFrames video = VideoFrames.ofRgb(1, 2, List.of(rgb));

        assertThat(video.argb(0)).containsExactly(0xFFFF0001, 0xFF0280C8);
        BufferedImage image = video.toImage(0);
        assertThat(image.getType()).isEqualTo(BufferedImage.TYPE_INT_RGB);
        assertThat(image.getWidth()).isEqualTo(2);
        assertThat(image.getHeight()).isEqualTo(1);
        assertThat(image.getRGB(0, 0)).isEqualTo(0xFFFF0001);
        assertThat(image.getRGB(1, 0)).isEqualTo(0xFF0280C8);
    }

    @Test
    void equalFramesAreEqualAndToStringOmitsPixels() {
        VideoFrames a = VideoTestSupport.gradient(2, 3, 4);
        VideoFrames b = VideoTestSupport.gradient(2, 3, 4);
        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b);
        assertThat(a).isNotEqualTo(VideoTestSupport.gradient(3, 3, 4));
        assertThat(a.toString()).isEqualTo("VideoFrames[frames=2, height=3, width=4]");
    }
}
