/**
 * `mv` / `cp` of images with their sidecars (ops/move-images.ts, docs/REORGANISE.md): every form
 * goes along, nothing is overwritten, RAW+JPEG stem files follow their record, symlinked images move
 * as links, copies keep nanosecond times, and a run killed mid-way is finished by the next.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { copyImages, moveImages, recoverJournals } from '../src/ops/move-images.js';
import { saveSidecar } from '../src/ops/save.js';
import { readSidecar, readSidecarDetailed } from '../src/ops/read.js';
import { validate } from '../src/ops/validate.js';
import { hostMark } from '../src/fs/temp-files.js';
import { makeTree, removeTree, sidecarData, tempDir } from './helpers/tree.js';
import { parseJson, runCli } from './helpers/cli.js';

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

function names(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

async function saved(image: string, op = 'face_detection', format: 'json' | 'bin' = 'json', naming?: 'stem' | 'name-ext'): Promise<void> {
  await saveSidecar(image, op, { faces: [{ bbox: [1, 2, 3, 4], confidence: 0.5 }] }, { format, naming });
}

test('mv: an image goes with every sidecar of its own (stem, name-ext, a kept JSON beside its .bin); the files are the same inodes', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(900, 1), 'a/IMG_2.jpg': bytes(901, 2), 'b/keep.txt': 'x' });
  try {
    await saved(join(root, 'a/IMG_1.jpg'), 'face_detection', 'json');
    await saved(join(root, 'a/IMG_1.jpg'), 'yolov8', 'bin'); // .bin beside the kept .json
    await saved(join(root, 'a/IMG_2.jpg'), 'face_detection', 'json', 'name-ext');
    const before = fs.statSync(join(root, 'a/IMG_1.bin')).ino;
    const readBefore = await readSidecar(join(root, 'a/IMG_1.jpg'));
    const r = await moveImages([join(root, 'a/IMG_1.jpg'), join(root, 'a/IMG_2.jpg')], join(root, 'b'));
    assert.equal(r.done, 2);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(names(join(root, 'a')), []);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.bin', 'IMG_1.jpg', 'IMG_1.json', 'IMG_2.jpg', 'IMG_2.jpg.json', 'keep.txt']);
    assert.equal(fs.statSync(join(root, 'b/IMG_1.bin')).ino, before);
    assert.deepEqual(await readSidecar(join(root, 'b/IMG_1.jpg')), readBefore);
    assert.ok(Object.keys(readBefore).includes('yolov8'));
    assert.equal(r.files, 5);
  } finally {
    removeTree(root);
  }
});

test("mv: a source whose `..` follows a symlinked folder is the image open() reaches, never the one the text names; a missing folder before it is a finding", async () => {
  const root = makeTree({ 'photos/2025/IMG_1.jpg': bytes(900, 1), 'photos/2025/day1/x.txt': 'x', 'lib/IMG_1.jpg': bytes(901, 2), 'dest/keep.txt': 'x' });
  try {
    fs.symlinkSync(join(root, 'photos/2025/day1'), join(root, 'lib/today'));
    await saved(join(root, 'photos/2025/IMG_1.jpg'));
    await saved(join(root, 'lib/IMG_1.jpg'));
    // (join would collapse each `..` as text)
    const r = await moveImages([`${root}/lib/today/../IMG_1.jpg`, `${root}/lib/gone/../IMG_1.jpg`], `${root}/lib/today/../../../dest`);
    assert.equal(r.done, 1);
    assert.deepEqual(r.problems.map((p) => [p.path, p.code]), [[`${root}/lib/gone/../IMG_1.jpg`, 'NOT_FOUND']]);
    assert.equal(r.destination, fs.realpathSync(join(root, 'dest')));
    assert.deepEqual(names(join(root, 'photos/2025')), ['day1']);
    assert.deepEqual(names(join(root, 'lib')), ['IMG_1.jpg', 'IMG_1.json', 'today'], 'the photo the text names stays with its sidecar');
    assert.deepEqual(fs.readFileSync(join(root, 'dest/IMG_1.jpg')), bytes(900, 1));
    assert.deepEqual(names(join(root, 'dest')), ['IMG_1.jpg', 'IMG_1.json', 'keep.txt']);
  } finally {
    removeTree(root);
  }
});

test('mv: a new name renames the sidecars in their forms (stem → new stem, name-ext → new name)', async () => {
  const root = makeTree({ 'IMG_1.jpg': bytes(700, 3) });
  try {
    await saved(join(root, 'IMG_1.jpg'), 'face_detection', 'bin');
    fs.writeFileSync(join(root, 'IMG_1.jpg.json'), JSON.stringify(sidecarData('IMG_1.jpg'))); // a kept older copy, name-ext
    fs.mkdirSync(join(root, 'out'));
    const r = await moveImages([join(root, 'IMG_1.jpg')], join(root, 'out/goal_07.jpg'));
    assert.equal(r.done, 1);
    assert.deepEqual(names(join(root, 'out')), ['goal_07.bin', 'goal_07.jpg', 'goal_07.jpg.json']);
    assert.deepEqual(names(root), ['out']);
    // In the same folder, a new extension only: the stem files stay where they are.
    const r2 = await moveImages([join(root, 'out/goal_07.jpg')], join(root, 'out/goal_07.jpeg'));
    assert.deepEqual(r2.problems, []);
    assert.deepEqual(names(join(root, 'out')), ['goal_07.bin', 'goal_07.jpeg', 'goal_07.jpeg.json']);
  } finally {
    removeTree(root);
  }
});

test('mv: RAW+JPEG — the shared stem file goes with the image its record names, and stays with the other', async () => {
  const root = makeTree({ 'a/IMG_1.CR2': bytes(1200, 4), 'a/IMG_1.json': { json: sidecarData('IMG_1.CR2') }, 'a/IMG_1.jpg': bytes(800, 5), 'b/x.txt': 'x' });
  try {
    // IMG_1.json names IMG_1.CR2 (written for the RAW before the JPEG arrived)
    await saved(join(root, 'a/IMG_1.jpg'), 'face_detection', 'json'); // the JPEG's own: IMG_1.jpg.json
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.CR2', 'IMG_1.jpg', 'IMG_1.jpg.json', 'IMG_1.json']);
    const r = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b'));
    assert.deepEqual(r.problems, []);
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.CR2', 'IMG_1.json']);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.jpg', 'IMG_1.jpg.json', 'x.txt']);
    // Beside the JPEG again, its stem file would be shared: it takes the name-ext form (a save's choice).
    const r2 = await moveImages([join(root, 'a/IMG_1.CR2')], join(root, 'b'));
    assert.deepEqual(r2.problems, []);
    assert.equal(r2.units[0].renamedForm, true);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.CR2', 'IMG_1.CR2.json', 'IMG_1.jpg', 'IMG_1.jpg.json', 'x.txt']);
    assert.equal((await readSidecarDetailed(join(root, 'b/IMG_1.CR2'))).path, join(root, 'b/IMG_1.CR2.json'));
  } finally {
    removeTree(root);
  }
});

test('mv: a stem file shared by two images and naming neither is refused (one finding), the rest moves', async () => {
  const data = sidecarData('other.jpg');
  delete (data.sidecar_info as Record<string, unknown>).image_path;
  const root = makeTree({ 'a/IMG_1.CR2': bytes(100, 1), 'a/IMG_1.jpg': bytes(101, 2), 'a/IMG_1.json': { json: data }, 'a/IMG_2.jpg': bytes(102, 3), b: { dir: true } });
  try {
    await saved(join(root, 'a/IMG_2.jpg'));
    const r = await moveImages([join(root, 'a/IMG_1.jpg'), join(root, 'a/IMG_2.jpg')], join(root, 'b'));
    assert.equal(r.done, 1);
    assert.equal(r.problems.length, 1);
    assert.equal(r.problems[0].code, 'CONFLICT');
    assert.match(r.problems[0].message, /shared with IMG_1\.CR2/);
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.CR2', 'IMG_1.jpg', 'IMG_1.json']);
    assert.deepEqual(names(join(root, 'b')), ['IMG_2.jpg', 'IMG_2.json']);
  } finally {
    removeTree(root);
  }
});

test('mv: never overwrites — a taken name at the destination leaves that image and its sidecars in place', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), 'a/IMG_2.jpg': bytes(301, 2), 'b/IMG_1.json': 'someone else', 'c/IMG_2.jpg': bytes(5, 5) });
  try {
    await saved(join(root, 'a/IMG_1.jpg'));
    await saved(join(root, 'a/IMG_2.jpg'));
    const r = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b'));
    assert.equal(r.done, 0);
    assert.equal(r.problems[0].code, 'CONFLICT');
    assert.equal(fs.readFileSync(join(root, 'b/IMG_1.json'), 'utf8'), 'someone else');
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.jpg', 'IMG_1.json', 'IMG_2.jpg', 'IMG_2.json']);
    const r2 = await moveImages([join(root, 'a/IMG_2.jpg')], join(root, 'c'));
    assert.equal(r2.done, 0);
    assert.deepEqual(names(join(root, 'c')), ['IMG_2.jpg']);
    // A new name that exists: a usage-level refusal before anything.
    await assert.rejects(moveImages([join(root, 'a/IMG_2.jpg')], join(root, 'c/IMG_2.jpg')), /exists/);
  } finally {
    removeTree(root);
  }
});

test('mv: into a folder with another image of the same stem, a stem file takes the name-ext form (it would be shared there)', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), 'b/IMG_1.CR2': bytes(50, 2) });
  try {
    await saved(join(root, 'a/IMG_1.jpg'));
    await saved(join(root, 'b/IMG_1.CR2'), 'face_detection', 'json', 'name-ext');
    const r = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b'));
    // Its record names IMG_1.jpg, yet IMG_1.json would be shared there (one ambiguous record to
    // every tree command): the name-ext form, this image's alone.
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.CR2', 'IMG_1.CR2.json', 'IMG_1.jpg', 'IMG_1.jpg.json']);
    assert.equal(r.units[0].renamedForm, true);
    const v = await validate(join(root, 'b'), { engine: 'inline', index: false });
    assert.equal(v.scan.counts.ambiguous, 0, 'no ambiguous group made by the move');
    // Renamed on the way next to IMG_5.CR2: the name-ext form.
    fs.writeFileSync(join(root, 'b/IMG_5.CR2'), bytes(10, 9));
    const r2 = await moveImages([join(root, 'b/IMG_1.jpg')], join(root, 'b/IMG_5.jpg'));
    assert.deepEqual(r2.problems, []);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.CR2', 'IMG_1.CR2.json', 'IMG_5.CR2', 'IMG_5.jpg', 'IMG_5.jpg.json']);
    // Where the other image's stem file already sits, the arriving stem file's name-ext form is free.
    fs.writeFileSync(join(root, 'a/IMG_2.jpg'), bytes(13, 9));
    await saved(join(root, 'a/IMG_2.jpg'));
    fs.writeFileSync(join(root, 'b/IMG_2.CR2'), bytes(14, 9));
    await saved(join(root, 'b/IMG_2.CR2'));
    const r4 = await moveImages([join(root, 'a/IMG_2.jpg')], join(root, 'b'));
    assert.deepEqual(r4.problems, []);
    assert.ok(names(join(root, 'b')).includes('IMG_2.jpg.json') && names(join(root, 'b')).includes('IMG_2.json'));
    // An image with a stem file naming it and its own name-ext file of that extension: both cannot
    // take the name-ext name; the stem file keeps its form (the move is not refused).
    fs.writeFileSync(join(root, 'a/IMG_3.jpg'), bytes(15, 9));
    await saved(join(root, 'a/IMG_3.jpg'));
    fs.copyFileSync(join(root, 'a/IMG_3.json'), join(root, 'a/IMG_3.jpg.json')); // a save of the other form, same data
    fs.writeFileSync(join(root, 'b/IMG_3.CR2'), bytes(16, 9));
    const r5 = await moveImages([join(root, 'a/IMG_3.jpg')], join(root, 'b'));
    assert.deepEqual(r5.problems, []);
    assert.ok(names(join(root, 'b')).includes('IMG_3.json') && names(join(root, 'b')).includes('IMG_3.jpg.json'));
    assert.equal((await readSidecarDetailed(join(root, 'b/IMG_5.jpg'))).path, join(root, 'b/IMG_5.jpg.json'));
    assert.equal((await readSidecarDetailed(join(root, 'b/IMG_1.CR2'))).path, join(root, 'b/IMG_1.CR2.json'));
    // A stem file shared there and naming neither image: refused.
    fs.writeFileSync(join(root, 'a/IMG_9.jpg'), bytes(11, 9));
    fs.writeFileSync(join(root, 'a/IMG_9.png'), bytes(12, 9));
    fs.writeFileSync(join(root, 'a/IMG_9.json'), JSON.stringify({ sidecar_info: {}, face_detection: {} }));
    const r3 = await moveImages([join(root, 'a/IMG_9.jpg')], join(root, 'b'));
    assert.equal(r3.done, 0);
    assert.match(r3.problems[0].message, /shared with IMG_9\.png and names none/);
  } finally {
    removeTree(root);
  }
});

test('mv: a stem file at the destination that would become the image\'s (an orphan there) is refused', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), 'b/IMG_1.json': { json: sidecarData('IMG_1.jpg') } });
  try {
    await saved(join(root, 'a/IMG_1.jpg'), 'face_detection', 'bin');
    const r = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b'));
    assert.equal(r.done, 0);
    assert.match(r.problems[0].message, /would pair there with IMG_1\.json|exists/);
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.bin', 'IMG_1.jpg']);
  } finally {
    removeTree(root);
  }
});

test('mv: a symlinked image moves as a link to the same target; the target keeps its sidecar, the link side goes along', async () => {
  const root = makeTree({ 'store/IMG_1.jpg': bytes(400, 1), 'game/l.jpg': { symlink: '../store/IMG_1.jpg' }, 'game/sub/x.txt': 'x' });
  try {
    await saved(join(root, 'store/IMG_1.jpg'));
    fs.writeFileSync(join(root, 'game/l.json'), JSON.stringify(sidecarData('l.jpg')));
    const r = await moveImages([join(root, 'game/l.jpg')], join(root, 'game/sub'));
    assert.deepEqual(r.problems, []);
    assert.equal(fs.readlinkSync(join(root, 'game/sub/l.jpg')), '../../store/IMG_1.jpg');
    assert.equal(fs.realpathSync(join(root, 'game/sub/l.jpg')), fs.realpathSync(join(root, 'store/IMG_1.jpg')));
    assert.deepEqual(names(join(root, 'store')), ['IMG_1.jpg', 'IMG_1.json']);
    assert.deepEqual(names(join(root, 'game/sub')), ['l.jpg', 'l.json', 'x.txt']);
  } finally {
    removeTree(root);
  }
});

test('cp: copies keep nanosecond mtimes (the identity sidecars record), independent bytes; the sources stay', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(5000, 1), b: { dir: true } });
  try {
    await saved(join(root, 'a/IMG_1.jpg'), 'face_detection', 'bin');
    const src = fs.statSync(join(root, 'a/IMG_1.jpg'), { bigint: true });
    const r = await copyImages([join(root, 'a/IMG_1.jpg')], join(root, 'b'));
    assert.deepEqual(r.problems, []);
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.bin', 'IMG_1.jpg']);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.bin', 'IMG_1.jpg']);
    const dst = fs.statSync(join(root, 'b/IMG_1.jpg'), { bigint: true });
    assert.equal(dst.mtimeNs, src.mtimeNs);
    assert.notEqual(dst.ino, src.ino);
    assert.deepEqual(fs.readFileSync(join(root, 'b/IMG_1.bin')), fs.readFileSync(join(root, 'a/IMG_1.bin')));
    // The copy's results count as current for its image (stale compares size and mtime_ns).
    const stale = parseJson<{ count?: number; total?: number }>(await runCli(['stale', join(root, 'b'), '--json']));
    assert.equal(JSON.stringify(stale).includes('IMG_1.jpg'), false, JSON.stringify(stale));
  } finally {
    removeTree(root);
  }
});

test('mv across file systems: verified copies with exact times, then the sources go', async (t) => {
  const shm = '/dev/shm';
  if (!fs.existsSync(shm) || fs.statSync(shm).dev === fs.statSync(tempDir()).dev) return t.skip('no second file system here');
  const root = makeTree({ 'a/IMG_1.jpg': bytes(3000, 1) });
  const other = fs.mkdtempSync(join(shm, 'isc-mv-'));
  try {
    await saved(join(root, 'a/IMG_1.jpg'));
    const src = fs.statSync(join(root, 'a/IMG_1.jpg'), { bigint: true });
    const json = fs.readFileSync(join(root, 'a/IMG_1.json'));
    const r = await moveImages([join(root, 'a/IMG_1.jpg')], other);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(names(join(root, 'a')), []);
    assert.deepEqual(names(other), ['IMG_1.jpg', 'IMG_1.json']);
    assert.equal(fs.statSync(join(other, 'IMG_1.jpg'), { bigint: true }).mtimeNs, src.mtimeNs);
    assert.deepEqual(fs.readFileSync(join(other, 'IMG_1.json')), json);
  } finally {
    removeTree(root);
    removeTree(other);
  }
});

test('mv: a dry run lists every action and changes nothing; folders, non-images and sidecars of images left behind are findings; a lone orphan moves alone', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), 'a/IMG_2.jpg': bytes(301, 2), 'a/notes.txt': 'n', 'a/lone.json': { json: sidecarData('gone.jpg') }, 'a/sub/x.jpg': bytes(3, 3), b: { dir: true } });
  try {
    await saved(join(root, 'a/IMG_1.jpg'));
    await saved(join(root, 'a/IMG_2.jpg'));
    const all = ['a/IMG_1.jpg', 'a/IMG_1.json', 'a/IMG_2.json', 'a/notes.txt', 'a/lone.json', 'a/sub'].map((p) => join(root, p));
    const dry = await moveImages(all, join(root, 'b'), { dryRun: true });
    assert.deepEqual(dry.units.map((u) => u.files.map((f) => f.to.slice(root.length + 1))), [['b/IMG_1.json', 'b/IMG_1.jpg'], ['b/lone.json']]);
    assert.deepEqual(dry.problems.map((p) => p.path.slice(root.length + 1)).sort(), ['a/IMG_2.json', 'a/notes.txt', 'a/sub']);
    assert.deepEqual(names(join(root, 'b')), []);
    const real = await moveImages(all, join(root, 'b'));
    assert.equal(real.done, 2);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.jpg', 'IMG_1.json', 'lone.json']);
    assert.deepEqual(names(join(root, 'a')), ['IMG_2.jpg', 'IMG_2.json', 'notes.txt', 'sub']);
  } finally {
    removeTree(root);
  }
});

test("mv/cp: a lone sidecar goes beside an image only to reunite it: never to an image that has a sidecar of its own there, nor one its record says is another (it became that image's effective file: another camera's results under its name)", async () => {
  const root = makeTree({ 'new/IMG_5.jpg': bytes(300, 1), 'old/IMG_5.jpg': bytes(301, 2), 'back/IMG_7.jpg': bytes(302, 3), 'other/IMG_8.jpg': bytes(303, 4) });
  try {
    await saved(join(root, 'new/IMG_5.jpg'), 'face_detection', 'json', 'name-ext');
    const before = await readSidecar(join(root, 'new/IMG_5.jpg'));
    await saveSidecar(join(root, 'old/IMG_5.jpg'), 'face_detection', { faces: [] }, { format: 'bin' });
    fs.rmSync(join(root, 'old/IMG_5.jpg')); // an orphan of another camera's IMG_5
    for (const run of [moveImages, copyImages]) {
      const r = await run([join(root, 'old/IMG_5.bin')], join(root, 'new'));
      assert.equal(r.done, 0, run.name);
      assert.match(r.problems[0].message, /IMG_5\.bin would pair there with IMG_5\.jpg, which has a sidecar of its own \(IMG_5\.jpg\.json\)/);
      assert.deepEqual(names(join(root, 'new')), ['IMG_5.jpg', 'IMG_5.jpg.json']);
      assert.deepEqual(await readSidecar(join(root, 'new/IMG_5.jpg')), before);
    }
    // Its record names IMG_8.jpg: not IMG_5.jpg's, even with no sidecar there.
    await saveSidecar(join(root, 'other/IMG_8.jpg'), 'face_detection', { faces: [] }, { format: 'bin' });
    fs.renameSync(join(root, 'other/IMG_8.bin'), join(root, 'other/IMG_7.bin'));
    const wrong = await moveImages([join(root, 'other/IMG_7.bin')], join(root, 'back'));
    assert.equal(wrong.done, 0);
    assert.match(wrong.problems[0].message, /IMG_7\.bin would pair there with IMG_7\.jpg, but it records IMG_8\.jpg/);
    // Reuniting: an image moved without its sidecar gets it back.
    await saved(join(root, 'back/IMG_7.jpg'), 'face_detection', 'bin');
    fs.renameSync(join(root, 'back/IMG_7.bin'), join(root, 'old/IMG_7.bin'));
    const ok = await moveImages([join(root, 'old/IMG_7.bin')], join(root, 'back'));
    assert.deepEqual([ok.done, ok.problems.length], [1, 0]);
    assert.equal((await readSidecarDetailed(join(root, 'back/IMG_7.jpg'))).path, join(root, 'back/IMG_7.bin'));
  } finally {
    removeTree(root);
  }
});

test("mv/cp: a symlinked image whose text has `..` after a symlinked folder still leads to the same file from its new folder (the `..` was collapsed as text: it led to another image)", async () => {
  const root = makeTree({ 'lib/g/IMG.jpg': Buffer.from('\xff\xd8DECOY', 'latin1'), 'lib/dest': { dir: true }, 'lib/copies': { dir: true }, 'elsewhere/deep/IMG.jpg': Buffer.from('\xff\xd8REAL', 'latin1'), 'elsewhere/deep/folder': { dir: true } });
  try {
    fs.symlinkSync('../../elsewhere/deep/folder', join(root, 'lib/g/sym'));
    fs.symlinkSync('sym/../IMG.jpg', join(root, 'lib/g/link.jpg'));
    assert.equal(fs.readFileSync(join(root, 'lib/g/link.jpg'), 'latin1'), '\xff\xd8REAL');
    const c = await copyImages([join(root, 'lib/g/link.jpg')], join(root, 'lib/copies'));
    assert.deepEqual([c.done, c.problems.length], [1, 0]);
    assert.equal(fs.readFileSync(join(root, 'lib/copies/link.jpg'), 'latin1'), '\xff\xd8REAL');
    const m = await moveImages([join(root, 'lib/g/link.jpg')], join(root, 'lib/dest'));
    assert.deepEqual([m.done, m.problems.length], [1, 0]);
    assert.equal(fs.readFileSync(join(root, 'lib/dest/link.jpg'), 'latin1'), '\xff\xd8REAL', `now ${fs.readlinkSync(join(root, 'lib/dest/link.jpg'))}`);
    assert.equal(fs.realpathSync(join(root, 'lib/dest/link.jpg')), fs.realpathSync(join(root, 'elsewhere/deep/IMG.jpg')));
  } finally {
    removeTree(root);
  }
});

/**
 * `fn` (an mv of `root`'s a/IMG_1.jpg into b/) with another holder taking the locks of a/ and b/
 * over right after the image's link, the unit's last placement, is made; `then`: what that holder
 * does next.
 */
async function lockLostAfterImageLink<T>(root: string, fn: () => Promise<T>, then: () => void = () => {}): Promise<T> {
  const mutableFs = createRequire(import.meta.url)('node:fs') as { linkSync: typeof fs.linkSync };
  const { linkSync } = mutableFs;
  mutableFs.linkSync = (from, to) => {
    linkSync(from, to);
    if (String(to).endsWith('IMG_1.jpg')) {
      for (const dir of [join(root, 'a'), join(root, 'b')]) {
        for (const n of fs.readdirSync(dir)) if (n.endsWith('.isc-lock')) fs.writeFileSync(join(dir, n, 'owner'), 'another-host 1 0 someone-else\n');
      }
      then();
    }
  };
  syncBuiltinESMExports();
  try {
    return await fn();
  } finally {
    mutableFs.linkSync = linkSync;
    syncBuiltinESMExports();
  }
}

test('mv: a lock lost after the files are placed at the destination and before a source goes takes the destination\'s new names back (a lost lock during a long cross-device copy left a whole copy there, said "not moved")', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), b: { dir: true } });
  try {
    await saved(join(root, 'a/IMG_1.jpg'));
    const before = names(join(root, 'a'));
    const r = await lockLostAfterImageLink(root, () => moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b')));
    assert.equal(r.done, 0);
    assert.match(r.problems[0].message, /the lock was lost/);
    assert.deepEqual(names(join(root, 'a')).filter((n) => !n.endsWith('.isc-lock')), before);
    assert.deepEqual(names(join(root, 'b')).filter((n) => !n.endsWith('.isc-lock')), [], 'nothing of it at the destination');
  } finally {
    removeTree(root);
  }
});

test('cp IMG_1.jpg IMG_1.png in its own folder: the copy takes its results in the name-ext form, as mv does beside a same-stem image (it was copied without any)', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1) });
  try {
    await saved(join(root, 'a/IMG_1.jpg'));
    const data = await readSidecar(join(root, 'a/IMG_1.jpg'));
    const r = await copyImages([join(root, 'a/IMG_1.jpg')], join(root, 'a/IMG_1.png'));
    assert.deepEqual([r.done, r.problems.length], [1, 0]);
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.jpg', 'IMG_1.json', 'IMG_1.png', 'IMG_1.png.json']);
    assert.equal((await readSidecarDetailed(join(root, 'a/IMG_1.png'))).path, join(root, 'a/IMG_1.png.json'));
    assert.deepEqual(await readSidecar(join(root, 'a/IMG_1.png')), data);
    assert.equal((await readSidecarDetailed(join(root, 'a/IMG_1.jpg'))).path, join(root, 'a/IMG_1.json'), 'the original keeps its own');
    // A rename in the folder (mv) still keeps the stem file where it is.
    const m = await moveImages([join(root, 'a/IMG_1.png')], join(root, 'a/IMG_1.gif'));
    assert.equal(m.done, 1);
    assert.equal((await readSidecarDetailed(join(root, 'a/IMG_1.gif'))).path, join(root, 'a/IMG_1.gif.json'));
  } finally {
    removeTree(root);
  }
});

test('mv: two files of the image that would take one name at the destination (a stem file taking the name-ext form beside a same-stem image, and its own name-ext copy) are a conflict the dry run says too, nothing moved (the run failed on a name "existing" there)', async () => {
  const root = makeTree({
    'a/IMG_1.jpg': bytes(300, 1),
    'a/IMG_1.json': { json: { face_detection: { success: true, faces: [] }, sidecar_info: { last_operation: 'face_detection' } } },
    'a/IMG_1.jpg.json': { json: { yolov8: { success: true, objects: [] }, sidecar_info: { image_path: 'IMG_1.jpg', last_operation: 'yolov8' } } },
    'b/IMG_1.CR2': 'RAW',
  });
  try {
    for (const dryRun of [true, false]) {
      const r = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b'), { dryRun });
      assert.deepEqual([r.done, r.units.length], [0, 0], `dry run ${dryRun}`);
      assert.match(r.problems[0].message, /IMG_1\.json and IMG_1\.jpg\.json would both be IMG_1\.jpg\.json there \(beside IMG_1\.CR2/);
      assert.equal(r.problems[0].code, 'CONFLICT');
    }
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.jpg', 'IMG_1.jpg.json', 'IMG_1.json']);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.CR2']);
  } finally {
    removeTree(root);
  }
});

test('mv: a RAW+JPEG shared file encrypted under a key not given is said to be that (it was "names none of them: save this image\'s own sidecar first"); with the key it moves', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), b: { dir: true } });
  const { generateKeyFile, loadKeyFile } = await import('../src/crypto/keys.js');
  try {
    const key = join(root, 'k.key');
    generateKeyFile(key);
    const keyring = loadKeyFile(key);
    await saveSidecar(join(root, 'a/IMG_1.jpg'), 'face_detection', { success: true, faces: [] }, { format: 'bin', keyring });
    fs.writeFileSync(join(root, 'a/IMG_1.CR2'), 'RAW');
    const without = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b'));
    assert.equal(without.done, 0);
    assert.match(without.problems[0].message, /IMG_1\.bin is shared with IMG_1\.CR2 and encrypted under a key not given \(or a wrong one\): give its key/);
    const withKey = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b'), { keyring });
    assert.deepEqual([withKey.done, withKey.problems.length], [1, 0]);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.bin', 'IMG_1.jpg']);
  } finally {
    removeTree(root);
  }
});

test("mv: a lone stem file goes back beside a RAW+JPEG pair when its record names the JPEG (it was refused for the RAW); an encrypted one without its key is refused, whose it is cannot be told", async () => {
  const root = makeTree({ 'dest/IMG_5.jpg': bytes(300, 1), 'dest/IMG_5.CR2': 'RAW', 'dest/IMG_6.jpg': bytes(301, 2), 'src/IMG_6.png': bytes(302, 3) });
  const { generateKeyFile, loadKeyFile } = await import('../src/crypto/keys.js');
  try {
    fs.writeFileSync(join(root, 'src/IMG_5.json'), JSON.stringify({ face_detection: { success: true, faces: [] }, sidecar_info: { image_path: 'IMG_5.jpg' } }));
    const back = await moveImages([join(root, 'src/IMG_5.json')], join(root, 'dest'));
    assert.deepEqual([back.done, back.problems.length], [1, 0], JSON.stringify(back.problems));
    assert.equal((await readSidecarDetailed(join(root, 'dest/IMG_5.jpg'))).path, join(root, 'dest/IMG_5.json'));
    // Another image's encrypted file (it records IMG_6.png): refused with or without the key, never moved blind.
    const key = join(root, 'k.key');
    generateKeyFile(key);
    const keyring = loadKeyFile(key);
    await saveSidecar(join(root, 'src/IMG_6.png'), 'face_detection', { success: true, faces: [] }, { format: 'bin', keyring });
    fs.rmSync(join(root, 'src/IMG_6.png'));
    const without = await moveImages([join(root, 'src/IMG_6.bin')], join(root, 'dest'));
    assert.equal(without.done, 0);
    assert.match(without.problems[0].message, /encrypted under a key not given/);
    const withKey = await moveImages([join(root, 'src/IMG_6.bin')], join(root, 'dest'), { keyring });
    assert.equal(withKey.done, 0);
    assert.match(withKey.problems[0].message, /but it records IMG_6\.png/);
    assert.ok(fs.existsSync(join(root, 'src/IMG_6.bin')));
  } finally {
    removeTree(root);
  }
});

test('mv: a moved link keeps the folder links of its text (`../sym/D.jpg` still follows `sym`), and one moved into a folder given through a folder link still leads to its file', async () => {
  const root = makeTree({ 'lib/real/deep/D.jpg': Buffer.from('\xff\xd8D', 'latin1'), 'lib/other/D.jpg': Buffer.from('\xff\xd8O', 'latin1'), 'lib/g/x': 'x', 'lib/dest': { dir: true }, 'lib/far/away': { dir: true } });
  try {
    fs.symlinkSync('real/deep', join(root, 'lib/sym'));
    fs.symlinkSync('../sym/D.jpg', join(root, 'lib/g/link.jpg'));
    fs.symlinkSync('../sym/D.jpg', join(root, 'lib/g/link2.jpg'));
    fs.symlinkSync('far/away', join(root, 'lib/destlink'));
    const m = await moveImages([join(root, 'lib/g/link.jpg')], join(root, 'lib/dest'));
    assert.deepEqual([m.done, m.problems.length], [1, 0]);
    assert.equal(fs.readlinkSync(join(root, 'lib/dest/link.jpg')), '../sym/D.jpg', 'the folder link stays in the text');
    const viaLink = await moveImages([join(root, 'lib/g/link2.jpg')], join(root, 'lib/destlink'));
    assert.deepEqual([viaLink.done, viaLink.problems.length], [1, 0]);
    assert.equal(fs.readFileSync(join(root, 'lib/far/away/link2.jpg'), 'latin1'), '\xff\xd8D', `the link leads to its file (text ${fs.readlinkSync(join(root, 'lib/far/away/link2.jpg'))})`);
    // Re-pointing `sym` moves both, as it moves every link not moved.
    fs.unlinkSync(join(root, 'lib/sym'));
    fs.symlinkSync('other', join(root, 'lib/sym'));
    assert.equal(fs.readFileSync(join(root, 'lib/dest/link.jpg'), 'latin1'), '\xff\xd8O');
  } finally {
    removeTree(root);
  }
});

test('mv: the names a unit takes back after its lock was lost are only its own: a file the new holder saved at one of them stays', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), b: { dir: true } });
  try {
    await saved(join(root, 'a/IMG_1.jpg'));
    // The new holder saves at the destination: a new file under the name the unit placed.
    const theirSave = () => {
      fs.writeFileSync(join(root, 'b/new.tmp'), '{"theirs":true}');
      fs.renameSync(join(root, 'b/new.tmp'), join(root, 'b/IMG_1.json'));
    };
    const r = await lockLostAfterImageLink(root, () => moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b')), theirSave);
    assert.equal(r.done, 0);
    assert.equal(fs.readFileSync(join(root, 'b/IMG_1.json'), 'utf8'), '{"theirs":true}', 'their file stays');
    assert.equal(fs.existsSync(join(root, 'b/IMG_1.jpg')), false, 'our own name is taken back');
    assert.ok(fs.existsSync(join(root, 'a/IMG_1.json')) && fs.existsSync(join(root, 'a/IMG_1.jpg')));
  } finally {
    removeTree(root);
  }
});

test('mv: a link moved in the same run as its target given through a folder link leads to the target where it landed (it was left broken)', async () => {
  const root = makeTree({ 'a/IMG.jpg': bytes(300, 1), b: { dir: true } });
  try {
    fs.symlinkSync('a', join(root, 's'));
    fs.symlinkSync('IMG.jpg', join(root, 'a/L.jpg'));
    fs.symlinkSync(join(root, 'a/IMG.jpg'), join(root, 'a/ABS.jpg'));
    const r = await moveImages([join(root, 's/IMG.jpg'), join(root, 'a/L.jpg'), join(root, 'a/ABS.jpg')], join(root, 'b'));
    assert.deepEqual([r.done, r.problems.length], [3, 0], JSON.stringify(r.problems));
    for (const l of ['L.jpg', 'ABS.jpg']) {
      assert.equal(fs.realpathSync(join(root, 'b', l)), fs.realpathSync(join(root, 'b/IMG.jpg')), `${l} -> ${fs.readlinkSync(join(root, 'b', l))}`);
    }
  } finally {
    removeTree(root);
  }
});

test('mv: names in another Unicode normalisation (NFD from macOS) pair and move; the destination checks names in NFC', async () => {
  const nfd = 'E\u0301quipe.jpg';
  const root = makeTree({ [`a/${nfd}`]: bytes(300, 1), 'b/\u00c9quipe.json': 'taken (NFC spelling)', c: { dir: true } });
  try {
    fs.writeFileSync(join(root, 'a/\u00c9quipe.json'), JSON.stringify(sidecarData('\u00c9quipe.jpg')));
    const r = await moveImages([join(root, `a/${nfd}`)], join(root, 'b'));
    assert.equal(r.done, 0, 'the NFC sidecar name is taken there');
    const r2 = await moveImages([join(root, `a/${nfd}`)], join(root, 'c'));
    assert.deepEqual(r2.problems, []);
    assert.deepEqual(names(join(root, 'c')), [nfd, '\u00c9quipe.json'].sort());
  } finally {
    removeTree(root);
  }
});

test('mv: a run killed mid-way (its journal left) is finished or undone by the next run into that folder', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), 'a/IMG_2.jpg': bytes(301, 2), 'a/IMG_3.jpg': bytes(302, 3), b: { dir: true } });
  try {
    for (const i of [1, 2, 3]) await saved(join(root, `a/IMG_${i}.jpg`));
    const unit = (i: number) => ({
      files: [
        { from: join(root, `a/IMG_${i}.json`), to: join(root, `b/IMG_${i}.json`), role: 'sidecar' },
        { from: join(root, `a/IMG_${i}.jpg`), to: join(root, `b/IMG_${i}.jpg`), role: 'image' },
      ],
    });
    // Killed: IMG_1 after its sidecar's link (before the image), IMG_2 after the image's unlink (before its sidecar's), IMG_3 not begun.
    fs.linkSync(join(root, 'a/IMG_1.json'), join(root, 'b/IMG_1.json'));
    fs.linkSync(join(root, 'a/IMG_2.json'), join(root, 'b/IMG_2.json'));
    fs.linkSync(join(root, 'a/IMG_2.jpg'), join(root, 'b/IMG_2.jpg'));
    fs.unlinkSync(join(root, 'a/IMG_2.jpg'));
    const deadPid = 4_000_000; // above any pid_max: a process that is not alive
    fs.writeFileSync(join(root, `b/.isc-move-${hostMark()}-${deadPid}-0a1b`), JSON.stringify({ version: 1, mode: 'move', units: [unit(1), unit(2), unit(3)] }));
    // The earlier process may still be alive: a journal of a live pid is left alone.
    fs.writeFileSync(join(root, `b/.isc-move-${hostMark()}-${process.pid}-0a1c`), JSON.stringify({ version: 1, mode: 'move', units: [] }));
    assert.equal(recoverJournals(join(root, 'b')).units, 2);
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.jpg', 'IMG_1.json', 'IMG_3.jpg', 'IMG_3.json']);
    assert.deepEqual(names(join(root, 'b')), [`.isc-move-${hostMark()}-${process.pid}-0a1c`, 'IMG_2.jpg', 'IMG_2.json']);
    // The next mv into the folder does the same on its own, and goes on.
    const r = await moveImages([join(root, 'a/IMG_1.jpg'), join(root, 'a/IMG_3.jpg')], join(root, 'b'));
    assert.equal(r.done, 2);
  } finally {
    removeTree(root);
  }
});

test('mv: a run killed after a sidecar\'s link and before its image, then a save at the source: the recovery goes back and names the older copy left at the destination (it said nothing, and the next mv refused that copy as another image\'s)', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), b: { dir: true } });
  try {
    await saved(join(root, 'a/IMG_1.jpg'));
    fs.linkSync(join(root, 'a/IMG_1.json'), join(root, 'b/IMG_1.json'));
    const unit = { files: [{ from: join(root, 'a/IMG_1.json'), to: join(root, 'b/IMG_1.json'), role: 'sidecar' }, { from: join(root, 'a/IMG_1.jpg'), to: join(root, 'b/IMG_1.jpg'), role: 'image' }] };
    fs.writeFileSync(join(root, `b/.isc-move-${hostMark()}-4000000-0a1d`), JSON.stringify({ version: 1, mode: 'move', units: [unit] }));
    await saveSidecar(join(root, 'a/IMG_1.jpg'), 'yolov8', { success: true, objects: [] }); // a new file at the source
    const r = recoverJournals(join(root, 'b'));
    assert.equal(r.problems.length, 1, JSON.stringify(r));
    assert.match(r.problems[0].message, /older copy of its sidecar is left at the destination/);
    assert.ok(r.problems[0].message.includes(join(root, 'b/IMG_1.json')) || JSON.stringify(r.problems[0]).includes('b/IMG_1.json'));
    assert.ok('yolov8' in (await readSidecar(join(root, 'a/IMG_1.jpg'))), 'the newest results stay with the image');
  } finally {
    removeTree(root);
  }
});

test('mv: a sidecar saved between the plan and the unit\'s act goes into the journal before anything is placed: a kill after the image landed is finished forward (it was "saved to both at the source and at the destination", for good)', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), b: { dir: true } });
  try {
    await saved(join(root, 'a/IMG_1.jpg'));
    const script = join(root, 'crash.mjs');
    fs.writeFileSync(script, `
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { spawnSync } from 'node:child_process';
const [A, B, CLI, MOVE] = process.argv.slice(2);
const rename = fs.renameSync, unlink = fs.unlinkSync;
let saved = false;
fs.renameSync = function (from, to) {
  const r = rename.apply(this, arguments);
  if (!saved && String(to).includes('.isc-move-')) {
    saved = true; // a save racing the plan: it takes the lock before the unit does
    const s = spawnSync(process.execPath, [CLI, 'write', A + '/IMG_1.jpg', '--operation', 'yolov8', '--data', '-', '--format', 'bin', '-q'], { input: '{"success":true,"objects":[]}' });
    if (s.status !== 0) process.exit(3);
  }
  return r;
};
fs.unlinkSync = function (p) {
  if (String(p) === A + '/IMG_1.jpg') process.kill(process.pid, 'SIGKILL'); // the image landed, no source removed yet
  return unlink.apply(this, arguments);
};
syncBuiltinESMExports();
const { moveImages } = await import(MOVE);
await moveImages([A + '/IMG_1.jpg'], B);
`);
    const move = new URL('../src/ops/move-images.js', import.meta.url).href;
    const { spawnSync } = await import('node:child_process');
    const { CLI_PATH } = await import('./helpers/cli.js');
    const killed = spawnSync(process.execPath, [script, join(root, 'a'), join(root, 'b'), CLI_PATH, move]);
    assert.equal(killed.signal, 'SIGKILL', killed.stderr.toString());
    const r = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b'));
    assert.deepEqual(r.problems, []);
    assert.equal(r.recovered, 1);
    assert.deepEqual(names(join(root, 'a')).filter((n) => !n.startsWith('.')), []);
    assert.deepEqual(names(join(root, 'b')).filter((n) => !n.startsWith('.')), ['IMG_1.bin', 'IMG_1.jpg', 'IMG_1.json']);
    assert.ok('yolov8' in (await readSidecar(join(root, 'b/IMG_1.jpg'))), 'the save made during the run is with the image');
  } finally {
    removeTree(root);
  }
});

test('cli mv/cp: JSON report, exit 1 with one note per source left, exit 2 for usage', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), 'a/IMG_2.jpg': bytes(301, 2), b: { dir: true } });
  try {
    await saved(join(root, 'a/IMG_1.jpg'));
    const r = await runCli(['mv', join(root, 'a/IMG_1.jpg'), join(root, 'a/missing.jpg'), join(root, 'b'), '--json']);
    assert.equal(r.code, 1);
    const out = parseJson<{ message: string; done: number; problems: unknown[] }>(r);
    assert.match(out.message, /^Moved 1 image\(s\) with their sidecars \(2 files\)$/);
    assert.equal(out.problems.length, 1);
    assert.match(r.stderr, /not moved: .*missing\.jpg/);
    const c = await runCli(['cp', join(root, 'a/IMG_2.jpg'), join(root, 'b'), '--json']);
    assert.equal(c.code, 0);
    assert.equal(parseJson<{ done: number }>(c).done, 1);
    const u = await runCli(['mv', join(root, 'b/IMG_1.jpg'), join(root, 'b/IMG_2.jpg'), join(root, 'nowhere')]);
    assert.equal(u.code, 2);
    assert.equal((await runCli(['mv', join(root, 'b/IMG_1.jpg')])).code, 2);
  } finally {
    removeTree(root);
  }
});

test('mv: RAW+JPEG — a shared stem file recording the JPEG under another case of its extension (IMG_1.jpg, renamed IMG_1.JPG) goes with the JPEG, and the RAW moves alone (both were refused: "names none of them")', async () => {
  const root = makeTree({ 'a/IMG_1.CR2': bytes(1200, 6), 'a/IMG_1.JPG': bytes(800, 7), 'a/IMG_1.json': { json: { ...sidecarData('IMG_1.jpg'), sidecar_info: { image_path: '/x/IMG_1.jpg' } } }, 'b/x.txt': 'x', 'c/x.txt': 'x' });
  try {
    const raw = await moveImages([join(root, 'a/IMG_1.CR2')], join(root, 'c'));
    assert.deepEqual(raw.problems, []);
    assert.deepEqual(names(join(root, 'c')), ['IMG_1.CR2', 'x.txt']);
    const jpeg = await moveImages([join(root, 'a/IMG_1.JPG')], join(root, 'b'));
    assert.deepEqual(jpeg.problems, []);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.JPG', 'IMG_1.json', 'x.txt']);
    assert.equal((await readSidecarDetailed(join(root, 'b/IMG_1.JPG'))).path, join(root, 'b/IMG_1.json'));
  } finally {
    removeTree(root);
  }
});

test('mv and cp to an image name whose stem file is a folder report\'s or the configuration\'s give the sidecar the name-ext form, as a save does (game_detection.bin read as the folder report, {}; .image-sidecar.json broke every command in the folder)', async () => {
  const root = tempDir();
  try {
    const a = join(root, 'a.jpg');
    const b = join(root, 'b.jpg');
    fs.writeFileSync(a, 'jpeg a');
    fs.writeFileSync(b, 'jpeg b');
    await saveSidecar(a, 'face_detection', { faces: [] });
    await saveSidecar(b, 'face_detection', { faces: [1] }, { format: 'json' });
    await moveImages([a], join(root, 'Game_Detection.jpg'));
    await copyImages([b], join(root, '.image-sidecar.jpg'));
    assert.deepEqual(fs.readdirSync(root).sort(), ['.image-sidecar.jpg', '.image-sidecar.jpg.json', 'Game_Detection.jpg', 'Game_Detection.jpg.bin', 'b.jpg', 'b.json']);
    assert.deepEqual((await readSidecar(join(root, 'Game_Detection.jpg'))).face_detection, { faces: [] });
    assert.deepEqual((await readSidecar(join(root, '.image-sidecar.jpg'))).face_detection, { faces: [1] });
    const v = await validate(root, { index: false });
    assert.deepEqual(v.results!.map((r) => r.category), ['ok', 'ok', 'ok'], 'each the sidecar of its image');
  } finally {
    removeTree(root);
  }
});
