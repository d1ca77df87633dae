/**
 * The accelerated decode step of the inspect task: the WebAssembly scanner plus the skeleton
 * builder. It returns a skeleton only for JSON text (a JSON file, or a legacy file's text) the
 * scanner vouches for; for anything else (another format, any error, a rare shape, a file beyond
 * ACCEL_MAX_BYTES) it returns null or 'deferred' and the caller decodes with the reference
 * (`decodeSidecar`), which defines the result.
 */
import type { JsonObject } from '../types.js';
import { detectFormat } from '../formats/detect.js';
import { BOM_NOTE, hasBomAt } from '../formats/json.js';
import { LEGACY_PREFIX_SIZE } from '../formats/legacy.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_FILE_SIZE } from '../formats/value.js';
import { BIN_HEADER_SIZE, readBinHeader } from '../formats/bin.js';
import { accelStatus, scanCborBody, scanJson, type Scanned } from './scanner.js';
import { buildSkeleton, keysAsWritten, type SkeletonOptions } from './skeleton.js';
import { shapeOnTape } from './certify.js';
import { BIG_FILE_BYTES } from '../tuning.js';

/** Larger files take the reference path: the module's memory (about 5× the file) stays small. */
export const ACCEL_MAX_BYTES = BIG_FILE_BYTES;

/** Per-thread counts of what the accelerated decode did (tests, bench); `onTape`: of the certified, those the validate certifier decided without a skeleton. */
export const accelCounts = { certified: 0, deferred: 0, onTape: 0 };

export function accelAvailable(): boolean {
  return accelStatus().available;
}

/** A skeleton, its format and the decoder notes the reference would give with it. */
export interface Skeleton {
  data: JsonObject;
  notes: string[];
  /** 'legacy': the earlier tool's layout, a u64 length then compact JSON text (formats/legacy.ts). */
  format: 'json' | 'legacy';
}

let binScanOn = true;

/** The bin body scan on or off (tests compare the two ways; off: every bin file takes the reference). */
export function setBinScan(on: boolean): void {
  binScanOn = on;
}

/**
 * The tape of a plain bin file (no aligned layout, not encrypted: those take the reference) whose
 * header is sound (formats/bin.ts readBinHeader: magic, version, flags, length, CRC-32) and whose
 * body the scanner reads (accel/scanner.ts scanCborBody); 'deferred' for a bin file the reference
 * must decide (a bad header: its message is the reference's); null for anything else.
 */
export function binScan(bytes: Buffer, opts: { maxDepth?: number; maxFileSize?: number }): Scanned | 'deferred' | null {
  if (!binScanOn || bytes.length < BIN_HEADER_SIZE || detectFormat(bytes) !== 'bin' || bytes[5] !== 0) return null;
  if (bytes.length > ACCEL_MAX_BYTES || bytes.length > (opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE)) return 'deferred';
  try {
    readBinHeader(bytes);
  } catch {
    return 'deferred';
  }
  const tape = scanCborBody(bytes, opts.maxDepth ?? DEFAULT_MAX_DEPTH, BIN_HEADER_SIZE);
  if (typeof tape === 'number') return 'deferred';
  return { tape, text: bytes.subarray(BIN_HEADER_SIZE), notes: [], format: 'bin' };
}

/**
 * The scanner's tape of a JSON sidecar it vouches for; 'deferred' for JSON text (by content) it
 * leaves to the reference; null for other formats (not the accelerator's business). `values`:
 * scalar numbers carry their doubles (false for the probe skeleton, which reads the few numbers it
 * keeps, inside sidecar_info, from the text).
 *
 * A legacy file is JSON text behind its length prefix, and the reference decodes it as it decodes
 * a JSON file from that byte on (formats/legacy.ts decodeLegacy: the same decodeJsonObject, no
 * BOM — byte 8 is '{'): the scanner takes the text from there, the result says 'legacy'.
 */
export function accelScan(bytes: Buffer, opts: { maxDepth?: number; maxFileSize?: number }, values = true): Scanned | 'deferred' | null {
  if (bytes.length === 0) return null;
  const format = detectFormat(bytes);
  if (format !== 'json' && format !== 'legacy') return null;
  if (bytes.length > ACCEL_MAX_BYTES || bytes.length > (opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE)) return 'deferred';
  // A leading BOM is tolerated and noted, as the reference does (formats/json.ts).
  const bom = format === 'json' && hasBomAt(bytes, 0);
  const skip = format === 'legacy' ? LEGACY_PREFIX_SIZE : bom ? 3 : 0;
  // Scanned where it was read (scannerInput), from `skip` on: tape offsets count from there.
  const tape = scanJson(bytes, opts.maxDepth ?? DEFAULT_MAX_DEPTH, skip, values);
  if (typeof tape === 'number') return 'deferred';
  return { tape, text: skip > 0 ? bytes.subarray(skip) : bytes, notes: bom ? [BOM_NOTE] : [], format };
}

/** The skeleton of a scanned text (skeleton.ts); 'deferred' when the reference must decide. */
export function skeletonOf(scanned: Scanned, shape: SkeletonOptions = {}): Skeleton | 'deferred' {
  const format = scanned.format;
  if (format === 'bin') return 'deferred';
  const data = buildSkeleton(scanned.tape, scanned.text, shape);
  return data === null ? 'deferred' : { data, notes: scanned.notes, format };
}

/**
 * The skeleton of a JSON sidecar the scanner vouches for; 'deferred' for JSON text (by content)
 * it leaves to the reference; null for other formats (not the accelerator's business).
 * `shape.arrays: 'skim'` gives the probe skeleton (skeleton.ts), for todo and stale.
 */
export function accelDecode(bytes: Buffer, opts: { maxDepth?: number; maxFileSize?: number }, shape: SkeletonOptions = {}): Skeleton | 'deferred' | null {
  // The probe skeleton reads scalar numbers only inside sidecar_info: from the text (no values).
  const scanned = accelScan(bytes, opts, shape.arrays !== 'skim');
  return scanned === null || scanned === 'deferred' ? scanned : skeletonOf(scanned, shape);
}

/**
 * The text of a JSON sidecar whose every value and number type the text itself spells exactly as
 * the reference decode gives them, made one line: CR and LF (which valid JSON has only as
 * whitespace) become spaces, in place — `bytes` is the caller's to give up. null when the
 * reference must decode it. Vouched for: strict UTF-8, the grammar, the depth limit, numbers
 * within the number model's limits (the scanner), an object at the root, no duplicate key and no
 * key the reference would reorder (`keysAsWritten`). A BOM, another format, or a file over
 * ACCEL_MAX_BYTES: null. Parsed with type-keeping JSON (Python's `json`), the line gives what the
 * reference's typed JSON of the decoded data gives, keys in the same order (test/read-text.test.ts).
 * With `sidecarNamed` (the file's name), only a file the tape shows sidecar-shaped (certify.ts
 * shapeOnTape): another tool's file, or one the tape is unsure of, is left to the reference.
 */
export function plainJsonLine(bytes: Buffer, opts: { maxDepth?: number; maxFileSize?: number; sidecarNamed?: string }): Buffer | null {
  if (bytes.length === 0 || bytes.length > ACCEL_MAX_BYTES || bytes.length > (opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE)) return null;
  if (detectFormat(bytes) !== 'json' || hasBomAt(bytes, 0)) return null;
  const tape = scanJson(bytes, opts.maxDepth ?? DEFAULT_MAX_DEPTH, 0, false);
  if (typeof tape === 'number' || !keysAsWritten(tape, bytes)) return null;
  if (opts.sidecarNamed !== undefined && shapeOnTape({ tape, text: bytes, notes: [], format: 'json' }, opts.sidecarNamed) !== 'sidecar') return null;
  for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) bytes[i] = 0x20;
  for (let i = bytes.indexOf(0x0d); i !== -1; i = bytes.indexOf(0x0d, i + 1)) bytes[i] = 0x20;
  return bytes;
}
