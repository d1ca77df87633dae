/**
 * The encrypted bin container and keys: every promise of docs/FORMAT.md "encrypted bin" attacked
 * at the codec layer (wrong keys, every single-bit flip, nonce reuse, the fixed test vector).
 */
import assert from 'node:assert/strict';
import { statSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { SidecarError } from '../src/errors.js';
import { decodeSidecar, deepEqualJson, detectFormat, encodeSidecar } from '../src/formats/codec.js';
import { encryptBin, ENCRYPTION_OVERHEAD, isEncryptedBin } from '../src/formats/encrypted-bin.js';
import { checkScryptParams, generateKeyFile, keyFromBytes, keyIdOf, loadKeyFile, passphraseKeyring } from '../src/crypto/keys.js';
import type { JsonObject, Keyring } from '../src/types.js';
import { sidecarData, testDir } from './helpers/tree.js';

const KEY = keyFromBytes(Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex'));
const RING: Keyring = { keys: [KEY], encryptWith: 0 };
const OTHER: Keyring = { keys: [keyFromBytes(Buffer.alloc(32, 0xee))], encryptWith: 0 };
const DATA = sidecarData('IMG_1.jpg', 2, 64) as JsonObject;

function decodeError(bytes: Uint8Array, keyring?: Keyring): SidecarError {
  try {
    decodeSidecar(bytes, { keyring });
  } catch (e) {
    assert.ok(e instanceof SidecarError, `expected a SidecarError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected decodeSidecar to throw');
}

describe('encrypted bin: format', () => {
  it('round-trips bit for bit and is detected as bin with the encrypted flag', () => {
    const file = encodeSidecar(DATA, 'bin', { encryptWith: KEY });
    assert.equal(detectFormat(file), 'bin');
    assert.ok(isEncryptedBin(file));
    assert.equal(file[5], 0x02);
    assert.equal(file.length, encodeSidecar(DATA, 'bin').length + ENCRYPTION_OVERHEAD);
    const back = decodeSidecar(file, { keyring: RING });
    assert.equal(back.format, 'bin');
    assert.equal(back.encryption?.keyId, KEY.id);
    assert.ok(deepEqualJson(back.data, DATA));
    // The plaintext body is nowhere in the file.
    const plainBody = encodeSidecar(DATA, 'bin').subarray(16);
    assert.equal(file.indexOf(plainBody.subarray(0, 32)), -1);
  });

  it('matches the documented test vector byte for byte (docs/FORMAT.md)', () => {
    const nonce = Buffer.from('101112131415161718191a1b', 'hex');
    const file = encryptBin(encodeSidecar({ a: 1, b: [2, 3] }, 'bin'), KEY, nonce);
    assert.equal(KEY.id, 'be4ed1316cd9093c');
    assert.equal(file.toString('hex'), VECTOR_HEX);
    assert.deepEqual(decodeSidecar(Buffer.from(VECTOR_HEX, 'hex'), { keyring: RING }).data, { a: 1, b: [2, 3] });
  });

  it('without a key: ENCRYPTED naming the key id, never CORRUPT', () => {
    const e = decodeError(encodeSidecar(DATA, 'bin', { encryptWith: KEY }));
    assert.equal(e.code, 'ENCRYPTED');
    assert.match(e.message, new RegExp(KEY.id));
  });

  it('a wrong key or a wrong passphrase: CORRUPT "authentication failed", no data', () => {
    const e = decodeError(encodeSidecar(DATA, 'bin', { encryptWith: KEY }), OTHER);
    assert.equal(e.code, 'CORRUPT');
    assert.match(e.message, /authentication failed: wrong key/);
    const pass = passphraseKeyring('correct horse');
    const f = encodeSidecar(DATA, 'bin', { encryptWith: pass.keys[0] });
    const wrong = passphraseKeyring('battery staple');
    const e2 = decodeError(f, { keys: [], passphrase: wrong.passphrase });
    assert.equal(e2.code, 'CORRUPT');
    assert.match(e2.message, /authentication failed: wrong passphrase/);
    // A forged key id that matches the wrong key still fails at the tag.
    const forged = Buffer.from(encodeSidecar(DATA, 'bin', { encryptWith: KEY }));
    Buffer.from(OTHER.keys[0].id, 'hex').copy(forged, 24);
    const { crc32 } = require_zlib();
    forged.writeUInt32LE(crc32(forged.subarray(16)), 12);
    const e3 = decodeError(forged, OTHER);
    assert.equal(e3.code, 'CORRUPT');
    assert.match(e3.message, /authentication failed/);
  });

  it('refuses a flipped bit anywhere: header, key id, nonce, body, tag (every bit of a small file)', () => {
    const file = encodeSidecar({ a: 1, faces: [0.5, 0.25, -0.125, 1e-300] }, 'bin', { encryptWith: KEY });
    let checked = 0;
    for (let i = 0; i < file.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = Buffer.from(file);
        bad[i] ^= 1 << bit;
        let e: SidecarError;
        try {
          const r = decodeSidecar(bad, { keyring: RING });
          assert.fail(`byte ${i} bit ${bit} flipped and the file still decoded: ${JSON.stringify(r.data)}`);
        } catch (x) {
          assert.ok(x instanceof SidecarError, `byte ${i} bit ${bit}: ${String(x)}`);
          e = x;
        }
        assert.equal(e.code, 'CORRUPT', `byte ${i} bit ${bit}: ${e.message}`);
        checked++;
      }
    }
    assert.equal(checked, file.length * 8);
  });

  it('tampering in the authenticated regions says "authentication failed" (CRC fixed up by the attacker)', () => {
    const { crc32 } = require_zlib();
    const file = encodeSidecar(DATA, 'bin', { encryptWith: KEY });
    const regions: [string, number][] = [['length', 8], ['cipher', 16], ['key id', 24], ['nonce', 50], ['body', 100], ['tag', file.length - 3]];
    for (const [what, at] of regions) {
      const bad = Buffer.from(file);
      bad[at] ^= 0x01;
      bad.writeUInt32LE(crc32(bad.subarray(16)), 12);
      const e = decodeError(bad, RING);
      assert.equal(e.code, 'CORRUPT', what);
      assert.match(e.message, /authentication failed/, what);
    }
  });

  it('draws a fresh nonce for every write: no repeat over 100,000 encodings of one sidecar', () => {
    const small = encodeSidecar({ a: 1 }, 'bin');
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const f = encryptBin(small, KEY);
      const nonce = f.toString('latin1', 48, 60);
      assert.ok(!seen.has(nonce), `nonce repeated after ${i} writes`);
      seen.add(nonce);
    }
    // And through the public encoder, the same data never gives the same bytes.
    assert.notDeepEqual(encodeSidecar(DATA, 'bin', { encryptWith: KEY }), encodeSidecar(DATA, 'bin', { encryptWith: KEY }));
  });

  it('encrypts only bin', () => {
    for (const f of ['json', 'rkyv', 'legacy'] as const) {
      assert.throws(() => encodeSidecar(DATA, f, { encryptWith: KEY }), (e: SidecarError) => e.code === 'USAGE');
    }
  });

  it('rejects hostile scrypt parameters before deriving anything', () => {
    const pass = passphraseKeyring('pw');
    const { crc32 } = require_zlib();
    const file = Buffer.from(encodeSidecar({ a: 1 }, 'bin', { encryptWith: pass.keys[0] }));
    for (const [at, v] of [[18, 31], [18, 10], [19, 0], [20, 200]] as const) {
      const bad = Buffer.from(file);
      bad[at] = v;
      bad.writeUInt32LE(crc32(bad.subarray(16)), 12);
      const start = Date.now();
      const e = decodeError(bad, pass);
      assert.equal(e.code, 'CORRUPT');
      assert.match(e.message, /scrypt parameters out of range/);
      assert.ok(Date.now() - start < 1000);
    }
  });

  it('rejects scrypt parameters each within its range but together too costly (N = 2^20, r = 16, p = 4: 2 GiB and ~23 s per file); strong settings within the bounds pass', () => {
    const pass = passphraseKeyring('pw');
    const { crc32 } = require_zlib();
    const file = Buffer.from(encodeSidecar({ a: 1 }, 'bin', { encryptWith: pass.keys[0] }));
    for (const [logN, r, p] of [[20, 16, 4], [20, 4, 1], [18, 16, 1], [17, 16, 4], [19, 4, 4]] as const) {
      const bad = Buffer.from(file);
      bad[18] = logN;
      bad[19] = r;
      bad[20] = p;
      bad.writeUInt32LE(crc32(bad.subarray(16)), 12);
      const start = Date.now();
      const e = decodeError(bad, pass);
      assert.equal(e.code, 'CORRUPT', `2^${logN}, ${r}, ${p}`);
      assert.match(e.message, /scrypt parameters out of range .*(MiB|more work)/);
      assert.ok(Date.now() - start < 1000);
    }
    for (const [logN, r, p] of [[17, 8, 1], [20, 2, 2]] as const) {
      assert.equal(checkScryptParams(logN, r, p), null, `2^${logN}, ${r}, ${p} is allowed`);
    }
    assert.match(checkScryptParams(20, 16, 4) ?? '', /2048 MiB/);
  });
});

describe('keys', () => {
  it('passphrase keys: N >= 2^15, salt and parameters in the file, another process derives the same key', () => {
    const a = passphraseKeyring('correct horse');
    const d = a.keys[0].descriptor;
    assert.equal(d.kind, 'scrypt');
    if (d.kind !== 'scrypt') return;
    assert.ok(d.logN >= 15);
    const file = encodeSidecar(DATA, 'bin', { encryptWith: a.keys[0] });
    assert.equal(file[17], 0x02);
    assert.equal(file[18], d.logN);
    assert.equal(file.subarray(32, 48).toString('hex'), d.salt);
    // A fresh keyring for the same passphrase has another salt, yet reads the file.
    const b = passphraseKeyring('correct horse');
    assert.notEqual(b.keys[0].id, a.keys[0].id);
    assert.ok(deepEqualJson(decodeSidecar(file, { keyring: b }).data, DATA));
    assert.throws(() => passphraseKeyring('pw', { logN: 14 }), /outside/);
  });

  it('keygen: 32 random bytes, mode 0600, refuses to overwrite', (t) => {
    const dir = testDir(t);
    const p = join(dir, 'k.key');
    const { keyId } = generateKeyFile(p);
    assert.equal(statSync(p).mode & 0o777, 0o600);
    assert.equal(statSync(p).size, 32);
    assert.equal(keyIdOf(readFileSync(p)), keyId);
    assert.equal(loadKeyFile(p).keys[0].id, keyId);
    const before = readFileSync(p);
    assert.throws(() => generateKeyFile(p), (e: SidecarError) => e.code === 'USAGE' && /refusing to overwrite/.test(e.message));
    assert.deepEqual(readFileSync(p), before);
    assert.notEqual(generateKeyFile(join(dir, 'k2.key')).keyId, keyId);
  });

  it('loads 64 hex digits too, and never echoes a bad key file', (t) => {
    const dir = testDir(t);
    const hexFile = join(dir, 'hex.key');
    writeFileSync(hexFile, '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n');
    assert.equal(loadKeyFile(hexFile).keys[0].id, KEY.id);
    const bad = join(dir, 'bad.key');
    writeFileSync(bad, 'supersecretpassword');
    assert.throws(() => loadKeyFile(bad), (e: SidecarError) => e.code === 'USAGE' && !e.message.includes('supersecret'));
  });

  it('secrets never serialise: JSON and inspect of a keyring show no key or passphrase bytes', () => {
    const ring = passphraseKeyring('hunter2-unique-passphrase');
    const file = RING.keys[0];
    const texts = [JSON.stringify(ring), inspect(ring, { depth: 10 }), JSON.stringify(RING), inspect(RING, { depth: 10 })];
    for (const s of texts) {
      assert.ok(!s.includes('hunter2'), s);
      assert.ok(!s.includes('000102030405'), s);
      assert.ok(!s.includes(Buffer.from(file.key.export()).toString('base64').slice(0, 12)), s);
    }
  });
});

// Fixed test vector (docs/FORMAT.md): key 00..1f, nonce 10..1b, plaintext {"a": 1, "b": [2, 3]}.
// Computed independently with Python `cryptography` (AESGCM + HKDF) and zlib.crc32: see the
// cross-check below, which runs when that package is installed.
const VECTOR_HEX =
  '8949534301020000450000003594f2ac' +
  '0101000000000000be4ed1316cd9093c' +
  '00000000000000000000000000000000' +
  '101112131415161718191a1bdf9ff917' +
  '28abb8b1c9e7e88559e67fbf83845a0f' +
  'b56254c995';

describe('test vector, independent implementation', () => {
  const py = spawnSync('python3', ['-c', 'import cryptography'], { encoding: 'utf8' });
  it('Python cryptography decrypts the vector with the documented layout', { skip: py.status !== 0 ? 'python3 cryptography not installed' : false }, () => {
    const script = [
      'import sys, zlib',
      'from cryptography.hazmat.primitives.ciphers.aead import AESGCM',
      'from cryptography.hazmat.primitives.kdf.hkdf import HKDF',
      'from cryptography.hazmat.primitives import hashes',
      'f = bytes.fromhex(sys.argv[1]); key = bytes(range(32))',
      'assert zlib.crc32(f[16:]) == int.from_bytes(f[12:16], "little")',
      'kid = HKDF(algorithm=hashes.SHA256(), length=8, salt=None, info=b"image-sidecar key id v1").derive(key)',
      'assert f[24:32] == kid',
      'print(AESGCM(key).decrypt(f[48:60], f[60:], f[0:12] + f[16:60]).hex())',
    ].join('\n');
    const r = spawnSync('python3', ['-c', script, VECTOR_HEX], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), encodeSidecar({ a: 1, b: [2, 3] }, 'bin').subarray(16).toString('hex'));
  });
});

import { createRequire } from 'node:module';
function require_zlib(): typeof import('node:zlib') {
  return createRequire(import.meta.url)('node:zlib');
}
