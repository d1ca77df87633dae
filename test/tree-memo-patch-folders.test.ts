/**
 * Attacks on a tree memo's patch that lists only the folders of the records it makes again
 * (scan.ts ScanOptions.onlyFolders, walk.ts listFolders: each folder at the walk step the memo
 * gives it, its path spelled by the records' partition keys) and on validate's output made straight
 * from its stored rows with the changed ones in place (ops/validate.ts finishStored). After every
 * change every command with the index gives exactly what it gives with `index: false`, the patch
 * included: at the top of the tree, deep down, through links from other folders, in folders whose
 * names only their Unicode normalisation tells apart, and with names the walk sorts around a
 * changed folder.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { memoCommands, photoSpec, type How, type MemoCommandName } from './helpers/memo.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';

const NFC = 'Caf\u00e9';
const NFD = 'Cafe\u0301';

function library(t: TestContext): string {
  const { spec, photo, fill } = photoSpec();
  photo('top');
  photo('a/x');
  photo('a/b/c/deep', 2);
  photo('a/b/c/deeper', 3);
  photo('a b/z.w/dotted');
  photo('a-b/after');
  photo('photos/p1');
  photo('photos/p2', 2);
  photo(`${NFC}/p`);
  photo(`${NFD}/p`, 2);
  photo('\u00fcber/u');
  // A game folder of links into photos: its records depend on the photos' sidecars.
  spec['games/g1/link1.jpg'] = { symlink: '../../photos/p1.jpg' };
  spec['games/g1/link2.jpg'] = { symlink: '../../photos/p2.jpg' };
  spec['games/g2/link1.jpg'] = { symlink: '../../photos/p1.jpg' };
  // Enough records that a patch of a few stays under its share (scan.ts MAX_PATCHED_SHARE).
  fill(6);
  // A folder named as a sidecar, beside a changed one.
  spec['a/b/c/deep.json.d/inner.jpg'] = FAKE_JPEG;
  return makeTree(spec, testDir(t, 'memo-patch-folders-'));
}

/** Rewrite a sidecar with other content: the same size (mtime put back: only ctime tells) or another one. */
function change(root: string, rel: string, how: 'same size' | 'resized'): void {
  const p = join(root, rel);
  const before = statSync(p);
  const text = readFileSync(p, 'utf8');
  // The first face's confidence (or the yolov8 object's) changes digit for digit; a resized file gains a face's worth of space.
  const next = how === 'same size' ? text.replace(/"confidence": 0\.(\d)/, (_, d: string) => `"confidence": 0.${(Number(d) + 1) % 10}`) : text.replace('"success": true', '"success": false');
  assert.notEqual(next, text);
  writeFileSync(p, next);
  if (how === 'same size') utimesSync(p, before.atime, before.mtime);
}

const COMMANDS: MemoCommandName[] = ['validate', 'validate kept', 'validate where', 'stats', 'stats op', 'format-stats'];

/** Every command: warm until its memo answers whole, change, then with the index the same as without, patched where `patched` says so. */
async function attack(t: TestContext, label: string, edits: [string, 'same size' | 'resized'][], patched: boolean): Promise<void> {
  for (const name of COMMANDS) {
    const root = library(t);
    const indexPath = join(root, '.image-sidecar', 'index');
    const runs: How[] = [];
    const cmd = memoCommands(root, indexPath, runs)[name];
    for (let i = 0; i < 8 && runs.at(-1) !== 'whole'; i++) assert.equal(await cmd(true), await cmd(false), `${label}: ${name} warming`);
    assert.equal(runs.at(-1), 'whole', `${label}: ${name} warm (${runs.join(',')})`);
    for (const [rel, how] of edits) change(root, rel, how);
    const plain = await cmd(false);
    // The patched run, then a run answered by the memo and its delta (validate: the delta's rows in place of the stored ones).
    assert.equal(await cmd(true), plain, `${label}: ${name} patched run (${runs.join(',')})`);
    if (patched) assert.equal(runs.at(-1), 'patched', `${label}: ${name} (${runs.join(',')})`);
    assert.equal(await cmd(true), plain, `${label}: ${name} the run after the patch (${runs.join(',')})`);
    // Changed again: the delta's rows replaced by newer ones.
    change(root, edits[0][0], 'resized');
    const plain2 = await cmd(false);
    assert.equal(await cmd(true), plain2, `${label}: ${name} patched again (${runs.join(',')})`);
    assert.equal(await cmd(true), plain2, `${label}: ${name} after the second patch (${runs.join(',')})`);
  }
}

test('a patch at the top of the tree and deep down lists those folders and gives what --no-index gives', async (t) => {
  await attack(t, 'top and deep', [['top.json', 'same size'], ['a/b/c/deeper.json', 'same size']], true);
});

test('a patch in folders the walk sorts around others (a b, a-b, a/b/c beside a folder named as a sidecar)', async (t) => {
  await attack(t, 'sorted around', [['a b/z.w/dotted.json', 'resized'], ['a-b/after.json', 'same size'], ['a/b/c/deep.json', 'resized']], true);
});

test('a changed photo sidecar makes the records of the links to it again, in the game folders, at their steps', async (t) => {
  await attack(t, 'through links', [['photos/p1.json', 'same size']], true);
});

test('folders whose names differ only in Unicode normalisation: the whole walk, the right folder', async (t) => {
  await attack(t, 'NFC twin', [[`${NFC}/p.json`, 'same size']], false);
  await attack(t, 'NFD twin', [[`${NFD}/p.json`, 'resized']], false);
  await attack(t, 'non-ASCII folder', [['\u00fcber/u.json', 'same size'], ['a/x.json', 'same size']], false);
});

test('a patch looks the index up and leaves it as it was (its records go to the memo\'s delta); a later run the memo cannot answer reads the changed files again and gives what --no-index gives', async (t) => {
  const root = library(t);
  const indexPath = join(root, '.image-sidecar', 'index');
  const runs: How[] = [];
  const cmd = memoCommands(root, indexPath, runs).validate;
  for (let i = 0; i < 8 && runs.at(-1) !== 'whole'; i++) await cmd(true);
  assert.equal(runs.at(-1), 'whole');
  const before = readFileSync(indexPath);
  const deltaBefore = existsSync(`${indexPath}.delta`) ? readFileSync(`${indexPath}.delta`) : null;
  change(root, 'a/b/c/deep.json', 'same size');
  assert.equal(await cmd(true), await cmd(false));
  assert.equal(runs.at(-1), 'patched');
  assert.deepEqual(readFileSync(indexPath), before, 'the index file is not written by a patch');
  assert.deepEqual(existsSync(`${indexPath}.delta`) ? readFileSync(`${indexPath}.delta`) : null, deltaBefore, 'nor its delta');
  assert.ok(readdirSync(join(root, '.image-sidecar')).some((n) => /^index\.memo-[0-9a-f]{16}\.delta$/.test(n)), 'the memo\'s delta holds the patch');
  // A file added: every folder check above it fails, no memo answers; the changed file is read again.
  writeFileSync(join(root, 'a/b/c/new.json'), JSON.stringify(sidecarData('new.jpg', 1, 8)));
  assert.equal(await cmd(true), await cmd(false));
  assert.equal(runs.at(-1), 'none');
  assert.equal(await cmd(true), await cmd(false));
});
