/**
 * Tape → skeleton: the decoded sidecar as validate, stats and format-stats see it, built from
 * the WebAssembly scanner's tape (src/accel/scanner.ts) without converting the float arrays.
 *
 * Every object, string, literal, scalar number and array holding anything but floats is built
 * exactly as the reference decoder builds it (numbers as the number model's `parseNumberToken`
 * gives them, with its notes — most computed by the scanner, see numberAt; escaped strings through JSON.parse; `__proto__` as an own
 * key). An array of floats only (an embedding, a landmark pair) becomes a shared stand-in
 * of the same length: all 0.5, or -0.5 first when some element is negative. What the stand-in
 * keeps is what the summary and the built-in rules may observe of a float array — its length, that
 * every element is a finite float (its bin size: 9 bytes, 8 in a block), whether some element is
 * negative — and a rule that finds any problem sends the file to the reference anyway (src/tasks/
 * inspect.ts). A rule that needs more of a float array's values must be added here first; the
 * parity tests (test/accel.test.ts) hold the two paths together. The skeleton never leaves the
 * inspect task (no keepData, no export).
 *
 * Returns null (the caller defers to the reference decoder) on a duplicate key, where the
 * reference reports the file as corrupt.
 *
 * The probe skeleton (`{arrays: 'skim'}`, todo, stale and relink): outside the top-level `sidecar_info`
 * only objects, keys and literals are built — every array comes out empty and is only walked on
 * the tape for the duplicate-key check in the objects inside it (skipCheckingKeys, as
 * keysAsWritten; the scan makes it only for objects of up to 64 interned keys); numbers come out 0 and strings ''. The operation
 * outcomes, the shape and `sidecar_info.image` read nothing else there (analysis/operations.ts
 * walks objects and reads `success` flags; summary.ts probeSidecar), so the probe is the
 * reference's; the parity tests hold it to that.
 */
import type { JsonObject, JsonValue } from '../types.js';
import { isFloatValue, noteFloat, noteInt, parseNumberToken } from '../formats/numbers.js';
import { clearEncodedSizes, floatRunSize, headSize, markFloatBlock, numberSize, recordEncodedSize, stringSize } from '../formats/cbor.js';
import { consumedTape, keyStringOf, keyStrings, rollbackKeys, TAPE } from './scanner.js';
import { isIndexKey } from '../formats/key-order.js';

const GIVE_UP = Object.freeze({ giveUp: true });

/** Buffer's unchecked slice decoders (public, untyped in @types/node): no argument juggling per string. */
type SliceDecoders = Buffer & { utf8Slice(start: number, end: number): string; latin1Slice(start: number, end: number): string };

let tape: Int32Array = new Int32Array(0);
let text = Buffer.alloc(0) as SliceDecoders;
let at = 0;
/** Probe mode, while reading outside the top-level `sidecar_info`: arrays are skipped (see the top). */
let skimming = false;

export interface SkeletonOptions {
  /** 'skim': the probe skeleton (arrays outside the top-level sidecar_info come out empty). */
  arrays?: 'stand-ins' | 'skim';
  /**
   * Size the root's values in bin encoding while building them (stats): each object and array
   * among them gets its exact binEncodedSize recorded (formats/cbor.ts recordEncodedSize), so that
   * the summary's encodedSize need not walk it. Not with 'skim'.
   */
  sizes?: boolean;
}

/**
 * Sizing (SkeletonOptions.sizes): the bin encoding's bytes of everything built so far, by the
 * encoder's own rules (cbor.ts headSize, numberSize, stringSize, floatRunSize). A string the
 * scanner saw without an escape is valid UTF-8: its bytes in the file are its bytes in bin.
 */
let sizing = false;
let sized = 0;
/** Per key id, the key's size (keys in the key table are ASCII without escapes). */
const keySizes: number[] = [];

const SIDECAR_INFO = 'sidecar_info';

/** Build the skeleton of `bytes` from its tape; null when the reference must decide. */
export function buildSkeleton(tapeWords: Int32Array, bytes: Buffer, opts: SkeletonOptions = {}): JsonObject | null {
  tape = tapeWords;
  text = bytes as SliceDecoders;
  at = 0;
  const skim = opts.arrays === 'skim';
  try {
    if ((tape[0] & 0xff) !== TAPE.OBJ_START) throw GIVE_UP;
    at = 1;
    skimming = skim;
    sizing = opts.sizes === true && !skim;
    sized = 0;
    if (sizing) clearEncodedSizes();
    const data = readObject(true);
    consumedTape();
    return data;
  } catch (e) {
    // Keys the scan added may not all have their strings: the scanner forgets them.
    rollbackKeys();
    if (e === GIVE_UP) return null;
    throw e;
  } finally {
    tape = EMPTY_TAPE;
    text = EMPTY_TEXT;
    skimming = false;
    sizing = false;
  }
}
const EMPTY_TAPE = new Int32Array(0);
const EMPTY_TEXT = Buffer.alloc(0) as SliceDecoders;

/**
 * The value at entry `i` of a tape over `bytes`, built as the skeleton builds it (the stats
 * summarizer's image record: certify.ts). Its keys' ids are read from the module's key table: no
 * skeleton read the tape before `i`, so an id introduced there (KEY_NEW earlier in the file) has
 * no string in keyStrings, or still the string of a key a rollback freed it from.
 */
export function tapeValue(tapeWords: Int32Array, bytes: Buffer, i: number): JsonValue {
  const saved = [tape, text, at, skimming, sizing] as const;
  tape = tapeWords;
  text = bytes as SliceDecoders;
  at = i;
  skimming = false;
  sizing = false;
  keysOfTable = true;
  try {
    const w = tape[at];
    if ((w & 0xff) === TAPE.NUM) {
      at += 3;
      return numberAt(w, tape[i + 1], tape[i + 2]);
    }
    return readValue();
  } finally {
    [tape, text, at, skimming, sizing] = saved;
    keysOfTable = false;
  }
}

/** The string of the STR entry at `i` of a tape over `bytes` (the certifier's brief: certify.ts). */
export function tapeString(tapeWords: Int32Array, bytes: Buffer, i: number): string {
  const saved = text;
  text = bytes as SliceDecoders;
  try {
    return stringAt(tapeWords[i], tapeWords[i + 1], tapeWords[i + 2]);
  } finally {
    text = saved;
  }
}

function stringAt(word: number, start: number, end: number): string {
  if ((word & TAPE.F_ESCAPED) !== 0) return JSON.parse(text.utf8Slice(start - 1, end + 1)) as string;
  return (word & TAPE.F_NON_ASCII) !== 0 ? text.utf8Slice(start, end) : text.latin1Slice(start, end);
}

/** The tape entry after the key `keyAt` read last. */
let afterKey = 0;
/** tapeValue: a part of a tape no skeleton read up to it, whose key ids keyStrings may not know. */
let keysOfTable = false;

/**
 * The key at tape entry `i`, read one way for the skeleton and for the key-only walks: an
 * interned id from the key table, a new interned key read and entered into it (so later ids
 * have their string), any other key decoded as a string. undefined for an id without its string
 * (never: every id comes with its string first). Sets `afterKey`.
 */
function keyAt(i: number): string | undefined {
  const w = tape[i];
  const kind = w & 0xff;
  if (kind === TAPE.KEY_ID) {
    afterKey = i + 1;
    return keysOfTable ? keyStringOf(w >>> 8) : keyStrings[w >>> 8];
  }
  afterKey = i + 3;
  if (kind === TAPE.KEY_NEW) {
    const key = text.latin1Slice(tape[i + 1], tape[i + 2]);
    keyStrings[w >>> 8] = key;
    keySizes[w >>> 8] = headSize(key.length) + key.length;
    return key;
  }
  return stringAt(w, tape[i + 1], tape[i + 2]);
}

/** The note of the number numberAt read last (undefined: none). */
let numberNote: number | bigint | undefined;
const TWO_POW_53 = 9007199254740992;
/** 10^k for k ≤ 22: every one exactly a double. */
const EXACT_POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/** A NUM entry's double (F_VALUE: its two words are the double's low and high 32 bits). */
const valueWords = new Int32Array(2);
const valueOfWords = new Float64Array(valueWords.buffer);

/**
 * The number of the NUM entry whose words are `w`, `a`, `b`, with the reference's value and note
 * (numberNote): `parseNumberToken`'s answer. The scanner computes most numbers' doubles exactly
 * (F_VALUE, assembly/scanner.ts numberValue); JavaScript only adds the note of a float whose value
 * is integral. Other tokens carry their offsets [a, b) and are read by numberText.
 */
function numberAt(w: number, a: number, b: number): number {
  if ((w & TAPE.F_VALUE) === 0) return numberText(a, b);
  valueWords[0] = a;
  valueWords[1] = b;
  const v = valueOfWords[0];
  // A float whose value is integral ("25.0") keeps its type in a note; -0 is a float already.
  numberNote = (w & TAPE.F_FLOAT) !== 0 && Number.isInteger(v) && !Object.is(v, -0) ? v : undefined;
  return v;
}

/**
 * A number token's value and note from its bytes. Tokens without an exponent whose digits make
 * an integer below 2^53 are read from the bytes (no string): the integer is exact, and for a
 * fraction of k ≤ 22 digits one division by the exact 10^k rounds correctly (Clinger's fast path),
 * so it equals `Number(token)`. Anything else takes parseNumberToken.
 */
function numberText(start: number, end: number): number {
  const bytes = text;
  let i = start;
  const negative = bytes[i] === 0x2d;
  if (negative) i++;
  let m = 0;
  // Digits after the '.', or -1 without one.
  let fraction = -1;
  for (; i < end; i++) {
    const c = bytes[i];
    if (c === 0x2e) fraction = 0;
    else if ((c - 0x30) >>> 0 < 10) {
      m = m * 10 + (c - 0x30);
      if (fraction >= 0) fraction++;
    } else break; // an exponent
  }
  if (i === end && m < TWO_POW_53) {
    if (fraction < 0) {
      // An int ("-0" is the int 0, as Python reads it); below 2^53 it needs no note.
      numberNote = undefined;
      return negative && m !== 0 ? -m : m;
    }
    if (fraction <= 22) {
      const v = negative ? -(m / EXACT_POW10[fraction]) : m / EXACT_POW10[fraction];
      // A float whose value is integral ("25.0") keeps its type in a note; -0 is a float already.
      numberNote = Number.isInteger(v) && !Object.is(v, -0) ? v : undefined;
      return v;
    }
  }
  const r = parseNumberToken(text.latin1Slice(start, end));
  if ('error' in r) throw GIVE_UP; // the scanner defers such tokens; never certify one
  numberNote = r.note;
  return r.value;
}

/** numberText on a token alone (tests: it must equal parseNumberToken). */
export function skeletonNumber(token: string): { value: number; note?: number | bigint } {
  const saved = text;
  text = Buffer.from(token, 'latin1') as SliceDecoders;
  try {
    const value = numberText(0, token.length);
    return numberNote === undefined ? { value } : { value, note: numberNote };
  } finally {
    text = saved;
  }
}

/**
 * `top`: the document's own object (in probe mode its `sidecar_info` is built in full; when
 * sizing, its values' sizes are recorded).
 */
function readObject(top = false): JsonObject {
  const out: JsonObject = {};
  let count = 0;
  for (;;) {
    const w = tape[at];
    if (w === TAPE.OBJ_END) {
      at++;
      if (sizing) sized += headSize(count);
      return out;
    }
    const key = keyAt(at);
    if (key === undefined) throw GIVE_UP;
    count++;
    if (sizing) sized += (w & 0xff) === TAPE.KEY ? stringSize(key) : (keySizes[w >>> 8] ??= headSize(key.length) + key.length);
    at = afterKey;
    // The reference refuses duplicate keys (CORRUPT): let it say so.
    if (Object.hasOwn(out, key)) throw GIVE_UP;
    const vw = tape[at];
    let value: JsonValue;
    if (skimming && !(top && key === SIDECAR_INFO)) value = skimValue(vw);
    else if ((vw & 0xff) === TAPE.NUM) {
      value = numberAt(vw, tape[at + 1], tape[at + 2]);
      at += 3;
      const note = numberNote;
      if (note !== undefined) {
        if (typeof note === 'number') noteFloat(out, key, note);
        else noteInt(out, key, note);
      }
      if (sizing) sized += numberSize(value, note);
    } else if (skimming) {
      // The top-level sidecar_info in full: its image record (analysis/image-identity.ts).
      skimming = false;
      value = readValue();
      skimming = true;
    } else if (sizing && top) {
      const before = sized;
      value = readValue();
      if (typeof value === 'object' && value !== null) recordEncodedSize(value, sized - before);
    } else value = readValue();
    if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
}

function readArray(): JsonValue[] {
  const out: JsonValue[] = [];
  const before = sized;
  // Sizing: every element a float so far (the encoder writes such an array as one float run).
  let floats = true;
  for (;;) {
    const w = tape[at];
    if (w === TAPE.ARR_END) {
      at++;
      if (sizing) sized = floats ? before + floatRunSize(out.length) : sized + headSize(out.length);
      return out;
    }
    if ((w & 0xff) === TAPE.NUM) {
      const value = numberAt(w, tape[at + 1], tape[at + 2]);
      at += 3;
      const note = numberNote;
      if (note !== undefined) {
        if (typeof note === 'number') noteFloat(out, out.length, note);
        else noteInt(out, out.length, note);
      }
      if (sizing) {
        sized += numberSize(value, note);
        if (floats && !isFloatValue(value, note)) floats = false;
      }
      out.push(value);
    } else {
      floats = false;
      out.push(readValue());
    }
  }
}

/** Stand-ins per length and sign (see the top of this file); longer runs get a fresh one. */
const standIns = [new Map<number, readonly number[]>(), new Map<number, readonly number[]>()];
const CACHED_RUN_MAX = 4096;
function readFloats(word: number): readonly number[] {
  const count = tape[at + 1];
  at += 2;
  if (sizing) sized += floatRunSize(count);
  const negative = (word & TAPE.F_NEGATIVE) !== 0 ? 1 : 0;
  let run = count <= CACHED_RUN_MAX ? standIns[negative].get(count) : undefined;
  if (run === undefined) {
    // Packed doubles, not frozen: V8 keeps a frozen or holey array's elements in a slower form,
    // and the rules read every element of every embedding. Shared, so read-only by contract: the
    // skeleton never leaves the inspect task, and the summary and the rules only read.
    const a: number[] = [];
    for (let k = 0; k < count; k++) a.push(k === 0 && negative ? -0.5 : 0.5);
    run = a;
    // Every element a float: its bin size is known without looking (cbor.ts binEncodedSize).
    markFloatBlock(a);
    if (count <= CACHED_RUN_MAX) standIns[negative].set(count, run);
  }
  return run;
}

function readValue(): JsonValue {
  const w = tape[at];
  switch (w & 0xff) {
    case TAPE.OBJ_START:
      at++;
      return readObject();
    case TAPE.ARR_START:
      at++;
      return readArray();
    case TAPE.STR: {
      const start = tape[at + 1];
      const end = tape[at + 2];
      const s = stringAt(w, start, end);
      at += 3;
      if (sizing) sized += (w & TAPE.F_ESCAPED) !== 0 ? stringSize(s) : headSize(end - start) + end - start;
      return s;
    }
    case TAPE.NUM: {
      // Only reached for a number at the top of a container slot handled above; kept for safety.
      const value = numberAt(w, tape[at + 1], tape[at + 2]);
      at += 3;
      if (numberNote !== undefined) throw GIVE_UP;
      if (sizing) sized += numberSize(value, undefined);
      return value;
    }
    case TAPE.TRUE:
      at++;
      if (sizing) sized += 1;
      return true;
    case TAPE.FALSE:
      at++;
      if (sizing) sized += 1;
      return false;
    case TAPE.NULL:
      at++;
      if (sizing) sized += 1;
      return null;
    case TAPE.FLOATS:
      return readFloats(w) as JsonValue[];
    default:
      throw GIVE_UP;
  }
}

/**
 * A value of the probe skeleton outside the top-level sidecar_info: objects, keys and literals
 * as built (the probe reads which keys exist, what is an object or an array, and `success`
 * flags); an array is skipped (empty), a number is 0 and a string '' — the probe never reads one
 * there (analysis/summary.ts probeSidecar), and the scanner has already vouched for their bytes.
 */
function skimValue(w: number): JsonValue {
  switch (w & 0xff) {
    case TAPE.ARR_START:
      at++;
      skipArray();
      return [];
    case TAPE.FLOATS:
      at += 2;
      return [];
    case TAPE.NUM:
      at += 3;
      return 0;
    case TAPE.STR:
      at += 3;
      return '';
    default:
      return readValue();
  }
}

/** Objects with more keys than this check duplicates with a Set instead of a scan of the list. */
const KEY_LIST_MAX = 16;

/**
 * The one duplicate-key walk over tape entries that builds nothing (keysAsWritten, and the arrays the
 * probe skeleton skips): from entry `i` inside the containers `open` (per open container, its
 * keys so far: a list or a Set for an object, null for an array) to the end of the outermost of
 * them. Interned keys come from the key table, other keys are decoded as the skeleton decodes
 * them (`\u0061` and `a` are one key); the key table is kept in step with the scanner, as
 * buildSkeleton keeps it. Returns the entry after the end, or -1 at a duplicate key (the
 * reference refuses it as CORRUPT), at an array-index key when `refuseIndexKeys` (keysAsWritten),
 * or at an entry that cannot be there.
 */
function skipCheckingKeys(i: number, open: (string[] | Set<string> | null)[], refuseIndexKeys = false): number {
  const n = tape.length;
  do {
    if (i >= n) return -1;
    const w = tape[i];
    const kind = w & 0xff;
    switch (kind) {
      case TAPE.OBJ_START:
        open.push([]);
        i++;
        break;
      case TAPE.ARR_START:
        open.push(null);
        i++;
        break;
      case TAPE.OBJ_END:
      case TAPE.ARR_END:
        open.pop();
        i++;
        break;
      case TAPE.KEY_ID:
      case TAPE.KEY_NEW:
      case TAPE.KEY: {
        const key = keyAt(i);
        if (key === undefined) return -1;
        i = afterKey;
        if (refuseIndexKeys && isIndexKey(key)) return -1;
        const keys = open[open.length - 1];
        if (Array.isArray(keys)) {
          if (keys.includes(key)) return -1;
          keys.push(key);
          if (keys.length > KEY_LIST_MAX) open[open.length - 1] = new Set(keys);
        } else if (keys instanceof Set) {
          if (keys.has(key)) return -1;
          keys.add(key);
        } else return -1; // never: a key outside an object
        break;
      }
      case TAPE.STR:
      case TAPE.NUM:
        i += 3;
        break;
      case TAPE.TRUE:
      case TAPE.FALSE:
      case TAPE.NULL:
        i++;
        break;
      case TAPE.FLOATS:
        i += 2;
        break;
      default:
        return -1;
    }
  } while (open.length > 0);
  return i;
}

/** Probe mode: walk an array's entries (at: after its ARR_START) to its end, checking object keys only. */
function skipArray(): void {
  const end = skipCheckingKeys(at, [null]);
  if (end < 0) throw GIVE_UP;
  at = end;
}

/**
 * Whether the objects the reference builds from the tape's JSON text hold their keys exactly as
 * written: an object at the root, no object with the same key twice (the reference refuses a
 * duplicate as CORRUPT; `\u0061` and `a` are one key), and no array-index key (a JavaScript
 * object moves those to the front, so the reference's order would differ from the text's).
 * Nothing else is built: no number is converted (the scanner has vouched for every number token).
 */
export function keysAsWritten(tapeWords: Int32Array, bytes: Buffer): boolean {
  tape = tapeWords;
  text = bytes as SliceDecoders;
  let unique = true;
  try {
    if ((tape[0] & 0xff) !== TAPE.OBJ_START) return (unique = false);
    // The root object closes at the tape's end (the scanner allows nothing after it).
    return (unique = skipCheckingKeys(0, [], true) === tape.length);
  } catch (e) {
    unique = false;
    throw e;
  } finally {
    // A walk that stopped early left new keys without their strings: the scanner forgets them.
    if (unique) consumedTape();
    else rollbackKeys();
    tape = EMPTY_TAPE;
    text = EMPTY_TEXT;
  }
}
