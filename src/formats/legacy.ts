/**
 * The earlier tool's `.bin` / `.rkyv` layout (bincode of a string): an 8-byte little-endian
 * unsigned length N, then exactly N bytes of compact UTF-8 JSON text holding an object.
 * No magic number: it is recognised by the length field matching the file and a '{' at byte 8.
 */
import { errors } from '../errors.js';
import type { JsonObject } from '../types.js';
import { decodeJsonObject, encodeJsonText } from './json.js';

export const LEGACY_PREFIX_SIZE = 8;
const OPEN_BRACE = 0x7b;

/** The u64 LE length prefix as a Number (exact below 2^53, which any real file is). */
export function readLegacyLength(bytes: Uint8Array): number {
  const lo = (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
  const hi = (bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24)) >>> 0;
  return hi * 0x100000000 + lo;
}

/** The detection rule: length field == file length - 8 and byte 8 is '{'. */
export function isLegacy(bytes: Uint8Array): boolean {
  return (
    bytes.length > LEGACY_PREFIX_SIZE &&
    bytes[LEGACY_PREFIX_SIZE] === OPEN_BRACE &&
    readLegacyLength(bytes) === bytes.length - LEGACY_PREFIX_SIZE
  );
}

/**
 * When bytes look like a damaged legacy file, say precisely what is wrong; else undefined.
 * "Looks like": bytes 4..7 are NULs (the high half of a u64 length; JSON text never holds raw
 * NULs) and either the length matches but byte 8 is not '{', or byte 8 is '{' (or absent) but
 * the length does not match.
 */
export function legacyMismatchReason(bytes: Uint8Array): string | undefined {
  const len = bytes.length;
  if (len < LEGACY_PREFIX_SIZE || isLegacy(bytes)) return undefined;
  if (bytes[4] !== 0 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) return undefined;
  const declared = readLegacyLength(bytes);
  const actual = len - LEGACY_PREFIX_SIZE;
  if (declared === 0) return undefined; // NULs: not specific, the caller says what it is
  if (declared === actual) {
    const b = bytes[LEGACY_PREFIX_SIZE];
    return `starts like a legacy sidecar (u64 length ${declared} matches the file) but byte 8 is 0x${b.toString(16).padStart(2, '0')}, not '{'`;
  }
  if (len > LEGACY_PREFIX_SIZE && bytes[LEGACY_PREFIX_SIZE] !== OPEN_BRACE) return undefined;
  const how = declared > actual ? `truncated: ${declared - actual} bytes missing` : `${actual - declared} trailing bytes`;
  return `starts like a legacy sidecar (u64 length + JSON) but the length field says ${declared} bytes and ${actual} follow (${how})`;
}

export function decodeLegacy(bytes: Uint8Array, opts: { maxDepth: number; path?: string }): { data: JsonObject; notes: string[] } {
  if (!isLegacy(bytes)) {
    throw errors.corrupt(legacyMismatchReason(bytes) ?? 'not a legacy sidecar (u64 length + JSON object)', opts.path);
  }
  return decodeJsonObject(bytes, { maxDepth: opts.maxDepth, path: opts.path, start: LEGACY_PREFIX_SIZE, allowBom: false });
}

export function encodeLegacy(data: JsonObject, opts: { maxDepth: number; path?: string }): Buffer {
  const text = encodeJsonText(data, 0, { maxDepth: opts.maxDepth, path: opts.path, formatName: 'legacy' });
  const n = Buffer.byteLength(text, 'utf8');
  const file = Buffer.allocUnsafe(LEGACY_PREFIX_SIZE + n);
  file.writeUInt32LE(n >>> 0, 0);
  file.writeUInt32LE(Math.floor(n / 0x100000000), 4);
  file.write(text, LEGACY_PREFIX_SIZE, n, 'utf8');
  return file;
}
