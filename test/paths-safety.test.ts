/**
 * Never reach outside the root, never walk into a quarantine, guard per folder
 * (issue 10 §4 and §6). Each test failed on the code before the fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup } from '../src/ops/cleanup.js';
import { restore } from '../src/ops/restore.js';
import { stats } from '../src/ops/stats.js';
import { formatStats } from '../src/ops/format-stats.js';
import { exportSidecars } from '../src/ops/export.js';
import { hashTree } from '../src/ops/hash.js';
import { QUARANTINE_DIR } from '../src/discovery/own-folders.js';
import { scan } from '../src/ops/scan.js';
import { isSidecarError } from '../src/errors.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './helpers/tree.js';
import { parseJson, runCli } from './helpers/cli.js';

const T1 = new Date('2026-11-21T11:33:00Z');

function paired(prefix: string, n: number): Record<string, TreeNode> {
  const spec: Record<string, TreeNode> = {};
  for (let i = 0; i < n; i++) {
    spec[`${prefix}IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`${prefix}IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, 1, 4) };
  }
  return spec;
}

test('restore does not follow a directory symlink planted inside the quarantine folder', async (t) => {
  const dir = testDir(t);
  const root = makeTree({ ...paired('p/', 10), 'p/sub/gone.json': { json: sidecarData('gone.jpg', 1, 4) } }, path.join(dir, 'lib'));
  const r = await cleanup(root, { now: () => T1, engine: 'inline' });
  assert.equal(r.removed, 1);
  // The attacker moves the quarantined folder outside the root and plants a symlink to it.
  const qsub = path.join(r.quarantine!, 'p', 'sub');
  const outside = path.join(dir, 'outside-sub');
  fs.renameSync(qsub, outside);
  fs.symlinkSync(outside, qsub);
  const rep = await restore(root);
  assert.equal(rep.restored, 0);
  assert.equal(rep.skipped.length, 1);
  assert.match(rep.skipped[0].reason, /outside the root/);
  assert.ok(fs.existsSync(path.join(outside, 'gone.json')), 'the file outside the root is still there');
  assert.ok(!fs.existsSync(path.join(root, 'p', 'sub', 'gone.json')), 'nothing was moved in');
});

test('a quarantine folder inside a subfolder (cleanup photos/, then cleanup .) is never walked into', async (t) => {
  const root = makeTree({ ...paired('photos/', 10), 'photos/gone.json': { json: sidecarData('gone.jpg', 1, 4) }, ...paired('', 10) }, testDir(t));
  const first = await cleanup(path.join(root, 'photos'), { now: () => T1, engine: 'inline' });
  assert.equal(first.removed, 1);
  assert.ok(fs.existsSync(path.join(root, 'photos', QUARANTINE_DIR)));
  const second = await cleanup(root, { now: () => T1, engine: 'inline', dryRun: true });
  assert.equal(second.orphans, 0, 'the quarantined file is not an orphan of the outer tree');
  const rels: string[] = [];
  for await (const rec of scan(root, { engine: 'inline' })) for (const s of rec.sidecars) rels.push(s.rel);
  assert.ok(!rels.some((r) => r.includes(QUARANTINE_DIR)), rels.join(','));
});

test('the mass-deletion guard trips for one folder whose every image is gone, even when the tree-wide share is small', async (t) => {
  const spec: Record<string, TreeNode> = { ...paired('big/', 60) };
  for (let i = 0; i < 5; i++) spec[`game7/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, 1, 4) };
  const root = makeTree(spec, testDir(t));
  await assert.rejects(cleanup(root, { engine: 'inline' }), (e: unknown) => {
    assert.ok(isSidecarError(e) && e.code === 'GUARD', String(e));
    assert.match(e.message, /game7/);
    assert.match(e.message, /every image/);
    return true;
  });
  assert.equal(fs.readdirSync(path.join(root, 'game7')).length, 5, 'nothing moved');
  const forced = await cleanup(root, { engine: 'inline', force: true, now: () => T1 });
  assert.equal(forced.removed, 5);
});

test('export -o and hash --manifest pointed at a sidecar inside the tree refuse; the sidecar is untouched', async (t) => {
  const root = makeTree({ ...paired('', 3) }, testDir(t));
  const sidecar = path.join(root, 'IMG_1.json');
  const before = fs.readFileSync(sidecar);
  for (const target of [sidecar, path.join(root, 'IMG_2.bin') /* would pair with IMG_2.jpg */]) {
    await assert.rejects(exportSidecars(root, { format: 'json', output: target, engine: 'inline' }), (e: unknown) => isSidecarError(e) && e.code === 'USAGE' && /sidecar file of an image in its folder/.test(e.message));
    await assert.rejects(hashTree(root, { manifest: target, engine: 'inline' }), (e: unknown) => isSidecarError(e) && e.code === 'USAGE');
  }
  assert.deepEqual(fs.readFileSync(sidecar), before);
  assert.ok(!fs.existsSync(path.join(root, 'IMG_2.bin')));
  // Elsewhere in the tree (no image of that name) is fine.
  const ok = await exportSidecars(root, { format: 'json', output: path.join(root, 'export.json'), engine: 'inline' });
  assert.equal(ok.exported, 3);
});

test('-o FILE of every command never replaces a sidecar (inside the tree read or not): usage error before anything runs, the sidecar untouched', async (t) => {
  const root = makeTree({ ...paired('lib/', 3), ...paired('other/', 2) }, testDir(t));
  const lib = path.join(root, 'lib');
  const files = ['lib/IMG_1.json', 'other/IMG_1.json'].map((r) => path.join(root, r));
  const before = files.map((f) => fs.readFileSync(f));
  const runs: string[][] = [
    ['validate', lib, '-o', files[0]],
    ['stats', lib, '-o', files[0]],
    ['format-stats', lib, '-o', path.join(lib, 'IMG_2.bin')], // would pair with IMG_2.jpg
    ['report', lib, '-o', files[0]],
    ['find', lib, '--where', 'faces >= 0', '-o', files[0]],
    ['stats', lib, '-o', files[1]], // another library's sidecar
    ['read', path.join(lib, 'IMG_1.jpg'), '-o', files[0]],
  ];
  for (const args of runs) {
    const r = await runCli([...args, '-q']);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /error \[USAGE\]: refusing to write the output to .*: it is a sidecar file/, args.join(' '));
  }
  assert.deepEqual(files.map((f) => fs.readFileSync(f)), before);
  assert.ok(!fs.existsSync(path.join(lib, 'IMG_2.bin')));
  // A name next to no image is not a sidecar: written.
  assert.equal((await runCli(['stats', lib, '-q', '-o', path.join(lib, 'stats.json')])).code, 0);
  assert.ok(fs.existsSync(path.join(lib, 'stats.json')));
});

test('an orphan with a backslash in its name (an ordinary character on POSIX) is quarantined and restored like any other', { skip: path.sep === '\\' }, async (t) => {
  const root = makeTree({ ...paired('a\\b/', 5), 'a\\b/x\\y.json': { json: sidecarData('x.jpg', 1, 4) } }, testDir(t));
  const orphan = path.join(root, 'a\\b', 'x\\y.json');
  const bytes = fs.readFileSync(orphan);
  const r = await cleanup(root, { engine: 'inline', force: true });
  assert.deepEqual([r.removed, r.skipped], [1, []]);
  assert.ok(!fs.existsSync(orphan));
  const back = await restore(root, {});
  assert.equal(back.restored, 1);
  assert.deepEqual(fs.readFileSync(orphan), bytes);
});

test('stats --operation-type never changes the categories; an operation nobody has is a usage error', async (t) => {
  const dir = testDir(t);
  const root = makeTree(
    {
      ...paired('photos/', 4),
      'photos/bad.jpg': FAKE_JPEG,
      'photos/bad.json': '{ not json',
      'games/G1/IMG_1.jpg': { symlink: '../../photos/IMG_1.jpg' },
      'games/G1/bad.jpg': { symlink: '../../photos/bad.jpg' },
    },
    dir,
  );
  const plain = await stats(root, { engine: 'inline' });
  const filtered = await stats(root, { engine: 'inline', operationType: 'face_detection' });
  assert.deepEqual(filtered.categories, plain.categories);
  assert.equal(plain.categories.corrupt, 1, 'the corrupt file is counted once, by its own record');
  await assert.rejects(stats(root, { engine: 'inline', operationType: 'face_detecton' }), (e: unknown) => isSidecarError(e) && e.code === 'USAGE' && /unknown operation/.test(e.message));
});

test('--image-ext and .image-sidecar.json add image types for tree commands and for write', async (t) => {
  const root = makeTree({ ...paired('', 10), 'x.xyz': 'img', 'x.json': { json: sidecarData('x.xyz', 1, 4) }, 'y.qqq': 'img' }, testDir(t));
  const cats = async (args: string[]) => (parseJson(await runCli(['stats', root, '--json', ...args])) as { categories: Record<string, number> }).categories;
  assert.equal((await cats([]))['unknown-image'], 1);
  assert.equal((await cats(['--image-ext', 'xyz,.QQQ']))['unknown-image'], 0);
  fs.writeFileSync(path.join(root, '.image-sidecar.json'), JSON.stringify({ imageExtensions: ['xyz'] }));
  const c = await cats([]);
  assert.equal(c['unknown-image'], 0);
  assert.equal(c.ok, 11);
  // write: y.qqq is explicit, so it is an image anyway; the config applies to the sibling check.
  const w = await runCli(['write', path.join(root, 'y.qqq'), '--operation', 'x', '--data', '-', '--json'], { input: '{}' });
  assert.equal(w.code, 0, w.stderr);
  fs.writeFileSync(path.join(root, '.image-sidecar.json'), JSON.stringify({ imageExtension: ['xyz'] }));
  const bad = await runCli(['stats', root, '--json']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown key "imageExtension"/);
});

test('one tree, one count: stats, format-stats and cleanup report the same sidecar files', async (t) => {
  const root = makeTree(
    {
      ...paired('a/', 12),
      'a/IMG_0.bin': 'stale twin', // a second (corrupt) candidate of IMG_0
      'a/bad.jpg': FAKE_JPEG,
      'a/bad.json': '{ nope',
      'a/gone.json': { json: sidecarData('gone.jpg', 1, 4) },
      'a/x.xyz': 'raw',
      'a/x.json': { json: sidecarData('x.xyz', 1, 4) },
      'a/game_detection.json': { json: { success: true, games: [] } },
      'b/IMG_0.jpg': { symlink: '../a/IMG_0.jpg' },
    },
    testDir(t),
  );
  const st = await stats(root, { engine: 'inline' });
  const fst = await formatStats(root, { engine: 'inline' });
  const cl = await cleanup(root, { engine: 'inline', dryRun: true, force: true });
  // 12 paired + the stale twin + bad.json + gone.json + x.json; not the report, not the link's target again.
  assert.equal(st.sidecar_files, 16);
  assert.equal(fst.total_files, 16);
  assert.equal(cl.sidecarFiles, 16);
  assert.equal(st.categories['unknown-image'], 1);
  assert.equal(st.categories.unrelated, 1);
});

test('a lone symlinked sidecar is never planned for removal (its file is read, never moved)', async (t) => {
  const dir = testDir(t);
  const outside = makeTree({ 'keep.json': { json: sidecarData('keep.jpg', 1, 4) } }, path.join(dir, 'outside'));
  const root = makeTree({ ...paired('', 10), 'lone.json': { symlink: path.join(outside, 'keep.json') } }, path.join(dir, 'lib'));
  const r = await cleanup(root, { engine: 'inline', now: () => T1 });
  assert.equal(r.orphans, 0);
  assert.deepEqual(r.skipped, []);
  assert.ok(fs.lstatSync(path.join(root, 'lone.json')).isSymbolicLink());
});
