/**
 * The inspect task's results as they cross from a worker thread to the main thread: one compact
 * batch (a few typed arrays, one string table, and objects only for the unusual parts) instead of
 * one structured-clone object graph per file. Cloning a graph per file cost each worker about as
 * much as reading the files, and the main thread as much again to rebuild it (an engine
 * profiled); typed arrays are moved, not copied, and the main thread builds each result from them
 * with one object literal.
 *
 * This is the one form an inspect batch takes between threads: one encoder (packInspections, in
 * the worker), one decoder (unpackInspections, on the main thread), every batch. What travels in
 * columns: status, format, shape, accel, size, elapsed time, whether notes and problems are empty,
 * validate's brief, and the summary stats reads (its numbers, operations with their time / success
 * / size, object classes). The escape (`extras`, structured-cloned inside the batch) carries the
 * rest: errors, notes, problems, probes, link resolutions, data and export's text, the image
 * record, a summary whose per-operation records are not in the order the columns rebuild, a value
 * the tables do not list, a column key set to undefined. The path never travels: the main thread
 * has the items. A batch's index entries (the index's stored form, made in the worker) ride along
 * as bytes the main thread copies, never decodes.
 *
 * The packed row (packRowAt, below) is one result's row of the columns as the index stores it;
 * assembly/entries.ts writes the same bytes (test/entry-writer.test.ts), unpackResult reads them.
 *
 * `unpackInspections(packInspections(r, items), items)` deep-equals `r` (test/inspect-wire.test.ts);
 * the inline runtime skips the pair (nothing crosses a thread there), and the parity tests compare
 * both runtimes' outputs byte for byte.
 */
import { deserialize } from 'node:v8';
import type { SidecarFormat } from '../types.js';
import { setOwn } from '../analysis/own-record.js';
import { isWellFormed, writeUtf8 } from '../formats/value.js';
import type { SidecarBrief, SidecarSummary } from '../model/summary.js';
import type { FileInspection, InspectItem, InspectStatus, LinkAt } from '../model/inspection.js';

export interface InspectWire {
  readonly kind: 'inspect-wire/1';
  n: number;
  /** Per result: status | format << 3 | shape << 6 | accel << 9 | flags (bits 11..). */
  codes: Uint16Array;
  /** Per result: size, elapsedMs, brief.detectionCount. */
  nums: Float64Array;
  /** Per result: brief.toolName, brief.operationType (string-table index, -1 = null). */
  strs: Int32Array;
  strings: string[];
  /** Summaries in columns (present for results with F_SUMMARY). */
  summaries: SummaryColumns | null;
  /** Result index → its fields that have no column. */
  extraAt: number[];
  extras: Partial<FileInspection>[];
  /**
   * Index entries (FileInspection.indexEntry, each an entry's bytes as the index holds it; null:
   * none in this batch): per result the end of its bytes in `raw` (equal to the previous end: none).
   * One buffer for the batch, moved with it: the main thread copies each entry into the spool.
   * `first` (a first run's, index-entry.ts EntryOptions.first): unpacked as one block on the first result
   * that has an entry (FileInspection.indexEntries), not as an entry per result.
   */
  entries: { ends: Uint32Array; raw: Uint8Array; first?: boolean } | null;
  /**
   * export's embeddings (FileInspection.dataset: vectors and rows) of the whole batch: the vectors in
   * one buffer moved with it (not a buffer per file), the rows in one text, LF between them (a row
   * is JSON: no raw LF in it), not an array of strings per file. Per extra, where its vectors start
   * and how many floats and rows it has; its escape carries `vectors: null, rows: []`. Null when the
   * batch has no vector.
   */
  vectors?: { all: Float32Array; start: Uint32Array; length: Uint32Array; rows: Uint32Array; text: string } | null;
}

/** The extras' dataset vectors and rows, packed (see InspectWire.vectors; the escapes are copies: the results stay as they are). */
function packVectors(extras: Partial<FileInspection>[], transfer: ArrayBuffer[]): InspectWire['vectors'] {
  let total = 0;
  for (let k = 0; k < extras.length; k++) total += extras[k].dataset?.vectors?.length ?? 0;
  if (total === 0) return null;
  const all = new Float32Array(total);
  const start = new Uint32Array(extras.length);
  const length = new Uint32Array(extras.length);
  const rows = new Uint32Array(extras.length);
  const texts: string[] = [];
  let at = 0;
  for (let k = 0; k < extras.length; k++) {
    const ds = extras[k].dataset;
    if (!ds?.vectors) continue;
    all.set(ds.vectors, at);
    start[k] = at;
    length[k] = ds.vectors.length;
    rows[k] = ds.rows.length;
    for (let r = 0; r < ds.rows.length; r++) texts.push(ds.rows[r]);
    at += ds.vectors.length;
    extras[k] = { ...extras[k], dataset: { ...ds, vectors: null, rows: [] } };
  }
  transfer.push(all.buffer, start.buffer, length.buffer, rows.buffer);
  return { all, start, length, rows, text: texts.join('\n') };
}

interface SummaryColumns {
  /** Per summary: faces, objects, embeddings, embeddingLength, qualityScore (NaN = null). */
  nums: Float64Array;
  /** Per summary: operationType, toolName, qualityGrade (string index, -1 = null). */
  strs: Int32Array;
  /** Per summary: bit 0 hasSidecarInfo, bit 1 symlink present, bit 2 isSymlink, bit 3 broken. */
  bits: Uint8Array;
  /** Per summary: first operation and first object class (n + 1 entries: ends included). */
  opStart: Uint32Array;
  classStart: Uint32Array;
  /** Per operation: name (string index), processing time (NaN = none), success (-1 none, 0, 1), size (-1 none). */
  opName: Int32Array;
  opTime: Float64Array;
  opSuccess: Int8Array;
  opSize: Float64Array;
  /** Per object class: name (string index), count. */
  className: Int32Array;
  classCount: Float64Array;
}

const STATUS: readonly InspectStatus[] = ['ok', 'corrupt', 'unreadable', 'unchecked', 'encrypted'];
const FORMAT: readonly (SidecarFormat | null)[] = [null, 'json', 'bin', 'rkyv', 'legacy'];
const SHAPE: readonly FileInspection['shape'][] = [null, 'sidecar', 'report', 'other'];
const ACCEL: readonly (FileInspection['accel'] | undefined)[] = [undefined, 'wasm', 'deferred'];

const F_NOTES_EMPTY = 1 << 11;
const F_PROBLEMS_EMPTY = 1 << 12;
const F_BRIEF = 1 << 13;
const F_SUMMARY = 1 << 14;
const F_EXTRA = 1 << 15;

/** Fields the columns carry (anything else on a result goes to `extras`); packInspections counts them: the first seven every result has. */
const COLUMN_KEYS: ReadonlySet<string> = new Set(['path', 'size', 'status', 'format', 'notes', 'shape', 'elapsedMs', 'accel', 'brief', 'problems', 'summary', 'indexEntry']);

/** Summary fields the columns carry (a summary with any other key travels whole). */
const SUMMARY_KEYS = 17;

class Strings {
  readonly list: string[] = [];
  private readonly ids = new Map<string, number>();
  id(s: string | null): number {
    if (s === null) return -1;
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.list.length;
      this.list.push(s);
      this.ids.set(s, id);
    }
    return id;
  }
}

class Growable<T extends Float64Array | Int32Array | Int8Array> {
  length = 0;
  constructor(
    public a: T,
    private readonly make: (n: number) => T,
  ) {}
  push(v: number): void {
    if (this.length === this.a.length) {
      const b = this.make(this.a.length * 2);
      b.set(this.a as never);
      this.a = b;
    }
    this.a[this.length++] = v;
  }
  done(): T {
    return this.a.slice(0, this.length) as T;
  }
}

/**
 * Are `rec`'s own keys exactly the operations that have an entry in it, in operation order (what
 * the columns rebuild)? One pass, nothing allocated: a stats worker checks three records per file.
 */
function keysInOperationOrder(rec: Record<string, unknown>, ops: readonly string[]): boolean {
  let j = 0;
  for (const k in rec) {
    if (!Object.hasOwn(rec, k)) continue;
    while (j < ops.length && !Object.hasOwn(rec, ops[j])) j++;
    if (j === ops.length || ops[j] !== k) return false;
    j++;
  }
  for (; j < ops.length; j++) if (Object.hasOwn(rec, ops[j])) return false;
  return true;
}

/** The number of `o`'s own enumerable string keys (Object.keys(o).length without the array). */
function ownKeyCount(o: object): number {
  let n = 0;
  for (const k in o) if (Object.hasOwn(o, k)) n++;
  return n;
}

/**
 * Summaries made in the column form by construction (accel/certify.ts summaryOnTape, which sets
 * each operation's entries once, in operation order, and keeps NaN and -1 out; `fitsColumns`),
 * still unchanged when packed: summaryFits need not walk their keys (~4 µs a file in a stats worker).
 */
const builtFitting = new WeakSet<SidecarSummary>();

/** Say that `s` was built in the column form (no image record: checked at packing). */
export function fitsColumns(s: SidecarSummary): SidecarSummary {
  builtFitting.add(s);
  return s;
}

/**
 * Can the summary columns rebuild `s` exactly (the same keys, values and key order)? Its
 * per-operation records must list their keys in operation order, and it has no image record.
 */
function summaryFits(s: SidecarSummary): boolean {
  if (s.image !== null) return false;
  if (builtFitting.has(s)) return true;
  if (ownKeyCount(s) !== SUMMARY_KEYS) return false;
  const ops = s.operations;
  if (!keysInOperationOrder(s.processingTimes, ops) || !keysInOperationOrder(s.success, ops) || !keysInOperationOrder(s.dataSizes, ops)) return false;
  // Their keys are operations now: the columns' NaN (no time) and -1 (no size) must not be values.
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    if (Object.hasOwn(s.processingTimes, op) && Number.isNaN(s.processingTimes[op])) return false;
    if (Object.hasOwn(s.dataSizes, op) && !(s.dataSizes[op] >= 0)) return false;
  }
  if (s.qualityScore !== null && Number.isNaN(s.qualityScore)) return false;
  if (s.detectionCount !== s.faces + s.objects) return false;
  if (s.symlink !== null && Object.keys(s.symlink).length !== 2) return false;
  return true;
}

/**
 * One batch of results as a compact message; `transfer`: the buffers to move with it. Every result
 * is carried: what has no column (export's text, convert planning's data, a value a table does not
 * list, a column key set to undefined) goes in `extras`, so this is the batch's only form on the way.
 */
export function packInspections(results: readonly FileInspection[], items: readonly InspectItem[]): { packed: InspectWire; transfer: ArrayBuffer[] } {
  const n = results.length;
  const codes = new Uint16Array(n);
  const nums = new Float64Array(n * 3);
  const strs = new Int32Array(n * 2).fill(-1);
  const strings = new Strings();
  const extraAt: number[] = [];
  const extras: Partial<FileInspection>[] = [];
  const transfer: ArrayBuffer[] = [codes.buffer, nums.buffer, strs.buffer];
  let cols: ReturnType<typeof summaryBuilder> | null = null;
  let entryBytes = 0;
  // Per result no closure, no key array, no iterator: a batch of a worker's results is packed
  // mostly before V8 optimises this loop (each for-of step allocated a result object).
  let extra: Partial<FileInspection> | null = null;
  const addExtra = <K extends keyof FileInspection>(k: K, v: FileInspection[K]) => {
    extra ??= {};
    setOwn(extra as Record<string, unknown>, k, v); // an own __proto__ key stays a key
  };
  for (let i = 0; i < n; i++) {
    const r = results[i];
    if (r.indexEntry !== undefined) entryBytes += r.indexEntry.length;
    extra = null;
    // A value the tables do not list travels as an extra (its column holds 0).
    let status = STATUS.indexOf(r.status);
    if (status < 0) (status = 0), addExtra('status', r.status);
    let format = FORMAT.indexOf(r.format);
    if (format < 0) (format = 0), addExtra('format', r.format);
    let shape = SHAPE.indexOf(r.shape);
    if (shape < 0) (shape = 0), addExtra('shape', r.shape);
    let accel = ACCEL.indexOf(r.accel);
    if (accel < 0) (accel = 0), addExtra('accel', r.accel);
    let code = status | (format << 3) | (shape << 6) | (accel << 9);
    if (r.path !== items[i].path) addExtra('path', r.path);
    nums[3 * i] = r.size;
    nums[3 * i + 1] = r.elapsedMs;
    if (r.notes?.length === 0) code |= F_NOTES_EMPTY;
    else addExtra('notes', r.notes);
    if (r.problems !== undefined) {
      if (r.problems.length === 0) code |= F_PROBLEMS_EMPTY;
      else addExtra('problems', r.problems);
    }
    if (r.brief === null) addExtra('brief', r.brief);
    else if (r.brief !== undefined) {
      code |= F_BRIEF;
      nums[3 * i + 2] = r.brief.detectionCount;
      strs[2 * i] = strings.id(r.brief.toolName);
      strs[2 * i + 1] = strings.id(r.brief.operationType);
    }
    if (r.summary !== undefined) {
      if (r.summary !== null && summaryFits(r.summary)) {
        code |= F_SUMMARY;
        cols ??= summaryBuilder(n);
        cols.add(r.summary, strings);
      } else addExtra('summary', r.summary);
    }
    // for-in: its keys in order (an inherited enumerable one too: it comes back as its own).
    let keys = 0;
    let others = 0;
    for (const k in r) {
      keys++;
      if (!COLUMN_KEYS.has(k)) {
        others++;
        addExtra(k as keyof FileInspection, r[k as keyof FileInspection] as never);
      }
    }
    // A column key set to undefined would come back absent: it travels as an extra. Counted, as
    // a value read per key cost ~1 µs a result in a reading thread's baseline tier.
    const held = 7 + others + (r.brief !== undefined ? 1 : 0) + (r.summary !== undefined ? 1 : 0) + (r.problems !== undefined ? 1 : 0) + (r.accel !== undefined ? 1 : 0) + (r.indexEntry !== undefined ? 1 : 0);
    if (keys !== held || r.size === undefined || r.elapsedMs === undefined) {
      for (const k in r) if (r[k as keyof FileInspection] === undefined) addExtra(k as keyof FileInspection, undefined);
    }
    if (extra !== null) {
      const x: Partial<FileInspection> = extra;
      code |= F_EXTRA;
      extraAt.push(i);
      extras.push(x);
      const bytes = x.dataJson;
      // A big exported text (bytes that own their buffer) moves instead of being copied.
      if (bytes instanceof Uint8Array && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) transfer.push(bytes.buffer);
    }
    codes[i] = code;
  }
  const summaries = cols ? cols.done() : null;
  if (summaries) for (const a of Object.values(summaries)) transfer.push((a as { buffer: ArrayBuffer }).buffer);
  const packed: InspectWire = { kind: 'inspect-wire/1', n, codes, nums, strs, strings: strings.list, summaries, extraAt, extras, entries: null, vectors: packVectors(extras, transfer) };
  if (entryBytes > 0) addEntries(packed, transfer, results, entryBytes);
  return { packed, transfer };
}

/**
 * The results' index entries into a batch packed before they were made (tasks/inspect.ts makes a
 * batch's entries from its columns): the same message as if they had been there when it was packed.
 */
export function withEntries(p: { packed: InspectWire; transfer: ArrayBuffer[] }, results: readonly FileInspection[], first = false): { packed: InspectWire; transfer: ArrayBuffer[] } {
  let total = 0;
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    const e = r.indexEntry;
    if (e !== undefined) total += e.length;
    // A first run's block (index-entry.ts batchEntries): the batch's entries as they are, in a buffer of their own.
    const block = r.indexEntries;
    if (block !== undefined && p.packed.entries === null) {
      delete r.indexEntries;
      const raw = new Uint8Array(block.raw.length);
      raw.set(block.raw);
      p.packed.entries = { ends: block.ends, raw, first: true };
      p.transfer.push(block.ends.buffer as ArrayBuffer, raw.buffer as ArrayBuffer);
      return p;
    }
  }
  if (total > 0 && p.packed.entries === null) {
    addEntries(p.packed, p.transfer, results, total);
    if (first) p.packed.entries!.first = true;
  }
  return p;
}

function addEntries(packed: InspectWire, transfer: ArrayBuffer[], results: readonly FileInspection[], total: number): void {
  const entries = packEntries(results, total);
  packed.entries = entries;
  transfer.push(entries.ends.buffer as ArrayBuffer, entries.raw.buffer as ArrayBuffer);
}

function packEntries(results: readonly FileInspection[], total: number): NonNullable<InspectWire['entries']> {
  const n = results.length;
  const ends = new Uint32Array(n);
  const raw = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const e = results[i].indexEntry;
    if (e !== undefined) {
      raw.set(e, at);
      at += e.length;
    }
    ends[i] = at;
  }
  return { ends, raw };
}

/** A summary's flags in its column: bit 0 hasSidecarInfo, bit 1 symlink present, bit 2 isSymlink, bit 3 broken. */
function summaryBits(s: SidecarSummary): number {
  return (s.hasSidecarInfo ? 1 : 0) | (s.symlink !== null ? 2 | (s.symlink.isSymlink ? 4 : 0) | (s.symlink.broken ? 8 : 0) : 0);
}
/** An operation's values in the columns: its processing time (NaN: none), success (-1: none, 0, 1), size (-1: none). */
const opTimeOf = (s: SidecarSummary, op: string) => (Object.hasOwn(s.processingTimes, op) ? s.processingTimes[op] : NaN);
const opSuccessOf = (s: SidecarSummary, op: string) => (Object.hasOwn(s.success, op) ? (s.success[op] ? 1 : 0) : -1);
const opSizeOf = (s: SidecarSummary, op: string) => (Object.hasOwn(s.dataSizes, op) ? s.dataSizes[op] : -1);

function summaryBuilder(n: number) {
  const nums = new Float64Array(n * 5);
  const strs = new Int32Array(n * 3).fill(-1);
  const bits = new Uint8Array(n);
  const opStart = new Uint32Array(n + 1);
  const classStart = new Uint32Array(n + 1);
  const opName = new Growable(new Int32Array(64), (k) => new Int32Array(k));
  const opTime = new Growable(new Float64Array(64), (k) => new Float64Array(k));
  const opSuccess = new Growable(new Int8Array(64), (k) => new Int8Array(k));
  const opSize = new Growable(new Float64Array(64), (k) => new Float64Array(k));
  const className = new Growable(new Int32Array(16), (k) => new Int32Array(k));
  const classCount = new Growable(new Float64Array(16), (k) => new Float64Array(k));
  let j = 0;
  return {
    add(s: SidecarSummary, strings: Strings): void {
      nums[5 * j] = s.faces;
      nums[5 * j + 1] = s.objects;
      nums[5 * j + 2] = s.embeddings;
      nums[5 * j + 3] = s.embeddingLength ?? NaN;
      nums[5 * j + 4] = s.qualityScore ?? NaN;
      strs[3 * j] = strings.id(s.operationType);
      strs[3 * j + 1] = strings.id(s.toolName);
      strs[3 * j + 2] = strings.id(s.qualityGrade);
      bits[j] = summaryBits(s);
      const ops = s.operations;
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i];
        opName.push(strings.id(op));
        opTime.push(opTimeOf(s, op));
        opSuccess.push(opSuccessOf(s, op));
        opSize.push(opSizeOf(s, op));
      }
      for (const cls in s.objectClasses) {
        if (!Object.hasOwn(s.objectClasses, cls)) continue;
        className.push(strings.id(cls));
        classCount.push(s.objectClasses[cls]);
      }
      j++;
      opStart[j] = opName.length;
      classStart[j] = className.length;
    },
    done(): SummaryColumns {
      return {
        nums: nums.slice(0, 5 * j),
        strs: strs.slice(0, 3 * j),
        bits: bits.slice(0, j),
        opStart: opStart.slice(0, j + 1),
        classStart: classStart.slice(0, j + 1),
        opName: opName.done(),
        opTime: opTime.done(),
        opSuccess: opSuccess.done(),
        opSize: opSize.done(),
        className: className.done(),
        classCount: classCount.done(),
      };
    },
  };
}


/** The results of a packed batch, one plain object each, `path` from the batch's items. */
export function unpackInspections(w: InspectWire, items: readonly InspectItem[]): FileInspection[] {
  const { n, codes, nums, strs, strings, summaries: sc } = w;
  if (items.length !== n) throw new Error(`packed batch of ${n} results for ${items.length} items`);
  const str = (id: number) => (id < 0 ? null : strings[id]);
  const out: FileInspection[] = new Array(n);
  const en = w.entries ?? null;
  // Each entry a view made by the constructor (subarray looks up a species constructor per call).
  const enMemory = en === null ? null : en.raw.buffer;
  const enBase = en === null ? 0 : en.raw.byteOffset;
  const firstBlock = en !== null && en.first === true;
  let nextExtra = 0;
  // export's embedding rows of the batch (InspectWire.vectors), taken in order by the results that have them.
  const rowTexts = w.vectors ? w.vectors.text.split('\n') : null;
  let rowsAt = 0;
  let j = 0;
  for (let i = 0; i < n; i++) {
    const code = codes[i];
    const brief = code & F_BRIEF ? { detectionCount: nums[3 * i + 2], toolName: str(strs[2 * i]), operationType: str(strs[2 * i + 1]) } : undefined;
    const r = resultOf(items[i].path, code, nums[3 * i], nums[3 * i + 1], brief, code & F_SUMMARY ? summaryAt(sc!, j++, str) : undefined);
    if (code & F_EXTRA) {
      if (w.extraAt[nextExtra] !== i) throw new Error(`packed batch: extras out of step at result ${i}`);
      const k = nextExtra++;
      withEscape(r, w.extras[k]);
      const v = w.vectors;
      if (v && v.length[k] > 0) {
        const ds = r.dataset!;
        ds.vectors = v.all.subarray(v.start[k], v.start[k] + v.length[k]);
        const end = rowsAt + v.rows[k];
        ds.rows = rowTexts!.slice(rowsAt, end);
        rowsAt = end;
      }
    }
    if (en !== null && !firstBlock) {
      const from = i === 0 ? 0 : en.ends[i - 1];
      if (en.ends[i] > from) r.indexEntry = new Uint8Array(enMemory!, enBase + from, en.ends[i] - from);
    }
    out[i] = r;
  }
  // A first run's entries: the block rides on the first result that has one (no view per entry).
  if (firstBlock) placeEntryBlock(out, en!.raw, en!.ends);
  return out;
}

/**
 * A batch's block of index entries (index-entry.ts EntryBlock: `ends[i]` where result i's entry ends)
 * put on the first result that has an entry, where the scan takes it off; nowhere when none has one.
 * Made so by a reading thread (index-entry.ts batchEntries) and by the main thread's unpacking (above).
 */
export function placeEntryBlock(results: readonly FileInspection[], raw: Uint8Array, ends: Uint32Array): void {
  let i = 0;
  while (i < results.length && ends[i] === 0) i++;
  if (i < results.length) results[i].indexEntries = { raw, ends };
}

/**
 * A result built from its columns given the fields of its escape (a batch's `extras`, a stored
 * result's), in the escape's order, each its own key (an own `__proto__` one too: Object.assign
 * would set the prototype). Both decoders finish a result so.
 */
function withEscape(r: FileInspection, x: object): void {
  for (const k in x) if (Object.hasOwn(x, k)) setOwn(r as unknown as Record<string, unknown>, k, (x as Record<string, unknown>)[k]);
}

/** The fields of row `i` of a packed batch that its columns do not carry (its `extras`), or null when it has none. */
export function extrasOf(w: InspectWire, i: number): Partial<FileInspection> | null {
  return (w.codes[i] & F_EXTRA) === 0 ? null : w.extras[w.extraAt.indexOf(i)];
}

/** A result's fields in columns, as every decoder builds them (one key order). */
function resultOf(path: string, code: number, size: number, elapsedMs: number, brief: SidecarBrief | undefined, summary: SidecarSummary | undefined): FileInspection {
  const r: FileInspection = {
    path,
    size,
    status: STATUS[code & 7],
    format: FORMAT[(code >> 3) & 7],
    notes: [],
    shape: SHAPE[(code >> 6) & 7],
    elapsedMs,
  };
  if (brief !== undefined) r.brief = brief;
  if (summary !== undefined) r.summary = summary;
  if (code & F_PROBLEMS_EMPTY) r.problems = [];
  const accel = ACCEL[(code >> 9) & 3];
  if (accel !== undefined) r.accel = accel;
  return r;
}

function summaryAt(c: SummaryColumns, j: number, str: (id: number) => string | null): SidecarSummary {
  const operations: string[] = [];
  const processingTimes: Record<string, number> = {};
  const success: Record<string, boolean> = {};
  const dataSizes: Record<string, number> = {};
  for (let k = c.opStart[j], end = c.opStart[j + 1]; k < end; k++) {
    const op = str(c.opName[k])!;
    operations.push(op);
    const t = c.opTime[k];
    if (!Number.isNaN(t)) setOwn(processingTimes, op, t);
    const s = c.opSuccess[k];
    if (s >= 0) setOwn(success, op, s === 1);
    const size = c.opSize[k];
    if (size >= 0) setOwn(dataSizes, op, size);
  }
  const objectClasses: Record<string, number> = {};
  for (let k = c.classStart[j], end = c.classStart[j + 1]; k < end; k++) setOwn(objectClasses, str(c.className[k])!, c.classCount[k]);
  const n = c.nums;
  return summaryOf(n[5 * j], n[5 * j + 1], n[5 * j + 2], n[5 * j + 3], n[5 * j + 4], str(c.strs[3 * j]), str(c.strs[3 * j + 1]), str(c.strs[3 * j + 2]), c.bits[j], operations, processingTimes, success, dataSizes, objectClasses);
}

/** A summary from its columns' values (NaN: a null length or score), as every decoder builds it. */
function summaryOf(
  faces: number,
  objects: number,
  embeddings: number,
  embLen: number,
  score: number,
  operationType: string | null,
  toolName: string | null,
  qualityGrade: string | null,
  bits: number,
  operations: string[],
  processingTimes: Record<string, number>,
  success: Record<string, boolean>,
  dataSizes: Record<string, number>,
  objectClasses: Record<string, number>,
): SidecarSummary {
  return {
    operations,
    operationType,
    faces,
    objects,
    detectionCount: faces + objects,
    embeddings,
    embeddingLength: Number.isNaN(embLen) ? null : embLen,
    qualityGrade,
    qualityScore: Number.isNaN(score) ? null : score,
    processingTimes,
    success,
    dataSizes,
    toolName,
    hasSidecarInfo: (bits & 1) !== 0,
    symlink: (bits & 2) !== 0 ? { isSymlink: (bits & 4) !== 0, broken: (bits & 8) !== 0 } : null,
    objectClasses,
    image: null,
  };
}

/**
 * One result in the column form, as bytes: THE form in which an index entry stores a result
 * (index-entry.ts fileEntry), for much less than JSON.stringify (a stats result's ~10 doubles,
 * each printed shortest-round-trip, were most of a first run's extra cost per file) and with
 * every number's bits kept (-0 too). The path is not stored (the caller knows it).
 *
 * Layout (little-endian): u8 PACKED_RESULT_TAG, u16 code (the batch's bits), f64 size, f64
 * elapsedMs; with a brief: f64 detectionCount, str toolName, str operationType; with a summary:
 * f64 faces, objects, embeddings, embeddingLength, qualityScore (NaN: null), str operationType,
 * toolName, qualityGrade, u8 bits, u16 operations, per operation (str name, f64 time, i8 success,
 * f64 size), u16 classes, per class (str name, f64 count). A str is a u16 UTF-8 length (0xffff:
 * null) and its bytes. With F_EXTRA in the code the row is followed by its escape, to the end:
 * the v8 serialization of one plain object, the fields the columns do not carry (what the batch
 * sends in `extras`, packRowAt with an escape), which the decoder sets on the result as unpackInspections does.
 */
export const PACKED_RESULT_TAG = 0x01; // neither JSON's '{' nor v8's version tag 0xff
const NULL_STR = 0xffff;
/** The most bytes a packed row takes before its escape (a bigger row stores its brief, summary... in the escape). */
export const PACKED_RESULT_ROOM = 16 * 1024;
// Where packRowAt writes (set per call): the buffer, a DataView of it, the next byte, the end of the room.
let packOut: Buffer = Buffer.alloc(0);
let packView: DataView = new DataView(new ArrayBuffer(0));
let packAt = 0;
let packEnd = 0;


function putF64(v: number): boolean {
  if (packAt + 8 > packEnd) return false;
  packView.setFloat64(packAt, v, true);
  packAt += 8;
  return true;
}
/**
 * Strings packed before, as packed (u16 length, UTF-8), by string: a stats result packs ~7 (its
 * operations, object classes, tool) from a small vocabulary, and a copy of known bytes costs about
 * half a native UTF-8 write in a first run's baseline tier (~135 against ~225 ns a string; a stats
 * result's packing 6.4 → 5.7 µs). Bounded: short strings only, forgotten all at once
 * when full.
 */
const packedStrings = new Map<string, Uint8Array>();
const PACKED_STRINGS_MOST = 4096;
const PACKED_STRING_UNITS_MOST = 128;
/** Where a string not met before is written first (grown for a long one). */
let stringScratch = Buffer.allocUnsafeSlow(3 * 1024);

/** A string's bytes as packed (packedString; null: one that cannot be held, refused). */
function putHeld(bytes: Uint8Array | null): boolean {
  if (bytes === null || packAt + bytes.length > packEnd) return false;
  packOut.set(bytes, packAt);
  packAt += bytes.length;
  return true;
}

/**
 * `v` as a packed result holds a string (u16 UTF-8 length, then the bytes), or null when it cannot
 * (not well formed: a lone surrogate would not come back; 0xffff bytes or more). Strings met before
 * are kept (see packedStrings); others are written by one native write (value.ts writeUtf8).
 */
export function packedString(v: string): Uint8Array | null {
  const known = packedStrings.get(v);
  if (known !== undefined) return known;
  const len = v.length;
  if (3 * len + 2 > stringScratch.length) {
    if (len >= NULL_STR) return null; // more units than a length can say (each is at least a byte)
    stringScratch = Buffer.allocUnsafeSlow(3 * len + 2);
  }
  const n = writeUtf8(stringScratch, v, 2);
  // More bytes than units: not ASCII, and a lone surrogate would not come back.
  if (n !== len && (n >= NULL_STR || !isWellFormed(v))) return null;
  stringScratch.writeUInt16LE(n, 0);
  // A copy (Buffer#slice is a view: the next string would be written over it).
  const bytes = new Uint8Array(2 + n);
  bytes.set(stringScratch.subarray(0, 2 + n));
  if (len <= PACKED_STRING_UNITS_MOST) {
    if (packedStrings.size >= PACKED_STRINGS_MOST) packedStrings.clear();
    packedStrings.set(v, bytes);
  }
  return bytes;
}
function putU16(v: number): boolean {
  if (v > 0xffff || packAt + 2 > packEnd) return false;
  packView.setUint16(packAt, v, true);
  packAt += 2;
  return true;
}

/**
 * The strings of a packed batch as a packed result holds them (packedString; null: one that cannot
 * be held), by string index: what `packRowAt` copies.
 */
export function rowStrings(w: InspectWire): (Uint8Array | null)[] {
  const out: (Uint8Array | null)[] = new Array(w.strings.length);
  for (let k = 0; k < out.length; k++) out[k] = packedString(w.strings[k]);
  return out;
}

/**
 * The result in row `i` of a packed batch (its summary, if any, in summary row `j`) in the packed
 * form, at `at` in `out`, using no byte at or past `end`: the same bytes whichever batch the result
 * is packed in (test/inspect-wire.test.ts: alone or among others), from the columns the batch
 * already holds. Returns where it ends, or -1 when the columns do not carry all of the result
 * (whatever the batch sends in its escape: notes, problems, an error, a summary that does not fit
 * the columns, a key set to undefined, ...; a string that cannot be held) or it does not fit. A batch's index entries are
 * made so (tasks/inspect.ts): a result's checks, lookups and strings were done once, for the batch.
 * assembly/entries.ts `packRow` writes the same layout (test/entry-writer.test.ts holds them equal).
 * With `escape` (the v8 serialization of the fields the columns do not carry, index-entry.ts
 * fileEntry): the row marked F_EXTRA, then the escape (its room after `end`: the caller's); `columns`
 * false, the row without the columns laterColumns lists (the escape carries them).
 */
export function packRowAt(w: InspectWire, i: number, j: number, strings: readonly (Uint8Array | null)[], out: Buffer, view: DataView, at: number, end: number, escape: Uint8Array | null = null, columns = true): number {
  let code = w.codes[i];
  if (escape !== null) code = columns ? code | F_EXTRA : (code | F_EXTRA) & BASE_BITS;
  else if ((code & F_EXTRA) !== 0 || (code & F_NOTES_EMPTY) === 0) return -1;
  if (at >= end) return -1;
  const e = packColumnsAt(w, i, j, code, strings, out, view, at, end);
  if (e < 0 || escape === null) return e;
  out.set(escape, e);
  return e + escape.length;
}

/** A row's bits for the fields every result has (status, format, shape, empty notes) and its escape. */
const BASE_BITS = 0x1ff | F_NOTES_EMPTY | F_EXTRA;

/** The fields of `r` row `i` carries in columns past the base ones, in the order a decoder sets them (they lead the escape of a row packed without them). */
export function laterColumns(w: InspectWire, i: number, r: FileInspection): Partial<FileInspection> {
  const code = w.codes[i];
  const o: Partial<FileInspection> = {};
  if (code & F_BRIEF) o.brief = r.brief;
  if (code & F_SUMMARY) o.summary = r.summary;
  if (code & F_PROBLEMS_EMPTY) o.problems = r.problems;
  if ((code >> 9) & 3) o.accel = r.accel;
  return o;
}

function packColumnsAt(w: InspectWire, i: number, j: number, code: number, strings: readonly (Uint8Array | null)[], out: Buffer, view: DataView, at: number, end: number): number {
  packOut = out;
  packView = view;
  packEnd = end;
  packAt = at;
  out[packAt++] = PACKED_RESULT_TAG;
  const nums = w.nums;
  if (!putU16(code) || !putF64(nums[3 * i]) || !putF64(nums[3 * i + 1])) return -1;
  if (code & F_BRIEF && !(putF64(nums[3 * i + 2]) && putRowStr(strings, w.strs[2 * i]) && putRowStr(strings, w.strs[2 * i + 1]))) return -1;
  if (code & F_SUMMARY) {
    const c = w.summaries!;
    const sn = c.nums;
    if (!(putF64(sn[5 * j]) && putF64(sn[5 * j + 1]) && putF64(sn[5 * j + 2]) && putF64(sn[5 * j + 3]) && putF64(sn[5 * j + 4]))) return -1;
    const ss = c.strs;
    if (!(putRowStr(strings, ss[3 * j]) && putRowStr(strings, ss[3 * j + 1]) && putRowStr(strings, ss[3 * j + 2]))) return -1;
    if (packAt + 1 > packEnd) return -1;
    out[packAt++] = c.bits[j];
    const from = c.opStart[j];
    const to = c.opStart[j + 1];
    if (!putU16(to - from)) return -1;
    for (let k = from; k < to; k++) {
      if (!(putRowStr(strings, c.opName[k]) && putF64(c.opTime[k]) && packAt + 1 <= packEnd)) return -1;
      view.setInt8(packAt++, c.opSuccess[k]);
      if (!putF64(c.opSize[k])) return -1;
    }
    const cFrom = c.classStart[j];
    const cTo = c.classStart[j + 1];
    if (!putU16(cTo - cFrom)) return -1;
    for (let k = cFrom; k < cTo; k++) if (!(putRowStr(strings, c.className[k]) && putF64(c.classCount[k]))) return -1;
  }
  return packAt;
}

/** Does row `i` of a packed batch have a summary row (the summary rows are those rows' in order)? */
export function hasSummaryRow(w: InspectWire, i: number): boolean {
  return (w.codes[i] & F_SUMMARY) !== 0;
}

/** A row's string by its index in the batch (-1: null) as `rowStrings` packed it. */
function putRowStr(strings: readonly (Uint8Array | null)[], id: number): boolean {
  return id < 0 ? putU16(NULL_STR) : putHeld(strings[id]);
}

/** Reads a packed result; throws RangeError past its end (unpackResult: null). */
class PackedReader {
  at = 1;
  constructor(private readonly b: Buffer) {}
  f64(): number {
    const v = this.b.readDoubleLE(this.at);
    this.at += 8;
    return v;
  }
  u16(): number {
    const v = this.b.readUInt16LE(this.at);
    this.at += 2;
    return v;
  }
  i8(): number {
    return this.b.readInt8(this.at++);
  }
  u8(): number {
    return this.b.readUInt8(this.at++);
  }
  str(): string | null {
    const n = this.u16();
    if (n === NULL_STR) return null;
    if (this.at + n > this.b.length) throw new RangeError('string past the end');
    const v = this.b.toString('utf8', this.at, this.at + n);
    this.at += n;
    return v;
  }
}

/**
 * The result `packRowAt` packed (path ''), built as a batch's is, its escape's
 * fields set on it as the batch's are; null when `raw` is not one whole packed result (a damaged
 * escape too: a miss, never a throw).
 */
export function unpackResult(raw: Uint8Array): FileInspection | null {
  const b = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (b.length === 0 || b[0] !== PACKED_RESULT_TAG) return null;
  try {
    const rd = new PackedReader(b);
    const code = rd.u16();
    if ((code & 7) >= STATUS.length || ((code >> 3) & 7) >= FORMAT.length || ((code >> 6) & 7) >= SHAPE.length || ((code >> 9) & 3) >= ACCEL.length) return null;
    // Notes not in the columns are in the escape: a row without one must say they are empty.
    if ((code & (F_EXTRA | F_NOTES_EMPTY)) === 0) return null;
    const size = rd.f64();
    const elapsedMs = rd.f64();
    let brief: SidecarBrief | undefined;
    if (code & F_BRIEF) brief = { detectionCount: rd.f64(), toolName: rd.str(), operationType: rd.str() };
    let summary: SidecarSummary | undefined;
    if (code & F_SUMMARY) {
      const faces = rd.f64();
      const objects = rd.f64();
      const embeddings = rd.f64();
      const embLen = rd.f64();
      const score = rd.f64();
      const operationType = rd.str();
      const toolName = rd.str();
      const qualityGrade = rd.str();
      const bits = rd.u8();
      const operations: string[] = [];
      const processingTimes: Record<string, number> = {};
      const success: Record<string, boolean> = {};
      const dataSizes: Record<string, number> = {};
      for (let k = rd.u16(); k > 0; k--) {
        const op = rd.str();
        if (op === null) return null;
        operations.push(op);
        const t = rd.f64();
        if (!Number.isNaN(t)) setOwn(processingTimes, op, t);
        const ok = rd.i8();
        if (ok >= 0) setOwn(success, op, ok === 1);
        const sz = rd.f64();
        if (sz >= 0) setOwn(dataSizes, op, sz);
      }
      const objectClasses: Record<string, number> = {};
      for (let k = rd.u16(); k > 0; k--) {
        const cls = rd.str();
        if (cls === null) return null;
        setOwn(objectClasses, cls, rd.f64());
      }
      summary = summaryOf(faces, objects, embeddings, embLen, score, operationType, toolName, qualityGrade, bits, operations, processingTimes, success, dataSizes, objectClasses);
    }
    const r = resultOf('', code, size, elapsedMs, brief, summary);
    if ((code & F_EXTRA) === 0) return rd.at === b.length ? r : null;
    if (rd.at >= b.length) return null;
    const x: unknown = deserialize(b.subarray(rd.at));
    if (typeof x !== 'object' || x === null || Object.getPrototypeOf(x) !== Object.prototype) return null;
    withEscape(r, x);
    return r;
  } catch {
    return null;
  }
}

/**
 * The inspect task's items as they cross to a worker thread: the paths in one string (each item's
 * end in `ends`: any path, U+0000 too, which a path list or a server request can name and the
 * inspection reports unreadable), a file name only where it is not the path's last part, sizes only
 * where known, and a link item's `LinkAt` once per batch. A structured clone of 64 item objects
 * cost the main thread ~40 µs a batch (~90 µs for links, whose LinkAt repeats per item); one
 * string, ~7 µs.
 */
export interface InspectItemsWire {
  readonly kind: 'inspect-items/3';
  paths: string;
  /** Per item: where its path ends in `paths`. */
  ends: Uint32Array;
  /** [item index, name] where the name is not the path's last part. */
  names: [number, string][];
  /** Per item its size (-1: none), or null when no item has one. */
  sizes: number[] | null;
  /** Per item the index of its LinkAt in `linkAts` (-1: not a link), or null when no item is a link. */
  links: number[] | null;
  linkAts: LinkAt[];
  /** The items whose record holds several images (InspectItem.namesImage), by index. */
  namesImage: number[];
}

const lastPart = (p: string) => p.slice(p.lastIndexOf('/') + 1);
/** `name` is what follows the path's last '/' (lastPart, without making the string). */
const isLastPart = (p: string, name: string) => p.endsWith(name) && p.lastIndexOf('/') === p.length - name.length - 1;

export function packInspectItems(items: readonly InspectItem[]): InspectItemsWire {
  const ends = new Uint32Array(items.length);
  let paths = '';
  const names: [number, string][] = [];
  let sizes: number[] | null = null;
  let links: number[] | null = null;
  const linkAts: LinkAt[] = [];
  const namesImage: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    paths += it.path;
    ends[i] = paths.length;
    if (!isLastPart(it.path, it.name)) names.push([i, it.name]);
    if (it.size !== undefined) (sizes ??= new Array<number>(items.length).fill(-1))[i] = it.size;
    if (it.namesImage === true) namesImage.push(i);
    const at = it.resolveLink;
    if (at !== undefined) {
      links ??= new Array<number>(items.length).fill(-1);
      let k = linkAts.indexOf(at);
      if (k < 0) k = linkAts.push(at) - 1;
      links[i] = k;
    }
  }
  return { kind: 'inspect-items/3', paths, ends, names, sizes, links, linkAts, namesImage };
}

export function unpackInspectItems(wire: InspectItemsWire): InspectItem[] {
  const { paths, ends } = wire;
  const items: InspectItem[] = new Array(ends.length);
  let from = 0;
  for (let i = 0; i < ends.length; i++) {
    const path = paths.slice(from, ends[i]);
    from = ends[i];
    const item: InspectItem = { path, name: lastPart(path) };
    if (wire.sizes !== null && wire.sizes[i] >= 0) item.size = wire.sizes[i];
    if (wire.links !== null && wire.links[i] >= 0) item.resolveLink = wire.linkAts[wire.links[i]];
    items[i] = item;
  }
  if (from !== paths.length) throw new Error(`packed items: ${paths.length - from} characters past the last path`);
  for (const [i, name] of wire.names) items[i].name = name;
  for (const i of wire.namesImage) items[i].namesImage = true;
  return items;
}
