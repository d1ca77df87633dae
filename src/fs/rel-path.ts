/**
 * Paths relative to a root, POSIX-style, as records, the index, manifests and quarantine folders
 * name them: one module for making, checking and joining them.
 */
import { join, relative, sep } from 'node:path';

/**
 * Is `rel` a plain relative POSIX path (no '..', '.', empty or absolute parts)? A backslash is a
 * separator only where the platform says so: on POSIX it is an ordinary character of a name
 * (`a\b.json`, copied from Windows), and such an orphan was refused as "outside the root".
 */
export function isSafeRel(rel: string): boolean {
  if (typeof rel !== 'string' || rel === '' || rel.startsWith('/') || rel.includes('\0') || (sep === '\\' && rel.includes('\\'))) return false;
  for (const part of rel.split('/')) if (part === '' || part === '.' || part === '..') return false;
  return true;
}

/** `base` + POSIX `rel`, for the platform. */
export function relJoin(base: string, rel: string): string {
  return join(base, ...rel.split('/'));
}

function toPosix(p: string): string {
  return sep === '/' ? p : p.split(sep).join('/');
}

/** The prefix `relativeTo(base)` cuts off a path under `base` (the index's WebAssembly entry writer cuts the same). */
export function relativePrefix(base: string): string {
  return base.endsWith(sep) ? base : base + sep;
}

/** A path under its base but holding this is given to path.relative: a part starting with '.' ('.' or '..' may follow). */
const DOT_PART = `${sep}.`;

/**
 * `p` relative to `base`, POSIX: a prefix cut for paths under `base` (every path the walk makes:
 * joined, so normalised), `path.relative` (two resolves) otherwise. Cached per base; the last base
 * asked for is answered before the Map (a reading thread asks once per file it makes an entry for).
 */
const relativeFns = new Map<string, (p: string) => string>();
let lastBase: string | null = null; // null before the first call: no base, not even '', is taken for the last one
let lastFn: (p: string) => string = (p) => p;
export function relativeTo(base: string): (p: string) => string {
  if (base === lastBase) return lastFn;
  let fn = relativeFns.get(base);
  if (!fn) {
    const prefix = relativePrefix(base);
    fn = (p: string) => (p.startsWith(prefix) && !p.includes(DOT_PART) ? toPosix(p.slice(prefix.length)) : toPosix(relative(base, p)));
    if (relativeFns.size > 16) relativeFns.clear();
    relativeFns.set(base, fn);
  }
  lastBase = base;
  lastFn = fn;
  return fn;
}

