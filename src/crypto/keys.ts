/**
 * Keys for encrypted sidecars (docs/FORMAT.md, "encrypted bin").
 *
 * Secret material only ever lives in `KeyObject`s: they cross worker threads by postMessage, but
 * `JSON.stringify` turns them into `{}` and `util.inspect` shows no bytes, so an options object
 * that ends up in a log or an error report cannot leak a key or a passphrase.
 *
 * Two kinds of key:
 *  - a key file: exactly 32 random bytes (`image-sidecar keygen -o FILE`, mode 0600);
 *  - a passphrase: scrypt(passphrase, salt, N, r, p) → 32 bytes; salt and parameters are stored in
 *    every file's key descriptor, so any reader with the passphrase can derive the key again.
 * A key's id is HKDF-SHA256(key, info "image-sidecar key id v1") truncated to 8 bytes: public, it
 * tells a wrong key from a damaged file without revealing anything about the key.
 */
import { closeSync, constants, fsyncSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { createHash, createSecretKey, hkdfSync, randomBytes, scryptSync, type KeyObject } from 'node:crypto';
import { errors } from '../errors.js';
import type { KeyDescriptor, SidecarKey, Keyring } from '../types.js';

export const KEY_BYTES = 32;
export const KEY_ID_BYTES = 8;
export const SALT_BYTES = 16;
/** scrypt defaults for new passphrase keys: N = 2^15, r = 8, p = 1 (32 MiB, ~0.1 s). */
export const SCRYPT_DEFAULTS = { logN: 15, r: 8, p: 1 } as const;
/** What a file may ask for: enough to stay strong, bounded so a hostile header cannot exhaust us. */
export const SCRYPT_LIMITS = { logN: [15, 20], r: [1, 16], p: [1, 4] } as const;

const KEY_ID_INFO = Buffer.from('image-sidecar key id v1', 'utf8');

export function keyIdOf(key: KeyObject | Uint8Array): string {
  const raw = key instanceof Uint8Array ? key : key.export();
  return Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), KEY_ID_INFO, KEY_ID_BYTES)).toString('hex');
}

/** A key from its 32 raw bytes (the bytes are copied into a KeyObject; wipe yours afterwards). */
export function keyFromBytes(raw: Uint8Array): SidecarKey {
  if (raw.length !== KEY_BYTES) throw errors.usage(`a key is ${KEY_BYTES} bytes, not ${raw.length}`);
  return { id: keyIdOf(raw), key: createSecretKey(Buffer.from(raw)), descriptor: { kind: 'file' } };
}

/**
 * Together, N, r and p are bounded too: each alone within its range still let a file ask for
 * N = 2^20, r = 16, p = 4 — 2 GiB of memory and ~23 s per file for any reader given a passphrase,
 * so a few hostile files could exhaust a machine's memory across worker threads.
 * scrypt's memory is 128·N·r bytes (at most 256 MiB here) and its work N·r·p block mixes (at most
 * 16× the default's, ~1.5 s): the default (2^15, 8, 1) uses 32 MiB, OWASP's (2^17, 8, 1) 128 MiB.
 */
export const SCRYPT_MAX_MEMORY = 256 * 1024 * 1024;
export const SCRYPT_MAX_WORK = 2 ** 22;

/** Why these scrypt parameters are refused, or null (one rule: key derivation and the file header). */
export function checkScryptParams(logN: number, r: number, p: number): string | null {
  const ok = (v: number, [lo, hi]: readonly [number, number]) => Number.isInteger(v) && v >= lo && v <= hi;
  if (!ok(logN, SCRYPT_LIMITS.logN)) return `scrypt N = 2^${logN} is outside 2^15..2^20`;
  if (!ok(r, SCRYPT_LIMITS.r)) return `scrypt r = ${r} is outside 1..16`;
  if (!ok(p, SCRYPT_LIMITS.p)) return `scrypt p = ${p} is outside 1..4`;
  const N = 2 ** logN;
  if (128 * N * r > SCRYPT_MAX_MEMORY) return `scrypt N = 2^${logN}, r = ${r} needs ${(128 * N * r) / 2 ** 20} MiB, over ${SCRYPT_MAX_MEMORY / 2 ** 20} MiB`;
  if (N * r * p > SCRYPT_MAX_WORK) return `scrypt N = 2^${logN}, r = ${r}, p = ${p} is more work than 2^22 (N·r·p)`;
  return null;
}

/** scrypt → key. Throws USAGE for parameters outside the limits (callers decoding a file map it to CORRUPT). */
export function deriveScryptKey(passphrase: KeyObject | string, params: { logN: number; r: number; p: number; salt: Uint8Array }): SidecarKey {
  const bad = checkScryptParams(params.logN, params.r, params.p);
  if (bad) throw errors.usage(bad);
  const pass = typeof passphrase === 'string' ? Buffer.from(passphrase, 'utf8') : passphrase.export();
  const N = 2 ** params.logN;
  const raw = scryptSync(pass, params.salt, KEY_BYTES, { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + (1 << 20) });
  try {
    const { id, key } = keyFromBytes(raw);
    return { id, key, descriptor: { kind: 'scrypt', logN: params.logN, r: params.r, p: params.p, salt: Buffer.from(params.salt).toString('hex') } };
  } finally {
    raw.fill(0);
    if (typeof passphrase === 'string') pass.fill(0);
  }
}

// Derived keys per thread, so a tree written under one salt costs one scrypt per thread, not per
// file. Keyed by a digest of passphrase + salt + parameters (memory only).
const derivedCache = new Map<string, SidecarKey>();
const MAX_CACHED = 64;

export function derivedKeyFor(passphrase: KeyObject, d: Extract<KeyDescriptor, { kind: 'scrypt' }>): SidecarKey {
  const h = createHash('sha256').update(passphrase.export()).update(`\0${d.salt}\0${d.logN}\0${d.r}\0${d.p}`).digest('hex');
  let k = derivedCache.get(h);
  if (!k) {
    k = deriveScryptKey(passphrase, { logN: d.logN, r: d.r, p: d.p, salt: Buffer.from(d.salt, 'hex') });
    if (derivedCache.size >= MAX_CACHED) derivedCache.delete(derivedCache.keys().next().value!);
    derivedCache.set(h, k);
  }
  return k;
}

/** The salt of `passphraseId`: fixed, so every process gets the same id for one passphrase. */
const PASSPHRASE_ID_SALT = createHash('sha256').update('image-sidecar passphrase id v1').digest().subarray(0, SALT_BYTES).toString('hex');

/**
 * A public id of a passphrase, the same in every process (a keyring's own key has a random salt,
 * so its id differs from run to run): the key id of scrypt(passphrase, fixed salt, default
 * parameters). As public as the key id in any file it encrypted, and as costly to guess from.
 */
export function passphraseId(passphrase: KeyObject): string {
  return derivedKeyFor(passphrase, { kind: 'scrypt', ...SCRYPT_DEFAULTS, salt: PASSPHRASE_ID_SALT }).id;
}

/**
 * What a keyring can decrypt, as public ids that are the same in every process: the ids of its
 * keys, without the ones its passphrase made for this process (their salt is random: a new id in
 * every run), and the passphrase's id (it derives the key of any file it reads, whatever the
 * salt). What results depend on: the shard header's options and the index's options key record it.
 */
export function keyringIds(ring: Keyring): { keys: string[]; passphrase: string | null } {
  const keys = ring.keys.filter((k) => !(ring.passphrase && k.descriptor.kind === 'scrypt')).map((k) => k.id).sort();
  return { keys, passphrase: ring.passphrase ? passphraseId(ring.passphrase) : null };
}

/** A keyring for a passphrase: a fresh salt for what it encrypts; other salts derived when read. */
export function passphraseKeyring(passphrase: string, opts: { logN?: number; r?: number; p?: number; salt?: Uint8Array } = {}): Keyring {
  if (typeof passphrase !== 'string' || passphrase.length === 0) throw errors.usage('the passphrase is empty');
  const pass = createSecretKey(Buffer.from(passphrase, 'utf8'));
  const d = {
    kind: 'scrypt' as const,
    logN: opts.logN ?? SCRYPT_DEFAULTS.logN,
    r: opts.r ?? SCRYPT_DEFAULTS.r,
    p: opts.p ?? SCRYPT_DEFAULTS.p,
    salt: Buffer.from(opts.salt ?? randomBytes(SALT_BYTES)).toString('hex'),
  };
  if (Buffer.from(d.salt, 'hex').length !== SALT_BYTES) throw errors.usage(`a salt is ${SALT_BYTES} bytes`);
  return { keys: [derivedKeyFor(pass, d)], encryptWith: 0, passphrase: pass };
}

/** O_NOFOLLOW is not used: a key file may well be a symlink into a secrets mount. */
function readKeyBytes(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw errors.fromFs(e, path);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw errors.notRegularFile(path);
    // Raw 32 bytes, or 64 hex digits with an optional line end (e.g. `openssl rand -hex 32`).
    if (st.size > 80) throw errors.usage(`${path}: not a key file (${st.size} bytes; a key file holds ${KEY_BYTES} bytes)`);
    const buf = Buffer.alloc(81);
    let n = 0;
    for (let r; (r = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += r;
    const raw = buf.subarray(0, n);
    if (n === KEY_BYTES) return Buffer.from(raw);
    const text = raw.toString('latin1').replace(/\r?\n$/, '');
    if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
    // Never echo the content: it may be a key in some other encoding.
    throw errors.usage(`${path}: not a key file (${n} bytes; expected ${KEY_BYTES} raw bytes or 64 hex digits)`);
  } catch (e) {
    throw errors.fromFs(e, path);
  } finally {
    closeSync(fd);
  }
}

/** Load a key file into a keyring that encrypts with it. */
export function loadKeyFile(path: string): Keyring {
  const raw = readKeyBytes(path);
  try {
    return { keys: [keyFromBytes(raw)], encryptWith: 0 };
  } finally {
    raw.fill(0);
  }
}

/** Write a new random key file with mode 0600; refuses to overwrite anything. Returns the key id. */
export function generateKeyFile(path: string): { path: string; keyId: string } {
  const raw = randomBytes(KEY_BYTES);
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw errors.usage(`refusing to overwrite ${path}: it already exists`);
    throw errors.fromFs(e, path);
  }
  try {
    writeSync(fd, raw);
    fsyncSync(fd);
    return { path, keyId: keyIdOf(raw) };
  } catch (e) {
    throw errors.fromFs(e, path);
  } finally {
    closeSync(fd);
    raw.fill(0);
  }
}

/** Keys of both keyrings (`a` encrypts; `b`'s keys and passphrase still decrypt). */
export function mergeKeyrings(a: Keyring, b: Keyring | undefined): Keyring {
  if (!b) return a;
  const keys = [...a.keys];
  for (const k of b.keys) if (!keys.some((x) => x.id === k.id)) keys.push(k);
  return { keys, encryptWith: a.encryptWith, passphrase: a.passphrase ?? b.passphrase };
}

/** The key new encryptions use, or undefined. */
export function encryptionKey(ring: Keyring | undefined): SidecarKey | undefined {
  return ring && ring.encryptWith !== undefined ? ring.keys[ring.encryptWith] : undefined;
}
