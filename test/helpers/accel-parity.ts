/**
 * The accelerator's parity check (issue 13): one file through both decodes, for every inspection
 * the fast path serves (validate, stats, format-stats, todo's probe), compared field by field.
 * A certified file must be one the reference does not flag (status ok, no problem; a BOM note is
 * not a flag: it is reproduced), and its skeleton must be the reference's data with each float-only
 * array replaced by its stand-in.
 */
import * as fs from 'node:fs';
import fc from 'fast-check';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { accelDecode } from '../../src/accel/decode.js';
import { decodeSidecar } from '../../src/formats/codec.js';
import { detectFormat } from '../../src/formats/detect.js';
import { binEncodedSize, encodedSize } from '../../src/formats/cbor.js';
import { copyNotes, isFloatValue, noteFloat, noteInt, notesOf, validNote } from '../../src/formats/numbers.js';
import { deepEqualJson } from '../../src/formats/value.js';
import { inspectBytes } from '../../src/tasks/inspect.js';
import type { JsonObject, JsonValue } from '../../src/types.js';
import { hostileBytes, seedCorpus, type DecoderName } from '../reliability/fuzz-inputs.js';
import type { FileInspection, InspectOptions } from '../../src/model/inspection.js';

export const INSPECT_SETS: Readonly<Record<string, InspectOptions>> = {
  validate: { brief: true, validate: true },
  'validate --where': { summarize: true, sizes: false, validate: true },
  stats: { summarize: true },
  'format-stats': {},
  probe: { probe: true },
};

export interface ParityTally {
  /** Inputs checked (each through every inspection set). */
  files: number;
  /** Inputs the accelerator looked at (JSON text by content, and plain bin files). */
  json: number;
  certified: number;
  deferred: number;
  /** Of those, plain bin files (accel/decode.ts binScan: the tape decides, no skeleton), and how many it certified. */
  bin: number;
  binCertified: number;
  mismatches: string[];
}

export function newTally(): ParityTally {
  return { files: 0, json: 0, certified: 0, deferred: 0, bin: 0, binCertified: 0, mismatches: [] };
}

/** A key no earlier file of this thread used (the scanner's key table is per thread); `tag` keeps test files apart. */
let freshKeys = 0;
export function freshKey(stem = 'k', tag = ''): string {
  return `${stem}${process.pid}${tag}x${freshKeys++}`;
}

/** A deterministic xorshift generator (the same inputs every run): `uint` its next 32-bit state, `rnd` that in [0, 1). */
export function generator(seed: number): { rnd: () => number; uint: () => number; pick: <T>(a: readonly T[]) => T } {
  const uint = () => {
    seed ^= seed << 13;
    seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed;
  };
  const rnd = () => uint() / 4294967296;
  return { rnd, uint, pick: (a) => a[Math.floor(rnd() * a.length)] };
}

/** JSON text in the earlier tool's layout: a u64-LE length, then the text. */
export function legacyBytes(text: string): Buffer {
  const b = Buffer.from(text);
  const p = Buffer.alloc(8);
  p.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([p, b]);
}

/** An inspection without what differs from run to run or says which path ran. */
export function strip(r: FileInspection): Omit<FileInspection, 'elapsedMs' | 'accel'> {
  const { elapsedMs: _e, accel: _a, ...rest } = r;
  return rest;
}

/** The reference data as the skeleton must show it: float-only arrays as stand-ins. */
function standInView(v: JsonValue): JsonValue {
  if (Array.isArray(v)) {
    const notes = notesOf(v);
    const floats = v.length > 0 && v.every((x, i) => typeof x === 'number' && isFloatValue(x, validNote(notes, i, x)));
    if (floats) {
      const out = new Array<number>(v.length).fill(0.5);
      if ((v as number[]).some((x) => x < 0)) out[0] = -0.5;
      return out;
    }
    const out = v.map(standInView);
    copyNotes(v, out);
    return out;
  }
  if (v !== null && typeof v === 'object') {
    const out: JsonObject = {};
    for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: standInView(v[k]), enumerable: true, writable: true, configurable: true });
    copyNotes(v, out);
    return out;
  }
  return v;
}

/** The probe skeleton outside sidecar_info: arrays empty, numbers 0 (ints), strings ''; objects and literals as they are. */
function skimmedView(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return [];
  if (typeof v === 'number') return 0;
  if (typeof v === 'string') return '';
  if (v !== null && typeof v === 'object') {
    const out: JsonObject = {};
    for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: skimmedView(v[k]), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}

/** The reference data as the probe skeleton must show it: skimmed, except the top-level sidecar_info (whole). */
export function probeView(data: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const k of Object.keys(data)) {
    Object.defineProperty(out, k, { value: k === 'sidecar_info' ? data[k] : skimmedView(data[k]), enumerable: true, writable: true, configurable: true });
  }
  const note = notesOf(data)?.get('sidecar_info');
  if (note !== undefined) {
    if (typeof note === 'bigint') noteInt(out, 'sidecar_info', note);
    else noteFloat(out, 'sidecar_info', note);
  }
  return out;
}

/** Check one input; mismatches are appended to the tally (with the input's name). */
export function checkAccelParity(name: string, bytes: Buffer, tally: ParityTally, extra: InspectOptions = {}): void {
  tally.files++;
  const item = { path: name, name: path.basename(name) };
  let seen: 'wasm' | 'deferred' | undefined;
  for (const [set, o] of Object.entries(INSPECT_SETS)) {
    const opts = { ...o, ...extra };
    const fast = inspectBytes(item, bytes, { ...opts, accel: true });
    const ref = inspectBytes(item, bytes, { ...opts, accel: false });
    if (ref.accel !== undefined) tally.mismatches.push(`${name} [${set}]: the reference run says accel=${ref.accel}`);
    if (fast.accel === 'wasm' && (ref.status !== 'ok' || (ref.problems?.length ?? 0) > 0)) {
      tally.mismatches.push(`${name} [${set}]: certified, but the reference flags it (${ref.status} ${ref.error?.message ?? ''} ${JSON.stringify(ref.problems ?? [])})`);
    }
    if (!isDeepStrictEqual(strip(fast), strip(ref))) {
      tally.mismatches.push(`${name} [${set}]: results differ\n fast ${JSON.stringify(strip(fast)).slice(0, 600)}\n ref  ${JSON.stringify(strip(ref)).slice(0, 600)}`);
    }
    if (set === 'validate') seen = fast.accel;
  }
  // The probe skeleton (todo, stale): certified only where the reference accepts, and then the
  // reference data skimmed outside sidecar_info (duplicate keys inside skipped arrays defer).
  const probe = accelDecode(bytes, extra, { arrays: 'skim' });
  if (probe !== null && probe !== 'deferred') {
    let ref: JsonObject | null = null;
    try {
      ref = decodeSidecar(bytes, extra).data;
    } catch (e) {
      tally.mismatches.push(`${name}: the probe skeleton certifies what the reference rejects (${(e as Error).message})`);
    }
    if (ref !== null && (!deepEqualJson(probe.data, probeView(ref)) || !isDeepStrictEqual(probe.notes, decodeSidecar(bytes, extra).notes))) {
      tally.mismatches.push(`${name}: the probe skeleton is not the reference data skimmed`);
    }
  }
  if (seen !== undefined) tally.json++;
  if (seen === 'deferred') tally.deferred++;
  // A bin file's body is decided on the tape only: there is no skeleton of it to compare.
  if (seen !== undefined && detectFormat(bytes) === 'bin') {
    tally.bin++;
    if (seen === 'wasm') {
      tally.certified++;
      tally.binCertified++;
    }
    return;
  }
  if (seen === 'wasm') {
    tally.certified++;
    const skeleton = accelDecode(bytes, extra);
    const ref = decodeSidecar(bytes, extra);
    if (skeleton === null || skeleton === 'deferred' || !deepEqualJson(skeleton.data, standInView(ref.data)) || !isDeepStrictEqual(skeleton.notes, ref.notes)) {
      tally.mismatches.push(`${name}: the skeleton is not the reference data with stand-ins`);
    }
    // Stats' skeleton sizes the root's values as it builds them: each the reference's exact bin size.
    const sized = accelDecode(bytes, extra, { sizes: true });
    if (sized !== null && sized !== 'deferred') {
      for (const k of Object.keys(ref.data)) {
        const v = sized.data[k];
        if (v !== null && typeof v === 'object' && encodedSize(v) !== binEncodedSize(ref.data[k])) {
          tally.mismatches.push(`${name}: the skeleton's size of ${k} is ${encodedSize(v)}, the reference's ${binEncodedSize(ref.data[k])}`);
        }
      }
    }
  }
}

/** Every regular file under `root` (symlinks not followed). */
export function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  walk(root);
  return out.sort();
}

/** checkAccelParity over every readable regular file under `root`. */
export function checkTreeParity(root: string, tally: ParityTally): void {
  for (const f of filesUnder(root)) {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(f);
    } catch {
      continue;
    }
    checkAccelParity(path.relative(root, f), bytes, tally);
  }
}

/**
 * checkAccelParity over a decoder's fuzz corpus (reliability/fuzz-inputs.ts seedCorpus) and `runs`
 * of its hostile mutations (`hostileBytes`: the container usually fixed up, so that a mutated body
 * reaches both decoders). `untilMismatch`: stop at the first (a test); else every case runs (the
 * reliability report lists them all).
 */
export function checkFuzzParity(decoder: DecoderName, opts: { runs: number; seed: number; untilMismatch?: boolean }, tally: ParityTally): void {
  const corpus = seedCorpus(decoder, opts.seed);
  for (const c of corpus) checkAccelParity(`seed.${decoder}`, Buffer.from(c), tally);
  fc.assert(
    fc.property(hostileBytes(decoder, corpus), (bytes) => {
      checkAccelParity(`hostile.${decoder}`, Buffer.from(bytes), tally);
      return !opts.untilMismatch || tally.mismatches.length === 0;
    }),
    { numRuns: opts.runs, seed: opts.seed },
  );
}
