/**
 * JSON sidecars, with the number model of numbers.ts (an int stays an int of any size, a float
 * stays a float, `25.0` included) and duplicate keys refused.
 *
 * Decode: strict UTF-8, a leading BOM is removed and noted. Fast path: one native regex pass finds
 * the number tokens JSON.parse would get wrong (whole-valued floats, ints of 14+ digits, `-0`,
 * exponents that overflow); those few are replaced in the text by marker strings, JSON.parse does
 * the rest, and one walk over the result puts the numbers back (with their notes), checks the
 * depth and counts the keys against the key tokens in the text (fewer keys = a duplicate).
 * Anything unusual (a syntax error, a possible duplicate, a marker that could collide) goes to the
 * pure path: an iterative parser that builds the same values and says exactly what is wrong and
 * where. `setJsonFastPath(false)` turns the fast path off; `jsonDecodeCounts` says which ran.
 *
 * Encode: JSON.stringify (2-space indent like the pipeline, or compact for the legacy layout)
 * when no number needs more than it writes; otherwise a writer that keeps every number's type
 * (`25.0`, `-0.0`, exact big ints) and writes everything else exactly as JSON.stringify does.
 */
import { isIndexKey, keyOrderOf, noteKeyOrder, orderedKeys } from './key-order.js';
import { errors } from '../errors.js';
import type { JsonObject, JsonValue } from '../types.js';
import { noteFloat, noteInt, notesOf, numberJson, needsTypedText, parseNumberToken, validNote, type NumberNote, type NumberNotes } from './numbers.js';
import { checkDepth, describeJsonType, findInvalidUtf8, findPointer } from './value.js';

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface JsonDecodeOptions {
  maxDepth: number;
  path?: string;
  /** Where the JSON text starts in `bytes` (8 for the legacy layout). Offsets in messages are into `bytes`. */
  start?: number;
  /** Whether a UTF-8 BOM may precede the text. */
  allowBom?: boolean;
}

/** The note a decoded JSON text with a leading BOM carries. */
export const BOM_NOTE = 'UTF-8 BOM removed';

export function hasBomAt(bytes: Uint8Array, i: number): boolean {
  return bytes.length >= i + 3 && bytes[i] === 0xef && bytes[i + 1] === 0xbb && bytes[i + 2] === 0xbf;
}

/** Kill switch for the fast path (parity tests: numbers-model.test.ts). */
let fastPathEnabled = true;
export function setJsonFastPath(enabled: boolean): void {
  fastPathEnabled = enabled;
}
/** How many texts each path decoded (in this thread), so tests and benchmarks can tell which ran. */
export const jsonDecodeCounts = { fast: 0, pure: 0 };

/** Decode JSON text that must hold an object. */
export function decodeJsonObject(bytes: Uint8Array, opts: JsonDecodeOptions): { data: JsonObject; notes: string[] } {
  const notes: string[] = [];
  let start = opts.start ?? 0;
  if (start >= bytes.length) throw errors.corrupt('empty file', opts.path);
  if ((opts.allowBom ?? true) && hasBomAt(bytes, start)) {
    start += 3;
    notes.push(BOM_NOTE);
  }
  let text: string;
  try {
    text = utf8Decoder.decode(bytes.subarray(start));
  } catch {
    const bad = findInvalidUtf8(bytes, start);
    throw errors.corrupt(`invalid UTF-8 at byte ${bad < 0 ? start : bad}`, opts.path);
  }
  return { data: parseJsonObjectText(text, { maxDepth: opts.maxDepth, path: opts.path, byteOffset: start }), notes };
}

export interface JsonTextOptions {
  maxDepth: number;
  path?: string;
  /** Byte offset of the text in its file (for messages). */
  byteOffset?: number;
}

/** Parse JSON text with the number model; the top-level value must be an object. */
export function parseJsonObjectText(text: string, opts: JsonTextOptions): JsonObject {
  const value = parseJsonText(text, opts);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw errors.notAnObject(describeJsonType(value), opts.path);
  }
  return value;
}

/**
 * Parse any JSON text with the number model (ints and floats kept apart, big ints exact), duplicate
 * keys refused (CORRUPT), nesting limited (TOO_DEEP). The stdio server and `write --data` use it.
 */
export function parseJsonText(text: string, opts: JsonTextOptions): JsonValue {
  if (fastPathEnabled) {
    const fast = tryFastParse(text, opts.maxDepth, opts.path);
    if (fast !== undefined) {
      jsonDecodeCounts.fast++;
      return fast.value;
    }
  }
  jsonDecodeCounts.pure++;
  const r = parseJsonPure(text, opts.maxDepth, false);
  if ('value' in r) return r.value;
  throw failureError(text, r, opts.byteOffset ?? 0, opts.maxDepth, opts.path);
}

function failureError(text: string, f: ParseFailure, byteOffset: number, maxDepth: number, path?: string) {
  if (f.kind === 'depth') return errors.tooDeep(maxDepth, path);
  const { line, column } = lineColumn(text, f.index);
  const byte = byteOffset + Buffer.byteLength(text.slice(0, f.index), 'utf8');
  const where = `line ${line}, column ${column} (byte ${byte})`;
  if (f.kind === 'syntax') return errors.corrupt(`invalid JSON at ${where}: ${f.reason}`, path);
  return errors.corrupt(`${f.reason} at ${where}`, path);
}

// ---------------------------------------------------------------------------------------------
// Fast path
// ---------------------------------------------------------------------------------------------

/**
 * Number tokens JSON.parse alone would get wrong are found in two steps (false positives are
 * checked one by one and cost only time). Every text: one native regex pass for fractions
 *   `\.0(?!\d)`, `\.00(?!\d)`   of zeros: 25.0 (how Python writes every whole float below 1e16)
 *   `\.000`, `\.999`            a double may round away (int part < 14 digits)
 * and native substring searches for exponents (`e+`, `e-`, `E`, `e0`..`e9`): they may be whole
 * (1e+16, 1E2) or overflow (1e400). Only when the parsed values hold an integral number >= 1e13
 * in magnitude, a -0 or a non-finite number (rare in sidecars) does a second pass add
 *   `(?<![\d.])\d{14}`         int parts / ints of 14+ digits: beyond 2^53, or a fraction rounded away
 *   `-0(?![.\deE])`            the int `-0` (JSON.parse gives -0, Python the int 0)
 * Python writes fractions of |x| < 1e-4 with an exponent, so an embedding has only a few matches.
 */
const FRACTION_CANDIDATES = /\.(?:00?(?!\d)|000|999)/g;
const EXPONENT_NEEDLES = ['e+', 'e-', 'E', 'e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9'];
const RARE_CANDIDATES = /(?<![\d.])\d{14}|-0(?![.\deE])/g;

/** Offsets (unsorted) at or inside possible number tokens that need a closer look. */
function candidateOffsets(text: string, rare: boolean): number[] {
  const at: number[] = [];
  const re = FRACTION_CANDIDATES;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) at.push(m.index);
  for (const needle of EXPONENT_NEEDLES) {
    for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + 1)) at.push(i);
  }
  if (rare) {
    const r = RARE_CANDIDATES;
    r.lastIndex = 0;
    for (let m = r.exec(text); m !== null; m = r.exec(text)) at.push(m.index);
  }
  return at;
}

/** Characters a JSON number token is made of. */
function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d || c === 0x2b || c === 0x65 || c === 0x45;
}

const NUMBER_TOKEN = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

interface Rewrite {
  start: number;
  end: number;
  value: number;
  note: NumberNote | undefined;
}

/**
 * The number token around `at`, if it stands where a value can (after `:`, `[` or `,`, before
 * `,`, `]` or `}`); undefined for digits inside strings and other non-tokens.
 */
function tokenAround(t: string, at: number): { start: number; end: number } | undefined {
  let start = at;
  while (start > 0 && isNumberChar(t.charCodeAt(start - 1))) start--;
  let end = at;
  while (end < t.length && isNumberChar(t.charCodeAt(end))) end++;
  let b = start - 1;
  while (b >= 0 && isWs(t.charCodeAt(b))) b--;
  const before = t.charCodeAt(b);
  if (before !== 0x3a && before !== 0x5b && before !== 0x2c) return undefined;
  let a = end;
  while (a < t.length && isWs(t.charCodeAt(a))) a++;
  const after = t.charCodeAt(a);
  if (after !== 0x2c && after !== 0x5d && after !== 0x7d) return undefined;
  return { start, end };
}

/**
 * The fast path; undefined when the pure parser must decide (invalid or unusual text). Throws
 * only TOO_DEEP (a valid text nested too deep; the pure parser would say the same).
 */
function tryFastParse(text: string, maxDepth: number, path?: string): { value: JsonValue } | undefined {
  let r = parseWithRewrites(text, false, maxDepth, path);
  if (r === undefined) return undefined;
  if (r.suspicious) {
    // A big integral value, -0 or a non-finite number: look at every token that could be one.
    r = parseWithRewrites(text, true, maxDepth, path);
    if (r === undefined || r.nonFinite) return undefined;
  }
  const tokens = keyTokens(text);
  if (r.keys !== tokens.n) return undefined; // a duplicate key, or a string that looks like one
  // An index-like key ("32", or spelled with escapes: "\u0033\u0032"): JSON.parse's object
  // enumerates it first; the pure parser notes the order read (key-order.ts).
  if (tokens.digitKey || text.includes('\\u003')) return undefined;
  return { value: r.value };
}

function findRewrites(text: string, rare: boolean): Rewrite[] | undefined | null {
  const offsets = candidateOffsets(text, rare);
  if (offsets.length === 0) return undefined;
  offsets.sort((x, y) => x - y);
  let rewrites: Rewrite[] | undefined;
  let doneUpTo = -1;
  for (const offset of offsets) {
    if (offset < doneUpTo) continue; // inside a token already looked at
    const tok = tokenAround(text, offset);
    if (tok === undefined) continue;
    doneUpTo = tok.end;
    const token = text.slice(tok.start, tok.end);
    if (!NUMBER_TOKEN.test(token)) return null; // not valid JSON: the pure parser says why
    const r = parseNumberToken(token);
    if ('error' in r) return null;
    if (r.note === undefined && Object.is(r.value, Number(token))) continue; // JSON.parse gets it right
    (rewrites ??= []).push({ start: tok.start, end: tok.end, value: r.value, note: r.note });
  }
  return rewrites;
}

/** JSON.parse with the candidate tokens replaced by markers, then put back by walkParsed. */
function parseWithRewrites(text: string, rare: boolean, maxDepth: number, path?: string): Walked | undefined {
  const rewrites = findRewrites(text, rare);
  if (rewrites === null) return undefined;
  let source = text;
  if (rewrites !== undefined) {
    // Markers are strings starting with U+0000, which a JSON text can only spell `\u0000`.
    if (text.includes('\\u0000')) return undefined;
    const parts: string[] = [];
    let prev = 0;
    for (let i = 0; i < rewrites.length; i++) {
      parts.push(text.slice(prev, rewrites[i].start), `"\\u0000${i}"`);
      prev = rewrites[i].end;
    }
    parts.push(text.slice(prev));
    source = parts.join('');
  }
  let value: JsonValue;
  try {
    value = JSON.parse(source) as JsonValue;
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined; // the caller reports the type
  return walkParsed(value, maxDepth, rewrites, path);
}

interface Walked {
  value: JsonValue[] | JsonObject;
  /** Keys in every object. */
  keys: number;
  /** A number JSON.parse may have got wrong without a candidate: integral with |x| >= 1e13, -0, non-finite. */
  suspicious: boolean;
  nonFinite: boolean;
}

/** Integral and large, -0, or non-finite (tested only on integral values and NaN / ±Infinity). */
function isSuspicious(x: number): boolean {
  if (x === 0) return 1 / x < 0;
  return x >= 1e13 || x <= -1e13 || x !== x;
}

/**
 * One pass over JSON.parse's result: puts the rewritten numbers back (with notes), checks the
 * depth, counts the keys and flags numbers the candidates may have missed; undefined when a
 * marker is not where one was put.
 */
function walkParsed(root: JsonValue[] | JsonObject, maxDepth: number, rewrites: Rewrite[] | undefined, path?: string): Walked | undefined {
  let keys = 0;
  let placed = 0;
  let suspicious = false;
  let nonFinite = false;
  const values: (JsonValue[] | JsonObject)[] = [root];
  const depths: number[] = [1];
  if (maxDepth < 1) throw errors.tooDeep(maxDepth, path);
  while (values.length > 0) {
    const c = values.pop() as JsonValue[] | JsonObject;
    const childDepth = (depths.pop() as number) + 1;
    if (Array.isArray(c)) {
      for (let i = 0; i < c.length; i++) {
        const x = c[i];
        if (typeof x === 'number') {
          if ((Number.isInteger(x) || x - x !== 0) && isSuspicious(x)) {
            suspicious = true;
            if (x - x !== 0) nonFinite = true;
          }
        } else if (typeof x === 'object') {
          if (x === null) continue;
          if (childDepth > maxDepth) throw errors.tooDeep(maxDepth, path);
          values.push(x);
          depths.push(childDepth);
        } else if (rewrites !== undefined && typeof x === 'string' && x.charCodeAt(0) === 0) {
          const r = rewrites[+x.slice(1)];
          if (r === undefined) return undefined;
          c[i] = r.value;
          if (r.note !== undefined) setNote(c, i, r.note);
          placed++;
        }
      }
    } else {
      const ks = Object.keys(c);
      keys += ks.length;
      for (let j = 0; j < ks.length; j++) {
        const k = ks[j];
        const x = c[k];
        if (typeof x === 'number') {
          if ((Number.isInteger(x) || x - x !== 0) && isSuspicious(x)) {
            suspicious = true;
            if (x - x !== 0) nonFinite = true;
          }
        } else if (typeof x === 'object') {
          if (x === null) continue;
          if (childDepth > maxDepth) throw errors.tooDeep(maxDepth, path);
          values.push(x);
          depths.push(childDepth);
        } else if (rewrites !== undefined && typeof x === 'string' && x.charCodeAt(0) === 0) {
          const r = rewrites[+x.slice(1)];
          if (r === undefined) return undefined;
          if (k === '__proto__') Object.defineProperty(c, k, { value: r.value, writable: true, enumerable: true, configurable: true });
          else c[k] = r.value;
          if (r.note !== undefined) setNote(c, k, r.note);
          placed++;
        }
      }
    }
  }
  if (rewrites !== undefined && placed !== rewrites.length) return undefined;
  return { value: root, keys, suspicious, nonFinite };
}

function setNote(c: object, key: string | number, note: NumberNote): void {
  if (typeof note === 'number') noteFloat(c, key, note);
  else noteInt(c, key, note);
}

/**
 * Key tokens in the text, counted as colons right after a quote: at least the real number of
 * keys (a string value holding `":` adds to it) as long as no key has whitespace before its
 * colon; -1 when one might (a colon after whitespace: then only the pure parser can tell).
 * `digitKey`: some key token is digits only (it may be index-like). One native search per colon:
 * colons are few (one per key, a few in timestamps).
 */
function keyTokens(t: string): { n: number; digitKey: boolean } {
  let n = 0;
  let digitKey = false;
  for (let i = t.indexOf(':'); i !== -1; i = t.indexOf(':', i + 1)) {
    const c = t.charCodeAt(i - 1);
    if (c === 0x22) {
      n++;
      if (!digitKey && isDigit(t.charCodeAt(i - 2))) digitKey = digitsQuoted(t, i - 2);
    } else if (isWs(c)) return { n: -1, digitKey };
  }
  return { n, digitKey };
}

/** Is the run of digits ending at `end` opened by a quote (a key of digits only)? */
function digitsQuoted(t: string, end: number): boolean {
  let j = end;
  while (j > 0 && isDigit(t.charCodeAt(j))) j--;
  return t.charCodeAt(j) === 0x22;
}

// ---------------------------------------------------------------------------------------------
// Pure path: an iterative parser with exact positions
// ---------------------------------------------------------------------------------------------

export interface ParseFailure {
  index: number;
  reason: string;
  kind: 'syntax' | 'number' | 'duplicate' | 'depth';
}

/** 1-based line and column (in UTF-16 code units) of a string index. */
export function lineColumn(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: index - lineStart + 1 };
}

function describeChar(text: string, i: number): string {
  const cp = text.codePointAt(i) as number;
  if (cp >= 0x21 && cp <= 0x7e) return `'${String.fromCharCode(cp)}'`;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

const isWs = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const SIMPLE_ESCAPES = '"\\/bfnrt';
const isHex = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/**
 * Parse RFC 8259 text into values with number notes. `syntaxOnly` skips value building (and
 * with it number ranges, duplicates and depth): it only finds the first syntax error.
 */
export function parseJsonPure(t: string, maxDepth: number, syntaxOnly: boolean): { value: JsonValue } | ParseFailure {
  const n = t.length;
  const containers: (JsonValue[] | JsonObject | null)[] = [];
  const keys: string[] = []; // the pending key of each open object ('' for arrays)
  const isObjectAt: boolean[] = [];
  // Per open object, its keys in the order read from its first index-like key on (key-order.ts).
  const orders: (string[] | null)[] = [];
  let i = 0;
  let root: JsonValue = null;
  const fail = (index: number, reason: string, kind: ParseFailure['kind'] = 'syntax'): ParseFailure => ({ index, reason, kind });
  const unexpected = (index: number) => {
    if (index >= n) return fail(n, 'unexpected end of input');
    for (const word of ['NaN', 'Infinity', '-Infinity']) {
      if (t.startsWith(word, index)) return fail(index, `${word} is not valid JSON`);
    }
    return fail(index, `unexpected character ${describeChar(t, index)}`);
  };
  const skipWs = () => {
    while (i < n && isWs(t.charCodeAt(i))) i++;
  };
  // A string at i (the opening quote): its value, or a failure; i ends after it.
  let str = '';
  const scanString = (): ParseFailure | undefined => {
    const s = i;
    i++;
    let escaped = false;
    for (;;) {
      if (i >= n) return fail(n, 'unterminated string');
      const c = t.charCodeAt(i);
      if (c === 0x22) {
        i++;
        if (!syntaxOnly) str = escaped ? (JSON.parse(t.slice(s, i)) as string) : t.slice(s + 1, i - 1);
        return undefined;
      }
      if (c === 0x5c) {
        escaped = true;
        if (i + 1 >= n) return fail(n, 'unterminated string');
        const e = t[i + 1];
        if (e === 'u') {
          for (let k = 2; k < 6; k++) {
            if (i + k >= n) return fail(n, 'unterminated string');
            if (!isHex(t.charCodeAt(i + k))) return fail(i, 'invalid \\u escape');
          }
          i += 6;
        } else if (SIMPLE_ESCAPES.includes(e)) {
          i += 2;
        } else {
          return fail(i, 'invalid escape sequence');
        }
        continue;
      }
      if (c < 0x20) return fail(i, `control character ${describeChar(t, i)} in a string (must be escaped)`);
      i++;
    }
  };
  let num = 0;
  let numNote: NumberNote | undefined;
  const scanNumber = (): ParseFailure | undefined => {
    const s = i;
    if (t.charCodeAt(i) === 0x2d) i++;
    if (t.startsWith('Infinity', i)) return fail(s, '-Infinity is not valid JSON');
    if (i >= n) return fail(n, 'unexpected end of input in a number');
    const c = t.charCodeAt(i);
    if (c === 0x30) i++;
    else if (isDigit(c)) while (i < n && isDigit(t.charCodeAt(i))) i++;
    else return fail(i, 'no digit after the minus sign');
    if (t.charCodeAt(i) === 0x2e) {
      i++;
      if (!isDigit(t.charCodeAt(i))) return i >= n ? fail(n, 'unexpected end of input in a number') : fail(i, 'no digit after the decimal point');
      while (i < n && isDigit(t.charCodeAt(i))) i++;
    }
    const e = t.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      i++;
      const sg = t.charCodeAt(i);
      if (sg === 0x2b || sg === 0x2d) i++;
      if (!isDigit(t.charCodeAt(i))) return i >= n ? fail(n, 'unexpected end of input in a number') : fail(i, 'no digit in the exponent');
      while (i < n && isDigit(t.charCodeAt(i))) i++;
    }
    if (syntaxOnly) return undefined;
    const r = parseNumberToken(t.slice(s, i));
    if ('error' in r) return fail(s, r.error, 'number');
    num = r.value;
    numNote = r.note;
    return undefined;
  };
  // Expect a property name then ':' (i at the name); the name is left in `str`.
  const scanKey = (): ParseFailure | undefined => {
    skipWs();
    if (i >= n) return fail(n, 'unexpected end of input');
    if (t.charCodeAt(i) !== 0x22) return fail(i, `expected a double-quoted property name, found ${describeChar(t, i)}`);
    const at = i;
    const err = scanString();
    if (err) return err;
    skipWs();
    if (i >= n) return fail(n, 'unexpected end of input');
    if (t.charCodeAt(i) !== 0x3a) return fail(i, `expected ':' after a property name, found ${describeChar(t, i)}`);
    i++;
    if (!syntaxOnly) {
      const top = containers.length - 1;
      keys[top] = str;
      if (Object.prototype.hasOwnProperty.call(containers[top], str)) {
        return fail(at, `duplicate key ${JSON.stringify(str)}`, 'duplicate');
      }
    }
    return undefined;
  };
  // Put a finished value into the open container (or make it the root).
  const place = (v: JsonValue, note: NumberNote | undefined) => {
    const top = containers.length - 1;
    if (top < 0) {
      root = v;
      return;
    }
    const c = containers[top] as JsonValue[] | JsonObject;
    if (Array.isArray(c)) {
      if (note !== undefined) setNote(c, c.length, note);
      c.push(v);
    } else {
      const k = keys[top];
      let order = orders[top];
      if (order === null && isIndexKey(k)) order = orders[top] = Object.keys(c);
      if (k === '__proto__') Object.defineProperty(c, k, { value: v, writable: true, enumerable: true, configurable: true });
      else c[k] = v;
      if (note !== undefined) setNote(c, k, note);
      if (order !== null) order.push(k);
    }
  };
  const open = (isObject: boolean): ParseFailure | undefined => {
    if (syntaxOnly) {
      containers.push(null);
    } else {
      if (containers.length + 1 > maxDepth) return fail(i, `nesting deeper than ${maxDepth} levels`, 'depth');
      const c: JsonValue[] | JsonObject = isObject ? {} : [];
      place(c, undefined);
      containers.push(c);
    }
    keys.push('');
    isObjectAt.push(isObject);
    orders.push(null);
    return undefined;
  };
  const close = () => {
    const c = containers.pop();
    keys.pop();
    isObjectAt.pop();
    const order = orders.pop();
    if (order != null && c != null) noteKeyOrder(c, order);
  };

  let needValue = true;
  for (;;) {
    if (needValue) {
      skipWs();
      if (i >= n) return fail(n, 'unexpected end of input');
      const c = t.charCodeAt(i);
      if (c === 0x7b || c === 0x5b) {
        const isObject = c === 0x7b;
        const err = open(isObject);
        if (err) return err;
        i++;
        skipWs();
        if (t.charCodeAt(i) === (isObject ? 0x7d : 0x5d)) {
          i++;
          close();
          needValue = false;
          continue;
        }
        if (isObject) {
          const kerr = scanKey();
          if (kerr) return kerr;
        }
        continue;
      }
      let err: ParseFailure | undefined;
      if (c === 0x22) {
        err = scanString();
        if (!err && !syntaxOnly) place(str, undefined);
      } else if (c === 0x2d || isDigit(c)) {
        err = scanNumber();
        if (!err && !syntaxOnly) place(num, numNote);
      } else if (t.startsWith('true', i)) {
        i += 4;
        if (!syntaxOnly) place(true, undefined);
      } else if (t.startsWith('false', i)) {
        i += 5;
        if (!syntaxOnly) place(false, undefined);
      } else if (t.startsWith('null', i)) {
        i += 4;
        if (!syntaxOnly) place(null, undefined);
      } else return unexpected(i);
      if (err) return err;
      needValue = false;
      continue;
    }
    // After a value.
    skipWs();
    if (containers.length === 0) {
      return i < n ? fail(i, `unexpected ${describeChar(t, i)} after the end of the JSON value`) : { value: root };
    }
    if (i >= n) return fail(n, 'unexpected end of input');
    const c = t.charCodeAt(i);
    const top = containers.length - 1;
    const inObject = isObjectAt[top];
    if (c === 0x2c) {
      i++;
      if (inObject) {
        const err = scanKey();
        if (err) return err;
      }
      needValue = true;
      continue;
    }
    if (c === (inObject ? 0x7d : 0x5d)) {
      i++;
      close();
      continue;
    }
    return fail(i, `expected ',' or '${inObject ? '}' : ']'}', found ${describeChar(t, i)}`);
  }
}

/**
 * The first RFC 8259 syntax error in `t` (index in UTF-16 units and a reason), or undefined when
 * the text is valid JSON.
 */
export function locateJsonSyntaxError(t: string): { index: number; reason: string } | undefined {
  const r = parseJsonPure(t, Infinity, true);
  if ('value' in r) return undefined;
  return { index: r.index, reason: r.reason };
}

// ---------------------------------------------------------------------------------------------
// Encode
// ---------------------------------------------------------------------------------------------

export interface JsonEncodeOptions {
  maxDepth: number;
  path?: string;
  /** Only for messages ("json", "legacy"). */
  formatName: string;
}

/**
 * Check what JSON.stringify would silently get wrong: depth, non-finite numbers (written as
 * null; allowed only for an int whose exact value is noted), non-JSON values (dropped); and
 * report whether some number needs typed text (a note, or -0). Iterative.
 */
function inspectForJson(root: JsonValue, opts: JsonEncodeOptions): { typed: boolean; ordered: boolean } {
  checkDepth(root, opts.maxDepth, opts.path);
  let typed = false;
  let ordered = false;
  const bad = (v: unknown): never => {
    const p = findPointer(root, (x) => x === v);
    throw errors.unrepresentable(opts.formatName, `value of type ${typeof v} at ${p || '/'} is not a JSON value`, opts.path);
  };
  const nonFinite = (): never => {
    const p = findPointer(root, (x) => typeof x === 'number' && !Number.isFinite(x));
    throw errors.unrepresentable(opts.formatName, `non-finite number (NaN or Infinity) at ${p || '/'} is not a JSON value`, opts.path);
  };
  switch (typeof root) {
    case 'number':
      if (root - root !== 0) nonFinite();
      return { typed: root === 0 && 1 / root < 0, ordered };
    case 'string':
    case 'boolean':
      return { typed: false, ordered };
    case 'object':
      if (root === null) return { typed: false, ordered };
      break;
    default:
      bad(root);
  }
  const stack: (JsonValue[] | JsonObject)[] = [root as JsonValue[] | JsonObject];
  const check = (v: unknown, notes: NumberNotes | undefined, key: string | number): void => {
    switch (typeof v) {
      case 'number':
        if (v === 0) {
          if (1 / v < 0) typed = true;
        } else if (v - v !== 0 && typeof validNote(notes, key, v) !== 'bigint') nonFinite();
        break;
      case 'string':
      case 'boolean':
        break;
      case 'object':
        if (v !== null) stack.push(v as JsonValue[] | JsonObject);
        break;
      default:
        bad(v);
    }
  };
  while (stack.length > 0) {
    const c = stack.pop() as JsonValue[] | JsonObject;
    const notes = notesOf(c);
    if (notes !== undefined && notes.size > 0) typed = true;
    if (Array.isArray(c)) {
      for (let j = 0; j < c.length; j++) {
        const v = c[j];
        // Finite non-zero numbers (embeddings) need nothing: the common case first.
        if (typeof v === 'number' && v !== 0 && v - v === 0) continue;
        check(v, notes, j);
      }
    } else {
      if (!ordered && keyOrderOf(c) !== undefined) ordered = true;
      for (const k of Object.keys(c)) check(c[k], notes, k);
    }
  }
  return { typed, ordered };
}

/** Compact JSON text of decoded data that keeps every number's type (`25.0`, exact big ints), at any depth: what crosses a thread or a pipe. */
export function typedJsonText(data: JsonValue): string {
  return encodeJsonText(data, 0, { maxDepth: Number.MAX_SAFE_INTEGER, formatName: 'json' });
}

/** JSON text of `value`: 2-space indent (the pipeline's layout) or compact (indent 0). */
export function encodeJsonText(value: JsonValue, indent: 0 | 2, opts: JsonEncodeOptions): string {
  const { typed, ordered } = inspectForJson(value, opts);
  // JSON.stringify lists index-like keys first: noted orders are written by stringifyTyped.
  if (ordered) return stringifyTyped(value, indent === 0 ? '' : ' '.repeat(indent), '', undefined);
  if (!typed) return JSON.stringify(value, null, indent);
  return stringifyWithPlaceholders(value, indent) ?? stringifyTyped(value, indent === 0 ? '' : ' '.repeat(indent), '', undefined);
}

/**
 * JSON.stringify's speed for typed data: a shadow of `value` in which only the containers on the
 * way to a typed number are copied, with each typed number replaced by a placeholder string
 * (U+0000 + index), goes through native JSON.stringify; the placeholders are then replaced by
 * the numbers' text. undefined when a string of the data could be taken for a placeholder (the
 * caller then uses stringifyTyped).
 */
function stringifyWithPlaceholders(value: JsonValue, indent: 0 | 2): string | undefined {
  const texts: string[] = [];
  const typedChild = (x: number, notes: NumberNotes | undefined, key: string | number): string | undefined => {
    const note = notes === undefined ? undefined : validNote(notes, key, x);
    return needsTypedText(x, note) ? '\u0000' + (texts.push(numberJson(x, note)) - 1) : undefined;
  };
  const shadow = (c: JsonValue[] | JsonObject): JsonValue[] | JsonObject => {
    const notes = notesOf(c);
    if (Array.isArray(c)) {
      let copy: JsonValue[] | undefined;
      for (let i = 0; i < c.length; i++) {
        const x = c[i];
        let y: JsonValue = x;
        if (typeof x === 'number') {
          if (notes !== undefined || x === 0) y = typedChild(x, notes, i) ?? x;
        } else if (x !== null && typeof x === 'object') y = shadow(x);
        if (y !== x) (copy ??= c.slice())[i] = y;
      }
      return copy ?? c;
    }
    const keys = Object.keys(c);
    let copy: JsonObject | undefined;
    for (let j = 0; j < keys.length; j++) {
      const k = keys[j];
      const x = c[k];
      let y: JsonValue = x;
      if (typeof x === 'number') {
        if (notes !== undefined || x === 0) y = typedChild(x, notes, k) ?? x;
      } else if (x !== null && typeof x === 'object') y = shadow(x);
      if (y !== x) {
        if (copy === undefined) {
          copy = {};
          for (const k2 of keys) Object.defineProperty(copy, k2, { value: c[k2], writable: true, enumerable: true, configurable: true });
        }
        Object.defineProperty(copy, k, { value: y, writable: true, enumerable: true, configurable: true });
      }
    }
    return copy ?? c;
  };
  const root = value !== null && typeof value === 'object' ? shadow(value) : value;
  const parts = JSON.stringify(root, null, indent).split('"\\u0000');
  if (parts.length - 1 !== texts.length) return undefined;
  let out = parts[0];
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i];
    const end = part.indexOf('"');
    if (end < 1 || part.slice(0, end) !== String(i - 1)) return undefined;
    out += texts[i - 1] + part.slice(end + 1);
  }
  return out;
}

/**
 * Same output as JSON.stringify(value, null, indent) except for numbers, which keep their type
 * (numbers.ts: `25.0`, `-0.0`, exact big ints). `note` is the value's own number note. Depth and
 * values are already checked.
 */
export function stringifyTyped(value: JsonValue, step: string, indent: string, note: NumberNote | undefined): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'number':
      return needsTypedText(value, note) ? numberJson(value, note) : JSON.stringify(value);
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
  }
  const notes: NumberNotes | undefined = notesOf(value);
  const inner = indent + step;
  const open = step === '' ? '' : '\n' + inner;
  const sep = step === '' ? ',' : ',\n' + inner;
  const close = step === '' ? '' : '\n' + indent;
  const child = (v: JsonValue, key: string | number) =>
    stringifyTyped(v, step, inner, notes !== undefined && typeof v === 'number' ? validNote(notes, key, v) : undefined);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (notes === undefined && isPlainNumberArray(value)) {
      // Embeddings, landmarks: one native call, re-indented to this depth.
      const text = JSON.stringify(value, null, step);
      return step === '' || indent === '' ? text : text.replaceAll('\n', '\n' + indent);
    }
    // Like JSON.stringify: holes, undefined and functions in arrays are null.
    const parts = value.map((v, i) => (isSkipped(v) ? 'null' : child(v, i)));
    return '[' + open + parts.join(sep) + close + ']';
  }
  const colon = step === '' ? ':' : ': ';
  const parts: string[] = [];
  for (const k of orderedKeys(value)) {
    const v = (value as JsonObject)[k];
    if (!isSkipped(v)) parts.push(JSON.stringify(k) + colon + child(v, k));
  }
  if (parts.length === 0) return '{}';
  return '{' + open + parts.join(sep) + close + '}';
}

/** Finite numbers other than -0 only: JSON.stringify writes them as we do (without notes). */
function isPlainNumberArray(a: readonly unknown[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (typeof x !== 'number' || x - x !== 0 || (x === 0 && 1 / x < 0)) return false;
  }
  return true;
}

/** Values JSON.stringify leaves out of objects (and writes as null in arrays). */
function isSkipped(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}

/** JSON.stringify's output with -0 written `-0.0` (and every other number kept typed). */
export function stringifyKeepingNegativeZero(value: JsonValue, step: string, indent: string): string {
  return stringifyTyped(value, step, indent, undefined);
}
