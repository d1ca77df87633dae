/**
 * The tree memo (docs/INDEX.md "Tree memos"): a command's whole output over a tree, kept next to
 * the index with every check the run that made it relied on. A run of the index serves a folder's
 * records while the folder, and every file and folder its records depended on, still has the
 * identity stored (scan-index.ts); a run where every folder was served whole made its output from
 * those checks alone. Its memo lists them (folder and file identities, and the images a command
 * compared with their sidecars' records), so the next run makes the same checks and, when every
 * one holds, gives back the stored output without walking, pairing or decoding a record: a
 * stat of every folder and sidecar, the part of a warm run nothing can skip.
 *
 * Never wrong by the index's own rule: a memo is only made from a run that changed nothing and
 * read nothing (no miss, no folder listed again, no lookup by name, nothing racy), so the same
 * checks holding means the same run again. One file per command and options (`<index>.memo-<key>`),
 * replaced whole (temp file + rename), checksummed; a damaged, foreign or stale one is a miss.
 */
import { closeSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync, fstatSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { IDENTITY_BYTES, IdentityScratch, STAT_DIR, STAT_FILE, STAT_NONE } from '../fs/identity.js';
import { lookupEntry } from '../discovery/resolve-link.js';
import { tempNameFor } from '../fs/temp-files.js';
import { READ_FLAGS } from '../fs/regular-file.js';
import { BYTES_ALIGN, encodeFrameJson, parseFrameText, restoreBytes } from './frame-json.js';
import type { IndexLocation } from '../model/index-options.js';

const MAGIC = Buffer.from('image-sidecar tree memo 11\n', 'latin1');
/** A memo's delta (`<memo>.delta`: what a patch changed, on top of the memo of the same generation). */
const DELTA_MAGIC = Buffer.from('image-sidecar tree memo delta 3\n', 'latin1');
/** Any version's first bytes: a memo file (or a memo's delta) of ours, whichever version wrote it (kept or pruned as one). */
const MAGIC_NAME = Buffer.from('image-sidecar tree memo ', 'latin1');
/** The delta of a memo file. */
const deltaFileOf = (memoFile: string) => `${memoFile}.delta`;
/** A memo file and its delta: what is kept, counted and removed together. */
const withItsDelta = (memoFile: string) => [memoFile, deltaFileOf(memoFile)];
/** Memo files kept per index (the least recently written go first): commands × option sets in use. */
export const MAX_MEMOS = 8;
/**
 * A run collects its memo in memory: past this many sidecars it gives up (no memo: such a tree is
 * served by folder records, as without memos). Bounds the memory a run may spend on it.
 */
export const MEMO_MAX_FILES = 100_000;
/** A memo file larger than this is not read (a bounded read: what MEMO_MAX_FILES makes stays far below). */
const MEMO_MAX_BYTES = 256 * 1024 * 1024;

/**
 * Kinds of check: a folder (stat, a folder), a sidecar (stat, a regular file), an image (stat,
 * anything), a name (a link's lookup outside the library, or whose folder moved: it still names
 * the inode the lookup found). A name's check holds when its folder has the identity it had (then
 * every name in it names what it did, as the index's folders rely on), or else when an lstat gives
 * the stamp it gave (resolve-link.ts). Either, because without birth times a stamp holds the ctime:
 * `/tmp` or a home folder, looked up on an absolute link's way, changes its ctime whenever a file is
 * made in it, while the folder it is looked up in (`/`, `/home`) stays as it was.
 */
const DIR = 0;
const FILE = 1;
const IMAGE = 2;
const NAME = 3;
const KINDS = 4;
type CheckKind = typeof DIR | typeof FILE | typeof IMAGE | typeof NAME;
const STAMP_BYTES = 24;
/** Bytes per check of each kind: an identity; for a name, its stamp and its folder's identity (NOTHING: racy, not checked). */
const SLOT_BYTES = [IDENTITY_BYTES, IDENTITY_BYTES, IDENTITY_BYTES, STAMP_BYTES + IDENTITY_BYTES] as const;

/** An all-zero identity: the path named nothing of the kind (no inode 0 is a file). */
const NOTHING = Buffer.alloc(IDENTITY_BYTES);

/** Bytes appended as they come (a run's checks: no string or Buffer object kept per check). */
class ByteLog {
  buf = Buffer.allocUnsafeSlow(64 * 1024);
  length = 0;
  reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  /** A path and its NUL (no path holds one). */
  path(p: string): void {
    this.reserve(Buffer.byteLength(p) + 1);
    this.length += this.buf.write(p, this.length, 'utf8');
    this.buf[this.length++] = 0;
  }
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/**
 * The checks one run made, as they held, as bytes: per kind its paths (UTF-8, each ended by NUL) and
 * their identities (SLOT_BYTES each). `spoil()`: the run did something a memo cannot stand for (a
 * listing read, a file read again): no memo from it, and nothing more kept.
 */
export class CheckLog {
  readonly paths: ByteLog[] = [new ByteLog(), new ByteLog(), new ByteLog(), new ByteLog()];
  readonly ids: ByteLog[] = [new ByteLog(), new ByteLog(), new ByteLog(), new ByteLog()];
  readonly counts = [0, 0, 0, 0];
  private readonly names = new Set<string>();
  private readonly dirs = new Set<string>();
  spoiled: string | null = null;
  private count = 0;

  add(kind: CheckKind, path: string, id: Uint8Array | null): void {
    if (this.spoiled !== null) return;
    if (++this.count > MEMO_MAX_FILES * 2) return this.spoil('too many files');
    this.paths[kind].path(path);
    this.ids[kind].bytes(id ?? NOTHING);
    this.counts[kind]++;
  }
  /** A folder whose identity decided something (the same folder once; racy: no memo). */
  dir(path: string, id: Uint8Array, racy: boolean): void {
    if (racy) return this.spoil('a racy folder');
    if (this.spoiled !== null || this.dirs.has(path)) return;
    this.dirs.add(path);
    this.add(DIR, path, id);
  }
  file(path: string, id: Uint8Array): void {
    this.add(FILE, path, id);
  }
  image(path: string, id: Uint8Array | null): void {
    this.add(IMAGE, path, id);
  }
  /** A name that named the inode of `stamp`, looked up in a folder of identity `dirId` (null: racy, the stamp alone checks it). */
  name(path: string, stamp: Uint8Array, dirId: Uint8Array | null): void {
    if (this.spoiled !== null || this.names.has(path)) return;
    this.names.add(path);
    const slot = Buffer.alloc(SLOT_BYTES[NAME]);
    slot.set(stamp.subarray(0, STAMP_BYTES));
    if (dirId !== null) slot.set(dirId.subarray(0, IDENTITY_BYTES), STAMP_BYTES);
    this.add(NAME, path, slot);
  }
  spoil(why: string): void {
    if (this.spoiled !== null) return;
    this.spoiled = why;
    for (const l of [...this.paths, ...this.ids]) {
      l.buf = Buffer.alloc(0);
      l.length = 0;
    }
    this.names.clear();
    this.dirs.clear();
  }
  /**
   * Any identity whose ctime is at or after the cutoff (a same-size rewrite could keep it), or a
   * name whose stamp's time (birth, or ctime) is (an entry replaced within the clock's tick by an
   * inode of the same number could keep it; its folder's identity is stored only when not racy): no memo.
   */
  anyRacy(cutoffNs: bigint): boolean {
    return anyRacyIds(this.ids.map((l) => l.view()), cutoffNs);
  }
}

/**
 * CheckLog.anyRacy's rule over the identities of each kind (DIR, FILE, IMAGE: 40 bytes each; NAME:
 * its slots), wherever they are: a log's, or a memo's own (MemoHit.anyRacyNow).
 */
function anyRacyIds(idsOfKind: readonly Uint8Array[], cutoffNs: bigint): boolean {
  if (cutoffNs <= 0n) return true;
  // u64 LE times compared as two u32 words (no BigInt per check); NOTHING's ctime, 0, never is.
  const hi = Number(BigInt.asUintN(64, cutoffNs) >> 32n);
  const lo = Number(BigInt.asUintN(64, cutoffNs) & 0xffffffffn);
  const atOrAfter = (b: DataView, at: number) => {
    const h = b.getUint32(at + 4, true);
    return h > hi || (h === hi && b.getUint32(at, true) >= lo);
  };
  for (let kind = 0; kind < KINDS; kind++) {
    const ids = idsOfKind[kind];
    const view = new DataView(ids.buffer, ids.byteOffset, ids.byteLength);
    // A name's stamp time at 16 of its slot; an identity's ctime at 32.
    const [slot, time] = kind === NAME ? [SLOT_BYTES[NAME], 16] : [IDENTITY_BYTES, 32];
    for (let at = 0; at + slot <= ids.length; at += slot) if (atOrAfter(view, at + time)) return true;
  }
  return false;
}

/** Where one command's memo over one tree lives, and the key it must carry. */
export interface MemoPlace {
  file: string;
  key: string;
  rootAbs: string;
  rootReal: string;
  location: IndexLocation;
}

/** The memo file of a key (hex digest of everything that shapes the output) next to the index. */
export function memoPlace(location: IndexLocation, rootAbs: string, keyParts: unknown): MemoPlace | null {
  if (location.where === 'none') return null;
  const key = createHash('sha256').update(JSON.stringify([location.rootReal, rootAbs, keyParts])).digest('hex');
  return { file: `${location.path}.memo-${key.slice(0, 16)}`, key, rootAbs, rootReal: location.rootReal, location };
}

/** The memo files next to an index (for `index clear`). */
export function memoFilesOf(indexPath: string): string[] {
  const prefix = `${basename(indexPath)}.memo-`;
  try {
    return readdirSync(dirname(indexPath))
      .filter((n) => n.startsWith(prefix) && /^[0-9a-f]{16}$/.test(n.slice(prefix.length)))
      .map((n) => join(dirname(indexPath), n));
  } catch {
    return [];
  }
}

/**
 * Remove the memo files of an index (`index clear`): only files that are memos of ours. Someone
 * else's file (or folder) at a memo's name is left as it is, as storeMemo and pruning leave it
 * (an rmSync of a folder would also throw and fail the whole clear).
 */
export function removeMemoFiles(indexPath: string): void {
  for (const f of memoFilesOf(indexPath).flatMap(withItsDelta)) removeOurs(f);
}

/** The tree memos of an index and their deltas (ours only): how many files, and their bytes (`index status`). */
export function memoFootprint(indexPath: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const f of memoFilesOf(indexPath).flatMap(withItsDelta)) {
    if (readHead(f) !== 'memo') continue;
    try {
      bytes += statSync(f).size;
      files++;
    } catch {
      /* gone meanwhile */
    }
  }
  return { files, bytes };
}

/** Remove a memo file or delta of ours (someone else's file at its name stays). */
function removeOurs(file: string): void {
  if (readHead(file) === 'memo') rmSync(file, { force: true });
}

interface MemoHead {
  key: string;
  /** This memo file's generation (random): a delta names the one it was made on. */
  gen: string;
  root: string;
  rootReal: string;
  counts: number[];
  bytes: number[];
  /** Bytes of the lazy part (what a patch needs: read only then, at the end of the file) and their CRC-32. */
  lazyBytes: number;
  lazyCrc: number;
  /** Bytes of the rows (encode): read only by a patch, a row at a time. */
  rowBytes: number;
  /** Bytes of the payload's byte strings (frame-json.ts), after the identities. */
  blobBytes: number;
}

/**
 * Layout: MAGIC, u32 LE length of the JSON part, u32 LE CRC-32 of what follows this field up to
 * the lazy part, the JSON part ({ head, payload }: ASCII), then per kind of check its paths (UTF-8,
 * each ended by NUL; `head.bytes`), then per kind its identities (SLOT_BYTES each, in the order of
 * the paths; at a multiple of 8 in the file, the JSON part padded with spaces to put them there),
 * then the payload's byte strings (`head.blobBytes`: validate's columns, frame-json.ts; at a
 * multiple of 8 too, every slot being one),
 * then the lazy part (`head.lazyBytes`, CRC-32 `head.lazyCrc`): bytes only a patch reads, which a
 * run answered whole does not read — the rows (`head.rowBytes`: u32 LE count, u32 LE end of each
 * row's JSON text, the texts: a patch parses only the rows it needs; stats' were 6.2 of its 11.4 MB,
 * read and checked on every warm run before), then the records (discovery/memo-records.ts; the
 * bench library's validate memo, 3.4 of its 6.6 MB). Throws a TypeError on a payload frame-json
 * does not store.
 */
function encode(place: MemoPlace, log: CheckLog, payload: unknown, records: Buffer, rows: Buffer): { bytes: Buffer; jsonLen: number; lazyBytes: number } {
  const body = encodeFrameJson(payload);
  const lazy = Buffer.concat([rows, records]);
  const head: MemoHead = { key: place.key, gen: randomBytes(8).toString('hex'), root: place.rootAbs, rootReal: place.rootReal, counts: log.counts.slice(), bytes: log.paths.map((p) => p.length), lazyBytes: lazy.length, lazyCrc: crc32(lazy) >>> 0, rowBytes: rows.length, blobBytes: body.bytes.length };
  const paths = log.paths.map((p) => p.view());
  const ids = log.ids.map((p) => p.view());
  // The JSON part padded so that the identities start at a multiple of BYTES_ALIGN (compared as
  // words: checksHold); the byte strings after them then do too (every slot a multiple of 8 bytes).
  const before = MAGIC.length + 8 + paths.reduce((n, b) => n + b.length, 0);
  const json = Buffer.from(alignedText(`{"head":${encodeFrameJson(head).text},"payload":${body.text}}`, before), 'latin1');
  const bytes = Buffer.concat([MAGIC, Buffer.alloc(8), json, ...paths, ...ids, body.bytes, lazy]);
  return { bytes, jsonLen: json.length, lazyBytes: lazy.length };
}

/**
 * JSON text with spaces after it (JSON allows them) so that what follows it starts at a multiple of
 * BYTES_ALIGN in the file, `others` bytes besides the text coming before that: a memo's identities
 * (compared as words) and the byte strings after them, a delta's byte strings (validate's columns
 * are then read in place: byte-order.ts columnOf).
 */
function alignedText(text: string, others: number): string {
  const pad = (BYTES_ALIGN - ((others + text.length) % BYTES_ALIGN)) % BYTES_ALIGN;
  return pad === 0 ? text : text + ' '.repeat(pad);
}

/** Rows as the memo holds them (see encode), or null: a row not JSON, or not given back exactly by it. */
function encodeRows(rows: readonly unknown[]): Buffer | null {
  const texts = rows.map((r) => JSON.stringify(r) ?? 'undefined');
  let back: unknown;
  try {
    back = JSON.parse(`[${texts.join(',')}]`);
  } catch {
    return null;
  }
  if (!sameThroughJson(rows, back)) return null;
  const bytes = texts.map((t) => Buffer.from(t, 'utf8'));
  const table = Buffer.alloc(4 + 4 * bytes.length);
  table.writeUInt32LE(bytes.length, 0);
  let end = 0;
  bytes.forEach((t, i) => table.writeUInt32LE((end += t.length), 4 + 4 * i));
  return Buffer.concat([table, ...bytes]);
}

/** How many rows a memo's rows region (`buf` from `at`, `len` bytes) holds: -1 when its table does not fit (no region a run writes). */
function rowsIn(buf: Buffer, at: number, len: number): number {
  if (len < 4) return -1;
  const n = buf.readUInt32LE(at);
  return 4 + 4 * n <= len ? n : -1;
}

/** Row `i` of a memo's rows region (`buf` from `at`, `len` bytes), parsed; throws on a region no run writes. */
function rowOf(buf: Buffer, at: number, len: number, i: number): unknown {
  const n = rowsIn(buf, at, len);
  if (n < 0) throw new RangeError('no rows');
  const texts = at + 4 + 4 * n;
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError('no such row');
  const from = i === 0 ? 0 : buf.readUInt32LE(at + 4 + 4 * (i - 1));
  const to = buf.readUInt32LE(at + 4 + 4 * i);
  if (from > to || texts + to > at + len) throw new RangeError('not a rows region');
  return JSON.parse(buf.toString('utf8', texts + from, texts + to)) as unknown;
}

/**
 * The frame a memo and a delta share: `magic`, u32 LE length of the JSON part, u32 LE CRC-32 of
 * everything after this field (but the last `unsealed` bytes: a memo's lazy part, checked by its
 * own CRC-32), the JSON part, then what the file adds. `seal` writes the length and the checksum
 * into such bytes.
 */
function seal(magic: Buffer, out: Buffer, jsonLen: number, unsealed = 0): Buffer {
  out.writeUInt32LE(jsonLen, magic.length);
  out.writeUInt32LE(crc32(out.subarray(magic.length + 8, out.length - unsealed)) >>> 0, magic.length + 4);
  return out;
}

/**
 * A framed file of `magic` read whole and checked (its checksum, its JSON part an object), or
 * null: nothing there, another file, damaged, or a JSON part no run writes (null, a number: bytes
 * crafted with a checksum to match). `end`: where the JSON part ends.
 */
function readFrame(file: string, magic: Buffer): { buf: Buffer; value: Record<string, unknown>; end: number } | null {
  const buf = readBounded(file);
  if (!buf || buf.length < magic.length + 8 || buf.compare(magic, 0, magic.length, 0, magic.length) !== 0) return null;
  const body = magic.length + 8;
  const end = body + buf.readUInt32LE(magic.length);
  if (end > buf.length) return null;
  if ((crc32(buf.subarray(body)) >>> 0) !== buf.readUInt32LE(magic.length + 4)) return null;
  let value: unknown;
  try {
    value = parseFrameText(buf, body, end);
  } catch {
    return null;
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? { buf, value: value as Record<string, unknown>, end } : null;
}

/**
 * A memo file's sealed part (MAGIC to its identities: encode) read and checked, into a buffer of
 * the file's size whose lazy part at the end is read when asked (`readLazy`): null as readFrame.
 */
function readMemoFrame(file: string): { buf: Buffer; value: Record<string, unknown>; end: number; lazyAt: number } | null {
  return withFramedFile(file, (fd, size) => {
    const body = MAGIC.length + 8;
    // (Pages of the lazy part are not touched until it is read.)
    const buf = Buffer.allocUnsafe(size);
    if (!readRange(fd, buf, 0, body) || buf.compare(MAGIC, 0, MAGIC.length, 0, MAGIC.length) !== 0) return null;
    const end = body + buf.readUInt32LE(MAGIC.length);
    if (end > buf.length || !readRange(fd, buf, body, end)) return null;
    let value: unknown;
    try {
      value = parseFrameText(buf, body, end);
    } catch {
      return null;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
    const lazyBytes = (value as { head?: { lazyBytes?: unknown } }).head?.lazyBytes;
    if (!Number.isSafeInteger(lazyBytes) || (lazyBytes as number) < 0 || (lazyBytes as number) > buf.length - end) return null;
    const lazyAt = buf.length - (lazyBytes as number);
    if (!readRange(fd, buf, end, lazyAt) || (crc32(buf.subarray(body, lazyAt)) >>> 0) !== buf.readUInt32LE(MAGIC.length + 4)) return null;
    return { buf, value: value as Record<string, unknown>, end, lazyAt };
  });
}

/**
 * A memo's lazy part was not there as its head said when a patch read it: another run wrote the
 * memo again meanwhile (or it was damaged). The patch is a miss; the memo's delta, which may be
 * the new memo's, is left alone.
 */
export class MemoMovedError extends Error {}

/**
 * A memo's lazy part (`buf` from `lazyAt` to its end) read into `buf` from the file: the file must
 * still be as long and the bytes have their CRC-32, else a MemoMovedError.
 */
function readLazy(file: string, buf: Buffer, lazyAt: number, crc: number): Buffer {
  let fd: number;
  try {
    fd = openSync(file, READ_FLAGS);
  } catch {
    throw new MemoMovedError('a memo\'s lazy part: the file is gone');
  }
  try {
    if (!(fstatSync(fd).size === buf.length && readRange(fd, buf, lazyAt, buf.length) && (crc32(buf.subarray(lazyAt)) >>> 0) === crc)) throw new MemoMovedError('a memo\'s lazy part: not the one its head names');
    return buf.subarray(lazyAt);
  } finally {
    closeSync(fd);
  }
}

/** Read bytes [from, to) of the file into `buf` at the same places (false: the file is shorter). */
function readRange(fd: number, buf: Buffer, from: number, to: number): boolean {
  for (let at = from; at < to; ) {
    const n = readSync(fd, buf, at, to - at, at);
    if (n === 0) return false;
    at += n;
  }
  return true;
}

/** The file read whole, bounded (null: nothing there, too big, or not readable). */
function readBounded(file: string): Buffer | null {
  return withFramedFile(file, (fd, size) => {
    const buf = Buffer.allocUnsafe(size);
    return readRange(fd, buf, 0, size) ? buf : null;
  });
}

/**
 * `read` of a memo's or a delta's file (its descriptor and size), or null: nothing there, not a
 * regular file, too big or too small for a frame, or not readable. O_NONBLOCK (READ_FLAGS): a FIFO
 * at a memo's name must not block the run forever (fstat refuses it).
 */
function withFramedFile<T>(file: string, read: (fd: number, size: number) => T | null): T | null {
  let fd: number;
  try {
    fd = openSync(file, READ_FLAGS);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MEMO_MAX_BYTES || st.size < MAGIC.length + 8) return null;
    return read(fd, st.size);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** Sidecars found changed: their numbers among the file checks and their identities now (null: gone or not a file). */
export interface ChangedFiles {
  at: number[];
  ids: (Buffer | null)[];
}

/**
 * Does every check still hold? One stat each (for a name, a stat of its folder, and an lstat when
 * the folder moved), in the order they were made.
 * A folder, image or name that fails ends it (false). Sidecars that fail are collected, up to
 * `maxChanged` (more: false), for a patch: the result is then the changed ones.
 */
function checksHold(paths: Buffer[], counts: number[], ids: Buffer, idsAt: number, maxChanged: number, fastStat: boolean): { changed: ChangedFiles; fast: boolean; fileStarts: Uint32Array } | false {
  const scratch = new IdentityScratch({ fast: fastStat });
  const changed: ChangedFiles = { at: [], ids: [] };
  // Where each sidecar check's path starts, and past the last one's NUL (a patch decodes a few: MemoHit.filePath).
  const fileStarts = new Uint32Array(counts[FILE] + 1);
  let at = idsAt;
  for (let kind = 0; kind < KINDS; kind++) {
    const bytes = paths[kind];
    if (kind === NAME) {
      // (Few: decoded, as a name's folder is found by its text.)
      const list = bytes.toString('utf8').split('\0');
      if (list.length !== counts[kind] + 1 || list[counts[kind]] !== '') return false;
      for (let n = 0; n < counts[kind]; n++, at += SLOT_BYTES[kind]) {
        const p = list[n];
        if (NOTHING.compare(ids, at + STAMP_BYTES, at + STAMP_BYTES + IDENTITY_BYTES) !== 0) {
          const cut = p.lastIndexOf('/');
          if (scratch.stat(cut <= 0 ? '/' : p.slice(0, cut)) === STAT_DIR && scratch.equals(ids, at + STAMP_BYTES)) continue;
        }
        const r = lookupEntry(p);
        if ('code' in r || r.stamp.compare(ids, at, at + STAMP_BYTES) !== 0) return false;
      }
      continue;
    }
    // Each path stat'ed as its bytes (the binding takes them): no decode of the 18,500 paths a
    // warm run checks, nor a string each (~10 ms of a ~180 ms warm validate). Identities compared
    // as words (encode aligns them).
    const words = wordsAt(ids, at, counts[kind] * SLOT_BYTES[kind]);
    // TypedArray's own indexOf and a plain Uint8Array view: Buffer's indexOf and subarray add a
    // JS layer each (~0.5 µs a path together, cold).
    const { buffer, byteOffset } = bytes;
    let from = 0;
    for (let n = 0; n < counts[kind]; n++, at += SLOT_BYTES[kind]) {
      const to = indexOfByte.call(bytes, 0, from);
      if (to < 0) return false;
      const p = new Uint8Array(buffer, byteOffset + from, to - from);
      from = to + 1;
      if (kind === FILE) fileStarts[n + 1] = from;
      const found = scratch.stat(p);
      const kindOk = found !== STAT_NONE && (kind === DIR ? found === STAT_DIR : kind === FILE ? found === STAT_FILE : true);
      const holds = kindOk ? scratch.equalsWords(words, n * ID_WORDS) : NOTHING.compare(ids, at, at + IDENTITY_BYTES) === 0;
      if (holds) continue;
      if (kind !== FILE || changed.at.length >= maxChanged) return false;
      changed.at.push(n);
      changed.ids.push(kindOk ? Buffer.from(scratch.bytes) : null);
    }
    // Every path ended by its NUL, and no more.
    if (from !== bytes.length) return false;
  }
  return { changed, fast: scratch.fastUsed, fileStarts };
}

const indexOfByte = Uint8Array.prototype.indexOf;

/** 32-bit words per identity (IdentityScratch.equalsWords). */
const ID_WORDS = IDENTITY_BYTES / 4;

/** `length` bytes of `buf` from `at` as 32-bit words: a view where they are aligned (a memo encode wrote), else a copy. */
function wordsAt(buf: Buffer, at: number, length: number): Uint32Array {
  if ((buf.byteOffset + at) % 4 === 0) return new Uint32Array(buf.buffer, buf.byteOffset + at, length / 4);
  const out = new Uint32Array(length / 4);
  Buffer.from(out.buffer).set(buf.subarray(at, at + length));
  return out;
}

export interface MemoHit {
  payload: unknown;
  /** The checks' stats went the fast path (fs/identity.ts IdentityScratch). */
  fastStat: boolean;
  /** The memo file's generation (storeMemoDelta names it). */
  gen: string;
  /** The delta's body (storeMemoDelta) when one of this generation was read; its sidecars' identities are the checks'. */
  delta: unknown;
  /** Checks made: folders, sidecars, images, names. */
  checks: number[];
  /** Sidecars found changed (none: the memo holds as it is). */
  changed: ChangedFiles;
  /** The lazy part's records (storeMemo `lazy`), read when first asked; throws a MemoMovedError (the file changed) or a RangeError (rows past the lazy part). */
  lazy(): Buffer;
  /** How many sidecar checks the memo holds (a record's file checks are numbered among them). */
  fileChecks: number;
  /** Row `i` of the memo's rows (storeMemo `rows`: in the lazy part), parsed when asked; throws when there is none such, or as `lazy`. */
  row(i: number): unknown;
  /** How many rows the memo holds (-1: a rows region no run writes); reads the lazy part, throws as `lazy`. */
  rowCount(): number;
  /** The memo's checks with the changed sidecars' identities now: the checks of a patched memo. */
  checksNow(): CheckLog;
  /** `checksNow().anyRacy(cutoffNs)`, read where the identities are (no copy of the checks). */
  anyRacyNow(cutoffNs: bigint): boolean;
  /** The sidecar checks whose identities the delta gives (its own, by number). */
  deltaFiles: ReadonlyMap<number, Buffer | null>;
  /** The path of sidecar check `i` (decoded alone: a patch needs a few of the 18,500), undefined past the last. */
  filePath(i: number): string | undefined;
  /** The paths of the folder checks (real paths), in order. */
  dirPaths(): string[];
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/**
 * The stored output when the memo is this key's, whole, and every check it lists still holds but
 * for at most `maxChanged` sidecars (a patch: `changed`); else null (the run goes on without it).
 */
export function loadMemo(place: MemoPlace, maxChanged = 0, opts: { fastStat?: boolean } = {}): MemoHit | null {
  const frame = readMemoFrame(place.file);
  if (!frame) return null;
  const { buf, lazyAt } = frame;
  const parsed = frame.value as { head: MemoHead; payload: unknown };
  // A head no run writes (none, null: bytes crafted with a checksum to match) is a miss, not a TypeError out of load().
  if (parsed.head === null || typeof parsed.head !== 'object') return null;
  const { head } = parsed;
  if (head.key !== place.key || head.root !== place.rootAbs || head.rootReal !== place.rootReal) return null;
  if (!Array.isArray(head.counts) || head.counts.length !== KINDS || !Array.isArray(head.bytes) || head.bytes.length !== KINDS) return null;
  // Counts and lengths a run writes: a negative count balanced by a larger byte-string region
  // (crafted) would put the identities' reads outside the file's buffer (attack25-crafted.test.ts).
  if (!head.counts.every(isCount) || !head.bytes.every(isCount)) return null;
  const idBytes = head.counts.reduce((a, c, kind) => a + c * SLOT_BYTES[kind], 0);
  const pathBytes = head.bytes.reduce((a, b) => a + b, 0);
  if (!Number.isSafeInteger(head.rowBytes) || head.rowBytes < 0 || !Number.isInteger(head.lazyCrc) || !Number.isSafeInteger(head.blobBytes) || head.blobBytes < 0) return null;
  if (frame.end + pathBytes + idBytes + head.blobBytes !== lazyAt) return null;
  let payload: unknown;
  try {
    payload = restoreBytes(parsed.payload, buf.subarray(lazyAt - head.blobBytes, lazyAt));
  } catch {
    return null; // a stand-in no run writes
  }
  const paths: Buffer[] = [];
  let at = frame.end;
  for (const len of head.bytes) {
    paths.push(buf.subarray(at, at + len));
    at += len;
  }
  const idsAt = at;
  // The delta of this generation, if any: its sidecars' identities replace the memo's.
  const delta = typeof head.gen === 'string' ? readDelta(place, head.gen, head.counts[FILE]) : null;
  if (delta) for (const [n, id] of delta.files) (id ?? NOTHING).copy(buf, idsAt + head.counts[DIR] * IDENTITY_BYTES + n * IDENTITY_BYTES);
  const held = checksHold(paths, head.counts, buf, idsAt, maxChanged, opts.fastStat !== false);
  if (!held) return null;
  const { changed, fileStarts } = held;
  const fileBytes = paths[FILE];
  let lazy: Buffer | undefined;
  // The lazy part (rows, then records), read and checked on the first ask.
  const lazyPart = () => {
    lazy ??= readLazy(place.file, buf, lazyAt, head.lazyCrc);
    if (head.rowBytes > lazy.length) throw new RangeError('rows past the lazy part');
    return lazy;
  };
  return {
    fastStat: held.fast,
    payload,
    gen: head.gen,
    delta: delta ? delta.body : null,
    deltaFiles: delta ? delta.files : new Map(),
    checks: head.counts,
    changed,
    lazy: () => lazyPart().subarray(head.rowBytes),
    fileChecks: head.counts[FILE],
    row: (i: number) => rowOf(lazyPart(), 0, head.rowBytes, i),
    rowCount: () => rowsIn(lazyPart(), 0, head.rowBytes),
    filePath: (i: number) => {
      if (!(Number.isInteger(i) && i >= 0 && i < head.counts[FILE])) return undefined;
      return fileBytes.toString('utf8', fileStarts[i], fileStarts[i + 1] - 1);
    },
    dirPaths: () => paths[DIR].toString('utf8').split('\0').slice(0, -1),
    anyRacyNow: (cutoffNs) => {
      const ids: Buffer[] = [];
      let idAt = idsAt;
      for (let kind = 0; kind < KINDS; kind++) {
        ids.push(buf.subarray(idAt, idAt + head.counts[kind] * SLOT_BYTES[kind]));
        idAt += head.counts[kind] * SLOT_BYTES[kind];
      }
      // The changed sidecars' identities now, beside the memo's (those it had are older than the cutoff was then).
      const none = Buffer.alloc(0);
      return anyRacyIds(ids, cutoffNs) || anyRacyIds([none, Buffer.concat(changed.ids.filter((id) => id !== null)), none, none], cutoffNs);
    },
    checksNow: () => {
      const log = new CheckLog();
      let idAt = idsAt;
      for (let kind = 0; kind < KINDS; kind++) {
        log.paths[kind].bytes(paths[kind]);
        const ids = Buffer.from(buf.subarray(idAt, idAt + head.counts[kind] * SLOT_BYTES[kind]));
        if (kind === FILE) changed.at.forEach((i, k) => ids.set(changed.ids[k] ?? NOTHING, i * IDENTITY_BYTES));
        log.ids[kind].bytes(ids);
        log.counts[kind] = head.counts[kind];
        idAt += head.counts[kind] * SLOT_BYTES[kind];
      }
      return log;
    },
  };
}

/**
 * A memo's delta: what a patch changed, kept beside the memo instead of writing the memo again
 * (a patch then costs its own records, not the whole tree's). Layout: DELTA_MAGIC, u32 LE length
 * of the JSON part, u32 LE CRC-32 of everything after this field, the JSON part ({ key, gen,
 * blobBytes, body }: ASCII), the body's byte strings (`blobBytes`: frame-json.ts), then per
 * changed sidecar check its number (u32 LE) and identity now (40 bytes; all zeros: gone). It
 * stands only on the memo file of its generation: a memo written again (another generation) leaves
 * it standing for nothing, and a delta that is damaged, foreign or of another
 * generation is not read — the memo's own identities of those sidecars then no longer hold, and the
 * run patches them again (never a wrong answer: a delta only saves work).
 */
function readDelta(place: MemoPlace, gen: string, fileChecks: number): { body: unknown; files: Map<number, Buffer | null> } | null {
  const frame = readFrame(deltaFileOf(place.file), DELTA_MAGIC);
  if (!frame) return null;
  const { buf } = frame;
  const parsed = frame.value as { key: string; gen: string; blobBytes: number; body: unknown };
  if (parsed.key !== place.key || parsed.gen !== gen) return null;
  // The body's byte strings, then the identities.
  if (!Number.isSafeInteger(parsed.blobBytes) || parsed.blobBytes < 0 || frame.end + parsed.blobBytes > buf.length) return null;
  const end = frame.end + parsed.blobBytes;
  if ((buf.length - end) % (4 + IDENTITY_BYTES) !== 0) return null;
  let body: unknown;
  try {
    body = restoreBytes(parsed.body, buf.subarray(frame.end, end));
  } catch {
    return null; // a stand-in no run writes
  }
  const files = new Map<number, Buffer | null>();
  for (let at = end; at < buf.length; at += 4 + IDENTITY_BYTES) {
    const n = buf.readUInt32LE(at);
    if (n >= fileChecks) return null;
    const id = Buffer.from(buf.subarray(at + 4, at + 4 + IDENTITY_BYTES));
    files.set(n, NOTHING.equals(id) ? null : id);
  }
  return { body, files };
}

/**
 * Store a delta on the memo of generation `gen` (temp file + rename, as the memo): `files`, the
 * sidecar checks whose identities changed (by number; null: gone), and `body`, what the memo's
 * user needs to put the patch's records in place. Not when the body does not come back exactly
 * through JSON, nor over a file of someone else's. True when written.
 */
export function storeMemoDelta(place: MemoPlace, gen: string, files: ReadonlyMap<number, Buffer | null>, body: unknown): boolean {
  let json: Buffer;
  let blobs: Buffer;
  try {
    const enc = encodeFrameJson(body);
    blobs = enc.bytes;
    json = Buffer.from(alignedText(`{"key":${encodeFrameJson(place.key).text},"gen":${encodeFrameJson(gen).text},"blobBytes":${blobs.length},"body":${enc.text}}`, DELTA_MAGIC.length + 8), 'latin1');
  } catch {
    return false; // not JSON (a bigint), or not a value frame-json stores
  }
  if (!sameThroughJson(body, restoreBytes((parseFrameText(json, 0, json.length) as { body: unknown }).body, blobs))) return false;
  const ids = Buffer.alloc(files.size * (4 + IDENTITY_BYTES));
  let at = 0;
  for (const [n, id] of files) {
    ids.writeUInt32LE(n, at);
    (id ?? NOTHING).copy(ids, at + 4);
    at += 4 + IDENTITY_BYTES;
  }
  return writeOurs(deltaFileOf(place.file), seal(DELTA_MAGIC, Buffer.concat([DELTA_MAGIC, Buffer.alloc(8), json, blobs, ids]), json.length));
}

/** Remove a memo's delta (one that stood for nothing when used: the memo alone is then read). */
export function dropMemoDelta(place: MemoPlace): void {
  removeOurs(deltaFileOf(place.file));
}

/** Write `bytes` at `file` (temp file + rename, not fsynced: a cache) unless a file of someone else's is there. */
function writeOurs(file: string, bytes: Buffer): boolean {
  if (readHead(file) === 'other') return false; // the index's own rule for --index: never written over
  const tmp = join(dirname(file), tempNameFor(basename(file)));
  try {
    writeFileSync(tmp, bytes, { flag: 'wx', mode: 0o644 });
    renameSync(tmp, file);
    return true;
  } catch {
    rmSync(tmp, { force: true });
    return false;
  }
}

/** fileCheckFinder over a list of paths. */
export const fileCheckFinderOf = (paths: readonly string[]) => fileCheckFinder((i) => paths[i], paths.length);

/** The sidecar checks' paths of a memo's log, in order. */
export function filePathsOf(log: CheckLog): string[] {
  return log.paths[FILE].view().toString('utf8').split('\0').slice(0, -1);
}

/**
 * A sidecar check's number by its path among a memo's `count` (`pathAt(i)`: the path of check i;
 * undefined: not checked). The numbers given as `hint` (a record's checks before a patch made it
 * again: mostly the same files) are tried first, a path decoded each; a map of every path is made
 * only when they miss.
 */
export function fileCheckFinder(pathAt: (i: number) => string | undefined, count: number): (path: string, hint?: readonly number[]) => number | undefined {
  let all: Map<string, number> | null = null;
  return (path, hint) => {
    if (hint) for (const k of hint) if (pathAt(k) === path) return k;
    if (all === null) {
      all = new Map();
      for (let i = 0; i < count; i++) all.set(pathAt(i)!, i);
    }
    return all.get(path);
  };
}

/**
 * Is `b` exactly `a` as plain JSON gives it back: same keys in the same order, numbers by
 * Object.is (so -0 and NaN fail: JSON has neither), no undefined, bigint or other objects?
 */
export function sameThroughJson(a: unknown, b: unknown): boolean {
  if (typeof a === 'number') return typeof b === 'number' && Number.isFinite(a) && Object.is(a, b);
  if (a === null || typeof a === 'string' || typeof a === 'boolean') return a === b;
  if (typeof a !== 'object' || typeof b !== 'object' || b === null) return false;
  // A byte string (frame-json.ts) comes back as bytes.
  if (a instanceof Uint8Array) return b instanceof Uint8Array && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
  if (b instanceof Uint8Array) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameThroughJson(a[i], b[i])) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(a) as unknown;
  if ((proto !== Object.prototype && proto !== null) || Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i]) return false;
    if (!sameThroughJson((a as Record<string, unknown>)[ka[i]], (b as Record<string, unknown>)[kb[i]])) return false;
  }
  return true;
}

/**
 * Does every number in `v` come back as itself through JSON (finite, and not -0)? A run's rows go
 * to its memo as JSON text (MemoSpool): a row's -0 (a processing time) came back as 0, the memo
 * was stored, and a patch (or a patch's every-row count) then counted 0 where a run without the
 * index counts -0 (an average of -0 when that time is left alone).
 */
export function numbersKeptByJson(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  if (typeof v !== 'object' || v === null) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!numbersKeptByJson(v[i])) return false;
    return true;
  }
  for (const k in v) if (Object.hasOwn(v, k) && !numbersKeptByJson((v as Record<string, unknown>)[k])) return false;
  return true;
}

/**
 * Store a memo (temp file + rename, not fsynced: a cache, as the index). Not when the output does
 * not come back exactly through JSON, when something there is not a memo of ours (never written
 * over), or when the log was spoiled. Beyond MAX_MEMOS the oldest memo files go. True when written.
 */
export function storeMemo(place: MemoPlace, log: CheckLog, payload: unknown, lazy: Buffer = Buffer.alloc(0), rows: readonly unknown[] = []): boolean {
  if (log.spoiled !== null) return false;
  let enc: { bytes: Buffer; jsonLen: number; lazyBytes: number };
  try {
    const rowBytes = encodeRows(rows);
    if (!rowBytes) return false;
    enc = encode(place, log, payload, lazy, rowBytes);
    seal(MAGIC, enc.bytes, enc.jsonLen, enc.lazyBytes);
  } catch {
    return false; // not JSON (a bigint)
  }
  const { bytes, jsonLen } = enc;
  const body = MAGIC.length + 8;
  const back = parseFrameText(bytes, body, body + jsonLen) as { head: MemoHead; payload: unknown };
  const blobsEnd = bytes.length - enc.lazyBytes;
  if (!sameThroughJson(payload, restoreBytes(back.payload, bytes.subarray(blobsEnd - back.head.blobBytes, blobsEnd)))) return false;
  // A file of someone else's at that name is left alone (the index's own rule for --index).
  if (!writeOurs(place.file, bytes)) return false;
  removeOurs(deltaFileOf(place.file)); // of the generation before: it stands for nothing now
  pruneMemos(place.location.path);
  return true;
}

/** What is at a memo's name: nothing, a memo, or something else. */
function readHead(file: string): 'none' | 'memo' | 'other' {
  let fd: number;
  try {
    fd = openSync(file, READ_FLAGS); // a FIFO opens at once (no writer to wait for) and is 'other'
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'none' : 'other';
  }
  try {
    if (!fstatSync(fd).isFile()) return 'other';
    const head = Buffer.alloc(MAGIC.length);
    const n = readSync(fd, head, 0, head.length, 0);
    return n === MAGIC.length && head.subarray(0, MAGIC_NAME.length).equals(MAGIC_NAME) ? 'memo' : 'other';
  } catch {
    return 'other';
  } finally {
    closeSync(fd);
  }
}

/** Keep the MAX_MEMOS most recently written memo files of an index (with their deltas). */
function pruneMemos(indexPath: string): void {
  // A memo's last write is its own or its delta's (a memo kept current by patches is not rewritten).
  const writtenAt = (f: string) => statSync(f).mtimeMs;
  const files = memoFilesOf(indexPath)
    .map((f) => {
      try {
        let t = writtenAt(f);
        try {
          t = Math.max(t, writtenAt(deltaFileOf(f)));
        } catch {
          /* no delta */
        }
        return { f, t };
      } catch {
        return null;
      }
    })
    .filter((x): x is { f: string; t: number } => x !== null)
    .sort((a, b) => b.t - a.t);
  for (const f of files.slice(MAX_MEMOS).flatMap(({ f }) => withItsDelta(f))) removeOurs(f);
}

/**
 * JSON texts appended to a temp file next to the memo as a run makes them (each record's row and
 * what a patch needs of it): what collecting a memo costs a run in memory is one 64 KiB buffer,
 * whatever the tree's size. Removed when the run ends (a killed run's is a temp file of ours:
 * temp-files.ts sweeps it).
 */
export class MemoSpool {
  private fd: number | null = null;
  private readonly path: string;
  private buf = Buffer.allocUnsafeSlow(64 * 1024);
  private len = 0;
  private bytes = 0;
  failed = false;
  count = 0;

  constructor(memoFile: string) {
    this.path = join(dirname(memoFile), tempNameFor(`${basename(memoFile)}.spool`));
  }

  push(text: string): void {
    if (this.failed) return;
    const need = Buffer.byteLength(text) + 1;
    if (this.len + need > this.buf.length) this.flush();
    if (need > this.buf.length) this.buf = Buffer.allocUnsafeSlow(need);
    if (this.count > 0) this.buf[this.len++] = 0x2c; // ','
    this.len += this.buf.write(text, this.len, 'utf8');
    this.count++;
  }

  private flush(): void {
    if (this.len === 0 || this.failed) return;
    try {
      this.fd ??= openSync(this.path, 'wx+', 0o600); // read back at the end
      for (let at = 0; at < this.len; ) at += writeSync(this.fd, this.buf, at, this.len - at);
      this.bytes += this.len;
      this.len = 0;
    } catch {
      this.fail();
    }
  }

  /** Every text pushed, as the elements of one JSON array (parsed once), or null when the spool failed. */
  readAll(): unknown[] | null {
    if (this.failed) return null;
    try {
      let text = this.buf.toString('utf8', 0, this.len);
      if (this.fd !== null) {
        const head = Buffer.allocUnsafe(this.bytes);
        for (let at = 0; at < this.bytes; ) {
          const n = readSync(this.fd, head, at, this.bytes - at, at);
          if (n === 0) return null;
          at += n;
        }
        text = head.toString('utf8') + text;
      }
      return JSON.parse(`[${text}]`) as unknown[];
    } catch {
      return null;
    }
  }

  fail(): void {
    this.failed = true;
    this.close();
  }

  /** The temp file removed (safe to call twice). */
  close(): void {
    this.buf = Buffer.alloc(0);
    this.len = 0;
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        /* already closed */
      }
      this.fd = null;
      rmSync(this.path, { force: true });
    }
  }
}
