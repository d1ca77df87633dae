/**
 * Node's own stat bindings, the fast path of the per-file stat calls (fs.statSync and fs.fstatSync
 * are these calls plus a Stats object: BigInts or Dates per field, ~1–1.5 µs and most of a stat's
 * garbage). Like msgpackr's native path: opt-in (Options.fastStat: true, which the CLI and the
 * server set unless IMAGE_SIDECAR_FAST_STAT=off: a library calls no internal binding of its host's
 * unless asked), the pure path always there, and each binding trusted only after it
 * gave what the pure call gave for one path or descriptor in this process: a Node whose binding
 * lays its numbers out otherwise is caught there (test/identity-fast-stat.test.ts,
 * test/stat-binding.test.ts).
 *
 * The bindings fill one shared typed array (BigInt64Array with bigints, else Float64Array): dev,
 * mode, nlink, uid, gid, rdev, blksize, ino, size, blocks, then atime, mtime, ctime, birthtime as
 * seconds and ns.
 */
import { closeSync, fstatSync, openSync, statSync } from 'node:fs';

export const F_DEV = 0;
export const F_MODE = 1;
export const F_INO = 7;
export const F_SIZE = 8;
export const F_MTIME_S = 12;
export const F_CTIME_S = 14;
export const F_CTIME_NS = 15;

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;

/** (A path as a string or as its bytes: the binding takes either, as fs.statSync does.) */
export type BindingStat = (path: string | Uint8Array, useBigint: true, req: undefined, throwIfNoEntry: false) => BigInt64Array | undefined;
export type BindingFstat = {
  (fd: number, useBigint: true, req: undefined, shouldThrow: false): BigInt64Array;
  (fd: number, useBigint: false, req: undefined, shouldThrow: false): Float64Array;
};

export type Trust = 'unknown' | 'yes' | 'no';

/**
 * Is --pending-deprecation on? Node takes it spelled with underscores (`--pending_deprecation`) and
 * with a value (`--pending-deprecation=true`), on the command line or in NODE_OPTIONS, and from
 * NODE_PENDING_DEPRECATION=1; under any of them it wraps process.binding in a deprecation warning
 * (its name is then no longer `binding`): that is checked too, whatever turned it on.
 */
function pendingDeprecation(): boolean {
  const flag = /(?:^|\s)--pending[-_]deprecation(?:[=\s]|$)/;
  if (process.execArgv.some((a) => flag.test(a)) || flag.test(process.env.NODE_OPTIONS ?? '') || process.env.NODE_PENDING_DEPRECATION === '1') return true;
  const b = (process as unknown as { binding?: unknown }).binding;
  return typeof b !== 'function' || b.name !== 'binding';
}

/**
 * The binding's function `name`, or null where it must not run: no `process.binding` (removed, or
 * refused by the permission model), or `--pending-deprecation`, under which it would print a
 * deprecation warning (DEP0111 is documentation-only otherwise).
 */
function bindingFn<T>(name: 'stat' | 'fstat'): T | null {
  if (pendingDeprecation() || !callsAsWeDo(name)) return null;
  try {
    const binding = (process as unknown as { binding(name: string): Record<string, unknown> }).binding('fs');
    const fn = binding[name];
    return typeof fn === 'function' ? (fn.bind(binding) as T) : null;
  } catch {
    return null;
  }
}

/**
 * Does this Node call the binding as we do? Since Node 20's sync-error rework (nodejs/node#49593,
 * #49868) the fourth argument says whether to throw, and errors are thrown from C++; before it,
 * the fourth argument was a context object the binding wrote the error into, and `false` there
 * could crash the process on the first error (a file deleted between the walk and its check). So
 * the fast path runs only where fs's own function makes exactly the call we make; anywhere else
 * (an older Node 20, a later one that calls the binding otherwise) the pure path runs.
 */
function callsAsWeDo(name: 'stat' | 'fstat'): boolean {
  const source = String(name === 'stat' ? statSync : fstatSync).replace(/\s+/g, ' ');
  return name === 'stat'
    ? source.includes('binding.stat( pathModule.toNamespacedPath(path), options.bigint, undefined, options.throwIfNoEntry, )') || source.includes('binding.stat(pathModule.toNamespacedPath(path), options.bigint, undefined, options.throwIfNoEntry)')
    : source.includes('binding.fstat(fd, options.bigint, undefined, false)');
}

export function bindingStat(): BindingStat | null {
  return bindingFn<BindingStat>('stat');
}

/** The descriptor stat, once per process, and whether it is trusted yet. */
let fstatFast: { fn: BindingFstat | null; trusted: Trust } | null = null;

/**
 * The size of the regular file open at `fd`, or -1 when it is not a regular file (a FIFO, a
 * folder, a device): what a read needs of its descriptor's stat. Throws as fs.fstatSync throws.
 * `fast: false`: fs.fstatSync only.
 */
export function regularFileSize(fd: number, fast = true): number {
  const state = fstatBinding();
  if (fast && state.trusted === 'yes') {
    const v = state.fn!(fd, false, undefined, false);
    return (v[F_MODE] & S_IFMT) === S_IFREG ? v[F_SIZE] : -1;
  }
  const st = fstatSync(fd);
  const size = st.isFile() ? st.size : -1;
  if (fast && state.trusted === 'unknown' && state.fn !== null) checkFstat(state, fd);
  return size;
}

const NS_PER_S = 1_000_000_000n;

/** A time of a bigint binding array in ns: its seconds at `secondsAt`, its ns in the next field (F_MTIME_S, F_CTIME_S). */
export function timeNs(v: BigInt64Array, secondsAt: number): bigint {
  return v[secondsAt] * NS_PER_S + v[secondsAt + 1];
}

/** `timeNs` the other way: a time in ns (fs.fstatSync's) into `v` as the binding lays it out (seconds floored, 0 ≤ ns < 10^9). */
export function setTimeNs(v: BigInt64Array, secondsAt: number, ns: bigint): void {
  const part = ((ns % NS_PER_S) + NS_PER_S) % NS_PER_S;
  v[secondsAt] = (ns - part) / NS_PER_S;
  v[secondsAt + 1] = part;
}

/**
 * Decide whether the descriptor stat is trusted, on `fd`: when it gives what fs.fstatSync gives in
 * both of its forms, whichever user asks first (one trust for both): the number form's mode,
 * device, inode and size (what regularFileSize reads) and the bigint form's mode and identity
 * (what identity.ts IdentityScratch.fstat reads, the index entries' key). A binding right in one
 * form is not thereby right in the other.
 */
export function checkFstat(state: { fn: BindingFstat | null; trusted: Trust }, fd: number): void {
  let same = false;
  try {
    const fn = state.fn!;
    const st = fstatSync(fd);
    const v = fn(fd, false, undefined, false);
    same = v[F_MODE] === st.mode && v[F_INO] === st.ino && v[F_SIZE] === st.size && v[F_DEV] === st.dev;
    if (same) {
      const bs = fstatSync(fd, { bigint: true });
      const b = fn(fd, true, undefined, false);
      same = b[F_MODE] === bs.mode && b[F_DEV] === bs.dev && b[F_INO] === bs.ino && b[F_SIZE] === bs.size &&
        timeNs(b, F_MTIME_S) === bs.mtimeNs && timeNs(b, F_CTIME_S) === bs.ctimeNs;
    }
  } catch {
    same = false;
  }
  state.trusted = same ? 'yes' : 'no';
}

/** The descriptor stat's function when it may run (for identity.ts: the same trust, the bigint form). */
export function fstatBinding(): { fn: BindingFstat | null; trusted: Trust } {
  return (fstatFast ??= { fn: bindingFn<BindingFstat>('fstat'), trusted: 'unknown' });
}

/** Tests: forget whether the descriptor stat was trusted, or give it another function. */
export function resetFstatForTests(state: Trust = 'unknown', fn?: BindingFstat | null): void {
  fstatFast = { fn: fn === undefined ? bindingFn<BindingFstat>('fstat') : fn, trusted: state };
}

/** Whether reads' fstat takes the fast path here (`doctor`): when nothing decided it yet, a descriptor of `probePath` is stat'ed both ways. */
export function fstatStatus(probePath: string): { available: boolean } {
  const state = fstatBinding();
  if (state.fn === null) return { available: false };
  if (state.trusted === 'unknown') {
    const fd = openSync(probePath, 'r');
    try {
      regularFileSize(fd);
    } finally {
      closeSync(fd);
    }
  }
  return { available: state.trusted === 'yes' };
}
