/**
 * The project's one seeded generator and one hash. Everything is 32-bit integer arithmetic plus exact
 * floating-point sums, so the same seed gives the same numbers on every machine and Node version (no
 * Math.random, no Math.log/Math.cos whose last bits may differ between engines): haystacks, splits, synthetic
 * weights and benchmark inputs are reproducible.
 */

/** FNV-1a hash of a string's UTF-16 code units, as a uint32. */
export function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** A 32-bit seed derived from several parts, so each sample has its own stream. */
export function seedFrom(...parts: (string | number)[]): number {
  return hash32(parts.join("\u0000"));
}

/** splitmix32 step: a well-mixed uint32 from a state, used to seed xoshiro. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** xoshiro128** (Blackman & Vigna), a fast generator with a 128-bit state. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator for `seed`, optionally split into independent streams by `stream` (e.g. a tensor's name). */
  constructor(seed: number, stream = "") {
    const state = { s: (seed >>> 0) ^ hash32(stream) };
    this.a = splitmix32(state);
    this.b = splitmix32(state);
    this.c = splitmix32(state);
    this.d = splitmix32(state);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** The next uint32. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1), a multiple of 2^-32 (exact). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.uniform() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.uniform() * items.length)]!;
  }

  /**
   * Approximately standard normal: the Irwin–Hall sum of 12 uniforms minus 6 (mean 0, variance 1, bounded by
   * ±6). The sum is exact in a double, so the result is bit-for-bit reproducible.
   */
  normal(): number {
    let s = 0;
    for (let i = 0; i < 12; i++) s += this.uniform();
    return s - 6;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
