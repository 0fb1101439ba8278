package io.github.sora4j.testing;

import io.github.sora4j.VideoPipeline;
import io.github.sora4j.load.BlockLoaders;
import io.github.sora4j.pack.ModelPack;

/**
 * The built-in tiny-random pack behind a resident pipeline whose loader records every block it
 * hands out, so a test can assert that a refusal came before any block loaded.
 */
public final class CountedTinyPipeline implements AutoCloseable {
    private final ModelPack pack;
    private final VideoPipeline pipeline;
    private CountingBlockLoader loader;

    /** Opens the pack and builds the pipeline (the loader is created by the build). */
    public CountedTinyPipeline() {
        pack = ModelPack.embedded("tiny-random");
        pipeline = VideoPipeline.builder().pack(pack)
                .blockLoader(p -> loader = new CountingBlockLoader(BlockLoaders.resident(p)))
                .build();
    }

    public ModelPack pack() {
        return pack;
    }

    public VideoPipeline pipeline() {
        return pipeline;
    }

    public CountingBlockLoader loader() {
        return loader;
    }

    @Override
    public void close() {
        pipeline.close();
    }
}
