package io.github.sora4j.video;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.awt.image.IndexColorModel;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.FileImageOutputStream;
import javax.imageio.stream.ImageOutputStream;

/**
 * GIF and PNG output through {@code javax.imageio}; the only AWT-dependent writer code, kept apart
 * so that MP4 output never loads {@code java.desktop} classes.
 */
final class ImageIoWriters {

    private static final String GIF_METADATA_FORMAT = "javax_imageio_gif_image_1.0";

    private ImageIoWriters() {}

    /** Returns the GIF frame delay in hundredths of a second: {@code max(1, round(100 / fps))}. */
    static int gifDelayHundredths(int fps) {
        return Math.max(1, Math.round(100f / fps));
    }

    /** Writes an endlessly looping GIF89a into a new file at {@code temp}. */
    static void writeGif(
            VideoFrames frames, Path temp, int fps, VideoWriter.FrameObserver observer)
            throws IOException {
        ImageWriter writer = writerFor("gif");
        String delay = Integer.toString(gifDelayHundredths(fps));
        Files.createFile(temp);
        try (RandomAccessFile file = new RandomAccessFile(temp.toFile(), "rw");
                ImageOutputStream stream = new FileImageOutputStream(file)) {
            writer.setOutput(stream);
            writer.prepareWriteSequence(null);
            for (int f = 0; f < frames.frameCount(); f++) {
                observer.beforeFrame(f);
                BufferedImage image = gifImage(frames, f);
                IIOMetadata metadata = gifFrameMetadata(writer, image, delay, f == 0);
                writer.writeToSequence(new IIOImage(image, null, metadata), null);
            }
            writer.endWriteSequence();
            stream.flush();
            file.getFD().sync();
        } finally {
            writer.dispose();
        }
    }

    /** Writes {@code frame_00000.png}, … into the existing empty directory {@code dir}. */
    static void writePngFrames(VideoFrames frames, Path dir, VideoWriter.FrameObserver observer)
            throws IOException {
        ImageWriter writer = writerFor("png");
        try {
            for (int f = 0; f < frames.frameCount(); f++) {
                observer.beforeFrame(f);
                Path path = dir.resolve(VideoWriter.pngFrameName(f));
                Files.createFile(path);
                try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw");
                        ImageOutputStream stream = new FileImageOutputStream(file)) {
                    writer.setOutput(stream);
                    writer.write(frames.toImage(f));
                    stream.flush();
                    file.getFD().sync();
                } finally {
                    writer.reset();
                }
            }
        } finally {
            writer.dispose();
        }
    }

    private static ImageWriter writerFor(String format) throws IOException {
        Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName(format);
        if (!writers.hasNext()) {
            throw new IOException("no ImageIO writer for format '" + format + "' in this JVM");
        }
        return writers.next();
    }

    /**
     * Returns the frame as an exact indexed image when it has at most 256 colours, otherwise as an
     * RGB image that the GIF writer reduces to 256 colours.
     */
    static BufferedImage gifImage(VideoFrames frames, int frame) {
        byte[] rgb = frames.rgbView(frame);
        int pixels = frames.width() * frames.height();
        Map<Integer, Integer> palette = new HashMap<>();
        byte[] indices = new byte[pixels];
        for (int i = 0, s = 0; i < pixels; i++, s += 3) {
            int colour = (rgb[s] & 0xFF) << 16 | (rgb[s + 1] & 0xFF) << 8 | (rgb[s + 2] & 0xFF);
            Integer index = palette.get(colour);
            if (index == null) {
                if (palette.size() == 256) {
                    return frames.toImage(frame);
                }
                index = palette.size();
                palette.put(colour, index);
            }
            indices[i] = (byte) (int) index;
        }
        int size = Math.max(2, palette.size());
        byte[] r = new byte[size];
        byte[] g = new byte[size];
        byte[] b = new byte[size];
        for (Map.Entry<Integer, Integer> e : palette.entrySet()) {
            int colour = e.getKey();
            int index = e.getValue();
            r[index] = (byte) (colour >> 16);
            g[index] = (byte) (colour >> 8);
            b[index] = (byte) colour;
        }
        IndexColorModel model = new IndexColorModel(8, size, r, g, b);
        BufferedImage image =
                new BufferedImage(
                        frames.width(), frames.height(), BufferedImage.TYPE_BYTE_INDEXED, model);
        byte[] data = ((DataBufferByte) image.getRaster().getDataBuffer()).getData();
        System.arraycopy(indices, 0, data, 0, pixels);
        return image;
    }

    private static IIOMetadata gifFrameMetadata(
            ImageWriter writer, BufferedImage image, String delay, boolean first)
            throws IOException {
        IIOMetadata metadata =
                writer.getDefaultImageMetadata(
                        ImageTypeSpecifier.createFromRenderedImage(image), null);
        IIOMetadataNode root = (IIOMetadataNode) metadata.getAsTree(GIF_METADATA_FORMAT);
        IIOMetadataNode descriptor = child(root, "ImageDescriptor");
        descriptor.setAttribute("interlaceFlag", "FALSE");
        if (image.getColorModel() instanceof IndexColorModel palette) {
            // Without an explicit local table, ImageIO's sequence writer maps the indices through
            // its default global palette instead of this image's colours.
            int size = 2;
            while (size < palette.getMapSize()) {
                size <<= 1;
            }
            root.removeChild(child(root, "LocalColorTable"));
            IIOMetadataNode table = new IIOMetadataNode("LocalColorTable");
            root.insertBefore(table, descriptor.getNextSibling());
            table.setAttribute("sizeOfLocalColorTable", Integer.toString(size));
            table.setAttribute("sortFlag", "FALSE");
            for (int i = 0; i < size; i++) {
                int argb = i < palette.getMapSize() ? palette.getRGB(i) : 0;
                IIOMetadataNode entry = new IIOMetadataNode("ColorTableEntry");
                entry.setAttribute("index", Integer.toString(i));
                entry.setAttribute("red", Integer.toString(argb >> 16 & 0xFF));
                entry.setAttribute("green", Integer.toString(argb >> 8 & 0xFF));
                entry.setAttribute("blue", Integer.toString(argb & 0xFF));
                table.appendChild(entry);
            }
        }
        IIOMetadataNode control = child(root, "GraphicControlExtension");
        control.setAttribute("disposalMethod", "none");
        control.setAttribute("userInputFlag", "FALSE");
        control.setAttribute("transparentColorFlag", "FALSE");
        control.setAttribute("delayTime", delay);
        control.setAttribute("transparentColorIndex", "0");
        if (first) {
            IIOMetadataNode extensions = child(root, "ApplicationExtensions");
            IIOMetadataNode loop = new IIOMetadataNode("ApplicationExtension");
            loop.setAttribute("applicationID", "NETSCAPE");
            loop.setAttribute("authenticationCode", "2.0");
            // Sub-block 1, loop count 0 (little-endian) = loop forever.
            loop.setUserObject(new byte[] {1, 0, 0});
            extensions.appendChild(loop);
        }
        metadata.setFromTree(GIF_METADATA_FORMAT, root);
        return metadata;
    }

    private static IIOMetadataNode child(IIOMetadataNode parent, String name) {
        for (int i = 0; i < parent.getLength(); i++) {
            if (parent.item(i) instanceof IIOMetadataNode node && name.equals(node.getNodeName())) {
                return node;
            }
        }
        IIOMetadataNode node = new IIOMetadataNode(name);
        parent.appendChild(node);
        return node;
    }
}
