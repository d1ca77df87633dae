/**
 * The `.bin` / `.rkyv` container (see docs/FORMAT.md):
 *
 *   0..3   magic 89 49 53 43 ("\x89ISC")
 *   4      format version (1)
 *   5      flags: bit0 = aligned layout (.rkyv); bit1 = encrypted (src/formats/encrypted-bin.ts); others 0
 *   6..7   zero
 *   8..11  body length, u32 little endian (= file length - 16)
 *   12..15 CRC-32 (zlib) of the body, u32 little endian
 *   16..   body: one CBOR map (cbor.ts)
 */
import { crc32 } from 'node:zlib';
import { errors } from '../errors.js';
import type { DecodeResult, JsonObject } from '../types.js';
import { decodeCborItem, encodeCborInto } from './cbor.js';

export const BIN_MAGIC: readonly number[] = [0x89, 0x49, 0x53, 0x43];
export const BIN_HEADER_SIZE = 16;
export const BIN_VERSION = 1;
/** Flag bit 0: every tag-86 payload starts at a file offset that is a multiple of 8. */
export const BIN_FLAG_ALIGNED = 0x01;
/** Flag bit 1: the body is an encryption header + AES-256-GCM ciphertext (src/formats/encrypted-bin.ts). */
export const BIN_FLAG_ENCRYPTED = 0x02;
const KNOWN_FLAGS = BIN_FLAG_ALIGNED | BIN_FLAG_ENCRYPTED;

/** True when the bytes start with the magic number (or are a non-empty prefix of it). */
export function startsWithBinMagic(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 4);
  if (n === 0) return false;
  for (let i = 0; i < n; i++) if (bytes[i] !== BIN_MAGIC[i]) return false;
  return true;
}

const hex32 = (n: number) => '0x' + n.toString(16).padStart(8, '0');

/** Encode a sidecar as `.bin` (aligned = false) or `.rkyv` (aligned = true). */
export function encodeBin(data: JsonObject, opts: { aligned: boolean; maxDepth: number; path?: string }): Buffer {
  const scratch = encodeCborInto(data, {
    maxDepth: opts.maxDepth,
    alignFloats: opts.aligned,
    reserve: BIN_HEADER_SIZE,
    path: opts.path,
    formatName: opts.aligned ? 'rkyv' : 'bin',
  });
  const file = Buffer.allocUnsafe(scratch.length);
  file.set(scratch);
  const bodyLength = file.length - BIN_HEADER_SIZE;
  file[0] = BIN_MAGIC[0];
  file[1] = BIN_MAGIC[1];
  file[2] = BIN_MAGIC[2];
  file[3] = BIN_MAGIC[3];
  file[4] = BIN_VERSION;
  file[5] = opts.aligned ? BIN_FLAG_ALIGNED : 0;
  file[6] = 0;
  file[7] = 0;
  file.writeUInt32LE(bodyLength, 8);
  file.writeUInt32LE(crc32(file.subarray(BIN_HEADER_SIZE)), 12);
  return file;
}

/**
 * Check the header; returns the flags. Every failure names what is wrong and where, because
 * these messages end up in validation reports.
 */
export function readBinHeader(bytes: Uint8Array, path?: string): { flags: number; bodyLength: number } {
  const len = bytes.length;
  if (len < BIN_HEADER_SIZE) {
    throw errors.corrupt(`truncated bin header: ${len} of ${BIN_HEADER_SIZE} bytes`, path);
  }
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== BIN_MAGIC[i]) throw errors.corrupt(`bad magic number at byte ${i}`, path);
  }
  const version = bytes[4];
  if (version !== BIN_VERSION) {
    throw errors.corrupt(`unsupported bin format version ${version} at byte 4 (this reader knows version ${BIN_VERSION})`, path);
  }
  const flags = bytes[5];
  if ((flags & ~KNOWN_FLAGS) !== 0) {
    throw errors.corrupt(`unknown flags 0x${flags.toString(16).padStart(2, '0')} at byte 5`, path);
  }
  if ((flags & BIN_FLAG_ENCRYPTED) !== 0 && (flags & BIN_FLAG_ALIGNED) !== 0) {
    throw errors.corrupt('flags 0x03 at byte 5: an encrypted file has no aligned layout', path);
  }
  if (bytes[6] !== 0 || bytes[7] !== 0) throw errors.corrupt('reserved header bytes 6..7 are not zero', path);
  const bodyLength = (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (bytes[11] << 24)) >>> 0;
  const actual = len - BIN_HEADER_SIZE;
  if (bodyLength > actual) {
    throw errors.corrupt(`truncated: the header says the body is ${bodyLength} bytes but only ${actual} follow it`, path);
  }
  if (bodyLength < actual) {
    throw errors.corrupt(
      `${actual - bodyLength} trailing bytes after the ${bodyLength}-byte body (from byte ${BIN_HEADER_SIZE + bodyLength})`,
      path,
    );
  }
  const stored = (bytes[12] | (bytes[13] << 8) | (bytes[14] << 16) | (bytes[15] << 24)) >>> 0;
  const computed = crc32(bytes.subarray(BIN_HEADER_SIZE));
  if (stored !== computed) {
    throw errors.corrupt(`checksum mismatch: the header says CRC-32 ${hex32(stored)}, the body has ${hex32(computed)}`, path);
  }
  return { flags, bodyLength };
}

/** Decode a `.bin` / `.rkyv` file (the whole file's bytes). */
export function decodeBin(bytes: Uint8Array, opts: { maxDepth: number; path?: string }): DecodeResult {
  const { flags } = readBinHeader(bytes, opts.path);
  if (flags & BIN_FLAG_ENCRYPTED) throw errors.internal('decodeBin called on an encrypted file (the codec decrypts first)');
  const { data, notes } = decodeBinBody(bytes, BIN_HEADER_SIZE, opts);
  return { data, format: flags & BIN_FLAG_ALIGNED ? 'rkyv' : 'bin', notes };
}

/** Decode the CBOR body that starts at `start` (a plain file's byte 16, or a decrypted body's byte 0). */
export function decodeBinBody(bytes: Uint8Array, start: number, opts: { maxDepth: number; path?: string }): { data: JsonObject; notes: string[] } {
  const { value, notes } = decodeCborItem(bytes, start, bytes.length, opts);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const what = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw errors.corrupt(`top-level CBOR item at byte ${start} is ${what}, expected a map`, opts.path);
  }
  return { data: value, notes };
}
