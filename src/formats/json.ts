/**
 * JSON sidecars. Decode: strict UTF-8, a leading BOM is removed and noted, V8's JSON.parse for
 * speed, then a depth check; on a syntax error a small scanner finds the exact place (V8's
 * messages do not always carry a position). Encode: JSON.stringify with a 2-space indent like
 * the pipeline, or compact for the legacy layout, with a fallback that writes -0 as `-0.0` so
 * that every float survives bit for bit.
 */
import { errors } from '../errors.js';
import type { JsonObject, JsonValue } from '../types.js';
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

function hasBomAt(bytes: Uint8Array, i: number): boolean {
  return bytes.length >= i + 3 && bytes[i] === 0xef && bytes[i + 1] === 0xbb && bytes[i + 2] === 0xbf;
}

/** Decode JSON text that must hold an object. */
export function decodeJsonObject(bytes: Uint8Array, opts: JsonDecodeOptions): { data: JsonObject; notes: string[] } {
  const notes: string[] = [];
  let start = opts.start ?? 0;
  if (start >= bytes.length) throw errors.corrupt('empty file', opts.path);
  if ((opts.allowBom ?? true) && hasBomAt(bytes, start)) {
    start += 3;
    notes.push('UTF-8 BOM removed');
  }
  let text: string;
  try {
    text = utf8Decoder.decode(bytes.subarray(start));
  } catch {
    const bad = findInvalidUtf8(bytes, start);
    throw errors.corrupt(`invalid UTF-8 at byte ${bad < 0 ? start : bad}`, opts.path);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw syntaxError(text, start, e, opts.path);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw errors.corrupt(`top-level value is ${describeJsonType(value)}, expected an object`, opts.path);
  }
  if (mayBeDeeperThan(text, opts.maxDepth)) checkDepth(value as JsonObject, opts.maxDepth, opts.path);
  return { data: value as JsonObject, notes };
}

/**
 * Nesting depth can never exceed the number of opening brackets, so a text with fewer than
 * `maxDepth` of them needs no depth walk (a walk visits every value, e.g. all 512 floats of each
 * embedding; this counts with native indexOf and stops early).
 */
function mayBeDeeperThan(text: string, maxDepth: number): boolean {
  let n = 0;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++n >= maxDepth) return true;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++n >= maxDepth) return true;
  return false;
}

function syntaxError(text: string, start: number, cause: unknown, path?: string) {
  const found = locateJsonSyntaxError(text);
  if (found === undefined) {
    // The scanner and V8 disagree (should not happen): keep V8's words.
    return errors.corrupt(`invalid JSON: ${(cause as Error)?.message ?? String(cause)}`, path, cause);
  }
  const { line, column } = lineColumn(text, found.index);
  const byte = start + Buffer.byteLength(text.slice(0, found.index), 'utf8');
  return errors.corrupt(`invalid JSON at line ${line}, column ${column} (byte ${byte}): ${found.reason}`, path, cause);
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
 * Find the first RFC 8259 syntax error in `t`: its index (UTF-16 units) and a reason, or
 * undefined when the text is valid JSON. Iterative; used on the error path only.
 */
export function locateJsonSyntaxError(t: string): { index: number; reason: string } | undefined {
  const n = t.length;
  const stack: number[] = []; // 0 = array, 1 = object
  let i = 0;
  const fail = (index: number, reason: string) => ({ index, reason });
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
  // Scan a string starting at the opening quote; returns an error or undefined (i after it).
  const scanString = () => {
    i++;
    for (;;) {
      if (i >= n) return fail(n, 'unterminated string');
      const c = t.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c === 0x5c) {
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
  const scanNumber = () => {
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
    return undefined;
  };
  // Expect a property name then ':' (i at the name); returns an error or undefined.
  const scanKey = () => {
    skipWs();
    if (i >= n) return fail(n, 'unexpected end of input');
    if (t.charCodeAt(i) !== 0x22) return fail(i, `expected a double-quoted property name, found ${describeChar(t, i)}`);
    const err = scanString();
    if (err) return err;
    skipWs();
    if (i >= n) return fail(n, 'unexpected end of input');
    if (t.charCodeAt(i) !== 0x3a) return fail(i, `expected ':' after a property name, found ${describeChar(t, i)}`);
    i++;
    return undefined;
  };

  let needValue = true;
  for (;;) {
    if (needValue) {
      skipWs();
      if (i >= n) return fail(n, 'unexpected end of input');
      const c = t.charCodeAt(i);
      if (c === 0x7b) {
        i++;
        skipWs();
        if (t.charCodeAt(i) === 0x7d) {
          i++;
          needValue = false;
          continue;
        }
        stack.push(1);
        const err = scanKey();
        if (err) return err;
        continue;
      }
      if (c === 0x5b) {
        i++;
        skipWs();
        if (t.charCodeAt(i) === 0x5d) {
          i++;
          needValue = false;
          continue;
        }
        stack.push(0);
        continue;
      }
      let err: { index: number; reason: string } | undefined;
      if (c === 0x22) err = scanString();
      else if (c === 0x2d || isDigit(c)) err = scanNumber();
      else if (t.startsWith('true', i)) i += 4;
      else if (t.startsWith('false', i)) i += 5;
      else if (t.startsWith('null', i)) i += 4;
      else return unexpected(i);
      if (err) return err;
      needValue = false;
      continue;
    }
    // After a value.
    skipWs();
    if (stack.length === 0) {
      return i < n ? fail(i, `unexpected ${describeChar(t, i)} after the end of the JSON value`) : undefined;
    }
    if (i >= n) return fail(n, 'unexpected end of input');
    const c = t.charCodeAt(i);
    const inObject = stack[stack.length - 1] === 1;
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
      stack.pop();
      continue;
    }
    return fail(i, `expected ',' or '${inObject ? '}' : ']'}', found ${describeChar(t, i)}`);
  }
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
 * null), non-JSON values (dropped); and report whether a -0 is present. Iterative.
 */
function inspectForJson(root: JsonValue, opts: JsonEncodeOptions): { hasNegativeZero: boolean } {
  checkDepth(root, opts.maxDepth, opts.path);
  let hasNegativeZero = false;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    switch (typeof v) {
      case 'number':
        if (v === 0) {
          if (1 / v < 0) hasNegativeZero = true;
        } else if (v - v !== 0) {
          const p = findPointer(root, (x) => typeof x === 'number' && !Number.isFinite(x));
          throw errors.unrepresentable(opts.formatName, `non-finite number (NaN or Infinity) at ${p || '/'} is not a JSON value`, opts.path);
        }
        break;
      case 'string':
      case 'boolean':
        break;
      case 'object':
        if (v === null) break;
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) stack.push(v[i]);
        } else {
          for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k]);
        }
        break;
      default: {
        const p = findPointer(root, (x) => x === v);
        throw errors.unrepresentable(opts.formatName, `value of type ${typeof v} at ${p || '/'} is not a JSON value`, opts.path);
      }
    }
  }
  return { hasNegativeZero };
}

/** JSON text of `value`: 2-space indent (the pipeline's layout) or compact (indent 0). */
export function encodeJsonText(value: JsonValue, indent: 0 | 2, opts: JsonEncodeOptions): string {
  const { hasNegativeZero } = inspectForJson(value, opts);
  if (!hasNegativeZero) return JSON.stringify(value, null, indent);
  return stringifyKeepingNegativeZero(value, indent === 0 ? '' : ' '.repeat(indent), '');
}

/**
 * Same output as JSON.stringify(value, null, indent) except that -0 is written `-0.0`
 * (JSON.parse("-0.0") is -0, JSON.stringify(-0) is "0"). Depth is already checked.
 */
export function stringifyKeepingNegativeZero(value: JsonValue, step: string, indent: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'number':
      return value === 0 && 1 / value < 0 ? '-0.0' : JSON.stringify(value);
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
  }
  const inner = indent + step;
  const open = step === '' ? '' : '\n' + inner;
  const sep = step === '' ? ',' : ',\n' + inner;
  const close = step === '' ? '' : '\n' + indent;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const parts = value.map((x) => stringifyKeepingNegativeZero(x, step, inner));
    return '[' + open + parts.join(sep) + close + ']';
  }
  const keys = Object.keys(value);
  if (keys.length === 0) return '{}';
  const colon = step === '' ? ':' : ': ';
  const parts = keys.map((k) => JSON.stringify(k) + colon + stringifyKeepingNegativeZero((value as JsonObject)[k], step, inner));
  return '{' + open + parts.join(sep) + close + '}';
}
