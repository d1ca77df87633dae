import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { locateSidecar, sidecarPathFor, type SidecarLocation } from '../src/discovery/locate.js';
import { SidecarError } from '../src/errors.js';
import { testDir } from './helpers/tree.js';


function touch(...parts: string[]): string {
  const p = path.join(...parts);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, 'x');
  return p;
}

const names = (loc: SidecarLocation) => loc.candidates.map((c) => `${c.side}:${path.basename(c.path)}`);

test('plain image: no link, candidates in preference order bin, rkyv, json, name.bin, name.json', async (t) => {
  const dir = testDir(t);
  const img = touch(dir, 'IMG_1.jpg');
  let loc = await locateSidecar(img);
  assert.equal(loc.isSymlink, false);
  assert.deepEqual(loc.chain, []);
  assert.equal(loc.targetPath, img);
  assert.equal(loc.imagePath, img);
  assert.equal(loc.broken, false);
  assert.equal(loc.dir, dir);
  assert.equal(loc.name, 'IMG_1.jpg');
  assert.equal(loc.stem, 'IMG_1');
  assert.deepEqual(loc.candidates, []);

  for (const n of ['IMG_1.jpg.json', 'IMG_1.json', 'IMG_1.jpg.bin', 'IMG_1.rkyv', 'IMG_1.bin', 'IMG_10.json', 'IMG_1.JSON']) touch(dir, n);
  fs.mkdirSync(path.join(dir, 'IMG_1.jpg.rkyv')); // no name-ext rkyv form, and a directory anyway
  loc = await locateSidecar(img);
  assert.deepEqual(names(loc), ['target:IMG_1.bin', 'target:IMG_1.rkyv', 'target:IMG_1.json', 'target:IMG_1.jpg.bin', 'target:IMG_1.jpg.json']);
  assert.deepEqual(
    loc.candidates.map((c) => [c.ext, c.naming]),
    [['bin', 'stem'], ['rkyv', 'stem'], ['json', 'stem'], ['bin', 'name-ext'], ['json', 'name-ext']],
  );
});

test('relative path is resolved against the cwd', async (t) => {
  const dir = testDir(t);
  touch(dir, 'a.png');
  touch(dir, 'a.json');
  const rel = path.relative(process.cwd(), path.join(dir, 'a.png'));
  const loc = await locateSidecar(rel);
  assert.equal(loc.imagePath, path.join(dir, 'a.png'));
  assert.deepEqual(names(loc), ['target:a.json']);
});

test('relative symlink: sidecars next to the target first, then next to the link', async (t) => {
  const dir = testDir(t);
  const target = touch(dir, 'photos', '2025', 'IMG_2.jpg');
  touch(dir, 'photos', '2025', 'IMG_2.json');
  fs.mkdirSync(path.join(dir, 'Game1'));
  const link = path.join(dir, 'Game1', 'IMG_2.jpg');
  fs.symlinkSync('../photos/2025/IMG_2.jpg', link);
  touch(dir, 'Game1', 'IMG_2.bin');
  const loc = await locateSidecar(link);
  assert.equal(loc.isSymlink, true);
  assert.deepEqual(loc.chain, [link]);
  assert.equal(loc.targetPath, target);
  assert.equal(loc.dir, path.dirname(target));
  assert.equal(loc.name, 'IMG_2.jpg');
  assert.equal(loc.broken, false);
  assert.deepEqual(names(loc), ['target:IMG_2.json', 'link:IMG_2.bin']);
  assert.equal(sidecarPathFor(loc, 'bin', 'stem'), path.join(dir, 'photos', '2025', 'IMG_2.bin'));
});

test('absolute symlink with a different name: target name decides', async (t) => {
  const dir = testDir(t);
  const target = touch(dir, 'orig', 'DSC_0042.JPG');
  touch(dir, 'orig', 'DSC_0042.bin');
  const link = path.join(dir, 'renamed.jpg');
  fs.symlinkSync(target, link);
  const loc = await locateSidecar(link);
  assert.equal(loc.targetPath, target);
  assert.equal(loc.stem, 'DSC_0042');
  assert.deepEqual(names(loc), ['target:DSC_0042.bin']);
  assert.equal(sidecarPathFor(loc, 'json', 'name-ext'), path.join(dir, 'orig', 'DSC_0042.JPG.json'));
});

test('chain of two links is recorded in order', async (t) => {
  const dir = testDir(t);
  const target = touch(dir, 'c', 'IMG.jpg');
  fs.mkdirSync(path.join(dir, 'b'));
  fs.mkdirSync(path.join(dir, 'a'));
  const mid = path.join(dir, 'b', 'IMG.jpg');
  const first = path.join(dir, 'a', 'IMG.jpg');
  fs.symlinkSync('../c/IMG.jpg', mid);
  fs.symlinkSync(mid, first);
  touch(dir, 'b', 'IMG.json'); // next to the middle link: not a candidate
  const loc = await locateSidecar(first);
  assert.deepEqual(loc.chain, [first, mid]);
  assert.equal(loc.targetPath, target);
  assert.deepEqual(loc.candidates, []);
});

test("a link's `..` after a symlinked folder is taken where the kernel takes it: the sidecars of the file the link opens", async (t) => {
  const dir = testDir(t);
  touch(dir, 'real', 'sub', 'photos', 'a.jpg');
  touch(dir, 'real', 'sub', 'photos', 'a.json');
  const realB = touch(dir, 'real', 'b.jpg');
  touch(dir, 'real', 'b.json');
  touch(dir, 'b.jpg'); // where `alias/..` points if collapsed as text: another image with its own sidecar
  touch(dir, 'b.json');
  fs.symlinkSync(path.join('real', 'sub'), path.join(dir, 'alias'));
  fs.mkdirSync(path.join(dir, 'games', 'deep'), { recursive: true });
  const dotdot = path.join(dir, 'games', 'dotdot.jpg');
  fs.symlinkSync('../alias/../b.jpg', dotdot);
  let loc = await locateSidecar(dotdot);
  assert.equal(fs.realpathSync.native(dotdot), realB);
  assert.equal(loc.targetPath, realB);
  assert.equal(loc.broken, false);
  assert.deepEqual(names(loc), ['target:b.json']);
  assert.equal(path.dirname(loc.candidates[0]!.path), path.join(dir, 'real'));
  // Collapsed as text this link names a missing file; the kernel opens real/sub/photos/a.jpg.
  const deep = path.join(dir, 'games', 'deep', 'y.jpg');
  fs.symlinkSync('../../alias/photos/../../sub/photos/a.jpg', deep);
  loc = await locateSidecar(deep);
  assert.equal(loc.broken, false);
  assert.equal(loc.targetPath, path.join(dir, 'real', 'sub', 'photos', 'a.jpg'));
  assert.deepEqual(names(loc), ['target:a.json']);
});

test("a given path's `..` after a symlinked folder is taken where the kernel takes it, never collapsed as text", async (t) => {
  const dir = testDir(t);
  const photo = touch(dir, 'photos', '2025', 'IMG_1.jpg');
  touch(dir, 'photos', '2025', 'IMG_1.json');
  fs.mkdirSync(path.join(dir, 'photos', '2025', 'day1'));
  touch(dir, 'lib', 'IMG_1.jpg'); // what `lib/today/..` names as text: another photo, with its own sidecar
  touch(dir, 'lib', 'IMG_1.bin');
  fs.symlinkSync(path.join(dir, 'photos', '2025', 'day1'), path.join(dir, 'lib', 'today'));
  const given = `${dir}/lib/today/../IMG_1.jpg`; // (path.join would collapse the `..` as text)
  assert.equal(fs.readFileSync(given, 'utf8'), fs.readFileSync(photo, 'utf8'), 'the kernel opens the 2025 photo');
  let loc = await locateSidecar(given);
  assert.equal(loc.imagePath, fs.realpathSync(photo));
  assert.deepEqual(names(loc), ['target:IMG_1.json']);
  assert.equal(path.dirname(loc.candidates[0]!.path), fs.realpathSync(path.join(dir, 'photos', '2025')));
  // Relative, from inside the symlinked folder's parent.
  const cwd = process.cwd();
  process.chdir(path.join(dir, 'lib'));
  try {
    loc = await locateSidecar('today/../IMG_1.jpg');
  } finally {
    process.chdir(cwd);
  }
  assert.equal(loc.imagePath, fs.realpathSync(photo));
  // A missing folder before the `..`: the kernel opens nothing there, and neither does this.
  await assert.rejects(locateSidecar(`${dir}/lib/gone/../IMG_1.jpg`), (e: SidecarError) => e.code === 'NOT_FOUND');
  // Without a `..` nothing is resolved: an image link keeps its own path.
  fs.symlinkSync(photo, path.join(dir, 'lib', 'link.jpg'));
  loc = await locateSidecar(path.join(dir, 'lib', 'link.jpg'));
  assert.equal(loc.imagePath, path.join(dir, 'lib', 'link.jpg'));
  assert.equal(loc.isSymlink, true);
});

test('broken link: no throw, broken:true, link-side and target-side sidecars still listed', async (t) => {
  const dir = testDir(t);
  fs.mkdirSync(path.join(dir, 'orig'));
  touch(dir, 'orig', 'gone.json'); // the target was deleted but its sidecar remains
  const link = path.join(dir, 'gone.jpg');
  fs.symlinkSync('orig/gone.jpg', link);
  touch(dir, 'gone.bin');
  const loc = await locateSidecar(link);
  assert.equal(loc.broken, true);
  assert.equal(loc.isSymlink, true);
  assert.deepEqual(loc.chain, [link]);
  assert.equal(loc.targetPath, path.join(dir, 'orig', 'gone.jpg'));
  assert.deepEqual(names(loc), ['target:gone.json', 'link:gone.bin']);
});

test('loop: broken:true, no throw, only link-side candidates', async (t) => {
  const dir = testDir(t);
  const a = path.join(dir, 'a.jpg');
  const b = path.join(dir, 'b.jpg');
  fs.symlinkSync('b.jpg', a);
  fs.symlinkSync('a.jpg', b);
  touch(dir, 'a.json');
  const loc = await locateSidecar(a);
  assert.equal(loc.broken, true);
  assert.equal(loc.isSymlink, true);
  assert.deepEqual(loc.chain.slice(0, 2), [a, b]);
  assert.deepEqual(names(loc), ['link:a.json']);
  const self = path.join(dir, 'self.jpg');
  fs.symlinkSync('self.jpg', self);
  assert.equal((await locateSidecar(self)).broken, true);
});

test('upper-case image extension pairs with lower-case sidecar ext (A.JPG ↔ A.json)', async (t) => {
  const dir = testDir(t);
  touch(dir, 'A.JPG');
  touch(dir, 'A.json');
  touch(dir, 'a.json'); // stem is case-sensitive
  const loc = await locateSidecar(path.join(dir, 'A.JPG'));
  assert.deepEqual(names(loc), ['target:A.json']);
  assert.equal(sidecarPathFor(loc, 'bin', 'stem'), path.join(dir, 'A.bin'));
});

test('NFD names on disk are matched in NFC, and the on-disk spelling is reported', async (t) => {
  const dir = testDir(t);
  const nfcName = 'Zoë Café';
  const nfdName = nfcName.normalize('NFD');
  assert.notEqual(nfcName, nfdName);
  touch(dir, `${nfcName}.jpg`);
  touch(dir, `${nfdName}.json`); // sidecar copied from macOS
  let loc = await locateSidecar(path.join(dir, `${nfcName}.jpg`));
  assert.deepEqual(loc.candidates.map((c) => c.path), [path.join(dir, `${nfdName}.json`)]);
  assert.ok(fs.existsSync(loc.candidates[0].path));

  // image on disk in NFD, asked for in NFC
  const other = testDir(t);
  touch(other, `${nfdName}.jpg`);
  touch(other, `${nfdName}.bin`);
  loc = await locateSidecar(path.join(other, `${nfcName}.jpg`));
  assert.equal(loc.imagePath, path.join(other, `${nfcName}.jpg`));
  assert.equal(loc.name, `${nfdName}.jpg`);
  assert.deepEqual(loc.candidates.map((c) => c.path), [path.join(other, `${nfdName}.bin`)]);
});

test('name-ext form (IMG.jpg.json) is found and built', async (t) => {
  const dir = testDir(t);
  touch(dir, 'IMG_5.jpeg');
  touch(dir, 'IMG_5.jpeg.json');
  const loc = await locateSidecar(path.join(dir, 'IMG_5.jpeg'));
  assert.deepEqual(loc.candidates, [{ path: path.join(dir, 'IMG_5.jpeg.json'), ext: 'json', naming: 'name-ext', side: 'target' }]);
  assert.equal(sidecarPathFor(loc, 'bin', 'name-ext'), path.join(dir, 'IMG_5.jpeg.bin'));
  assert.equal(sidecarPathFor(loc, 'rkyv', 'name-ext'), path.join(dir, 'IMG_5.jpeg.rkyv'));
});

test('a symlinked sidecar counts; a dangling one does not', async (t) => {
  const dir = testDir(t);
  touch(dir, 'p.jpg');
  touch(dir, 'store', 'p-data.json');
  fs.symlinkSync('store/p-data.json', path.join(dir, 'p.json'));
  fs.symlinkSync('store/missing.bin', path.join(dir, 'p.bin'));
  const loc = await locateSidecar(path.join(dir, 'p.jpg'));
  assert.deepEqual(names(loc), ['target:p.json']);
});

test('missing image → NOT_FOUND; a directory → USAGE', async (t) => {
  const dir = testDir(t);
  await assert.rejects(locateSidecar(path.join(dir, 'nope.jpg')), (e: unknown) => {
    assert.ok(e instanceof SidecarError);
    assert.equal(e.code, 'NOT_FOUND');
    return true;
  });
  await assert.rejects(locateSidecar(path.join(dir, 'nodir', 'Zoë.jpg')), { code: 'NOT_FOUND' });
  await assert.rejects(locateSidecar(dir), { code: 'USAGE' });
});

test('an image name so long that a candidate name cannot exist (ENAMETOOLONG): the candidates that can exist are found', async (t) => {
  const dir = testDir(t);
  const stem = 'L'.repeat(250); // IMG name 254 bytes, its .json 255, its .jpg.bin 258: longer than any file system allows
  const img = touch(dir, `${stem}.jpg`);
  touch(dir, `${stem}.json`);
  const loc = await locateSidecar(img);
  assert.deepEqual(names(loc), [`target:${stem}.json`]);
});
