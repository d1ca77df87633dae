/**
 * Skim decoding: the cheap read for questions about a sidecar's *structure* (which operations,
 * did they succeed, what does sidecar_info say), e.g. `todo` over 10^6 files.
 *
 * JSON text is checked completely (the same acceptance as `decodeSidecar`: strict UTF-8, the
 * JSON grammar, nothing after the value, the depth limit) but only objects are built: every
 * array outside the top-level `sidecar_info` is validated and replaced by an empty array. Arrays
 * hold ~95 % of a sidecar's bytes (embeddings, landmarks, faces, objects), so no number is
 * converted and almost nothing is allocated. Operations and `success` flags live in objects and
 * come out intact; `sidecar_info` comes out whole (its `image` record lists operations).
 *
 * Anything unusual — a BOM, a syntax error, too deep, not JSON — is handed to the full decoder,
 * so errors and notes are exactly the full decoder's, and a disagreement can only ever fall back
 * to the full result. Binary formats are decoded in full (their decoder is already cheap).
 */
import { isUtf8 } from 'node:buffer';
import type { JsonObject, JsonValue } from '../types.js';
import { decodeSidecar, type DecodedSidecar, type DecodeOptions } from './codec.js';
import { detectFormat } from './detect.js';
import { DEFAULT_MAX_DEPTH } from './value.js';

/** Thrown (one shared instance, no stack) when the fast path gives up. */
const GIVE_UP = Object.freeze({ giveUp: true });

let b: Buffer = Buffer.alloc(0);
let n = 0;
let i = 0;
let limit = DEFAULT_MAX_DEPTH;

function ws(): void {
  let c = b[i];
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++i];
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * JSON number grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?, then the risky-token rule (see
 * RISKY_NUMBER), counted while scanning: no string, no regular expression per number.
 */
function skipNumber(): void {
  if (b[i] === 0x2d) i++;
  let c = b[i];
  if (c === 0x30) c = b[++i];
  else if (c >= 0x31 && c <= 0x39) {
    const start = i;
    do c = b[++i];
    while (c >= 0x30 && c <= 0x39);
    if (i - start >= RISKY_INT_DIGITS) throw GIVE_UP;
  } else throw GIVE_UP;
  if (c === 0x2e) {
    if (!isDigit(b[++i])) throw GIVE_UP;
    do c = b[++i];
    while (c >= 0x30 && c <= 0x39);
  }
  if (c === 0x65 || c === 0x45) {
    c = b[++i];
    if (c === 0x2b || c === 0x2d) c = b[++i];
    if (!isDigit(c)) throw GIVE_UP;
    const start = i;
    do c = b[++i];
    while (c >= 0x30 && c <= 0x39);
    if (i - start >= RISKY_EXP_DIGITS) throw GIVE_UP;
  }
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** Skips a string at b[i] === '"'; returns true when it held an escape. */
function skipString(): boolean {
  let escaped = false;
  i++;
  for (;;) {
    const c = b[i];
    if (c === 0x22) {
      i++;
      return escaped;
    }
    if (c === 0x5c) {
      escaped = true;
      const e = b[i + 1];
      if (e === 0x75) {
        if (!isHex(b[i + 2]) || !isHex(b[i + 3]) || !isHex(b[i + 4]) || !isHex(b[i + 5])) throw GIVE_UP;
        i += 6;
      } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        i += 2;
      } else throw GIVE_UP;
    } else if (c < 0x20 || c === undefined) {
      throw GIVE_UP; // control character, or the end of the text
    } else i++;
  }
}

function parseString(): string {
  const start = i;
  const escaped = skipString();
  // Escapes are rare in keys and short values: let JSON.parse apply the exact rules then.
  return escaped ? (JSON.parse(b.toString('utf8', start, i)) as string) : b.toString('utf8', start + 1, i - 1);
}

function literal(word: readonly number[]): void {
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word[k]) throw GIVE_UP;
  i += word.length;
}
const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

/** Validate any value; `depth` is the depth a container here would have. */
function skipValue(depth: number): void {
  ws();
  const c = b[i];
  if (c === 0x22) skipString();
  else if (c === 0x7b || c === 0x5b) skipContainer(depth);
  else if (c === 0x2d || isDigit(c)) skipNumber();
  else if (c === 0x74) literal(TRUE);
  else if (c === 0x66) literal(FALSE);
  else if (c === 0x6e) literal(NULL);
  else throw GIVE_UP;
}

// A DFA for the common array: numbers only (`[0.12, -3e-5, ...]`), the grammar of JSON numbers
// exactly. One table load per byte; anything else (a nested container, a string) fails at that
// byte and the general loop takes the array from its start.
const enum Dfa {
  Fail = 0,
  Accept = 1,
  Begin, // after '[': whitespace, a number or ']'
  Element, // after ',': whitespace or a number
  Minus,
  Zero,
  Int,
  Dot,
  Frac,
  Exp,
  ExpSign,
  ExpDigits,
  AfterNumber,
  Count,
}
const DFA = buildDfa();

function buildDfa(): Uint8Array {
  const t = new Uint8Array(Dfa.Count * 256); // 0 = Fail
  const set = (from: Dfa, chars: string, to: Dfa) => {
    for (const ch of chars) t[from * 256 + ch.charCodeAt(0)] = to;
  };
  const WS = ' \t\n\r';
  const D19 = '123456789';
  const D09 = '0123456789';
  const numberStart = (from: Dfa) => {
    set(from, '-', Dfa.Minus);
    set(from, '0', Dfa.Zero);
    set(from, D19, Dfa.Int);
  };
  const numberEnd = (from: Dfa) => {
    set(from, WS, Dfa.AfterNumber);
    set(from, ',', Dfa.Element);
    set(from, ']', Dfa.Accept);
  };
  set(Dfa.Begin, WS, Dfa.Begin);
  set(Dfa.Begin, ']', Dfa.Accept);
  numberStart(Dfa.Begin);
  set(Dfa.Element, WS, Dfa.Element);
  numberStart(Dfa.Element);
  set(Dfa.Minus, '0', Dfa.Zero);
  set(Dfa.Minus, D19, Dfa.Int);
  for (const st of [Dfa.Zero, Dfa.Int]) {
    set(st, '.', Dfa.Dot);
    set(st, 'eE', Dfa.Exp);
    numberEnd(st);
  }
  set(Dfa.Int, D09, Dfa.Int);
  set(Dfa.Dot, D09, Dfa.Frac);
  set(Dfa.Frac, D09, Dfa.Frac);
  set(Dfa.Frac, 'eE', Dfa.Exp);
  numberEnd(Dfa.Frac);
  set(Dfa.Exp, '+-', Dfa.ExpSign);
  set(Dfa.Exp, D09, Dfa.ExpDigits);
  set(Dfa.ExpSign, D09, Dfa.ExpDigits);
  set(Dfa.ExpDigits, D09, Dfa.ExpDigits);
  numberEnd(Dfa.ExpDigits);
  set(Dfa.AfterNumber, WS, Dfa.AfterNumber);
  set(Dfa.AfterNumber, ',', Dfa.Element);
  set(Dfa.AfterNumber, ']', Dfa.Accept);
  return t;
}

// The same language as the DFA, as one regular expression: V8 compiles it to native code, about
// twice the DFA's speed. Used on arrays up to REGEX_MAX bytes (the regexp's backtrack stack grows
// with the element count); the DFA takes longer ones. A parity test holds the two together.
// Only numbers that are not risky (RISKY_NUMBER): at most 15 integer digits, at most 2 exponent
// digits. An array with a risky token fails here and the general loop gives up on that token, so
// the file goes to the full decoder as before, without a second regular expression over every array.
const NUM = '-?(?:0|[1-9][0-9]{0,14})(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]{1,2})?';
const NUMBER_LIST = new RegExp(`^[\\t\\n\\r ]*(?:${NUM}[\\t\\n\\r ]*(?:,[\\t\\n\\r ]*${NUM}[\\t\\n\\r ]*)*)?$`);
const REGEX_MAX = 1 << 20;
/**
 * Number tokens the full decoder may refuse or must treat specially: an integer part of 16+
 * digits (big ints, and any float beyond the double range without an exponent) or a 3-digit
 * exponent. Any of them sends the file to the full decoder, so its number model decides.
 */
const RISKY_NUMBER = /(?:^|[^.0-9])[0-9]{16}|[eE][+-]?[0-9]{3}/;
/** RISKY_NUMBER as digit counts, for the scanners that see one token at a time. */
const RISKY_INT_DIGITS = 16;
const RISKY_EXP_DIGITS = 3;

/** Skip a numbers-only array at b[i] === '['; false (i unchanged) when it is not one. */
function skipNumberArray(): boolean {
  if (useRegex) {
    const end = b.indexOf(0x5d, i + 1);
    if (end < 0) return false;
    if (end - i <= REGEX_MAX) {
      // NUMBER_LIST admits no risky token: one pass of one regular expression.
      if (!NUMBER_LIST.test(b.toString('latin1', i + 1, end))) return false;
      i = end + 1;
      return true;
    }
  }
  return skipNumberArrayDfa();
}

/** Kill switch / parity tests: the DFA alone. */
let useRegex = true;
export function setSkimRegex(on: boolean): void {
  useRegex = on;
}

function skipNumberArrayDfa(): boolean {
  const buf = b; // locals: the loop below runs for most bytes of a file
  const table = DFA;
  let j = i + 1;
  let st: number = Dfa.Begin;
  // Past the end buf[j] is undefined → index st*256 → Fail.
  while (st > Dfa.Accept) st = table[(st << 8) | buf[j++]];
  if (st === Dfa.Fail) return false;
  if (RISKY_NUMBER.test(buf.toString('latin1', i + 1, j))) throw GIVE_UP;
  i = j;
  return true;
}

function skipContainer(depth: number): void {
  if (depth > limit) throw GIVE_UP;
  const isObject = b[i] === 0x7b;
  if (!isObject && skipNumberArray()) return;
  const close = isObject ? 0x7d : 0x5d;
  i++;
  ws();
  if (b[i] === close) {
    i++;
    return;
  }
  const keys: Set<string> | null = isObject ? new Set() : null;
  for (;;) {
    if (isObject) {
      ws();
      if (b[i] !== 0x22) throw GIVE_UP;
      const key = parseString();
      if (keys!.has(key)) throw GIVE_UP; // a duplicate: the full decoder refuses it
      keys!.add(key);
      ws();
      if (b[i] !== 0x3a) throw GIVE_UP;
      i++;
    }
    skipValue(depth + 1);
    ws();
    const c = b[i];
    if (c === 0x2c) i++;
    else if (c === close) {
      i++;
      return;
    } else throw GIVE_UP;
  }
}

/**
 * Build a value; arrays are validated and come out empty, except where `keepArrays` (inside the
 * top-level `sidecar_info`: its `image` record lists operations, see analysis/image-identity.ts).
 */
function parseValue(depth: number, keepArrays = false): JsonValue {
  ws();
  const c = b[i];
  if (c === 0x7b) return parseObject(depth, keepArrays);
  if (c === 0x5b) {
    if (keepArrays) return parseArray(depth);
    skipContainer(depth);
    return [];
  }
  if (c === 0x22) return parseString();
  if (c === 0x2d || isDigit(c)) {
    const start = i;
    skipNumber();
    const v = Number(b.toString('latin1', start, i));
    return v === 0 ? (/[.eE]/.test(b.toString('latin1', start, i)) ? v : 0) : v; // "-0" is the int 0, as in the full decoder
  }
  if (c === 0x74) {
    literal(TRUE);
    return true;
  }
  if (c === 0x66) {
    literal(FALSE);
    return false;
  }
  if (c === 0x6e) {
    literal(NULL);
    return null;
  }
  throw GIVE_UP;
}

/** An array built in full (inside sidecar_info only; elements as parseValue builds them). */
function parseArray(depth: number): JsonValue[] {
  if (depth > limit) throw GIVE_UP;
  const out: JsonValue[] = [];
  i++;
  ws();
  if (b[i] === 0x5d) {
    i++;
    return out;
  }
  for (;;) {
    out.push(parseValue(depth + 1, true));
    ws();
    const c = b[i];
    if (c === 0x2c) i++;
    else if (c === 0x5d) {
      i++;
      return out;
    } else throw GIVE_UP;
  }
}

/** `keepArrays`: inside the top-level sidecar_info; `top`: the document's own object. */
function parseObject(depth: number, keepArrays = false, top = false): JsonObject {
  if (depth > limit) throw GIVE_UP;
  const out: JsonObject = {};
  i++;
  ws();
  if (b[i] === 0x7d) {
    i++;
    return out;
  }
  for (;;) {
    ws();
    if (b[i] !== 0x22) throw GIVE_UP;
    const key = parseString();
    ws();
    if (b[i] !== 0x3a) throw GIVE_UP;
    i++;
    const value = parseValue(depth + 1, keepArrays || (top && key === 'sidecar_info'));
    // The full decoder refuses duplicate keys: let it say so. `__proto__` is an ordinary own key.
    if (Object.hasOwn(out, key)) throw GIVE_UP;
    if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
    ws();
    const c = b[i];
    if (c === 0x2c) i++;
    else if (c === 0x7d) {
      i++;
      return out;
    } else throw GIVE_UP;
  }
}

/** The fast path: null when the full decoder must decide. */
function skimJsonText(bytes: Buffer, maxDepth: number): JsonObject | null {
  // A BOM is handled (and noted) by the full decoder; invalid UTF-8 is its error to report.
  if (bytes.length === 0 || bytes[0] === 0xef || !isUtf8(bytes)) return null;
  b = bytes;
  n = bytes.length;
  i = 0;
  limit = maxDepth;
  try {
    ws();
    if (b[i] !== 0x7b) return null;
    const data = parseObject(1, false, true);
    ws();
    return i === n ? data : null;
  } catch (e) {
    if (e === GIVE_UP) return null;
    throw e;
  } finally {
    b = EMPTY; // do not keep the file alive
  }
}
const EMPTY = Buffer.alloc(0);

/** Which path produced a skim result (for parity tests and the bench). */
export type SkimPath = 'skim' | 'full';

/**
 * Decode for structure only: JSON sidecars with every array outside sidecar_info emptied (see the top of this file),
 * other formats in full. Accepts and rejects exactly what `decodeSidecar` does, with its errors.
 */
export function skimSidecar(bytes: Uint8Array, opts: DecodeOptions = {}): DecodedSidecar & { path: SkimPath } {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if ((opts.maxFileSize === undefined || buf.length <= opts.maxFileSize) && detectFormat(buf) === 'json') {
    const data = skimJsonText(buf, opts.maxDepth ?? DEFAULT_MAX_DEPTH);
    if (data !== null) return { data, format: 'json', notes: [], path: 'skim' };
  }
  return { ...decodeSidecar(buf, opts), path: 'full' };
}
