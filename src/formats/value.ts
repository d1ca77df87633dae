/**
 * Helpers over plain JSON values shared by every format: depth limits, bit-exact equality,
 * JSON pointers for error messages and UTF-8 length / validity scans.
 * Everything here is iterative so that hostile nesting cannot overflow the stack.
 */
import { errors, SidecarError } from '../errors.js';
import type { JsonObject, JsonValue } from '../types.js';
import { exactInt, isFloatValue, notesOf, validNote, type NumberNote, type NumberNotes } from './numbers.js';

/** Default nesting limit (containers on the path, the top-level object counts as 1). */
export const DEFAULT_MAX_DEPTH = 512;
/** Default file size limit for decoding (64 MiB). */
export const DEFAULT_MAX_FILE_SIZE = 64 * 1024 * 1024;

/**
 * TOO_DEEP for when the JS stack ran out before the configured depth limit was reached (only
 * possible with a limit far above the default). A local factory because the shared table's
 * `tooDeep` message would claim the data exceeds the limit, which it may not.
 */
export function stackExhausted(limit: number, path?: string): SidecarError {
  const where = path ? `${path}: ` : '';
  return new SidecarError('TOO_DEEP', `${where}nesting too deep to process: the stack ran out before the limit of ${limit} levels`, {
    path,
    details: { limit, stackExhausted: true },
  });
}

/**
 * Throw TOO_DEEP when `value` nests more than `maxDepth` containers (arrays or objects) on
 * any path. A scalar has depth 0, `{}` depth 1, `{"a":[1]}` depth 2. Iterative.
 */
export function checkDepth(value: JsonValue, maxDepth: number, path?: string): void {
  if (value === null || typeof value !== 'object') return;
  if (maxDepth < 1) throw errors.tooDeep(maxDepth, path);
  // Parallel stacks (values and their depths) avoid one allocation per container.
  const values: object[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop() as JsonValue[] | JsonObject;
    const d = depths.pop() as number;
    const childDepth = d + 1;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const c = v[i];
        if (c !== null && typeof c === 'object') {
          if (childDepth > maxDepth) throw errors.tooDeep(maxDepth, path);
          values.push(c);
          depths.push(childDepth);
        }
      }
    } else {
      for (const k in v) {
        if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
        const c = v[k];
        if (c !== null && typeof c === 'object') {
          if (childDepth > maxDepth) throw errors.tooDeep(maxDepth, path);
          values.push(c);
          depths.push(childDepth);
        }
      }
    }
  }
}

/**
 * Structural equality of JSON values under the number model (numbers.ts): numbers bit-exact
 * (Object.is: -0 !== 0, NaN === NaN) and of the same type (int / float, ints compared exactly
 * beyond 2^53), same own enumerable keys (including "__proto__") regardless of order. Iterative.
 */
export function deepEqualJson(a: JsonValue, b: JsonValue): boolean {
  if (typeof a === 'number' || typeof b === 'number') return typeof a === typeof b && sameNumber(a as number, undefined, b as number, undefined);
  const left: unknown[] = [a];
  const right: unknown[] = [b];
  while (left.length > 0) {
    const x = left.pop();
    const y = right.pop();
    if (x === y) continue; // identical primitive or same reference (numbers are compared below)
    if (x === null || y === null || typeof x !== 'object' || typeof y !== 'object') return false;
    const xa = Array.isArray(x);
    if (xa !== Array.isArray(y)) return false;
    const xNotes = notesOf(x);
    const yNotes = notesOf(y);
    if (xa) {
      const xs = x as unknown[];
      const ys = y as unknown[];
      if (xs.length !== ys.length) return false;
      for (let i = 0; i < xs.length; i++) {
        const xv = xs[i];
        const yv = ys[i];
        if (typeof xv === 'number' || typeof yv === 'number') {
          if (typeof xv !== typeof yv) return false;
          if (!sameNumber(xv as number, noteOf(xNotes, i, xv), yv as number, noteOf(yNotes, i, yv))) return false;
          continue;
        }
        left.push(xv);
        right.push(yv);
      }
    } else {
      const xo = x as Record<string, unknown>;
      const yo = y as Record<string, unknown>;
      const xk = Object.keys(xo);
      if (xk.length !== Object.keys(yo).length) return false;
      for (let i = 0; i < xk.length; i++) {
        const k = xk[i];
        if (!Object.prototype.hasOwnProperty.call(yo, k)) return false;
        const xv = xo[k];
        const yv = yo[k];
        if (typeof xv === 'number' || typeof yv === 'number') {
          if (typeof xv !== typeof yv) return false;
          if (!sameNumber(xv as number, noteOf(xNotes, k, xv), yv as number, noteOf(yNotes, k, yv))) return false;
          continue;
        }
        left.push(xv);
        right.push(yv);
      }
    }
  }
  return true;
}

function noteOf(notes: NumberNotes | undefined, key: string | number, v: unknown): NumberNote | undefined {
  return notes === undefined ? undefined : validNote(notes, key, v as number);
}

/** Same value bit for bit and same type; ints beyond 2^53 compared by their exact values. */
function sameNumber(x: number, nx: NumberNote | undefined, y: number, ny: NumberNote | undefined): boolean {
  if (!Object.is(x, y)) return false;
  const fx = isFloatValue(x, nx);
  if (fx !== isFloatValue(y, ny)) return false;
  if (fx || Number.isSafeInteger(x)) return true;
  return exactInt(x, nx) === exactInt(y, ny);
}

/** RFC 6901 JSON pointer from reference tokens. */
export function jsonPointer(tokens: readonly (string | number)[]): string {
  let out = '';
  for (const t of tokens) out += '/' + String(t).replace(/~/g, '~0').replace(/\//g, '~1');
  return out;
}

/**
 * Find the first place (depth-first, document order) where `badKey(key)` or `badValue(value)`
 * holds; returns its JSON pointer ("" for the root) or undefined. Used only to name the
 * location in an error message after a fast encoder has already failed.
 */
export function findPointer(
  root: unknown,
  badValue: (v: unknown) => boolean,
  badKey: (k: string) => boolean = () => false,
): string | undefined {
  const values: unknown[] = [root];
  const paths: (string | number)[][] = [[]];
  while (values.length > 0) {
    const v = values.pop();
    const p = paths.pop() as (string | number)[];
    if (badValue(v)) return jsonPointer(p);
    if (v === null || typeof v !== 'object') continue;
    // Push children in reverse so they pop in document order.
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        values.push(v[i]);
        paths.push([...p, i]);
      }
    } else {
      const keys = Object.keys(v);
      for (const k of keys) if (badKey(k)) return jsonPointer([...p, k]);
      for (let i = keys.length - 1; i >= 0; i--) {
        values.push((v as Record<string, unknown>)[keys[i]]);
        paths.push([...p, keys[i]]);
      }
    }
  }
  return undefined;
}

/** A short name of a value's JSON type for messages ("an array", "null", "a number", ...). */
export function describeJsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'object':
      return 'an object';
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    default:
      return `not a JSON value (${typeof v})`;
  }
}

/**
 * UTF-8 byte length of a JS string, or -1 when it holds a lone surrogate (which UTF-8 cannot
 * carry). Plain loop: no allocation, fast for the short strings sidecars are made of.
 */
export function utf8Length(s: string): number {
  const n = s.length;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      bytes += 1;
    } else if (c < 0xd800 || c > 0xdfff) {
      bytes += 2;
    } else if (c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d < 0xdc00 || d > 0xdfff) return -1;
      bytes += 2; // 2 UTF-16 units -> 4 bytes
      i++;
    } else {
      return -1;
    }
  }
  return bytes;
}

/** True when the string holds an unpaired UTF-16 surrogate. */
export function hasLoneSurrogate(s: string): boolean {
  return utf8Length(s) < 0;
}

/** String.prototype.isWellFormed (ES2024, Node >= 20) when present: native lone-surrogate check. */
export const nativeIsWellFormed = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;

/** No lone surrogate in `s` (its UTF-8 gives it back). */
export function isWellFormed(s: string): boolean {
  return nativeIsWellFormed !== undefined ? nativeIsWellFormed.call(s) : !hasLoneSurrogate(s);
}

/** Node's own UTF-8 write of a Buffer (a binding: no argument checks, as msgpackr uses it), where there is one. */
const nativeUtf8Write = (Buffer.prototype as { utf8Write?: (s: string, at: number) => number }).utf8Write;

/**
 * Write `s` as UTF-8 at `at` of `out` (room there for 3 bytes per UTF-16 unit); returns the bytes
 * written. A lone surrogate becomes U+FFFD, as with Buffer#write. One native call: in code run
 * once per file (V8's baseline tier) cheaper than a loop over the units of a 40-character name.
 */
export function writeUtf8(out: Buffer, s: string, at: number): number {
  return nativeUtf8Write !== undefined ? nativeUtf8Write.call(out, s, at) : out.write(s, at, 'utf8');
}

/**
 * Offset of the first byte in [start, end) that is not part of a well-formed UTF-8 sequence
 * (RFC 3629: no overlongs, no surrogates, max U+10FFFF), or -1. Error path only.
 */
export function findInvalidUtf8(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let i = start;
  while (i < end) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // overlong
      if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i;
    if (i + need >= end) return i; // truncated sequence
    const b1 = bytes[i + 1];
    if (b1 < lo || b1 > hi) return i;
    for (let k = 2; k <= need; k++) {
      const bk = bytes[i + k];
      if (bk < 0x80 || bk > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}
