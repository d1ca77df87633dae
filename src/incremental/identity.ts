/**
 * A file's identity (the incremental index's key of a file, and what convert and save check before
 * they replace or remove a file they read): device, inode, size, mtime and ctime in ns. Any
 * difference means the file may hold other bytes. ctime cannot be set by a writer, so a same-size
 * edit that restores mtime (touch -r, utimes) still changes the identity.
 */
import { lstatSync, statSync, type BigIntStats } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** 5 × u64: dev, ino, size, mtime_ns, ctime_ns (the index stores these 40 bytes per file). */
export const IDENTITY_BYTES = 40;

export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** The identity in a bigint stat. */
export function identityOf(st: BigIntStats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

/** Both the same file with the same bytes as far as the file system says (every field equal). */
export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/**
 * Is `path` still the file read (`readAs`; null: nothing was there and nothing is)? lstat: a link
 * put in its place is another file. What convert checks before it removes or replaces a source,
 * and save before it renames over the sidecar it merged from: a writer that does not take our
 * lock may have replaced it meanwhile.
 */
export function isStillAsRead(path: string, readAs: FileIdentity | null): boolean {
  let now: FileIdentity | null;
  try {
    const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
    now = st === undefined ? null : identityOf(st);
  } catch {
    return false;
  }
  return readAs === null ? now === null : now !== null && sameIdentity(now, readAs);
}

/**
 * stat (following a symlinked sidecar: its content is the target's) with bigint times; null when
 * the file cannot be seen or is not a regular file (the inspection reports why).
 */
export function statIdentity(path: string): FileIdentity | null {
  let st;
  try {
    st = statSync(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    return null;
  }
  if (!st || !st.isFile()) return null;
  return identityOf(st);
}

// Written through a typed array (a store wraps modulo 2^64, as BigInt.asUintN(64) does): no BigInt
// arithmetic per field, which writeBigUInt64LE does. Host order is little-endian (store.ts refuses
// an index on any other host); on a big-endian one the bytes are swapped into place.
const words = new BigUint64Array(5);
const wordBytes = Buffer.from(words.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function writeIdentity(id: FileIdentity, buf: Buffer, offset: number): void {
  words[0] = id.dev;
  words[1] = id.ino;
  words[2] = id.size;
  words[3] = id.mtimeNs;
  words[4] = id.ctimeNs;
  if (!LITTLE_ENDIAN) wordBytes.swap64();
  wordBytes.copy(buf, offset, 0, IDENTITY_BYTES);
}

export function identityBytes(id: FileIdentity): Buffer {
  const b = Buffer.allocUnsafe(IDENTITY_BYTES);
  writeIdentity(id, b, 0);
  return b;
}

/** Same identity (as `identityBytes` encodes it) as the 40 bytes at `offset`: one native compare. */
export function identityEquals(idBytes: Buffer, buf: Buffer, offset: number): boolean {
  return offset + IDENTITY_BYTES <= buf.length && buf.compare(idBytes, 0, IDENTITY_BYTES, offset, offset + IDENTITY_BYTES) === 0;
}

/** stat (following links) of anything there, a folder or a file; null when nothing can be seen. */
export function statIdentityAny(path: string): FileIdentity | null {
  try {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    return st ? identityOf(st) : null;
  } catch {
    return null;
  }
}

/** What a stat found at a path (IdentityScratch.stat). */
export const STAT_NONE = 0;
export const STAT_DIR = 1;
export const STAT_FILE = 2;
/** Something else: a FIFO, a socket, a device. */
export const STAT_OTHER = 3;
export type StatKind = typeof STAT_NONE | typeof STAT_DIR | typeof STAT_FILE | typeof STAT_OTHER;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const NS_PER_S = 1_000_000_000n;

/** Node's own stat binding: fills one shared BigInt64Array (dev, mode, nlink, uid, gid, rdev, blksize, ino, size, blocks, then atime, mtime, ctime, birthtime as seconds and ns). */
type BindingStat = (path: string, useBigint: true, req: undefined, throwIfNoEntry: false) => BigInt64Array | undefined;

/**
 * The fast path's stat function, or null where it must not run: no `process.binding` (removed, or
 * refused by the permission model), or `--pending-deprecation`, under which it would print a
 * deprecation warning (DEP0111 is documentation-only otherwise). Whether it gives what
 * fs.statSync gives is checked on the first paths a scratch stats (IdentityScratch.stat).
 */
function bindingStat(): BindingStat | null {
  if (pendingDeprecation()) return null;
  try {
    const binding = (process as unknown as { binding(name: string): { stat?: unknown } }).binding('fs');
    return typeof binding.stat === 'function' ? (binding.stat as BindingStat).bind(binding) : null;
  } catch {
    return null;
  }
}

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

/** The binding, once per process: 'unknown' until a path's stat agreed (or not) with fs.statSync's. */
let fastStat: { fn: BindingStat | null; trusted: 'unknown' | 'yes' | 'no' } | null = null;

/**
 * A stat's identity laid out as the index stores it, in one reused buffer: the hot loops of warm
 * runs (folder records' file checks, a tree memo's checks) compare it with stored bytes without an
 * object per file. `bytes` holds the last one loaded.
 *
 * `stat(path)` is the hot loops' stat: a warm run of the bench library makes ~18,700 of them, and
 * fs.statSync's BigIntStats (26 BigInts and four Dates each) was ~2.5 µs of its ~4.5 µs a path and
 * most of the run's garbage. Its fast path reads Node's own stat binding instead (the numbers
 * statSync builds its object from; a warm validate's checks 87 → 62 ms). Like msgpackr's native
 * path: optional (`fast: false` turns it off: IMAGE_SIDECAR_INDEX_FAST_STAT=off in the CLI), the
 * pure path always there, and trusted only after a path's stat gave the same kind and identity
 * both ways in this process (a Node whose binding lays its numbers out otherwise is caught there:
 * identity-fast-stat.test.ts); `fastUsed` says which one ran.
 */
export class IdentityScratch {
  private readonly words = new BigUint64Array(5);
  readonly bytes = Buffer.from(this.words.buffer);
  private readonly binding: BindingStat | null;
  /** The fast path answered at least one stat of this scratch. */
  fastUsed = false;

  constructor(opts: { fast?: boolean } = {}) {
    if (opts.fast === false) this.binding = null;
    else {
      fastStat ??= { fn: bindingStat(), trusted: 'unknown' };
      this.binding = fastStat.trusted === 'no' ? null : fastStat.fn;
    }
  }

  /** Does the last identity `stat` loaded equal the 40 bytes at `at` of `buf`? */
  equals(buf: Uint8Array, at: number): boolean {
    return this.bytes.compare(buf, at, at + IDENTITY_BYTES) === 0;
  }

  /**
   * stat `path` (following links): what is there, its identity in `bytes` (unless STAT_NONE:
   * nothing there, or it could not be stat'ed).
   */
  stat(path: string): StatKind {
    if (this.binding !== null && fastStat!.trusted === 'yes') return this.statFast(path);
    const kind = this.statPure(path);
    if (this.binding !== null && fastStat!.trusted === 'unknown' && kind !== STAT_NONE) this.check(path, kind);
    return kind;
  }

  private load(st: BigIntStats): void {
    const w = this.words;
    w[0] = st.dev;
    w[1] = st.ino;
    w[2] = st.size;
    w[3] = st.mtimeNs;
    w[4] = st.ctimeNs;
  }

  private statPure(path: string): StatKind {
    let st: BigIntStats | undefined;
    try {
      st = statSync(path, { bigint: true, throwIfNoEntry: false });
    } catch {
      return STAT_NONE;
    }
    if (st === undefined) return STAT_NONE;
    this.load(st);
    return st.isDirectory() ? STAT_DIR : st.isFile() ? STAT_FILE : STAT_OTHER;
  }

  private statFast(path: string): StatKind {
    let v: BigInt64Array | undefined;
    try {
      // No NUL in `path` reaches here unchecked: the binding would stat the name up to it, where
      // statSync refuses the path (callers' paths come from NUL-separated lists or the walk).
      if (path.includes('\0')) return STAT_NONE;
      v = this.binding!(path, true, undefined, false);
    } catch {
      return STAT_NONE;
    }
    if (v === undefined) return STAT_NONE;
    this.fastUsed = true;
    const w = this.words;
    w[0] = v[0];
    w[1] = v[7];
    w[2] = v[8];
    w[3] = v[12] * NS_PER_S + v[13];
    w[4] = v[14] * NS_PER_S + v[15];
    const type = Number(v[1]) & S_IFMT;
    return type === S_IFDIR ? STAT_DIR : type === S_IFREG ? STAT_FILE : STAT_OTHER;
  }

  /** The fast path trusted from now on when it gives `path` the kind and identity statSync just gave; never again in this process when not. */
  private check(path: string, kind: StatKind): void {
    const pure = Buffer.from(this.bytes);
    let same = false;
    try {
      same = this.statFast(path) === kind && this.bytes.equals(pure);
    } catch {
      same = false;
    }
    this.fastUsed = false;
    pure.copy(this.bytes);
    fastStat!.trusted = same ? 'yes' : 'no';
  }
}

/**
 * Whether the warm checks' stat can take the fast path in this process (`doctor`): when no stat
 * has decided it yet, this module's own file is stat'ed both ways.
 */
export function fastStatStatus(): { available: boolean; reason?: string } {
  fastStat ??= { fn: bindingStat(), trusted: 'unknown' };
  if (fastStat.fn === null) return { available: false, reason: "no process.binding('fs').stat here, or --pending-deprecation" };
  if (fastStat.trusted === 'unknown') new IdentityScratch().stat(fileURLToPath(import.meta.url));
  return fastStat.trusted === 'yes' ? { available: true } : { available: false, reason: "Node's stat binding disagreed with fs.statSync" };
}

/** Tests: forget whether the binding was trusted (so that a test can make it be checked again, or refuse it). */
export function resetFastStatForTests(state: 'unknown' | 'no' | 'yes' = 'unknown', fn?: BindingStat | null): void {
  fastStat = { fn: fn === undefined ? bindingStat() : fn, trusted: state };
}
