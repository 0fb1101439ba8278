package io.github.sora4j.cli;

import io.github.sora4j.GenerationRequest;
import picocli.CommandLine.Option;

/** {@code --frames} and {@code --size}, shared by {@code generate} and {@code plan}. */
final class SizeOptions {
    /** Frames and size with the built-in demo pack, which is quick at them. */
    static final int DEMO_FRAMES = 17;
    /** Width and height with the built-in demo pack. */
    static final int DEMO_SIZE = 64;

    @Option(names = "--frames", paramLabel = "N", description = "Pixel frames (default: "
            + GenerationRequest.DEFAULT_FRAMES + ", " + DEMO_FRAMES + " with the demo pack).")
    Integer frames;

    @Option(names = "--size", paramLabel = "WxH", converter = Choices.SizeConverter.class,
            description = "Width x height in pixels, multiples of 8 (default: "
                    + GenerationRequest.DEFAULT_SIZE + "x" + GenerationRequest.DEFAULT_SIZE + ", "
                    + DEMO_SIZE + "x" + DEMO_SIZE + " with the demo pack).")
    Choices.Size size;

    int frames(boolean demo) {
        return frames != null ? frames : demo ? DEMO_FRAMES : GenerationRequest.DEFAULT_FRAMES;
    }

    Choices.Size size(boolean demo) {
        int s = demo ? DEMO_SIZE : GenerationRequest.DEFAULT_SIZE;
        return size != null ? size : new Choices.Size(s, s);
    }
}
