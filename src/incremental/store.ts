/**
 * The index file, read and written in bounded memory: never loaded whole, written as a stream.
 *
 *   "ISCIDX\0" u8 version (6) | entries … | tables | header JSON | trailer (40 bytes)
 *   entry:   u32 length | u32 CRC-32 of the rest | u8 table (0 files, 1 folders, 2 links, 3 folder records)
 *            | u16 key length | key (UTF-8) | 40-byte identity (fs/identity.ts) | payload
 *            (tasks/entry-format.ts: the frame, which the thread that read a file writes too)
 *   tables:  per table: u32 slot count (a power of two, at most 3/4 full, or 0) | u32 entries
 *            | slots × u32 key hash | slots × f64 entry offset (0 = empty)
 *            (open addressing, linear probing; hash = FNV-1a 32 of the key's UTF-16 code units)
 *   trailer: f64 offset of the tables | u32 tables length | u32 header length | u32 CRC-32 of the
 *            tables, header and these three fields | 8 bytes "ISCIDXOK" | f64 0 (reserved) | u32 0
 *   file payload:   u8 1 | u16 key number (header.keys: the option set) | u32 length | the result as stored
 *   folder payload: v8 { n: names, k: kind letters }          (dir-cache.ts)
 *   link payload:   v8 [target | null, reason | null, folders] (dir-cache.ts)
 *   folder records: see folder-records.ts (key: "<options key>:<scan shape>\n<folder real path>")
 *
 * Keys: file paths relative to the root's real path; folders and links by real absolute path. Each
 * option set's results of a file are an entry of their own: in the files table an entry stands
 * under its path and its key number together (`fileSlotKey`), so one command's run adds and
 * replaces its own entries without reading or rewriting another's.
 * Loading reads the trailer, the tables and the header (24 bytes per slot: 2 slots per entry at
 * most) and checks their CRC; an entry is read when looked up, through a window of positional
 * reads (a warm run asks in the order the last run wrote: sequential), and its own CRC is checked
 * then. A written file is a stream: entries are appended as a run produces them, the tables and
 * header at the end, then the file is renamed over the index (scan-index.ts).
 *
 * A result as stored (tasks/entry-format.ts): the packed row with an escape (v8) for the fields its
 * columns do not carry, so it comes back as a worker thread would have delivered it: bigints, -0,
 * `__proto__` keys (version 5; version 4 stored such results whole, as JSON or v8). Anything unexpected makes the file (or, found later, the rest of it) untrusted.
 */
import { closeSync, fstatSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { READ_FLAGS } from '../fs/regular-file.js';
import { crc32 } from 'node:zlib';
import { IDENTITY_BYTES } from '../fs/identity.js';
import { LITTLE_ENDIAN_HOST } from '../byte-order.js';
import { ENTRY_HEAD, fileEntryBound, MAX_KEY_BYTES, ONE_RESULT_HEAD, TABLE_FILES, writeFileEntry } from '../tasks/entry-format.js';

export const INDEX_MAGIC = Buffer.from('ISCIDX\0', 'latin1');
export const INDEX_FORMAT_VERSION = 6;
const TRAILER_MAGIC = Buffer.from('ISCIDXOK', 'latin1');
const TRAILER_BYTES = 40;
/** Option keys kept (most recently used first): older keys' results are dropped on write. */
export const MAX_KEYS = 8;
const WINDOW_BYTES = 1 << 20;
/** A window where reads jump about (WindowReader's read-ahead starts here). */
const MIN_WINDOW_BYTES = 8 << 10;
/** Windows a reader keeps (`WindowReader`). */
const WINDOWS = 4;
/** Bytes per read and write when a writer copies the file it extends. */
const COPY_CHUNK_BYTES = 4 << 20;
/** The tables' numbers (an entry's head names its table): tasks/entry-format.ts. */
export { TABLE_DIRS, TABLE_FILES, TABLE_LINKS, TABLE_RECORDS } from '../tasks/entry-format.js';
const TABLES = 4;

export interface KeyUse {
  key: string;
  /** ms since the epoch this key was last used by a run. */
  used: number;
  /** The build that made its results (`buildId`): another build's keys can never hit again. */
  build?: string;
  /** File entries of this option set in the file (with its delta). */
  files?: number;
}

export interface IndexHeader {
  format: 'image-sidecar-index';
  /** realpath of the library root the paths are relative to. */
  root: string;
  keys: KeyUse[];
  written: string;
  /** The run that wrote this file: what `index status` reports. */
  lastRun?: { at: string; hits: number; misses: number; recorded: number; sidecars: number };
  /** Hits over every run that wrote this file (merged runs add up). */
  totalHits?: number;
  /** Key prefixes of the folder-records table ("<options key>:<scan shape>"). */
  recordKeys?: string[];
  /** Bytes of entries a later entry replaced (dead: skipped by `entries`, dropped by a full rewrite). */
  garbage?: number;
  /** The read access its results reflect (key.ts accessIdentity): other identities' runs neither use nor write it. */
  access?: string;
  /** This file's identity (random, one per file written): a delta names the base it goes over by it. */
  id?: string;
  /** A delta file: the `id` of the base it goes over (the delta is ignored over any other file). */
  base?: string;
  /** A delta file: live entries per table of the base and the delta together. */
  counts?: number[];
}

/** The delta file next to an index (`deltaPath`): entries a run added over the base, without copying the base. */
export function deltaPath(indexPath: string): string {
  return `${indexPath}.delta`;
}

/** Offsets of a delta's entries as the reader of base and delta gives them: beyond any base offset. */
const DELTA_OFFSET = 2 ** 48;

export class IndexFormatError extends Error {}

/** FNV-1a (32-bit): the tables' key hash (`keyHash`, `madeKeyHash`). */
const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over the key's UTF-16 code units (what both writer and reader have in hand: a JS string). */
export function keyHash(s: string): number {
  let h = FNV_OFFSET_BASIS;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

interface Table {
  mask: number;
  count: number;
  hashes: Uint32Array;
  offs: Float64Array;
}

const EMPTY_TABLE: Table = { mask: 0, count: 0, hashes: new Uint32Array(0), offs: new Float64Array(0) };
/** A new open-addressing table of a writer (16 slots). */
function emptyWriterTable(): Table {
  return { hashes: new Uint32Array(16), offs: new Float64Array(16), mask: 15, count: 0 };
}

/** A table whose slots were released (`releaseTables`): its count stays. */
const RELEASED: Table = { mask: 0, count: 0, hashes: new Uint32Array(0), offs: new Float64Array(0) };

/** One entry as read: `buf` holds it from `at` (valid until the next read from the same reader). */
export interface EntryView {
  buf: Buffer;
  at: number;
  table: number;
  /** Offset in `buf` of the 40-byte identity; the payload follows it up to `end`. */
  idAt: number;
  end: number;
  /** The entry's offset in the file and its length. */
  off: number;
  len: number;
}

export function entryKey(v: EntryView): string {
  return v.buf.toString('utf8', v.at + 11, v.idAt);
}

/**
 * What a file entry stands under in the files table: its path and its option set's key number
 * (NUL never appears in a path). Other tables' entries stand under their key.
 */
export function fileSlotKey(key: string, keyNo: number): string {
  return `${key}\0${keyNo}`;
}

/** The key number of a file entry (its one result's): a payload that is not one result is a format error. */
export function entryKeyNo(v: EntryView): number {
  return keyNoIn(v.buf, v.idAt + IDENTITY_BYTES, v.end);
}

function keyNoIn(buf: Uint8Array, p: number, end: number): number {
  if (p + ONE_RESULT_HEAD > end || buf[p] !== 1) throw new IndexFormatError('file entry of more than one result');
  return buf[p + 1] | (buf[p + 2] << 8);
}

/** What the entry stands under in its table (`fileSlotKey` for a file entry). */
export function tableKeyOf(v: EntryView): string {
  return v.table === TABLE_FILES ? fileSlotKey(entryKey(v), entryKeyNo(v)) : entryKey(v);
}

/**
 * Positional reads through a few windows: an entry read is a copy-free view when it is in one.
 * A warm run reads several streams of entries at once, each in the order the last run wrote it (a
 * folder's listing, then its records, kept apart in the file): with one window each access to the
 * other stream read a whole window again — 481 MB read for a 28 MB index (the bench library's warm
 * validate), 458 reads of 1 MiB. A view stays valid until its window is the least recently used
 * one and another range is read.
 */
export class WindowReader {
  /** Bytes read from the file so far, and in how many reads (tests, diagnostics). */
  bytesRead = 0;
  reads = 0;
  private readonly wins: { buf: Buffer; start: number; end: number; used: number }[] = [];
  private clock = 0;
  constructor(
    readonly fd: number,
    readonly size: number,
  ) {}

  /** `len` bytes at file offset `off`: [buffer, index of the first byte]. */
  bytes(off: number, len: number): [Buffer, number] {
    for (const w of this.wins) {
      if (off >= w.start && off + len <= w.end) {
        w.used = ++this.clock;
        return [w.buf, off - w.start];
      }
    }
    if (off < 0 || off + len > this.size) throw new IndexFormatError('read out of range');
    // Read-ahead as a kernel's, per stream: a read that starts just past a window (a stream moving
    // on: a warm run reads a folder's listings and its records in the order it wrote them) takes
    // that window's place at twice its size, up to WINDOW_BYTES; one elsewhere starts small (a
    // patch looks up a few hundred entries across a 44 MB index: 1 MB windows read ~40 MB of it).
    let w = this.wins.find((x) => off >= x.end && off - x.end < x.end - x.start);
    const want = Math.min(Math.max(len, w ? Math.min(2 * (w.end - w.start), WINDOW_BYTES) : MIN_WINDOW_BYTES), this.size - off);
    w ??= this.wins.length < WINDOWS ? undefined : this.wins.reduce((a, b) => (b.used < a.used ? b : a));
    if (w === undefined) this.wins.push((w = { buf: Buffer.allocUnsafe(0), start: 0, end: 0, used: 0 }));
    if (w.buf.length < want) w.buf = Buffer.allocUnsafe(want <= WINDOW_BYTES ? WINDOW_BYTES : want);
    w.start = w.end = 0; // a failed read leaves no window claiming bytes it does not hold
    let got = 0;
    while (got < want) {
      const n = readSync(this.fd, w.buf, got, want - got, off + got);
      if (n === 0) throw new IndexFormatError('file shorter than its tables say');
      got += n;
    }
    this.bytesRead += got;
    this.reads++;
    w.start = off;
    w.end = off + want;
    w.used = ++this.clock;
    return [w.buf, 0];
  }

  /** The entry at file offset `off`, its CRC checked. */
  entry(off: number, limit: number): EntryView {
    let [buf, at] = this.bytes(off, 4);
    const len = buf.readUInt32LE(at);
    if (len < 11 + IDENTITY_BYTES || off + len > limit) throw new IndexFormatError('entry out of range');
    [buf, at] = this.bytes(off, len);
    if (crc32(buf.subarray(at + 8, at + len)) !== buf.readUInt32LE(at + 4)) throw new IndexFormatError('entry checksum mismatch');
    const table = buf[at + 8];
    const keyLen = buf.readUInt16LE(at + 9);
    const idAt = at + 11 + keyLen;
    if (table >= TABLES || idAt + IDENTITY_BYTES > at + len) throw new IndexFormatError('entry fields out of range');
    return { buf, at, table, idAt, end: at + len, off, len };
  }
}

/**
 * An index file open for lookups (the fd stays open for the run; `close` at its end), with the
 * delta over it when there is one (`open`): a lookup finds the delta's entry first; the delta's
 * entries have offsets from DELTA_OFFSET on; the header and the counts are the delta's.
 */
export class IndexReader {
  header: IndexHeader;
  private delta: IndexReader | null = null;
  /** The base file's own header when a delta goes over it. */
  private ownHeader: IndexHeader | null = null;
  private readonly tables: Table[];
  private readonly r: WindowReader;
  /** Where the entries end (the tables start). */
  private readonly entriesEnd: number;

  private constructor(fd: number, size: number) {
    this.r = new WindowReader(fd, size);
    const fail = (why: string): never => {
      throw new IndexFormatError(why);
    };
    if (size < INDEX_MAGIC.length + 1 + TRAILER_BYTES) fail('too short');
    let [b, i] = this.r.bytes(0, INDEX_MAGIC.length + 1);
    if (!b.subarray(i, i + INDEX_MAGIC.length).equals(INDEX_MAGIC)) fail('not an image-sidecar index');
    const version = b[i + INDEX_MAGIC.length];
    if (version !== INDEX_FORMAT_VERSION) fail(`index format version ${version} (this tool reads ${INDEX_FORMAT_VERSION})`);
    if (!LITTLE_ENDIAN_HOST) fail('index tables need a little-endian host');
    [b, i] = this.r.bytes(size - TRAILER_BYTES, TRAILER_BYTES);
    const trailer = Buffer.from(b.subarray(i, i + TRAILER_BYTES));
    if (!trailer.subarray(20, 28).equals(TRAILER_MAGIC)) fail('no trailer (not completely written)');
    const tablesAt = trailer.readDoubleLE(0);
    const tablesLen = trailer.readUInt32LE(8);
    const headerLen = trailer.readUInt32LE(12);
    if (!Number.isSafeInteger(tablesAt) || tablesAt < INDEX_MAGIC.length + 1 || tablesAt + tablesLen + headerLen + TRAILER_BYTES !== size) fail('trailer out of range');
    // The tables are read straight into their typed arrays (12 bytes per slot, nothing else of
    // that size: a copy through one buffer of the whole section was ~50 MB of garbage at 10^6
    // sidecars), the CRC taken piece by piece in file order.
    let crc = 0;
    let p = tablesAt;
    const readInto = (into: Uint8Array): void => {
      let got = 0;
      while (got < into.length) {
        const n = readSync(fd, into, got, into.length - got, p + got);
        if (n === 0) fail('truncated');
        got += n;
      }
      p += into.length;
      if (into.length > 0) crc = crc32(into, crc); // zlib.crc32 of nothing is 0, not the running value
    };
    const tablesEnd = tablesAt + tablesLen;
    const head = Buffer.allocUnsafe(8);
    const sizes: [number, number][] = [];
    this.tables = [];
    for (let t = 0; t < TABLES; t++) {
      if (p + 8 > tablesEnd) fail('table out of range');
      readInto(head);
      const slots = head.readUInt32LE(0);
      const count = head.readUInt32LE(4);
      if ((slots !== 0 && (slots & (slots - 1)) !== 0) || overFull(count, slots) || p + slots * 12 > tablesEnd) fail('table size');
      const hashes = new Uint32Array(slots);
      readInto(new Uint8Array(hashes.buffer));
      const offs = new Float64Array(slots);
      readInto(new Uint8Array(offs.buffer));
      sizes.push([slots, count]);
      this.tables.push(slots === 0 ? EMPTY_TABLE : { mask: slots - 1, count, hashes, offs });
    }
    if (p !== tablesEnd) fail('trailing table bytes');
    const headerBytes = Buffer.allocUnsafe(headerLen);
    readInto(headerBytes);
    if ((crc32(trailer.subarray(0, 16), crc) >>> 0) !== trailer.readUInt32LE(16)) fail('checksum mismatch');
    try {
      this.header = JSON.parse(headerBytes.toString('utf8')) as IndexHeader;
    } catch {
      this.header = fail('header is not JSON');
    }
    const h = this.header;
    if (!h || h.format !== 'image-sidecar-index' || typeof h.root !== 'string' || !Array.isArray(h.keys)) fail('header fields missing');
    // Each option set's count of file entries: what the files table holds at most (a count past it is a damaged header).
    let counted = 0;
    for (const k of h.keys) if (k.files !== undefined) counted += Number.isSafeInteger(k.files) && k.files >= 0 ? k.files : Infinity;
    if (counted > (Array.isArray(h.counts) ? h.counts[TABLE_FILES] : sizes[TABLE_FILES][1])) fail('option set counts out of range');
    for (let t = 0; t < TABLES; t++) {
      const { offs } = this.tables[t];
      const [slots, count] = sizes[t];
      let used = 0;
      for (let s = 0; s < slots; s++) {
        const o = offs[s];
        if (o === 0) continue;
        if (!(o >= INDEX_MAGIC.length + 1 && o < tablesAt)) fail('slot out of range');
        used++;
      }
      if (used !== count) fail('slot count mismatch');
    }
    this.entriesEnd = tablesAt;
  }

  /**
   * Open and check an index file and the delta over it (`deltaPath`; one over another base is
   * ignored): null when absent; throws IndexFormatError / fs errors otherwise (a corrupt delta too:
   * the index is rebuilt). Something other than a regular file there (a FIFO: opening it would
   * wait for a writer forever) is a foreign index (fs/regular-file.ts).
   */
  static open(path: string): IndexReader | null {
    const base = IndexReader.openOne(path);
    if (!base) return null;
    try {
      const delta = IndexReader.openOne(deltaPath(path));
      if (delta) {
        const h = delta.header;
        if (base.header.id !== undefined && h.base === base.header.id && Array.isArray(h.counts) && h.counts.length === TABLES && h.root === base.header.root) {
          base.delta = delta;
          base.ownHeader = base.header;
          base.header = h;
        } else delta.close();
      }
    } catch (e) {
      base.close();
      if (e instanceof IndexFormatError) throw new IndexFormatError(`delta file: ${e.message}`);
      throw e;
    }
    return base;
  }

  /** One file (no delta). */
  private static openOne(path: string): IndexReader | null {
    let fd: number;
    try {
      fd = openSync(path, READ_FLAGS);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new IndexFormatError('not a regular file');
      return new IndexReader(fd, st.size);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  close(): void {
    this.delta?.close();
    try {
      closeSync(this.r.fd);
    } catch {
      /* closed already */
    }
  }

  count(table: number): number {
    return this.delta ? this.header.counts![table] : this.tables[table].count;
  }

  /** File entries of the option set numbered `keyNo` (with the delta's). */
  fileCount(keyNo: number): number {
    const n = this.header.keys[keyNo]?.files;
    return typeof n === 'number' && n >= 0 ? n : 0;
  }

  /** A delta goes over this file. */
  get hasDelta(): boolean {
    return this.delta !== null;
  }

  /** The entry bytes of the delta (0: none). */
  get deltaBytes(): number {
    return this.delta?.entriesEnd ?? 0;
  }

  /** The base file's own header (a delta's header is the reader's `header`). */
  get baseId(): string | undefined {
    return this.delta ? this.delta.header.base : this.header.id;
  }

  /** The base file's header (without a delta: `header`). */
  get baseHeader(): IndexHeader {
    return this.ownHeader ?? this.header;
  }

  /** Live entries of `table` in the base file. */
  baseCount(table: number): number {
    return this.tables[table].count;
  }

  /** The base file holds an entry under `key` (`tableKeyOf`; the delta not looked at). */
  baseHas(table: number, key: string): boolean {
    return this.findOwn(table, key) !== null;
  }

  /** The delta's live entries, in file order (none without a delta). */
  *deltaEntries(): Generator<EntryView> {
    if (this.delta) for (const v of this.delta.entries()) yield shifted(v);
  }

  /**
   * Free the lookup tables of every table but `keep` (12 bytes per slot): a rewrite that reads this
   * file only by offset from here on does not hold them next to the new file's. `find` and
   * `entries` on a released table throw.
   */
  releaseTables(keep: readonly number[] = []): void {
    this.delta?.releaseTables(keep);
    for (let t = 0; t < TABLES; t++) if (!keep.includes(t) && this.tables[t].count > 0) this.tables[t] = { ...RELEASED, count: this.tables[t].count };
  }

  /** Where the entries end (the tables start): the bytes an extending writer copies. */
  get entriesBytes(): number {
    return this.entriesEnd;
  }

  /** The descriptor the file was opened with (an extending writer copies from it, whatever the path names now). */
  get fd(): number {
    return this.r.fd;
  }

  /**
   * Give the base file's lookup tables to a writer that continues it (`IndexWriter.extend`): no copy
   * of 12 bytes per slot; the base's tables are released (a delta's stay: the writer appends its
   * live entries, then releases them). Null when some table was released already.
   */
  handOverTables(): Table[] | null {
    const released = (r: IndexReader) => r.tables.some((t) => t.count > 0 && t.hashes === RELEASED.hashes);
    if (released(this) || (this.delta !== null && released(this.delta))) return null;
    const out = this.tables.map((t) => (t.count === 0 ? emptyWriterTable() : { hashes: t.hashes, offs: t.offs, mask: t.mask, count: t.count }));
    for (let t = 0; t < TABLES; t++) if (this.tables[t].count > 0) this.tables[t] = { ...RELEASED, count: this.tables[t].count };
    return out;
  }

  /** The entry standing under `key` in `table` (`tableKeyOf`: a file's under `fileSlotKey`), or null. */
  find(table: number, key: string): EntryView | null {
    if (this.delta) {
      const v = this.delta.find(table, key);
      if (v) return shifted(v);
    }
    return this.findOwn(table, key);
  }

  private findOwn(table: number, key: string): EntryView | null {
    const t = this.tables[table];
    if (t.count === 0) return null;
    if (t.hashes === RELEASED.hashes) throw new Error('IndexReader.find on a released table');
    const h = keyHash(key);
    for (let s = h & t.mask; ; s = (s + 1) & t.mask) {
      const off = t.offs[s];
      if (off === 0) return null;
      if (t.hashes[s] !== h) continue;
      const v = this.r.entry(off, this.entriesEnd);
      if (v.table === table && tableKeyOf(v) === key) return v;
    }
  }

  /** Read the entry at `off` again (an offset a `find` returned earlier). */
  entryAt(off: number): EntryView {
    if (off >= DELTA_OFFSET && this.delta) return shifted(this.delta.entryAt(off - DELTA_OFFSET));
    return this.r.entry(off, this.entriesEnd);
  }

  /** Every live entry of every table, in file order (an entry a later one replaced is skipped), then the delta's. */
  *entries(): Generator<EntryView> {
    let off = INDEX_MAGIC.length + 1;
    while (off < this.entriesEnd) {
      const v = this.r.entry(off, this.entriesEnd);
      const next = off + v.len;
      if (this.isLive(v) && !(this.delta && this.delta.findOwn(v.table, tableKeyOf(v)) !== null)) yield this.r.entry(off, this.entriesEnd);
      off = next;
    }
    yield* this.deltaEntries();
  }

  private isLive(v: EntryView): boolean {
    const t = this.tables[v.table];
    if (t.count === 0) return false;
    if (t.hashes === RELEASED.hashes) throw new Error('IndexReader.entries on a released table');
    const h = keyHash(tableKeyOf(v));
    for (let s = h & t.mask; ; s = (s + 1) & t.mask) {
      const off = t.offs[s];
      if (off === 0) return false;
      if (off === v.off) return true;
    }
  }
}

/** A delta's entry as the reader of base and delta gives it (its offset beyond the base's). */
function shifted(v: EntryView): EntryView {
  return { ...v, off: v.off + DELTA_OFFSET };
}

/** A file entry's one result: its key number and the result as stored (a view, valid until the next read). */
export function entryResult(v: EntryView): [number, Buffer] {
  const p = v.idAt + IDENTITY_BYTES;
  const keyNo = keyNoIn(v.buf, p, v.end);
  const len = v.buf.readUInt32LE(p + 3);
  if (p + ONE_RESULT_HEAD + len !== v.end) throw new IndexFormatError('result out of range');
  return [keyNo, v.buf.subarray(p + ONE_RESULT_HEAD, v.end)];
}

export function entryIdentity(v: EntryView): Buffer {
  return v.buf.subarray(v.idAt, v.idAt + IDENTITY_BYTES);
}

export function entryPayload(v: EntryView): Buffer {
  return v.buf.subarray(v.idAt + IDENTITY_BYTES, v.end);
}

/** A file payload: one result (its option set's key number, the result as stored). */
export function filePayload(keyNo: number, raw: Uint8Array): Buffer[] {
  const head = Buffer.allocUnsafe(ONE_RESULT_HEAD);
  head[0] = 1;
  head.writeUInt16LE(keyNo, 1);
  head.writeUInt32LE(raw.length, 3);
  return [head, Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)];
}

/** An entry's head but its CRC (at 4): length, table, key length. The CRC covers everything from byte 8. */
function writeEntryHead(out: Buffer, length: number, table: number, keyLen: number): void {
  out.writeUInt32LE(length, 0);
  out[8] = table;
  out.writeUInt16LE(keyLen, 9);
}

/** The identity's offset in a made entry of `table`, checked against the entry's own length; -1 when it is not one. */
function madeIdAt(bytes: Uint8Array, table: number): number {
  return madeIdAtIn(bytes, 0, bytes.length, table);
}

/** `madeIdAt` of the entry made at `at` of `bytes` that ends at `end` (one of a block's), from `at`. */
function madeIdAtIn(bytes: Uint8Array, at: number, end: number, table: number): number {
  if (end - at < ENTRY_HEAD + IDENTITY_BYTES || bytes[at + 8] !== table) return -1;
  const len = (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
  const idAt = ENTRY_HEAD + (bytes[at + 9] | (bytes[at + 10] << 8));
  return len === end - at && idAt + IDENTITY_BYTES <= len ? idAt : -1;
}

/** What the made entry at `at` of `bytes` (ending at `end`; framing checked by `madeIdAt`) stands under (`tableKeyOf`). */
function madeKey(bytes: Uint8Array, at: number, end: number): string {
  const keyEnd = at + ENTRY_HEAD + (bytes[at + 9] | (bytes[at + 10] << 8));
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8', at + ENTRY_HEAD, keyEnd);
  return bytes[at + 8] === TABLE_FILES ? fileSlotKey(key, keyNoIn(bytes, keyEnd + IDENTITY_BYTES, end)) : key;
}

/** The key number of the made file entry at `at` of `bytes`, ending at `end`. */
function madeKeyNo(bytes: Uint8Array, at: number, end: number): number {
  return keyNoIn(bytes, at + ENTRY_HEAD + (bytes[at + 9] | (bytes[at + 10] << 8)) + IDENTITY_BYTES, end);
}

/** `keyHash` of what the made entry at `at` stands under, from its key's UTF-8 bytes: the same FNV-1a where they are ASCII (a UTF-16 unit per byte), else of the key decoded. */
function madeKeyHash(bytes: Uint8Array, at: number, end: number): number {
  const keyEnd = at + ENTRY_HEAD + (bytes[at + 9] | (bytes[at + 10] << 8));
  let h = FNV_OFFSET_BASIS;
  for (let i = at + ENTRY_HEAD; i < keyEnd; i++) {
    const c = bytes[i];
    if (c >= 0x80) return keyHash(madeKey(bytes, at, end));
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  if (bytes[at + 8] !== TABLE_FILES) return h >>> 0;
  // fileSlotKey's NUL and key number, as keyHash reads them.
  h = Math.imul(h, FNV_PRIME);
  const no = String(madeKeyNo(bytes, at, end));
  for (let i = 0; i < no.length; i++) h = Math.imul(h ^ no.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

/** The identity (40 bytes) of a made entry of `table` (a view). */
export function madeIdentity(bytes: Uint8Array, table: number): Buffer {
  const idAt = madeIdAt(bytes, table);
  if (idAt < 0) throw new IndexFormatError('not an index entry');
  return Buffer.from(bytes.buffer, bytes.byteOffset + idAt, IDENTITY_BYTES);
}

/** The one result of a made file entry (a view): its v8 bytes. */
export function madeResult(bytes: Uint8Array): Buffer {
  const idAt = madeIdAt(bytes, TABLE_FILES);
  const at = idAt + IDENTITY_BYTES;
  if (idAt < 0 || at + ONE_RESULT_HEAD > bytes.length || bytes[at] !== 1) throw new IndexFormatError('not a one-result file entry');
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (at + ONE_RESULT_HEAD + b.readUInt32LE(at + 3) !== bytes.length) throw new IndexFormatError('result out of range');
  return b.subarray(at + ONE_RESULT_HEAD);
}

/**
 * A table of `slots` is full past three quarters. Linear probing stays short there (a hit ~2.5
 * probes, most of them a hash compared, not an entry read), and the tables are what a run keeps of
 * the index whole: 10^6 files of three commands take 2^23 slots (100 MB) at half full, 2^22 (50 MB) so.
 */
function overFull(count: number, slots: number): boolean {
  return count * 4 > slots * 3;
}

/** The slots a table of `count` entries has: the smallest power of two ≥ 16 at most 3/4 full (as growth leaves it). */
function slotsFor(count: number): number {
  let slots = 16;
  while (overFull(count, slots)) slots *= 2;
  return slots;
}

/** Entries per chunk of an `EntryList` (no array is ever copied to grow: no garbage, no heap holes). */
const LIST_CHUNK = 1 << 16;

/** The (key hash, offset, key number) of each entry of one table in the order added: 14 bytes per entry, in chunks. */
class EntryList {
  private readonly hashes: Uint32Array[] = [];
  private readonly offs: Float64Array[] = [];
  /** A file entry's key number (the files table's list; 0 in the others'): its option set is counted without reading it back. */
  private readonly nos: Uint16Array[] = [];
  count = 0;
  push(h: number, off: number, no = 0): void {
    const c = this.count >>> 16;
    if (c === this.hashes.length) {
      this.hashes.push(new Uint32Array(LIST_CHUNK));
      this.offs.push(new Float64Array(LIST_CHUNK));
      this.nos.push(new Uint16Array(LIST_CHUNK));
    }
    const i = this.count & (LIST_CHUNK - 1);
    this.hashes[c][i] = h;
    this.offs[c][i] = off;
    this.nos[c][i] = no;
    this.count++;
  }
  noChunk(c: number): Uint16Array {
    return this.nos[c];
  }
  /** Chunk `c`: entries c·LIST_CHUNK onwards (the rest of it unused past `count`). */
  hashChunk(c: number): Uint32Array {
    return this.hashes[c];
  }
  offChunk(c: number): Float64Array {
    return this.offs[c];
  }
}

/**
 * How an `IndexWriter` keeps its lookup tables:
 * - 'table': an open-addressing table per table, grown as entries come (`has` answers; 27–48 B
 *   per entry, and each growth leaves the old arrays behind);
 * - 'list': (hash, offset, key number) of each entry in order, 14 B per entry in fixed chunks; the tables are
 *   built one at a time in `finish` (a first run's spool: at 10^6 sidecars ~20 MB instead of ~75);
 * - 'none': nothing (`has` and `finish` refused): a spool only read back by offset (`entryAt`),
 *   never made the index.
 */
export type WriterTables = 'table' | 'list' | 'none';

/**
 * An index file written as a stream: `add` appends entries (a later entry with the same key
 * replaces an earlier one), `finish` appends tables, header and trailer. Memory: the
 * output buffer and what `tables` keeps.
 */
export class IndexWriter {
  private readonly out = Buffer.allocUnsafe(WINDOW_BYTES);
  private used = 0;
  private pos: number;
  private readonly t: Table[] = [];
  private readonly lists: EntryList[] = [];
  private reader: WindowReader | null = null;
  /** Bytes of entries in this file that a later entry with the same key replaced. */
  garbage = 0;
  /** File entries per key number (known once `finish` built a list's tables). */
  readonly fileCounts: number[] = [];

  constructor(
    private readonly fd: number,
    readonly path: string,
    readonly tables: WriterTables = 'table',
  ) {
    this.out.set(INDEX_MAGIC, 0);
    this.out[INDEX_MAGIC.length] = INDEX_FORMAT_VERSION;
    this.used = INDEX_MAGIC.length + 1;
    this.pos = 0;
    for (let i = 0; i < TABLES; i++) {
      this.t.push(tables === 'table' ? emptyWriterTable() : { hashes: new Uint32Array(0), offs: new Float64Array(0), mask: 0, count: 0 });
      this.lists.push(new EntryList());
    }
  }

  /**
   * Continue the index file `from` was opened on, as a new file at `path`: its entries copied as
   * they are (from the reader's descriptor, one sequential pass), its tables taken over, then the
   * live entries of a delta over it, then new entries (one with a key already there replaces it:
   * the old one becomes garbage, counted in `garbage`). Null when the reader's tables were released.
   * With a delta this replaces a full rewrite, whose new tables beside the base's and the delta's
   * were ~60 MB of a run's peak at 10^6 sidecars of three commands.
   */
  static extend(path: string, from: IndexReader): IndexWriter | null {
    const tables = from.handOverTables();
    if (!tables) return null;
    const w = new IndexWriter(openSync(path, 'wx+', 0o644), path, 'table');
    try {
      // The copy starts the file (magic included): nothing of the writer's own goes before it.
      w.used = 0;
      w.copyFrom(from.fd, 0, from.entriesBytes);
      for (let t = 0; t < TABLES; t++) w.t[t] = tables[t];
      // The base file's own counts (a delta's header counts base and delta together).
      from.baseHeader.keys.forEach((k, no) => (w.fileCounts[no] = typeof k.files === 'number' && k.files >= 0 ? k.files : 0));
      for (const v of from.deltaEntries()) w.addRaw(v);
      from.releaseTables();
      return w;
    } catch (e) {
      w.abort();
      rmSync(path, { force: true });
      throw e;
    }
  }

  /**
   * Append every entry `spool` wrote (a writer keeping lists: a run's own entries, in order), as
   * they are: its bytes copied in one sequential pass, its lists put in this writer's tables (a
   * later entry under a key already there replaces it, as `add` does). No entry is read back, as
   * none is when a first run's spool becomes the index: what a run that looked nothing up appends
   * to the file it continues (`extend`).
   */
  appendAll(spool: IndexWriter): void {
    if (this.tables !== 'table' || spool.tables !== 'list') throw new Error('IndexWriter.appendAll: a list spool into a writer with tables');
    spool.flush();
    const first = INDEX_MAGIC.length + 1;
    const shift = this.size - first;
    this.copyFrom(spool.fd, first, spool.pos);
    for (let table = 0; table < TABLES; table++) {
      const list = spool.lists[table];
      // Grown once to hold them all, not step by step.
      const t = this.t[table];
      const slots = slotsFor(t.count + list.count);
      if (slots > t.mask + 1) this.grow(t, slots);
      for (let c = 0, left = list.count; left > 0; c++) {
        const hashes = list.hashChunk(c);
        const offs = list.offChunk(c);
        const nos = list.noChunk(c);
        const m = left < LIST_CHUNK ? left : LIST_CHUNK;
        for (let k = 0; k < m; k++) this.insert(table, hashes[k], offs[k] + shift, nos[k]);
        left -= m;
      }
    }
  }

  /**
   * Append the bytes [from, end) of the file open at `fd`, in one sequential pass, and flush them:
   * an entry read back (`keyAt`) never straddles the file and the buffer.
   */
  private copyFrom(fd: number, from: number, end: number): void {
    const src = new WindowReader(fd, end);
    for (let at = from; at < end; at += COPY_CHUNK_BYTES) {
      const len = Math.min(COPY_CHUNK_BYTES, end - at);
      const [b, i] = src.bytes(at, len);
      this.write(b.subarray(i, i + len));
    }
    this.flush();
  }

  /** `index` of an entry whose hash (and, a file's, key number) is known: its key is read only when a slot's hash is the same. */
  private insert(table: number, h: number, off: number, no: number): void {
    const t = this.t[table];
    for (let s = h & t.mask; ; s = (s + 1) & t.mask) {
      const at = t.offs[s];
      if (at === 0) {
        t.hashes[s] = h;
        t.offs[s] = off;
        t.count++;
        if (table === TABLE_FILES) this.countFile(no);
        if (overFull(t.count, t.mask + 1)) this.grow(t);
        return;
      }
      if (t.hashes[s] === h && this.keyAt(at) === this.keyAt(off)) {
        this.garbage += this.lengthAt(at);
        t.offs[s] = off;
        return;
      }
    }
  }

  /**
   * `expect`: entries per table the caller expects ('table' mode): each table starts at that size,
   * so a rewrite of 10^6 entries does not grow its tables step by step (each growth left the old
   * arrays behind); `finish` shrinks one that ended up with far fewer, so the file is as without.
   */
  static create(path: string, opts: { tables?: WriterTables; expect?: readonly number[] } = {}): IndexWriter {
    const w = new IndexWriter(openSync(path, 'wx+', 0o644), path, opts.tables ?? 'table');
    if (w.tables === 'table' && opts.expect) {
      for (let t = 0; t < TABLES; t++) {
        const slots = slotsFor(opts.expect[t] ?? 0);
        if (slots > 16) w.t[t] = { hashes: new Uint32Array(slots), offs: new Float64Array(slots), mask: slots - 1, count: 0 };
      }
    }
    return w;
  }

  /** Can this writer become an index file (`finish`)? */
  get indexed(): boolean {
    return this.tables !== 'none';
  }

  /** Bytes written so far (entries). */
  get size(): number {
    return this.pos + this.used;
  }

  private flush(): void {
    let done = 0;
    while (done < this.used) done += writeSync(this.fd, this.out, done, this.used - done, this.pos + done);
    this.pos += this.used;
    this.used = 0;
  }

  private write(b: Uint8Array): void {
    if (b.length > this.out.length - this.used) {
      this.flush();
      if (b.length > this.out.length) {
        let done = 0;
        while (done < b.length) done += writeSync(this.fd, b, done, b.length - done, this.pos + done);
        this.pos += b.length;
        return;
      }
    }
    this.out.set(b, this.used);
    this.used += b.length;
  }

  private grow(t: Table, slots = (t.mask + 1) * 2): void {
    const old = { ...t };
    const hashes = new Uint32Array(slots);
    const offs = new Float64Array(slots);
    const mask = slots - 1;
    for (let s = 0; s <= old.mask; s++) {
      if (old.offs[s] === 0) continue;
      let n = old.hashes[s] & mask;
      while (offs[n] !== 0) n = (n + 1) & mask;
      hashes[n] = old.hashes[s];
      offs[n] = old.offs[s];
    }
    t.hashes = hashes;
    t.offs = offs;
    t.mask = mask;
  }

  /** The slot of `key` in `table`, or the empty slot where it would go. */
  private slotOf(table: number, key: string, h: number): number {
    const t = this.t[table];
    for (let s = h & t.mask; ; s = (s + 1) & t.mask) {
      if (t.offs[s] === 0) return s;
      if (t.hashes[s] === h && this.keyAt(t.offs[s]) === key) return s;
    }
  }

  /** A reader of what is flushed so far (made again when more was flushed). */
  private flushedReader(): WindowReader {
    if (!this.reader || this.reader.size !== this.pos) this.reader = new WindowReader(this.fd, this.pos);
    return this.reader;
  }

  /** `len` bytes written at `off` (an entry never straddles the flushed part and the buffer): a buffer and the offset in it. */
  private bytesAt(off: number, len: number): [Buffer, number] {
    return off >= this.pos ? [this.out, off - this.pos] : this.flushedReader().bytes(off, len);
  }

  /** The length of the entry written at `off`. */
  private lengthAt(off: number): number {
    const [b, i] = this.bytesAt(off, 4);
    return b.readUInt32LE(i);
  }

  /** What the entry written at `off` stands under (`tableKeyOf`). */
  private keyAt(off: number): string {
    const [b, i] = this.bytesAt(off, 11);
    const keyLen = b.readUInt16LE(i + 9);
    if (b[i + 8] !== TABLE_FILES) {
      const [kb, ki] = this.bytesAt(off, 11 + keyLen);
      return kb.toString('utf8', ki + 11, ki + 11 + keyLen);
    }
    const [kb, ki] = this.bytesAt(off, 11 + keyLen + IDENTITY_BYTES + ONE_RESULT_HEAD);
    const keyEnd = ki + 11 + keyLen;
    return fileSlotKey(kb.toString('utf8', ki + 11, keyEnd), keyNoIn(kb, keyEnd + IDENTITY_BYTES, keyEnd + IDENTITY_BYTES + ONE_RESULT_HEAD));
  }

  /** The key number of the file entry written at `off`. */
  private keyNoAt(off: number): number {
    const [b, i] = this.bytesAt(off, 11);
    const p = 11 + b.readUInt16LE(i + 9) + IDENTITY_BYTES;
    const [kb, ki] = this.bytesAt(off, p + ONE_RESULT_HEAD);
    return keyNoIn(kb, ki + p, ki + p + ONE_RESULT_HEAD);
  }

  private countFile(keyNo: number): void {
    this.fileCounts[keyNo] = (this.fileCounts[keyNo] ?? 0) + 1;
  }

  /** Entries of `table` (in 'list' mode: known once `finish` built the tables). */
  count(table: number): number {
    return this.t[table].count;
  }

  /** Is the entry this writer wrote at `off`, standing under `key` in `table`, the live one (no later entry replaced it)? */
  isLive(table: number, key: string, off: number): boolean {
    return this.t[table].offs[this.slotOf(table, key, keyHash(key))] === off;
  }

  /** Is an entry standing under `key` (`tableKeyOf`) in `table`? */
  has(table: number, key: string): boolean {
    if (this.tables !== 'table') throw new Error(`IndexWriter.has on a writer with tables '${this.tables}'`);
    const t = this.t[table];
    return t.offs[this.slotOf(table, key, keyHash(key))] !== 0;
  }

  /** Append an entry. */
  add(table: number, key: string, id: Uint8Array, payload: readonly Uint8Array[]): void {
    const keyBytes = Buffer.from(key, 'utf8');
    if (keyBytes.length > MAX_KEY_BYTES) return; // too long for the format: never stored
    let len = ENTRY_HEAD + keyBytes.length + IDENTITY_BYTES;
    for (const p of payload) len += p.length;
    // The layout sealEntry gives a made entry; the CRC runs over the parts here, not over a copy.
    const head = Buffer.allocUnsafe(ENTRY_HEAD);
    writeEntryHead(head, len, table, keyBytes.length);
    let crc = crc32(head.subarray(8, ENTRY_HEAD));
    crc = crc32(keyBytes, crc);
    crc = crc32(id.subarray(0, IDENTITY_BYTES), crc);
    // An empty part is skipped: zlib.crc32 of a buffer with no memory behind it (a zero-length
    // ArrayBuffer: a folder record's file identities when it has no sidecar) is 0, not the running
    // value, so such an entry never passed its own checksum and was dropped at every rewrite.
    for (const p of payload) if (p.length > 0) crc = crc32(p, crc);
    head.writeUInt32LE(crc >>> 0, 4);
    const off = this.size;
    // Flushed entries are read back by `keyAt` when a hash matches: flush before an entry could straddle.
    if (len > this.out.length - this.used) this.flush();
    this.write(head);
    this.write(keyBytes);
    this.write(id.subarray(0, IDENTITY_BYTES));
    for (const p of payload) this.write(p);
    this.index(table, table === TABLE_FILES ? this.keyAt(off) : key, off);
  }

  /**
   * Append entries made elsewhere (`writeFileEntry`: in the thread that read each file) as they
   * are, each under the key it holds; all are checked before any is written. A first run appends a
   * few hundred at a time (scan-index.ts recordFirst): one loop, where a call per entry ran as cold
   * code on a first run's busiest thread. Returns how many.
   */
  addMade(table: number, entries: readonly Uint8Array[]): number {
    const n = entries.length;
    for (let i = 0; i < n; i++) {
      const e = entries[i];
      if (madeIdAt(e, table) < 0) throw new IndexFormatError('not an index entry of this table');
      if (table === TABLE_FILES) madeKeyNo(e, 0, e.length); // one result, or it throws before anything is written
    }
    const list = this.tables === 'list' ? this.lists[table] : null;
    for (let i = 0; i < n; i++) {
      const e = entries[i];
      const off = this.size;
      this.write(e);
      if (list !== null) list.push(madeKeyHash(e, 0, e.length), off, table === TABLE_FILES ? madeKeyNo(e, 0, e.length) : 0);
      else if (this.tables === 'table') this.index(table, madeKey(e, 0, e.length), off);
    }
    return n;
  }

  /**
   * Append a block of entries made elsewhere (tasks/index-entry.ts EntryBlock: a first run's batch, one after
   * another in `raw`, each ending at its `ends[i]`; equal ends: none), each checked as `addMade`
   * checks one, all before any is written; the block is written at once. Returns how many.
   */
  addMadeBlock(table: number, raw: Uint8Array, ends: Uint32Array): number {
    const n = ends.length;
    let from = 0;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const end = ends[i];
      if (end === from) continue;
      if (end < from || end > raw.length || madeIdAtIn(raw, from, end, table) < 0) throw new IndexFormatError('not an index entry of this table');
      if (table === TABLE_FILES) madeKeyNo(raw, from, end);
      count++;
      from = end;
    }
    const base = this.size;
    this.write(from === raw.length ? raw : raw.subarray(0, from));
    const list = this.tables === 'list' ? this.lists[table] : null;
    from = 0;
    for (let i = 0; i < n; i++) {
      const end = ends[i];
      if (end === from) continue;
      if (list !== null) list.push(madeKeyHash(raw, from, end), base + from, table === TABLE_FILES ? madeKeyNo(raw, from, end) : 0);
      else if (this.tables === 'table') this.index(table, madeKey(raw, from, end), base + from);
      from = end;
    }
    return count;
  }

  /**
   * Append an entry of another index file as it is (its bytes, CRC included): a rewrite copies the
   * entries it keeps unchanged without taking them apart and putting them together again.
   */
  addRaw(v: EntryView): void {
    const off = this.size;
    const bytes = v.buf.subarray(v.at, v.end);
    if (bytes.length > this.out.length - this.used) this.flush();
    this.write(bytes);
    this.index(v.table, tableKeyOf(v), off);
  }

  /**
   * Append a file entry of one result (its option set's key number, the result as stored): the entry
   * `add(TABLE_FILES, key, id, filePayload(keyNo, raw))` appends, written straight into the output
   * buffer by the frame's one writer (tasks/entry-format.ts writeFileEntry, as a reading thread
   * writes it). A rewrite renumbers a result so.
   */
  addFile(key: string, id: Uint8Array, keyNo: number, raw: Uint8Array): void {
    const most = fileEntryBound(key, raw);
    if (most > this.out.length) {
      this.add(TABLE_FILES, key, id, filePayload(keyNo, raw));
      return;
    }
    if (most > this.out.length - this.used) this.flush();
    const off = this.size;
    const len = writeFileEntry(this.out, this.used, key, id, keyNo, raw);
    if (len < 0) return; // a key too long for the format: never stored, as `add` skips it
    this.used += len;
    // Under the key its bytes hold (a lone surrogate is U+FFFD there), as `add` indexes it.
    this.index(TABLE_FILES, this.keyAt(off), off);
  }

  private index(table: number, key: string, off: number): void {
    if (this.tables === 'none') return;
    if (this.tables === 'list') {
      this.lists[table].push(keyHash(key), off, table === TABLE_FILES ? this.keyNoAt(off) : 0);
      return;
    }
    const t = this.t[table];
    const h = keyHash(key);
    const s = this.slotOf(table, key, h);
    if (t.offs[s] === 0) {
      t.count++;
      if (table === TABLE_FILES) this.countFile(this.keyNoAt(off));
    } else this.garbage += this.lengthAt(t.offs[s]);
    t.hashes[s] = h;
    t.offs[s] = off;
    if (overFull(t.count, t.mask + 1)) this.grow(t);
  }

  /**
   * Append tables, header and trailer; close. The caller renames the file into place. Not fsynced:
   * the index is a cache, as git's index is (git's default core.fsync leaves it out). A killed run
   * leaves the previous file (the rename is atomic); a file torn by a power loss fails its checksums and is
   * rebuilt with a warning; an older file brought back is served only where each file is still as
   * it recorded. The fsync of a first run's 36 MB took 47 ms on a quiet disk, and waits for every
   * other writer's data on a busy one (or a NAS).
   */
  finish(header: IndexHeader): number {
    if (!this.indexed) throw new Error('IndexWriter.finish on a writer without tables');
    this.flush();
    const tablesAt = this.pos;
    // Written piece by piece from the arrays as kept (no copy of the whole section: ~50 MB at 10^6 sidecars).
    let tablesLen = 0;
    let crc = 0;
    // Lists are made tables one at a time, in one pair of arrays sized for the biggest (a table
    // dropped after it is written is freed only when the collector runs).
    let scratch: { hashes: Uint32Array; offs: Float64Array } | null = null;
    if (this.tables === 'list') {
      const most = Math.max(...this.lists.map((l) => slotsFor(l.count)));
      scratch = { hashes: new Uint32Array(most), offs: new Float64Array(most) };
    }
    for (let ti = 0; ti < TABLES; ti++) {
      // The table as kept (≤ 75 % full) is the table written; a list is made a table now.
      if (scratch) this.buildFromList(ti, scratch);
      // A table made bigger than its entries need (`expect`) goes out at the size growth gives.
      else if (this.t[ti].count > 0 && slotsFor(this.t[ti].count) < this.t[ti].mask + 1) this.grow(this.t[ti], slotsFor(this.t[ti].count));
      const t = this.t[ti];
      const head = Buffer.allocUnsafe(8);
      const slots = t.count === 0 ? 0 : t.mask + 1;
      head.writeUInt32LE(slots, 0);
      head.writeUInt32LE(t.count, 4);
      const parts: Buffer[] = [head];
      if (slots > 0) parts.push(Buffer.from(t.hashes.buffer, t.hashes.byteOffset, slots * 4), Buffer.from(t.offs.buffer, t.offs.byteOffset, slots * 8));
      for (const part of parts) {
        crc = crc32(part, crc);
        tablesLen += part.length;
        this.write(part);
      }
      if (this.tables === 'list') this.t[ti] = { hashes: new Uint32Array(0), offs: new Float64Array(0), mask: 0, count: t.count };
    }
    // Each option set's file entries (a delta's header holds those of base and delta together: its writer's caller counts them).
    if (header.base === undefined) header.keys = header.keys.map((k, no) => ({ ...k, files: this.fileCounts[no] ?? 0 }));
    const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
    const trailer = Buffer.alloc(TRAILER_BYTES);
    trailer.writeDoubleLE(tablesAt, 0);
    trailer.writeUInt32LE(tablesLen, 8);
    trailer.writeUInt32LE(headerBytes.length, 12);
    crc = crc32(trailer.subarray(0, 16), crc32(headerBytes, crc));
    trailer.writeUInt32LE(crc >>> 0, 16);
    TRAILER_MAGIC.copy(trailer, 20);
    this.write(headerBytes);
    this.write(trailer);
    this.flush();
    closeSync(this.fd);
    return this.pos;
  }

  /**
   * The open-addressing table of a list, as 'table' mode would hold it: sized for its entries
   * (≤ 75 % full), filled in the order added, a later entry with the same key in place of the
   * earlier one. The list is dropped.
   */
  private buildFromList(table: number, scratch: { hashes: Uint32Array; offs: Float64Array }): void {
    const list = this.lists[table];
    this.lists[table] = new EntryList();
    const slots = slotsFor(list.count);
    const hashes = scratch.hashes.subarray(0, slots).fill(0);
    const offs = scratch.offs.subarray(0, slots).fill(0);
    const mask = slots - 1;
    let count = 0;
    // A chunk of the list at a time, the probe written out: this runs once, at the end of a first
    // run (on its critical path), in V8's first tiers, where two calls per entry (the list's entry
    // at n) made it ~450 ns an entry: 8–9 ms for the bench library's 18,525; 4.5 ms so.
    for (let c = 0, left = list.count; left > 0; c++) {
      const listHashes = list.hashChunk(c);
      const listOffs = list.offChunk(c);
      const listNos = list.noChunk(c);
      const m = left < LIST_CHUNK ? left : LIST_CHUNK;
      for (let n = 0; n < m; n++) {
        const h = listHashes[n];
        const off = listOffs[n];
        let s = h & mask;
        let at = offs[s];
        while (at !== 0) {
          if (hashes[s] === h && this.keyAt(at) === this.keyAt(off)) break;
          s = (s + 1) & mask;
          at = offs[s];
        }
        if (at === 0) {
          count++;
          if (table === TABLE_FILES) this.countFile(listNos[n]);
        }
        hashes[s] = h;
        offs[s] = off;
      }
      left -= m;
    }
    this.t[table] = { hashes, offs, mask, count };
  }

  /** An entry written earlier (by its offset), CRC checked. */
  entryAt(off: number): EntryView {
    if (this.used > 0) this.flush();
    return this.flushedReader().entry(off, this.pos);
  }

  /** Every entry written so far, in file order (CRC checked; views valid until the next read). */
  *entries(): Generator<EntryView> {
    let off = INDEX_MAGIC.length + 1;
    while (off < this.size) {
      const v = this.entryAt(off);
      off += v.len;
      yield v;
    }
  }

  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* closed */
    }
  }
}
