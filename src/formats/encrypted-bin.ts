/**
 * The encrypted `.bin` container (docs/FORMAT.md, "encrypted bin"): the 16-byte bin header with
 * flag bit 1 set, a 44-byte encryption header (cipher, key descriptor, key id, salt, 96-bit
 * nonce), the AES-256-GCM ciphertext of the plain bin body (CBOR), and the 16-byte tag.
 *
 *   16  1  cipher           01 = AES-256-GCM
 *   17  1  key kind         01 = key file, 02 = scrypt passphrase
 *   18  3  scrypt log2 N, r, p (zero for a key file)
 *   21  3  reserved         00 00 00
 *   24  8  key id           HKDF-SHA256(key, "image-sidecar key id v1")[0..8]
 *   32 16  scrypt salt      (zero for a key file)
 *   48 12  nonce            fresh random bytes for every write
 *   60  n  ciphertext
 * 60+n 16  GCM tag
 *
 * Additional authenticated data: bytes 0..11 (magic, version, flags, reserved, body length) and
 * 16..59 (the whole encryption header). The CRC-32 at 12..15 covers bytes 16..end like any bin
 * file's, so damage is found without a key; it cannot be authenticated itself (it depends on the
 * tag), but it is always checked, so a flip there is refused as well.
 *
 * Decryption returns nothing until the tag has verified: never partial plaintext.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { errors, isSidecarError } from '../errors.js';
import { BIN_FLAG_ENCRYPTED, BIN_HEADER_SIZE, readBinHeader } from './bin.js';
import { checkScryptParams, derivedKeyFor, KEY_ID_BYTES, SALT_BYTES } from '../crypto/keys.js';
import type { KeyDescriptor, Keyring, SidecarKey } from '../types.js';

export const CIPHER_AES_256_GCM = 0x01;
export const KEY_KIND_FILE = 0x01;
export const KEY_KIND_SCRYPT = 0x02;
export const ENC_HEADER_SIZE = 44;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Offsets inside the file. */
const O_CIPHER = 16;
const O_KIND = 17;
const O_PARAMS = 18;
const O_RESERVED = 21;
const O_KEY_ID = 24;
const O_SALT = 32;
const O_NONCE = 48;
const O_DATA = BIN_HEADER_SIZE + ENC_HEADER_SIZE; // 60
/** One options object for every cipher (a literal per call is garbage on the read path). */
const GCM_OPTIONS = Object.freeze({ authTagLength: TAG_BYTES });
/** Everything an encrypted file has besides the ciphertext. */
export const ENCRYPTION_OVERHEAD = ENC_HEADER_SIZE + TAG_BYTES;

export function isEncryptedBin(bytes: Uint8Array): boolean {
  return bytes.length >= BIN_HEADER_SIZE && bytes[0] === 0x89 && bytes[1] === 0x49 && bytes[2] === 0x53 && bytes[3] === 0x43 && (bytes[5] & BIN_FLAG_ENCRYPTED) !== 0;
}

function aadOf(file: Uint8Array): Buffer {
  const aad = Buffer.allocUnsafe(12 + ENC_HEADER_SIZE);
  aad.set(file.subarray(0, 12), 0);
  aad.set(file.subarray(BIN_HEADER_SIZE, O_DATA), 12);
  return aad;
}

/**
 * Encrypt a plain `.bin` file (header + CBOR body, as encodeBin makes it) under `key`.
 * `nonceForTestVector` exists only to reproduce the documented test vector: every real write
 * draws a fresh random nonce.
 */
export function encryptBin(plainFile: Uint8Array, key: SidecarKey, nonceForTestVector?: Uint8Array): Buffer {
  const body = plainFile.subarray(BIN_HEADER_SIZE);
  const n = body.length;
  const out = Buffer.allocUnsafe(O_DATA + n + TAG_BYTES);
  out.set(plainFile.subarray(0, 4), 0); // magic
  out[4] = plainFile[4]; // version
  out[5] = BIN_FLAG_ENCRYPTED;
  out[6] = 0;
  out[7] = 0;
  out.writeUInt32LE(out.length - BIN_HEADER_SIZE, 8);
  out.fill(0, O_CIPHER, O_NONCE);
  out[O_CIPHER] = CIPHER_AES_256_GCM;
  const d = key.descriptor;
  if (d.kind === 'scrypt') {
    out[O_KIND] = KEY_KIND_SCRYPT;
    out[O_PARAMS] = d.logN;
    out[O_PARAMS + 1] = d.r;
    out[O_PARAMS + 2] = d.p;
    const salt = Buffer.from(d.salt, 'hex');
    if (salt.length !== SALT_BYTES) throw errors.internal('bad salt length in a key descriptor');
    out.set(salt, O_SALT);
  } else {
    out[O_KIND] = KEY_KIND_FILE;
  }
  const id = Buffer.from(key.id, 'hex');
  if (id.length !== KEY_ID_BYTES) throw errors.internal('bad key id length');
  out.set(id, O_KEY_ID);
  if (nonceForTestVector) {
    if (nonceForTestVector.length !== NONCE_BYTES) throw errors.usage(`a nonce is ${NONCE_BYTES} bytes`);
    out.set(nonceForTestVector, O_NONCE);
  } else {
    randomFillSync(out, O_NONCE, NONCE_BYTES);
  }
  const cipher = createCipheriv('aes-256-gcm', key.key, out.subarray(O_NONCE, O_DATA), GCM_OPTIONS);
  cipher.setAAD(aadOf(out));
  const ct = cipher.update(body);
  const tail = cipher.final(); // empty for GCM, kept for form
  out.set(ct, O_DATA);
  out.set(tail, O_DATA + ct.length);
  out.set(cipher.getAuthTag(), O_DATA + n);
  out.writeUInt32LE(crc32(out.subarray(BIN_HEADER_SIZE)), 12);
  return out;
}

export interface EncryptionInfo {
  keyId: string;
  keyKind: 'file' | 'scrypt';
}

/** Two hex digits per byte value: key ids and salts become strings without a copy of the bytes. */
const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX_BYTE[b[i]];
  return s;
}

/** Parse and check the encryption header (no key needed). Throws CORRUPT. */
export function readEncryptionHeader(bytes: Uint8Array, path?: string): EncryptionInfo & { descriptor: KeyDescriptor } {
  const { flags } = readBinHeader(bytes, path);
  if ((flags & BIN_FLAG_ENCRYPTED) === 0) throw errors.corrupt('not an encrypted bin file', path);
  if (bytes.length < O_DATA + TAG_BYTES) {
    throw errors.corrupt(`truncated encryption header: ${bytes.length} bytes, an encrypted file has at least ${O_DATA + TAG_BYTES}`, path);
  }
  if (bytes[O_CIPHER] !== CIPHER_AES_256_GCM) throw errors.corrupt(`unknown cipher 0x${bytes[O_CIPHER].toString(16).padStart(2, '0')} at byte ${O_CIPHER}`, path);
  for (let i = O_RESERVED; i < O_KEY_ID; i++) if (bytes[i] !== 0) throw errors.corrupt(`reserved encryption header byte ${i} is not zero`, path);
  const keyId = hex(bytes.subarray(O_KEY_ID, O_KEY_ID + KEY_ID_BYTES));
  const kind = bytes[O_KIND];
  if (kind === KEY_KIND_FILE) {
    for (let i = O_PARAMS; i < O_PARAMS + 3; i++) if (bytes[i] !== 0) throw errors.corrupt(`scrypt parameter byte ${i} is not zero for a key-file key`, path);
    for (let i = O_SALT; i < O_SALT + SALT_BYTES; i++) if (bytes[i] !== 0) throw errors.corrupt(`salt byte ${i} is not zero for a key-file key`, path);
    return { keyId, keyKind: 'file', descriptor: { kind: 'file' } };
  }
  if (kind === KEY_KIND_SCRYPT) {
    const [logN, r, p] = [bytes[O_PARAMS], bytes[O_PARAMS + 1], bytes[O_PARAMS + 2]];
    const bad = checkScryptParams(logN, r, p);
    if (bad !== null) throw errors.corrupt(`scrypt parameters out of range at byte ${O_PARAMS} (${bad})`, path);
    return { keyId, keyKind: 'scrypt', descriptor: { kind: 'scrypt', logN, r, p, salt: hex(bytes.subarray(O_SALT, O_SALT + SALT_BYTES)) } };
  }
  throw errors.corrupt(`unknown key kind 0x${kind.toString(16).padStart(2, '0')} at byte ${O_KIND}`, path);
}

function sameDescriptor(a: KeyDescriptor, b: KeyDescriptor): boolean {
  if (a.kind === 'file' || b.kind === 'file') return a.kind === b.kind;
  return a.logN === b.logN && a.r === b.r && a.p === b.p && a.salt === b.salt;
}

/** The key of the keyring that this file names, or a CORRUPT "authentication failed" error. */
function keyFor(info: EncryptionInfo & { descriptor: KeyDescriptor }, ring: Keyring, path?: string): SidecarKey {
  for (const k of ring.keys) if (k.id === info.keyId && sameDescriptor(k.descriptor, info.descriptor)) return k;
  if (info.descriptor.kind === 'scrypt' && ring.passphrase) {
    const k = derivedKeyFor(ring.passphrase, info.descriptor);
    if (k.id === info.keyId) return k;
    throw errors.noKeyFor(info.keyId, `wrong passphrase (the file's key id is ${info.keyId}; the passphrase gives ${k.id})`, path);
  }
  const have = ring.keys.map((k) => k.id).join(', ') || 'none';
  throw errors.noKeyFor(info.keyId, `wrong key (the file's key id is ${info.keyId}; the given key id is ${have})`, path);
}

const authFailed = (detail: string, path?: string) => errors.corrupt(`authentication failed: ${detail}`, path);

/**
 * Decrypt an encrypted bin file. Returns the plaintext CBOR body (a new buffer) and the key used.
 * Every failure with a key in hand is CORRUPT "authentication failed: …".
 */
export function decryptBin(bytes: Uint8Array, ring: Keyring, path?: string): { body: Buffer; key: SidecarKey; info: EncryptionInfo } {
  let header: EncryptionInfo & { descriptor: KeyDescriptor };
  try {
    header = readEncryptionHeader(bytes, path);
  } catch (e) {
    if (isSidecarError(e) && e.code === 'CORRUPT') throw authFailed(e.message.slice(path ? path.length + 2 : 0), path);
    throw e;
  }
  const key = keyFor(header, ring, path);
  const end = bytes.length - TAG_BYTES;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, bytes.subarray(O_NONCE, O_DATA), GCM_OPTIONS);
    decipher.setAAD(aadOf(bytes));
    decipher.setAuthTag(bytes.subarray(end));
    const body = decipher.update(bytes.subarray(O_DATA, end));
    const tail = decipher.final(); // throws when the tag does not verify: `body` is then dropped
    return { body: tail.length ? Buffer.concat([body, tail]) : body, key, info: { keyId: header.keyId, keyKind: header.keyKind } };
  } catch (e) {
    if (isSidecarError(e)) throw e;
    throw authFailed('the file was modified or the key is wrong (GCM tag mismatch)', path);
  }
}
