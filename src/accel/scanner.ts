/**
 * The WebAssembly JSON scanner (assembly/scanner.ts, compiled by `npm run build` into
 * scanner.wasm next to this file): loaded once per thread, on first use, synchronously.
 * `scanJson` copies a file's bytes into the module's memory and returns the token tape, or a
 * negative code when the scanner defers the file to the JavaScript reference decoder.
 * If the module is missing or cannot be instantiated, the accelerator is simply unavailable:
 * every file takes the reference path and `accelStatus()` says why.
 */
import { shippedFile } from '../shipped.js';

/** Tape entry kinds and flags: the same numbers as assembly/scanner.ts. */
export const TAPE = {
  /** A container's start entry holds, above its kind (the low 8 bits), the distance to its end entry. */
  OBJ_START: 1,
  OBJ_END: 2,
  ARR_START: 3,
  ARR_END: 4,
  KEY: 5,
  STR: 6,
  NUM: 7,
  TRUE: 8,
  FALSE: 9,
  NULL: 10,
  FLOATS: 11,
  KEY_ID: 12,
  KEY_NEW: 13,
  F_ESCAPED: 1 << 8,
  F_NON_ASCII: 1 << 9,
  F_FLOAT: 1 << 8,
  /** NUM: the two words after it are its double's low and high 32 bits, not its offsets. */
  F_VALUE: 1 << 9,
  F_NEGATIVE: 1 << 8,
} as const;

/** scan() flags: the same numbers as assembly/scanner.ts. */
const SCAN_NO_VALUES = 1;

/** Why a scan deferred (its negative result). */
export const DEFER_REASONS: Readonly<Record<number, string>> = {
  [-1]: 'syntax',
  [-2]: 'utf8',
  [-3]: 'depth',
  [-4]: 'number',
  [-5]: 'tape',
  [-6]: 'start',
  [-7]: 'memory',
  [-8]: 'duplicate key',
};

interface ScannerExports {
  memory: WebAssembly.Memory;
  prepare(len: number, maxDepth: number): number;
  scan(skip: number, flags: number): number;
  scanCbor(skip: number): number;
  tapePointer(): number;
  rollbackKeys(): void;
  setFloatBlocks(on: number): void;
  primedKeys(): number;
  keyPointer(id: number): number;
  keyLength(id: number): number;
  certResults(): number;
  certifyValidate(words: number): number;
  keysChecked(): number;
  summarizeStats(words: number, sizes: number): number;
  statsResultsPointer(): number;
  statsNumbersPointer(): number;
  shapeOf(words: number): number;
  shapeResultsPointer(): number;
  floatBlocksPointer(): number;
  floatBlocksPlaced(): number;
}

export interface AccelStatus {
  /** The module loaded and passed its self-check. */
  available: boolean;
  /** Why not, when it is not. */
  reason?: string;
}

// Keys with a backslash escape are never interned: the probe's tape does not depend on the key table.
// The number is a 17-digit fraction: the scanner's exact division (numberValue) must give JS's double.
const SELF_CHECK_TEXT = '{"\\u0061":[1.5],"\\u0062":-0.13584553007423145}';
const SELF_CHECK_TAPE = [TAPE.OBJ_START | (12 << 8), TAPE.KEY | TAPE.F_ESCAPED, 2, 8, TAPE.FLOATS, 1, TAPE.KEY | TAPE.F_ESCAPED, 17, 23, TAPE.NUM | TAPE.F_FLOAT | TAPE.F_VALUE, ...wordsOf(-0.13584553007423145), TAPE.OBJ_END].join();

/** A double's low and high 32-bit words, as the tape carries them (F_VALUE). */
function wordsOf(v: number): [number, number] {
  const w = new Int32Array(new Float64Array([v]).buffer);
  return [w[0], w[1]];
}

let exportsCache: ScannerExports | null | undefined;
let status: AccelStatus = { available: false, reason: 'not loaded yet' };

/** Where the build puts the module (next to the compiled loader). */
export const SCANNER_URL = new URL('./scanner.wasm', import.meta.url);

function load(): ScannerExports | null {
  if (exportsCache !== undefined) return exportsCache;
  try {
    const module = new WebAssembly.Module(shippedFile('scanner.wasm', SCANNER_URL));
    const instance = new WebAssembly.Instance(module, { env: { abort: () => { throw new Error('scanner abort'); } } });
    const ex = instance.exports as unknown as ScannerExports;
    exportsCache = ex;
    // Self-check: a tiny document must scan to the tape we expect, else never use the module.
    const probe = scanJson(Buffer.from(SELF_CHECK_TEXT), 8);
    if (typeof probe === 'number' || probe.join() !== SELF_CHECK_TAPE) throw new Error('self-check failed');
    // The keys the module interned first (the validate certifier's, assembly/scanner.ts
    // PRIMED_KEYS): their ids never come with KEY_NEW, so their strings are read from the table.
    const primed = ex.primedKeys();
    for (let id = 0; id < primed; id++) keyStrings[id] = keyStringOf(id);
    primedCount = primed;
    status = { available: true };
  } catch (e) {
    exportsCache = null;
    const err = e as NodeJS.ErrnoException;
    status = { available: false, reason: err?.code === 'ENOENT' ? `${SCANNER_URL.pathname} is missing (run npm run build)` : `cannot load the scanner: ${err?.message ?? e}` };
  }
  return exportsCache;
}

let primedCount = 0;

/** How many keys the module interned first (their ids are below this; keyStrings holds their strings for good). */
export function primedKeyCount(): number {
  return primedCount;
}

/** Whether the scanner can be used in this thread (loads it once). */
export function accelStatus(): AccelStatus {
  load();
  return status;
}

/**
 * Scan JSON text: `bytes` from its byte `skip` on (a BOM, a legacy file's length prefix); tape
 * offsets count from there. `values: false`: no scalar number carries its double (F_VALUE), every
 * NUM its offsets — for callers that read none (the probe skeleton reads the few numbers it keeps
 * from the text; plainJsonLine reads none): the scanner's exact division is a tenth of its time.
 * Returns the tape (a view into the module's memory, valid until the next call on this thread) or
 * a negative DEFER code. Throws only if the module is unavailable.
 */
export function scanJson(bytes: Uint8Array, maxDepth: number, skip = 0, values = true): Int32Array | number {
  return scanWith(bytes, maxDepth, skip, (ex, from) => ex.scan(from, values ? 0 : SCAN_NO_VALUES));
}

/**
 * Scan a plain bin file's CBOR body (`bytes` from `skip` on: after the file's header) onto the
 * tape a JSON scan writes (assembly/scanner.ts scanCbor: every number with its double, every
 * non-empty float-only array one FLOATS entry); offsets count from `skip`. The tape, or a negative
 * DEFER code (anything our CBOR decoder reads otherwise, or refuses). Throws only if the module is
 * unavailable.
 */
export function scanCborBody(bytes: Uint8Array, maxDepth: number, skip: number): Int32Array | number {
  return scanWith(bytes, maxDepth, skip, (ex, from) => ex.scanCbor(from));
}

function scanWith(bytes: Uint8Array, maxDepth: number, skip: number, scan: (ex: ScannerExports, skip: number) => number): Int32Array | number {
  const ex = exportsCache ?? load();
  if (ex === null) throw new Error('the WebAssembly scanner is unavailable');
  // Bytes read straight into the module's input (scannerInput) are scanned where they are.
  if (bytes !== input || preparedDepth !== maxDepth) {
    const text = skip > 0 ? bytes.subarray(skip) : bytes;
    const at = prepareInput(ex, text.length, maxDepth);
    if (at === 0) return -7;
    new Uint8Array(ex.memory.buffer, at, text.length).set(text);
    skip = 0;
  }
  input = null;
  const n = scan(ex, skip);
  if (n < 0) return n;
  unconsumed = true;
  return new Int32Array(ex.memory.buffer, ex.tapePointer(), n);
}

/**
 * Whether the last scan on this thread checked every object's keys for duplicates (it defers on one
 * it finds). A key it did not intern, or an object of many keys, is left to the caller to check.
 */
export function scanCheckedKeys(): boolean {
  return exportsCache?.keysChecked() === 1;
}

/**
 * Where the last CBOR scan on this thread found its tag 86 blocks: per block, in tape order, the
 * tape position of its FLOATS entry and the byte offset of its float64-LE payload in the scanned
 * body (as the tape's offsets count), or that offset's complement (negative) when some value is
 * 2^127 or more in magnitude (float32 may not hold it). A FLOATS entry not listed is no tag 86 block (a run of float
 * items, a JSON array), or one past the module's FLOAT_BLOCKS_MAX. A view, valid until the next scan.
 */
export function floatBlockSpots(): Int32Array {
  const ex = exportsCache;
  if (!ex) return new Int32Array(0);
  return new Int32Array(ex.memory.buffer, ex.floatBlocksPointer(), 2 * ex.floatBlocksPlaced());
}

/** The view scannerInput handed out last (exactly the prepared input, until the next scan), and the depth limit prepared with it. */
let input: Buffer | null = null;
let preparedDepth = -1;

function prepareInput(ex: ScannerExports, len: number, maxDepth: number): number {
  // The last tape was never turned into a skeleton: its new keys have no strings, forget them.
  if (unconsumed) ex.rollbackKeys();
  unconsumed = false;
  input = null;
  const at = ex.prepare(len, scannerDepth(maxDepth));
  preparedDepth = maxDepth;
  return at;
}

/**
 * The depth limit as the module may take it (an i32): the reference refuses a container at depth d
 * when d >= maxDepth, the scanner when d + 1 > its limit, so the limit is floor(maxDepth) — never
 * more than the reference allows. A limit the i32 would not hold as given (WebAssembly's ToInt32
 * wraps it: -2^32 + 8 would read as 8, certifying what the reference calls too deep) is 0 (every
 * file deferred) when it is not positive or not a number, and the largest i32 (the module's own
 * stack bound then applies) when it is beyond.
 */
export function scannerDepth(maxDepth: number): number {
  const d = Number(maxDepth);
  if (!(d >= 0)) return 0; // negative, NaN
  return d >= 0x7fffffff ? 0x7fffffff : Math.floor(d);
}

/** Whether `bytes` lies in the module's memory (a scannerInput view): overwritten by the next scan. */
export function inScannerMemory(bytes: Uint8Array): boolean {
  return exportsCache != null && bytes.buffer === exportsCache.memory.buffer;
}

/**
 * Room for `len` bytes in the module's input, as a Buffer over its memory: a file read into it is
 * then scanned in place by `scanJson(view)` (no copy, no allocation per file). The view is valid
 * until the next call into the scanner on this thread; null when the module is unavailable or
 * cannot grow to hold it.
 */
export function scannerInput(len: number, maxDepth: number): Buffer | null {
  const ex = exportsCache ?? load();
  if (ex === null) return null;
  const at = prepareInput(ex, len, maxDepth);
  if (at === 0) return null;
  input = Buffer.from(ex.memory.buffer, at, len);
  return input;
}

/** Whether the last tape's KEY_NEW entries still wait for their strings (see consumedTape). */
let unconsumed = false;

/** The skeleton builder read the whole last tape (every new key has its string). */
export function consumedTape(): void {
  unconsumed = false;
}

/**
 * The strings of the scanner's key ids (KEY_NEW adds one, KEY_ID refers to it): the module's key
 * table lives as long as the thread, and so does this list.
 */
export const keyStrings: string[] = [];

/**
 * The key of id `id` as the module's key table holds it now (ASCII): for a key the last scan
 * interned, whose string the skeleton never read (the certifier builds no skeleton), and for an
 * id a rollback freed and the scan gave to another key (keyStrings still holds the old one).
 */
export function keyStringOf(id: number): string {
  const ex = exportsCache;
  if (!ex) throw new Error('the WebAssembly scanner is unavailable');
  return Buffer.from(ex.memory.buffer, ex.keyPointer(id), ex.keyLength(id)).toString('latin1');
}

/** The skeleton gave up after a scan: forget the keys that scan added (their strings were not all kept). */
export function rollbackKeys(): void {
  exportsCache?.rollbackKeys();
  unconsumed = false;
}

/**
 * The scanner's 64-byte fast path for float runs on or off (tests: the scalar loop alone must give
 * the same tape or defer code for every input; assembly/scanner.ts floatBlocks).
 */
export function setFloatBlocks(on: boolean): void {
  const ex = exportsCache ?? load();
  ex?.setFloatBlocks(on ? 1 : 0);
}

/**
 * The validate certifier on the last tape (`words` long; assembly/scanner.ts certifyValidate): its
 * results (a view: detection count, operations, sidecar_info.operation_type's tape entry, words
 * used, then per operation its key id, its nodes and each node's backend key and tool string
 * entries), or null when it is unsure.
 */
export function certifyValidateTape(words: number): Int32Array | null {
  const ex = exportsCache;
  if (!ex || ex.certifyValidate(words) !== 1) return null;
  // All the words it wrote (its fourth word says how many: up to 8 operations of 8 nodes each
  // take about 150), not a fixed 64 — past those, an operation's key and tools read as undefined.
  const at = ex.certResults();
  return new Int32Array(ex.memory.buffer, at, new Int32Array(ex.memory.buffer, at, 4)[3]);
}

/**
 * The stats summarizer on the last tape (assembly/scanner.ts summarizeStats): its results (the
 * words and the doubles, views), or null when it is unsure.
 */
export function summarizeStatsTape(words: number, sizes: boolean): { ints: Int32Array; nums: Float64Array } | null {
  const ex = exportsCache;
  if (!ex || ex.summarizeStats(words, sizes ? 1 : 0) !== 1) return null;
  return { ints: new Int32Array(ex.memory.buffer, ex.statsResultsPointer(), 1024), nums: new Float64Array(ex.memory.buffer, ex.statsNumbersPointer(), 32) };
}

/** The root's shape facts on the last tape (assembly/scanner.ts shapeOf): flags, then the other root keys' tape entries; null when unsure. */
export function shapeOfTape(words: number): Int32Array | null {
  const ex = exportsCache;
  if (!ex || ex.shapeOf(words) !== 1) return null;
  return new Int32Array(ex.memory.buffer, ex.shapeResultsPointer(), 66);
}

/** A JSON text (or a bin file's body) the scanner vouched for: its tape, the bytes it is over, and what the reference would note and call its format. */
export interface Scanned {
  tape: Int32Array;
  /** The JSON text (after a BOM or a legacy prefix), or a bin file's CBOR body: the tape's offsets count from its start. */
  text: Buffer;
  notes: string[];
  /**
   * 'legacy': the earlier tool's layout, a u64 length then compact JSON text (formats/legacy.ts).
   * 'bin': a plain bin file's body (`binScan`): for the tape's certifier, summarizer and shape
   * walk only — never a skeleton (its strings and numbers are CBOR's, not JSON text).
   */
  format: 'json' | 'legacy' | 'bin';
}
