/**
 * Hostile bytes against every decoder — the format module's own entry point and the codec's
 * decodeSidecar — with three rules per case:
 *   1. only our error type comes out (SidecarError CORRUPT / TOO_DEEP / TOO_LARGE);
 *   2. nothing hangs (each call is timed);
 *   3. no allocation is driven by an untrusted length: the largest request stays within the
 *      input's size (alloc-probe.ts).
 * Whatever does decode must survive being written back in its own format and read again
 * bit for bit (a difference is data lost). Random sidecar-like data round-trips through every
 * format the same way.
 */
import fc from 'fast-check';
import { isSidecarError } from '../../src/errors.js';
import { decodeSidecar, deepEqualJson, encodeSidecar } from '../../src/formats/codec.js';
import { decodeJsonObject } from '../../src/formats/json.js';
import { decodeBin } from '../../src/formats/bin.js';
import { decodeLegacy } from '../../src/formats/legacy.js';
import type { JsonObject, SidecarFormat } from '../../src/types.js';
import { probeAllocations } from './alloc-probe.js';
import { deepValue, deeplyNested, hostileBytes, lengthBombs, seedCorpus, sidecarDataArb, type DecoderName } from './fuzz-inputs.js';
import { fail, jsonBytes, newRow, timed, type ReliabilityRow } from './tally.js';

const MAX_DEPTH = 512;
/** A single decode of a fuzz input (at most ~100 KB) taking this long counts as a hang. */
const HANG_MS = 2_000;

/**
 * CPU time of this process in ms: a hang detector that a loaded machine does not trip (wall time
 * grows with every other process on the cores; the work a decoder does, measured as CPU, does not).
 */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
/** Fixed-size scratch a decoder may allocate regardless of the input. */
const ALLOC_SLACK = 4096;
const ALLOWED_DECODE_CODES = new Set(['CORRUPT', 'TOO_DEEP', 'TOO_LARGE']);

/** Each format module's own decoder (the codec normally picks one by content). */
export const MODULE_DECODERS: Record<DecoderName, (bytes: Uint8Array) => { data: JsonObject }> = {
  json: (b) => decodeJsonObject(b, { maxDepth: MAX_DEPTH }),
  bin: (b) => decodeBin(b, { maxDepth: MAX_DEPTH }),
  rkyv: (b) => decodeBin(b, { maxDepth: MAX_DEPTH }),
  legacy: (b) => decodeLegacy(b, { maxDepth: MAX_DEPTH }),
};

export interface CaseVerdict {
  problems: string[];
  decoded: boolean;
  /** Re-encoding refused as UNREPRESENTABLE (e.g. a lone surrogate read from JSON cannot go to CBOR). */
  refused: boolean;
  lostRecords: number;
  lostBytes: number;
}

function hex(b: Uint8Array, max = 96): string {
  const h = Buffer.from(b.buffer, b.byteOffset, Math.min(b.length, max)).toString('hex');
  return b.length > max ? `${h}… (${b.length} bytes)` : h;
}

function isPlainObject(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** Top-level keys whose values differ between `a` and `b` (the records of a sidecar). */
function lostKeys(a: JsonObject, b: JsonObject | null): { records: number; bytes: number } {
  let records = 0;
  let bytes = 0;
  for (const k of Object.keys(a)) {
    if (b !== null && Object.prototype.hasOwnProperty.call(b, k) && deepEqualJson(a[k], b[k])) continue;
    records++;
    bytes += jsonBytes(a[k]);
  }
  return { records, bytes };
}

/** Decoded data must come back identical after encoding it again in its own format. */
function reencode(data: JsonObject, format: SidecarFormat, verdict: CaseVerdict, where: string): void {
  let bytes: Buffer;
  try {
    bytes = encodeSidecar(data, format);
  } catch (e) {
    if (isSidecarError(e) && e.code === 'UNREPRESENTABLE') verdict.refused = true;
    else verdict.problems.push(`${where}: re-encoding decoded data as ${format} threw ${isSidecarError(e) ? e.code : 'a foreign error'}: ${(e as Error).message}`);
    return;
  }
  let back: JsonObject | null = null;
  try {
    back = decodeSidecar(bytes).data;
  } catch (e) {
    verdict.problems.push(`${where}: our own ${format} encoding did not decode: ${(e as Error).message}`);
  }
  const loss = lostKeys(data, back);
  verdict.lostRecords += loss.records;
  verdict.lostBytes += loss.bytes;
  if (loss.records > 0) verdict.problems.push(`${where}: ${loss.records} record(s) changed through a ${format} round trip`);
}

/** Run one input through one decoder entry point under the three rules. */
function checkEntry(where: string, bytes: Uint8Array, decode: () => { data: JsonObject; format?: SidecarFormat }, verdict: CaseVerdict, reencodeAs?: SidecarFormat): void {
  const t0 = cpuMs();
  const r = probeAllocations(decode);
  const ms = cpuMs() - t0;
  if (ms > HANG_MS) verdict.problems.push(`${where}: took ${Math.round(ms)} ms of CPU on ${bytes.length} bytes`);
  const bound = bytes.length + ALLOC_SLACK;
  if (r.alloc.maxBytes > bound) verdict.problems.push(`${where}: allocated ${r.alloc.largest} for a ${bytes.length}-byte input`);
  if (r.alloc.maxArrayLength > bound) verdict.problems.push(`${where}: new Array(${r.alloc.maxArrayLength}) for a ${bytes.length}-byte input`);
  if (r.threw) {
    const e = r.error;
    if (!isSidecarError(e)) verdict.problems.push(`${where}: foreign exception escaped: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    else if (!ALLOWED_DECODE_CODES.has(e.code)) verdict.problems.push(`${where}: unexpected error code ${e.code}: ${e.message}`);
    else if (!e.message) verdict.problems.push(`${where}: ${e.code} without a message`);
    return;
  }
  const out = r.value!;
  verdict.decoded = true;
  if (!isPlainObject(out.data)) verdict.problems.push(`${where}: decoded to something that is not a plain object`);
  else if (reencodeAs ?? out.format) reencode(out.data, (reencodeAs ?? out.format)!, verdict, where);
}

/** Both entry points of `decoder` on one input. */
export function checkDecodeCase(decoder: DecoderName, bytes: Uint8Array): CaseVerdict {
  const verdict: CaseVerdict = { problems: [], decoded: false, refused: false, lostRecords: 0, lostBytes: 0 };
  const moduleFormat: SidecarFormat = decoder;
  checkEntry(`${decoder} module`, bytes, () => MODULE_DECODERS[decoder](bytes), verdict, moduleFormat);
  checkEntry('decodeSidecar', bytes, () => decodeSidecar(bytes), verdict);
  return verdict;
}

export interface FuzzOptions {
  cases: number;
  seed: number;
}

/** `cases` hostile inputs for one decoder; failing inputs are listed (hex) in the row. */
export async function runDecoderFuzz(decoder: DecoderName, opts: FuzzOptions): Promise<ReliabilityRow> {
  const row = newRow('fuzz', `decoder ${decoder} (module + decodeSidecar)`, 'cases');
  return timed(row, async () => {
    const corpus = seedCorpus(decoder, opts.seed);
    let decoded = 0;
    let refused = 0;
    fc.assert(
      fc.property(hostileBytes(decoder, corpus), (bytes) => {
        row.count++;
        const v = checkDecodeCase(decoder, bytes);
        if (v.decoded) decoded++;
        if (v.refused) refused++;
        row.recordsLost += v.lostRecords;
        row.bytesLost += v.lostBytes;
        for (const p of v.problems) fail(row, `${p} — input ${hex(bytes)}`);
        return true; // tally every case; the row carries the verdict
      }),
      { numRuns: opts.cases, seed: opts.seed, endOnFailure: true },
    );
    row.notes.push(`${decoded} inputs still decoded (and round-tripped), ${refused} could not be re-encoded losslessly and were refused; seed ${opts.seed}`);
  });
}

/** Random sidecar-like data through every format and back, bit for bit. */
export async function runRoundTrips(opts: FuzzOptions): Promise<ReliabilityRow> {
  const row = newRow('fuzz', 'random data round trips (json, bin, rkyv, legacy)', 'cases');
  return timed(row, async () => {
    let refused = 0;
    fc.assert(
      fc.property(sidecarDataArb, (data) => {
        for (const format of ['json', 'bin', 'rkyv', 'legacy'] as const) {
          row.count++;
          let bytes: Buffer;
          try {
            bytes = encodeSidecar(data, format);
          } catch (e) {
            // Refusing (never mangling) is the contract for what a format cannot carry.
            if (isSidecarError(e) && e.code === 'UNREPRESENTABLE') refused++;
            else fail(row, `${format}: encoding threw ${isSidecarError(e) ? e.code : 'a foreign error'}: ${(e as Error).message}`);
            continue;
          }
          let back: JsonObject | null = null;
          try {
            const d = decodeSidecar(bytes);
            back = d.data;
            if (d.format !== format) fail(row, `${format}: read back as ${d.format}`);
          } catch (e) {
            fail(row, `${format}: our own encoding did not decode: ${(e as Error).message}`);
          }
          const loss = lostKeys(data, back);
          row.recordsLost += loss.records;
          row.bytesLost += loss.bytes;
          if (loss.records > 0) fail(row, `${format}: ${loss.records} record(s) changed: ${JSON.stringify(data).slice(0, 200)}`);
        }
        return true;
      }),
      { numRuns: opts.cases, seed: opts.seed },
    );
    row.notes.push(`${refused} encodings refused as UNREPRESENTABLE (lone surrogates cannot be UTF-8 in CBOR)`);
  });
}

/** Length fields claiming up to 2^64 bytes: rejected at once, without allocating for them. */
export async function runLengthBombs(): Promise<ReliabilityRow> {
  const row = newRow('hostile files', 'length bombs (lengths up to 2^64 in every format)', 'cases');
  return timed(row, async () => {
    for (const decoder of ['json', 'bin', 'rkyv', 'legacy'] as const) {
      for (const bomb of lengthBombs(decoder)) {
        row.count++;
        const t0 = cpuMs();
        const v = checkDecodeCase(decoder, bomb.bytes);
        const ms = cpuMs() - t0;
        for (const p of v.problems) fail(row, `${decoder} ${bomb.name}: ${p}`);
        if (v.decoded !== (bomb.valid === true)) fail(row, `${decoder} ${bomb.name}: ${v.decoded ? 'decoded although its lengths are impossible' : 'a valid input was rejected'}`);
        if (ms > 500) fail(row, `${decoder} ${bomb.name}: took ${Math.round(ms)} ms of CPU`);
      }
    }
  });
}

/**
 * 10^5 levels of nesting in every format: a clear TOO_DEEP at the default limit, and never a
 * stack overflow even when a caller raises the limit beyond the nesting.
 */
export async function runDeepNesting(depth: number): Promise<ReliabilityRow> {
  const row = newRow('hostile files', `deep nesting (${depth} levels) in every decoder and encoder`, 'cases');
  return timed(row, async () => {
    for (const decoder of ['json', 'bin', 'rkyv', 'legacy'] as const) {
      const bytes = deeplyNested(decoder, depth);
      for (const [where, fn] of [
        ['module', () => MODULE_DECODERS[decoder](bytes)],
        ['decodeSidecar', () => decodeSidecar(bytes)],
      ] as const) {
        row.count++;
        try {
          fn();
          fail(row, `${decoder} ${where}: ${depth} levels decoded under the default limit of ${MAX_DEPTH}`);
        } catch (e) {
          if (!isSidecarError(e) || e.code !== 'TOO_DEEP' || !/nesting deeper than 512 levels/.test(e.message)) {
            fail(row, `${decoder} ${where}: expected TOO_DEEP "nesting deeper than 512 levels", got ${isSidecarError(e) ? e.code : (e as Error)?.name}: ${(e as Error)?.message}`);
          }
        }
      }
      // A caller who raises the limit past the nesting gets the data or TOO_DEEP, never a RangeError.
      row.count++;
      try {
        const d = decodeSidecar(bytes, { maxDepth: depth * 10 });
        if (!Array.isArray(d.data.a)) fail(row, `${decoder} with maxDepth ${depth * 10}: decoded to the wrong shape`);
      } catch (e) {
        if (!isSidecarError(e) || e.code !== 'TOO_DEEP') fail(row, `${decoder} with maxDepth ${depth * 10}: ${(e as Error)?.name}: ${(e as Error)?.message}`);
      }
    }
    const value = deepValue(depth);
    for (const format of ['json', 'bin', 'rkyv', 'legacy'] as const) {
      for (const maxDepth of [undefined, depth * 10]) {
        row.count++;
        try {
          encodeSidecar(value, format, { maxDepth });
          if (maxDepth === undefined) fail(row, `encode ${format}: ${depth} levels encoded under the default limit`);
        } catch (e) {
          if (!isSidecarError(e) || e.code !== 'TOO_DEEP') fail(row, `encode ${format} (maxDepth ${maxDepth ?? 'default'}): ${(e as Error)?.name}: ${(e as Error)?.message}`);
        }
      }
    }
  });
}
