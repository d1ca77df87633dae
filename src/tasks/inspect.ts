import { performance } from 'node:perf_hooks';
import { errors, isOtherJson, isSidecarError, isWrongKey, READ_ERROR_CODES } from '../errors.js';
import { decodeSidecar } from '../formats/codec.js';
import { withFloatBlocks } from '../formats/cbor.js';
import { typedJsonText } from '../formats/json.js';
import { needsTypedJson } from '../formats/numbers.js';
import { hasReportName, shapeOf } from '../analysis/operations.js';
import { briefOfSidecar, probeSidecar, summarizeSidecar } from '../analysis/summary.js';
import { skimSidecar } from '../formats/skim.js';
import { checkSidecarRules } from '../analysis/rules.js';
import { extractDataset } from '../analysis/dataset.js';
import { compileSchema, checkSchema, type CompiledSchema } from '../analysis/schema.js';
import type { JsonObject } from '../types.js';
import { DEFAULT_MAX_FILE_SIZE, readFileLimitedSync, readFileSizedSync } from '../fs/read-file.js';
import { readAhead, type ReadAhead } from '../fs/read-ahead.js';
import { withCallsInFlight } from '../fs/calls-in-flight.js';
import { BatchStats, IdentityScratch, statTakesRoundTrip } from '../fs/identity.js';
import { KIND_DEFER } from './entry-writer.js';
import { batchEntries, fileEntry, racyCutoffNs, type EntryRow } from './index-entry.js';
import { READ_AHEAD_BATCH_BYTES, READ_AHEAD_FILE_BYTES } from '../tuning.js';
import { ACCEL_MAX_BYTES, accelAvailable, accelCounts, accelScan, binScan, skeletonOf, type Skeleton } from '../accel/decode.js';
import { certifyBrief, shapeOnTape, summaryOnTape } from '../accel/certify.js';
import { embeddingsOnTape } from '../accel/embeddings-tape.js';
import { fitsColumns, hasSummaryRow, packInspections, rowStrings, withEntries } from './inspect-wire.js';
import { inScannerMemory, scannerInput } from '../accel/scanner.js';
import { DEFAULT_MAX_DEPTH } from '../formats/value.js';
import { LinkResolver } from '../discovery/resolve-link.js';
import { passBigFileTurn, waitForBigFileTurn } from './big-file-turn.js';
import type { InspectOptions, InspectItem, LinkAt, FileInspection } from '../model/inspection.js';
import type { EntryOptions } from '../model/index-entry.js';

/** Texts this long go back as bytes (moved, not cloned, from a worker thread; see worker-loop.ts). */
const TRANSFER_TEXT_UNITS = 1 << 20;

// Compiled schemas are cached per thread: compile once per run, not once per file.
const schemaCache = new Map<string, CompiledSchema>();
function schemaFor(source: unknown): CompiledSchema {
  const key = JSON.stringify(source);
  let compiled = schemaCache.get(key);
  if (!compiled) {
    compiled = compileSchema(source);
    schemaCache.set(key, compiled);
  }
  return compiled;
}


// One resolver per scan and thread: it keeps the real paths of target folders (resolve-link.ts)
// for that scan only — a folder link re-pointed between two scans of one process (the server, the
// inline engine) must not be answered from the first scan's paths.
const resolvers = new Map<number, LinkResolver>();

/** A link the engine resolves (a run that stores no link: docs/INDEX.md "Folders and links"): the plain rule. */
function resolveLinkItem(item: InspectItem, at: LinkAt): FileInspection {
  const link = perScan(resolvers, at.scan, () => new LinkResolver(at.rootReal)).resolve(item.path, at.dirRel, item.name);
  return { path: item.path, size: 0, status: 'ok', format: null, notes: [], shape: null, link, elapsedMs: 0 };
}

/** This scan's one of `cache` (made on first use); the cache forgets every scan past 8. */
function perScan<T>(cache: Map<number, T>, scan: number, make: () => T): T {
  let v = cache.get(scan);
  if (v === undefined) {
    if (cache.size >= 8) cache.clear();
    v = make();
    cache.set(scan, v);
  }
  return v;
}

/** Read, decode and (optionally) summarise/validate one sidecar file. Never throws for a bad file. */
export function inspectFile(item: InspectItem, opts: InspectOptions, compiled?: CompiledSchema): FileInspection {
  return inspectBatch([item], opts, compiled, null)[0];
}

export function inspectFiles(items: readonly InspectItem[], options: InspectOptions): FileInspection[] {
  const opts = options ?? {};
  // Compile (or fetch) the schema once per batch, not once per file.
  return inspectBatch(items, opts, opts.schema !== undefined ? schemaFor(opts.schema) : undefined, null);
}

/**
 * The engine's task (tasks/index.ts): `inspectFiles`, where a call takes a round trip (a file
 * server: the first two items' stats are timed) with the batch's files read, and its links' two calls
 * made, many at once first. Else (a local disk, where async calls cost more than they save) each
 * is read at its turn; `readAhead: false` reads one at a time.
 */
export function inspectFilesReadingAhead(items: readonly InspectItem[], options: InspectOptions): FileInspection[] | Promise<FileInspection[]> {
  const opts = options ?? {};
  const compiled = opts.schema !== undefined ? schemaFor(opts.schema) : undefined;
  // Two probes: one stat of a local disk may take as long on a busy machine (the thread preempted).
  if (opts.readAhead === false || items.length < 3 || !statTakesRoundTrip(items[0].path) || !statTakesRoundTrip(items[1].path)) return inspectBatch(items, opts, compiled, null);
  const maxFileSize = opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const read = withCallsInFlight((stop) => {
    const paths = items.map((it) => (it.resolveLink === undefined ? it.path : null));
    const files = maxFileSize > 0 ? readAhead(paths, Math.min(READ_AHEAD_FILE_BYTES, maxFileSize), READ_AHEAD_BATCH_BYTES, stop) : Promise.resolve(null);
    return Promise.all([files, readLinksAhead(items, stop)]);
  });
  return read.then(([pre]) => inspectBatch(items, opts, compiled, pre));
}

/** The batch's links read ahead by their scan's resolver (LinkResolver.readAhead). */
function readLinksAhead(items: readonly InspectItem[], stop: { readonly aborted: boolean }): Promise<unknown> {
  const byScan = new Map<number, { at: LinkAt; links: { path: string; dirRel: string }[] }>();
  for (const it of items) {
    const at = it.resolveLink;
    if (at === undefined) continue;
    let scan = byScan.get(at.scan);
    if (scan === undefined) byScan.set(at.scan, (scan = { at, links: [] }));
    scan.links.push({ path: it.path, dirRel: at.dirRel });
  }
  return Promise.all([...byScan.values()].map(({ at, links }) => perScan(resolvers, at.scan, () => new LinkResolver(at.rootReal)).readAhead(links, stop)));
}

/** Which items of a batch were read (grown to the biggest batch). */
let batchRead = new Uint8Array(64);

/**
 * With the index (`indexEntries`) every file of the batch is read first, each read's stat kept,
 * then the batch's entries are made in one pass: the same entries, with the entry code run file after
 * file instead of between two files' reads and scans (a first run of the bench library: validate
 * −84 ms of wall time and −190 ms of CPU, stats −150 and −300).
 */
function inspectBatch(items: readonly InspectItem[], opts: InspectOptions, compiled: CompiledSchema | undefined, pre: readonly (ReadAhead | null)[] | null): FileInspection[] {
  const n = items.length;
  const results: FileInspection[] = new Array(n);
  const entryOpts = opts.indexEntries;
  if (entryOpts === undefined) {
    for (let i = 0; i < n; i++) results[i] = inspectOne(items[i], opts, compiled, null, pre?.[i] ?? null);
    return results;
  }
  const fast = opts.fastStat === true;
  const stats = fast ? (readStats.fast ??= new BatchStats()) : (readStats.pure ??= new BatchStats({ fast: false }));
  stats.begin(n);
  if (batchRead.length < n) batchRead = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    readThroughId = false;
    stats.slot = i;
    results[i] = inspectOne(items[i], opts, compiled, stats, pre?.[i] ?? null);
    batchRead[i] = readThroughId ? 1 : 0;
  }
  const id = (entryId ??= new IdentityScratch({ fast: false })); // loaded from the kept stats: it never stats itself
  const cutoffNs = cutoffOf(entryOpts);
  const withKeys = opts.keyring !== undefined;
  // The batch in the form it crosses to the main thread in (inspect-wire.ts): each entry's packed
  // result is made from its row, where the result's checks, lookups and strings were done once for
  // the batch (a stats result's ~6 µs of packing in a first run's baseline tier), and a worker
  // thread sends this very batch (packedBatch), its entries added.
  const packed = packInspections(results, items);
  lastPacked = { results, packed, first: entryOpts.first === true };
  const row: EntryRow = { wire: packed.packed, strings: rowStrings(packed.packed), i: 0, j: 0 };
  // The WebAssembly writer makes the rows' entries it is sure of, in one call (entry-writer.ts):
  // each row's JavaScript here ran in V8's baseline tier at ~10 µs an entry.
  const made = opts.accel !== false ? batchEntries(results, row, batchRead, stats.rows(n), entryOpts, cutoffNs, withKeys) : null;
  if (made !== null && made.deferred === 0) return results;
  const kinds = made === null ? null : made.kinds;
  let j = 0;
  for (let i = 0; i < n; i++) {
    if (batchRead[i] !== 0 && (kinds === null || kinds[i] === KIND_DEFER)) {
      stats.loadInto(i, id);
      row.i = i;
      row.j = j;
      const entry = fileEntry(results[i], id, entryOpts, cutoffNs, withKeys, row);
      if (entry !== null) results[i].indexEntry = entry;
    }
    if (hasSummaryRow(row.wire, i)) j++;
  }
  return results;
}

/** The last batch this thread packed as it made its entries (one at a time: its worker answers it before the next). */
let lastPacked: { results: readonly FileInspection[]; packed: ReturnType<typeof packInspections>; first: boolean } | null = null;

/**
 * `results` as inspectBatch packed them to make their entries, the entries added (inspect-wire.ts
 * withEntries), or null when it did not (no index): what a worker thread sends (tasks/index.ts), not packed
 * twice. Taken once.
 */
export function packedBatch(results: readonly FileInspection[]): ReturnType<typeof packInspections> | null {
  const p = lastPacked;
  lastPacked = null;
  return p !== null && p.results === results ? withEntries(p.packed, results, p.first) : null;
}

/** Set by inspectOne when the file was read through `stats.sizeOf` (which then kept that read's stat). */
let readThroughId = false;

/** One item's inspection (`read`: its file read ahead); with `stats`, the read's stat is kept in it (readThroughId). */
function inspectOne(item: InspectItem, opts: InspectOptions, compiled: CompiledSchema | undefined, stats: BatchStats | null, read: ReadAhead | null): FileInspection {
  if (item.resolveLink !== undefined) return resolveLinkItem(item, item.resolveLink);
  const start = performance.now();
  let bytes: Buffer;
  room.waited = 0;
  if (read !== null) {
    // (Read ahead only below READ_AHEAD_FILE_BYTES: never a big file, no turn to pass.)
    stats?.keepRead(read.stat);
    readThroughId = stats !== null;
    return inspectBytes(item, read.bytes, opts, compiled, start);
  }
  try {
    room.scanner = readsIntoScanner(opts);
    room.maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
    if (stats !== null) bytes = readFileSizedSync(item.path, opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE, roomFor, stats.sizeOf);
    else bytes = readFileLimitedSync(item.path, opts.maxFileSize, roomFor, opts.fastStat === true);
  } catch (e) {
    passBigFileTurn();
    const out: FileInspection = { path: item.path, size: 0, status: 'ok', format: null, notes: [], shape: null, elapsedMs: 0 };
    const err = isSidecarError(e) ? e : errors.fromFs(e, item.path);
    out.status = READ_ERROR_CODES.has(err.code) ? 'unreadable' : 'corrupt';
    out.error = { code: err.code, message: err.message };
    // A file above the size limit is not read, but its size is known (validate's file_size).
    const size = err.code === 'TOO_LARGE' ? err.details?.size : undefined;
    if (typeof size === 'number') out.size = size;
    out.elapsedMs = performance.now() - start;
    return out;
  }
  readThroughId = stats !== null;
  try {
    return inspectBytes(item, bytes, opts, compiled, start + room.waited);
  } finally {
    passBigFileTurn();
  }
}

// Where a batch's reads keep their stats (one per thread and kind of stat), and where each entry's identity is made of one.
const readStats = { fast: null as BatchStats | null, pure: null as BatchStats | null };
let entryId: IdentityScratch | null = null;

let lastCutoff: { ms: number; ns: bigint } = { ms: NaN, ns: 0n };
function cutoffOf(e: EntryOptions): bigint {
  if (lastCutoff.ms !== e.racyCutoffMs) lastCutoff = { ms: e.racyCutoffMs, ns: racyCutoffNs(e.racyCutoffMs) };
  return lastCutoff.ns;
}

/** Decode and (optionally) summarise/validate a sidecar's bytes (the part of inspectFile after the read). */
export function inspectBytes(item: InspectItem, bytes: Buffer, opts: InspectOptions, compiled?: CompiledSchema, start = performance.now()): FileInspection {
  const out: FileInspection = { path: item.path, size: bytes.length, status: 'ok', format: null, notes: [], shape: null, elapsedMs: 0 };
  const skim = isProbeOnly(opts);
  if (accelApplies(opts)) {
    const shapeOnlyAsked = isShapeOnly(opts);
    const shape = skim || shapeOnlyAsked ? SKIM_ARRAYS : opts.summarize && opts.sizes !== false ? SIZED : undefined;
    // validate's inspection of the common form is decided on the tape (accel/certify.ts), else by
    // the skeleton. The certifier computes the few numbers it compares itself: the scan computes
    // none (the skeleton then reads them from the text, as the probe's does).
    // stats' summary (summaryOnTape) and format-stats' shape (shapeOnTape) likewise.
    const onTape = shapeOnlyAsked ? 'shape' : !hasReportName(item.name) && (isBriefAndRules(opts) ? 'brief' : isSummaryOnly(opts) ? 'summary' : null);
    // A plain bin file's body is scanned only where the tape decides (no skeleton is made of it).
    const scanned = accelScan(bytes, opts, shape !== SKIM_ARRAYS && onTape === null) ?? (onTape ? binScan(bytes, opts) : null);
    let decoded: Skeleton | 'deferred' | null = null;
    if (scanned !== null && scanned !== 'deferred') {
      const brief = onTape === 'brief' ? certifyBrief(scanned) : null;
      // Made in the column form by construction: packing need not check it (inspect-wire.ts fitsColumns).
      const tapeSummary = onTape === 'summary' ? summaryOnTape(scanned, opts.sizes !== false) : null;
      const summary = tapeSummary && fitsColumns(tapeSummary);
      const shapeOnly = onTape === 'shape' ? shapeOnTape(scanned, item.name) : null;
      if (brief !== null || summary !== null || shapeOnly !== null) {
        out.format = scanned.format;
        out.notes = scanned.notes;
        out.shape = shapeOnly ?? 'sidecar';
        if (summary !== null) out.summary = summary;
        else if (brief !== null) {
          out.brief = brief;
          out.problems = [];
        }
        out.accel = 'wasm';
        accelCounts.certified++;
        accelCounts.onTape++;
        out.elapsedMs = performance.now() - start;
        return out;
      }
      decoded = skeletonOf(scanned, shape);
    } else decoded = scanned;
    if (decoded !== null && decoded !== 'deferred') {
      const skeleton = decoded.data;
      out.format = decoded.format;
      out.notes = decoded.notes;
      analyse(out, skeleton, item, opts, compiled);
      // Certified: no problem at all. A file with a problem goes to the reference, which words it
      // (a problem inside a float array would quote a value the skeleton does not have).
      if (out.problems === undefined || out.problems.length === 0) {
        out.accel = 'wasm';
        accelCounts.certified++;
        out.elapsedMs = performance.now() - start;
        return out;
      }
      delete out.summary;
      delete out.brief;
      delete out.probe;
      delete out.problems;
      out.format = null;
      out.shape = null;
      out.notes = [];
    }
    if (decoded !== null) {
      out.accel = 'deferred';
      accelCounts.deferred++;
    }
    // Read into the scanner's input and not certified: the reference decodes its own copy (the
    // next scan overwrites the input; a bin decode may keep views of its bytes).
    lastReadWasJson = decoded !== null;
    if (inScannerMemory(bytes)) bytes = Buffer.from(bytes);
  }
  // export's embeddings of a plain bin or a JSON file, read on the scanner's tape where it is sure (accel/embeddings-tape.ts).
  const embeddingsOnly = isEmbeddingsOnly(opts);
  if (embeddingsOnly && opts.accel !== false && accelAvailable() && !hasReportName(item.name)) {
    const scanned = accelScan(bytes, opts) ?? binScan(bytes, opts);
    const rows = scanned !== null && scanned !== 'deferred' ? embeddingsOnTape(scanned, opts.dataset!, item.namesImage === true) : null;
    if (rows !== null) {
      const { format, notes } = scanned as Exclude<typeof scanned, null | 'deferred'>;
      out.format = format;
      out.notes = notes;
      out.shape = 'sidecar';
      out.dataset = rows;
      out.accel = 'wasm';
      accelCounts.certified++;
      accelCounts.onTape++;
      out.elapsedMs = performance.now() - start;
      return out;
    }
    // A file the tape turned down (or the scan deferred): the reference decides, counted as such.
    if (scanned !== null) {
      out.accel = 'deferred';
      accelCounts.deferred++;
    }
  }
  try {
    const decodeOpts = { path: item.path, maxDepth: opts.maxDepth, maxFileSize: opts.maxFileSize, keyring: opts.keyring };
    // The decoder marks the float blocks it built, so that stats' sizes and the rules need not
    // look at each element of an embedding: only when the data is analysed here and never handed
    // out (keepData), so nothing can change it first. Where only structure is analysed (as for
    // the JSON skeleton: no schema, no data returned), a bin file's float blocks become shared
    // stand-ins and no array of doubles is built (cbor.ts withFloatBlocks); a file with any
    // problem is decoded again without them, so that its messages quote its own values.
    const standIns = !skim && opts.accel !== false && canAccelerate(opts);
    const decode = (mode: 'mark' | 'stand-ins' | 'vectors') => withFloatBlocks(mode, () => decodeSidecar(bytes, decodeOpts));
    let decoded = skim ? skimSidecar(bytes, decodeOpts) : opts.keepData ? decodeSidecar(bytes, decodeOpts) : decode(embeddingsOnly ? 'vectors' : standIns ? 'stand-ins' : 'mark');
    out.format = decoded.format;
    if (decoded.encryption) out.encryptedKeyId = decoded.encryption.keyId;
    out.notes = decoded.notes;
    analyse(out, decoded.data, item, opts, compiled);
    if (standIns && out.problems !== undefined && out.problems.length > 0 && decoded.format !== 'json' && decoded.format !== 'legacy') {
      decoded = decode('mark');
      out.notes = decoded.notes;
      analyse(out, decoded.data, item, opts, compiled);
    }
    const data = decoded.data;
    if (opts.keepData) out.data = data;
    // export's datasets: the rows made here, where the data is (no object graph crosses a thread).
    if (opts.dataset !== undefined && out.shape === 'sidecar') out.dataset = extractDataset(data, opts.dataset, item.namesImage === true);
    // Typed JSON when some number needs its type spelled out (25.0, big ints, -0.0): the notes that carry
    // those types (formats/numbers.ts) do not cross to the main thread.
    if (opts.dataJson) {
      const text = needsTypedJson(data) ? typedJsonText(data) : JSON.stringify(data);
      out.dataJson = text.length >= TRANSFER_TEXT_UNITS ? Buffer.from(text, 'utf8') : text;
    }
  } catch (e) {
    const err = isSidecarError(e) ? e : errors.corrupt(`cannot decode: ${(e as Error)?.message ?? e}`, item.path, e);
    if (isOtherJson(err)) {
      // JSON that is not an object (an exiftool dump is an array): another tool's file, inspected
      // as `{}` is (docs/PAIRING.md §7: never an image's sidecar, never touched), not a corrupt sidecar.
      out.format = 'json';
      out.notes = [];
      analyse(out, {}, item, opts, compiled);
      out.elapsedMs = performance.now() - start;
      return out;
    }
    if (err.code === 'ENCRYPTED') {
      // Ours and intact, but we hold no key: a finding of its own, not corruption.
      out.status = 'encrypted';
      out.format = 'bin';
      out.shape = 'sidecar';
      out.encryptedKeyId = String(err.details?.keyId ?? '');
    } else {
      out.status = 'corrupt';
      // Encrypted under a key not given (wrong key or passphrase): corrupt as documented, and its
      // key id says it was never decrypted (resolve leaves it alone, as it does an `encrypted` one).
      if (isWrongKey(err)) out.encryptedKeyId = String(err.details!.keyId);
    }
    out.error = { code: err.code, message: err.message };
  }
  out.elapsedMs = performance.now() - start;
  return out;
}

/**
 * Files are read straight into the scanner's input when the scanner will look at them (no Buffer
 * per file, no copy): while the files of this thread are JSON (or legacy) — a file of another format read
 * there is copied out again, so after one the next file is read into a Buffer of its own.
 */
let lastReadWasJson = true;
function readsIntoScanner(opts: InspectOptions): boolean {
  return lastReadWasJson && accelApplies(opts);
}

/** The read inspectOne is making: whether it goes into the scanner's input, and how long it waited for the big-file turn. */
const room = { scanner: false, maxDepth: DEFAULT_MAX_DEPTH, waited: 0 };
/**
 * A read's room for its bytes (fs/read-file.ts `into`), told their size first: a big file waits
 * there for the process's turn, before it holds them (tasks/big-file-turn.ts); the scanner's input
 * when the scanner will look at them.
 */
function roomFor(size: number): Buffer | null {
  room.waited = waitForBigFileTurn(size);
  return room.scanner && size <= ACCEL_MAX_BYTES ? scannerInput(size, room.maxDepth) : null;
}

/**
 * validate's inspection without a filter or schema: the brief and the built-in rules (ops/validate.ts
 * validateInspectOptions), which the certifier decides on the tape for the common form.
 */
function isBriefAndRules(opts: InspectOptions): boolean {
  return opts.brief === true && opts.validate === true && !opts.summarize && !opts.probe && opts.schema === undefined;
}

/** stats' inspection: the summary, no rules, brief, probe or schema (summaryOnTape decides the common form). */
function isSummaryOnly(opts: InspectOptions): boolean {
  return opts.summarize === true && !opts.validate && !opts.brief && !opts.probe && opts.schema === undefined;
}

/** export's embeddings alone read the data (no filter's summary): a bin file's encodings come as views of its bytes (cbor.ts 'vectors'), or from its tape. */
function isEmbeddingsOnly(opts: InspectOptions): boolean {
  return opts.dataset?.format === 'embeddings' && !opts.summarize && !opts.brief && !opts.validate && !opts.probe && opts.schema === undefined && !opts.keepData && !opts.dataJson;
}

/** The probe alone (todo, stale) reads arrays only inside `sidecar_info`: both decodes skim the rest. */
function isProbeOnly(opts: InspectOptions): boolean {
  return opts.probe === true && !opts.summarize && !opts.validate && opts.schema === undefined && !opts.keepData && !opts.dataJson && opts.dataset === undefined;
}
/**
 * Nothing but the shape, format and status (format-stats): the scanner's probe skeleton serves it
 * (the shape reads top-level keys, whether `sidecar_info` is an object and whether `games` is an
 * array: analysis/operations.ts looksLikeReport, looksLikeSidecar; the probe skeleton keeps all of
 * them). The reference decode is unchanged.
 */
function isShapeOnly(opts: InspectOptions): boolean {
  return !opts.probe && !opts.summarize && !opts.brief && !opts.validate && opts.schema === undefined && !opts.keepData && !opts.dataJson && opts.dataset === undefined;
}
const SKIM_ARRAYS = { arrays: 'skim' } as const;
/** Stats: the skeleton sizes the operations in bin encoding as it builds them (accel/skeleton.ts). */
const SIZED = { sizes: true } as const;

/**
 * The accelerated decode only replaces the parsing step of inspections that look at structure:
 * summaries, the built-in rules, the shape. Not for a user schema (it may look at any value), nor
 * when the data itself is returned or read (the skeleton's long float arrays are stand-ins).
 */
function canAccelerate(opts: InspectOptions): boolean {
  return opts.schema === undefined && !opts.keepData && !opts.dataJson && opts.dataset === undefined;
}

/** The scanner looks at this inspection's files: asked for, able to, and loaded in this thread. */
function accelApplies(opts: InspectOptions): boolean {
  return opts.accel !== false && canAccelerate(opts) && accelAvailable();
}

/** Shape, summary, probe and problems of decoded data: one implementation for both decodes. */
function analyse(out: FileInspection, data: JsonObject, item: InspectItem, opts: InspectOptions, compiled: CompiledSchema | undefined): void {
  out.shape = shapeOf(data, item.name);
  if (opts.summarize) out.summary = summarizeSidecar(data, { sizes: opts.sizes });
  else if (opts.brief) out.brief = briefOfSidecar(data);
  if (opts.probe) out.probe = probeSidecar(data);
  if (opts.validate || opts.schema !== undefined) {
    const problems = opts.validate ? checkSidecarRules(data) : [];
    if (opts.schema !== undefined) problems.push(...checkSchema(compiled ?? schemaFor(opts.schema), data));
    out.problems = problems;
  }
}

