/**
 * IEEE 754 binary16 conversions (Node 20 has no Float16Array). Rounding is round-to-nearest-even, like the
 * hardware conversions ggml uses, so encoding is exact and the same on every machine.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits nearest to `value` (round to nearest, ties to even; NaN stays NaN; overflow gives ±inf). */
export function f32ToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;

  if (exp === 0xff) {
    // inf or NaN; keep NaN quiet and non-zero
    return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  }
  // unbiased exponent
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00; // overflow
  if (e >= -14) {
    // normal half: 10 mantissa bits kept, 13 dropped
    let half = ((e + 15) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1; // may carry into exponent: correct
    return sign | half;
  }
  if (e < -25) return sign; // below half the smallest subnormal: rounds to zero
  // subnormal half: value = m * 2^-24, with the implicit leading bit made explicit
  const full = mant | 0x800000; // 24 significant bits, value = full * 2^(e-23)
  const shift = -e - 1; // bits to drop so that the unit is 2^-24: (e - 23) + shift = -24
  let half = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (half & 1) === 1)) half += 1;
  return sign | half;
}

/** The value of binary16 bits. */
export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** `value` rounded to the nearest binary16 value. */
export function roundToF16(value: number): number {
  return f16BitsToF32(f32ToF16Bits(value));
}
