package io.github.sora4j.pack;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The role tags of a {@link ModelPack}'s blocks, checked with each block's code ({@link
 * BlockArchive#check}): at open, either every block carries a tag or none does (a block without
 * one among tagged blocks was put there from another pack); on a load, a block that lost its tag
 * since the open is refused, and a pack exported before tags is warned about once. Thread-safe.
 */
final class RoleTags {
    /** ModelPack's logger: the warning keeps the category it always had. */
    private static final Logger LOG = LoggerFactory.getLogger(ModelPack.class);

    private final Path directory;
    private final PackManifest manifest;
    /** Whether the blocks carry role tags: null until known (a pack opened without hashing). */
    private volatile Boolean tagged;
    private final AtomicBoolean warnedUntagged = new AtomicBoolean();

    RoleTags(Path directory, PackManifest manifest) {
        this.directory = directory;
        this.manifest = manifest;
    }

    /**
     * Checks every block read at open and that all or none carry a tag; remembers which when the
     * bytes were hashed (else a later load could not trust the answer).
     *
     * @param readAtOpen a block's checked bytes, or null where the open does not read it
     * @param hashed whether those bytes were checked against their SHA-256
     * @throws ModelPackException naming the untagged block among tagged ones, or a block's
     *     refused code or wrong role
     */
    void checkAtOpen(Function<BlockInfo, byte[]> readAtOpen, boolean hashed) {
        int withTag = 0;
        BlockInfo untagged = null;
        for (BlockInfo b : manifest.blocks()) {
            byte[] data = readAtOpen.apply(b);
            if (data != null) {
                if (check(b, data, false) != null) {
                    withTag++;
                } else if (untagged == null) {
                    untagged = b;
                }
            }
        }
        if (withTag > 0 && untagged != null) {
            throw new ModelPackException("block " + untagged.name() + " (" + directory.resolve(
                    untagged.file()) + ") has no role tag, but " + withTag + " other block(s) of"
                    + " the pack have one: it was put there from another pack");
        }
        if (hashed) {
            tagged = untagged == null;
        }
    }

    /**
     * Checks a block's code and role tag in its bytes.
     *
     * @param loading whether the bytes are about to be loaded (then a missing tag is refused or
     *     warned about)
     * @return the tag, null if the block has none
     */
    BlockArchive.Tag check(BlockInfo b, byte[] data, boolean loading) {
        BlockArchive.Tag tag = BlockArchive.check(b, directory.resolve(b.file()).toString(), data);
        if (tag == null && loading) {
            if (Boolean.TRUE.equals(tagged)) {
                throw new ModelPackException("block " + b.name() + " (" + directory.resolve(b.file())
                        + ") has no role tag, but the pack's other blocks have one: the file"
                        + " was replaced after the pack was opened");
            }
            if (warnedUntagged.compareAndSet(false, true)) {
                LOG.warn("the blocks of model pack {} carry no role tag (exported before sora4j"
                        + " 0.2); their roles are checked through the manifest only. Add tags"
                        + " with: python3 -m sora4j_export.trust retag {}", manifest.name(),
                        directory);
            }
        }
        return tag;
    }
}
