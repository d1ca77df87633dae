/**
 * The formats layer's only entry points. Other modules encode and decode sidecars through
 * `encodeSidecar` / `decodeSidecar` and never reach into json/cbor/bin/legacy directly.
 *
 * Guarantee: whatever the input bytes, only SidecarError (CORRUPT, TOO_DEEP, TOO_LARGE) comes
 * out of decodeSidecar; a foreign exception (a bug, or a stack overflow under an absurd depth
 * limit) is wrapped, never passed through.
 */
import { errors, SidecarError } from '../errors.js';
import type { DecodeResult, FormatName, JsonObject, SidecarFormat, Keyring, SidecarKey } from '../types.js';
import { FORMAT_ALIASES, FORMAT_NAMES, SIDECAR_FORMATS } from '../vocabulary.js';
import { decodeBin, decodeBinBody, encodeBin, startsWithBinMagic } from './bin.js';
import { decryptBin, encryptBin, isEncryptedBin, readEncryptionHeader, type EncryptionInfo } from './encrypted-bin.js';
import { decodeJsonObject, encodeJsonText } from './json.js';
import { decodeLegacy, encodeLegacy, isLegacy, legacyMismatchReason } from './legacy.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_FILE_SIZE, describeJsonType, findInvalidUtf8, stackExhausted } from './value.js';

export { canonicalJson, canonicalJsonChunks } from './canonical.js';
export { binEncodedSize } from './cbor.js';
export { detectFormat } from './detect.js';
export { checkDepth, deepEqualJson, DEFAULT_MAX_DEPTH, DEFAULT_MAX_FILE_SIZE } from './value.js';

export interface EncodeOptions {
  /** Only for error messages. */
  path?: string;
  /** Nesting limit (default 512). */
  maxDepth?: number;
  /** Encrypt under this key (bin only; a fresh random nonce every call). */
  encryptWith?: SidecarKey;
}

export interface DecodeOptions {
  /** Only for error messages. */
  path?: string;
  /** Nesting limit (default 512). */
  maxDepth?: number;
  /** Larger inputs are rejected as TOO_LARGE before anything else (default 64 MiB). */
  maxFileSize?: number;
  /** Keys for encrypted files; without one an encrypted file is an ENCRYPTED error. */
  keyring?: Keyring;
}

/** What decodeSidecar returns: the decoded data, plus how the file was encrypted (if it was). */
export interface DecodedSidecar extends DecodeResult {
  encryption?: EncryptionInfo & { key: SidecarKey };
}

/** Every accepted name → its format (vocabulary.ts: the formats and their aliases). */
const FORMAT_BY_NAME: Readonly<Record<string, SidecarFormat>> = Object.freeze({
  ...Object.fromEntries(SIDECAR_FORMATS.map((f) => [f, f])),
  ...FORMAT_ALIASES,
});

/** `binary` -> `bin`; anything unknown is a USAGE error. */
export function normalizeFormat(format: FormatName | string): SidecarFormat {
  const f = Object.prototype.hasOwnProperty.call(FORMAT_BY_NAME, format) ? FORMAT_BY_NAME[format] : undefined;
  if (f === undefined) throw errors.usage(`unknown format ${JSON.stringify(format)} (expected ${FORMAT_NAMES.join(', ')})`);
  return f;
}

function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /call stack/i.test(e.message);
}

function foreignMessage(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Encode a sidecar object in the given format. */
export function encodeSidecar(data: JsonObject, format: FormatName, opts: EncodeOptions = {}): Buffer {
  const fmt = normalizeFormat(format);
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const path = opts.path;
  try {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw errors.unrepresentable(fmt, `the top-level value must be an object, not ${describeJsonType(data)}`, path);
    }
    if (opts.encryptWith) {
      if (fmt !== 'bin') throw errors.usage(`only the bin format can be encrypted, not ${fmt}`);
      return encryptBin(encodeBin(data, { aligned: false, maxDepth, path }), opts.encryptWith);
    }
    switch (fmt) {
      case 'json':
        return Buffer.from(encodeJsonText(data, 2, { maxDepth, path, formatName: 'json' }), 'utf8');
      case 'bin':
        return encodeBin(data, { aligned: false, maxDepth, path });
      case 'rkyv':
        return encodeBin(data, { aligned: true, maxDepth, path });
      case 'legacy':
        return encodeLegacy(data, { maxDepth, path });
    }
  } catch (e) {
    if (e instanceof SidecarError) throw e;
    if (isStackOverflow(e)) throw stackExhausted(maxDepth, path);
    throw errors.internal(`${path ? path + ': ' : ''}could not encode as ${fmt}: ${foreignMessage(e)}`, e);
  }
}

/** Decode sidecar bytes; the format is detected from the content. */
export function decodeSidecar(bytes: Uint8Array, opts: DecodeOptions = {}): DecodedSidecar {
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxFileSize = opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const path = opts.path;
  if (bytes.length > maxFileSize) throw errors.tooLarge(bytes.length, maxFileSize, path);
  try {
    if (isEncryptedBin(bytes)) return decodeEncrypted(bytes, maxDepth, opts.keyring, path);
    return decodeDetected(bytes, maxDepth, path);
  } catch (e) {
    if (e instanceof SidecarError) throw e;
    if (isStackOverflow(e)) throw stackExhausted(maxDepth, path);
    throw errors.corrupt(`could not decode: ${foreignMessage(e)}`, path, e);
  }
}

/**
 * Encrypted bin: without a key, ENCRYPTED (after the header and CRC checks: a damaged file is
 * CORRUPT either way); with one, authenticate and decrypt, then decode the plaintext body.
 */
function decodeEncrypted(bytes: Uint8Array, maxDepth: number, keyring: Keyring | undefined, path?: string): DecodedSidecar {
  if (!keyring) throw errors.encrypted(readEncryptionHeader(bytes, path).keyId, path);
  const { body, key, info } = decryptBin(bytes, keyring, path);
  const { data, notes } = decodeBinBody(body, 0, { maxDepth, path });
  return { data, format: 'bin', notes, encryption: { keyId: info.keyId, keyKind: info.keyKind, key } };
}

function decodeDetected(bytes: Uint8Array, maxDepth: number, path?: string): DecodeResult {
  if (bytes.length === 0) throw errors.corrupt('empty file', path);
  if (startsWithBinMagic(bytes)) return decodeBin(bytes, { maxDepth, path });
  if (isLegacy(bytes)) {
    const { data, notes } = decodeLegacy(bytes, { maxDepth, path });
    return { data, format: 'legacy', notes };
  }
  const reason = legacyMismatchReason(bytes) ?? binaryStartReason(bytes);
  if (reason !== undefined) throw errors.corrupt(`not a known sidecar format: ${reason}`, path);
  const { data, notes } = decodeJsonObject(bytes, { maxDepth, path });
  return { data, format: 'json', notes };
}

/**
 * Bytes that cannot start JSON text (control characters, bytes that start no UTF-8 sequence,
 * UTF-16 byte order marks) get a
 * "not a known sidecar format" message instead of a JSON syntax error at byte 0.
 */
function binaryStartReason(bytes: Uint8Array): string | undefined {
  const len = bytes.length;
  let i = len >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < len && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (i >= len) return undefined; // empty or blank text: the JSON decoder says so
  const c = bytes[i];
  if ((c === 0xff && bytes[i + 1] === 0xfe) || (c === 0xfe && bytes[i + 1] === 0xff)) {
    return 'starts with a UTF-16 byte order mark (sidecars are UTF-8)';
  }
  const text = c >= 0x80 ? findInvalidUtf8(bytes, i, Math.min(len, i + 4)) !== i : c >= 0x20 && c !== 0x7f;
  // JSON text never holds a raw NUL; binary headers usually do.
  if (text && !bytes.subarray(i, i + 8).includes(0)) return undefined;
  let allZero = true;
  for (let k = 0; k < len && allZero; k++) allZero = bytes[k] === 0;
  if (allZero) return `all ${len} bytes are zero`;
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `binary data (first bytes ${head}${len > 8 ? ' …' : ''})`;
}
