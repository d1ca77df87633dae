/**
 * The bytes of one file's index entry and of a stored value, on the tasks floor: the thread that
 * reads a file makes its entry (index-entry.ts, entry-writer.ts), the index (incremental/store.ts)
 * reads and appends it, and neither imports the other's floor upwards.
 *
 *   entry:   u32 length | u32 CRC-32 of the rest | u8 table | u16 key length | key (UTF-8)
 *            | 40-byte identity (fs/identity.ts) | payload
 *   one-result file payload: u8 1 | u16 key number | u32 length | the result as stored
 *
 * A result as stored: the packed row and its escape (tasks/inspect-wire.ts, tag 0x01; one encoder,
 * index-entry.ts fileEntry, one decoder, storedResult). The index's other values (a folder's
 * records, listings, links) are a JSON text where JSON gives the value back exactly (it starts
 * with "{"), else a v8 serialization (tag 0xFF): `encodingOf` chooses, `decodeResult` reads them.
 * assembly/entries.ts writes the same frame (test/entry-writer.test.ts holds them equal).
 */
import { deserialize } from 'node:v8';
import { crc32 } from 'node:zlib';
import { IDENTITY_BYTES } from '../fs/identity.js';
import { writeUtf8 } from '../formats/value.js';

/** The index's tables (incremental/store.ts), by the number an entry's head names. */
export const TABLE_FILES = 0;
export const TABLE_DIRS = 1;
export const TABLE_LINKS = 2;
/** A folder's finished records per option set (incremental/folder-records.ts). */
export const TABLE_RECORDS = 3;

/** The longest key the format holds (its u16 length). */
export const MAX_KEY_BYTES = 0xffff;
/** Bytes of an entry before its key: u32 length | u32 CRC-32 | u8 table | u16 key length. */
export const ENTRY_HEAD = 11;
/** Bytes of a one-result file payload before the result: u8 count | u16 key number | u32 length. */
export const ONE_RESULT_HEAD = 7;

/** The most bytes a one-result file entry of `key` and this result can take (UTF-8: at most 3 bytes per UTF-16 unit). */
export function fileEntryBound(key: string, result: string | Uint8Array): number {
  return ENTRY_HEAD + 3 * key.length + IDENTITY_BYTES + ONE_RESULT_HEAD + (typeof result === 'string' ? 3 * result.length : result.length);
}

/**
 * Write a file entry of one result at `at` in `out` (room for `fileEntryBound` bytes): the very
 * bytes store.ts `addFile(key, id, keyNo, bytes)` appends (it writes them so), where `bytes` is the result as stored.
 * Returns the entry's length, or -1 when the key is too long for the format (never stored, as
 * `addFile` skips it).
 */
export function writeFileEntry(out: Buffer, at: number, key: string, id: Uint8Array, keyNo: number, result: Uint8Array, view = new DataView(out.buffer, out.byteOffset, out.length)): number {
  const r = beginFileEntry(out, view, at, key, id, keyNo);
  if (r < 0) return -1;
  out.set(result, r);
  return sealFileEntry(out, view, at, r + result.length);
}

/**
 * The first part of `writeFileEntry` (room for `fileEntryBound(key, '')` bytes; `view`: a DataView
 * of all of `out`): key, identity and the result's head. Returns where the result's bytes go, then
 * `sealFileEntry`; -1 when the key is too long for the format. A thread making entries writes a
 * packed result there in place. (assembly/entries.ts `writeEntry` writes the same frame for a
 * batch's rows; test/entry-writer.test.ts holds them equal.)
 */
export function beginFileEntry(out: Buffer, view: DataView, at: number, key: string, id: Uint8Array, keyNo: number): number {
  // The key by one native write, a DataView for the numbers: a reading thread runs this once per
  // file in V8's baseline tier, where a loop over the key's units or Buffer#write (JS, argument
  // checks) costs more than the bytes.
  const k = at + ENTRY_HEAD;
  if (key.length > MAX_KEY_BYTES) return -1;
  const kl = writeUtf8(out, key, k);
  if (kl > MAX_KEY_BYTES) return -1;
  view.setUint16(at + 9, kl, true);
  let p = k + kl;
  out.set(id.length === IDENTITY_BYTES ? id : id.subarray(0, IDENTITY_BYTES), p);
  p += IDENTITY_BYTES;
  out[p] = 1;
  view.setUint16(p + 1, keyNo, true);
  return p + ONE_RESULT_HEAD;
}

/** The end of the entry `beginFileEntry` began at `at`, whose result ends at `end`: lengths, table and CRC. Returns the entry's length. */
export function sealFileEntry(out: Buffer, view: DataView, at: number, end: number): number {
  const r = at + ENTRY_HEAD + view.getUint16(at + 9, true) + IDENTITY_BYTES + ONE_RESULT_HEAD;
  const len = end - at;
  view.setUint32(r - 4, end - r, true);
  view.setUint32(at, len, true);
  out[at + 8] = TABLE_FILES;
  // The CRC covers everything from byte 8. A plain view: a Buffer's subarray makes a FastBuffer, in
  // a thread's cold code the costliest step of an entry.
  // (Through the DataView of all of `out`: a typed array's `buffer` is a call into the runtime.)
  view.setUint32(at + 4, crc32(new Uint8Array(view.buffer, view.byteOffset + at + 8, len - 8)), true);
  return len;
}

/**
 * A stored value other than a result (a folder's record, a listing, a link): a v8 serialization (it
 * starts with the v8 format's version tag, 0xFF), or a JSON text where JSON gives the value back
 * exactly (it starts with "{": `encodingOf` below says when).
 */
export function decodeResult<T>(raw: Uint8Array): T | null {
  try {
    if (raw[0] === 0x7b) {
      const b = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.length);
      return JSON.parse(b.toString('utf8')) as T;
    }
    return deserialize(raw) as T;
  } catch {
    return null; // written by another Node version: a miss
  }
}

/**
 * How a value (a folder's record) can be stored: 'json' when JSON.parse gives back exactly this value (strings,
 * finite numbers other than -0, booleans, null, plain objects without undefined values, dense
 * arrays without other properties); 'v8' when only v8 keeps it (a bigint, -0, undefined, a view, a
 * Map...); null when it reaches some object twice (or by a cycle): v8 writes the second reference as a
 * back-reference numbered from the stream's start, which its bytes copied into another stream would
 * get wrong, and JSON would make it two objects. Views and other leaves count as objects; their
 * insides are not walked.
 */
export function encodingOf(value: unknown): 'json' | 'v8' | null {
  // The objects met: a list while they are few (a result holds a handful; a Set per call cost more
  // than the walk, on every entry of a first run), a Set past SEEN_LIST.
  const seenList: object[] = [];
  let seen: Set<object> | null = null;
  const stack: unknown[] = [value];
  let json = true;
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null) continue;
    switch (typeof v) {
      case 'string':
      case 'boolean':
        continue;
      case 'number':
        if (json && (!Number.isFinite(v) || Object.is(v, -0))) json = false;
        continue;
      case 'object':
        break;
      default:
        json = false; // undefined, bigint (functions and symbols do not get here: v8 refuses them)
        continue;
    }
    if (seen !== null) {
      if (seen.has(v)) return null;
      seen.add(v);
    } else {
      if (seenList.includes(v)) return null;
      seenList.push(v);
      if (seenList.length > SEEN_LIST) seen = new Set(seenList);
    }
    if (Array.isArray(v)) {
      if (json && (Object.getPrototypeOf(v) !== Array.prototype || Object.keys(v).length !== v.length)) json = false; // holes, other properties
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
    } else if (v instanceof Map) {
      json = false;
      for (const [k, x] of v) stack.push(k, x);
    } else if (v instanceof Set) {
      json = false;
      for (const x of v) stack.push(x);
    } else if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Date || v instanceof RegExp) {
      json = false;
    } else {
      const proto = Object.getPrototypeOf(v);
      if (json && proto !== Object.prototype && proto !== null) json = false; // an Error, a boxed primitive, a class
      for (const k in v) if (Object.hasOwn(v, k)) stack.push((v as Record<string, unknown>)[k]);
    }
  }
  return json ? 'json' : 'v8';
}

/** encodingOf's objects met, listed up to this many (then a Set). */
const SEEN_LIST = 24;
