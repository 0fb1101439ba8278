package io.github.sora4j.random;

import io.github.sora4j.InvalidConfigurationException;
import java.util.Arrays;

/**
 * A pure-Java copy of PyTorch's CPU random generator ({@code at::CPUGeneratorImpl}) that reproduces
 * {@code torch.manual_seed(seed); torch.randn(shape)} (float32, CPU) bit for bit.
 *
 * <p>Each instance owns its state; nothing is global or shared, so two instances with the same seed produce the same
 * sequence no matter how calls on other instances interleave. An instance is not thread-safe.
 *
 * <h2>What is reproduced</h2>
 *
 * <ul>
 *   <li><b>Seeding.</b> {@link #manualSeed(long)} behaves like {@code torch.manual_seed(s)} /
 *       {@code torch.Generator().manual_seed(s)}: the seed is taken as an unsigned 64-bit value (a negative Python
 *       seed is its two's complement, so {@code -1} equals {@code 2^64-1}), only its low 32 bits initialise the
 *       Mersenne Twister (so {@code 2^32 + 5} and {@code 5} give the same stream), and the cached normal sample is
 *       dropped.
 *   <li><b>Raw words.</b> {@link #nextUInt32()} is {@code at::mt19937} (the standard MT19937 with the
 *       {@code init_genrand} seeding); {@link #random64()} is {@code (first << 32) | second}.
 *   <li><b>{@link #randn(long...)}</b> with at least 16 elements follows {@code normal_fill_AVX2} of ATen's
 *       {@code native/cpu/DistributionTemplates.h}: it draws one float uniform per element, {@code (w & 0xFFFFFF) *
 *       2^-24} from one 32-bit word {@code w}; Box-Muller transforms blocks of 16 (element {@code j} pairs with
 *       {@code j + 8}; {@code u1 = 1 - data[j]}, cosine into {@code j}, sine into {@code j + 8}); and when the count is
 *       not a multiple of 16 it draws 16 fresh uniforms for the last 16 positions and transforms them again. The
 *       logarithm, sine and cosine are the Cephes-style polynomials of {@code avx_mathfun.h} ({@code log256_ps},
 *       {@code sincos256_ps}), evaluated here lane by lane in float arithmetic with exactly the fused multiply-adds
 *       that GCC emitted for the AVX2 build of {@code libtorch_cpu} (it contracted most multiply/add pairs of those
 *       intrinsics into FMA instructions).
 *   <li><b>{@link #randn(long...)}</b> with fewer than 16 elements follows the scalar path:
 *       {@code at::normal_distribution<double>}, i.e. double Box-Muller from two 53-bit uniforms (four words), whose
 *       sine half is cached in the generator and returned by the next scalar draw; the result is rounded to float.
 *       The vectorised path neither reads nor clears that cache.
 * </ul>
 *
 * <h2>Which torch kernel this matches</h2>
 *
 * <p>Checked against Debian's torch 1.13.1 (the Python reference) on an x86-64 CPU with AVX2 and AVX-512, where ATen
 * runs its AVX2 kernel; forcing {@code ATEN_CPU_CAPABILITY=avx512} gives identical bits, and so does DJL's libtorch
 * 2.7.1 on the same machine (default, {@code avx2} and {@code avx512} capabilities). The float logarithm and the
 * sine/cosine were compared with torch for all 2^24 possible uniforms each, without a single differing bit. It does
 * <em>not</em> match torch running with {@code ATEN_CPU_CAPABILITY=default} (or on a CPU without AVX2): that scalar
 * {@code normal_fill} uses the C library's {@code logf}/{@code cosf}/{@code sinf} and differs in the last bits of about
 * 39% of the values. Another torch build may also differ if its compiler fused other operations.
 *
 * <p>The double-precision scalar path uses {@link StrictMath}; it could differ from glibc's {@code log}/{@code sin}/
 * {@code cos} by an ulp of a double in rare cases, which after rounding to float almost never shows (none did in
 * 800,000 values compared).
 *
 * <p>The AVX2 kernel's lane arithmetic lives in the package-private {@code Avx2NormalFill}.
 */
public final class TorchGenerator {

  /** The seed of a fresh {@code torch.Generator()} and of torch's default CPU generator. */
  public static final long DEFAULT_SEED = 67280421310721L;

  private static final int STATE_N = 624;
  private static final int STATE_M = 397;
  private static final int MATRIX_A = 0x9908b0df;
  private static final int UPPER_MASK = 0x80000000;
  private static final int LOWER_MASK = 0x7fffffff;

  private final int[] state = new int[STATE_N];
  private int left;
  private int next;
  private long seed;
  private boolean hasCachedNormal;
  private double cachedNormal;

  /** Creates a generator seeded with {@link #DEFAULT_SEED}, like {@code torch.Generator()}. */
  public TorchGenerator() {
    this(DEFAULT_SEED);
  }

  /**
   * Creates a generator in the state of {@code torch.Generator().manual_seed(seed)}.
   *
   * @param seed the seed, read as an unsigned 64-bit value (negative values are what torch makes of negative seeds)
   */
  public TorchGenerator(long seed) {
    manualSeed(seed);
  }

  private TorchGenerator(TorchGenerator other) {
    System.arraycopy(other.state, 0, state, 0, STATE_N);
    left = other.left;
    next = other.next;
    seed = other.seed;
    hasCachedNormal = other.hasCachedNormal;
    cachedNormal = other.cachedNormal;
  }

  /**
   * Reseeds this generator like {@code torch.manual_seed(seed)}: resets the Mersenne Twister from the low 32 bits of
   * {@code seed} and drops the cached normal sample.
   *
   * @param seed the seed, read as an unsigned 64-bit value
   * @return this generator
   */
  public TorchGenerator manualSeed(long seed) {
    this.seed = seed;
    hasCachedNormal = false;
    cachedNormal = 0.0;
    state[0] = (int) seed;
    for (int j = 1; j < STATE_N; j++) {
      int prev = state[j - 1];
      state[j] = 1812433253 * (prev ^ (prev >>> 30)) + j;
    }
    left = 1;
    next = 0;
    return this;
  }

  /**
   * Returns the seed last given, like {@code Generator.initial_seed()}.
   *
   * @return the seed as an unsigned 64-bit value held in a {@code long} (see {@link Long#toUnsignedString(long)})
   */
  public long initialSeed() {
    return seed;
  }

  /**
   * Returns an independent copy of this generator, including the cached normal sample.
   *
   * @return a new generator in the same state
   */
  public TorchGenerator copy() {
    return new TorchGenerator(this);
  }

  /**
   * Returns the next 32-bit output of the Mersenne Twister ({@code CPUGeneratorImpl::random()}).
   *
   * @return the 32 bits; read them as unsigned with {@link Integer#toUnsignedLong(int)}
   */
  public int nextUInt32() {
    if (--left == 0) {
      refill();
    }
    int y = state[next++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y;
  }

  /**
   * Returns {@code CPUGeneratorImpl::random64()}: two 32-bit outputs, the first in the high half.
   *
   * @return the 64 bits
   */
  public long random64() {
    long hi = Integer.toUnsignedLong(nextUInt32());
    long lo = Integer.toUnsignedLong(nextUInt32());
    return (hi << 32) | lo;
  }

  private void refill() {
    int[] s = state;
    int k = 0;
    for (; k < STATE_N - STATE_M; k++) {
      s[k] = s[k + STATE_M] ^ twist(s[k], s[k + 1]);
    }
    for (; k < STATE_N - 1; k++) {
      s[k] = s[k + STATE_M - STATE_N] ^ twist(s[k], s[k + 1]);
    }
    s[STATE_N - 1] = s[STATE_M - 1] ^ twist(s[STATE_N - 1], s[0]);
    left = STATE_N;
    next = 0;
  }

  private static int twist(int u, int v) {
    int mixed = (u & UPPER_MASK) | (v & LOWER_MASK);
    return (mixed >>> 1) ^ ((v & 1) != 0 ? MATRIX_A : 0);
  }

  /**
   * Returns a float uniform in [0, 1) like {@code at::uniform_real_distribution<float>(0, 1)}: the low 24 bits of one
   * 32-bit output times 2^-24.
   *
   * @return the uniform sample
   */
  public float nextUniformFloat() {
    return (nextUInt32() & 0xFFFFFF) * 0x1p-24f;
  }

  /**
   * Returns a double uniform in [0, 1) like {@code at::uniform_real_distribution<double>(0, 1)}: the low 53 bits of
   * {@link #random64()} times 2^-53.
   *
   * @return the uniform sample
   */
  public double nextUniformDouble() {
    return (random64() & ((1L << 53) - 1)) * 0x1p-53;
  }

  /**
   * Returns one standard normal sample like {@code at::normal_distribution<double>(0, 1)}, the scalar path of
   * {@code torch.randn} for fewer than 16 elements. Box-Muller yields two samples; the second is cached in this
   * generator and returned by the next call.
   *
   * @return the sample in double precision (torch rounds it to the tensor's dtype)
   */
  public double nextStandardNormalDouble() {
    if (hasCachedNormal) {
      hasCachedNormal = false;
      return cachedNormal;
    }
    double u1 = nextUniformDouble();
    double u2 = nextUniformDouble();
    double r = StrictMath.sqrt(-2.0 * StrictMath.log(1.0 - u2));
    double theta = 2.0 * Math.PI * u1;
    cachedNormal = r * StrictMath.sin(theta);
    hasCachedNormal = true;
    return r * StrictMath.cos(theta);
  }

  /**
   * Returns {@code torch.randn(shape)} (float32, CPU) for the current state, advancing it exactly as torch does.
   *
   * @param shape the dimensions (none means a scalar, one element)
   * @return the values in row-major (contiguous) order
   * @throws InvalidConfigurationException if a dimension is negative or the element count exceeds an array's capacity
   */
  public float[] randn(long... shape) {
    long count = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new InvalidConfigurationException("negative dimension in " + Arrays.toString(shape));
      }
      count = d == 0 ? 0 : Math.multiplyExact(count, d);
      if (count > Integer.MAX_VALUE - 8) {
        throw new InvalidConfigurationException("too many elements for a float[]: " + Arrays.toString(shape));
      }
    }
    float[] out = new float[(int) count];
    randnInto(out, 0, out.length);
    return out;
  }

  /**
   * Fills {@code dst[offset, offset + count)} with what {@code torch.randn(count)} would return, advancing the state
   * the same way.
   *
   * @param dst the destination
   * @param offset the first index written
   * @param count the number of values, as the tensor's element count
   */
  public void randnInto(float[] dst, int offset, int count) {
    normalInto(dst, offset, count, 0.0, 1.0);
  }

  /**
   * Fills {@code dst[offset, offset + count)} like {@code torch.empty(count).normal_(mean, std)} (float32, CPU): the
   * vectorised path for {@code count >= 16} (with {@code mean} and {@code std} rounded to float), the scalar double
   * path otherwise.
   *
   * @param dst the destination
   * @param offset the first index written
   * @param count the number of values, as the tensor's element count
   * @param mean the mean
   * @param std the standard deviation, not negative
   */
  public void normalInto(float[] dst, int offset, int count, double mean, double std) {
    if (offset < 0 || count < 0 || offset > dst.length - count) {
      throw new InvalidConfigurationException("offset " + offset + ", count " + count + ", length " + dst.length);
    }
    if (!(std >= 0.0)) {
      throw new InvalidConfigurationException("std must be >= 0: " + std);
    }
    if (count >= 16) {
      normalFill(dst, offset, count, (float) mean, (float) std);
    } else {
      for (int i = 0; i < count; i++) {
        // transformation::normal(val, mean, std) = val * std + mean; the AVX2 build fuses it (exact for std 1, mean 0)
        dst[offset + i] = (float) Math.fma(nextStandardNormalDouble(), std, mean);
      }
    }
  }

  /** {@code normal_fill_AVX2}: uniforms for every element, Box-Muller per 16, the last 16 redrawn when needed. */
  private void normalFill(float[] data, int offset, int size, float mean, float std) {
    for (int i = 0; i < size; i++) {
      data[offset + i] = nextUniformFloat();
    }
    for (int i = 0; i < size - 15; i += 16) {
      Avx2NormalFill.fill16(data, offset + i, mean, std);
    }
    if (size % 16 != 0) {
      int tail = offset + size - 16;
      for (int i = 0; i < 16; i++) {
        data[tail + i] = nextUniformFloat();
      }
      Avx2NormalFill.fill16(data, tail, mean, std);
    }
  }
}
