/** Terminal styling for human summaries: ANSI colours (only when enabled) and aligned lines. */

export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;
const plain = (s: string) => s;

export function makeStyle(color: boolean): Style {
  if (!color) return { bold: plain, dim: plain, green: plain, yellow: plain, red: plain };
  return { bold: wrap(1, 22), dim: wrap(2, 22), green: wrap(32, 39), yellow: wrap(33, 39), red: wrap(31, 39) };
}

/** `label  value` lines with the values in one column. */
export function aligned(rows: readonly (readonly [string, string | number])[], indent = ''): string[] {
  const width = rows.reduce((w, [label]) => Math.max(w, label.length), 0);
  return rows.map(([label, value]) => `${indent}${label.padEnd(width)}  ${value}`);
}

/** "a=1, b=2" for a small count table, largest first then by name (stable). */
export function counts(o: Record<string, number> | undefined): string {
  if (!o) return '-';
  const entries = Object.entries(o).filter(([, n]) => n > 0);
  if (entries.length === 0) return '-';
  entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return entries.map(([k, n]) => `${k} ${n}`).join(', ');
}

/** 1536 → "1.5 KiB". */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
