package io.github.sora4j.video;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.sora4j.video.VideoTestSupport.DecodedFrame;
import io.github.sora4j.InvalidRequestException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jcodec.codecs.h264.H264Utils;
import org.jcodec.codecs.h264.io.model.SeqParameterSet;
import org.jcodec.common.io.FileChannelWrapper;
import org.jcodec.common.io.NIOUtils;
import org.jcodec.containers.mp4.boxes.VideoSampleEntry;
import org.jcodec.containers.mp4.demuxer.AbstractMP4DemuxerTrack;
import org.jcodec.containers.mp4.demuxer.MP4Demuxer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VideoWriterMp4Test {

    @TempDir Path dir;

    @Test
    void theOutputIsAnMp4WithAnH264Track() throws Exception {
        Path out = dir.resolve("clip.mp4");
        VideoWriter.write(VideoTestSupport.gradient(4, 32, 48), out, VideoFormat.MP4, 8);

        byte[] bytes = Files.readAllBytes(out);
        String latin1 = new String(bytes, StandardCharsets.ISO_8859_1);
        assertThat(latin1.substring(4, 8)).isEqualTo("ftyp");
        assertThat(latin1.substring(8, 12)).isEqualTo("isom");
        assertThat(latin1).contains("moov").contains("mdat").contains("avc1").contains("avcC");
    }

    @Test
    void theStreamDeclaresBt601LimitedRangeAndTheRightDuration() throws Exception {
        Path out = dir.resolve("clip.mp4");
        VideoWriter.write(VideoTestSupport.gradient(12, 16, 16), out, VideoFormat.MP4, 24);
        try (FileChannelWrapper channel = NIOUtils.readableChannel(out.toFile())) {
            MP4Demuxer demuxer = MP4Demuxer.createMP4Demuxer(channel);
            AbstractMP4DemuxerTrack track = demuxer.getTracks().get(0);
            assertThat(track.getMeta().getTotalFrames()).isEqualTo(12);
            assertThat(track.getMeta().getTotalDuration()).isEqualTo(0.5);
            VideoSampleEntry entry = (VideoSampleEntry) track.getSampleEntries()[0];
            ByteBuffer spsBytes = H264Utils.parseAVCC(entry).getSpsList().get(0);
            SeqParameterSet sps = H264Utils.readSPS(spsBytes.duplicate());
            assertThat(sps.vuiParams).isNotNull();
            assertThat(sps.vuiParams.videoFullRangeFlag).isFalse();
            assertThat(sps.vuiParams.matrixCoefficients).isEqualTo(6);
        }
    }

    @Test
    void aSmoothGradientDecodesBackToTheRightFramesWithSmallError() throws Exception {
        int frames = 16;
        int height = 64;
        int width = 96;
        VideoFrames video = VideoTestSupport.gradient(frames, height, width);
        Path out = dir.resolve("clip.mp4");
        VideoWriter.write(video, out, VideoFormat.MP4, 8);

        List<DecodedFrame> decoded = VideoTestSupport.decodeMp4(out);
        assertThat(decoded).hasSize(frames);
        double worst = 0;
        double total = 0;
        for (int f = 0; f < frames; f++) {
            DecodedFrame frame = decoded.get(f);
            assertThat(frame.width()).isEqualTo(width);
            assertThat(frame.height()).isEqualTo(height);
            double mae = VideoTestSupport.meanAbsError(video.rgbView(f), width, height, frame);
            worst = Math.max(worst, mae);
            total += mae;
        }
        // Measured with JCodec 0.2.5 at QP 12 (JCodec's BT.601 YUV->RGB): mean 1.38, worst frame
        // 1.40 levels of 255; most of it is 4:2:0 chroma subsampling (QP 4 still gives ~0.9).
        // FFmpeg's decoder + swscale reads the same file at mean 1.58.
        assertThat(total / frames).as("mean abs error over all frames").isLessThan(1.5);
        assertThat(worst).as("worst frame mean abs error").isLessThan(1.5);
    }

    @Test
    void aLowerQpGivesALargerMoreFaithfulFile() throws Exception {
        VideoFrames video = VideoTestSupport.gradient(4, 48, 64);
        Path fine = dir.resolve("fine.mp4");
        Path coarse = dir.resolve("coarse.mp4");
        VideoWriter.writeMp4(video, fine, 8, 4);
        VideoWriter.writeMp4(video, coarse, 8, 40);
        assertThat(Files.size(fine)).isGreaterThan(Files.size(coarse));
        double fineError = VideoTestSupport.meanAbsError(
                video.rgbView(0), 64, 48, VideoTestSupport.decodeMp4(fine).get(0));
        double coarseError = VideoTestSupport.meanAbsError(
                video.rgbView(0), 64, 48, VideoTestSupport.decodeMp4(coarse).get(0));
        assertThat(fineError).isLessThan(coarseError);
    }

    @Test
    void aQpOutside0To51IsRejectedNamingTheValue() {
        VideoFrames video = VideoTestSupport.gradient(1, 2, 2);
        assertThatThrownBy(() -> VideoWriter.writeMp4(video, dir.resolve("a.mp4"), 8, 52))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("qp")
                .hasMessageContaining("52");
        assertThatThrownBy(() -> VideoWriter.writeMp4(video, dir.resolve("a.mp4"), 8, -1))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("-1");
    }

    @Test
    void oddSizesArePaddedToEvenByRepeatingTheLastColumnAndRow() throws Exception {
        int height = 31;
        int width = 45;
        VideoFrames video = VideoTestSupport.gradient(3, height, width);
        Path out = dir.resolve("odd.mp4");
        VideoWriter.writeMp4(video, out, 8, 4);

        List<DecodedFrame> decoded = VideoTestSupport.decodeMp4(out);
        assertThat(decoded).hasSize(3);
        DecodedFrame frame = decoded.get(0);
        assertThat(frame.width()).isEqualTo(46);
        assertThat(frame.height()).isEqualTo(32);
        // A steep gradient at this size: 4:2:0 chroma subsampling dominates; measured 1.73.
        assertThat(VideoTestSupport.meanAbsError(video.rgbView(0), width, height, frame))
                .isLessThan(2.0);
        // The padding column/row repeat the last source column/row (up to coding error).
        byte[] rgb = frame.rgb();
        long diff = 0;
        for (int y = 0; y < 32; y++) {
            for (int c = 0; c < 3; c++) {
                diff += Math.abs((rgb[(y * 46 + 45) * 3 + c] & 0xFF) - (rgb[(y * 46 + 44) * 3 + c] & 0xFF));
            }
        }
        for (int x = 0; x < 46; x++) {
            for (int c = 0; c < 3; c++) {
                diff += Math.abs((rgb[(31 * 46 + x) * 3 + c] & 0xFF) - (rgb[(30 * 46 + x) * 3 + c] & 0xFF));
            }
        }
        assertThat((double) diff / ((32 + 46) * 3)).isLessThan(3.0);
    }

    @Test
    void fullNoiseAtTheLowestQpEncodesWithoutOverflowingJCodecsBuffers() throws Exception {
        // Uniform noise needs ~700 bytes per macroblock at QP 0; JCodec's own buffer allows 256.
        java.util.Random random = new java.util.Random(7);
        List<byte[]> noise = new java.util.ArrayList<>();
        for (int f = 0; f < 3; f++) {
            byte[] rgb = new byte[40 * 56 * 3];
            random.nextBytes(rgb);
            noise.add(rgb);
        }
        VideoFrames video = VideoFrames.ofRgb(40, 56, noise);
        for (int qp : new int[] {0, VideoWriter.DEFAULT_MP4_QP}) {
            Path out = dir.resolve("noise" + qp + ".mp4");
            VideoWriter.writeMp4(video, out, 8, qp);
            List<DecodedFrame> decoded = VideoTestSupport.decodeMp4(out);
            assertThat(decoded).hasSize(3);
            // Noise is the worst case for 4:2:0 (chroma averaging alone costs ~25 levels).
            assertThat(VideoTestSupport.meanAbsError(video.rgbView(2), 56, 40, decoded.get(2)))
                    .as("qp %d", qp)
                    .isLessThan(45.0);
        }
    }

    @Test
    void aOneByOneFrameStillEncodes() throws Exception {
        VideoFrames video = VideoFrames.ofRgb(1, 1, List.of(new byte[] {(byte) 200, 100, 50}));
        Path out = dir.resolve("tiny.mp4");
        VideoWriter.writeMp4(video, out, 8, 0);
        List<DecodedFrame> decoded = VideoTestSupport.decodeMp4(out);
        assertThat(decoded).hasSize(1);
        assertThat(decoded.get(0).width()).isEqualTo(2);
        assertThat(decoded.get(0).height()).isEqualTo(2);
        byte[] rgb = decoded.get(0).rgb();
        assertThat(rgb[0] & 0xFF).isCloseTo(200, org.assertj.core.data.Offset.offset(3));
        assertThat(rgb[1] & 0xFF).isCloseTo(100, org.assertj.core.data.Offset.offset(3));
        assertThat(rgb[2] & 0xFF).isCloseTo(50, org.assertj.core.data.Offset.offset(3));
    }
}
