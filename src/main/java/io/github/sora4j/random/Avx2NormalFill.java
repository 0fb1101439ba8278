package io.github.sora4j.random;

/**
 * The Box-Muller step of ATen's AVX2 normal kernel ({@code normal_fill_16_AVX2}) for {@link
 * TorchGenerator}, evaluated one AVX lane at a time in float arithmetic with the logarithm and
 * sine/cosine polynomials of {@code avx_mathfun.h} ({@code log256_ps}, {@code sincos256_ps}) and
 * exactly the fused multiply-adds GCC emitted for the shipped {@code libtorch_cpu}. Stateless.
 */
final class Avx2NormalFill {

  private Avx2NormalFill() {}

  // Constants of avx_mathfun.h, as the float bit patterns found in libtorch_cpu's read-only data.
  private static final float ONE = 1.0f;
  private static final float HALF = 0.5f;
  private static final float TWO_PI = Float.intBitsToFloat(0x40c90fdb); // (float) (2 * pi)
  private static final float MINUS_TWO = -2.0f;
  private static final float MIN_NORM_POS = Float.intBitsToFloat(0x00800000);
  private static final int INV_MANT_MASK = ~0x7f800000;
  private static final float SQRTHF = Float.intBitsToFloat(0x3f3504f3);
  private static final float LOG_P0 = Float.intBitsToFloat(0x3d9021bb);
  private static final float LOG_P1 = Float.intBitsToFloat(0xbdebd1b8);
  private static final float LOG_P2 = Float.intBitsToFloat(0x3def251a);
  private static final float LOG_P3 = Float.intBitsToFloat(0xbdfe5d4f);
  private static final float LOG_P4 = Float.intBitsToFloat(0x3e11e9bf);
  private static final float LOG_P5 = Float.intBitsToFloat(0xbe2aae50);
  private static final float LOG_P6 = Float.intBitsToFloat(0x3e4cceac);
  private static final float LOG_P7 = Float.intBitsToFloat(0xbe7ffffc);
  private static final float LOG_P8 = Float.intBitsToFloat(0x3eaaaaaa);
  private static final float LOG_Q1 = Float.intBitsToFloat(0xb95e8083);
  private static final float LOG_Q2 = Float.intBitsToFloat(0x3f318000);
  private static final float FOPI = Float.intBitsToFloat(0x3fa2f983); // 4 / pi
  private static final float MINUS_DP1 = Float.intBitsToFloat(0xbf490000);
  private static final float MINUS_DP2 = Float.intBitsToFloat(0xb97da000);
  private static final float MINUS_DP3 = Float.intBitsToFloat(0xb3222169);
  private static final float COS_P0 = Float.intBitsToFloat(0x37ccf5ce);
  private static final float COS_P1 = Float.intBitsToFloat(0xbab6061a);
  private static final float COS_P2 = Float.intBitsToFloat(0x3d2aaaa5);
  private static final float SIN_P0 = Float.intBitsToFloat(0xb94ca1f9);
  private static final float SIN_P1 = Float.intBitsToFloat(0x3c08839e);
  private static final float SIN_P2 = Float.intBitsToFloat(0xbe2aaaa3);

  /**
   * {@code normal_fill_16_AVX2} on {@code data[o, o + 16)}, one AVX lane at a time. Every {@code Math.fma} below stands
   * where GCC turned a multiply and an add of {@code avx_mathfun.h} into one {@code vfmadd}/{@code vfnmadd}/
   * {@code vfmsub} instruction in the shipped library; every plain operation is a separate instruction there.
   */
  static void fill16(float[] data, int o, float mean, float std) {
    for (int j = 0; j < 8; j++) {
      float u1 = ONE - data[o + j];
      float u2 = data[o + j + 8];
      float radius = (float) Math.sqrt(log256(u1) * MINUS_TWO);
      float theta = TWO_PI * u2;

      // sincos256_ps(theta)
      int thetaBits = Float.floatToRawIntBits(theta);
      int signSin = thetaBits & 0x80000000;
      float x = Float.intBitsToFloat(thetaBits & 0x7fffffff);
      int q = (cvtt(x * FOPI) + 1) & ~1;
      float yq = (float) q;
      int swapSignSin = (q & 4) << 29;
      boolean sinPolyFirst = (q & 2) == 0;
      x = Math.fma(yq, MINUS_DP1, x);
      x = Math.fma(yq, MINUS_DP2, x);
      x = Math.fma(yq, MINUS_DP3, x);
      int signCos = (~(q - 2) & 4) << 29;
      signSin ^= swapSignSin;
      float z = x * x;

      float yc = Math.fma(COS_P0, z, COS_P1);
      yc = Math.fma(yc, z, COS_P2);
      float halfZ = z * HALF;
      yc = z * yc;
      yc = Math.fma(yc, z, -halfZ);
      yc = yc + ONE;

      float ys = Math.fma(SIN_P0, z, SIN_P1);
      ys = Math.fma(ys, z, SIN_P2);
      ys = z * ys;
      ys = Math.fma(ys, x, x);

      float ysin2 = sinPolyFirst ? ys : 0.0f;
      float ysin1 = sinPolyFirst ? 0.0f : yc;
      ys = ys - ysin2;
      yc = yc - ysin1;
      float sin = flipSign(ysin1 + ysin2, signSin);
      float cos = flipSign(yc + ys, signCos);

      data[o + j] = Math.fma(radius * cos, std, mean);
      data[o + j + 8] = Math.fma(radius * sin, std, mean);
    }
  }

  /** {@code log256_ps} for one lane, with the fusions of the shipped binary. */
  private static float log256(float in) {
    boolean invalid = in <= 0.0f;
    float x = in > MIN_NORM_POS ? in : MIN_NORM_POS; // _mm256_max_ps(in, min_norm_pos)
    int bits = Float.floatToRawIntBits(x);
    int exponent = (bits >>> 23) - 0x7f;
    x = Float.intBitsToFloat((bits & INV_MANT_MASK) | Float.floatToRawIntBits(HALF));
    float e = (float) exponent + ONE;
    boolean small = x < SQRTHF;
    float tmp = small ? x : 0.0f;
    x = x - ONE;
    e = e - (small ? ONE : 0.0f);
    float eq1 = e * LOG_Q1;
    x = tmp + x;

    float y = Math.fma(LOG_P0, x, LOG_P1);
    y = Math.fma(y, x, LOG_P2);
    y = Math.fma(y, x, LOG_P3);
    y = Math.fma(y, x, LOG_P4);
    y = Math.fma(y, x, LOG_P5);
    y = Math.fma(y, x, LOG_P6);
    y = Math.fma(y, x, LOG_P7);
    y = Math.fma(y, x, LOG_P8);
    float z = x * x;
    y = x * y;
    y = Math.fma(y, z, eq1);
    y = Math.fma(-z, HALF, y);
    x = x + y;
    x = Math.fma(e, LOG_Q2, x);
    return invalid ? Float.intBitsToFloat(-1) : x;
  }

  /** {@code _mm256_cvttps_epi32}: truncation, with 0x80000000 for NaN and out-of-range values. */
  private static int cvtt(float v) {
    return (v >= 0x1p31f || v < -0x1p31f || Float.isNaN(v)) ? Integer.MIN_VALUE : (int) v;
  }

  private static float flipSign(float v, int signMask) {
    return Float.intBitsToFloat(Float.floatToRawIntBits(v) ^ signMask);
  }
}
