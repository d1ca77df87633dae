/**
 * The number model (docs/FORMAT.md, "Numbers"): every number in a sidecar is either an **int**
 * (any size, exact) or a **float** (an IEEE 754 double), as Python's `json` module sees them, and
 * every format keeps both the value and the type.
 *
 * JavaScript callers get plain numbers. What a plain number cannot say is written on its
 * container (object or array) as a non-enumerable, symbol-keyed note per key or index:
 *   - a `number` note: "this whole-valued number is a float" (`25.0`, `1e2`, `0.0`);
 *   - a `bigint` note: "this integer is exactly this value" (beyond 2^53, where the double is
 *     only the nearest value: `1763805012345678901`).
 * A note counts only while the current value still matches it (a float note equal to the value
 * under Object.is, an int note whose nearest double is the value), so a caller that replaces a
 * value makes the old note stale instead of wrong.
 *
 * Without a note, a number's type is what its JSON text says (JSON.stringify): an integral value
 * below 1e21 other than -0 is an int (its digits are JavaScript's shortest round-trip digits),
 * anything else (fractions, -0, |x| >= 1e21) is a float.
 *
 * Notes are not enumerable: Object.keys, JSON.stringify, ajv and assert.deepStrictEqual do not see
 * them, and `{...obj}` / `arr.slice()` / structuredClone drop them. Copy with `cloneJson`.
 */
import { copyKeyOrder, keyOrderOf } from './key-order.js';
import type { JsonObject, JsonValue } from '../types.js';

/** Symbol under which a container keeps its number notes. */
export const NUMBER_NOTES: unique symbol = Symbol('image-sidecar.numberNotes');

/** A float note (the whole value it was written for) or an exact int. */
export type NumberNote = number | bigint;
export type NumberNotes = Map<string | number, NumberNote>;

type Container = JsonObject | JsonValue[];

/** Python's default limit on int digits (`sys.get_int_max_str_digits()`): longer ints are refused. */
export const MAX_INT_DIGITS = 4300;

/** Below this, JavaScript writes an integral double as plain digits; from it on, with an exponent. */
const PLAIN_DIGITS_LIMIT = 1e21;

export function notesOf(container: object): NumberNotes | undefined {
  return (container as { [NUMBER_NOTES]?: NumberNotes })[NUMBER_NOTES];
}

function notesFor(container: object): NumberNotes {
  let notes = notesOf(container);
  if (notes === undefined) {
    notes = new Map();
    Object.defineProperty(container, NUMBER_NOTES, { value: notes, writable: true, configurable: true, enumerable: false });
  }
  return notes;
}

/** Record that `container[key]` (now `value`) is a float although its value is whole. */
export function noteFloat(container: object, key: string | number, value: number): void {
  notesFor(container).set(key, value);
}

/** Record the exact value of the int at `container[key]` (whose JS value is Number(exact)). */
export function noteInt(container: object, key: string | number, exact: bigint): void {
  notesFor(container).set(key, exact);
}

/** Copy every note of `from` to `to` (containers of the same shape): number notes, and its key order (key-order.ts). */
export function copyNotes(from: object, to: object): void {
  const notes = notesOf(from);
  if (notes !== undefined && notes.size > 0) {
    Object.defineProperty(to, NUMBER_NOTES, { value: new Map(notes), writable: true, configurable: true, enumerable: false });
  }
  copyKeyOrder(from, to);
}

/**
 * After `to[toKey] = from[fromKey]` (a value moved between containers, e.g. a merge): the value's
 * type goes with it — the note `from` holds for it, if valid, is set on `to`, and a note `to` held
 * for its old value is dropped (it could still match the new value: 3.0 replaced by the int 3).
 * `from` undefined: the value has no note.
 */
export function carryNote(from: object | undefined, fromKey: string | number, to: object, toKey: string | number): void {
  const value = (to as Record<string | number, unknown>)[toKey];
  const note = typeof value === 'number' && from !== undefined ? validNote(notesOf(from), fromKey, value) : undefined;
  if (note !== undefined) notesFor(to).set(toKey, note);
  else notesOf(to)?.delete(toKey);
}

/** Does `note` describe `value`: a float note the same value, an int note one whose nearest double it is? */
function noteMatches(note: NumberNote, value: number): boolean {
  return typeof note === 'number' ? Object.is(note, value) : Number(note) === value;
}

/** The note of `container[key]` if it still describes `value`, else undefined. */
export function validNote(notes: NumberNotes | undefined, key: string | number, value: number): NumberNote | undefined {
  const n = notes?.get(key);
  return n !== undefined && noteMatches(n, value) ? n : undefined;
}

/** Put `note` on the number at `container[key]` when it describes it (else nothing): a bare number's note given a container again. */
export function putNote(container: object, key: string | number, note: NumberNote): void {
  const value = (container as Record<string | number, unknown>)[key];
  if (typeof value === 'number' && noteMatches(note, value)) notesFor(container).set(key, note);
}

/** The note of the number at `container[key]` (undefined: none, or not a number): for a bare number taken out of the container it was parsed in. */
export function numberNoteOf(container: object, key: string | number): NumberNote | undefined {
  const value = (container as Record<string | number, unknown>)[key];
  return typeof value === 'number' ? validNote(notesOf(container), key, value) : undefined;
}

/** True when `value` (with its note, if any) is a float. */
export function isFloatValue(value: number, note: NumberNote | undefined): boolean {
  if (note !== undefined) return typeof note === 'number';
  if (!Number.isInteger(value)) return true; // fractions; NaN and ±Infinity too (refused later)
  return (value === 0 && 1 / value < 0) || value >= PLAIN_DIGITS_LIMIT || value <= -PLAIN_DIGITS_LIMIT;
}

/**
 * The exact value of an int (isFloatValue false) as a bigint. Without a note it is the value of
 * the digits JavaScript writes for it, so JSON and CBOR agree on what Python reads.
 */
export function exactInt(value: number, note: NumberNote | undefined): bigint {
  if (typeof note === 'bigint') return note;
  return Number.isSafeInteger(value) ? BigInt(value) : BigInt(String(value));
}

/**
 * JSON text of a number with its type kept: ints as exact digits, whole floats with a `.0`
 * (or in exponent form), -0 as `-0.0`, other floats in JavaScript's shortest round-trip form.
 * The caller has checked that the value is finite or carries an int note.
 */
export function numberJson(value: number, note: NumberNote | undefined): string {
  if (typeof note === 'bigint') return note.toString();
  if (note === undefined && !isFloatValue(value, undefined)) return String(value);
  if (value === 0) return 1 / value < 0 ? '-0.0' : '0.0';
  const s = String(value);
  if (!Number.isInteger(value)) return s;
  // Whole floats: "25" -> "25.0"; "1e+21" already reads back as a float.
  return s.includes('e') ? s : s + '.0';
}

/**
 * True when the number needs more than plain JSON.stringify to keep its type: a valid note, or
 * -0 (JSON.stringify writes `0`). Non-finite values are the encoders' own concern.
 */
export function needsTypedText(value: number, note: NumberNote | undefined): boolean {
  return note !== undefined || (value === 0 && 1 / value < 0);
}

/** True when some container below `root` (itself included) carries a note. Iterative. */
export function hasNumberNotes(root: JsonValue): boolean {
  if (root === null || typeof root !== 'object') return false;
  const stack: Container[] = [root];
  while (stack.length > 0) {
    const c = stack.pop() as Container;
    const notes = notesOf(c);
    if (notes !== undefined && notes.size > 0) return true;
    if (Array.isArray(c)) {
      for (let i = 0; i < c.length; i++) {
        const x = c[i];
        if (x !== null && typeof x === 'object') stack.push(x);
      }
    } else {
      for (const k of Object.keys(c)) {
        const x = c[k];
        if (x !== null && typeof x === 'object') stack.push(x);
      }
    }
  }
  return false;
}

/**
 * True when plain JSON.stringify would lose some number's type below `root` (itself included): a
 * container carries a note, or a number is -0 (JSON.stringify writes `0`, an int to Python) —
 * `needsTypedText` over the whole value; or an object's key order (a key-order.ts note). Any value may be passed (reports too). Iterative.
 */
export function needsTypedJson(root: unknown): boolean {
  if (typeof root === 'number') return needsTypedText(root, undefined);
  if (root === null || typeof root !== 'object') return false;
  const stack: object[] = [root];
  while (stack.length > 0) {
    const c = stack.pop() as Record<string, unknown> | unknown[];
    const notes = notesOf(c);
    if (notes !== undefined && notes.size > 0) return true;
    if (keyOrderOf(c) !== undefined) return true; // JSON.stringify lists index-like keys first (key-order.ts)
    const values = Array.isArray(c) ? c : Object.values(c);
    for (let i = 0; i < values.length; i++) {
      const x = values[i];
      if (typeof x === 'number') {
        if (x === 0 && 1 / x < 0) return true;
      } else if (x !== null && typeof x === 'object') stack.push(x);
    }
  }
  return false;
}

/**
 * Deep copy of a JSON value that keeps number notes (and "__proto__" as an own key). Use it
 * instead of spread / structuredClone on data that will be written again. Iterative.
 */
export function cloneJson<T extends JsonValue>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  const copyOf = (c: Container): Container => {
    const copy: Container = Array.isArray(c) ? new Array(c.length) : {};
    copyNotes(c, copy);
    return copy;
  };
  const root = copyOf(value);
  const from: Container[] = [value];
  const to: Container[] = [root];
  while (from.length > 0) {
    const src = from.pop() as Container;
    const dst = to.pop() as Container;
    if (Array.isArray(src)) {
      const d = dst as JsonValue[];
      for (let i = 0; i < src.length; i++) {
        const x = src[i];
        if (x !== null && typeof x === 'object') {
          const c = copyOf(x);
          d[i] = c;
          from.push(x);
          to.push(c);
        } else d[i] = x;
      }
    } else {
      const d = dst as JsonObject;
      for (const k of Object.keys(src)) {
        const x = src[k];
        let v: JsonValue = x;
        if (x !== null && typeof x === 'object') {
          v = copyOf(x);
          from.push(x);
          to.push(v as Container);
        }
        if (k === '__proto__') Object.defineProperty(d, k, { value: v, writable: true, enumerable: true, configurable: true });
        else d[k] = v;
      }
    }
  }
  return root as T;
}

/**
 * Classify a JSON number token (RFC 8259 grammar, already checked) the way Python's `json` does:
 * with '.', 'e' or 'E' it is a float, otherwise an int. Returns the JS value and the note it
 * needs, or an error reason (a float beyond the double range; an int beyond MAX_INT_DIGITS).
 */
export function parseNumberToken(token: string): { value: number; note?: NumberNote } | { error: string } {
  let isFloat = false;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c === 0x2e || c === 0x65 || c === 0x45) {
      isFloat = true;
      break;
    }
  }
  if (isFloat) {
    const value = Number(token);
    if (value - value !== 0) return { error: `number ${token.length > 40 ? token.slice(0, 40) + '…' : token} is beyond the range of a 64-bit float` };
    // -0 needs no note: without one it is a float already.
    return Number.isInteger(value) && !Object.is(value, -0) ? { value, note: value } : { value };
  }
  const negative = token.charCodeAt(0) === 0x2d;
  const digits = token.length - (negative ? 1 : 0);
  if (digits <= 15) {
    const value = Number(token);
    return { value: value === 0 ? 0 : value }; // "-0" is the int 0, as Python reads it
  }
  if (digits > MAX_INT_DIGITS) {
    return { error: `integer with ${digits} digits exceeds the limit of ${MAX_INT_DIGITS} digits` };
  }
  const exact = BigInt(token);
  const value = Number(exact);
  if (Number.isSafeInteger(value) && BigInt(value) === exact) return { value };
  return { value, note: exact };
}
