/**
 * A sidecar's index entry as the thread that read the file makes it: the identity of the file it
 * read (fstat of the descriptor it read through: exactly the bytes inspected) and the result as
 * stored (the packed row and its escape, inspect-wire.ts). A worker makes it beside its result, so the main thread only copies bytes into the
 * spool (incremental/scan-index.ts record): the rule of what may be stored lives here, once, for every thread.
 *
 * A result may be stored only when it can be trusted later: not unreadable (transient), not
 * decrypted content (an encrypted sidecar's summary never lands in a plaintext file; with keys, no
 * corrupt verdict: it may be a failed decryption), the size read is the size seen, and the file's
 * ctime is older than the run's start by a margin ("racy" files: a same-size rewrite within the file
 * system's timestamp granularity after our read could keep every stat field). ctime alone decides:
 * any change after the read moves it to "now"; mtime may be set to anything.
 */
import { relativePrefix, relativeTo } from '../fs/rel-path.js';
import { isWellFormed } from '../formats/value.js';
import { KIND_WRITTEN, writeBatchEntries } from './entry-writer.js';
import { serialize } from 'node:v8';
import { setOwn } from '../analysis/own-record.js';
import { beginFileEntry, fileEntryBound, sealFileEntry } from './entry-format.js';
import { extrasOf, laterColumns, PACKED_RESULT_ROOM, packRowAt, placeEntryBlock, unpackResult, type InspectWire } from './inspect-wire.js';
import type { IdentityScratch } from '../fs/identity.js';
import type { EntryOptions, EntryBlock, IndexEntryOut } from '../model/index-entry.js';
import type { FileInspection } from '../model/inspection.js';

/** Stands for the file's path in a stored message (U+0000 never occurs in a path). */
export const PATH_MARK = '\u0000path\u0000';

/**
 * The racy cutoff (ms since the epoch, an integer) of a run started at `startedMs` with a margin
 * of `marginMs` (ScanIndex's): a margin of 0 (or below) turns the check off, a cutoff
 * past any ctime; a margin longer than the clock's time (Infinity too) trusts no ctime: 0.
 */
export function racyCutoffOf(startedMs: number, marginMs: number): number {
  return marginMs > 0 ? Math.max(0, Math.floor(startedMs - marginMs)) : Number.MAX_SAFE_INTEGER;
}

/** The racy cutoff in ns (what ctime is compared with). */
export function racyCutoffNs(racyCutoffMs: number): bigint {
  return BigInt(racyCutoffMs) * 1_000_000n;
}

/**
 * May this result, read from the file whose identity `id` holds (its stat before the read), be stored (see above)?
 * The WebAssembly entry writer applies the same rule to rows without extras (assembly/entries.ts
 * `trusted`; test/entry-writer.test.ts holds the two to the same verdicts).
 */
export function isTrusted(result: FileInspection, id: IdentityScratch, cutoffNs: bigint, withKeys: boolean): boolean {
  if (!id.ctimeBefore(cutoffNs)) return false;
  if (result.status === 'unreadable' || result.status === 'unchecked' || result.status === 'encrypted') return false;
  // With keys, a corrupt verdict may be a failed decryption (a passphrase is not in the key): retry it.
  if (withKeys && result.status === 'corrupt') return false;
  if (result.encryptedKeyId !== undefined || result.data !== undefined || result.dataJson !== undefined || result.dataset !== undefined) return false;
  return id.sizeNumber() === result.size; // else it changed between the stat and the read
}

/**
 * The entry of a result read from a file whose identity `id` holds (its descriptor's fstat before
 * the read, fs/identity.ts IdentityScratch: the identity as stored, no object per file), or null when
 * it may not be stored. `row`: the result's row in its batch as packed for the main thread.
 *
 * The one encoder of a stored result: the row of the batch's columns (inspect-wire.ts packRowAt),
 * packed in place, and when the batch sends fields of it in its escape (an error, notes, problems,
 * a probe...) the escape after it (packRowAt): those fields less the path, v8-serialized (bigints,
 * -0, undefined, key order, `__proto__` keys kept). The path is never stored (the row holds none); a
 * message naming the file names it by PATH_MARK (the entry serves any spelling of the root). A row
 * the form cannot hold (a string it refuses, more than PACKED_RESULT_ROOM bytes) gives its columns
 * past the base ones (brief, summary...) to the escape too: every result that may be stored is.
 */
export function fileEntry(result: FileInspection, id: IdentityScratch, opts: EntryOptions, cutoffNs: bigint, withKeys: boolean, row: EntryRow): IndexEntryOut | null {
  if (!isTrusted(result, id, cutoffNs, withKeys)) return null;
  const key = relativeTo(opts.root)(result.path);
  const extras = extrasOf(row.wire, row.i);
  if (extras === null) {
    const packed = arena.writeStored(key, opts.keyNo, id.bytes, row, null, true);
    if (packed !== undefined) return packed;
  }
  if (extras !== null) {
    const packed = arena.writeStored(key, opts.keyNo, id.bytes, row, serialize(escapeOf(result, extras, {})), true);
    if (packed !== undefined) return packed;
  }
  // The row without the columns past the base ones: they lead the escape, in the order a decoder sets them.
  const escape = escapeOf(result, extras, laterColumns(row.wire, row.i, result));
  return arena.writeStored(key, opts.keyNo, id.bytes, row, serialize(escape), false) ?? null;
}

/** The escape of a stored result: `escape` and then the batch's `extras` for it less the path, a message naming the file by PATH_MARK. */
function escapeOf(result: FileInspection, extras: Partial<FileInspection> | null, escape: Partial<FileInspection>): Partial<FileInspection> {
  if (extras === null) return escape;
  for (const k in extras) if (k !== 'path' && Object.hasOwn(extras, k)) setOwn(escape as Record<string, unknown>, k, extras[k as keyof FileInspection]);
  const path = result.path;
  const error = escape.error;
  if (error && error.message.includes(path)) escape.error = { ...error, message: error.message.split(path).join(PATH_MARK) };
  return escape;
}

/**
 * The result's row in its batch packed for the main thread (tasks/inspect.ts): its entry's packed
 * result is made from the batch's columns (inspect-wire.ts packRowAt), the same bytes as from the
 * result. One per batch, its row set per entry.
 */
export interface EntryRow {
  wire: InspectWire;
  /** The batch's strings as a packed result holds them (inspect-wire.ts rowStrings). */
  strings: readonly (Uint8Array | null)[];
  /** The result's row, and its summary's row (when it has one). */
  i: number;
  j: number;
}

/**
 * A packed batch's entries by the WebAssembly writer (entry-writer.ts), the bytes `fileEntry` makes
 * for each row: each written row's `indexEntry` set (a view of this thread's arena, as fileEntry's;
 * a first run's, when no row is deferred: one `EntryBlock` on the first result with an entry),
 * and the rows' verdicts returned (`kinds`, entry-writer.ts KIND_*; `deferred` of them KIND_DEFER):
 * the caller makes each KIND_DEFER row's entry with `fileEntry`. Null when the writer is not used:
 * then every row is the caller's.
 * `read`: per row, 1 when it was read through the stat kept in `stats` (fs/identity.ts BatchStats.rows).
 */
export function batchEntries(results: readonly FileInspection[], row: EntryRow, read: Uint8Array, stats: { bytes: Uint8Array; stride: number }, opts: EntryOptions, cutoffNs: bigint, withKeys: boolean): { kinds: Uint8Array; deferred: number } | null {
  const n = row.wire.n;
  let paths = '';
  for (let i = 0; i < n; i++) paths += results[i].path + '\u0000';
  const prefix = relativePrefix(opts.root);
  // A lone surrogate is written as U+FFFD: two paths the string compare tells apart could share bytes.
  if (!isWellFormed(paths) || !isWellFormed(prefix)) return null;
  const made = writeBatchEntries({ wire: row.wire, strings: row.strings, paths, read, stats, prefix, keyNo: opts.keyNo, withKeys, cutoffNs, room: PACKED_RESULT_ROOM });
  if (made === null) return null;
  const { ends, kinds } = made;
  const chunk = arena.place(made.bytes);
  // A first run's batch with nothing left to JavaScript: one block, on its first result with an
  // entry (no view per entry; the scan stores it whole, a worker thread sends it as it is).
  if (opts.first === true && made.deferred === 0) {
    placeEntryBlock(results, chunk, ends.slice()); // the batch was packed from these results: one end each
    return made;
  }
  let from = 0;
  for (let i = 0; i < n; i++) {
    const end = ends[i];
    if (kinds[i] === KIND_WRITTEN) results[i].indexEntry = new Uint8Array(chunk.buffer, chunk.byteOffset + from, end - from);
    from = end;
  }
  return made;
}

/** The one decoder of a stored result as `fileEntry` wrote it (its row and escape), path '' (null: unreadable, a miss). */
export function storedResult(raw: Uint8Array): FileInspection | null {
  return unpackResult(raw);
}

/** Bytes per chunk of a thread's entry arena. */
const ARENA_CHUNK = 256 * 1024;

/**
 * Where a thread writes its entries: one chunk after another, each entry a view of the chunk it
 * fits in (a bigger one gets a chunk of its own). A chunk lives while a view of it does: until the
 * main thread copied the entry into its spool (in-process), or, in a worker thread, until the batch
 * is packed (its entries copied into the message): the worker then writes the next batch's entries
 * over the same chunk (`rewindEntries`). A new chunk per batch was garbage the worker's collector
 * left for its rare full collections: ~20 MB per worker thread at 2·10^5 images, in the first run's
 * peak RSS.
 */
class EntryArena {
  private chunk = Buffer.allocUnsafeSlow(0);
  /** A DataView of all of the chunk (a typed array's `buffer` is a call into the runtime; a DataView's is a field). */
  private view = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.length);
  private at = 0;

  rewind(): void {
    if (this.chunk.length > ARENA_CHUNK) this.newChunk(0); // a big entry's own chunk is not kept
    this.at = 0;
  }

  private newChunk(most: number): void {
    this.chunk = Buffer.allocUnsafeSlow(Math.max(ARENA_CHUNK, most));
    this.view = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.length);
    this.at = 0;
  }

  // The methods below read the arena's fields once each: a reading thread runs them once per file
  // in V8's baseline tier, where every property read is a call.

  /**
   * The entry of `row`'s result in the stored form (fileEntry), written in place: its row (`columns`
   * false: without its columns past the base ones) and its escape, if any; undefined when the row does not
   * fit the form (the caller stores it otherwise), null when it may not be stored (a key too long).
   */
  writeStored(key: string, keyNo: number, idBytes: Buffer, row: EntryRow, escape: Uint8Array | null, columns: boolean): IndexEntryOut | null | undefined {
    const most = fileEntryBound(key, '') + PACKED_RESULT_ROOM + (escape === null ? 0 : escape.length);
    if (this.at + most > this.chunk.length) this.newChunk(most);
    const { chunk, view, at } = this;
    const r = beginFileEntry(chunk, view, at, key, idBytes, keyNo);
    if (r < 0) return null;
    const end = packRowAt(row.wire, row.i, row.j, row.strings, chunk, view, r, r + PACKED_RESULT_ROOM, escape, columns);
    if (end < 0) return undefined;
    return this.sealed(at, sealFileEntry(chunk, view, at, end));
  }

  /** `bytes` copied into the arena (a batch's entries by the WebAssembly writer): a view of the copy, valid as long as an entry's. */
  place(bytes: Uint8Array): Uint8Array {
    if (this.at + bytes.length > this.chunk.length) this.newChunk(bytes.length);
    const at = this.at;
    this.chunk.set(bytes, at);
    this.at = at + bytes.length;
    const view = this.view;
    return new Uint8Array(view.buffer, view.byteOffset + at, bytes.length);
  }

  /** The entry of `len` bytes just written at `at`, as a plain view (a Buffer's subarray makes a FastBuffer: slower, in cold code above all). */
  private sealed(at: number, len: number): IndexEntryOut {
    this.at = at + len;
    const view = this.view;
    return new Uint8Array(view.buffer, view.byteOffset + at, len);
  }
}

const arena = new EntryArena();

/**
 * This thread's entries made so far will not be read again (a worker thread has copied its batch's
 * entries into the message it posts): the next ones are written over them.
 */
export function rewindEntries(): void {
  arena.rewind();
}

/** Take a first run's block of entries off the result it rides on (`EntryBlock`), as `takeEntry` takes one entry. */
export function takeEntryBlock(result: FileInspection): EntryBlock | null {
  const b = result.indexEntries;
  if (b === undefined) return null;
  delete result.indexEntries;
  return b;
}

/**
 * Take a result's entry off it (the scan does, before anyone else sees the result): it never
 * reaches a caller or an output.
 */
export function takeEntry(result: FileInspection): IndexEntryOut | null {
  const e = result.indexEntry;
  if (e === undefined) return null;
  delete result.indexEntry;
  return e;
}
