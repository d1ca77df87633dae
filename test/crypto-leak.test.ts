/**
 * Never leak: every byte image-sidecar writes while encrypting is ciphertext. fs.writeSync and
 * fs.write are wrapped (the library's ESM bindings follow via syncBuiltinESMExports) and every
 * buffer written is searched for a marker string that the plaintext holds.
 */
import assert from 'node:assert/strict';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';
import { it } from 'node:test';
import { encodeSidecar } from '../src/formats/codec.js';
import { keyFromBytes } from '../src/crypto/keys.js';
import { convert } from '../src/ops/convert.js';
import { saveSidecar } from '../src/ops/save.js';
import { FAKE_JPEG, putFile, testDir } from './helpers/tree.js';
import type { Keyring } from '../src/types.js';

const fsCjs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
const MARKER = 'PLAINTEXT-MARKER-7d1c0b';
const KEY: Keyring = { keys: [keyFromBytes(Buffer.alloc(32, 0x42))], encryptWith: 0 };

/** Run `fn` with every fs write recorded; returns the buffers written. */
async function recordingWrites(fn: () => Promise<void>): Promise<Buffer[]> {
  const seen: Buffer[] = [];
  const origSync = fsCjs.writeSync;
  const orig = fsCjs.write;
  const grab = (buf: unknown, off?: unknown, len?: unknown) => {
    if (typeof buf === 'string') seen.push(Buffer.from(buf));
    else if (ArrayBuffer.isView(buf)) {
      const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
      const o = typeof off === 'number' ? off : 0;
      seen.push(Buffer.from(b.subarray(o, typeof len === 'number' ? o + len : undefined)));
    }
  };
  fsCjs.writeSync = ((fd: number, buf: unknown, off?: unknown, len?: unknown, ...rest: unknown[]) => {
    grab(buf, off, len);
    return (origSync as (...a: unknown[]) => number)(fd, buf, off, len, ...rest);
  }) as typeof fsCjs.writeSync;
  fsCjs.write = ((fd: number, buf: unknown, ...rest: unknown[]) => {
    grab(buf, rest[0], rest[1]);
    return (orig as (...a: unknown[]) => void)(fd, buf, ...rest);
  }) as typeof fsCjs.write;
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    fsCjs.writeSync = origSync;
    fsCjs.write = orig;
    syncBuiltinESMExports();
  }
  return seen;
}

it('convert --encrypt, saves into encrypted sidecars and new encrypted saves write no plaintext byte', async (t) => {
  const root = testDir(t);
  for (let i = 0; i < 6; i++) {
    putFile(root, `p/IMG_${i}.jpg`, FAKE_JPEG);
    const data = { face_detection: { faces: [{ name: `${MARKER}-${i}`, embedding: [0.1, 0.2, 0.3, 0.4 + i] }] } };
    putFile(root, `p/IMG_${i}.${['json', 'bin', 'rkyv'][i % 3]}`, encodeSidecar(data, ['json', 'bin', 'rkyv'][i % 3] as 'json'));
  }
  putFile(root, 'p/IMG_new.jpg', FAKE_JPEG);
  const written = await recordingWrites(async () => {
    const r = await convert(root, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: KEY });
    assert.equal(r.converted, 6, JSON.stringify(r.items));
    await saveSidecar(path.join(root, 'p/IMG_0.jpg'), 'note', { text: MARKER }, { keyring: KEY });
    await saveSidecar(path.join(root, 'p/IMG_new.jpg'), 'note', { text: MARKER }, { keyring: KEY });
  });
  const bytes = written.reduce((n, b) => n + b.length, 0);
  assert.ok(written.length >= 8 && bytes > 500, `the spy saw the writes (${written.length} writes, ${bytes} bytes)`);
  for (const b of written) assert.equal(b.indexOf(MARKER), -1, `plaintext written: ${b.subarray(0, 80).toString('hex')}`);
  // The spy would have seen it: the same run without a key writes the marker.
  const plainRoot = testDir(t);
  putFile(plainRoot, 'IMG_1.jpg', FAKE_JPEG);
  const plain = await recordingWrites(async () => {
    await saveSidecar(path.join(plainRoot, 'IMG_1.jpg'), 'note', { text: MARKER });
  });
  assert.ok(plain.some((b) => b.includes(MARKER)));
});
