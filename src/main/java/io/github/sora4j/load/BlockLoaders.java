package io.github.sora4j.load;

import io.github.sora4j.pack.ModelPack;

/** Factories of the built-in {@link BlockLoader}s. */
public final class BlockLoaders {
    private BlockLoaders() {}

    /**
     * Loads each block once and keeps everything resident.
     *
     * @param pack the pack
     * @return a new loader, owned by the caller
     */
    public static BlockLoader resident(ModelPack pack) {
        return new ResidentBlockLoader(pack);
    }
}
