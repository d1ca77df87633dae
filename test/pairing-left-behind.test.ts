/**
 * A RAW+JPEG pair whose JPEG was moved by hand (a plain `mv`, outside the tool): the JPEG's stem file
 * (`IMG_6.bin`, recorded for IMG_6.JPG) stays beside `IMG_6.CR2`, which has its own `IMG_6.CR2.bin`
 * (docs/PAIRING.md §3 "left behind"). Before, the RAW read the JPEG's results as its own, a save of
 * the RAW merged into that file (the JPEG's faces became the RAW's), its own file was called a kept
 * older copy (which `resolve` may quarantine), and `relink` saw no orphan. Every case here failed
 * on that code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSidecarDetailed } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import { validate } from '../src/ops/validate.js';
import { scan } from '../src/ops/scan.js';
import { relink } from '../src/ops/relink.js';
import { resolveConflicts } from '../src/ops/resolve.js';
import { copyImages, moveImages } from '../src/ops/move-images.js';
import type { JsonObject } from '../src/types.js';
import { FAKE_JPEG, makeTree, testDir } from './helpers/tree.js';
import { CLI, CLIENT, findPython } from './helpers/python.js';

const faceIds = (data: JsonObject) => ((data.face_detection as JsonObject).faces as JsonObject[]).map((f) => f.id);

/** lib/IMG_6.CR2 + IMG_6.CR2.bin (its own) and IMG_6.bin (the JPEG's), the JPEG moved to moved/. */
async function movedJpegLibrary(root: string): Promise<{ lib: string; raw: string; leftBehind: string; rawOwn: string; movedJpeg: string }> {
  const lib = path.join(root, 'lib');
  makeTree({ 'lib/IMG_6.JPG': FAKE_JPEG, 'moved/.keep': '' }, root);
  // The JPEG alone: its save writes the stem form. Then the RAW arrives: its own file is name-ext.
  await saveSidecar(path.join(lib, 'IMG_6.JPG'), 'face_detection', { faces: [{ id: 'jpeg-face' }] });
  fs.writeFileSync(path.join(lib, 'IMG_6.CR2'), 'raw bytes');
  await saveSidecar(path.join(lib, 'IMG_6.CR2'), 'face_detection', { faces: [{ id: 'raw-face' }] });
  assert.deepEqual(fs.readdirSync(lib).sort(), ['IMG_6.CR2', 'IMG_6.CR2.bin', 'IMG_6.JPG', 'IMG_6.bin']);
  const movedJpeg = path.join(root, 'moved', 'IMG_6.JPG');
  fs.renameSync(path.join(lib, 'IMG_6.JPG'), movedJpeg); // the user's plain mv
  return { lib, raw: path.join(lib, 'IMG_6.CR2'), leftBehind: path.join(lib, 'IMG_6.bin'), rawOwn: path.join(lib, 'IMG_6.CR2.bin'), movedJpeg };
}

test('left behind: the RAW reads its own file, and its save merges there, never into the JPEG\'s stem file', async (t) => {
  const { raw, leftBehind, rawOwn } = await movedJpegLibrary(testDir(t));
  const before = fs.readFileSync(leftBehind);
  const r = await readSidecarDetailed(raw);
  assert.equal(r.path, rawOwn);
  assert.deepEqual(faceIds(r.data), ['raw-face']);
  assert.deepEqual(
    r.findings.map((f) => [f.code, f.path]),
    [['left-behind', leftBehind]],
  );
  assert.match(r.findings[0].message, /records IMG_6\.JPG/);
  const saved = await saveSidecar(raw, 'quality_assessment', { score: 1 });
  assert.equal(saved.path, rawOwn);
  const after = await readSidecarDetailed(raw);
  assert.deepEqual(faceIds(after.data), ['raw-face']);
  assert.deepEqual(Object.keys(after.data).sort(), ['face_detection', 'quality_assessment', 'sidecar_info']);
  assert.deepEqual(fs.readFileSync(leftBehind), before, 'the JPEG\'s file is untouched');
});

test('not left behind: with the stem file alone (no file of its own beside it), the RAW reads it, as before', async (t) => {
  const root = testDir(t);
  const lib = path.join(root, 'lib');
  makeTree({ 'lib/IMG_7.JPG': FAKE_JPEG }, root);
  await saveSidecar(path.join(lib, 'IMG_7.JPG'), 'face_detection', { faces: [{ id: 'jpeg-face' }] });
  fs.writeFileSync(path.join(lib, 'IMG_7.CR2'), 'raw bytes');
  fs.renameSync(path.join(lib, 'IMG_7.JPG'), path.join(root, 'IMG_7.JPG'));
  // Only the stem file: nothing tells it from the RAW's own (a JPEG deleted after the RAW inherited
  // its results reads the same), so the RAW reads it, as before. PAIRING.md §3 says so.
  const r = await readSidecarDetailed(path.join(lib, 'IMG_7.CR2'));
  assert.equal(r.path, path.join(lib, 'IMG_7.bin'));
});

test('left behind: tree commands name it, count it as a sidecar file, and take the RAW\'s own file as its sidecar, with and without the index', async (t) => {
  const root = testDir(t);
  const { lib, leftBehind, rawOwn } = await movedJpegLibrary(root);
  const noIndex = await validate(lib, { index: false });
  const byPath = Object.fromEntries(noIndex.results!.map((r) => [r.file_path, r.category]));
  assert.deepEqual(byPath, { [rawOwn]: 'ok', [leftBehind]: 'left-behind' });
  const records = [];
  for await (const rec of scan(lib, { index: false })) records.push(rec);
  assert.equal(records.length, 1);
  assert.equal(records[0].category, 'ok');
  assert.equal(records[0].effective?.path, rawOwn);
  assert.deepEqual(
    records[0].findings.map((f) => [f.code, f.paths]),
    [['left-behind', [leftBehind]]],
  );
  // The index's runs (the first stores, the later ones serve the folder's records) answer the same.
  const indexPath = path.join(root, 'idx');
  for (let run = 0; run < 4; run++) {
    const withIndex = await validate(lib, { index: { path: indexPath } });
    assert.deepEqual(
      withIndex.results!.map((r) => [r.file_path, r.category, r.is_valid]),
      noIndex.results!.map((r) => [r.file_path, r.category, r.is_valid]),
      `run ${run + 1}`,
    );
  }
});

test('left behind: relink returns it to the moved JPEG; resolve never quarantines it as the RAW\'s copy', async (t) => {
  const root = testDir(t);
  const { lib, raw, leftBehind, rawOwn, movedJpeg } = await movedJpegLibrary(root);
  const resolved = await resolveConflicts(lib, { prefer: 'newest', dryRun: true });
  assert.equal(resolved.images, 0, JSON.stringify(resolved.decisions));
  const report = await relink(root);
  assert.equal(report.relinked, 1, JSON.stringify(report));
  assert.equal(fs.existsSync(leftBehind), false);
  const jpeg = await readSidecarDetailed(movedJpeg);
  assert.equal(jpeg.path, path.join(root, 'moved', 'IMG_6.bin'));
  assert.deepEqual(faceIds(jpeg.data), ['jpeg-face']);
  const r = await readSidecarDetailed(raw);
  assert.equal(r.path, rawOwn);
  assert.deepEqual(r.findings, []);
});

test('left behind: mv and cp of the RAW take its own file and leave the JPEG\'s where it is', async (t) => {
  for (const op of ['mv', 'cp'] as const) {
    const root = testDir(t);
    const { lib, raw, leftBehind, rawOwn } = await movedJpegLibrary(root);
    const dest = path.join(root, 'best');
    fs.mkdirSync(dest);
    const before = fs.readFileSync(leftBehind);
    const r = await (op === 'mv' ? moveImages : copyImages)([raw], dest);
    assert.deepEqual(r.problems, [], op);
    assert.deepEqual(fs.readdirSync(dest).sort(), ['IMG_6.CR2', 'IMG_6.CR2.bin'], op);
    assert.deepEqual(fs.readFileSync(leftBehind), before, op);
    assert.deepEqual(fs.readdirSync(lib).sort(), op === 'mv' ? ['IMG_6.bin'] : ['IMG_6.CR2', 'IMG_6.CR2.bin', 'IMG_6.bin'], op);
    assert.equal(fs.existsSync(rawOwn), op === 'cp', op);
    const moved = await readSidecarDetailed(path.join(dest, 'IMG_6.CR2'));
    assert.deepEqual(faceIds(moved.data), ['raw-face'], op);
  }
});

test('not left behind: a stem file that records this image, no image, or an image of another stem stays the image\'s own', async (t) => {
  const root = testDir(t);
  const cases: [string, JsonObject][] = [
    ['own', { image_path: '/elsewhere/IMG_8.CR2' }],
    ['none', {}],
    ['other-stem', { image_path: '/elsewhere/IMG_9.JPG' }],
    ['not-an-image', { image_path: '/elsewhere/IMG_8.txt' }],
  ];
  for (const [name, info] of cases) {
    const dir = path.join(root, name);
    makeTree(
      {
        'IMG_8.CR2': 'raw',
        'IMG_8.json': { json: { sidecar_info: info, face_detection: { faces: [{ id: 'stem' }] } } },
        'IMG_8.CR2.json': { json: { sidecar_info: { image_path: path.join(dir, 'IMG_8.CR2') }, face_detection: { faces: [{ id: 'name-ext' }] } } },
      },
      dir,
    );
    const r = await readSidecarDetailed(path.join(dir, 'IMG_8.CR2'));
    assert.equal(r.path, path.join(dir, 'IMG_8.json'), name);
    assert.deepEqual(r.findings.map((f) => f.code), ['kept'], name);
    const v = await validate(dir, { index: false });
    assert.deepEqual(v.results!.map((x) => x.category).sort(), ['kept', 'ok'], name);
  }
});

const python = findPython();

test('left behind: the Python client reads the RAW\'s own file (its local path hands such an image to the library)', { skip: python ? false : 'no python3 >= 3.9' }, async (t) => {
  const { raw } = await movedJpegLibrary(testDir(t));
  const script = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
from image_sidecar import ImageSidecarManager
with ImageSidecarManager() as m:
    print(json.dumps([f["id"] for f in m.read_data(sys.argv[2])["face_detection"]["faces"]]))
`;
  const r = spawnSync(python!, ['-c', script, CLIENT, raw], {
    encoding: 'utf8',
    env: { ...process.env, IMAGE_SIDECAR_BIN: CLI, IMAGE_SIDECAR_NODE: process.execPath, PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ['raw-face']);
});
