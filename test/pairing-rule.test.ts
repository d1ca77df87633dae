/**
 * One pairing rule and one lock identity (issue 10 §2–§4, issue 11 "unknown image types"):
 * scan, read, save and convert must agree on every case below. Each test failed on the code
 * before pair.ts became the only rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSidecarDetailed } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import { convert } from '../src/ops/convert.js';
import { cleanup } from '../src/ops/cleanup.js';
import { scan } from '../src/ops/scan.js';
import { type ScanRecord } from '../src/scan/records.js';
import { locateSidecar, sidecarLockKeys } from '../src/discovery/locate.js';
import { lockKeyForImage, lockKeyForSidecar } from '../src/discovery/lock-key.js';
import { decodeSidecar } from '../src/formats/codec.js';
import { SidecarError } from '../src/errors.js';
import { FAKE_JPEG, makeTree, testDir } from './helpers/tree.js';

async function records(root: string): Promise<ScanRecord[]> {
  const out: ScanRecord[] = [];
  for await (const r of scan(root, { engine: 'inline' })) out.push(r);
  return out;
}

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof SidecarError, String(e));
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

const snapshot = (root: string) =>
  Object.fromEntries(
    (fs.readdirSync(root, { recursive: true }) as string[]).sort().map((rel) => {
      const p = path.join(root, rel);
      const st = fs.lstatSync(p);
      return [rel, st.isFile() ? fs.readFileSync(p, 'latin1') : st.isSymbolicLink() ? `-> ${fs.readlinkSync(p)}` : 'dir'];
    }),
  );

test('IMG_1.jpg + IMG_1.png + IMG_1.json recording neither: scan and read say ambiguous; a save writes the image\'s own name-ext file, merged from the shared one', async (t) => {
  // Before, every save here was refused (AMBIGUOUS): a RAW+JPEG pair could never be saved to.
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.png': FAKE_JPEG, 'IMG_1.json': { json: { face_detection: { faces: [] } } } }, testDir(t));
  const recs = await records(root);
  assert.deepEqual(recs.map((r) => r.category), ['ambiguous']);
  const shared = fs.readFileSync(path.join(root, 'IMG_1.json'));
  const before = await readSidecarDetailed(path.join(root, 'IMG_1.png'));
  assert.deepEqual(before.data, { face_detection: { faces: [] } });
  assert.deepEqual(before.findings.map((f) => f.code), ['ambiguous']);
  const res = await saveSidecar(path.join(root, 'IMG_1.png'), 'yolov8', { objects: [] });
  assert.equal(res.path, path.join(root, 'IMG_1.png.json'), 'its own file, in the folder\'s format');
  assert.equal(res.kept, path.join(root, 'IMG_1.json'));
  assert.deepEqual(fs.readFileSync(path.join(root, 'IMG_1.json')), shared, 'the shared file is untouched');
  const png = await readSidecarDetailed(path.join(root, 'IMG_1.png'));
  assert.equal(png.path, res.path);
  assert.deepEqual(Object.keys(png.data), ['face_detection', 'yolov8', 'sidecar_info']);
  assert.deepEqual(png.findings, []);
  // The other image still reads the shared file, still ambiguous, and never the PNG's own file.
  const jpg = await readSidecarDetailed(path.join(root, 'IMG_1.jpg'));
  assert.equal(jpg.path, path.join(root, 'IMG_1.json'));
  assert.deepEqual(jpg.findings.map((f) => f.code), ['ambiguous']);
  assert.equal(jpg.data.yolov8, undefined);
  // convert turns each file into its own naming's bin (it refused the whole group before): the
  // answers stay as they were.
  const c = await convert(root, 'bin', { engine: 'inline' });
  assert.equal(c.converted, 2);
  assert.equal(c.conflicts, 0);
  assert.deepEqual(fs.readdirSync(root).sort(), ['IMG_1.bin', 'IMG_1.jpg', 'IMG_1.png', 'IMG_1.png.bin']);
  assert.deepEqual((await readSidecarDetailed(path.join(root, 'IMG_1.png'))).data, png.data);
  const jpgAfter = await readSidecarDetailed(path.join(root, 'IMG_1.jpg'));
  assert.deepEqual(jpgAfter.data, jpg.data);
  assert.deepEqual(jpgAfter.findings.map((f) => f.code), ['ambiguous']);
});

test('a new sidecar for an image whose stem another image shares takes the name-ext form; naming "stem" asked explicitly is refused', async (t) => {
  // Before, the first save was refused (AMBIGUOUS) and needed naming "name-ext".
  const root = makeTree({ 'IMG_2.jpg': FAKE_JPEG, 'IMG_2.CR2': 'raw' }, testDir(t));
  await rejectsWith(saveSidecar(path.join(root, 'IMG_2.jpg'), 'yolov8', { objects: [] }, { naming: 'stem' }), 'AMBIGUOUS', /would belong to/);
  assert.deepEqual(fs.readdirSync(root).sort(), ['IMG_2.CR2', 'IMG_2.jpg']);
  const res = await saveSidecar(path.join(root, 'IMG_2.jpg'), 'yolov8', { objects: [] });
  assert.equal(path.basename(res.path), 'IMG_2.jpg.bin');
  const recs = await records(root);
  assert.deepEqual(recs.map((r) => [r.category, r.images.map((i) => i.name)]), [['missing', ['IMG_2.CR2']], ['ok', ['IMG_2.jpg']]]);
});

test('an image of a type outside the set, given explicitly, reads its own name-ext file (a save wrote frame.ppm.json, the read gave {} and the next save a CONFLICT)', async (t) => {
  const root = makeTree({ 'frame_001.jpg': FAKE_JPEG, 'frame_001.ppm': 'P6 raw frame' }, testDir(t));
  const img = path.join(root, 'frame_001.ppm');
  const first = await saveSidecar(img, 'face_detection', { faces: [1, 2] }, { format: 'json' });
  assert.equal(path.basename(first.path), 'frame_001.ppm.json', 'another image shares the stem: the name-ext form');
  const read = await readSidecarDetailed(img);
  assert.equal(read.path, first.path);
  assert.deepEqual((read.data as { face_detection: unknown }).face_detection, { faces: [1, 2] });
  const second = await saveSidecar(img, 'object_detection', { objects: [] }, { format: 'json' });
  assert.equal(second.path, first.path);
  assert.deepEqual(Object.keys(decodeSidecar(fs.readFileSync(first.path)).data).filter((k) => k !== 'sidecar_info').sort(), ['face_detection', 'object_detection']);
});

test('an ASCII image reads a sidecar whose name equals its own after NFC through U+212A KELVIN SIGN or U+037E GREEK QUESTION MARK, as the scan pairs them (the read gave {} while validate said ok)', async (t) => {
  const root = makeTree({ 'IMG_K.jpg': FAKE_JPEG, 'IMG_\u212A.json': { json: { face_detection: { faces: ['kelvin'] } } }, 'a;b.jpg': FAKE_JPEG, 'a\u037Eb.json': { json: { face_detection: { faces: ['semicolon'] } } } }, testDir(t));
  assert.deepEqual((await records(root)).map((r) => [r.category, r.images.map((i) => i.name)]), [['ok', ['IMG_K.jpg']], ['ok', ['a;b.jpg']]]);
  for (const [image, sidecar, face] of [['IMG_K.jpg', 'IMG_\u212A.json', 'kelvin'], ['a;b.jpg', 'a\u037Eb.json', 'semicolon']]) {
    const r = await readSidecarDetailed(path.join(root, image));
    assert.equal(r.path, path.join(root, sidecar), image);
    assert.deepEqual((r.data as { face_detection: unknown }).face_detection, { faces: [face] });
  }
});

test('IMG_1.JSON (upper-case extension) is not a sidecar for scan, read and save alike', async (t) => {
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.JSON': { json: { face_detection: { faces: [] } } } }, testDir(t));
  assert.deepEqual((await records(root)).map((r) => r.category), ['missing']);
  assert.deepEqual((await readSidecarDetailed(path.join(root, 'IMG_1.jpg'))).path, null);
});

test('a sidecar path given as the image is a usage error; nothing is created', async (t) => {
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: { a: 1 } } }, testDir(t));
  await rejectsWith(saveSidecar(path.join(root, 'IMG_1.json'), 'yolov8', { objects: [] }), 'USAGE', /is a sidecar file, not an image/);
  await rejectsWith(readSidecarDetailed(path.join(root, 'IMG_1.json')), 'USAGE');
  await rejectsWith(saveSidecar(path.join(root, 'nothing.bin'), 'yolov8', {}), 'USAGE');
  // A name-ext file names its image (it suggested "IMG_1.CR2.jpg" for IMG_1.CR2.json).
  await rejectsWith(saveSidecar(path.join(root, 'IMG_1.CR2.json'), 'yolov8', {}), 'USAGE', /belongs to \(e\.g\. IMG_1\.CR2\)$/);
  await rejectsWith(saveSidecar(path.join(root, 'IMG_1.json'), 'yolov8', {}), 'USAGE', /belongs to \(e\.g\. IMG_1\.jpg\)$/);
  assert.deepEqual(fs.readdirSync(root).sort(), ['IMG_1.jpg', 'IMG_1.json']);
});

test('symlinked sidecars are read, never written through: outside file and shared file unchanged', async (t) => {
  const dir = testDir(t);
  const outside = makeTree({ 'private.json': { json: { sidecar_info: {}, secret: 1 } } }, path.join(dir, 'outside'));
  const root = makeTree(
    {
      'A.jpg': FAKE_JPEG,
      'A.json': { symlink: path.join(outside, 'private.json') },
      'B.jpg': FAKE_JPEG,
      'C.jpg': FAKE_JPEG,
      'shared.json': { json: { face_detection: { faces: [] } } },
      'B.json': { symlink: 'shared.json' },
      'C.json': { symlink: 'shared.json' },
    },
    path.join(dir, 'lib'),
  );
  const before = { ...snapshot(outside), ...snapshot(root) };
  assert.deepEqual((await readSidecarDetailed(path.join(root, 'A.jpg'))).data, { sidecar_info: {}, secret: 1 }, 'read through the link');
  for (const img of ['A.jpg', 'B.jpg', 'C.jpg']) {
    await rejectsWith(saveSidecar(path.join(root, img), 'yolov8', { objects: [] }), 'CONFLICT', /is a symlink.*never writes through/);
  }
  assert.deepEqual({ ...snapshot(outside), ...snapshot(root) }, before);
});

test('NFD image, NFC sidecar, and a link-side sidecar: save and convert derive the same lock keys', async (t) => {
  const root = testDir(t);
  const nfd = 'E\u0301quipe';
  const nfc = '\u00C9quipe';
  makeTree({ [`${nfd}.jpg`]: FAKE_JPEG, [`${nfc}.json`]: { json: { a: 1 } }, 'orig/X.jpg': FAKE_JPEG, 'games/X.jpg': { symlink: '../orig/X.jpg' }, 'games/X.json': { json: { b: 1 } } }, root);
  const loc = await locateSidecar(path.join(root, `${nfd}.jpg`));
  assert.deepEqual(sidecarLockKeys(loc), [lockKeyForSidecar(path.join(root, `${nfc}.json`), 'stem')]);
  assert.equal(lockKeyForImage(root, `${nfd}.jpg`), path.join(fs.realpathSync(root), nfc));
  const link = await locateSidecar(path.join(root, 'games', 'X.jpg'));
  assert.deepEqual(link.candidates.map((c) => [path.relative(root, c.path), c.side]), [['games/X.json', 'link']]);
  assert.ok(sidecarLockKeys(link).includes(lockKeyForSidecar(path.join(root, 'games', 'X.json'), 'stem')), 'the link-side sidecar is locked by save too');
  // A symlinked folder spelling of the same place gives the same key.
  fs.symlinkSync(root, path.join(path.dirname(root), path.basename(root) + '-alias'));
  t.after(() => fs.rmSync(path.join(path.dirname(root), path.basename(root) + '-alias'), { force: true }));
  assert.equal(lockKeyForImage(path.join(path.dirname(root), path.basename(root) + '-alias'), `${nfc}.jpg`), lockKeyForImage(root, `${nfd}.jpg`));
});

test('a new sidecar follows its siblings format (JSON folder → .json); an explicit format wins', async (t) => {
  const root = makeTree({ 'A.jpg': FAKE_JPEG, 'A.json': { json: { a: 1 } }, 'B.jpg': FAKE_JPEG, 'C.jpg': FAKE_JPEG }, testDir(t));
  const b = await saveSidecar(path.join(root, 'B.jpg'), 'yolov8', { objects: [] });
  assert.equal(path.basename(b.path), 'B.json');
  assert.equal(decodeSidecar(fs.readFileSync(b.path)).format, 'json');
  const c = await saveSidecar(path.join(root, 'C.jpg'), 'yolov8', { objects: [] }, { format: 'bin' });
  assert.equal(path.basename(c.path), 'C.bin');
  const empty = makeTree({ 'D.jpg': FAKE_JPEG }, path.join(root, 'sub'));
  assert.equal(path.basename((await saveSidecar(path.join(empty, 'D.jpg'), 'x', {})).path), 'D.bin', 'no siblings: bin');
});

test('unknown image types: x.xyz + x.json is unknown-image, never quarantined; known types pair', async (t) => {
  const root = makeTree(
    {
      'a.avif': 'img', 'a.json': { json: { face_detection: { faces: [] } } },
      'b.cr3': 'raw', 'b.json': { json: { face_detection: { faces: [] } } },
      'c.mp4': 'video', 'c.json': { json: { face_detection: { faces: [] } } },
      'x.xyz': 'who knows', 'x.json': { json: { face_detection: { faces: [] } } },
      'gone.json': { json: { face_detection: { faces: [] } } },
      ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [[`k${i}.jpg`, FAKE_JPEG], [`k${i}.json`, { json: { face_detection: { faces: [] } } }]]).flat()),
    },
    testDir(t),
  );
  const cats = Object.fromEntries((await records(root)).map((r) => [r.sidecars[0]?.name ?? r.images[0].name, r.category]));
  assert.equal(cats['a.json'], 'ok');
  assert.equal(cats['b.json'], 'ok');
  assert.equal(cats['c.json'], 'ok');
  assert.equal(cats['x.json'], 'unknown-image');
  assert.equal(cats['gone.json'], 'orphan');
  const r = await cleanup(root, { engine: 'inline' });
  assert.deepEqual(r.actions.map((a) => a.rel), ['gone.json']);
  assert.ok(fs.existsSync(path.join(root, 'x.json')));
  // --image-ext adds a type: then x.json is simply ok.
  const withXyz = [];
  for await (const rec of scan(root, { engine: 'inline', imageExtensions: ['jpg', 'xyz'] })) withXyz.push(rec);
  assert.equal(withXyz.find((x) => x.images[0]?.name === 'x.xyz')?.category, 'ok');
});
