/**
 * A RAW+JPEG pair whose JPEG was moved by hand (a plain `mv`, outside the tool): the JPEG's stem file
 * (`IMG_6.bin`, recorded for IMG_6.JPG) stays beside `IMG_6.CR2`, which has its own `IMG_6.CR2.bin`
 * (docs/PAIRING.md §3 "left behind"). Before, the RAW read the JPEG's results as its own, a save of
 * the RAW merged into that file (the JPEG's faces became the RAW's), its own file was called a kept
 * older copy (which `resolve` may quarantine), and `relink` saw no orphan. The left-behind cases
 * failed on that code; the not-left-behind ones guard what stays as it was.
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
import { planRelink, relink } from '../src/ops/relink.js';
import { cleanup } from '../src/ops/cleanup.js';
import { restore } from '../src/ops/restore.js';
import { stats } from '../src/ops/stats.js';
import { formatStats } from '../src/ops/format-stats.js';
import { SidecarError } from '../src/errors.js';
import { withExtraImageExtensions } from '../src/discovery/extensions.js';
import { resolveConflicts } from '../src/ops/resolve.js';
import { copyImages, moveImages } from '../src/ops/move-images.js';
import type { JsonObject } from '../src/types.js';
import { FAKE_JPEG, makeTree, testDir } from './helpers/tree.js';
import { CLI, CLIENT, findPython } from './helpers/python.js';
import { assertValidateAsWithoutIndex } from './helpers/index-parity.js';
import { TREE_CLI_PATH } from './helpers/cli.js';

/** A sidecar (a tree node) as a save for `imagePath` leaves it, with one face of id `face`. */
const savedFor = (imagePath: string, face: string) => ({ json: { sidecar_info: { image_path: imagePath }, face_detection: { faces: [{ id: face }] } } });

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
  // Asked for the stem form, the save is refused, naming the file that holds that name and whose it is.
  await assert.rejects(saveSidecar(raw, 'quality_assessment', { score: 2 }, { naming: 'stem' }), (e: SidecarError) => e.code === 'AMBIGUOUS' && /IMG_6\.bin is another image's \(it records IMG_6\.JPG: left behind/.test(e.message));
  assert.deepEqual(fs.readFileSync(leftBehind), before);
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
  const session = scan(lib, { index: false });
  for await (const rec of session) records.push(rec);
  assert.equal(session.summary.sidecarFiles, 2);
  assert.equal(records.length, 1);
  assert.equal(records[0].category, 'ok');
  assert.equal(records[0].effective?.path, rawOwn);
  assert.deepEqual(
    records[0].findings.map((f) => [f.code, f.paths]),
    [['left-behind', [leftBehind]]],
  );
  // The index's runs (the first stores, the later ones serve the folder's records) answer the same.
  const indexPath = path.join(root, 'idx');
  for (let run = 0; run < 4; run++) await assertValidateAsWithoutIndex(lib, indexPath, noIndex, `run ${run + 1}`);
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

test('not left behind: a stem file that records this image or an image of another stem stays the image\'s own (one that records none: pairing-unrecorded-stem.test.ts)', async (t) => {
  const root = testDir(t);
  const cases: [string, JsonObject][] = [
    ['own', { image_path: '/elsewhere/IMG_8.CR2' }],
    ['other-stem', { image_path: '/elsewhere/IMG_9.JPG' }],
    ['not-an-image', { image_path: '/elsewhere/IMG_8.txt' }],
  ];
  for (const [name, info] of cases) {
    const dir = path.join(root, name);
    makeTree(
      {
        'IMG_8.CR2': 'raw',
        'IMG_8.json': { json: { sidecar_info: info, face_detection: { faces: [{ id: 'stem' }] } } },
        'IMG_8.CR2.json': savedFor(path.join(dir, 'IMG_8.CR2'), 'name-ext'),
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

test('left behind: a symlinked RAW whose link is named otherwise than its target checks the files beside the link against the link\'s name (read, save, cleanup and relink agree)', async (t) => {
  const root = testDir(t);
  const { lib, raw, leftBehind, rawOwn } = await movedJpegLibrary(root);
  fs.mkdirSync(path.join(root, 'store'));
  fs.renameSync(raw, path.join(root, 'store', 'X.CR2')); // archived, a link left in its place
  fs.symlinkSync('../store/X.CR2', raw);
  const before = fs.readFileSync(leftBehind);
  const r = await readSidecarDetailed(raw);
  assert.equal(r.path, rawOwn);
  assert.deepEqual(faceIds(r.data), ['raw-face']);
  assert.deepEqual(r.findings.map((f) => [f.code, f.path]), [['left-behind', leftBehind]]);
  await saveSidecar(raw, 'quality_assessment', { score: 2 });
  assert.deepEqual(fs.readFileSync(leftBehind), before, 'the JPEG\'s file is untouched');
  assert.deepEqual(faceIds((await readSidecarDetailed(raw)).data), ['raw-face']);
  // cleanup's orphans (the scan's) and relink's own walk name the same file.
  const plan = await planRelink(root, { index: false });
  assert.deepEqual(plan.matches.flatMap((m) => m.sidecars.map((x) => x.path)), [leftBehind]);
  const preview = await cleanup(root, { dryRun: true, index: false });
  assert.deepEqual([preview.orphans, preview.relinkable], [0, 1], 'relinkable, so cleanup leaves it');
  const inLib = await cleanup(lib, { dryRun: true, index: false, force: true });
  assert.deepEqual(inLib.actions.map((a) => a.path), [leftBehind], 'in lib alone its image is not to be found: an orphan');
});

test('left behind: dotted names — A.jpg.bin, the name-ext file of a moved A.jpg, is not the stem file of A.jpg.png', async (t) => {
  const root = testDir(t);
  const lib = path.join(root, 'lib');
  makeTree({ 'lib/A.jpg': FAKE_JPEG, 'lib/A.CR2': 'raw' }, root);
  await saveSidecar(path.join(lib, 'A.jpg'), 'face_detection', { faces: [{ id: 'jpeg-face' }] });
  fs.writeFileSync(path.join(lib, 'A.jpg.png'), 'png');
  await saveSidecar(path.join(lib, 'A.jpg.png'), 'face_detection', { faces: [{ id: 'png-face' }] });
  assert.deepEqual(fs.readdirSync(lib).sort(), ['A.CR2', 'A.jpg', 'A.jpg.bin', 'A.jpg.png', 'A.jpg.png.bin']);
  fs.rmSync(path.join(lib, 'A.CR2'));
  fs.renameSync(path.join(lib, 'A.jpg'), path.join(root, 'A.jpg'));
  const png = path.join(lib, 'A.jpg.png');
  const r = await readSidecarDetailed(png);
  assert.equal(r.path, path.join(lib, 'A.jpg.png.bin'));
  assert.deepEqual(faceIds(r.data), ['png-face']);
  assert.deepEqual(r.findings.map((f) => f.code), ['left-behind']);
  const resolved = await resolveConflicts(lib, { prefer: 'newest', dryRun: true });
  assert.equal(resolved.images, 0);
  const report = await relink(root);
  assert.equal(report.relinked, 1, JSON.stringify(report));
  assert.deepEqual(faceIds((await readSidecarDetailed(path.join(root, 'A.jpg'))).data), ['jpeg-face']);
});

test('left behind: stats and format-stats never count it as a kept copy; validate names it whatever the record\'s category', async (t) => {
  const root = testDir(t);
  const { lib, leftBehind, rawOwn } = await movedJpegLibrary(root);
  const s = await stats(lib, { index: false });
  assert.equal(s.kept_copies, 0);
  assert.equal(s.sidecar_files, 2);
  const f = await formatStats(lib, { index: false });
  assert.equal(f.kept_copies, 0);
  fs.writeFileSync(rawOwn, 'not a sidecar'); // the RAW's own file corrupt: the record is corrupt
  const v = await validate(lib, { index: false });
  assert.deepEqual(Object.fromEntries(v.results!.map((r) => [r.file_path, r.category])), { [rawOwn]: 'corrupt', [leftBehind]: 'left-behind' });
  await assert.rejects(readSidecarDetailed(path.join(lib, 'IMG_6.CR2')), (e: SidecarError) => e.code === 'CORRUPT', 'never the JPEG\'s data in place of the RAW\'s own');
});

test('not left behind: beside another tool\'s file in the name-ext name, or recorded under another case of the extension, the stem file stays the image\'s', async (t) => {
  const root = testDir(t);
  const takeout = path.join(root, 'takeout');
  makeTree(
    {
      'IMG_9.CR2': 'raw',
      'IMG_9.json': savedFor('/gone/IMG_9.jpg', 'stem'),
      'IMG_9.CR2.json': { json: { title: 'IMG_9.CR2', photoTakenTime: { timestamp: '1' } } },
    },
    takeout,
  );
  const r = await readSidecarDetailed(path.join(takeout, 'IMG_9.CR2'));
  assert.equal(r.path, path.join(takeout, 'IMG_9.json'));
  assert.deepEqual(r.findings.map((f) => f.code), ['foreign']);
  const recs = [];
  for await (const rec of scan(takeout, { index: false })) recs.push(rec);
  assert.equal(recs[0].effective?.path, path.join(takeout, 'IMG_9.json'));
  assert.equal(recs[0].findings.some((f) => f.code === 'left-behind'), false);
  const saved = await saveSidecar(path.join(takeout, 'IMG_9.CR2'), 'quality_assessment', { score: 3 });
  assert.equal(saved.path, path.join(takeout, 'IMG_9.json'), 'merged into its own (stem) file, as a read takes it');
  const cased = path.join(root, 'cased');
  makeTree(
    {
      'IMG_5.CR2': 'raw',
      'IMG_5.json': savedFor('/old/IMG_5.cr2', 'stem'),
      'IMG_5.CR2.json': savedFor(path.join(cased, 'IMG_5.CR2'), 'name-ext'),
    },
    cased,
  );
  assert.equal((await readSidecarDetailed(path.join(cased, 'IMG_5.CR2'))).path, path.join(cased, 'IMG_5.json'));
});

test('not left behind: a file a save through an image symlink wrote records the target\'s name, and stays the link\'s own', async (t) => {
  const root = testDir(t);
  const lib = path.join(root, 'lib');
  makeTree(
    {
      'store/IMG_1.jpeg': FAKE_JPEG,
      'lib/IMG_1.jpg': { symlink: '../store/IMG_1.jpeg' },
      'lib/IMG_1.json': { json: { face_detection: { faces: [{ id: 'current' }] } } },
      'lib/IMG_1.jpg.json': { json: { face_detection: { faces: [{ id: 'older' }] } } },
    },
    root,
  );
  const link = path.join(lib, 'IMG_1.jpg');
  const saved = await saveSidecar(link, 'quality_assessment', { score: 1 });
  assert.equal(saved.path, path.join(lib, 'IMG_1.json'));
  const r = await readSidecarDetailed(link);
  assert.equal(r.path, path.join(lib, 'IMG_1.json'));
  assert.deepEqual(Object.keys(r.data).sort(), ['face_detection', 'quality_assessment', 'sidecar_info']);
  assert.deepEqual(r.findings.map((f) => f.code), ['kept']);
  const v = await validate(lib, { index: false });
  assert.equal(v.results!.some((x) => x.category === 'left-behind'), false);
  const plan = await planRelink(root, { index: false });
  assert.equal(plan.orphans, 0);
});

test('not left behind: a folder or a link to nothing in the name-ext name is no file of the image\'s — read, the scan and relink all keep the stem file the image\'s', async (t) => {
  for (const kind of ['dir', 'dangling'] as const) {
    const root = testDir(t);
    const lib = path.join(root, 'lib');
    makeTree(
      {
        'lib/IMG_4.CR2': 'raw',
        'lib/IMG_4.json': savedFor(path.join(lib, 'IMG_4.JPG'), 'stem'),
        'moved/IMG_4.JPG': FAKE_JPEG,
      },
      root,
    );
    if (kind === 'dir') fs.mkdirSync(path.join(lib, 'IMG_4.CR2.json'));
    else fs.symlinkSync('nowhere.json', path.join(lib, 'IMG_4.CR2.json'));
    const r = await readSidecarDetailed(path.join(lib, 'IMG_4.CR2'));
    assert.equal(r.path, path.join(lib, 'IMG_4.json'), kind);
    const recs = [];
    for await (const rec of scan(lib, { index: false })) recs.push(rec);
    const img = recs.find((x) => x.images.length === 1)!;
    assert.equal(img.findings.some((f) => f.code === 'left-behind'), false, kind);
    const plan = await planRelink(root, { index: false });
    assert.deepEqual(plan.matches, [], kind);
  }
});

test('not left behind: beside another tool\'s file in the name-ext name, mv takes the stem file with the RAW', async (t) => {
  const root = testDir(t);
  makeTree(
    {
      'lib/IMG_9.CR2': 'raw',
      'lib/IMG_9.json': savedFor('/gone/IMG_9.jpg', 'stem'),
      'lib/IMG_9.CR2.json': { json: { title: 'IMG_9.CR2', photoTakenTime: { timestamp: '1' } } },
      'dest/.keep': '',
    },
    root,
  );
  const r = await moveImages([path.join(root, 'lib/IMG_9.CR2')], path.join(root, 'dest'));
  assert.deepEqual(r.problems, []);
  // (Another tool's file in the image's name goes along, as it always did.)
  assert.deepEqual(fs.readdirSync(path.join(root, 'dest')).sort(), ['.keep', 'IMG_9.CR2', 'IMG_9.CR2.json', 'IMG_9.json']);
  assert.deepEqual(faceIds((await readSidecarDetailed(path.join(root, 'dest/IMG_9.CR2'))).data), ['stem']);
});

test('left behind: two stem files of the moved JPEG (.bin and .json) are both passed over, and relink moves both', async (t) => {
  const root = testDir(t);
  const { lib, raw, leftBehind, rawOwn, movedJpeg } = await movedJpegLibrary(root);
  const jsonToo = path.join(lib, 'IMG_6.json');
  fs.writeFileSync(jsonToo, JSON.stringify({ sidecar_info: { image_path: movedJpeg.replace('/moved/', '/lib/') }, yolov8: { objects: [] } }));
  const r = await readSidecarDetailed(raw);
  assert.equal(r.path, rawOwn);
  assert.deepEqual(r.findings.map((f) => [f.code, f.path]).sort(), [['left-behind', leftBehind], ['left-behind', jsonToo]].sort());
  const v = await validate(lib, { index: false });
  assert.deepEqual(v.results!.map((x) => x.category).sort(), ['left-behind', 'left-behind', 'ok']);
});

test('left behind: with the JPEG deleted, cleanup quarantines it and restore puts it back byte for byte', async (t) => {
  const root = testDir(t);
  const { raw, leftBehind, rawOwn, movedJpeg } = await movedJpegLibrary(root);
  fs.rmSync(movedJpeg);
  const before = fs.readFileSync(leftBehind);
  const c = await cleanup(root, { index: false, force: true });
  assert.equal(c.removed, 1, JSON.stringify(c));
  assert.equal(fs.existsSync(leftBehind), false);
  assert.deepEqual((await readSidecarDetailed(raw)).findings, []);
  await restore(root);
  assert.deepEqual(fs.readFileSync(leftBehind), before);
  assert.equal((await readSidecarDetailed(raw)).path, rawOwn);
});

test('left behind: a JPEG saved again while the RAW shared its stem, then moved by hand — relink returns its name-ext file, not the older stem copy that would hide it', async (t) => {
  const root = testDir(t);
  const lib = path.join(root, 'lib');
  makeTree({ 'lib/IMG_1.JPG': FAKE_JPEG, 'moved/.keep': '' }, root);
  const jpeg = path.join(lib, 'IMG_1.JPG');
  await saveSidecar(jpeg, 'face_detection', { faces: [{ id: 'jpeg1' }] }); // alone: IMG_1.bin
  fs.writeFileSync(path.join(lib, 'IMG_1.CR2'), 'raw');
  await saveSidecar(path.join(lib, 'IMG_1.CR2'), 'face_detection', { faces: [{ id: 'raw' }] }); // IMG_1.CR2.bin
  // What a save while the RAW shared the stem wrote before saves stayed in the stem file the record
  // names: IMG_1.JPG.bin, merged from IMG_1.bin (a save now goes into IMG_1.bin itself).
  fs.copyFileSync(path.join(lib, 'IMG_1.bin'), path.join(lib, 'IMG_1.JPG.bin'));
  await saveSidecar(jpeg, 'object_detection', { objects: [{ id: 'jpeg2' }] }); // into IMG_1.JPG.bin, read first while shared
  assert.deepEqual(fs.readdirSync(lib).sort(), ['IMG_1.CR2', 'IMG_1.CR2.bin', 'IMG_1.JPG', 'IMG_1.JPG.bin', 'IMG_1.bin']);
  const moved = path.join(root, 'moved', 'IMG_1.JPG');
  fs.renameSync(jpeg, moved);
  const cleanupPlan = await cleanup(root, { dryRun: true, index: false, force: true });
  assert.deepEqual(cleanupPlan.actions, [], 'nothing to remove: IMG_1.JPG.bin is relinkable, IMG_1.bin an older copy of it');
  const report = await relink(root);
  assert.equal(report.relinked, 1, JSON.stringify(report));
  const r = await readSidecarDetailed(moved);
  assert.equal(r.path, path.join(root, 'moved', 'IMG_1.JPG.bin'));
  assert.deepEqual(Object.keys(r.data).sort(), ['face_detection', 'object_detection', 'sidecar_info']);
  assert.ok(fs.existsSync(path.join(lib, 'IMG_1.bin')), 'the older stem copy stays, still left behind beside the RAW');
  assert.equal((await readSidecarDetailed(path.join(lib, 'IMG_1.CR2'))).path, path.join(lib, 'IMG_1.CR2.bin'));
});

test('left behind: a name-ext file the reader cannot read is not the image\'s own file for read, the scan or mv alike (run as nobody)', async (t) => {
  if (process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status !== 0) {
    t.skip('needs root and setpriv to run as nobody');
    return;
  }
  const root = testDir(t);
  fs.chmodSync(root, 0o755);
  const lib = path.join(root, 'lib');
  makeTree(
    {
      'lib/A.CR2': 'raw',
      'lib/A.bin': savedFor('/gone/A.jpg', 'stem'),
      'lib/A.CR2.bin': savedFor(path.join(lib, 'A.CR2'), 'name-ext'),
    },
    root,
  );
  spawnSync('chmod', ['-R', 'a+rX', root]);
  fs.chmodSync(path.join(lib, 'A.CR2.bin'), 0o600);
  const readJs = path.join(path.dirname(TREE_CLI_PATH), 'ops', 'read.js');
  const scanJs = path.join(path.dirname(TREE_CLI_PATH), 'ops', 'scan.js');
  const code = `
    const { readSidecarDetailed } = await import(${JSON.stringify(readJs)});
    const { scan } = await import(${JSON.stringify(scanJs)});
    const lib = ${JSON.stringify(lib)};
    const read = await readSidecarDetailed(lib + '/A.CR2').then((r) => r.path, (e) => 'error ' + e.code);
    const recs = [];
    for await (const rec of scan(lib, { index: false })) recs.push(rec);
    const rec = recs.find((x) => x.images.length === 1);
    process.stdout.write(JSON.stringify({ read, effective: rec.effective?.path ?? null, leftBehind: rec.findings.some((f) => f.code === 'left-behind') }));`;
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { read: path.join(lib, 'A.bin'), effective: path.join(lib, 'A.bin'), leftBehind: false });
});

const python = findPython();

test('left behind: the server (the Python client\'s path) takes the folder\'s configuration file\'s image extensions for read and save', { skip: python ? false : 'no python3 >= 3.9' }, async (t) => {
  const root = testDir(t);
  const lib = path.join(root, 'lib');
  makeTree({ 'lib/.image-sidecar.json': { json: { imageExtensions: ['xyz'] } }, 'lib/IMG_1.xyz': 'xyz' }, root);
  await saveSidecar(path.join(lib, 'IMG_1.xyz'), 'face_detection', { faces: [{ id: 'xyz-face' }] }, { imageExtensions: withExtraImageExtensions(['xyz']) });
  fs.writeFileSync(path.join(lib, 'IMG_1.CR2'), 'raw');
  await saveSidecar(path.join(lib, 'IMG_1.CR2'), 'face_detection', { faces: [{ id: 'raw-face' }] }, { imageExtensions: withExtraImageExtensions(['xyz']) });
  assert.deepEqual(fs.readdirSync(lib).sort(), ['.image-sidecar.json', 'IMG_1.CR2', 'IMG_1.CR2.bin', 'IMG_1.bin', 'IMG_1.xyz']);
  fs.renameSync(path.join(lib, 'IMG_1.xyz'), path.join(root, 'IMG_1.xyz'));
  const before = fs.readFileSync(path.join(lib, 'IMG_1.bin'));
  const script = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
from image_sidecar import ImageSidecarManager
with ImageSidecarManager(local_reads=False) as m:
    m.save_data(sys.argv[2], "quality_assessment", {"score": 1})
    d = m.read_data(sys.argv[2])
    print(json.dumps([[f["id"] for f in d["face_detection"]["faces"]], sorted(d)]))
`;
  const r = spawnSync(python!, ['-c', script, CLIENT, path.join(lib, 'IMG_1.CR2')], {
    encoding: 'utf8',
    env: { ...process.env, IMAGE_SIDECAR_BIN: CLI, IMAGE_SIDECAR_NODE: process.execPath, PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [['raw-face'], ['face_detection', 'quality_assessment', 'sidecar_info']]);
  assert.deepEqual(fs.readFileSync(path.join(lib, 'IMG_1.bin')), before, 'the xyz image\'s file is untouched');
});

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
