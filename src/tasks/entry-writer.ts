/**
 * The WebAssembly entry writer (assembly/entries.ts, compiled by `npm run build` into entries.wasm
 * next to this file): a packed batch's index entries in one call, the bytes index-entry.ts `fileEntry`
 * makes row by row. Loaded once per thread, on first use, synchronously; a module whose parameter
 * block or CRC is not the one this loader knows (another build's) is never used.
 *
 * Why: a first run's reading threads made each entry at ~10 µs (~20 µs a stats result) in V8's
 * baseline tier, where the raised interrupt budget (src/tuning.ts) keeps code run once per
 * file; a bench-library first run made 18,525 of them.
 *
 * The fast path is optional: `IMAGE_SIDECAR_ACCEL=off` (InspectOptions.accel false) turns it off
 * with the scanner, a missing or failing module leaves it off (`entryWriterStatus` says why), and
 * every row it is not sure of is left to the JavaScript path (KIND_DEFER). Parity: test/entry-writer.test.ts.
 */
import { shippedFile } from '../shipped.js';
import { sep } from 'node:path';
import { LITTLE_ENDIAN_HOST } from '../byte-order.js';
import { writeUtf8 } from '../formats/value.js';
import type { InspectWire } from './inspect-wire.js';
import { fileEntryBound } from './entry-format.js';

/** A row's verdict (assembly/entries.ts): no entry, an entry written, left to the JavaScript path. */
export const KIND_NONE = 0;
export const KIND_WRITTEN = 1;
export const KIND_DEFER = 2;

/** The bytes an entry takes besides its key and its result (entry-format.ts: head, identity, one-result head). */
const ENTRY_FRAME = fileEntryBound('', '');

interface EntriesExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  reserve(bytes: number): number;
  writeEntries(paramsAt: number): number;
  crc(from: number, len: number): number;
  PARAM_WORDS: WebAssembly.Global;
}

export interface EntryWriterStatus {
  available: boolean;
  reason?: string;
}

/** Where the build puts the module (next to the compiled loader). */
const ENTRIES_WASM_URL = new URL('./entries.wasm', import.meta.url);

let exportsCache: EntriesExports | null | undefined;
let status: EntryWriterStatus = { available: false, reason: 'not loaded yet' };
/** Views of the module's memory (made again when it grows). */
let mem: Uint8Array = new Uint8Array(0);
let words: Uint32Array = new Uint32Array(0);

/** The parameter block's words this loader writes (assembly/entries.ts PARAM_WORDS), and the two the module writes back: its rows written and deferred. */
const PARAM_WORDS = 36;
const OUT_WRITTEN = 33;
const OUT_DEFERRED = 34;
/** CRC-32 of "123456789" (the check value of zlib's CRC). */
const CRC_CHECK = 0xcbf43926;

/** `mem` and `words` over the module's memory as it is now (a grown memory has a new buffer). */
function viewMemory(ex: EntriesExports): void {
  if (mem.buffer !== ex.memory.buffer) {
    mem = new Uint8Array(ex.memory.buffer);
    words = new Uint32Array(ex.memory.buffer);
  }
}

function load(): EntriesExports | null {
  if (exportsCache !== undefined) return exportsCache;
  exportsCache = null;
  try {
    if (!LITTLE_ENDIAN_HOST) throw new Error('the index is written on little-endian hosts only');
    if (sep !== '/') throw new Error('keys are cut from POSIX paths only');
    const module = new WebAssembly.Module(shippedFile('entries.wasm', ENTRIES_WASM_URL));
    const instance = new WebAssembly.Instance(module, { env: { abort: () => { throw new Error('entry writer abort'); } } });
    const ex = instance.exports as unknown as EntriesExports;
    if (ex.PARAM_WORDS.value !== PARAM_WORDS) throw new Error(`self-check failed: ${ex.PARAM_WORDS.value} parameters, not ${PARAM_WORDS} (another build's module)`);
    exportsCache = ex;
    if (entryWriterCrc(Buffer.from('123456789')) !== CRC_CHECK) throw new Error('self-check failed: its CRC-32 is not zlib\'s');
    status = { available: true };
  } catch (e) {
    exportsCache = null;
    const err = e as NodeJS.ErrnoException;
    status = { available: false, reason: err?.code === 'ENOENT' ? `${ENTRIES_WASM_URL.pathname} is missing (run npm run build)` : `cannot load the entry writer: ${err?.message ?? e}` };
  }
  return exportsCache;
}

/** Whether the entry writer can be used in this thread (loads it once). */
export function entryWriterStatus(): EntryWriterStatus {
  load();
  return status;
}

/** What the writer needs besides the batch's columns. */
export interface BatchEntryInput {
  wire: InspectWire;
  /** The batch's strings as a packed result holds them (inspect-wire.ts rowStrings). */
  strings: readonly (Uint8Array | null)[];
  /** Each row's path followed by U+0000, in row order (well formed: isWellFormed). */
  paths: string;
  /** Per row: 1 when it was read through a kept stat. */
  read: Uint8Array;
  /** The kept stats (fs/identity.ts BatchStats.rows). */
  stats: { bytes: Uint8Array; stride: number };
  /** The root with its trailing separator (rel-path.ts relativeTo's prefix), well formed. */
  prefix: string;
  keyNo: number;
  withKeys: boolean;
  cutoffNs: bigint;
  /** PACKED_RESULT_ROOM. */
  room: number;
}

/** The writer's answer: views of the module's memory, valid until its next call on this thread. */
export interface BatchEntries {
  /** The entries, one after another. */
  bytes: Uint8Array;
  /** Per row: the end of its entry in `bytes` (the previous end when it has none). */
  ends: Uint32Array;
  /** Per row: KIND_NONE, KIND_WRITTEN or KIND_DEFER. */
  kinds: Uint8Array;
  /** How many rows are KIND_DEFER. */
  deferred: number;
}

/** Batches the module wrote in this thread, and their rows by verdict (tests; which path made a run's entries). */
export const entryWriterCounts = { batches: 0, written: 0, deferred: 0 };

const align8 = (x: number) => (x + 7) & ~7;

/** A typed array's bytes. */
function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * The batch's entries by the module, or null when it is not available or refuses the batch (the
 * caller then makes every entry in JavaScript).
 */
export function writeBatchEntries(input: BatchEntryInput): BatchEntries | null {
  const ex = load();
  if (ex === null) return null;
  const w = input.wire;
  const n = w.n;
  const strings = input.strings;
  const sc = w.summaries;
  const ops = sc === null ? 0 : sc.opName.length;
  const classes = sc === null ? 0 : sc.className.length;
  const m = sc === null ? 0 : sc.bits.length;
  let stringBytes = 0;
  for (let k = 0; k < strings.length; k++) {
    const s = strings[k];
    if (s !== null) stringBytes += s.length;
  }
  // The layout from heapBase: parameters, columns, paths, output; each region 8-aligned.
  let at = align8(PARAM_WORDS * 4);
  const take = (bytes: number): number => {
    const from = at;
    at = align8(at + bytes);
    return from;
  };
  const codesAt = take(2 * n);
  const numsAt = take(24 * n);
  const strsAt = take(8 * n);
  const readAt = take(n);
  const statsAt = take(input.stats.stride * 8 * n);
  const strAtAt = take(4 * strings.length);
  const strBytesAt = take(stringBytes);
  const snumsAt = take(40 * m);
  const sstrsAt = take(12 * m);
  const sbitsAt = take(m);
  const opStartAt = take(4 * (m + 1));
  const classStartAt = take(4 * (m + 1));
  const opNameAt = take(4 * ops);
  const opTimeAt = take(8 * ops);
  const opSuccessAt = take(ops);
  const opSizeAt = take(8 * ops);
  const classNameAt = take(4 * classes);
  const classCountAt = take(8 * classes);
  const endsAt = take(4 * n);
  const kindsAt = take(n);
  const prefixAt = take(3 * input.prefix.length);
  const pathsAt = take(3 * input.paths.length);
  // Every row's entry at its most: a key is at most its path's bytes.
  const outAt = take(n * (ENTRY_FRAME + input.room) + 3 * input.paths.length);
  if (!ex.reserve(at)) return null;
  const base = ex.heapBase();
  viewMemory(ex);
  mem.set(bytesOf(w.codes), base + codesAt);
  mem.set(bytesOf(w.nums), base + numsAt);
  mem.set(bytesOf(w.strs), base + strsAt);
  mem.set(input.read.subarray(0, n), base + readAt);
  mem.set(input.stats.bytes, base + statsAt);
  const strAt = new Int32Array(mem.buffer, base + strAtAt, strings.length);
  let sAt = 0;
  for (let k = 0; k < strings.length; k++) {
    const s = strings[k];
    if (s === null) strAt[k] = -1;
    else {
      strAt[k] = sAt;
      mem.set(s, base + strBytesAt + sAt);
      sAt += s.length;
    }
  }
  if (sc !== null) {
    mem.set(bytesOf(sc.nums), base + snumsAt);
    mem.set(bytesOf(sc.strs), base + sstrsAt);
    mem.set(sc.bits, base + sbitsAt);
    mem.set(bytesOf(sc.opStart), base + opStartAt);
    mem.set(bytesOf(sc.classStart), base + classStartAt);
    mem.set(bytesOf(sc.opName), base + opNameAt);
    mem.set(bytesOf(sc.opTime), base + opTimeAt);
    mem.set(bytesOf(sc.opSuccess), base + opSuccessAt);
    mem.set(bytesOf(sc.opSize), base + opSizeAt);
    mem.set(bytesOf(sc.className), base + classNameAt);
    mem.set(bytesOf(sc.classCount), base + classCountAt);
  }
  const buf = Buffer.from(mem.buffer, mem.byteOffset, mem.byteLength);
  const prefixLen = writeUtf8(buf, input.prefix, base + prefixAt);
  const pathsLen = writeUtf8(buf, input.paths, base + pathsAt);
  const p = base >>> 2;
  // The cutoff as the module compares it (assembly/entries.ts CUTOFF_*): a u64 ctime is before any
  // cutoff of 2^64 or more and before none below 0 (what isTrusted's BigInt compare gives).
  const cut = input.cutoffNs;
  const cutoffMode = cut < 0n ? 2 : cut >= 1n << 64n ? 1 : 0;
  const params = [
    n, base + codesAt, base + numsAt, base + strsAt, base + readAt, base + statsAt, input.stats.stride, base + pathsAt, base + prefixAt, prefixLen,
    base + strAtAt, base + strBytesAt, sc === null ? 0 : 1, base + snumsAt, base + sstrsAt, base + sbitsAt, base + opStartAt, base + classStartAt,
    base + opNameAt, base + opTimeAt, base + opSuccessAt, base + opSizeAt, base + classNameAt, base + classCountAt,
    input.keyNo, input.withKeys ? 1 : 0, base + outAt, base + endsAt, base + kindsAt,
    cutoffMode === 0 ? Number(BigInt.asUintN(32, cut)) : 0, cutoffMode === 0 ? Number(cut >> 32n) : 0, input.room, pathsLen,
    0, 0, cutoffMode, // (OUT_WRITTEN, OUT_DEFERRED: the module's)
  ];
  for (let k = 0; k < params.length; k++) words[p + k] = params[k];
  const len = ex.writeEntries(base);
  if (len < 0) return null;
  // Counted by the module: no loop over the rows here.
  const deferred = words[p + OUT_DEFERRED];
  entryWriterCounts.batches++;
  entryWriterCounts.written += words[p + OUT_WRITTEN];
  entryWriterCounts.deferred += deferred;
  return {
    bytes: new Uint8Array(mem.buffer, base + outAt, len),
    ends: new Uint32Array(mem.buffer, base + endsAt, n),
    kinds: new Uint8Array(mem.buffer, base + kindsAt, n),
    deferred,
  };
}

/** CRC-32 by the module (tests hold it to zlib's); null when it is not available. */
export function entryWriterCrc(bytes: Uint8Array): number | null {
  const ex = load();
  if (ex === null || !ex.reserve(bytes.length)) return null;
  viewMemory(ex);
  const base = ex.heapBase();
  mem.set(bytes, base);
  return ex.crc(base, bytes.length) >>> 0;
}
