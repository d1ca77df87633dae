/**
 * Seeded pseudo-random numbers for the sample generator: sfc32 seeded through splitmix32.
 * Everything the generator produces (names, timestamps, floats, bytes) comes from here,
 * so the same seed always gives the same library.
 */

const TWO_POW_32 = 4294967296;
const INV_2_32 = 1 / TWO_POW_32;
const INV_2_53 = 1 / 9007199254740992;

/** splitmix32 step: spreads a small or sequential seed over all 32 bits. */
function splitmix32(state: number): number {
  let z = (state + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed` may be any safe integer (negative or above 2^32 included); both halves are mixed in. */
  constructor(seed: number) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    this.a = splitmix32(lo);
    this.b = splitmix32(this.a ^ hi);
    this.c = splitmix32(this.b + 0x632be5ab);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32(); // discard the weakly mixed start
  }

  /** Next unsigned 32-bit integer (sfc32). */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 random bits (cheap; enough for decisions). */
  float(): number {
    return this.u32() * INV_2_32;
  }

  /** Uniform in [0, 1) with all 53 mantissa bits random: prints with full 16–17 digits. */
  double(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) * INV_2_53;
  }

  /** Uniform double in [lo, hi), full precision. */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.double();
  }

  /** Integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)];
  }

  /** Index drawn in proportion to `weights` (non-negative, at least one positive). */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let x = this.float() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i];
      if (x < 0 && weights[i] > 0) return i;
    }
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
    return 0;
  }

  /** Fill `out` with random bytes. */
  bytes(out: Uint8Array): Uint8Array {
    for (let i = 0; i < out.length; i += 4) {
      let v = this.u32();
      for (let k = 0; k < 4 && i + k < out.length; k++, v >>>= 8) out[i + k] = v & 0xff;
    }
    return out;
  }

  /** An independent generator derived from this one (e.g. one per folder or per sidecar). */
  fork(): Rng {
    // 21 + 32 bits: stays a safe integer, so the child seed is exact.
    return new Rng((this.u32() & 0x1fffff) * TWO_POW_32 + this.u32());
  }
}

export function createRng(seed: number): Rng {
  return new Rng(seed);
}
