package io.github.sora4j;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.sora4j.internal.TextEncoder;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.video.VideoFrames;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The embedded default is the trained demo pack: prompts in, matching videos out. A small Java
 * copy of the Python detector (sora4j_export/demo/detect.py) reads the generated frames: the
 * per-frame median is the background, pixels at least 50 RGB levels away from it are the object,
 * their strength-weighted centroids give the direction, their mean colour the colour. The share of
 * matching videos over many prompts and seeds is measured in docs/quality.md; these are two
 * fixed smoke cases.
 */
class DemoPackTest {
    private static VideoPipeline pipeline;

    @BeforeAll
    static void open() {
        pipeline = VideoPipeline.builder().pack(ModelPack.embeddedDefault()).build();
    }

    @AfterAll
    static void close() {
        pipeline.close();
    }

    @Test
    void theEmbeddedDefaultIsTheTrainedDemoPack() {
        assertThat(ModelPack.embeddedDefault().manifest().name()).isEqualTo("demo");
    }

    @Test
    void theReadmePromptGivesARedObjectMovingLeft() {
        Track t = generate("a red circle moving left", 42);
        assertThat(t.foundFrames).isEqualTo(51); // an object in every frame
        assertThat(t.red).isGreaterThan(t.green + 80).isGreaterThan(t.blue + 80);
        assertThat(t.dx).isLessThan(-8.0); // 13 px here; the world moves 10 (slowly) or 22 px
        assertThat(Math.abs(t.dx)).isGreaterThan(Math.abs(t.dy));
    }

    @Test
    void anotherPromptGivesABlueObjectMovingUp() {
        Track t = generate("a blue square moving up slowly on a light background", 42);
        assertThat(t.foundFrames).isEqualTo(51); // an object in every frame
        assertThat(t.blue).isGreaterThan(t.red + 80).isGreaterThan(t.green + 60);
        assertThat(t.dy).isLessThan(-6.0); // 9 px here; 10 px slowly in the world
        assertThat(Math.abs(t.dy)).isGreaterThan(Math.abs(t.dx));
    }

    @Test
    void wordsOutsideTheDemoVocabularyAreReported() {
        try (TextEncoder text = new TextEncoder(ModelPack.embeddedDefault())) {
            assertThat(text.unknownWords("a red circle moving left")).isEmpty();
            // "the" and "dog" are in the tokenizer but not in the words the demo was trained on
            assertThat(text.unknownWords("a crimson dog moving upwards on the beach"))
                    .containsExactly("crimson", "dog", "upwards", "the", "beach");
        }
    }

    /** No frames or size: the demo pack's native request (51 frames at 64×64). */
    private static Track generate(String prompt, long seed) {
        GenerationResult r = pipeline.generate(GenerationRequest.builder(prompt).steps(30)
                .seed(seed).build());
        assertThat(r.frames().frameCount()).isEqualTo(51);
        assertThat(r.frames().width()).isEqualTo(64);
        assertThat(r.frames().height()).isEqualTo(64);
        return Track.of(r.frames());
    }

    /** Centroid track and mean object colour of a video (the detector's method, simplified). */
    static final class Track {
        int foundFrames;
        double dx;
        double dy;
        double red;
        double green;
        double blue;

        static Track of(VideoFrames v) {
            int n = v.frameCount();
            int w = v.width();
            int h = v.height();
            Track t = new Track();
            double[] fs = new double[n];
            double[] xs = new double[n];
            double[] ys = new double[n];
            double[] rgbSum = new double[3];
            double rgbWeight = 0;
            for (int f = 0; f < n; f++) {
                byte[] px = v.rgb(f);
                double[] bg = new double[3];
                for (int c = 0; c < 3; c++) {
                    int[] ch = new int[w * h];
                    for (int i = 0; i < w * h; i++) {
                        ch[i] = px[3 * i + c] & 0xFF;
                    }
                    Arrays.sort(ch);
                    bg[c] = ch[ch.length / 2];
                }
                double sw = 0;
                double sx = 0;
                double sy = 0;
                for (int i = 0; i < w * h; i++) {
                    double r = (px[3 * i] & 0xFF) - bg[0];
                    double g = (px[3 * i + 1] & 0xFF) - bg[1];
                    double b = (px[3 * i + 2] & 0xFF) - bg[2];
                    double s = Math.sqrt(r * r + g * g + b * b);
                    if (s >= 50) {
                        sw += s;
                        sx += s * (i % w);
                        sy += s * (i / w);
                        rgbSum[0] += s * (px[3 * i] & 0xFF);
                        rgbSum[1] += s * (px[3 * i + 1] & 0xFF);
                        rgbSum[2] += s * (px[3 * i + 2] & 0xFF);
                        rgbWeight += s;
                    }
                }
                if (sw > 0) {
                    fs[t.foundFrames] = f;
                    xs[t.foundFrames] = sx / sw;
                    ys[t.foundFrames] = sy / sw;
                    t.foundFrames++;
                }
            }
            if (t.foundFrames >= 2) {
                t.dx = slope(fs, xs, t.foundFrames) * (n - 1);
                t.dy = slope(fs, ys, t.foundFrames) * (n - 1);
            }
            if (rgbWeight > 0) {
                t.red = rgbSum[0] / rgbWeight;
                t.green = rgbSum[1] / rgbWeight;
                t.blue = rgbSum[2] / rgbWeight;
            }
            return t;
        }

        private static double slope(double[] x, double[] y, int n) {
            double mx = 0;
            double my = 0;
            for (int i = 0; i < n; i++) {
                mx += x[i] / n;
                my += y[i] / n;
            }
            double num = 0;
            double den = 0;
            for (int i = 0; i < n; i++) {
                num += (x[i] - mx) * (y[i] - my);
                den += (x[i] - mx) * (x[i] - mx);
            }
            return den == 0 ? 0 : num / den;
        }

        @Override
        public String toString() {
            return String.format("frames %d, d=(%.1f, %.1f), rgb=(%.0f, %.0f, %.0f)", foundFrames, dx,
                    dy, red, green, blue);
        }
    }
}
