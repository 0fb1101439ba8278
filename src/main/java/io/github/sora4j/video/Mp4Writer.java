package io.github.sora4j.video;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.jcodec.codecs.h264.H264Encoder;
import org.jcodec.codecs.h264.encode.RateControl;
import org.jcodec.codecs.h264.io.model.SeqParameterSet;
import org.jcodec.codecs.h264.io.model.SliceType;
import org.jcodec.codecs.h264.io.model.VUIParameters;
import org.jcodec.common.Codec;
import org.jcodec.common.MuxerTrack;
import org.jcodec.common.VideoCodecMeta;
import org.jcodec.common.VideoEncoder;
import org.jcodec.common.io.FileChannelWrapper;
import org.jcodec.common.io.NIOUtils;
import org.jcodec.common.model.ColorSpace;
import org.jcodec.common.model.Packet;
import org.jcodec.common.model.Picture;
import org.jcodec.common.model.Rect;
import org.jcodec.common.model.Size;
import org.jcodec.containers.mp4.muxer.MP4Muxer;

/**
 * H.264/MP4 encoding with JCodec's pure-Java encoder; no AWT.
 *
 * <p>JCodec's own {@code SequenceEncoder} is not used: its RGB to full-range YUV conversion is
 * lossy (mean error about 7 levels on a gradient before any compression) and its stream carries no
 * range flag, so players would read full-range data as limited range. Instead this class converts
 * to BT.601 limited range itself, feeds the encoder directly, and tags the stream via the SPS VUI.
 */
final class Mp4Writer {

    /** VUI colour description code for SMPTE 170M (BT.601 525) primaries, transfer and matrix. */
    private static final int SMPTE_170M = 6;

    /** VUI video_format "unspecified". */
    private static final int VIDEO_FORMAT_UNSPECIFIED = 5;

    /** How many times taller than the frame the encoder's input picture is; see {@link #write}. */
    private static final int SLICE_BUFFER_FACTOR = 4;

    /**
     * Largest macroblock accepted before re-encoding it at a higher QP: 128 + 3072 bits is H.264's
     * per-macroblock limit (A.3.1) for 8-bit 4:2:0, less a margin for the macroblock type, which
     * JCodec writes before the part it measures.
     */
    static final int MAX_MACROBLOCK_BITS = 3150;

    private Mp4Writer() {}

    /** Encodes all frames into a new file at {@code temp} (which must not exist). */
    static void write(
            VideoFrames frames, Path temp, int fps, int qp, VideoWriter.FrameObserver observer)
            throws IOException {
        int width = frames.width();
        int height = frames.height();
        int evenWidth = width + (width & 1);
        int evenHeight = height + (height & 1);
        int alignedWidth = (evenWidth + 15) & ~15;
        int alignedHeight = (evenHeight + 15) & ~15;
        try (FileChannel channel =
                FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            MP4Muxer muxer = MP4Muxer.createMP4MuxerToChannel(new FileChannelWrapper(channel));
            H264Encoder encoder = new TaggedH264Encoder(qp);
            MuxerTrack track =
                    muxer.addVideoTrack(
                            Codec.H264,
                            VideoCodecMeta.createSimpleVideoCodecMeta(
                                    new Size(evenWidth, evenHeight), ColorSpace.YUV420));
            // JCodec 0.2.5 sizes its slice buffer as picture width x height bytes (256 bytes per
            // macroblock), which detailed content overflows at low QP (noise needs ~700 bytes per
            // macroblock at QP 0, ~490 at QP 12). The picture is therefore allocated
            // SLICE_BUFFER_FACTOR times taller than the macroblock-aligned frame; only the cropped
            // top (evenWidth x evenHeight, declared in the SPS) is encoded.
            // The encoder only accepts pictures tagged YUV420J; the samples are limited range.
            Picture picture =
                    Picture.createCropped(
                            alignedWidth,
                            alignedHeight * SLICE_BUFFER_FACTOR,
                            ColorSpace.YUV420J,
                            new Rect(0, 0, evenWidth, evenHeight));
            // Escaped slice data (at most 3/2 of the slice buffer) plus parameter sets.
            ByteBuffer buffer =
                    ByteBuffer.allocate(alignedWidth * alignedHeight * SLICE_BUFFER_FACTOR * 2 + (1 << 16));
            for (int f = 0; f < frames.frameCount(); f++) {
                observer.beforeFrame(f);
                rgbToYuv420(frames.rgbView(f), width, height, alignedWidth, alignedHeight, picture);
                buffer.clear();
                VideoEncoder.EncodedFrame encoded = encoder.encodeFrame(picture, buffer);
                Packet packet =
                        Packet.createPacket(
                                NIOUtils.clone(encoded.getData()),
                                f,
                                fps,
                                1,
                                f,
                                encoded.isKeyFrame() ? Packet.FrameType.KEY : Packet.FrameType.INTER,
                                null);
                track.addFrame(packet);
            }
            muxer.finish();
            channel.force(true);
        }
    }

    /**
     * Converts interleaved RGB to BT.601 limited-range 4:2:0 planes (Y 16..235, Cb/Cr 16..240)
     * covering the top-left {@code fillWidth × fillHeight} of {@code out}, padding beyond the
     * source by repeating its last column/row; chroma is the rounded mean of each 2×2 block. JCodec
     * stores samples as {@code value - 128} in signed bytes.
     */
    static void rgbToYuv420(
            byte[] rgb, int width, int height, int fillWidth, int fillHeight, Picture out) {
        int lumaStride = out.getPlaneWidth(0);
        int chromaStride = out.getPlaneWidth(1);
        byte[] luma = out.getPlaneData(0);
        byte[] cb = out.getPlaneData(1);
        byte[] cr = out.getPlaneData(2);
        for (int cy = 0; cy < fillHeight >> 1; cy++) {
            for (int cx = 0; cx < fillWidth >> 1; cx++) {
                int rSum = 0;
                int gSum = 0;
                int bSum = 0;
                for (int dy = 0; dy < 2; dy++) {
                    int y = 2 * cy + dy;
                    int srcRow = Math.min(y, height - 1) * width;
                    for (int dx = 0; dx < 2; dx++) {
                        int x = 2 * cx + dx;
                        int s = (srcRow + Math.min(x, width - 1)) * 3;
                        int r = rgb[s] & 0xFF;
                        int g = rgb[s + 1] & 0xFF;
                        int b = rgb[s + 2] & 0xFF;
                        rSum += r;
                        gSum += g;
                        bSum += b;
                        int yValue = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
                        luma[y * lumaStride + x] = (byte) (yValue - 128);
                    }
                }
                // Sums of four pixels: >> 10 is the /256 of the BT.601 formula and the /4 mean.
                int cbValue = ((-38 * rSum - 74 * gSum + 112 * bSum + 512) >> 10) + 128;
                int crValue = ((112 * rSum - 94 * gSum - 18 * bSum + 512) >> 10) + 128;
                cb[cy * chromaStride + cx] = (byte) (cbValue - 128);
                cr[cy * chromaStride + cx] = (byte) (crValue - 128);
            }
        }
    }

    /** JCodec's encoder with a constant QP and an SPS that declares BT.601 limited range. */
    private static final class TaggedH264Encoder extends H264Encoder {
        TaggedH264Encoder(int qp) {
            super(new ConstantQp(qp));
        }

        @Override
        public SeqParameterSet initSPS(Size size) {
            SeqParameterSet sps = super.initSPS(size);
            VUIParameters vui = new VUIParameters();
            vui.videoSignalTypePresentFlag = true;
            vui.videoFormat = VIDEO_FORMAT_UNSPECIFIED;
            vui.videoFullRangeFlag = false;
            vui.colourDescriptionPresentFlag = true;
            vui.colourPrimaries = SMPTE_170M;
            vui.transferCharacteristics = SMPTE_170M;
            vui.matrixCoefficients = SMPTE_170M;
            sps.vuiParams = vui;
            return sps;
        }
    }

    /**
     * Rate control that starts every macroblock (I and P frames alike) at one QP, raising it only
     * for a macroblock that would exceed {@link #MAX_MACROBLOCK_BITS}. Keeps each {@code
     * mb_qp_delta} within H.264's -26..25.
     */
    static final class ConstantQp implements RateControl {
        private final int qp;
        private int current;
        private int macroblockStart;

        ConstantQp(int qp) {
            this.qp = qp;
        }

        @Override
        public int startPicture(Size size, int maxSize, SliceType sliceType) {
            current = qp;
            macroblockStart = qp;
            return qp;
        }

        @Override
        public int initialQpDelta() {
            int delta = Math.max(-26, qp - current);
            current += delta;
            macroblockStart = current - delta;
            return delta;
        }

        @Override
        public int accept(int bits) {
            if (bits > MAX_MACROBLOCK_BITS && current < 51 && current - macroblockStart < 25) {
                current++;
                return 1;
            }
            return 0;
        }
    }
}
