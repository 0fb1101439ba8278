package io.github.sora4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.soak.Soak;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random requests and outputs, good and bad, from fixed seeds (40 cases, 300 with {@code
 * -Dsoak=long}) through {@link VideoPipeline#generate(GenerationRequest, ProgressListener,
 * Path)} on the tiny pack: each ends in a {@link Sora4jException} subtype with a short message or
 * a valid video, never another exception type, and the output directory never holds a partial
 * or temporary file.
 */
@Tag("soak")
class RandomRequestPropertyTest {
    private static VideoPipeline pipeline;

    @BeforeAll
    static void open() {
        pipeline = VideoPipeline.builder().pack(ModelPack.embedded("tiny-random")).build();
    }

    @AfterAll
    static void close() {
        pipeline.close();
    }

    static Stream<Long> seeds() {
        return Stream.iterate(1L, s -> s + 1).limit(Soak.count(40, 300));
    }

    private static <T> T pick(Random r, T[] values) {
        return values[r.nextInt(values.length)];
    }

    private static String prompt(Random r) {
        return switch (r.nextInt(9)) {
            case 0 -> "";
            case 1 -> "\u00a0\u2003\u3000";
            case 2 -> "\u200b\t\n";
            case 3 -> "blue ".repeat(20_000);
            case 4 -> "a 🐱 on the ʻāina, «très» 漂亮 \u0007\u0000";
            case 5 -> null;
            default -> pick(r, new String[] {"a red circle moving left", "a blue square moving up",
                "a green triangle moving right slowly"});
        };
    }

    private static int frames(Random r) {
        return r.nextInt(4) == 0 ? pick(r, new Integer[] {0, -3, Integer.MAX_VALUE, 1_000_000})
                : 1 + r.nextInt(24);
    }

    private static int side(Random r) {
        return r.nextInt(5) == 0 ? pick(r, new Integer[] {0, -8, 30, 100_000, Integer.MAX_VALUE})
                : 8 * (1 + r.nextInt(8));
    }

    /** An output path of a random kind, creating what it needs in {@code dir}. */
    private static Path output(Random r, Path dir) throws Exception {
        return switch (r.nextInt(10)) {
            case 0 -> dir.resolve("missing").resolve("v.mp4");
            case 1 -> Files.createDirectories(dir.resolve("dir.mp4"));
            case 2 -> dir.resolve("v.avi");
            case 3 -> dir.resolve("n".repeat(241) + ".gif");
            case 4 -> Files.writeString(dir.resolve("existing.mp4"), "old");
            case 5 -> dir.resolve("frames");
            case 6 -> dir.resolve("v.gif");
            default -> dir.resolve("v.mp4");
        };
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void aRandomRequestEndsInAClearSora4jExceptionOrAValidVideoAndNeverAPartialFile(long seed,
            @TempDir Path dir) throws Exception {
        Random r = new Random(seed);
        Path out = output(r, dir);
        Map<String, String> before = listing(dir);
        String described = "seed " + seed;
        try {
            GenerationRequest request = GenerationRequest.builder(prompt(r)).frames(frames(r))
                    .size(side(r), side(r)).steps(r.nextInt(6) == 0
                            ? pick(r, new Integer[] {0, 1001, Integer.MAX_VALUE}) : 1 + r.nextInt(3))
                    .guidanceScale(r.nextInt(6) == 0 ? pick(r, new Double[] {Double.NaN,
                            Double.POSITIVE_INFINITY, -1.0, 1e6}) : 10 * r.nextDouble())
                    .aestheticScore(r.nextInt(6) == 0 ? pick(r, new Double[] {Double.NaN,
                            Double.NEGATIVE_INFINITY, -1.0, 11.0}) : 6.5)
                    .fps(r.nextInt(8) == 0 ? pick(r, new Integer[] {0, 241}) : 1 + r.nextInt(60))
                    .seed(r.nextLong()).build();
            described = seed + ": " + request.frames() + " frames " + request.width() + "x"
                    + request.height() + ", " + request.steps() + " steps, to " + out.getFileName();
            GenerationResult result = pipeline.generate(request, ProgressListener.NONE, out);
            assertThat(result.cancelled()).isFalse();
            assertValidVideo(out, request.frames());
            // Besides the video (or its frames), the directory is as it was: no temporary file.
            String video = out.getFileName().toString();
            Map<String, String> after = listing(dir);
            after.keySet().removeIf(k -> k.equals(video) || k.startsWith(video + "/"));
            before.keySet().removeIf(k -> k.equals(video) || k.startsWith(video + "/"));
            assertThat(after).as(described).isEqualTo(before);
        } catch (Sora4jException e) {
            assertThat(e.getMessage()).as(described).isNotBlank().hasSizeLessThan(1000);
            assertThat(listing(dir)).as("%s refused (%s): nothing written", described,
                    e.getMessage()).isEqualTo(before);
        } catch (Throwable t) {
            fail("case " + described + " threw " + t.getClass().getName()
                    + ", not a Sora4jException", t);
        }
    }

    private static void assertValidVideo(Path out, int frames) throws Exception {
        String name = out.getFileName().toString();
        if (name.endsWith(".mp4")) {
            byte[] head = Arrays.copyOf(Files.readAllBytes(out), 8);
            assertThat(new String(head, 4, 4, StandardCharsets.US_ASCII)).isEqualTo("ftyp");
        } else if (name.endsWith(".gif")) {
            assertThat(new String(Arrays.copyOf(Files.readAllBytes(out), 6),
                    StandardCharsets.US_ASCII)).isEqualTo("GIF89a");
        } else {
            try (Stream<Path> f = Files.list(out)) {
                assertThat(f.filter(p -> p.getFileName().toString().endsWith(".png")).count())
                        .isEqualTo(frames);
            }
        }
    }

    /** Every entry under dir with its size (directories: their entry count), temp files too. */
    private static Map<String, String> listing(Path dir) throws Exception {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            s.filter(p -> !p.equals(dir)).forEach(p -> {
                try {
                    m.put(dir.relativize(p).toString(), Files.isDirectory(p) ? "dir"
                            : Long.toString(Files.size(p)));
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        }
        return m;
    }
}
