package io.github.sora4j.random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Compares {@link TorchGenerator} with the reference vectors in {@code src/test/resources/rng/}, written by
 * {@code /usr/bin/python3 src/test/python/gen_rng_vectors.py} from {@code torch.manual_seed(s); torch.randn(shape)}.
 */
class TorchGeneratorTest {

  private static final String DIR = "/rng/";
  private static JsonObject index;

  @BeforeAll
  static void loadIndex() throws IOException {
    try (InputStream in = open("index.json")) {
      index = JsonParser.parseReader(new InputStreamReader(in, StandardCharsets.UTF_8)).getAsJsonObject();
    }
  }

  @Test
  void randnMatchesTorchBitForBitForEverySeedAndShape() {
    int cases = 0;
    long valuesComparedOneByOne = 0;
    long valuesComparedByDigest = 0;
    for (JsonElement element : index.getAsJsonArray("randn")) {
      JsonObject c = element.getAsJsonObject();
      long seed = c.get("seed").getAsLong();
      long[] shape = longs(c.getAsJsonArray("shape"));
      float[] actual = new TorchGenerator(seed).randn(shape);
      String what = "seed " + seed + ", shape " + c.getAsJsonArray("shape");

      assertThat(actual).as(what).hasSize(c.get("count").getAsInt());
      if (c.has("file")) {
        assertBitIdentical(actual, readFloats(c.get("file").getAsString()), what);
        valuesComparedOneByOne += actual.length;
      }
      assertThat(sha256(actual)).as("sha256 of the float32 bytes, " + what).isEqualTo(c.get("sha256").getAsString());
      valuesComparedByDigest += actual.length;
      cases++;
    }
    assertThat(cases).isGreaterThanOrEqualTo(70);
    assertThat(valuesComparedOneByOne).isGreaterThan(40_000);
    assertThat(valuesComparedByDigest).isGreaterThan(600_000);
  }

  @Test
  void randnMatchesTheSimplestTorchValues() {
    // torch.manual_seed(0); torch.randn(16)[:3] -> tensor([-1.1258, -1.1524, -0.2506])
    float[] v = new TorchGenerator(0).randn(16);
    assertThat(v[0]).isCloseTo(-1.1258f, within(1e-4f));
    assertThat(v[1]).isCloseTo(-1.1524f, within(1e-4f));
    assertThat(v[2]).isCloseTo(-0.2506f, within(1e-4f));
  }

  @Test
  void consecutiveCallsOnOneGeneratorMatchTorchIncludingTheCachedScalarSample() {
    JsonObject seq = index.getAsJsonObject("sequence");
    TorchGenerator g = new TorchGenerator(seq.get("seed").getAsLong());
    List<Float> all = new ArrayList<>();
    for (JsonElement n : seq.getAsJsonArray("sizes")) {
      for (float f : g.randn(n.getAsLong())) {
        all.add(f);
      }
    }
    float[] actual = new float[all.size()];
    for (int i = 0; i < actual.length; i++) {
      actual[i] = all.get(i);
    }
    assertBitIdentical(actual, readFloats(seq.get("file").getAsString()), "sequence " + seq.getAsJsonArray("sizes"));
  }

  @Test
  void normalWithMeanAndStdMatchesTorchOnBothPaths() {
    for (JsonElement element : index.getAsJsonArray("normal")) {
      JsonObject c = element.getAsJsonObject();
      int n = c.get("count").getAsInt();
      float[] actual = new float[n + 2];
      new TorchGenerator(c.get("seed").getAsLong())
          .normalInto(actual, 1, n, c.get("mean").getAsDouble(), c.get("std").getAsDouble());
      assertThat(actual[0]).isZero();
      assertThat(actual[n + 1]).isZero();
      float[] inside = Arrays.copyOfRange(actual, 1, n + 1);
      assertBitIdentical(inside, readFloats(c.get("file").getAsString()), "normal_ with " + n + " values");
    }
  }

  @Test
  void rawWordsAreTorchsMersenneTwisterOutputsAcrossStateRefills() {
    int checked = 0;
    for (JsonElement element : index.getAsJsonArray("raw_uint32")) {
      JsonObject r = element.getAsJsonObject();
      long seed = r.get("seed").getAsLong();
      TorchGenerator g = new TorchGenerator(seed);
      int position = 0;
      for (JsonElement w : r.getAsJsonArray("windows")) {
        JsonObject window = w.getAsJsonObject();
        int from = window.get("from").getAsInt();
        while (position < from) {
          g.nextUInt32();
          position++;
        }
        for (JsonElement expected : window.getAsJsonArray("words")) {
          assertThat(Integer.toUnsignedLong(g.nextUInt32()))
              .as("seed %d, word %d", seed, position)
              .isEqualTo(expected.getAsLong());
          position++;
          checked++;
        }
      }
    }
    assertThat(checked).isGreaterThan(100);
    // The reference MT19937 value: the 1st output for seed 5489 is 3499211612.
    assertThat(Integer.toUnsignedLong(new TorchGenerator(5489).nextUInt32())).isEqualTo(3499211612L);
  }

  @Test
  void random64PutsTheFirstWordInTheHighHalf() {
    TorchGenerator words = new TorchGenerator(42);
    long hi = Integer.toUnsignedLong(words.nextUInt32());
    long lo = Integer.toUnsignedLong(words.nextUInt32());
    assertThat(new TorchGenerator(42).random64()).isEqualTo((hi << 32) | lo);
  }

  @Test
  void seedsUseOnlyTheirLow32BitsAndNegativeSeedsWrapLikeTorch() {
    assertThat(new TorchGenerator((1L << 32) + 5).randn(40)).isEqualTo(new TorchGenerator(5).randn(40));
    assertThat(new TorchGenerator(-1).randn(40)).isEqualTo(new TorchGenerator(0xFFFFFFFFL).randn(40));
    assertThat(new TorchGenerator(123456789012L).randn(7))
        .isEqualTo(new TorchGenerator(123456789012L & 0xFFFFFFFFL).randn(7));
    assertThat(new TorchGenerator(-1).initialSeed()).isEqualTo(-1L);
    assertThat(Long.toUnsignedString(new TorchGenerator(-1).initialSeed())).isEqualTo("18446744073709551615");
    assertThat(new TorchGenerator().initialSeed()).isEqualTo(TorchGenerator.DEFAULT_SEED);
  }

  @Test
  void manualSeedResetsTheStreamAndDropsTheCachedSample() {
    TorchGenerator g = new TorchGenerator(3);
    float first = g.randn(1)[0]; // leaves the second Box-Muller value cached
    g.manualSeed(3);
    assertThat(Float.floatToRawIntBits(g.randn(1)[0])).isEqualTo(Float.floatToRawIntBits(first));
  }

  @Test
  void generatorsWithTheSameSeedAreIndependentOfEachOtherAndOfCallOrderOnOtherInstances() {
    TorchGenerator alone = new TorchGenerator(1234);
    float[] expectedA = alone.randn(5);
    float[] expectedB = alone.randn(1, 4, 3, 3);
    float[] expectedC = alone.randn(33);

    TorchGenerator a = new TorchGenerator(1234);
    TorchGenerator b = new TorchGenerator(1234);
    TorchGenerator other = new TorchGenerator(1234);
    other.randn(100); // same seed, used first: must not disturb a or b
    float[] b1 = b.randn(5);
    other.randn(3);
    float[] a1 = a.randn(5);
    float[] a2 = a.randn(1, 4, 3, 3);
    b.nextUInt32(); // b diverges from here on; a must not notice
    float[] a3 = a.randn(33);

    assertThat(a1).isEqualTo(expectedA);
    assertThat(b1).isEqualTo(expectedA);
    assertThat(a2).isEqualTo(expectedB);
    assertThat(a3).isEqualTo(expectedC);
    assertThat(b.randn(33)).isNotEqualTo(expectedC);
  }

  @Test
  void aCopyContinuesExactlyLikeTheOriginalIncludingTheCachedSample() {
    TorchGenerator g = new TorchGenerator(99);
    g.randn(3); // odd count: one sample stays cached
    TorchGenerator copy = g.copy();
    assertThat(copy.randn(5)).isEqualTo(g.randn(5));
    assertThat(copy.randn(50)).isEqualTo(g.randn(50));
  }

  @Test
  void emptyAndScalarShapesBehaveLikeTorch() {
    TorchGenerator g = new TorchGenerator(0);
    assertThat(g.randn(0)).isEmpty();
    assertThat(g.randn(2, 0, 3)).isEmpty();
    float scalar = g.randn()[0];
    assertThat(Float.floatToRawIntBits(scalar)).isEqualTo(Float.floatToRawIntBits(new TorchGenerator(0).randn(1)[0]));
    assertThatThrownBy(() -> g.randn(2, -1)).isInstanceOf(io.github.sora4j.InvalidConfigurationException.class);
    assertThatThrownBy(() -> g.randn(1L << 20, 1L << 20)).isInstanceOf(io.github.sora4j.InvalidConfigurationException.class);
  }

  private static void assertBitIdentical(float[] actual, float[] expected, String what) {
    assertThat(actual.length).as("length, " + what).isEqualTo(expected.length);
    for (int i = 0; i < expected.length; i++) {
      int a = Float.floatToRawIntBits(actual[i]);
      int e = Float.floatToRawIntBits(expected[i]);
      if (a != e) {
        throw new AssertionError(String.format(
            "%s: value %d is %s (0x%08x), torch has %s (0x%08x)", what, i, actual[i], a, expected[i], e));
      }
    }
  }

  private static long[] longs(JsonArray array) {
    long[] out = new long[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).getAsLong();
    }
    return out;
  }

  private static float[] readFloats(String name) {
    try (InputStream in = open(name)) {
      byte[] bytes = in.readAllBytes();
      float[] out = new float[bytes.length / 4];
      ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String sha256(float[] values) {
    ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    buffer.asFloatBuffer().put(values);
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(buffer.array()));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static InputStream open(String name) {
    InputStream in = TorchGeneratorTest.class.getResourceAsStream(DIR + name);
    assertThat(in).as("resource " + DIR + name).isNotNull();
    return in;
  }
}
