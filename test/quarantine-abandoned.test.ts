/**
 * A cleanup killed between making its quarantine folder and renaming its manifest into place
 * leaves a folder holding nothing but the temp manifest (nothing was moved). It was listed by
 * `restore --list` among the quarantines ("no manifest"), chosen by `restore --from` only to fail
 * with "quarantine manifest does not exist", and left for ever by later cleanups and restores (the
 * quarantine itself could then never go). Now it is listed apart as abandoned, never restored
 * from, and the next cleanup or restore removes it; a folder whose cleanup is alive, or that holds
 * anything else, is left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanup } from '../src/ops/cleanup.js';
import { restore } from '../src/ops/restore.js';
import { listQuarantines } from '../src/ops/quarantines.js';
import { QUARANTINE_DIR } from '../src/discovery/own-folders.js';
import { hostMark, isLockName } from '../src/fs/temp-files.js';
import { lockPathFor } from '../src/fs/lock.js';
import { quarantineFolderState, quarantineLockKey } from '../src/ops/quarantine-folder.js';
import { tempTargetName } from '../src/temp-name.js';
import { isSidecarError } from '../src/errors.js';
import { parseJson, runCli } from './helpers/cli.js';
import { deadPid, FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './helpers/tree.js';

const CLEANUP_JS = fileURLToPath(new URL('../src/ops/cleanup.js', import.meta.url));
const T1 = new Date('2026-11-21T11:33:00Z');
const T2 = new Date('2026-11-22T11:33:00Z');

function library(dir: string): string {
  const spec: Record<string, TreeNode> = {};
  for (let i = 0; i < 10; i++) {
    spec[`lib/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`lib/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, 1, 4) };
  }
  spec['lib/gone.json'] = { json: sidecarData('gone.jpg', 1, 4) };
  return path.join(makeTree(spec, dir), 'lib');
}

/**
 * Run cleanup in a child process and SIGKILL it when it is about to rename its manifest into
 * place (fs.rename / renameSync of a `manifest.json`, wrapped in the child: it says so and waits).
 */
async function cleanupKilledBeforeManifest(root: string): Promise<void> {
  const script = `
    import { createRequire, syncBuiltinESMExports } from 'node:module';
    const require = createRequire(import.meta.url);
    const fs = require('node:fs');
    const isManifest = (to) => String(to).endsWith('/manifest.json');
    // Blocked for good at the manifest's rename, sync or async: an async one left pending would let
    // the process exit by itself before the kill (its event loop empty).
    const stop = () => {
      fs.writeSync(1, 'renaming the manifest\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    };
    const rename = fs.rename, renameSync = fs.renameSync;
    fs.rename = (from, to, cb) => (isManifest(to) ? stop() : rename(from, to, cb));
    fs.renameSync = (from, to) => (isManifest(to) ? stop() : renameSync(from, to));
    syncBuiltinESMExports();
    const { cleanup } = await import(${JSON.stringify(CLEANUP_JS)});
    await cleanup(process.argv[1], { engine: 'inline', force: true });
    fs.writeSync(1, 'finished\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, root], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (out.includes('renaming the manifest')) resolve();
      if (out.includes('finished')) reject(new Error('the cleanup finished: the rename was not intercepted'));
    });
    child.on('exit', () => reject(new Error(`the cleanup child exited first: ${out} ${err}`)));
  });
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
}

/** The quarantine's folders (its lock's folder, and a taken-over lock's aside, are not ones). */
function quarantineFolders(root: string): string[] {
  const base = path.join(root, QUARANTINE_DIR);
  return fs.existsSync(base) ? fs.readdirSync(base).filter((n) => !isLockName(n)).sort() : [];
}


/** A temp manifest as the atomic write names it, in `folder` (the writer's host mark and pid). */
function tempManifest(folder: string, pid: number, host = hostMark()): string {
  fs.mkdirSync(folder, { recursive: true });
  const p = path.join(folder, `.manifest.json.isc-tmp-${host}-${pid}-k1`);
  fs.writeFileSync(p, '{\n  "version": 1,\n  "status": "planned",\n  "entr');
  return p;
}

test('a cleanup SIGKILLed before its manifest: restore --list shows the folder as abandoned, the next cleanup removes it, restore works', { skip: process.platform === 'win32' }, async (t) => {
  const root = library(testDir(t));
  await cleanupKilledBeforeManifest(root);
  // The state it left: one quarantine folder holding only its temp manifest; nothing moved; the
  // library's quarantine lock of a dead process, taken over once stale (aged here: seconds later).
  const deadLock = lockPathFor(quarantineLockKey(path.join(root, QUARANTINE_DIR)));
  assert.ok(fs.existsSync(deadLock), 'the killed run held the quarantine lock');
  const aged = new Date(Date.now() - 60_000);
  fs.utimesSync(deadLock, aged, aged);
  const left = quarantineFolders(root);
  assert.equal(left.length, 1, `one quarantine folder: ${left.join(', ')}`);
  const folder = path.join(root, QUARANTINE_DIR, left[0]);
  const inside = fs.readdirSync(folder);
  assert.equal(inside.length, 1, inside.join(', '));
  assert.equal(tempTargetName(inside[0]), 'manifest.json', inside[0]);
  assert.ok(fs.existsSync(path.join(root, 'gone.json')), 'the orphan was not moved');

  // restore --list: not a quarantine to restore from; named apart.
  const list = await runCli(['restore', root, '--list', '--json']);
  assert.equal(list.code, 0, list.stderr);
  const l = parseJson<{ folders: unknown[]; abandoned: { name: string; reason: string }[] }>(list);
  assert.deepEqual(l.folders, []);
  assert.deepEqual(l.abandoned.map((a) => a.name), [left[0]]);
  assert.match(l.abandoned[0].reason, /a cleanup or relink stopped before it moved anything/);

  // restore: nothing to restore, said clearly, no stack trace.
  const r = await runCli(['restore', root, '--dry-run', '--json']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /error \[NOT_FOUND\]: nothing to restore from .*: no quarantine folder with a manifest; 1 folder\(s\) to remove: a cleanup or relink stopped before it moved anything/);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  assert.ok(fs.existsSync(folder), 'a dry run removes nothing');

  // The next cleanup removes the abandoned folder and does its work.
  const c = await runCli(['cleanup', root, '--json', '-q']);
  assert.equal(c.code, 0, c.stderr);
  const cr = parseJson<{ removed: number; quarantine: string; abandonedQuarantines: string[] }>(c);
  assert.deepEqual(cr.abandonedQuarantines, [folder]);
  assert.equal(cr.removed, 1);
  // Its stamp is free again: a cleanup in the same second makes its folder under that name.
  assert.ok(!fs.existsSync(folder) || cr.quarantine === folder, 'the abandoned folder is gone');
  assert.deepEqual(quarantineFolders(root), [path.basename(cr.quarantine)]);
  assert.deepEqual(fs.readdirSync(cr.quarantine).sort(), ['gone.json', 'manifest.json'], 'no unfinished manifest left');

  // And restore puts the orphan back; the quarantine holds no folder (nothing but the killed run's
  // lock, taken aside by the cleanup that took it over: swept ten minutes on, fs/lock.ts).
  const back = await runCli(['restore', root, '--json', '-q']);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(parseJson<{ restored: number }>(back).restored, 1);
  assert.ok(fs.existsSync(path.join(root, 'gone.json')));
  assert.deepEqual(quarantineFolders(root), []);
  assert.ok(fs.readdirSync(path.join(root, QUARANTINE_DIR)).every(isLockName));
});

test('restore removes abandoned folders, never restores from one, and leaves those a live cleanup is writing or that hold files', async (t) => {
  const root = library(testDir(t));
  const first = await cleanup(root, { engine: 'inline', now: () => T1 }); // a real quarantine, older
  assert.equal(first.removed, 1);
  const base = path.join(root, QUARANTINE_DIR);
  const dead = deadPid();
  const abandoned = path.join(base, '20261123T000000Z');
  tempManifest(abandoned, dead); // this host, its writer dead
  const otherHostOld = path.join(base, '20261124T000000Z');
  const old = tempManifest(otherHostOld, 4242, 'deadbeef'); // another host's, two hours old
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
  fs.utimesSync(old, twoHoursAgo, twoHoursAgo);
  const emptyOld = path.join(base, '20261125T000000Z');
  fs.mkdirSync(emptyOld);
  fs.utimesSync(emptyOld, twoHoursAgo, twoHoursAgo);
  // Left alone: a live cleanup's (our own pid), another host's young one, a new empty one, one holding a file.
  const live = path.join(base, '20261126T000000Z');
  tempManifest(live, process.pid);
  const otherHostYoung = path.join(base, '20261127T000000Z');
  tempManifest(otherHostYoung, 4242, 'deadbeef');
  const emptyNew = path.join(base, '20261128T000000Z');
  fs.mkdirSync(emptyNew);
  const holdsFile = path.join(base, '20261129T000000Z');
  fs.mkdirSync(holdsFile);
  fs.writeFileSync(path.join(holdsFile, 'IMG_9.json'), '{}');

  const list = await listQuarantines(root);
  assert.deepEqual(list.folders.map((f) => f.path), [first.quarantine, live, otherHostYoung, emptyNew, holdsFile], 'the abandoned ones are no quarantines');
  assert.deepEqual(list.abandoned.map((a) => a.path), [abandoned, otherHostOld, emptyOld]);
  const problems = new Map(list.folders.map((f) => [f.path, f.problem]));
  assert.equal(problems.get(first.quarantine!), null);
  for (const p of [live, otherHostYoung, emptyNew]) assert.match(problems.get(p) ?? '', /no manifest yet \(a cleanup running now is writing it/, p);
  assert.match(problems.get(holdsFile) ?? '', /no manifest, but it holds 1 entry: restore cannot put them back/);

  // --from an abandoned folder: a clear NOT_FOUND, and the folder goes.
  await assert.rejects(
    restore(root, { from: path.basename(abandoned) }),
    (e: unknown) => isSidecarError(e) && e.code === 'NOT_FOUND' && /^nothing to restore from .*20261123T000000Z: a cleanup or relink stopped before it moved anything .*; removed$/.test(e.message),
  );
  for (const p of [abandoned, otherHostOld, emptyOld]) assert.ok(!fs.existsSync(p), p);
  await assert.rejects(restore(root, { from: path.basename(live) }), (e: unknown) => isSidecarError(e) && e.code === 'NOT_FOUND' && /a cleanup running now is writing it/.test(e.message));

  // Without --from: the newest folder with a manifest, the abandoned ones (made again) removed first.
  tempManifest(abandoned, dead);
  const r = await restore(root);
  assert.equal(r.quarantine, first.quarantine);
  assert.equal(r.restored, 1);
  assert.deepEqual(r.abandonedQuarantines, [abandoned]);
  for (const p of [live, otherHostYoung, emptyNew, holdsFile]) assert.ok(fs.existsSync(p), `${p} is left alone`);
  assert.equal(fs.readdirSync(live).length, 1, "a live writer's temp manifest is kept");

  // cleanup likewise (a dry run only names them); a new run's quarantine is made beside the others.
  tempManifest(abandoned, dead);
  const dry = await cleanup(root, { engine: 'inline', dryRun: true });
  assert.deepEqual(dry.abandonedQuarantines, [abandoned]);
  assert.ok(fs.existsSync(abandoned));
  const again = await cleanup(root, { engine: 'inline', now: () => T2 });
  assert.deepEqual(again.abandonedQuarantines, [abandoned]);
  assert.equal(again.removed, 1);
  assert.ok(!fs.existsSync(abandoned));
  assert.deepEqual(quarantineFolders(root), [path.basename(again.quarantine!), ...[live, otherHostYoung, emptyNew, holdsFile].map((p) => path.basename(p))].sort());
});

test('a restore that finds only an abandoned folder removes it and the quarantine folder with it (the lock inside kept the empty quarantine folder)', async (t) => {
  const root = library(testDir(t));
  const base = path.join(root, QUARANTINE_DIR);
  const emptyOld = path.join(base, '20261125T000000Z');
  fs.mkdirSync(emptyOld, { recursive: true });
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
  fs.utimesSync(emptyOld, twoHoursAgo, twoHoursAgo);
  await assert.rejects(restore(root), (e: unknown) => isSidecarError(e) && e.code === 'NOT_FOUND' && /no quarantine folder with a manifest/.test(e.message));
  assert.ok(!fs.existsSync(base), 'no quarantine folder is left');
});

test('a quarantine folder removed while it is looked at (cleanup --dry-run or restore --list beside a restore) is gone, not an error: they failed with NOT_FOUND', async (t) => {
  const root = library(testDir(t));
  const folder = path.join(root, QUARANTINE_DIR, '20250101T000000Z');
  fs.mkdirSync(folder, { recursive: true });
  fs.rmdirSync(folder); // as a restore that emptied it leaves it: no more
  assert.deepEqual(await quarantineFolderState(folder), { kind: 'gone' });
  fs.mkdirSync(folder);
  const aged = new Date(Date.now() - 2 * 3600_000);
  fs.utimesSync(folder, aged, aged);
  assert.deepEqual(await quarantineFolderState(folder), { kind: 'abandoned', leftovers: [] }, 'an empty folder an hour old is abandoned, as before');
});

test('a run that moved nothing removes its quarantine folder only while it holds nothing else; one holding another file stays, and the report names it (it said quarantine null)', async (t) => {
  const { removeEmptyQuarantine } = await import('../src/ops/quarantine-folder.js');
  const dir = testDir(t);
  for (const planted of [false, true]) {
    const folder = path.join(dir, planted ? 'with-file' : 'empty');
    fs.mkdirSync(path.join(folder, 'sub/deeper'), { recursive: true });
    const manifest = path.join(folder, 'manifest.json');
    fs.writeFileSync(manifest, '{}');
    if (planted) fs.writeFileSync(path.join(folder, 'sub/someone-else.txt'), 'kept');
    const report = { quarantine: folder as string | null, manifest: manifest as string | null };
    await removeEmptyQuarantine(folder, manifest, report);
    if (planted) {
      assert.deepEqual(report, { quarantine: folder, manifest }, 'the folder that stays is named');
      assert.equal(fs.readFileSync(path.join(folder, 'sub/someone-else.txt'), 'utf8'), 'kept');
      assert.ok(fs.existsSync(manifest));
    } else {
      assert.deepEqual(report, { quarantine: null, manifest: null });
      assert.equal(fs.existsSync(folder), false);
    }
  }
});
