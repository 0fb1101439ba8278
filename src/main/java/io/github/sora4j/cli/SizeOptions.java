package io.github.sora4j.cli;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.pack.PackManifest;
import picocli.CommandLine.Option;

/** {@code --frames} and {@code --size}, shared by {@code generate} and {@code plan}. */
final class SizeOptions {
    @Option(names = "--frames", paramLabel = "N", description = "Pixel frames (default: the "
            + "pack's native request; 51 with the demo pack, "
            + GenerationRequest.DEFAULT_FRAMES + " with packs that declare none).")
    Integer frames;

    @Option(names = "--size", paramLabel = "WxH", converter = Choices.SizeConverter.class,
            description = "Width x height in pixels, multiples of 8 (default: the pack's native "
                    + "request; 64x64 with the demo pack, " + GenerationRequest.DEFAULT_SIZE + "x"
                    + GenerationRequest.DEFAULT_SIZE + " with packs that declare none).")
    Choices.Size size;

    int frames(PackManifest manifest) {
        if (frames != null && frames < 1) {
            throw new IllegalArgumentException("frames must be >= 1 but was " + frames);
        }
        return frames != null ? frames : manifest.nativeRequest().frames();
    }

    Choices.Size size(PackManifest manifest) {
        PackManifest.Request n = manifest.nativeRequest();
        return size != null ? size : new Choices.Size(n.width(), n.height());
    }
}
