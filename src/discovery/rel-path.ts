/** Paths relative to a root, POSIX-style, as records and the index name them. */
import { relative, sep } from 'node:path';

function toPosix(p: string): string {
  return sep === '/' ? p : p.split(sep).join('/');
}

/**
 * `p` relative to `base`, POSIX: a prefix cut for paths under `base` (every path the walk makes:
 * joined, so normalised), `path.relative` (two resolves) otherwise. Cached per base.
 */
const relativeFns = new Map<string, (p: string) => string>();
export function relativeTo(base: string): (p: string) => string {
  let fn = relativeFns.get(base);
  if (!fn) {
    const prefix = base.endsWith(sep) ? base : base + sep;
    fn = (p: string) => (p.startsWith(prefix) && !p.includes(`${sep}.`) ? toPosix(p.slice(prefix.length)) : toPosix(relative(base, p)));
    if (relativeFns.size > 16) relativeFns.clear();
    relativeFns.set(base, fn);
  }
  return fn;
}

