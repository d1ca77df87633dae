/**
 * The tree memo (src/incremental/tree-memo.ts): a warm run over an unchanged tree answered from a
 * command's stored output after a stat of every folder and sidecar it relied on. Each test tries to
 * make a stale memo answer: a change of every kind after the memo was made must give the output of
 * --no-index, and the memo must not have answered that run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { clearIndex, formatStats, indexStatus, stats, validate, type IndexOptions, type IndexRunStats, type ValidationResult } from '../src/index.js';
import { saveSidecar } from '../src/ops/save.js';
import { CheckLog, loadMemo, MemoMovedError, memoPlace, sameThroughJson, storeMemo, storeMemoDelta } from '../src/incremental/tree-memo.js';
import { resolveIndexLocation } from '../src/incremental/location.js';
import { identityBytes, statIdentityAny } from '../src/fs/identity.js';
import { lookupEntry } from '../src/discovery/resolve-link.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';
import { craftDelta } from './helpers/memo.js';

const FIXED_TIME = 1_700_000_000;

const noTimes = (v: unknown) => JSON.stringify(v).replace(/"processing_time":[-0-9.e+]+/g, '"processing_time":0');

/** A tree with folders, a game folder of relative and absolute links (one leaving the root), and an image record. */
function tree(dir: string): { root: string; outside: string } {
  const root = join(dir, 'lib');
  const outside = join(dir, 'outside');
  makeTree(
    {
      'photos/d1/IMG_1.jpg': FAKE_JPEG,
      'photos/d1/IMG_1.json': { json: sidecarData('IMG_1.jpg', 2, 4) },
      'photos/d1/IMG_2.jpg': FAKE_JPEG,
      'photos/d1/IMG_2.json': { json: sidecarData('IMG_2.jpg', 1, 4) },
      'photos/d2/IMG_3.jpg': FAKE_JPEG,
      'photos/d2/IMG_3.json': { json: sidecarData('IMG_3.jpg', 0, 4) },
      'photos/d2/bad.jpg': FAKE_JPEG,
      'photos/d2/bad.json': '{"face_detection": {"faces": [',
      'photos/d2/orphan.json': { json: sidecarData('gone.jpg', 1, 4) },
      'games/g1/IMG_1.jpg': { symlink: '../../photos/d1/IMG_1.jpg' },
      // Relative, out of the root: its lookups stay in this test's folders (an absolute one, looked
      // up from `/`: the last test).
      'games/g1/far.jpg': { symlink: '../../../outside/far.jpg' },
    },
    root,
  );
  makeTree({ 'far.jpg': FAKE_JPEG, 'far.json': { json: sidecarData('far.jpg', 3, 4) } }, outside);
  symlinkSync('../../photos/d2/IMG_3.jpg', join(root, 'games/g1/IMG_3.jpg'));
  return { root, outside };
}

/** Per run: how the tree memo answered it ('whole', 'patched': some records made again, 'none'). */
type Runs = { memo: ('whole' | 'patched' | 'none')[] };

/** validate, stats and format-stats as text, and whether the tree memo answered each run. */
function commands(root: string, indexPath: string, runs: Runs) {
  const index: IndexOptions = { path: indexPath, racyMarginMs: 0, onStats: (s: IndexRunStats) => runs.memo.push(s.memo ? (s.memoPatched ? 'patched' : 'whole') : 'none') };
  return {
    validate: async (withIndex: boolean) => {
      const results: ValidationResult[] = [];
      const r = await validate(root, { index: withIndex ? index : false, resultsOnly: true, onResult: (x) => void results.push(x) });
      return noTimes({ results, ...r });
    },
    'validate (results kept)': async (withIndex: boolean) => noTimes(await validate(root, { index: withIndex ? index : false })),
    stats: async (withIndex: boolean) => noTimes(await stats(root, { index: withIndex ? index : false, list: true, folders: 5 })),
    // Without a list or folder table: a patch changes the stored counts (ops/stats.ts removeRow).
    'stats (counts)': async (withIndex: boolean) => noTimes(await stats(root, { index: withIndex ? index : false })),
    'format-stats': async (withIndex: boolean) => noTimes(await formatStats(root, { index: withIndex ? index : false })),
  };
}

/** Run each command until its memo answers; every run equal to --no-index. */
async function warmUntilMemo(root: string, indexPath: string, label: string): Promise<void> {
  for (const [name, run] of Object.entries(commands(root, indexPath, { memo: [] }))) {
    const plain = await run(false);
    const runs: Runs = { memo: [] };
    const again = commands(root, indexPath, runs)[name as keyof ReturnType<typeof commands>];
    // Four runs make a memo on a quiet machine (build, records, memo, answer); a loaded one (CI)
    // once took more: up to eight, each equal to --no-index.
    for (let i = 0; i < 8 && runs.memo.at(-1) !== 'whole'; i++) assert.equal(await again(true), plain, `${label}: ${name} run ${i + 1} differs from --no-index`);
    assert.equal(runs.memo.at(-1), 'whole', `${label}: ${name}: a repeat run was answered by the memo (${runs.memo.join(',')})`);
  }
}

/**
 * After a change: the first run of each command gives --no-index's output and was not answered by
 * the memo as it was (`expect`: how it may be answered: made again in full, or patched).
 */
async function assertNotServed(root: string, indexPath: string, label: string, only?: string[], expect?: 'patched' | 'none'): Promise<void> {
  for (const [name, run] of Object.entries(commands(root, indexPath, { memo: [] }))) {
    if (only && !only.includes(name)) continue;
    const plain = await run(false);
    const runs: Runs = { memo: [] };
    const out = await commands(root, indexPath, runs)[name as keyof ReturnType<typeof commands>](true);
    assert.equal(out, plain, `${label}: ${name} after the change differs from --no-index`);
    assert.notEqual(runs.memo[0], 'whole', `${label}: ${name} was answered by a stale memo`);
    if (expect) assert.equal(runs.memo[0], expect, `${label}: ${name} answered ${runs.memo[0]}, expected ${expect}`);
  }
}

/** Each change, and how the first run after it must be answered: 'patched' (only sidecars changed in place), else made in full. */
const CHANGES: [string, (root: string, outside: string) => void, ('patched' | 'none')?][] = [
  [
    'a sidecar edited in place, same size, mtime restored (only ctime moves)',
    (root) => {
      const f = join(root, 'photos/d1/IMG_2.json');
      const before = statSync(f, { bigint: true });
      const text = readFileSync(f, 'utf8');
      writeFileSync(f, text.replace('"success": true', '"success": !rue'));
      utimesSync(f, FIXED_TIME, FIXED_TIME);
      const after = statSync(f, { bigint: true });
      assert.equal(after.size, before.size);
      assert.equal(after.mtimeNs, before.mtimeNs);
    },
    'patched',
  ],
  [
    'a sidecar replaced by rename (same size and mtime)',
    (root) => {
      const f = join(root, 'photos/d1/IMG_1.json');
      const text = readFileSync(f, 'utf8').replace('"success": true', '"success": !rue');
      writeFileSync(`${f}.new`, text);
      utimesSync(`${f}.new`, FIXED_TIME, FIXED_TIME);
      renameSync(`${f}.new`, f);
    },
  ],
  ['a new sidecar in a folder', (root) => writeFileSync(join(root, 'photos/d2/IMG_9.json'), JSON.stringify(sidecarData('IMG_9.jpg', 1, 4)))],
  ['a sidecar removed', (root) => rmSync(join(root, 'photos/d2/orphan.json'))],
  ['a corrupt sidecar repaired (in place)', (root) => writeFileSync(join(root, 'photos/d2/bad.json'), JSON.stringify(sidecarData('bad.jpg', 1, 4))), 'patched'],
  ['a new folder', (root) => makeTree({ 'photos/d3/IMG_7.jpg': FAKE_JPEG, 'photos/d3/IMG_7.json': { json: sidecarData('IMG_7.jpg', 1, 4) } }, root)],
  ['a folder renamed', (root) => renameSync(join(root, 'photos/d3'), join(root, 'photos/d4'))],
  [
    'the sidecar outside the root, behind an absolute link, edited in place (mtime restored)',
    (_root, outside) => {
      const f = join(outside, 'far.json');
      const text = readFileSync(f, 'utf8');
      writeFileSync(f, text.replace('"success": true', '"success": !rue'));
      utimesSync(f, FIXED_TIME, FIXED_TIME);
    },
    'patched',
  ],
  [
    'three sidecars changed in place: more than a tenth of the records, made in full (no patch)',
    (root) => {
      writeFileSync(join(root, 'photos/d2/bad.json'), '{"face_detection": {"faces": [1, 2], "success": false}}');
      writeFileSync(join(root, 'photos/d1/IMG_2.json'), JSON.stringify(sidecarData('IMG_2.jpg', 3, 4)));
      appendFileSync(join(root, 'photos/d1/IMG_1.json'), ' ');
    },
    'none',
  ],
  ['a sidecar made corrupt in place', (root) => writeFileSync(join(root, 'photos/d1/IMG_1.json'), '{"yolov8": '), 'patched'],
  ['a link retargeted', (root) => {
    rmSync(join(root, 'games/g1/IMG_1.jpg'));
    symlinkSync('../../photos/d1/IMG_2.jpg', join(root, 'games/g1/IMG_1.jpg'));
  }],
  ['the folder a link leads out to replaced', (_root, outside) => {
    renameSync(outside, `${outside}-old`);
    makeTree({ 'far.jpg': FAKE_JPEG, 'far.json': { json: sidecarData('far.jpg', 5, 4) } }, outside);
  }],
];

test('tree memo: answers repeat runs on an unchanged tree, never after any kind of change', async (t) => {
  const dir = testDir(t, 'isc-memo-');
  const { root, outside } = tree(dir);
  for (const f of ['photos/d1/IMG_1.json', 'photos/d1/IMG_2.json']) utimesSync(join(root, f), FIXED_TIME, FIXED_TIME);
  const indexPath = join(dir, 'idx', 'index');
  await warmUntilMemo(root, indexPath, 'unchanged');
  for (const [label, change, expect] of CHANGES) {
    change(root, outside);
    // The first run of each command (one memo each) after the change is answered as expected.
    await assertNotServed(root, indexPath, label, ['validate', 'stats', 'format-stats'], expect ?? 'none');
    await warmUntilMemo(root, indexPath, label);
  }
});

test('tree memo: stats compares images with their records, so a touched image is seen', async (t) => {
  const dir = testDir(t, 'isc-memo-img-');
  const { root } = tree(dir);
  const image = join(root, 'photos/d1/IMG_1.jpg');
  await saveSidecar(image, 'yolov8', { success: true, objects: [] }); // records the image's identity
  const indexPath = join(dir, 'idx', 'index');
  await warmUntilMemo(root, indexPath, 'recorded image');
  const before = await stats(root, { index: false });
  appendFileSync(image, Buffer.from([0])); // the image changed: its sidecar is now stale
  const after = await stats(root, { index: false });
  assert.notDeepEqual(after.image_identity, before.image_identity, 'the change is one stats sees');
  // Only stats looks at images (validate's and format-stats' memos still hold, rightly).
  await assertNotServed(root, indexPath, 'touched image', ['stats']);
});

test('tree memo: not made when the run read anything, nor from racy files; not used without an index or with records', async (t) => {
  const dir = testDir(t, 'isc-memo-racy-');
  const { root } = tree(dir);
  const indexPath = join(dir, 'idx', 'index');
  const memos = () => readdirSync(join(dir, 'idx')).filter((n) => n.includes('.memo-'));
  // Default racy margin (2 s): the files were just written, so no run may make a memo of them.
  for (let i = 0; i < 4; i++) await validate(root, { index: { path: indexPath } });
  assert.deepEqual(memos(), [], 'no memo of files changed within the racy margin');
  // With the margin off: a cold run and the run storing folder records read files; the third makes one.
  const index = { path: indexPath, racyMarginMs: 0 };
  await validate(root, { index });
  await validate(root, { index });
  await validate(root, { index });
  assert.equal(memos().length, 1);
  // A caller that wants each result's record is never answered by the memo.
  const runs: boolean[] = [];
  let recs = 0;
  await validate(root, { index: { ...index, onStats: (s) => runs.push(s.memo === true) }, onResult: (_r, rec) => void (rec && recs++) });
  assert.deepEqual(runs, [false]);
  assert.ok(recs > 0);
  // The spool a run collects its memo in is gone after it, whether it made a memo or not, and
  // after a run its caller abandoned.
  const spools = () => readdirSync(join(dir, 'idx')).filter((n) => n.includes('spool'));
  assert.deepEqual(spools(), []);
  for (const m of memos()) rmSync(join(dir, 'idx', m));
  // A run served whole (it collects its memo) whose caller throws at the first result.
  await assert.rejects(validate(root, { index, resultsOnly: true, onResult: () => { throw new Error('stop'); } }), /stop/);
  assert.deepEqual(spools(), [], 'a run that threw leaves no spool');
  assert.deepEqual(memos(), [], 'nor a memo');
  // index clear removes memos with the index.
  clearIndex(root, { path: indexPath });
  assert.deepEqual(memos(), []);
});

test('tree memo: a damaged, foreign or someone else\'s file is never served nor written over', async (t) => {
  const dir = testDir(t, 'isc-memo-bad-');
  const { root } = tree(dir);
  const indexPath = join(dir, 'idx', 'index');
  await warmUntilMemo(root, indexPath, 'before damage');
  const idx = join(dir, 'idx');
  const memoFiles = readdirSync(idx).filter((n) => n.includes('.memo-')).map((n) => join(idx, n));
  assert.ok(memoFiles.length >= 3);
  // One byte flipped in each (in the part every run reads: a memo's lazy part, at its end, is read
  // only by a patch, tree-memo-patch-names.test.ts): checksums fail, the runs go on without them
  // (and make them again).
  for (const f of memoFiles) {
    const b = readFileSync(f);
    b[b.indexOf(0x0a) + 1 + 8 + 2] ^= 0xff;
    writeFileSync(f, b);
  }
  // (The first validate makes its memo again, which the second one, of the same key, may use.)
  await assertNotServed(root, indexPath, 'damaged memos', ['validate', 'stats', 'format-stats']);
  // Someone else's file at a memo's name: never read as one, never replaced.
  const theirs = memoFiles[0];
  writeFileSync(theirs, 'my notes\n');
  for (let i = 0; i < 4; i++) await validate(root, { index: { path: indexPath, racyMarginMs: 0 } });
  await stats(root, { index: { path: indexPath, racyMarginMs: 0 }, list: true, folders: 5 });
  await formatStats(root, { index: { path: indexPath, racyMarginMs: 0 } });
  assert.ok(readdirSync(idx).some((n) => readFileSync(join(idx, n)).toString() === 'my notes\n'), 'the file someone put there is as they left it');
});

test('tree memo: the store refuses what JSON would not give back exactly; a memo of another key or root is a miss', (t) => {
  const dir = testDir(t, 'isc-memo-unit-');
  mkdirSync(join(dir, 'lib'));
  const location = resolveIndexLocation(join(dir, 'lib'), { path: join(dir, 'index') });
  const place = memoPlace(location, join(dir, 'lib'), ['x'])!;
  const log = new CheckLog();
  log.dir(location.rootReal, Buffer.alloc(40, 1), false);
  for (const bad of [{ a: -0 }, { a: NaN }, { a: undefined }, { a: 1n }, { a: new Date(0) }, [1, , 3]]) {
    assert.equal(sameThroughJson(bad, JSON.parse(JSON.stringify(bad, (_k, v: unknown) => (typeof v === 'bigint' ? 0 : v)) ?? 'null')), false, `${String(JSON.stringify(bad, (_k, v: unknown) => (typeof v === 'bigint' ? 'n' : v)))}`);
    assert.equal(storeMemo(place, new CheckLog(), bad), false);
  }
  // A memo whose check does not hold (a made-up folder identity) is a miss.
  assert.equal(storeMemo(place, log, { ok: 1 }), true);
  assert.equal(loadMemo(place), null);
  // Checks that hold: served; the same file under another key or root: a miss.
  const good = new CheckLog();
  assert.equal(storeMemo(place, good, { ok: 2 }), true);
  assert.deepEqual(loadMemo(place)?.payload, { ok: 2 });
  const other = memoPlace(location, join(dir, 'lib'), ['y'])!;
  renameSync(place.file, other.file);
  assert.equal(loadMemo(other), null, 'a memo is served only under its own key');
  const spoiled = new CheckLog();
  spoiled.spoil('a file read');
  assert.equal(storeMemo(place, spoiled, { ok: 3 }), false);
});

test('tree memo: the spool a run collects its memo in (past 64 KiB) is removed after the run, and after a run that threw', async (t) => {
  const dir = testDir(t, 'isc-memo-spool-');
  const spec: Record<string, typeof FAKE_JPEG | { json: unknown }> = {};
  for (let i = 0; i < 600; i++) {
    spec[`d${i % 4}/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`d${i % 4}/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, 1, 2) };
  }
  const root = makeTree(spec, join(dir, 'lib'));
  const idx = join(dir, 'idx');
  const index = { path: join(idx, 'index'), racyMarginMs: 0 };
  const leftovers = () => readdirSync(idx).filter((n) => n.includes('spool'));
  const memos = () => readdirSync(idx).filter((n) => n.includes('.memo-') && !n.includes('spool'));
  // Spools are big enough to reach the disk: watch them appear while a run collects.
  let seen = false;
  const onResult = () => void (seen ||= leftovers().length > 0);
  for (let i = 0; i < 3; i++) await stats(root, { index, list: true });
  assert.equal(memos().length, 1);
  assert.deepEqual(leftovers(), []);
  rmSync(join(idx, memos()[0]));
  await validate(root, { index, resultsOnly: true, onResult });
  await validate(root, { index, resultsOnly: true, onResult }); // served whole: collects its memo
  assert.ok(seen, 'the spool reached the disk while the run collected');
  assert.deepEqual(leftovers(), []);
  for (const m of memos()) rmSync(join(idx, m));
  let n = 0;
  await assert.rejects(validate(root, { index, resultsOnly: true, onResult: () => { if (++n === 500) throw new Error('stop'); } }), /stop/);
  assert.deepEqual(leftovers(), [], 'a run that threw leaves no spool');
  assert.deepEqual(memos(), [], 'nor a memo');
});

test('tree memo: a folder outside the library on a link\'s way (a parent folder, /tmp, a home folder) changing for its own reasons does not stop the memo', async (t) => {
  const dir = testDir(t, 'isc-memo-outside-');
  const { root } = tree(dir); // games/g1/far.jpg: a link out of the root through `dir` to dir/outside
  const indexPath = join(dir, 'idx', 'index');
  await warmUntilMemo(root, indexPath, 'before');
  // `dir` (outside the root, on the link's way) gains a file: its identity moves, the name it
  // looks up (`outside`) still names the same folder.
  writeFileSync(join(dir, 'unrelated.txt'), 'x');
  for (const [name, run] of Object.entries(commands(root, indexPath, { memo: [] }))) {
    const plain = await run(false);
    const runs: Runs = { memo: [] };
    assert.equal(await commands(root, indexPath, runs)[name as keyof ReturnType<typeof commands>](true), plain, name);
    assert.equal(runs.memo[0], 'whole', `${name}: answered whole after an unrelated change outside`);
  }
  // The name itself replaced (another folder at dir/outside): never whole.
  renameSync(join(dir, 'outside'), join(dir, 'outside-old'));
  makeTree({ 'far.jpg': FAKE_JPEG, 'far.json': { json: sidecarData('far.jpg', 6, 4) } }, join(dir, 'outside'));
  await assertNotServed(root, indexPath, 'outside folder replaced', ['validate', 'stats', 'format-stats']);
});

test('tree memo: a name check holds by its folder\'s identity or by its stamp; neither: a miss (racy folder: the stamp alone)', (t) => {
  const dir = testDir(t, 'isc-memo-name-');
  mkdirSync(join(dir, 'lib'));
  mkdirSync(join(dir, 'outer/inner'), { recursive: true });
  const location = resolveIndexLocation(join(dir, 'lib'), { path: join(dir, 'index') });
  const place = memoPlace(location, join(dir, 'lib'), ['names'])!;
  const name = join(dir, 'outer/inner');
  const stampOf = () => {
    const r = lookupEntry(name);
    assert.ok('stamp' in r);
    return r.stamp;
  };
  const folderId = () => identityBytes(statIdentityAny(join(dir, 'outer'))!);
  const served = (stamp: Uint8Array, dirId: Uint8Array | null) => {
    const log = new CheckLog();
    log.name(name, stamp, dirId);
    assert.equal(storeMemo(place, log, { ok: 1 }), true);
    return loadMemo(place) !== null;
  };
  const wrongStamp = Buffer.alloc(24, 7);
  const wrongFolder = Buffer.alloc(40, 7);
  assert.equal(served(stampOf(), folderId()), true, 'both hold');
  assert.equal(served(wrongStamp, folderId()), true, 'the folder as it was: the name names what it did');
  assert.equal(served(stampOf(), wrongFolder), true, 'the folder moved, the name still names the inode');
  assert.equal(served(wrongStamp, wrongFolder), false, 'neither');
  assert.equal(served(wrongStamp, null), false, 'no folder identity (racy): the stamp alone');
  assert.equal(served(stampOf(), null), true);
});

test('tree memo: folders on an absolute link\'s way out of the library gaining files (their ctimes move: the stamps of their names, without birth times) do not stop the memo; a folder replaced does', async (t) => {
  const dir = testDir(t, 'isc-memo-way-');
  const root = join(dir, 'lib');
  makeTree(
    {
      'photos/d1/IMG_1.jpg': FAKE_JPEG,
      'photos/d1/IMG_1.json': { json: sidecarData('IMG_1.jpg', 2, 4) },
      // Absolute, out of the root: every folder above `dir` (the temp folder, as `/tmp` in `/`)
      // and `mid` are looked up by name.
      'games/g1/far.jpg': { symlink: join(dir, 'mid/outside/far.jpg') },
    },
    root,
  );
  makeTree({ 'outside/far.jpg': FAKE_JPEG, 'outside/far.json': { json: sidecarData('far.jpg', 3, 4) } }, join(dir, 'mid'));
  const indexPath = join(dir, 'idx', 'index');
  await warmUntilMemo(root, indexPath, 'before');
  // `mid` and the temp folder holding `dir` gain files: their ctimes move (where a folder has no
  // birth time, e.g. an old /tmp, its stamp with it); the folders they are looked up in do not.
  writeFileSync(join(dir, 'mid', 'unrelated.txt'), 'x');
  const busy = join(dirname(dir), `${basename(dir)}-busy`);
  writeFileSync(busy, 'x');
  rmSync(busy);
  for (const [name, run] of Object.entries(commands(root, indexPath, { memo: [] }))) {
    const plain = await run(false);
    const runs: Runs = { memo: [] };
    assert.equal(await commands(root, indexPath, runs)[name as keyof ReturnType<typeof commands>](true), plain, name);
    assert.equal(runs.memo[0], 'whole', `${name}: answered whole after files were made in folders on the link's way`);
  }
  // `mid` replaced by another folder (its folder `dir` changed too): never whole.
  renameSync(join(dir, 'mid'), join(dir, 'mid-old'));
  makeTree({ 'outside/far.jpg': FAKE_JPEG, 'outside/far.json': { json: sidecarData('far.jpg', 5, 4) } }, join(dir, 'mid'));
  await assertNotServed(root, indexPath, 'a folder on the way replaced', ['validate', 'stats', 'format-stats']);
});

/** A library of 30 records in three folders (a tenth of them: three records a memo's delta may hold). */
function biggerTree(dir: string): string {
  const spec: Record<string, unknown> = {};
  for (let i = 0; i < 30; i++) {
    spec[`d${i % 3}/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`d${i % 3}/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, i % 4, 4) };
  }
  const root = join(dir, 'lib');
  makeTree(spec as Parameters<typeof makeTree>[0], root);
  return root;
}

/** Edit a sidecar in place (same size: a flag flipped; its folder does not move). */
const flipInPlace = (f: string) => writeFileSync(f, readFileSync(f, 'utf8').replace(/"success": (true|!rue)/, (_m, v: string) => `"success": ${v === 'true' ? '!rue' : 'true'}`));

/** The memo files and deltas of an index folder, with their bytes. */
function memoState(idx: string): Map<string, Buffer> {
  return new Map(readdirSync(idx).filter((n) => n.includes('.memo-')).map((n) => [n, readFileSync(join(idx, n))]));
}

/** Every command once: output as --no-index, answered as `expect`. */
async function runAll(root: string, indexPath: string, label: string, expect: 'whole' | 'patched' | 'none' | 'any'): Promise<void> {
  for (const [name, run] of Object.entries(commands(root, indexPath, { memo: [] }))) {
    const plain = await run(false);
    const runs: Runs = { memo: [] };
    assert.equal(await commands(root, indexPath, runs)[name as keyof ReturnType<typeof commands>](true), plain, `${label}: ${name} differs from --no-index`);
    // validate's two forms share a memo: the second finds what the first patched.
    if (name !== 'validate (results kept)' && expect !== 'any') assert.equal(runs.memo[0], expect, `${label}: ${name}`);
  }
}

test('tree memo: a patch writes a delta beside the memo, not the memo; memo and delta answer the next run; deltas add up until past a tenth of the records, then the memo is written again', async (t) => {
  const dir = testDir(t, 'isc-memo-delta-');
  const root = biggerTree(dir);
  const idx = join(dir, 'idx');
  const indexPath = join(idx, 'index');
  await warmUntilMemo(root, indexPath, 'before');
  const memos = memoState(idx);
  assert.equal([...memos.keys()].filter((n) => n.endsWith('.delta')).length, 0);
  flipInPlace(join(root, 'd0/IMG_0.json'));
  await runAll(root, indexPath, 'one edit', 'patched');
  const afterOne = memoState(idx);
  for (const [n, b] of memos) assert.ok(afterOne.get(n)?.equals(b), `${n}: the memo itself is not written again`);
  assert.equal([...afterOne.keys()].filter((n) => n.endsWith('.delta')).length, memos.size, 'a delta per memo');
  await runAll(root, indexPath, 'after one edit', 'whole');
  // A second record, and the first again: the delta holds both.
  flipInPlace(join(root, 'd1/IMG_1.json'));
  flipInPlace(join(root, 'd0/IMG_0.json'));
  await runAll(root, indexPath, 'two edits', 'patched');
  await runAll(root, indexPath, 'after two edits', 'whole');
  for (const [n, b] of memos) assert.ok(readFileSync(join(idx, n)).equals(b), `${n}: still the memo of the first run`);
  // Two more records: four made again since the memo, past a tenth (three): the memo again, no delta.
  flipInPlace(join(root, 'd2/IMG_2.json'));
  flipInPlace(join(root, 'd0/IMG_3.json'));
  await runAll(root, indexPath, 'four edits', 'patched');
  const rewritten = memoState(idx);
  assert.equal([...rewritten.keys()].filter((n) => n.endsWith('.delta')).length, 0, 'the deltas of the old memos are gone');
  for (const [n, b] of memos) assert.ok(!rewritten.get(n)?.equals(b), `${n}: written again`);
  await runAll(root, indexPath, 'after four edits', 'whole');
});

test('tree memo: a damaged delta, one of another memo, or one crafted with a matching checksum is never relied on; someone else\'s file at a delta\'s name is never written over; index clear removes deltas', async (t) => {
  const dir = testDir(t, 'isc-memo-delta-bad-');
  const root = biggerTree(dir);
  const idx = join(dir, 'idx');
  const indexPath = join(idx, 'index');
  await warmUntilMemo(root, indexPath, 'before');
  flipInPlace(join(root, 'd0/IMG_0.json'));
  await runAll(root, indexPath, 'one edit', 'patched');
  const deltas = () => readdirSync(idx).filter((n) => n.endsWith('.delta') && n.includes('.memo-')).map((n) => join(idx, n));
  // Damaged: the memo's own identities of the edited sidecar no longer hold, so the run patches again.
  for (const f of deltas()) {
    const b = readFileSync(f);
    b[b.length - 3] ^= 0xff;
    writeFileSync(f, b);
  }
  await runAll(root, indexPath, 'damaged deltas', 'patched');
  await runAll(root, indexPath, 'after damaged deltas', 'whole');
  // Crafted: a matching checksum over a body no patch writes (no summary). The identities it
  // gives hold, but it stands for nothing: the run is made in full.
  for (const f of deltas()) craftDelta(f, (body) => void (body.summary = null));
  const crafted = new Map(deltas().map((f) => [f, readFileSync(f)]));
  await runAll(root, indexPath, 'crafted deltas', 'none');
  // (validate's second form, of the same memo, then patches the memo alone and writes its own.)
  for (const [f, bytes] of crafted) assert.ok(!existsSync(f) || !readFileSync(f).equals(bytes), 'a delta that stood for nothing is removed');
  await runAll(root, indexPath, 'after crafted deltas: the memo alone', 'any');
  // A delta of another memo (another generation): moved over from another command's memo.
  flipInPlace(join(root, 'd1/IMG_1.json'));
  await runAll(root, indexPath, 'deltas again', 'patched');
  const [a, b] = deltas();
  writeFileSync(a, readFileSync(b));
  flipInPlace(join(root, 'd0/IMG_0.json'));
  await runAll(root, indexPath, 'a delta of another memo', 'patched');
  await runAll(root, indexPath, 'after a delta of another memo', 'whole');
  // Someone else's file at a delta's name: the patch writes the memo again instead, and leaves it.
  const theirs = deltas()[0];
  writeFileSync(theirs, 'my notes\n');
  flipInPlace(join(root, 'd2/IMG_2.json'));
  await runAll(root, indexPath, 'their file at a delta\'s name', 'patched');
  await runAll(root, indexPath, 'after their file', 'whole');
  assert.equal(readFileSync(theirs, 'utf8'), 'my notes\n');
  clearIndex(root, { path: indexPath });
  assert.deepEqual(readdirSync(idx).filter((n) => n.includes('.memo-')), [basename(theirs)], 'our memos and deltas removed, their file left');
});

test('tree memo: pruning keeps a memo kept current by its delta (its last write is the delta\'s)', async (t) => {
  const dir = testDir(t, 'isc-memo-prune-');
  mkdirSync(join(dir, 'lib'));
  const location = resolveIndexLocation(join(dir, 'lib'), { path: join(dir, 'index') });
  const places = Array.from({ length: 9 }, (_, i) => memoPlace(location, join(dir, 'lib'), ['prune', i])!);
  const [patchedOne, ...others] = places;
  assert.equal(storeMemo(patchedOne, new CheckLog(), { ok: 0 }), true);
  const hit = await loadMemo(patchedOne);
  assert.ok(hit);
  assert.equal(storeMemoDelta(patchedOne, hit.gen, new Map(), { patched: true }), true);
  for (const p of others.slice(0, 7)) assert.equal(storeMemo(p, new CheckLog(), { ok: 1 }), true);
  // Written first, patched last; the seven others in between.
  utimesSync(patchedOne.file, 1_000, 1_000);
  for (const p of others.slice(0, 7)) utimesSync(p.file, 2_000, 2_000);
  utimesSync(`${patchedOne.file}.delta`, 3_000, 3_000);
  assert.equal(storeMemo(others[7], new CheckLog(), { ok: 2 }), true); // the ninth: one goes
  const left = places.filter((p) => existsSync(p.file));
  assert.equal(left.length, 8);
  assert.ok(existsSync(patchedOne.file) && existsSync(`${patchedOne.file}.delta`), 'the memo patched last is kept, with its delta');
});

test('tree memo: a name whose stamp (birth time, or ctime) is within the racy margin makes the checks racy (no memo)', () => {
  const stampAt = (ns: bigint) => {
    const b = Buffer.alloc(24, 1);
    b.writeBigUInt64LE(ns, 16);
    return b;
  };
  const cutoff = 1_700_000_000_000_000_000n;
  const fresh = new CheckLog();
  fresh.name('/outside/new', stampAt(cutoff + 5n), Buffer.alloc(40, 2));
  assert.equal(fresh.anyRacy(cutoff), true);
  const old = new CheckLog();
  old.name('/outside/old', stampAt(cutoff - 5n), null);
  assert.equal(old.anyRacy(cutoff), false);
});

test('tree memo: index status reports the memos beside the index with their deltas (files, bytes), apart from the index\'s own bytes; none after index clear', async (t) => {
  const dir = testDir(t, 'isc-memo-status-');
  const root = biggerTree(dir);
  const idx = join(dir, 'idx');
  const indexPath = join(idx, 'index');
  assert.deepEqual(indexStatus(root, { path: indexPath }).tree_memos, { files: 0, bytes: 0 });
  await warmUntilMemo(root, indexPath, 'before');
  flipInPlace(join(root, 'd0/IMG_0.json'));
  await runAll(root, indexPath, 'one edit', 'patched');
  const ours = readdirSync(idx).filter((n) => n.includes('.memo-'));
  const s = indexStatus(root, { path: indexPath });
  assert.equal(s.tree_memos.files, ours.length);
  assert.ok(ours.some((n) => n.endsWith('.delta')));
  assert.equal(s.tree_memos.bytes, ours.reduce((n, f) => n + statSync(join(idx, f)).size, 0));
  assert.equal(s.bytes, statSync(indexPath).size + (existsSync(`${indexPath}.delta`) ? statSync(`${indexPath}.delta`).size : 0));
  clearIndex(root, { path: indexPath });
  assert.deepEqual(indexStatus(root, { path: indexPath }).tree_memos, { files: 0, bytes: 0 });
});

test('tree memo: the checks go through the fast stat (and say so), give what fs.statSync gives, and still see a ctime-only edit', async (t) => {
  const dir = testDir(t, 'isc-memo-fast-');
  const { root } = tree(dir);
  const f = join(root, 'photos/d1/IMG_2.json');
  utimesSync(f, FIXED_TIME, FIXED_TIME);
  const indexPath = join(dir, 'idx', 'index');
  const plain = noTimes(await stats(root, { index: false, list: true }));
  const run = async (fastStat: boolean) => {
    let seen: IndexRunStats | null = null;
    const out = noTimes(await stats(root, { index: { path: indexPath, racyMarginMs: 0, fastStat, onStats: (s) => (seen = s) }, list: true }));
    return { out, s: seen as IndexRunStats | null };
  };
  let last = await run(true);
  for (let i = 0; i < 8 && !last.s?.memo; i++) last = await run(true);
  assert.equal(last.out, plain);
  assert.equal(last.s?.memo, true, 'answered by the memo');
  assert.equal(last.s?.fastStat, true, 'its checks went the fast path');
  const pure = await run(false);
  assert.equal(pure.out, plain);
  assert.equal(pure.s?.memo, true);
  assert.equal(pure.s?.fastStat, false, 'fastStat: false: fs.statSync only');
  // Same size, mtime restored: only ctime tells.
  const ctime = statSync(f, { bigint: true }).ctimeNs;
  writeFileSync(f, readFileSync(f, 'utf8').replace('"success": true', '"success": !rue'));
  // utimes moves ctime too: again until the clock has ticked (a coarse one may give the same tick).
  for (let i = 0; i < 1000 && (i === 0 || statSync(f, { bigint: true }).ctimeNs === ctime); i++) utimesSync(f, FIXED_TIME, FIXED_TIME);
  assert.notEqual(statSync(f, { bigint: true }).ctimeNs, ctime);
  const after = await run(true);
  assert.equal(after.out, noTimes(await stats(root, { index: false, list: true })));
  assert.notEqual(after.out, plain, 'the edit changed the output');
  assert.equal(after.s?.memoPatched !== undefined || after.s?.memo !== true, true, 'not answered whole by the stale memo');
  assert.equal(after.s?.fastStat, true);
});

test('tree memo: a hit\'s racy test read where its identities are (anyRacyNow) answers as the checks made again (checksNow().anyRacy), changed sidecars\' identities now included', async (t) => {
  const dir = testDir(t, 'isc-memo-racy-now-');
  mkdirSync(join(dir, 'lib', 'd'), { recursive: true });
  const files = ['a', 'b', 'c'].map((n) => join(dir, 'lib', 'd', `${n}.json`));
  for (const f of files) writeFileSync(f, '{}');
  const old = Date.now() / 1000 - 3600;
  for (const f of files) utimesSync(f, old, old);
  const log = new CheckLog();
  log.dir(join(dir, 'lib', 'd'), identityBytes(statIdentityAny(join(dir, 'lib', 'd'))!), false);
  for (const f of files) log.file(f, identityBytes(statIdentityAny(f)!));
  const place = memoPlace(resolveIndexLocation(join(dir, 'lib'), { path: join(dir, 'index') }), join(dir, 'lib'), ['racy-now'])!;
  assert.equal(storeMemo(place, log, { ok: 1 }), true);
  // A cutoff after every identity the memo holds, before the rewrites below.
  await new Promise((r) => setTimeout(r, 40));
  const between = BigInt(Date.now() - 20) * 1_000_000n;
  await new Promise((r) => setTimeout(r, 40));
  // Two sidecars rewritten in place (their folder as it was): one now (a new ctime), one with its times put back.
  writeFileSync(files[1], '{"x":1}');
  writeFileSync(files[2], '{"y":2}');
  utimesSync(files[2], old, old);
  const hit = await loadMemo(place, 10);
  assert.ok(hit);
  assert.deepEqual(hit.changed.at, [1, 2]);
  const now = BigInt(Date.now()) * 1_000_000n;
  for (const cutoff of [0n, 1n, now - 3_600_000_000_000n * 2n, now - 60_000_000_000n, now + 60_000_000_000n, 2n ** 63n]) {
    assert.equal(hit.anyRacyNow(cutoff), hit.checksNow().anyRacy(cutoff), `cutoff ${cutoff}`);
  }
  assert.equal(hit.anyRacyNow(between), true, 'only the sidecars rewritten after the memo are racy for this cutoff');
  assert.equal(hit.anyRacyNow(between), hit.checksNow().anyRacy(between));
  assert.equal(hit.anyRacyNow(now - 60_000_000_000n), true, 'the file rewritten now is racy for a cutoff a minute ago');
  assert.equal(hit.anyRacyNow(now - 3_600_000_000_000n * 2n), true);
});

test('tree memo: the lazy part is read when asked, from the file as the run loaded it; a memo written again meanwhile is a MemoMovedError', (t) => {
  const dir = testDir(t, 'isc-memo-lazy-');
  mkdirSync(join(dir, 'lib'));
  const location = resolveIndexLocation(join(dir, 'lib'), { path: join(dir, 'index') });
  const place = memoPlace(location, join(dir, 'lib'), ['lazy'])!;
  const logOf = () => {
    const log = new CheckLog();
    log.dir(location.rootReal, identityBytes(statIdentityAny(location.rootReal)!), false);
    return log;
  };
  assert.equal(storeMemo(place, logOf(), { v: 1 }, Buffer.from('the lazy part, first')), true);
  const hit = loadMemo(place)!;
  assert.ok(hit);
  // Written again (another generation, as long or not) between the load and the patch's read.
  assert.equal(storeMemo(place, logOf(), { v: 2 }, Buffer.from('the lazy part, again, longer')), true);
  assert.throws(() => hit.lazy(), MemoMovedError);
  // The one loaded now reads its own.
  assert.deepEqual(loadMemo(place)!.lazy(), Buffer.from('the lazy part, again, longer'));
  // Written again as long (the same sizes, other bytes): its checksum tells.
  const sameSize = loadMemo(place)!;
  const size = statSync(place.file).size;
  // (The head's numbers, a CRC-32 among them, may be a digit longer or shorter: other bytes until one is as long.)
  for (let k = 0; k < 64; k++) {
    const other = Buffer.from('the lazy part, again, LONGER');
    other[k % other.length] ^= 0x20 * (1 + (k >> 5));
    assert.equal(storeMemo(place, logOf(), { v: 3 }, other), true);
    if (statSync(place.file).size === size) break;
  }
  assert.equal(statSync(place.file).size, size, 'a memo as long');
  assert.throws(() => sameSize.lazy(), MemoMovedError);
  // Gone meanwhile.
  const hit2 = loadMemo(place)!;
  rmSync(place.file);
  assert.throws(() => hit2.lazy(), MemoMovedError);
});

test('tree memo: byte strings come back as stored, read in place from a memo (their region at a multiple of 8 in the file) and from a delta', (t) => {
  const dir = testDir(t, 'isc-memo-bytes-');
  mkdirSync(join(dir, 'lib'));
  const location = resolveIndexLocation(join(dir, 'lib'), { path: join(dir, 'index') });
  const log = new CheckLog();
  log.dir(location.rootReal, identityBytes(statIdentityAny(location.rootReal)!), false);
  // Names beyond ASCII around them: the JSON part is written ASCII, its length whatever they are.
  for (const name of ['a', 'é', '😀😀😀', 'ｆｕｌｌ-width']) {
    const place = memoPlace(location, join(dir, 'lib'), ['bytes', name])!;
    const column = Buffer.from(new Float64Array([1.5, -0, 2 ** 60]).buffer);
    assert.equal(storeMemo(place, log, { name, column, small: Buffer.from([7]) }), true);
    const hit = loadMemo(place)!;
    const payload = hit.payload as { name: string; column: Buffer; small: Buffer };
    assert.equal(payload.name, name);
    assert.ok(payload.column.equals(column));
    assert.equal(payload.column.byteOffset % 8, 0, `${name}: the column at a multiple of 8 of its buffer`);
    assert.deepEqual([...payload.small], [7]);
    // A delta's byte strings come back too.
    assert.equal(storeMemoDelta(place, hit.gen, new Map(), { rows: Buffer.from([1, 2, 3]), name }), true);
    const again = loadMemo(place)!;
    assert.deepEqual([...(again.delta as { rows: Buffer }).rows], [1, 2, 3]);
    assert.equal((again.delta as { name: string }).name, name);
  }
});
