package io.github.sora4j.testing;

import io.github.sora4j.pack.ModelPack;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Writable copies of the built-in packs, for tests that change, sign or damage one. */
public final class PackDirs {
    private PackDirs() {}

    /**
     * Copies the built-in pack {@code name} ({@code demo}, {@code tiny-random}) into {@code target}.
     *
     * @return {@code target}
     */
    public static Path copyEmbedded(String name, Path target) throws IOException {
        Path source = ModelPack.embedded(name).directory();
        try (Stream<Path> walk = Files.walk(source)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Path t = target.resolve(source.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
        return target;
    }
}
