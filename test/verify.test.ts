import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listTree } from '../src/integrity/tree-hash.js';
import { hashTree, verifyTree } from '../src/ops/hash.js';
import { convert } from '../src/ops/convert.js';
import { encodeSidecar } from '../src/formats/codec.js';
import { SidecarError } from '../src/errors.js';
import type { JsonObject } from '../src/types.js';
import { FAKE_JPEG, sidecarData, testDir, putFile as put } from './helpers/tree.js';



const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Keys of the manifest's "files" object in the order they appear in the text. */
function keysInTextOrder(text: string): string[] {
  const files = text.slice(text.indexOf('"files"'));
  return [...files.matchAll(/\n {4}("(?:[^"\\]|\\.)*"): "[0-9a-f]{64}"/g)].map((m) => JSON.parse(m[1]) as string);
}

function smallTree(root: string): void {
  put(root, 'a b.json', '{"x": 1}');
  put(root, 'b.bin', Buffer.from([0, 1, 2, 0]));
  put(root, '\uFF21.json', '{}');
  put(root, '\u{1F600}.json', '{}');
  put(root, 'sub/c.rkyv', 'c');
  put(root, '123', 'an integer-like name: JSON objects would move it first');
  put(root, '10', 'another one');
  put(root, 'IMG_1.jpg', FAKE_JPEG);
}

test('JSON manifest: sorted by UTF-8 bytes, self-consistent, byte-identical across runs and engines', async (t) => {
  const root = testDir(t);
  const out = testDir(t, 'isc-verify-out-');
  smallTree(root);
  const m1 = path.join(out, 'm1.json');
  const h = await hashTree(root, { allFiles: true, manifest: m1, engine: 'inline' });
  const text = fs.readFileSync(m1, 'utf8');
  const parsed = JSON.parse(text) as { version: string; root_digest: string; all_files: boolean; files: Record<string, string> };
  assert.deepEqual([parsed.version, parsed.root_digest, parsed.all_files], ['isc-tree-v1', h.digest, true]);
  const keys = keysInTextOrder(text);
  assert.equal(keys.length, 8);
  assert.deepEqual(keys, [...keys].sort(byUtf8), 'text order is UTF-8 byte order (integer-like names included)');
  const listing = await listTree(root, { allFiles: true, engine: 'inline' });
  assert.deepEqual(parsed.files, Object.fromEntries(listing.entries.map((e) => [e.key, e.hex])));

  const m2 = path.join(out, 'm2.json');
  await hashTree(root, { allFiles: true, manifest: m2, engine: 'threads', workers: 2 });
  assert.ok(fs.readFileSync(m2).equals(fs.readFileSync(m1)), 'same bytes with threads');
  assert.deepEqual(await verifyTree(root, m1), { ok: true, missing: [], changed: [], extra: [], checked: 8 });
});

test('JSONL manifest: one {"path","digest"} per line; verify uses the options for the mode', async (t) => {
  const root = testDir(t);
  const out = testDir(t, 'isc-verify-out-');
  smallTree(root);
  const m = path.join(out, 'digests.jsonl');
  const h = await hashTree(root, { manifest: m, engine: 'inline' });
  const lines = fs.readFileSync(m, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'ends with a newline');
  const rows = lines.map((l) => JSON.parse(l) as { path: string; digest: string });
  assert.deepEqual(rows.map((r) => Object.keys(r)), rows.map(() => ['path', 'digest']));
  assert.deepEqual(rows.map((r) => r.path), ['a b.json', 'b.bin', 'sub/c.rkyv', '\uFF21.json', '\u{1F600}.json']);
  assert.equal(rows.length, h.files);
  assert.equal((await verifyTree(root, m)).ok, true);
  // Verified with allFiles, the same tree has extra files the manifest does not list.
  const wide = await verifyTree(root, m, { allFiles: true });
  assert.deepEqual(wide.extra, ['10', '123', 'IMG_1.jpg']);
});

test('verifyTree reports missing, changed and extra files, sorted', async (t) => {
  const root = testDir(t);
  const out = testDir(t, 'isc-verify-out-');
  smallTree(root);
  put(root, 'z/zz.json', '{}');
  const m = path.join(out, 'm.json');
  await hashTree(root, { manifest: m, engine: 'inline' });

  put(root, 'sub/c.rkyv', 'C'); // changed
  put(root, '\u{1F600}.json', '{ }'); // changed
  fs.unlinkSync(path.join(root, 'b.bin')); // missing
  fs.renameSync(path.join(root, 'z/zz.json'), path.join(root, 'z/ZZ.json')); // a rename: missing + extra
  put(root, 'new dir/n.BIN', 'n'); // extra
  put(root, 'notes.txt', 'not a candidate: not extra');
  const r = await verifyTree(root, m, { engine: 'inline' });
  assert.deepEqual(r, {
    ok: false,
    missing: ['b.bin', 'z/zz.json'],
    changed: ['sub/c.rkyv', '\u{1F600}.json'],
    extra: ['new dir/n.BIN', 'z/ZZ.json'],
    checked: 6,
  });
});

test('a manifest written inside the root is not part of the tree it describes', async (t) => {
  const root = testDir(t);
  smallTree(root);
  const plain = await hashTree(root, { engine: 'inline' });
  for (const name of ['manifest.json', 'sub/manifest.jsonl']) {
    const m = path.join(root, name);
    const h = await hashTree(root, { manifest: m, engine: 'inline' });
    assert.equal(h.digest, plain.digest, name);
    assert.deepEqual(await verifyTree(root, m), { ok: true, missing: [], changed: [], extra: [], checked: plain.files });
    fs.unlinkSync(m);
  }
});

test("canonical digests follow each image's read in every RAW+JPEG shape: a shared file recording none is the JPEG's as its read takes it (a change to it is seen), and an image whose read finds no file is not digested with another's data", async (t) => {
  const root = testDir(t);
  const manifest = path.join(testDir(t), 'm.jsonl');
  put(root, 'IMG_6.jpg', FAKE_JPEG);
  put(root, 'IMG_6.CR2', FAKE_JPEG);
  put(root, 'IMG_6.json', JSON.stringify({ face_detection: { success: true, faces: [], v: 'shared' } }));
  put(root, 'IMG_6.CR2.json', JSON.stringify({ face_detection: { success: true, faces: [], v: 'raw' }, sidecar_info: { image_path: 'IMG_6.CR2' } }));
  put(root, 'IMG_7.jpg', FAKE_JPEG);
  put(root, 'IMG_7.CR2', FAKE_JPEG);
  put(root, 'IMG_7.json', JSON.stringify({ fd: { success: true, v: 'raw7' }, sidecar_info: { image_path: 'IMG_7.CR2' } }));
  await hashTree(root, { canonical: true, manifest, engine: 'inline' });
  const keys = fs.readFileSync(manifest, 'utf8').trim().split('\n').map((l) => JSON.parse(l).path as string);
  assert.deepEqual(keys, ['IMG_6.CR2', 'IMG_6.jpg', 'IMG_7.CR2'], 'IMG_7.jpg reads no file: not digested (it was, with the CR2\'s data)');
  put(root, 'IMG_6.json', JSON.stringify({ face_detection: { success: true, faces: [], v: 'EDITED' } }));
  const v = await verifyTree(root, manifest, { canonical: true, engine: 'threads', workers: 2 });
  assert.deepEqual(v.changed, ['IMG_6.jpg']);
});

test('a manifest inside the tree named by another path than the root given (the root through a symlink, the manifest by the real path) is still left out: the digest of an unchanged tree stays', async (t) => {
  const base = testDir(t);
  const root = path.join(base, 'lib');
  smallTree(root);
  fs.symlinkSync('lib', path.join(base, 'link'));
  const plain = await hashTree(root, { engine: 'inline' });
  const m = path.join(root, 'm.json');
  for (let i = 0; i < 2; i++) assert.equal((await hashTree(path.join(base, 'link'), { manifest: m, engine: 'inline' })).digest, plain.digest, `run ${i + 1}`);
  assert.deepEqual(await verifyTree(path.join(base, 'link'), m), { ok: true, missing: [], changed: [], extra: [], checked: plain.files });
  // And the other way round: the root by its real path, the manifest through the link.
  fs.unlinkSync(m);
  const viaLink = path.join(base, 'link/m2.json');
  assert.equal((await hashTree(root, { manifest: viaLink, engine: 'inline' })).digest, plain.digest);
});

function library(root: string): void {
  for (let i = 0; i < 8; i++) {
    const img = `photos/d${i % 3}/20250920_1430${String(i).padStart(2, '0')}.jpg`;
    put(root, img, FAKE_JPEG);
    const d = sidecarData(path.basename(img), 1 + (i % 2), 32) as JsonObject;
    d.quality_assessment = { success: true, quality: { overall_score: 0.22490839660167694 + i } };
    put(root, img.replace(/\.jpg$/, '.json'), encodeSidecar(d, 'json'));
  }
  put(root, 'photos/game_detection.json', JSON.stringify({ success: true, games: [] }));
}

test('canonical digests survive json → bin → rkyv → legacy → json; byte digests follow the files', async (t) => {
  const root = testDir(t);
  const out = testDir(t, 'isc-verify-out-');
  library(root);
  const canonM = path.join(out, 'canon.json');
  const bytesM = path.join(out, 'bytes.json');
  const canon0 = await hashTree(root, { canonical: true, manifest: canonM, engine: 'inline' });
  const bytes0 = await hashTree(root, { manifest: bytesM, engine: 'inline' });
  assert.equal(canon0.files, 8);
  const seen = new Set<string>();
  for (const format of ['bin', 'rkyv', 'legacy', 'json'] as const) {
    const r = await convert(root, format, { engine: 'inline' });
    assert.equal(r.converted, 8, format);
    const c = await hashTree(root, { canonical: true, engine: 'inline' });
    assert.equal(c.tag, canon0.tag, `canonical digest after converting to ${format}`);
    assert.deepEqual(await verifyTree(root, canonM), { ok: true, missing: [], changed: [], extra: [], checked: 8 });
    const b = await hashTree(root, { engine: 'inline' });
    seen.add(b.digest);
    if (format !== 'json') {
      const v = await verifyTree(root, bytesM);
      assert.equal(v.ok, false);
      assert.equal(v.missing.length, 8, 'every .json is gone');
      if (format === 'rkyv') assert.equal(v.extra.length, 8);
    }
  }
  assert.equal(seen.size, 4);
  // Back to json, written by the same encoder: bit-exact, so the byte manifest verifies again.
  assert.equal((await hashTree(root, { engine: 'inline' })).digest, bytes0.digest);
  assert.equal((await verifyTree(root, bytesM)).ok, true);

  // A changed value (one float, last bit) is caught in canonical mode.
  const p = path.join(root, 'photos/d0/20250920_143000.json');
  fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replace('0.22490839660167694', '0.22490839660167697'));
  assert.deepEqual((await verifyTree(root, canonM)).changed, ['photos/d0/20250920_143000.jpg']);
});

test('a damaged, foreign or mismatched manifest is refused', async (t) => {
  const root = testDir(t);
  const out = testDir(t, 'isc-verify-out-');
  library(root);
  const m = path.join(out, 'm.json');
  await hashTree(root, { manifest: m, engine: 'inline' });
  const text = fs.readFileSync(m, 'utf8');
  const isCode = (code: string) => (e: unknown) => e instanceof SidecarError && e.code === code;

  // One digest edited: the manifest no longer gives its own root digest.
  const digest = /"([0-9a-f]{64})"\n/.exec(text)![1];
  fs.writeFileSync(m, text.replace(digest, digest.replace(/^./, (c) => (c === '0' ? '1' : '0'))));
  await assert.rejects(verifyTree(root, m), isCode('CORRUPT'));
  fs.writeFileSync(m, text.slice(0, 40));
  await assert.rejects(verifyTree(root, m), isCode('CORRUPT'));
  fs.writeFileSync(m, JSON.stringify({ version: 'other-v9', root_digest: '0'.repeat(64), files: {} }));
  await assert.rejects(verifyTree(root, m), isCode('CORRUPT'));
  fs.writeFileSync(path.join(out, 'bad.jsonl'), '{"path":"a.json","digest":"xyz"}\n');
  await assert.rejects(verifyTree(root, path.join(out, 'bad.jsonl')), isCode('CORRUPT'));

  fs.writeFileSync(m, text);
  await assert.rejects(verifyTree(root, m, { canonical: true }), isCode('USAGE'));
  await assert.rejects(verifyTree(root, m, { allFiles: true }), isCode('USAGE'));
  await assert.rejects(verifyTree(root, path.join(out, 'none.json')), isCode('NOT_FOUND'));
  assert.equal((await verifyTree(root, m, { canonical: false, allFiles: false })).ok, true);
});

test("canonical digests of a RAW+JPEG pair take each image's own sidecar, as its read does: a change to the JPEG's own file or the RAW's is seen by verify", async (t) => {
  // Regression: both images were digested from the record's one effective file (the shared
  // IMG_1.json), so a change to IMG_1.JPG.json or IMG_1.CR2.json left verify at ok.
  for (const variant of ['jpeg-own', 'raw-own'] as const) {
    const root = testDir(t);
    const manifest = path.join(testDir(t), 'm.json');
    put(root, 'IMG_1.CR2', FAKE_JPEG);
    put(root, variant === 'jpeg-own' ? 'IMG_1.JPG' : 'IMG_1.jpg', FAKE_JPEG);
    const own = variant === 'jpeg-own' ? 'IMG_1.JPG.json' : 'IMG_1.CR2.json';
    const shared = { face_detection: { success: true, faces: [] }, sidecar_info: { image_path: variant === 'jpeg-own' ? 'other.jpg' : 'IMG_1.jpg' } };
    put(root, 'IMG_1.json', JSON.stringify(shared));
    put(root, own, JSON.stringify({ yolov8: { success: true, objects: [] }, sidecar_info: { image_path: variant === 'jpeg-own' ? 'IMG_1.JPG' : 'IMG_1.CR2' } }));
    const first = await hashTree(root, { canonical: true, manifest, engine: 'inline' });
    const again = await verifyTree(root, manifest, { engine: 'inline' });
    assert.equal(again.ok, true, JSON.stringify(again));
    put(root, own, JSON.stringify({ yolov8: { success: false }, sidecar_info: { image_path: variant === 'jpeg-own' ? 'IMG_1.JPG' : 'IMG_1.CR2' } }));
    const v = await verifyTree(root, manifest, { engine: 'threads', workers: 2 });
    assert.equal(v.ok, false, `${variant}: the change to ${own} is seen`);
    assert.deepEqual(v.changed, [variant === 'jpeg-own' ? 'IMG_1.JPG' : 'IMG_1.CR2']);
    // The digest moved with it; engines and the index agree.
    const after = await hashTree(root, { canonical: true, engine: 'threads', workers: 2 });
    assert.notEqual(after.digest, first.digest);
    assert.equal((await hashTree(root, { canonical: true, engine: 'inline', index: {} })).digest, after.digest);
  }
});
