/**
 * A file's identity (the incremental index's key of a file, and what convert and save check before
 * they replace or remove a file they read): device, inode, size, mtime and ctime in ns. Any
 * difference means the file may hold other bytes. ctime cannot be set by a writer, so a same-size
 * edit that restores mtime (touch -r, utimes) still changes the identity.
 */
import { lstatSync, statSync, type BigIntStats } from 'node:fs';

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

/**
 * A stat's identity laid out as the index stores it, in one reused buffer: the hot loops of warm
 * runs (folder records' file checks, a tree memo's checks) compare it with stored bytes without an
 * object per file. `bytes` holds the last one loaded.
 */
export class IdentityScratch {
  private readonly words = new BigUint64Array(5);
  readonly bytes = Buffer.from(this.words.buffer);

  /** Does `st`'s identity equal the 40 bytes at `at` of `buf`? */
  matches(st: BigIntStats, buf: Uint8Array, at: number): boolean {
    const w = this.words;
    w[0] = st.dev;
    w[1] = st.ino;
    w[2] = st.size;
    w[3] = st.mtimeNs;
    w[4] = st.ctimeNs;
    return this.bytes.compare(buf, at, at + IDENTITY_BYTES) === 0;
  }
}
