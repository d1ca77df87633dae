/**
 * Node's own fs binding function (`stat` or `fstat`) with one field of its answers moved, in the
 * forms chosen: a binding whose layout changed, for the fast stat paths' trust tests
 * (identity-fast-stat.test.ts, stat-binding.test.ts). The field's index is the binding array's
 * (fs/stat-binding.ts F_*); the ns fields stay below 10^9.
 */
type Answer = BigInt64Array | Float64Array | undefined;

export function lyingBinding(name: 'stat' | 'fstat', field: number, forms: { big: boolean; numbers: boolean } = { big: true, numbers: true }): (...args: unknown[]) => Answer {
  const real = (process as unknown as { binding(n: string): Record<'stat' | 'fstat', (...a: unknown[]) => Answer> }).binding('fs');
  const ns = field === 11 || field === 13 || field === 15 || field === 17;
  return (...args: unknown[]) => {
    const v = real[name](...args);
    if (v === undefined) return v;
    if (v instanceof BigInt64Array) {
      if (!forms.big) return v;
      const c = BigInt64Array.from(v);
      c[field] = ns ? (c[field] + 1n) % 1_000_000_000n : c[field] + 1n;
      return c;
    }
    if (!forms.numbers) return v;
    const c = Float64Array.from(v);
    c[field] = ns ? (c[field] + 1) % 1_000_000_000 : c[field] + 1;
    return c;
  };
}
