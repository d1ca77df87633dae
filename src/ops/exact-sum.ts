/**
 * Exactly rounded floating-point sums (Shewchuk's algorithm, as Python's math.fsum): the result
 * does not depend on the order of the terms, so shard sums merge into exactly the unsharded sum.
 * The state is a short list of non-overlapping partials whose exact sum is the exact total.
 */
export class ExactSum {
  private readonly partials: number[];

  constructor(partials: readonly number[] = []) {
    this.partials = [];
    for (const p of partials) this.add(p);
  }

  add(value: number): void {
    const p = this.partials;
    let x = value;
    let i = 0;
    for (let j = 0; j < p.length; j++) {
      let y = p[j];
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) p[i++] = lo;
      x = hi;
    }
    p.length = i;
    p.push(x);
  }

  /** Add another sum (exact: partials are exact terms). */
  merge(other: ExactSum | readonly number[]): void {
    for (const v of other instanceof ExactSum ? other.partials : other) this.add(v);
  }

  /** The partials (finite doubles: JSON keeps them exactly). */
  toJSON(): number[] {
    return [...this.partials];
  }

  /** The exact sum, rounded once (half to even). */
  value(): number {
    const p = this.partials;
    let n = p.length;
    if (n === 0) return 0;
    let hi = p[--n];
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = p[--n];
      hi = x + y;
      const yr = hi - x;
      lo = y - yr;
      if (lo !== 0) break;
    }
    // Correct a half-way case the last addition rounded the wrong way.
    if (n > 0 && ((lo < 0 && p[n - 1] < 0) || (lo > 0 && p[n - 1] > 0))) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
    return hi;
  }
}
