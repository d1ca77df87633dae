/**
 * Where the index may be written (incremental/location.ts). Attack: a symlink planted as the
 * library's `.image-sidecar` folder, pointing outside the library. Every default run used to write
 * its index, spool and temp files through it, and `index clear` deleted `index` and
 * `index.last-run.json` in the folder it pointed to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';
import { resolveIndexLocation } from '../src/incremental/location.js';
import { INDEX_DIR } from '../src/discovery/own-folders.js';
import { stats } from '../src/ops/stats.js';

function planted(t: Parameters<typeof testDir>[0]): { root: string; outside: string; cache: string } {
  const dir = testDir(t);
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) }, 'IMG_2.jpg': FAKE_JPEG }, join(dir, 'lib'));
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  // What an attacker would like to see replaced or removed.
  writeFileSync(join(outside, 'index'), 'not an index: somebody else\'s file');
  writeFileSync(join(outside, 'index.last-run.json'), '{"theirs":true}');
  symlinkSync(outside, join(root, INDEX_DIR));
  const cache = join(dir, 'cache');
  return { root, outside, cache };
}

const outsideUntouched = (outside: string) => {
  assert.deepEqual(readdirSync(outside).sort(), ['index', 'index.last-run.json']);
};

test('a symlinked .image-sidecar is never written through: the library runs without the index, or with it in the cache directory', async (t) => {
  const { root, outside, cache } = planted(t);
  assert.equal(resolveIndexLocation(root).where, 'none');
  assert.equal(resolveIndexLocation(root, { cacheDir: cache }).where, 'cache');

  const warnings: string[] = [];
  const plain = JSON.stringify(await stats(root, { engine: 'inline', index: false }));
  const noCache = JSON.stringify(await stats(root, { engine: 'inline', index: { onWarning: (m) => warnings.push(m), racyMarginMs: 0 } }));
  assert.equal(noCache, plain);
  assert.ok(warnings.some((w) => /not a folder of the library/.test(w) && /keeps no index/.test(w)), warnings.join('\n'));
  outsideUntouched(outside);

  warnings.length = 0;
  const cached = { cacheDir: cache, racyMarginMs: 0, onWarning: (m: string) => warnings.push(m) };
  assert.equal(JSON.stringify(await stats(root, { engine: 'inline', index: cached })), plain);
  assert.equal(JSON.stringify(await stats(root, { engine: 'inline', index: cached })), plain);
  assert.ok(warnings.some((w) => /kept in .*cache/.test(w)), warnings.join('\n'));
  assert.equal(readdirSync(join(cache, 'image-sidecar', 'index')).filter((f) => !f.endsWith('.json')).length, 1, 'the index went to the cache');
  outsideUntouched(outside);
});

test('the CLI with a symlinked .image-sidecar: same output as --no-index, a warning, nothing written or removed outside the library (index clear included)', async (t) => {
  const { root, outside, cache } = planted(t);
  const env = { XDG_CACHE_HOME: cache, IMAGE_SIDECAR_INDEX_RACY_MS: '0' };
  const plain = await runCli(['validate', root, '--no-index'], { env });
  const first = await runCli(['validate', root], { env });
  const second = await runCli(['validate', root], { env });
  assert.equal(first.stdout.replace(/"processing_time":[^,}]+/g, ''), plain.stdout.replace(/"processing_time":[^,}]+/g, ''));
  assert.equal(second.stdout.replace(/"processing_time":[^,}]+/g, ''), plain.stdout.replace(/"processing_time":[^,}]+/g, ''));
  assert.match(first.stderr, /not a folder of the library/);
  outsideUntouched(outside);

  const status = JSON.parse((await runCli(['index', 'status', root, '--json'], { env })).stdout) as { where: string; problem: string | null; entries: number };
  assert.equal(status.where, 'cache');
  assert.match(status.problem ?? '', /not a folder of the library/);

  const cleared = await runCli(['index', 'clear', root], { env });
  assert.equal(cleared.code, 0, cleared.stderr);
  outsideUntouched(outside);

  // Without a cache directory there is no safe place: status says so, clear removes nothing.
  const noCache = { IMAGE_SIDECAR_INDEX_RACY_MS: '0', XDG_CACHE_HOME: undefined, HOME: undefined };
  const none = await runCli(['validate', root], { env: noCache });
  assert.match(none.stderr, /keeps no index/);
  const noneStatus = JSON.parse((await runCli(['index', 'status', root, '--json'], { env: noCache })).stdout) as { where: string; exists: boolean };
  assert.equal(noneStatus.where, 'none');
  assert.equal(noneStatus.exists, false);
  await runCli(['index', 'clear', root], { env: noCache });
  outsideUntouched(outside);
  assert.equal(existsSync(join(root, INDEX_DIR, 'index')), true, 'the file behind the link is still there');
});

test('--index never takes a file that is not an index, nor a place inside the library (regression: --index lib/IMG_1.json replaced that sidecar with the index, --index ~/notes.txt replaced the notes)', async (t) => {
  const dir = testDir(t);
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) }, 'sub/IMG_2.jpg': FAKE_JPEG }, join(dir, 'lib'));
  const sidecar = join(root, 'IMG_1.json');
  const sidecarBytes = readFileSync(sidecar);
  const plain = await runCli(['stats', root, '--no-index']);
  // Inside the library: refused before anything runs, nothing made or changed there.
  for (const at of [sidecar, join(root, 'sub', 'my-index'), join(root, 'new-folder', 'index')]) {
    const r = await runCli(['stats', root, '--index', at]);
    assert.equal(r.code, 2, at);
    assert.match(r.stderr, /is inside the library/);
    const c = await runCli(['index', 'clear', root, '--index', at]);
    assert.equal(c.code, 2, `clear ${at}`);
  }
  assert.deepEqual(readFileSync(sidecar), sidecarBytes, 'the sidecar is untouched');
  assert.equal(existsSync(join(root, 'sub', 'my-index')) || existsSync(join(root, 'sub', 'my-index.last-run.json')) || existsSync(join(root, 'new-folder')), false);
  // Anyone's file outside it: never read as an index, written over or removed.
  const notes = join(dir, 'notes.txt');
  writeFileSync(notes, 'my notes\n');
  writeFileSync(join(dir, 'other.delta'), 'not a delta either\n');
  for (const at of [notes, join(dir, 'other')]) {
    const r = await runCli(['stats', root, '--index', at]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, plain.stdout, 'the run goes on without an index');
    assert.match(r.stderr, /is not an image-sidecar index/);
    const c = await runCli(['index', 'clear', root, '--index', at]);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /is not an image-sidecar index/);
  }
  assert.equal(readFileSync(notes, 'utf8'), 'my notes\n');
  assert.equal(readFileSync(join(dir, 'other.delta'), 'utf8'), 'not a delta either\n');
  assert.equal(existsSync(join(dir, 'other')), false);
  // Our own folder inside the library, an empty file, a damaged index: used (and rebuilt).
  const ours = join(root, INDEX_DIR, 'other-index');
  const empty = join(dir, 'empty-index');
  writeFileSync(empty, '');
  for (const at of [ours, empty]) {
    await runCli(['stats', root, '--index', at]);
    const again = await runCli(['stats', root, '--index', at]);
    assert.equal(again.stdout, plain.stdout);
    assert.doesNotMatch(again.stderr, /warning/);
  }
  writeFileSync(empty, Buffer.concat([readFileSync(empty).subarray(0, 64), Buffer.alloc(64)]));
  const damaged = await runCli(['stats', root, '--index', empty]);
  assert.equal(damaged.stdout, plain.stdout);
  assert.match(damaged.stderr, /unusable/);
  const clear = await runCli(['index', 'clear', root, '--index', empty]);
  assert.equal(clear.code, 0);
  assert.equal(existsSync(empty), false);
});

test('index clear also removes the tree memos earlier versions kept beside the index (and the emptied folder), never another file at such a name', async (t) => {
  const dir = testDir(t, 'isc-retired-memo-');
  const root = makeTree({ 'a.jpg': FAKE_JPEG, 'a.json': { json: sidecarData('a.jpg', 1) } }, join(dir, 'lib'));
  await stats(root, { index: { racyMarginMs: 0 } });
  const folder = join(root, INDEX_DIR);
  const index = readdirSync(folder).find((n) => n === 'index');
  assert.ok(index, `an index in ${readdirSync(folder).join(', ')}`);
  // What the memo of an earlier version left: a memo and its delta, and a file of someone else at a memo's name.
  writeFileSync(join(folder, 'index.memo-0123456789abcdef'), 'image-sidecar tree memo 11\nrest');
  writeFileSync(join(folder, 'index.memo-0123456789abcdef.delta'), 'image-sidecar tree memo delta 3\nrest');
  const r1 = await runCli(['index', 'clear', root]);
  assert.equal(r1.code, 0, r1.stderr);
  assert.deepEqual(readdirSync(root).includes(INDEX_DIR), false, 'the folder, emptied, is gone');
  await stats(root, { index: { racyMarginMs: 0 } });
  writeFileSync(join(folder, 'index.memo-fedcba9876543210'), 'not a memo');
  symlinkSync(join(root, 'a.json'), join(folder, 'index.memo-00000000000000aa'));
  const r2 = await runCli(['index', 'clear', root]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.deepEqual(readdirSync(folder).sort(), ['index.memo-00000000000000aa', 'index.memo-fedcba9876543210']);
  assert.ok(existsSync(join(root, 'a.json')), 'the link target stays');
});

test('--index where no folder can be made (under /proc): the run goes on without an index, with a warning (it spun at full CPU for good: Node 20\'s recursive mkdir loops there)', async (t) => {
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) } }, join(testDir(t), 'lib'));
  const plain = await runCli(['validate', root, '--no-index', '--json']);
  const r = await runCli(['validate', root, '--json', '--index', '/proc/isc-no-such-folder/index'], { timeoutMs: 60_000 });
  assert.equal(r.code, plain.code, r.stderr);
  assert.equal(r.stdout.replace(/"processing_time":[^,}]+/g, ''), plain.stdout.replace(/"processing_time":[^,}]+/g, ''));
  assert.match(r.stderr, /index/);
});

test('an index serves only runs of the read access that wrote it: another user or group set reads the library itself and leaves the file as it is (a folder it cannot list, a file it cannot read were served from the stored results: wrong answers, and a leak)', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const { chmodSync, statSync } = await import('node:fs');
  const { CLI_PATH } = await import('./helpers/cli.js');
  const tree: Record<string, { json: unknown } | Buffer> = {};
  for (let i = 0; i < 6; i++) {
    tree[`a/IMG_${i}.jpg`] = FAKE_JPEG;
    tree[`a/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`) };
  }
  tree['b/y.jpg'] = FAKE_JPEG;
  tree['b/y.json'] = { json: sidecarData('y.jpg') };
  const root = makeTree(tree, testDir(t));
  const index = join(testDir(t), 'shared.index');
  const run = (args: string[], as: { env?: Record<string, string>; uid?: number; gid?: number; groups?: number[] } = {}) => {
    const pre = as.groups === undefined ? [] : ['--import', `data:text/javascript,process.getgroups=()=>${JSON.stringify(as.groups)}`];
    const r = spawnSync(process.execPath, [...pre, CLI_PATH, ...args], { encoding: 'utf8', env: { ...process.env, IMAGE_SIDECAR_INDEX_RACY_MS: '0', ...as.env }, uid: as.uid, gid: as.gid });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const stable = (s: string) => JSON.stringify(JSON.parse(s), (k, v) => (['processing_time', 'elapsed_ms', 'duration_ms', 'engine', 'workers'].includes(k) ? undefined : v));
  // Right after a first run (the file its spool became), and after repeat runs (a rewrite).
  const folder = () => readdirSync(join(index, '..')).map((n) => { const st = statSync(join(index, '..', n)); return `${n} ${st.ino} ${st.size} ${st.mtimeMs}`; }).sort();
  for (const runs of [1, 4]) {
    for (let i = 0; i < runs; i++) assert.equal(run(['validate', root, '--json', '--index', index]).code, 0);
    const before = folder();
    // The same user with another group set (a group gained or lost): not used, not written, nothing beside it either.
    const other = run(['validate', root, '--json', '--index', index], { groups: [4242] });
    assert.equal(other.code, 0, other.err);
    assert.match(other.err, /written by another user or group set/);
    assert.equal(stable(other.out), stable(run(['validate', root, '--json', '--no-index']).out));
    // `index status` says so too, to that identity (valid to its writer).
    const status = (as = {}) => JSON.parse(run(['index', 'status', root, '--json', '--index', index], as).out) as { valid: boolean; problem: string | null };
    assert.deepEqual([status().valid, status().problem], [true, null]);
    const seen = status({ groups: [4242] });
    assert.equal(seen.valid, false);
    assert.match(seen.problem ?? '', /written by another user or group set/);
    assert.deepEqual(folder(), before, `after ${runs} run(s): the other identity changed the index folder`);
    // Nor as the index of another library (it was replaced then).
    const elsewhere = makeTree({ 'x/A.jpg': FAKE_JPEG, 'x/A.json': { json: sidecarData('A.jpg') } }, testDir(t));
    assert.match(run(['validate', elsewhere, '--json', '--index', index], { groups: [4242] }).err, /written by another user or group set/);
    assert.deepEqual(folder(), before);
  }
  // Its writer still uses it (no warning).
  assert.doesNotMatch(run(['validate', root, '--json', '--index', index]).err, /another user/);
  // As another user (root only): a file it cannot read and a folder it cannot list are its problems, as without the index.
  if (process.getuid?.() !== 0) return;
  chmodSync(join(root, 'a/IMG_0.json'), 0o600);
  chmodSync(join(root, 'b'), 0o711);
  for (let i = 0; i < 5; i++) run(['validate', root, '--json', '--index', index]);
  chmodSync(index, 0o644);
  for (const p of [root, join(root, 'a')]) chmodSync(p, 0o755);
  for (let dir of [root, join(index, '..')]) {
    while (dir !== '/') {
      chmodSync(dir, statSync(dir).mode | 0o005);
      dir = join(dir, '..');
    }
  }
  const nobody = { uid: 65534, gid: 65534 };
  const served = run(['validate', root, '--json', '--exit-zero', '--index', index], nobody);
  const direct = run(['validate', root, '--json', '--exit-zero', '--no-index'], nobody);
  assert.equal(direct.code, 0, direct.err);
  assert.match(served.err, /written by another user or group set/, 'the index was not read: the case is not tried');
  assert.equal(stable(served.out), stable(direct.out));
  assert.match(direct.out, /permission denied/);
});
