/**
 * Exact category counts without holding a shuffled list: sequential selection sampling.
 * With `remaining[k]` items of kind k still to hand out, the next item is kind k with
 * probability remaining[k] / total. Every kind ends up with exactly its quota, spread
 * uniformly over the stream, in O(kinds) memory — fine for 10^6 items.
 */
import { errors } from '../errors.js';
import type { Rng } from './prng.js';

export class QuotaSampler<K extends string> {
  private readonly kinds: K[];
  private readonly remaining: number[];
  private total: number;

  constructor(quotas: Record<K, number>) {
    this.kinds = Object.keys(quotas) as K[];
    this.remaining = this.kinds.map((k) => quotas[k]);
    this.total = this.remaining.reduce((a, b) => a + b, 0);
  }

  get left(): number {
    return this.total;
  }

  /** The next kind; undefined once every quota is used up. */
  next(rng: Rng): K | undefined {
    if (this.total <= 0) return undefined;
    let x = Math.floor(rng.float() * this.total);
    for (let i = 0; i < this.remaining.length; i++) {
      if (x < this.remaining[i]) {
        this.remaining[i]--;
        this.total--;
        return this.kinds[i];
      }
      x -= this.remaining[i];
    }
    throw errors.internal('quota bookkeeping out of sync');
  }
}

/** Rare categories scale with N but appear at least `min` times once N reaches 50. */
export function rareQuota(n: number, rate: number, min = 1): number {
  if (n < 50) return 0;
  return Math.max(min, Math.round(n * rate));
}
