/**
 * Encryption through the library: every read path decrypts with a key and reports ENCRYPTED
 * without one; saves keep encrypted sidecars encrypted; convert encrypts, decrypts and rekeys
 * from and to every format, bit for bit, in both engines.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { SidecarError } from '../src/errors.js';
import { decodeSidecar, deepEqualJson, encodeSidecar } from '../src/formats/codec.js';
import { isEncryptedBin } from '../src/formats/encrypted-bin.js';
import { keyFromBytes, passphraseKeyring } from '../src/crypto/keys.js';
import { readSidecar, readSidecarDetailed } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import { convert } from '../src/ops/convert.js';
import { validate } from '../src/ops/validate.js';
import { stats } from '../src/ops/stats.js';
import { formatStats } from '../src/ops/format-stats.js';
import { exportSidecars } from '../src/ops/export.js';
import { hashTree } from '../src/ops/hash.js';
import type { JsonObject, SidecarFormat, Keyring } from '../src/types.js';
import { FAKE_JPEG, putFile, sidecarData, testDir } from './helpers/tree.js';

const ring = (byte: number): Keyring => ({ keys: [keyFromBytes(Buffer.alloc(32, byte))], encryptWith: 0 });
const A = ring(0xa1);
const B = ring(0xb2);
const EXACT = 0.22490839660167694;

function data(name: string): JsonObject {
  const d = sidecarData(name, 2, 32) as JsonObject;
  d.quality_assessment = { success: true, quality: { overall_score: EXACT, grade: 'B' }, negative_zero: -0, big: 12345678901234567 };
  return d;
}

/** An image with a sidecar in `format` (encrypted bin when `key` is given). */
function image(root: string, rel: string, format: SidecarFormat, key?: Keyring): { image: string; sidecar: string; data: JsonObject } {
  const d = data(path.basename(rel));
  const img = putFile(root, rel, FAKE_JPEG);
  const ext = format === 'legacy' ? 'bin' : format;
  const sidecar = putFile(root, rel.replace(/\.jpg$/, `.${ext}`), encodeSidecar(d, format, key ? { encryptWith: key.keys[0] } : {}));
  return { image: img, sidecar, data: d };
}

async function rejects(p: Promise<unknown>, code: string, re?: RegExp): Promise<SidecarError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SidecarError, String(e));
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('encryption: per-image reads and saves', () => {
  it('readSidecar decrypts with the key; ENCRYPTED without; CORRUPT "authentication failed" with a wrong one', async (t) => {
    const root = testDir(t);
    const x = image(root, 'a/IMG_1.jpg', 'bin', A);
    assert.ok(deepEqualJson(await readSidecar(x.image, { keyring: A }), x.data));
    const detailed = await readSidecarDetailed(x.image, { keyring: A });
    assert.equal(detailed.encryptedKeyId, A.keys[0].id);
    await rejects(readSidecar(x.image), 'ENCRYPTED', new RegExp(A.keys[0].id));
    await rejects(readSidecar(x.image, { keyring: B }), 'CORRUPT', /authentication failed/);
  });

  it('an encrypted sidecar never falls back to an older plaintext candidate without its key', async (t) => {
    const root = testDir(t);
    const x = image(root, 'IMG_1.jpg', 'bin', A);
    putFile(root, 'IMG_1.json', encodeSidecar({ sidecar_info: {}, stale: true }, 'json'));
    await rejects(readSidecar(x.image), 'ENCRYPTED');
  });

  it('export and hash --canonical never take the older plaintext candidate for the data of an encrypted one without its key: they refuse, as read does', async (t) => {
    const root = testDir(t);
    const x = image(root, 'IMG_1.jpg', 'bin', A);
    putFile(root, 'IMG_1.json', encodeSidecar({ sidecar_info: {}, stale: true }, 'json'));
    image(root, 'IMG_2.jpg', 'json');
    const out = path.join(testDir(t), 'x.jsonl');
    fs.writeFileSync(out, 'previous export');
    await rejects(exportSidecars(root, { engine: 'inline', output: out, format: 'jsonl' }), 'ENCRYPTED');
    assert.equal(fs.readFileSync(out, 'utf8'), 'previous export');
    await rejects(hashTree(root, { engine: 'inline', canonical: true }), 'ENCRYPTED');
    // With the key: the encrypted (preferred) file's data, as read gives it.
    await exportSidecars(root, { engine: 'inline', output: out, format: 'jsonl', keyring: A });
    const first = JSON.parse(fs.readFileSync(out, 'utf8').split('\n')[0]) as { sidecar: string; data: JsonObject };
    assert.equal(first.sidecar, 'IMG_1.bin');
    assert.ok(deepEqualJson(first.data, x.data));
  });

  it('a wrong key or passphrase never falls back to an older plaintext candidate either: read stops with its CORRUPT, export and hash --canonical refuse (regression: both gave the stale JSON, exit 0)', async (t) => {
    // What convert --encrypt --keep-source then a save leave: the newest data encrypted, an older JSON beside it.
    const root = testDir(t);
    const x = image(root, 'IMG_1.jpg', 'bin', A);
    putFile(root, 'IMG_1.json', encodeSidecar({ sidecar_info: {}, stale: true }, 'json'));
    image(root, 'IMG_2.jpg', 'json');
    await rejects(readSidecar(x.image, { keyring: B }), 'CORRUPT', /authentication failed: wrong key/);
    await rejects(readSidecarDetailed(x.image, { keyring: passphraseKeyring('other words') }), 'CORRUPT', /authentication failed: wrong key/);
    const out = path.join(testDir(t), 'x.jsonl');
    fs.writeFileSync(out, 'previous export');
    // The refusal is the read's own error: a wrong key, not "give its key".
    await rejects(exportSidecars(root, { engine: 'inline', output: out, format: 'jsonl', keyring: B }), 'CORRUPT', new RegExp(`authentication failed: wrong key \\(the file's key id is ${A.keys[0].id}`));
    assert.equal(fs.readFileSync(out, 'utf8'), 'previous export');
    await rejects(hashTree(root, { engine: 'inline', canonical: true, keyring: B }), 'CORRUPT', /authentication failed: wrong key/);
    // Alone, with a wrong key: refused too, not an export that leaves the image out.
    fs.rmSync(path.join(root, 'IMG_1.json'));
    await rejects(exportSidecars(root, { engine: 'inline', output: out, format: 'jsonl', keyring: B }), 'CORRUPT', /wrong key/);
    // A damaged file under the right key is still passed over to the older copy, as any corrupt one is.
    putFile(root, 'IMG_1.json', encodeSidecar({ sidecar_info: {}, stale: true }, 'json'));
    const bytes = fs.readFileSync(x.sidecar);
    bytes[bytes.length - 1] ^= 1;
    fs.writeFileSync(x.sidecar, bytes);
    const fallback = await readSidecarDetailed(x.image, { keyring: A });
    assert.deepEqual(fallback.data, { sidecar_info: {}, stale: true });
    assert.ok(fallback.findings.some((f) => f.code === 'fallback'));
  });

  it('RAW+JPEG sharing an encrypted stem file and an older plaintext copy: a save with a key that cannot open the encrypted file stops where a read does (regression: it merged into the older copy and its new own file hid the newest results, exit 0)', async (t) => {
    const root = testDir(t);
    const x = image(root, 'IMG_1.jpg', 'bin', A);
    putFile(root, 'IMG_1.json', encodeSidecar({ face_detection: { version: 'OLD' } }, 'json'));
    putFile(root, 'IMG_1.CR2', 'raw'); // both files are shared now
    const before = fs.readdirSync(root).sort();
    await rejects(readSidecar(x.image, { keyring: B }), 'CORRUPT', /authentication failed: wrong key/);
    await rejects(saveSidecar(x.image, 'yolov8', { objects: [] }, { keyring: B, format: 'bin' }), 'CORRUPT', /authentication failed: wrong key/);
    await rejects(saveSidecar(path.join(root, 'IMG_1.CR2'), 'yolov8', { objects: [] }, { keyring: B, format: 'bin' }), 'CORRUPT', /authentication failed: wrong key/);
    assert.deepEqual(fs.readdirSync(root).sort(), before, 'nothing written');
    // With its key the newest data is read, and a save goes on from it (into the shared file, which records the JPEG).
    assert.deepEqual((await readSidecar(x.image, { keyring: A })).face_detection, x.data.face_detection);
    const saved = await saveSidecar(x.image, 'yolov8', { objects: [] }, { keyring: A });
    assert.equal(saved.path, x.sidecar);
    const after = await readSidecar(x.image, { keyring: A });
    assert.deepEqual([after.face_detection, after.yolov8], [x.data.face_detection, { objects: [] }]);
  });

  it('convert --encrypt of an image whose plaintext copies differ says what stays plaintext (nothing encrypted for it)', async (t) => {
    const root = testDir(t);
    const x = image(root, 'IMG_1.jpg', 'json');
    putFile(root, 'IMG_1.bin', encodeSidecar({ ...x.data, extra: 1 }, 'bin')); // a plaintext bin that differs
    const r = await convert(root, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: A });
    const item = r.items!.find((i) => i.source === x.sidecar)!;
    assert.equal(item.action, 'conflict');
    assert.match(item.error!.message, /nothing encrypted for this image; .*IMG_1\.json stays plaintext/);
  });

  it('the tree commands judge an image by the file its read stops at: its encrypted file without its key (none, or a wrong one) is the image\'s state, never the older plaintext copy after it (regression: todo said done, find and stats used the JSON, validate called the encrypted file a kept copy)', async (t) => {
    const root = testDir(t);
    const x = image(root, 'IMG_1.jpg', 'bin', A);
    putFile(root, 'IMG_1.json', encodeSidecar({ sidecar_info: {}, face_detection: { success: true, faces: [{ bbox: [0, 0, 1, 1], confidence: 0.9 }] } }, 'json'));
    const { find } = await import('../src/ops/find.js');
    const { todo } = await import('../src/ops/todo.js');
    for (const [keyring, category] of [[undefined, 'encrypted'], [B, 'corrupt']] as const) {
      const opts = { engine: 'inline' as const, index: false as const, keyring };
      const s = await stats(root, opts);
      assert.equal(s.categories[category], 1, `${category}: ${JSON.stringify(s.categories)}`);
      assert.equal(s.categories.ok ?? 0, 0);
      assert.deepEqual((await find(root, { ...opts, where: 'faces >= 1' })).entries, [], 'the JSON\'s face is not the image\'s');
      const td = await todo(root, { ...opts, operation: 'face_detection' });
      assert.equal(td.counts.done, 0, 'the image is not done by the JSON\'s result');
      assert.deepEqual(td.problems.map((p) => [p.rel, p.category]), [['IMG_1.jpg', category]]);
    }
    // With the key: the encrypted file is the image's sidecar, the JSON a kept copy.
    const s = await stats(root, { engine: 'inline', index: false, keyring: A });
    assert.equal(s.categories.ok, 1);
    void x;
  });

  it('a RAW+JPEG pair whose JPEG reads its own encrypted file without its key: export, datasets and hash --canonical refuse, as for a lone image (regression: the JPEG was left out, exit 0)', async (t) => {
    const root = testDir(t);
    putFile(root, 'IMG_1.jpg', FAKE_JPEG);
    putFile(root, 'IMG_1.CR2', 'raw bytes');
    putFile(root, 'IMG_1.jpg.bin', encodeSidecar(data('IMG_1.jpg'), 'bin', { encryptWith: A.keys[0] }));
    putFile(root, 'IMG_1.json', encodeSidecar({ sidecar_info: {}, quality_assessment: { success: true } }, 'json')); // records neither image
    const out = path.join(testDir(t), 'x.jsonl');
    await rejects(exportSidecars(root, { engine: 'inline', output: out, format: 'jsonl' }), 'ENCRYPTED');
    await rejects(exportSidecars(root, { engine: 'inline', output: out, format: 'jsonl', keyring: B }), 'CORRUPT', /wrong key/);
    await rejects(hashTree(root, { engine: 'inline', canonical: true }), 'ENCRYPTED');
    const { exportDataset } = await import('../src/ops/datasets.js');
    await rejects(exportDataset(root, { engine: 'inline', format: 'embeddings', output: path.join(testDir(t), 'f.npy') }), 'ENCRYPTED');
    // With the key, both images are exported.
    await exportSidecars(root, { engine: 'inline', output: out, format: 'jsonl', keyring: A });
    assert.equal(fs.readFileSync(out, 'utf8').trim().split('\n').length, 2);
  });

  it('saveSidecar keeps an encrypted sidecar encrypted (same key, new nonce) and refuses without a key', async (t) => {
    const root = testDir(t);
    const x = image(root, 'IMG_1.jpg', 'bin', A);
    const before = fs.readFileSync(x.sidecar);
    await rejects(saveSidecar(x.image, 'yolov8', { success: true, objects: [] }), 'ENCRYPTED');
    assert.deepEqual(fs.readFileSync(x.sidecar), before, 'refused save left the file alone');
    const r = await saveSidecar(x.image, 'extra', { v: EXACT }, { keyring: A });
    assert.equal(r.encryptedKeyId, A.keys[0].id);
    const after = fs.readFileSync(x.sidecar);
    assert.ok(isEncryptedBin(after));
    assert.notDeepEqual(after.subarray(48, 60), before.subarray(48, 60), 'fresh nonce');
    const back = await readSidecar(x.image, { keyring: A });
    assert.equal((back.extra as JsonObject).v, EXACT);
    assert.ok(deepEqualJson(back.face_detection, x.data.face_detection));
    // A keyring whose encryption key is B still saves the A-file under A (it reads A too).
    await saveSidecar(x.image, 'more', 1, { keyring: { keys: [...B.keys, ...A.keys], encryptWith: 0 } });
    assert.equal(decodeSidecar(fs.readFileSync(x.sidecar), { keyring: A }).encryption?.keyId, A.keys[0].id);
  });

  it('a new sidecar saved with a key is encrypted; a plaintext one stays plaintext; json + key is refused', async (t) => {
    const root = testDir(t);
    const img = putFile(root, 'IMG_2.jpg', FAKE_JPEG);
    const r = await saveSidecar(img, 'face_detection', { faces: [] }, { keyring: A });
    assert.ok(r.created && isEncryptedBin(fs.readFileSync(r.path)));
    const plain = image(root, 'IMG_3.jpg', 'json');
    await saveSidecar(plain.image, 'yolov8', { objects: [] }, { keyring: A });
    assert.equal(fs.readFileSync(plain.sidecar, 'utf8')[0], '{', 'an existing plaintext sidecar keeps its format');
    const img4 = putFile(root, 'IMG_4.jpg', FAKE_JPEG);
    await rejects(saveSidecar(img4, 'op', {}, { keyring: A, format: 'json' }), 'USAGE');
    const r4 = await saveSidecar(img4, 'op', {}, { keyring: A, format: 'json', encrypt: false });
    assert.equal(r4.format, 'json');
  });

  it('a new file saved with a key beside a plaintext sidecar (`write -f bin` next to a .json) is encrypted as any new sidecar: the new embeddings went to a plaintext .bin, and every later save stayed plaintext', async (t) => {
    const root = testDir(t);
    const plain = image(root, 'IMG_5.jpg', 'json');
    const r = await saveSidecar(plain.image, 'face_detection', { faces: [{ embedding: [0.11, 0.22] }] }, { keyring: A, format: 'bin' });
    assert.equal(r.path, path.join(root, 'IMG_5.bin'));
    assert.equal(r.kept, plain.sidecar);
    assert.ok(isEncryptedBin(fs.readFileSync(r.path)), 'the new .bin is encrypted');
    assert.equal(r.encryptedKeyId, A.keys[0].id);
    assert.deepEqual((await readSidecar(plain.image, { keyring: A })).face_detection, { faces: [{ embedding: [0.11, 0.22] }] });
    // A new plaintext file beside it only with encrypt: false; with the key, a new json is refused.
    const other = image(root, 'IMG_6.jpg', 'json');
    await rejects(saveSidecar(other.image, 'op', {}, { keyring: A, format: 'rkyv' }), 'USAGE');
    const open = await saveSidecar(other.image, 'op', {}, { keyring: A, format: 'bin', encrypt: false });
    assert.equal(isEncryptedBin(fs.readFileSync(open.path)), false);
  });

  it('passphrase keys work across processes and salts', async (t) => {
    const root = testDir(t);
    const img = putFile(root, 'IMG_1.jpg', FAKE_JPEG);
    await saveSidecar(img, 'face_detection', { faces: [], score: EXACT }, { keyring: passphraseKeyring('s3cret words') });
    const later = passphraseKeyring('s3cret words'); // another salt, as another process would draw
    assert.equal(((await readSidecar(img, { keyring: later })).face_detection as JsonObject).score, EXACT);
    await rejects(readSidecar(img, { keyring: passphraseKeyring('other words') }), 'CORRUPT', /authentication failed: wrong passphrase/);
  });
});

describe('encryption: tree operations', () => {
  function mixedTree(root: string): Record<string, { image: string; sidecar: string; data: JsonObject }> {
    return {
      enc: image(root, 'p/IMG_1.jpg', 'bin', A),
      json: image(root, 'p/IMG_2.jpg', 'json'),
      bin: image(root, 'p/sub/IMG_3.jpg', 'bin'),
    };
  }

  for (const engine of ['inline', 'threads'] as const) {
    it(`validate, stats, export and hash --canonical decrypt with the key (${engine} engine)`, async (t) => {
      const root = testDir(t);
      const plainRoot = testDir(t);
      mixedTree(root);
      // The same data, all plaintext: every read path must see exactly the same.
      image(plainRoot, 'p/IMG_1.jpg', 'bin');
      image(plainRoot, 'p/IMG_2.jpg', 'json');
      image(plainRoot, 'p/sub/IMG_3.jpg', 'bin');
      const opts = { engine, workers: 2, keyring: A };
      const v = await validate(root, opts);
      assert.equal(v.invalid_files, 0, JSON.stringify(v.results));
      const s1 = await stats(root, opts);
      const s2 = await stats(plainRoot, { engine });
      assert.deepEqual({ ...s1, directory: null }, { ...s2, directory: null });
      const h1 = await hashTree(root, { ...opts, canonical: true });
      const h2 = await hashTree(plainRoot, { engine, canonical: true });
      assert.equal(h1.digest, h2.digest);
      const out = path.join(testDir(t), 'x.jsonl');
      await exportSidecars(root, { ...opts, output: out, format: 'jsonl' });
      const rows = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { image: string; data: JsonObject });
      assert.equal(rows.length, 3);
      assert.equal(((rows[0].data.quality_assessment as JsonObject).quality as JsonObject).overall_score, EXACT);
      const fsA = await formatStats(root, opts);
      assert.equal(fsA.format_distribution.Encrypted, 1);
      assert.equal(fsA.format_distribution.Binary, 1);
    });
  }

  it('without a key: ENCRYPTED findings (not corrupt, no crash); hash --canonical refuses', async (t) => {
    const root = testDir(t);
    mixedTree(root);
    const v = await validate(root, { engine: 'inline' });
    const r = v.results!.find((x) => x.file_path.endsWith('IMG_1.bin'))!;
    assert.equal(r.is_valid, false);
    assert.equal(r.category, 'encrypted');
    assert.match(String(r.error), /encrypted \(key id /);
    assert.equal(v.invalid_files, 1);
    const s = await stats(root, { engine: 'inline' });
    assert.equal(s.categories.encrypted, 1);
    assert.equal(s.categories.corrupt, 0);
    const f = await formatStats(root, { engine: 'inline' });
    assert.equal(f.format_distribution.Encrypted, 1);
    assert.equal(f.format_distribution.Corrupt, 0);
    await rejects(hashTree(root, { engine: 'inline', canonical: true }), 'ENCRYPTED');
    const out = path.join(testDir(t), 'x.json');
    fs.writeFileSync(out, 'previous export');
    await rejects(exportSidecars(root, { engine: 'inline', output: out, format: 'json' }), 'ENCRYPTED');
    assert.equal(fs.readFileSync(out, 'utf8'), 'previous export', 'a refused export leaves the old file alone');
    // A wrong key: authentication failures are corrupt findings.
    const w = await validate(root, { engine: 'inline', keyring: B });
    assert.match(String(w.results!.find((x) => x.file_path.endsWith('IMG_1.bin'))!.error), /authentication failed/);
  });

  it('round trips: every format → encrypted bin → every format, bit for bit', async (t) => {
    for (const from of ['json', 'bin', 'rkyv', 'legacy'] as const) {
      for (const to of ['json', 'bin', 'rkyv', 'legacy'] as const) {
        const root = testDir(t);
        const x = image(root, 'IMG_1.jpg', from);
        const e = await convert(root, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: A });
        assert.equal(e.failed, 0, `${from}: ${JSON.stringify(e.items)}`);
        const bin = path.join(root, 'IMG_1.bin');
        assert.ok(isEncryptedBin(fs.readFileSync(bin)), `${from} → encrypted`);
        assert.ok(!fs.existsSync(x.sidecar) || x.sidecar === bin);
        assert.ok(deepEqualJson(await readSidecar(x.image, { keyring: A }), x.data));
        const d = await convert(root, to, { engine: 'inline', encryption: 'decrypt', keyring: A });
        assert.equal(d.failed, 0, `${to}: ${JSON.stringify(d.items)}`);
        const target = path.join(root, `IMG_1.${to === 'legacy' ? 'bin' : to}`);
        const decoded = decodeSidecar(fs.readFileSync(target));
        assert.equal(decoded.format, to);
        assert.equal(decoded.encryption, undefined);
        assert.ok(deepEqualJson(decoded.data, x.data), `${from} → enc → ${to}`);
      }
    }
  });

  it('convert keeps encrypted files encrypted: to bin they are done, to json they need --decrypt; no key: skipped, not failed, for bin', async (t) => {
    const root = testDir(t);
    const x = image(root, 'IMG_1.jpg', 'bin', A);
    const before = fs.readFileSync(x.sidecar);
    const toBin = await convert(root, 'bin', { engine: 'inline', keyring: A });
    assert.equal(toBin.items![0].action, 'skip-already');
    const toJson = await convert(root, 'json', { engine: 'inline', keyring: A });
    assert.equal(toJson.failed, 1);
    assert.match(toJson.items![0].error!.message, /--decrypt/);
    const noKeyBin = await convert(root, 'bin', { engine: 'inline' });
    assert.equal(noKeyBin.failed, 0);
    const noKeyJson = await convert(root, 'json', { engine: 'inline' });
    assert.equal(noKeyJson.failed, 1);
    assert.equal(noKeyJson.items![0].action, 'skip-encrypted');
    const wrongKey = await convert(root, 'json', { engine: 'inline', keyring: B, encryption: 'decrypt' });
    assert.equal(wrongKey.failed, 1, 'a wrong key is a failure, not a silent skip');
    assert.deepEqual(fs.readFileSync(x.sidecar), before);
    const dry = await convert(root, 'bin', { engine: 'inline', keyring: B, encryption: 'encrypt', dryRun: true });
    assert.deepEqual(fs.readFileSync(x.sidecar), before, 'dry run wrote nothing');
    assert.equal(dry.converted, 0);
  });

  it('rekey: every encrypted file moves to the new key, plaintext files are left alone, the old key no longer opens them', async (t) => {
    const root = testDir(t);
    const enc = [image(root, 'IMG_1.jpg', 'bin', A), image(root, 'd/IMG_2.jpg', 'bin', A)];
    const pass = passphraseKeyring('old passphrase');
    const encP = image(root, 'd/IMG_4.jpg', 'bin', pass);
    const plain = image(root, 'IMG_3.jpg', 'json');
    const plainBytes = fs.readFileSync(plain.sidecar);
    const both: Keyring = { keys: [...B.keys, ...A.keys], encryptWith: 0, passphrase: pass.passphrase };
    const r = await convert(root, 'bin', { engine: 'threads', workers: 2, encryption: 'rekey', keyring: both });
    assert.equal(r.failed, 0, JSON.stringify(r.items));
    assert.equal(r.converted, 3);
    for (const x of [...enc, encP]) {
      const bytes = fs.readFileSync(x.sidecar);
      assert.equal(decodeSidecar(bytes, { keyring: B }).encryption?.keyId, B.keys[0].id);
      assert.ok(deepEqualJson(decodeSidecar(bytes, { keyring: B }).data, x.data));
      assert.throws(() => decodeSidecar(bytes, { keyring: A }), /authentication failed/);
    }
    assert.deepEqual(fs.readFileSync(plain.sidecar), plainBytes);
    const again = await convert(root, 'bin', { engine: 'inline', encryption: 'rekey', keyring: both });
    assert.equal(again.converted, 0, 'a second rekey has nothing to do');
  });

  it('rekey moves an encrypted file to the new key beside a plaintext copy, kept as it is, equal or not (a differing copy stopped it: the file stayed under the old key; an equal one was removed, unasked)', async (t) => {
    const root = testDir(t);
    const x = image(root, 'IMG_1.jpg', 'bin', A);
    const older = putFile(root, 'IMG_1.json', encodeSidecar({ ...x.data, extra: 1 }, 'json'));
    const y = image(root, 'IMG_2.jpg', 'bin', A);
    const equal = putFile(root, 'IMG_2.json', encodeSidecar(y.data, 'json')); // what convert --encrypt --keep-source leaves
    // An image with plaintext files only, equal and not: nothing for rekey (one was removed, the other a conflict).
    putFile(root, 'IMG_3.jpg', FAKE_JPEG);
    const plain = [putFile(root, 'IMG_3.json', encodeSidecar(data('IMG_3.jpg'), 'json')), putFile(root, 'IMG_3.bin', encodeSidecar(data('IMG_3.jpg'), 'bin'))];
    putFile(root, 'IMG_4.jpg', FAKE_JPEG);
    plain.push(putFile(root, 'IMG_4.json', encodeSidecar(data('IMG_4.jpg'), 'json')), putFile(root, 'IMG_4.bin', encodeSidecar({ ...data('IMG_4.jpg'), extra: 2 }, 'bin')));
    const plainBytes = plain.map((f) => fs.readFileSync(f));
    const copies = [older, equal].map((f) => fs.readFileSync(f));
    const both: Keyring = { keys: [...B.keys, ...A.keys], encryptWith: 0 };
    const r = await convert(root, 'bin', { engine: 'inline', encryption: 'rekey', keyring: both });
    assert.equal(r.failed, 0, JSON.stringify(r.items));
    assert.equal(r.converted, 2, 'one file per image re-encrypted');
    for (const f of [x.sidecar, y.sidecar]) assert.equal(decodeSidecar(fs.readFileSync(f), { keyring: B }).encryption?.keyId, B.keys[0].id);
    assert.deepEqual([older, equal].map((f) => fs.readFileSync(f)), copies, 'the plaintext copies are left as they are');
    assert.deepEqual(plain.map((f) => fs.readFileSync(f)), plainBytes, 'so are plaintext-only images');
    assert.deepEqual(r.items!.filter((i) => i.source === older || i.source === equal).map((i) => i.action), ['skip-already', 'skip-already']);
    assert.deepEqual((await readSidecar(x.image, { keyring: B })).face_detection, x.data.face_detection, 'a read takes the re-encrypted file');
  });

  it('what convert --encrypt and rekey leave as it is (an orphan, an unknown image’s sidecar, one beside a link target outside the root, the quarantine) is a finding, never a silent skip: its results stayed in plaintext or under the retired key, exit 0', async (t) => {
    const root = testDir(t);
    const outside = testDir(t);
    const { cleanup } = await import('../src/ops/cleanup.js');
    image(root, 'OK.jpg', 'json');
    const orphan = putFile(root, 'ORPH.json', encodeSidecar(data('ORPH.jpg'), 'json')); // its photo deleted
    putFile(root, 'UNK.xyz', 'not an image type');
    const unknown = putFile(root, 'UNK.json', encodeSidecar(data('UNK.xyz'), 'json'));
    const target = image(outside, 'T.jpg', 'json');
    fs.symlinkSync(target.image, path.join(root, 'LINKED.jpg'));
    const kept = [orphan, unknown, target.sidecar].map((f) => fs.readFileSync(f));
    const left = (r: Awaited<ReturnType<typeof convert>>) => r.items!.filter((i) => !i.ok).map((i) => [path.basename(i.source), i.action, i.error?.message.replace(/^.*: (left [^:]*):.*$/, '$1')]).sort();
    // A plain conversion never converts them either, as before: no finding.
    const plain = await convert(root, 'json', { engine: 'inline', dryRun: true });
    assert.deepEqual(left(plain), []);
    assert.equal(plain.items!.find((i) => i.source === orphan)!.action, 'skip-orphan', 'a sidecar without its image is no "not a sidecar"');
    const enc = await convert(root, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: A });
    assert.deepEqual(left(enc), [['T.json', 'skip-outside-root', 'left in plaintext'], ['ORPH.json', 'skip-orphan', 'left in plaintext'], ['UNK.json', 'skip-orphan', 'left in plaintext']].sort());
    assert.deepEqual([orphan, unknown, target.sidecar].map((f) => fs.readFileSync(f)), kept, 'left as they are');
    assert.equal(enc.failed, 3);
    // Encrypted under A (as a user would, by hand), then rotated to B: each left under A is named.
    for (const f of [orphan, unknown]) fs.writeFileSync(f.replace(/\.json$/, '.bin'), encodeSidecar(data(path.basename(f)), 'bin', { encryptWith: A.keys[0] }));
    for (const f of [orphan, unknown]) fs.rmSync(f);
    fs.rmSync(target.sidecar);
    fs.writeFileSync(target.sidecar.replace(/\.json$/, '.bin'), encodeSidecar(target.data, 'bin', { encryptWith: A.keys[0] }));
    putFile(root, 'Q.jpg', FAKE_JPEG);
    putFile(root, 'Q.bin', encodeSidecar(data('Q.jpg'), 'bin', { encryptWith: A.keys[0] }));
    fs.rmSync(path.join(root, 'Q.jpg')); // its photo away for a while: cleanup quarantines its file
    const c = await cleanup(root, { engine: 'inline', force: true, index: false, keyring: A });
    assert.equal(c.removed, 2, JSON.stringify(c.skipped)); // ORPH and Q (UNK.bin stays beside UNK.xyz: the unknown-image rule)
    const both: Keyring = { keys: [...B.keys, ...A.keys], encryptWith: 0 };
    const rk = await convert(root, 'bin', { engine: 'inline', encryption: 'rekey', keyring: both });
    assert.deepEqual(left(rk), [['T.bin', 'skip-outside-root', `left under key ${A.keys[0].id}`], ['UNK.bin', 'skip-orphan', `left under key ${A.keys[0].id}`]].sort());
    assert.equal(rk.quarantinedFiles, 2, 'the quarantine holds files under the retired key');
    // Files there that are no sidecars are not counted (an encrypting run counted each as plaintext).
    fs.writeFileSync(path.join(c.quarantine!, '.DS_Store'), 'finder');
    fs.writeFileSync(path.join(c.quarantine!, 'manifest.json.isc-tmp-1-abc'), '{}');
    fs.mkdirSync(path.join(c.quarantine!, 'x'));
    fs.writeFileSync(path.join(c.quarantine!, 'x', 'owner'), 'pid');
    assert.equal((await convert(root, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: A, dryRun: true })).quarantinedFiles, undefined, 'both quarantined files are under A');
    // A symlink in it is not looked through (restore refuses it) but said: it was taken for nothing.
    fs.symlinkSync(path.join(outside, 'T.bin'), path.join(c.quarantine!, 'LINKED.bin'));
    const linked = await convert(root, 'bin', { engine: 'inline', encryption: 'rekey', keyring: both, dryRun: true });
    assert.match(linked.quarantineUnchecked ?? '', /LINKED\.bin is a symlink/);
    assert.equal(linked.quarantinedFiles, 2);
    const plainAgain = await convert(root, 'bin', { engine: 'inline' });
    assert.equal(plainAgain.quarantinedFiles, undefined, 'a plain conversion says nothing of the quarantine');
  });

  it('a symlinked sidecar convert --encrypt, --decrypt or rekey leaves as it is (never written through) is a finding unless what it reads already is as asked (regression: skipped with ok, exit 0, while its image kept reading plaintext or the retired key)', async (t) => {
    const root = testDir(t);
    const store = testDir(t);
    image(root, 'OK.jpg', 'json');
    putFile(root, 'A.jpg', FAKE_JPEG);
    const stored = putFile(store, 'A.json', encodeSidecar(data('A.jpg'), 'json'));
    fs.symlinkSync(stored, path.join(root, 'A.json'));
    const storedBytes = fs.readFileSync(stored);
    const bad = (r: Awaited<ReturnType<typeof convert>>) => r.items!.filter((i) => !i.ok).map((i) => [path.basename(i.source), i.action, i.error?.code, i.error?.message.replace(/^.*: (left [^:]*):.*$/, '$1')]);
    // A plain conversion skips it, as documented: no finding.
    assert.deepEqual(bad(await convert(root, 'bin', { engine: 'inline', dryRun: true })), []);
    const enc = await convert(root, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: A });
    assert.deepEqual(bad(enc), [['A.json', 'skip-symlink', 'CONFLICT', 'left in plaintext']]);
    assert.deepEqual(fs.readFileSync(stored), storedBytes, 'never written through');
    // The link to a file under the old key: rekey names it; under the new key, nothing to say.
    fs.rmSync(path.join(root, 'A.json'));
    const underA = putFile(store, 'A.bin', encodeSidecar(data('A.jpg'), 'bin', { encryptWith: A.keys[0] }));
    fs.symlinkSync(underA, path.join(root, 'A.bin'));
    const both: Keyring = { keys: [...B.keys, ...A.keys], encryptWith: 0 };
    const rk = await convert(root, 'bin', { engine: 'inline', encryption: 'rekey', keyring: both });
    assert.deepEqual(bad(rk), [['A.bin', 'skip-symlink', 'CONFLICT', `left under key ${A.keys[0].id}`]]);
    fs.writeFileSync(underA, encodeSidecar(data('A.jpg'), 'bin', { encryptWith: B.keys[0] }));
    assert.deepEqual(bad(await convert(root, 'bin', { engine: 'inline', encryption: 'rekey', keyring: both })), []);
    // --decrypt: an encrypted file read through a link stays encrypted, said so.
    const dec = await convert(root, 'json', { engine: 'inline', encryption: 'decrypt', keyring: both });
    assert.deepEqual(bad(dec), [['A.bin', 'skip-symlink', 'CONFLICT', 'left encrypted']]);
    // A link to a file the run cannot open (under A; a rekey given only B) is a finding too, never an ok skip.
    fs.writeFileSync(underA, encodeSidecar(data('A.jpg'), 'bin', { encryptWith: A.keys[0] }));
    const blind = await convert(root, 'bin', { engine: 'inline', encryption: 'rekey', keyring: B });
    const linked = blind.items!.filter((i) => path.basename(i.source) === 'A.bin');
    assert.deepEqual(linked.map((i) => i.ok), [false]);
    assert.match(linked[0]!.error!.message, /wrong key/);
  });

  it('convert --encrypt removes the library\'s index, whose entries described the files in plaintext (regression: their class names stayed in .image-sidecar/index, runs with a key never replacing them)', async (t) => {
    const root = testDir(t);
    const x = image(root, 'IMG_1.jpg', 'json');
    const secret = 'SECRETCLASS_7';
    x.data.yolov8 = { success: true, objects: [{ class_name: secret, confidence: 0.5 }] };
    fs.writeFileSync(x.sidecar, encodeSidecar(x.data, 'json'));
    image(root, 'IMG_2.jpg', 'json');
    const indexPath = path.join(root, '.image-sidecar', 'index');
    await stats(root, { engine: 'inline', index: { racyMarginMs: 0 } }); // (no racy margin: every entry stored at once)
    assert.ok(fs.readFileSync(indexPath).includes(secret), 'the keyless run stored the summary');
    // A dry run changes nothing, the index included.
    const dry = await convert(root, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: A, dryRun: true });
    assert.equal(dry.indexes, undefined);
    assert.ok(fs.existsSync(indexPath));
    const r = await convert(root, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: A });
    assert.equal(r.converted, 2);
    assert.deepEqual(r.indexes, [{ path: indexPath, cleared: true }]);
    assert.equal(fs.existsSync(indexPath), false);
    // Runs with the key build it again, without the plaintext.
    const s = await stats(root, { engine: 'inline', index: { racyMarginMs: 0 }, keyring: A });
    assert.equal(s.total_sidecars, 2);
    assert.ok(!fs.existsSync(indexPath) || !fs.readFileSync(indexPath).includes(secret));
    // A run with nothing left to encrypt removes it too: an earlier run may have stopped part way
    // after encrypting, the index made before it still there.
    await stats(root, { engine: 'inline', index: { racyMarginMs: 0 } });
    assert.ok(fs.existsSync(indexPath));
    const again = await convert(root, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: A });
    assert.equal(again.converted, 0);
    assert.deepEqual(again.indexes, [{ path: indexPath, cleared: true }]);
    assert.equal(fs.existsSync(indexPath), false);
    // --decrypt and a plain conversion leave it.
    await stats(root, { engine: 'inline', index: { racyMarginMs: 0 }, keyring: A });
    await convert(root, 'bin', { engine: 'inline' });
    assert.ok(fs.existsSync(indexPath));
    // Encrypting a folder of the library removes the library's index too: a run on the whole library stored that folder's files.
    const sub = path.join(root, 'sub');
    const y = image(root, 'sub/IMG_3.jpg', 'json');
    y.data.yolov8 = { success: true, objects: [{ class_name: secret, confidence: 0.5 }] };
    fs.writeFileSync(y.sidecar, encodeSidecar(y.data, 'json'));
    await stats(root, { engine: 'inline', index: { racyMarginMs: 0 } });
    assert.ok(fs.readFileSync(indexPath).includes(secret));
    const inSub = await convert(sub, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: A });
    assert.equal(inSub.converted, 1);
    assert.deepEqual(inSub.indexes, [{ path: indexPath, cleared: true }]);
    assert.equal(fs.existsSync(indexPath), false);
    // An index runs kept in the cache folder while the root was not writable is removed too, though
    // runs now keep theirs in the library (regression: only the place chosen today was looked at).
    const { cacheIndexPath } = await import('../src/incremental/location.js');
    const cache = testDir(t);
    const cached = cacheIndexPath(cache, fs.realpathSync(root));
    fs.mkdirSync(path.dirname(cached), { recursive: true });
    const z = image(root, 'IMG_9.jpg', 'json');
    z.data.yolov8 = { success: true, objects: [{ class_name: secret, confidence: 0.5 }] };
    fs.writeFileSync(z.sidecar, encodeSidecar(z.data, 'json'));
    await stats(root, { engine: 'inline', index: { path: cached, racyMarginMs: 0 } });
    assert.ok(fs.readFileSync(cached).includes(secret));
    const cachedRun = await convert(root, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: A, indexPlace: { cacheDir: cache } });
    assert.equal(cachedRun.converted, 1);
    assert.deepEqual(cachedRun.indexes, [{ path: cached, cleared: true }]);
    assert.equal(fs.existsSync(cached), false);
  });

  it('a plain conversion to bin leaves a file encrypted under another key as it leaves one without a key: already bin, no failure (a wrong key was a skip-corrupt failure)', async (t) => {
    const root = testDir(t);
    image(root, 'IMG_1.jpg', 'bin', A);
    for (const keyring of [undefined, B]) {
      const r = await convert(root, 'bin', { engine: 'inline', keyring });
      assert.equal(r.failed, 0, JSON.stringify(r.items));
      assert.deepEqual(r.items!.map((i) => [path.basename(i.source), i.action, i.ok]), [['IMG_1.bin', 'skip-already', true]]);
    }
  });

  it('what is already as asked is no finding: files under the run\'s passphrase (each with its own key id) are left by convert --encrypt, a plaintext orphan by --decrypt, a quarantine of such files says nothing', async (t) => {
    const root = testDir(t);
    const { cleanup } = await import('../src/ops/cleanup.js');
    image(root, 'IMG_1.jpg', 'json');
    const orphan = putFile(root, 'ORPH.json', encodeSidecar(data('ORPH.jpg'), 'json'));
    const first = await convert(root, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: passphraseKeyring('the passphrase') });
    assert.equal(first.converted, 1);
    // The orphan by hand under the passphrase (another salt), as a pipeline saving with it would.
    fs.writeFileSync(orphan.replace(/\.json$/, '.bin'), encodeSidecar(data('ORPH.jpg'), 'bin', { encryptWith: passphraseKeyring('the passphrase').keys[0] }));
    fs.rmSync(orphan);
    // Another run, another salt: nothing to write again, nothing left as it should not be.
    const again = await convert(root, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: passphraseKeyring('the passphrase') });
    assert.deepEqual([again.converted, again.failed, again.quarantinedFiles], [0, 0, undefined], JSON.stringify(again.items));
    // Quarantined as it is (encrypted under the passphrase): still nothing to say.
    putFile(root, 'Q.jpg', FAKE_JPEG);
    putFile(root, 'Q.bin', encodeSidecar(data('Q.jpg'), 'bin', { encryptWith: passphraseKeyring('the passphrase').keys[0] }));
    fs.rmSync(path.join(root, 'Q.jpg'));
    const c = await cleanup(root, { engine: 'inline', force: true, index: false, keyring: passphraseKeyring('the passphrase') });
    assert.equal(c.removed, 2, JSON.stringify(c.skipped));
    const after = await convert(root, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: passphraseKeyring('the passphrase') });
    assert.deepEqual([after.failed, after.quarantinedFiles], [0, undefined]);
    // A key file encrypts instead: both quarantined files are under another key now.
    const keyed = await convert(root, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: A, dryRun: true });
    assert.equal(keyed.quarantinedFiles, 2);
    // Quarantined files under another passphrase, or a key file, are not under this passphrase
    // (any passphrase-encrypted file counted as this run's: exit 0 while they stayed under the old one).
    const q = path.join(root, '.image-sidecar-quarantine', fs.readdirSync(path.join(root, '.image-sidecar-quarantine'))[0]);
    fs.writeFileSync(path.join(q, 'OLD.bin'), encodeSidecar(data('OLD.jpg'), 'bin', { encryptWith: passphraseKeyring('an old passphrase').keys[0] }));
    fs.writeFileSync(path.join(q, 'KEYED.bin'), encodeSidecar(data('KEYED.jpg'), 'bin', { encryptWith: A.keys[0] }));
    const mixed = await convert(root, 'bin', { engine: 'inline', encryption: 'encrypt', keyring: passphraseKeyring('the passphrase'), dryRun: true });
    assert.equal(mixed.quarantinedFiles, 2);
    // --decrypt: a plaintext orphan in a .bin name is as asked (the format is not what --decrypt is about).
    const plainRoot = testDir(t);
    putFile(plainRoot, 'O.bin', encodeSidecar(data('O.jpg'), 'bin'));
    const dec = await convert(plainRoot, 'json', { engine: 'inline', encryption: 'decrypt', keyring: A });
    assert.deepEqual([dec.failed, dec.items!.map((i) => i.action)], [0, ['skip-orphan']]);
  });

  it('key material crosses to worker threads without appearing in any result or error', async (t) => {
    const root = testDir(t);
    image(root, 'IMG_1.jpg', 'bin', A);
    const secret = 'the-passphrase-nobody-may-see';
    const pr = passphraseKeyring(secret);
    const v = await validate(root, { engine: 'threads', workers: 2, keyring: pr });
    const text = JSON.stringify(v);
    assert.ok(!text.includes(secret));
    assert.ok(!text.includes(Buffer.from(A.keys[0].key.export()).toString('hex')));
    assert.match(text, /authentication failed/);
  });
});
