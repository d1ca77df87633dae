/**
 * The JSON of a tree memo's frames (tree-memo.ts): byte strings kept as bytes, the text ASCII.
 *
 * - A Uint8Array in the value is written as raw bytes in the frame's byte region, and in the JSON
 *   as a stand-in `{"\u0000bytes": [offset, length]}`. validate's memo keeps its results by column
 *   (ops/validate.ts); as base64 text in the JSON they were 1.8 MB to decode as UTF-8, parse and
 *   decode again on every warm run (~30 ms of its ~200).
 * - The text is ASCII: every other character is written `\uXXXX` (JSON allows it in any string),
 *   so it is read as one-byte text (latin1: no UTF-8 decoding, and V8 parses one-byte text faster
 *   than the two-byte text a single non-Latin-1 name made of the whole memo). Text that is not
 *   ASCII (written by hand) is read as UTF-8, as before.
 */
import { isAscii } from 'node:buffer';

/** The stand-in's key: a NUL no key a run writes begins with (a value that has it is not stored: encodeFrameJson). */
const BYTES_KEY = '\u0000bytes';

/** Where each byte string starts in its region: a multiple of this (a f64 column's alignment). */
export const BYTES_ALIGN = 8;

const NON_ASCII = /[\u0080-\uffff]/;
const EACH_NON_ASCII = /[\u0080-\uffff]/g;
const escapeChar = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** JSON text with every character beyond ASCII written as its `\u` escape (lone surrogates included: JSON.stringify escapes them already). */
export function asciiJson(text: string): string {
  return NON_ASCII.test(text) ? text.replace(EACH_NON_ASCII, escapeChar) : text;
}

const isStandInHolder = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && Object.hasOwn(v, BYTES_KEY);

/**
 * `value` as ASCII JSON text, its Uint8Arrays as stand-ins for `bytes` (theirs, one after the
 * other). Throws a TypeError when `value` is not JSON (a bigint, undefined) or holds an object with
 * the stand-in's key (a sidecar's own key could be one: such a value is not stored, never misread).
 */
export function encodeFrameJson(value: unknown): { text: string; bytes: Buffer } {
  const parts: Uint8Array[] = [];
  let at = 0;
  const text = JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    // (Buffer has a toJSON, called before this: `v` is then its { type, data }, `this[key]` the Buffer.)
    const raw = this[key];
    if (raw instanceof Uint8Array) {
      // Each at a multiple of 8 in the region (zeros between): a region that starts at one in its
      // file's buffer (tree-memo.ts) gives columns read in place (byte-order.ts columnOf).
      const pad = (BYTES_ALIGN - (at % BYTES_ALIGN)) % BYTES_ALIGN;
      if (pad > 0) parts.push(new Uint8Array(pad));
      at += pad;
      parts.push(raw);
      const ref = { [BYTES_KEY]: [at, raw.byteLength] };
      at += raw.byteLength;
      return ref;
    }
    if (isStandInHolder(v)) throw new TypeError('a value with the key of a byte string\'s stand-in');
    return v;
  }) as string | undefined;
  if (typeof text !== 'string') throw new TypeError('not JSON');
  return { text: asciiJson(text), bytes: Buffer.concat(parts, at) };
}

/** The JSON text of `buf` [from, to) parsed (latin1 when ASCII, as encodeFrameJson writes it; else UTF-8). Throws a SyntaxError on text that is not JSON. */
export function parseFrameText(buf: Buffer, from: number, to: number): unknown {
  const part = buf.subarray(from, to);
  return JSON.parse(isAscii(part) ? part.toString('latin1') : part.toString('utf8')) as unknown;
}

/**
 * `value` (parsed from a frame's text) with every stand-in replaced by its bytes in `bytes` (a
 * view, not a copy), in place; the value itself when it is one. Throws a TypeError on a stand-in
 * that is not one encodeFrameJson writes (other keys, a range outside `bytes`). Iterative: a deep
 * value crafted by hand is a TypeError of the caller's, never a stack overflow.
 */
export function restoreBytes(value: unknown, bytes: Buffer): unknown {
  const holder: Record<string, unknown> = { root: value };
  const stack: object[] = [holder];
  while (stack.length > 0) {
    const c = stack.pop() as Record<string, unknown> | unknown[];
    if (Array.isArray(c)) {
      for (let i = 0; i < c.length; i++) {
        const v = c[i];
        if (typeof v !== 'object' || v === null) continue;
        if (isStandInHolder(v)) c[i] = bytesOf(v, bytes);
        else stack.push(v);
      }
      continue;
    }
    for (const k of Object.keys(c)) {
      const v = c[k];
      if (typeof v !== 'object' || v === null) continue;
      // defineProperty: a "__proto__" key (JSON.parse makes it an own key) stays one.
      if (isStandInHolder(v)) Object.defineProperty(c, k, { value: bytesOf(v, bytes), writable: true, enumerable: true, configurable: true });
      else stack.push(v);
    }
  }
  return holder.root;
}

function bytesOf(standIn: Record<string, unknown>, bytes: Buffer): Buffer {
  const ref = standIn[BYTES_KEY];
  if (Object.keys(standIn).length !== 1 || !Array.isArray(ref) || ref.length !== 2) throw new TypeError('not a byte string\'s stand-in');
  const [at, len] = ref as unknown[];
  if (!Number.isSafeInteger(at) || !Number.isSafeInteger(len) || (at as number) < 0 || (len as number) < 0 || (at as number) + (len as number) > bytes.length) throw new TypeError('a byte string outside its region');
  return bytes.subarray(at as number, (at as number) + (len as number));
}
