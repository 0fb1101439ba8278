package io.github.sora4j;

import io.github.sora4j.internal.Finite;
import io.github.sora4j.internal.Npy;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.ModelPackException;
import io.github.sora4j.pack.PackManifest;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Reads a pack's null (unconditional) caption embedding, the second half of the CFG batch, into
 * a Java array: checked for shape and finiteness once, when a {@link VideoPipeline} is built.
 */
final class NullEmbedding {
    private NullEmbedding() {}

    /**
     * Reads and checks the pack's null embedding.
     *
     * @param pack the pack
     * @return the rows, {@code [modelMaxLength or more, captionChannels]} row-major
     * @throws ModelPackException if the file cannot be read, has the wrong shape or holds a
     *     non-finite value
     */
    static float[] read(ModelPack pack) {
        PackManifest.Stdit s = pack.manifest().stdit();
        Path file = pack.resolve(s.nullEmbedding());
        try {
            Npy.Array a = Npy.read(file);
            long[] shape = a.shape();
            if (shape.length != 2 || shape[0] < pack.manifest().text().modelMaxLength()
                    || shape[1] != s.captionChannels()) {
                throw new ModelPackException("null embedding " + file + " has shape "
                        + java.util.Arrays.toString(shape) + ", expected ["
                        + pack.manifest().text().modelMaxLength() + ", " + s.captionChannels()
                        + "]");
            }
            float[] values = a.toFloats();
            if (!Finite.all(values)) {
                int i = 0;
                while (Float.isFinite(values[i])) {
                    i++;
                }
                throw new ModelPackException("null embedding " + file + " holds a non-finite value"
                        + " (" + values[i] + " at index " + i + "): the pack is broken; re-export"
                        + " it");
            }
            return values;
        } catch (IOException e) {
            throw new ModelPackException("cannot read null embedding " + file, e);
        }
    }
}
