package io.github.sora4j.pack;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The packs the jar embeds stay within issue 16's budget of 25 MB in total, so the library jar a
 * consumer downloads stays small; a retrained demo pack that grows past it fails here, not in review.
 */
class EmbeddedPacksSizeTest {
    /** Issue 16: the jar's embedded packs are at most 25 MB (decimal) together. */
    static final long BUDGET_BYTES = 25_000_000L;

    @Test
    void theEmbeddedPacksTogetherStayWithin25Megabytes() throws IOException, URISyntaxException {
        URL url = EmbeddedPacksSizeTest.class.getResource("/io/github/sora4j/packs");
        assertThat(url).as("the packs folder on the test classpath").isNotNull();
        assertThat(url.getProtocol()).as("packs read from the build output, not a jar").isEqualTo("file");
        Path packs = Path.of(url.toURI());
        long total;
        try (Stream<Path> files = Files.walk(packs)) {
            total = files.filter(Files::isRegularFile).mapToLong(EmbeddedPacksSizeTest::size).sum();
        }
        assertThat(total).as("bytes of every file under %s", packs)
                .isGreaterThan(1_000_000L)
                .isLessThanOrEqualTo(BUDGET_BYTES);
    }

    @Test
    void theDemoPackIsAmongTheMeasuredPacks() {
        assertThat(EmbeddedPacksSizeTest.class.getResource("/io/github/sora4j/packs/demo/manifest.json"))
                .isNotNull();
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the size of " + file, e);
        }
    }
}
