import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { spawnSync } from 'node:child_process';
import { basename, join, relative } from 'node:path';
import { cleanup } from '../src/ops/cleanup.js';
import { restore } from '../src/ops/restore.js';
import { listQuarantines } from '../src/ops/quarantines.js';
import { quarantinedAt, quarantineLockKey } from '../src/ops/quarantine-folder.js';
import { lockPathFor, withSidecarLock } from '../src/fs/lock.js';
import { hostMark } from '../src/fs/temp-files.js';
import { readSidecar } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import { resolveConflicts } from '../src/ops/resolve.js';
import { QUARANTINE_DIR } from '../src/discovery/own-folders.js';
import { isSidecarError } from '../src/errors.js';
import { deadPid, FAKE_JPEG, makeTree, plantLock, removeTree, sidecarData, tempDir, zombiePid, type TreeNode } from './helpers/tree.js';
import { reorganisedLibrary } from './helpers/reorganised.js';
import { runCli } from './helpers/cli.js';
import { relink } from '../src/ops/relink.js';
import { lockKeysForLoneSidecar } from '../src/discovery/lock-key.js';

const T1 = new Date('2026-11-21T11:33:00Z');
const T2 = new Date('2026-11-22T08:00:00Z');

function snapshot(dir: string, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, d.name);
    const rel = prefix + d.name;
    if (d.isSymbolicLink()) out.set(rel, `link:${readlinkSync(p)}`);
    else if (d.isDirectory()) {
      out.set(rel + '/', 'dir');
      for (const [k, v] of snapshot(p, rel + '/')) out.set(k, v);
    } else out.set(rel, readFileSync(p).toString('base64'));
  }
  return out;
}

/** 8 paired images, 2 orphans (one nested, one legacy .bin), a report and a name with spaces and accents. */
function library(): string {
  const spec: Record<string, TreeNode> = {};
  for (let i = 0; i < 4; i++) {
    spec[`a/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`a/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, 1, 8) };
    spec[`a/b/DSC_${i}.JPG`] = FAKE_JPEG;
    spec[`a/b/DSC_${i}.json`] = { json: sidecarData(`DSC_${i}.JPG`, 1, 8) };
  }
  spec['a/Été à la plage.json'] = { json: sidecarData('Été à la plage.jpg', 2, 8) };
  const body = Buffer.from(JSON.stringify(sidecarData('lost.jpg', 1, 8)));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(body.length));
  spec['a/b/c/lost.bin'] = Buffer.concat([head, body]);
  spec['a/game_detection.json'] = { json: { success: true, games: [] } };
  return makeTree(spec);
}

const ORPHANS = ['a/Été à la plage.json', 'a/b/c/lost.bin'];

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSidecarError(e), `expected a SidecarError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

test('restore undoes a cleanup byte for byte and removes the quarantine', async () => {
  const root = library();
  try {
    const before = snapshot(root);
    const c = await cleanup(root, { engine: 'inline', now: () => T1 });
    assert.equal(c.removed, 2);
    for (const rel of ORPHANS) assert.equal(existsSync(join(root, rel)), false);

    const r = await restore(root);
    assert.equal(r.quarantine, c.quarantine);
    assert.equal(r.restored, 2);
    assert.deepEqual(r.skipped, []);
    assert.deepEqual(snapshot(root), before, 'the tree is exactly as before, quarantine folder gone');
  } finally {
    removeTree(root);
  }
});

test('an orphan at the root named like the manifest (manifest.json; any case: a NAS share does not tell them apart) is quarantined beside it and restored (cleanup refused them on every run: CONFLICT with its own manifest)', async () => {
  const root = library();
  try {
    const named = ['manifest.json', 'a/manifest.json', 'Manifest.JSON/o.json', 'Manifest.JSON/sub/p.json'];
    fs.mkdirSync(join(root, 'Manifest.JSON/sub'), { recursive: true });
    for (const rel of named) writeFileSync(join(root, rel), JSON.stringify(sidecarData(rel.replace(/json$/i, 'jpg'), 1, 8)));
    const before = snapshot(root);
    const dry = await cleanup(root, { engine: 'inline', now: () => T1, dryRun: true, force: true });
    const c = await cleanup(root, { engine: 'inline', now: () => T1, force: true });
    assert.deepEqual(c.skipped, []);
    assert.equal(c.removed, 2 + named.length);
    const dest = new Map(c.actions.map((a) => [a.rel, a.destination]));
    assert.deepEqual(new Map(dry.actions.map((a) => [a.rel, a.destination])), dest, 'the preview names the destinations the run uses');
    assert.equal(dest.get('manifest.json'), join(c.quarantine!, 'manifest.json.quarantined'));
    assert.equal(dest.get('a/manifest.json'), join(c.quarantine!, 'a', 'manifest.json'));
    assert.equal(dest.get('Manifest.JSON/sub/p.json'), join(c.quarantine!, 'Manifest.JSON.quarantined', 'sub', 'p.json'), 'a root folder named like the manifest (one on a case-insensitive share)');
    for (const rel of named) assert.deepEqual(readFileSync(dest.get(rel)!), Buffer.from(before.get(rel)!, 'base64'), rel);
    assert.equal(JSON.parse(readFileSync(c.manifest!, 'utf8')).entries.length, 2 + named.length, 'the manifest is the manifest');

    // In any case or Unicode form (a case-insensitive share, a Mac), at the root only.
    assert.equal(quarantinedAt('/q', 'MANIFEST.JSON'), join('/q', 'MANIFEST.JSON.quarantined'));
    assert.equal(quarantinedAt('/q', 'manifest.json.bin'), join('/q', 'manifest.json.bin'));
    assert.equal(quarantinedAt('/q', 'Manifest.JSON/o.json'), join('/q', 'Manifest.JSON.quarantined', 'o.json'), 'a root folder of that name too');
    assert.equal(quarantinedAt('/q', 'a/manifest.json'), join('/q', 'a', 'manifest.json'));
    const r = await restore(root);
    assert.equal(r.restored, 2 + named.length);
    assert.deepEqual(snapshot(root), before, 'the tree is exactly as before, quarantine folder gone');
  } finally {
    removeTree(root);
  }
});

test('two restores of one library at once: one puts everything back, the other refuses at once and moves nothing (they split the files, each exit 1, and a restore that waited would then undo the cleanup before)', async () => {
  const root = library();
  try {
    const before = snapshot(root);
    const older = await cleanup(root, { engine: 'inline', now: () => T1 });
    // A second cleanup (a newer quarantine) of a file orphaned since.
    writeFileSync(join(root, 'a/gone.json'), JSON.stringify(sidecarData('gone.jpg', 1, 8)));
    const newer = await cleanup(root, { engine: 'inline', now: () => T2 });
    assert.equal(newer.removed, 1);
    const [a, b] = await Promise.allSettled([restore(root), restore(root)]);
    const done = [a, b].filter((r) => r.status === 'fulfilled');
    const refused = [a, b].filter((r) => r.status === 'rejected');
    assert.equal(done.length, 1, 'exactly one restore ran');
    assert.equal(refused.length, 1);
    const e = (refused[0] as PromiseRejectedResult).reason;
    assert.ok(isSidecarError(e) && e.code === 'LOCK_TIMEOUT' && /another cleanup, relink or restore of .* is running: nothing was moved/.test(e.message), String(e));
    const r = (done[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof restore>>>).value;
    assert.equal(r.quarantine, newer.quarantine);
    assert.deepEqual([r.restored, r.skipped], [1, []]);
    assert.ok(existsSync(older.manifest!), 'the older quarantine is untouched');
    // Run again when the first is done: the older one, in full.
    const again = await restore(root);
    assert.deepEqual([again.quarantine, again.restored, again.skipped], [older.quarantine, 2, []]);
    const after = snapshot(root);
    after.delete('a/gone.json');
    assert.deepEqual(after, before);
  } finally {
    removeTree(root);
  }
});

test('a restore that lost its library lock (stopped for over a minute while another took it over) stops before its next move and writes nothing more (it went on moving files beside the other one)', async () => {
  const spec: Record<string, TreeNode> = { 'keep.jpg': FAKE_JPEG, 'keep.json': { json: sidecarData('keep.jpg', 1, 8) } };
  for (let i = 0; i < 300; i++) spec[`o/lost_${i}.json`] = { json: sidecarData(`lost_${i}.jpg`, 1, 8) };
  const root = makeTree(spec);
  try {
    const c = await cleanup(root, { engine: 'inline', now: () => T1, force: true });
    assert.equal(c.removed, 300);
    const manifestBefore = readFileSync(c.manifest!);
    const lockDir = lockPathFor(quarantineLockKey(join(root, QUARANTINE_DIR)));
    // The first file back: another holder's token replaces this restore's (what a takeover leaves).
    let tookOver = false;
    const watcher = fs.watch(join(root, 'o'), (_event, name) => {
      if (tookOver || !String(name).startsWith('lost_')) return;
      tookOver = true;
      writeFileSync(join(lockDir, 'owner'), 'another restore\n');
    });
    try {
      await rejectsWith(restore(root), 'CONFLICT', /restore stopped: another run took the library's quarantine lock over/);
    } finally {
      watcher.close();
    }
    assert.ok(tookOver);
    const back = readdirSync(join(root, 'o')).length;
    assert.ok(back >= 1 && back < 300, `${back} put back before it stopped`);
    assert.deepEqual(readFileSync(c.manifest!), manifestBefore, 'the manifest is left for the holder (not rewritten)');
    fs.rmSync(lockDir, { recursive: true });
    const again = await restore(root);
    assert.equal(again.restored + again.alreadyBack, 300, JSON.stringify(again.skipped.slice(0, 3)));
    assert.deepEqual(again.skipped, [], 'the files the stopped run put back are already back: nothing to report');
    assert.equal(readdirSync(join(root, 'o')).length, 300, 'every file back after a second run');
  } finally {
    removeTree(root);
  }
});

test('restore while another holds the library lock: a dry run refuses too (it read a quarantine being emptied as files "not in the quarantine"); a root sidecar named like the quarantine folder restores at once (its lock was the library lock: restore waited 60 s on itself and gave up)', async () => {
  const root = library();
  try {
    writeFileSync(join(root, '.image-sidecar-quarantine.json'), JSON.stringify(sidecarData('.image-sidecar-quarantine.jpg', 1, 8)));
    const c = await cleanup(root, { engine: 'inline', now: () => T1, force: true });
    assert.equal(c.removed, 3);
    const base = join(root, QUARANTINE_DIR);
    await withSidecarLock(quarantineLockKey(base), async () => {
      await rejectsWith(restore(root, { dryRun: true }), 'LOCK_TIMEOUT', /another cleanup, relink or restore/);
      await rejectsWith(restore(root), 'LOCK_TIMEOUT', /another cleanup, relink or restore/);
    });
    const t0 = performance.now();
    const r = await restore(root);
    assert.ok(performance.now() - t0 < 20_000, 'no wait on its own lock');
    assert.deepEqual([r.restored, r.skipped], [3, []]);
    assert.equal(existsSync(base), false, 'no quarantine (nor its lock) is left');
  } finally {
    removeTree(root);
  }
});

test('restore right after a restore was killed (its lock left by a dead process): takes the lock over and restores (it refused "another restore is running")', async () => {
  const root = library();
  try {
    await cleanup(root, { engine: 'inline', now: () => T1 });
    const lockDir = lockPathFor(quarantineLockKey(join(root, QUARANTINE_DIR)));
    plantLock(lockDir, `${hostMark()}-${deadPid()}.0-0123abcd`, 60_000);
    const r = await restore(root);
    assert.deepEqual([r.restored, r.skipped], [2, []]);
  } finally {
    removeTree(root);
  }
});

test('restore right after a run was killed that its parent has not reaped yet (a zombie holds the library lock, past the stale age): takes the lock over and restores (it refused "another cleanup, relink or restore is running" until the parent reaped it)', { skip: process.platform !== 'linux' && 'a zombie is told by /proc' }, async (t) => {
  const root = library();
  try {
    await cleanup(root, { engine: 'inline', now: () => T1 });
    const lockDir = lockPathFor(quarantineLockKey(join(root, QUARANTINE_DIR)));
    plantLock(lockDir, `${hostMark()}-${await zombiePid(t)}.0-0123abcd`, 10_000);
    const r = await restore(root);
    assert.deepEqual([r.restored, r.skipped], [2, []]);
  } finally {
    removeTree(root);
  }
});

test('restore while another process holds the library lock (a live holder’s lock on disk): refuses at once, a dry run too, nothing moved', async () => {
  const root = library();
  try {
    const c = await cleanup(root, { engine: 'inline', now: () => T1 });
    const lockDir = lockPathFor(quarantineLockKey(join(root, QUARANTINE_DIR)));
    plantLock(lockDir, `${hostMark()}-${process.pid}.0-0123abcd`, 0);
    const after = snapshot(root);
    await rejectsWith(restore(root, { dryRun: true }), 'LOCK_TIMEOUT', /another cleanup, relink or restore/);
    await rejectsWith(restore(root), 'LOCK_TIMEOUT', /another cleanup, relink or restore/);
    assert.deepEqual(snapshot(root), after, 'nothing moved');
    assert.ok(existsSync(c.manifest!));
  } finally {
    removeTree(root);
  }
});

test('a quarantine made by the previous version (it kept MANIFEST.json at its own path beside manifest.json) is restored in full', async () => {
  const root = library();
  try {
    writeFileSync(join(root, 'MANIFEST.json'), JSON.stringify(sidecarData('MANIFEST.jpg', 1, 8)));
    const before = snapshot(root);
    const c = await cleanup(root, { engine: 'inline', now: () => T1, force: true });
    // The layout the previous version wrote.
    renameSync(join(c.quarantine!, 'MANIFEST.json.quarantined'), join(c.quarantine!, 'MANIFEST.json'));
    const r = await restore(root);
    assert.deepEqual([r.restored, r.skipped], [3, []]);
    assert.deepEqual(snapshot(root), before);
  } finally {
    removeTree(root);
  }
});

test('a dry-run restore checks everything and moves nothing', async () => {
  const root = library();
  try {
    await cleanup(root, { engine: 'inline', now: () => T1 });
    const after = snapshot(root);
    const r = await restore(root, { dryRun: true });
    assert.equal(r.restored, 2);
    assert.deepEqual(snapshot(root), after);
  } finally {
    removeTree(root);
  }
});

test('restore never overwrites: a file at the original path is skipped and stays quarantined', async () => {
  const root = library();
  try {
    const original = readFileSync(join(root, ORPHANS[0]));
    const c = await cleanup(root, { engine: 'inline', now: () => T1 });
    writeFileSync(join(root, ORPHANS[0]), 'a new file the user made');

    const r = await restore(root);
    assert.equal(r.restored, 1);
    assert.deepEqual(r.skipped.map((s) => s.rel), [ORPHANS[0]]);
    assert.match(r.skipped[0].reason, /exists at the original path/);
    assert.equal(readFileSync(join(root, ORPHANS[0]), 'utf8'), 'a new file the user made');
    assert.ok(existsSync(join(root, ORPHANS[1])));
    // The quarantine keeps the file and a manifest listing just it.
    assert.deepEqual(readFileSync(join(c.quarantine!, ORPHANS[0])), original);
    const manifest = JSON.parse(readFileSync(c.manifest!, 'utf8'));
    assert.deepEqual(manifest.entries.map((e: { rel: string }) => e.rel), [ORPHANS[0]]);

    // Once the conflict is resolved, a second restore finishes the job and removes the folder.
    renameSync(join(root, ORPHANS[0]), join(root, 'a/kept.txt'));
    const again = await restore(root);
    assert.equal(again.restored, 1);
    assert.deepEqual(readFileSync(join(root, ORPHANS[0])), original);
    assert.equal(existsSync(join(root, QUARANTINE_DIR)), false);
  } finally {
    removeTree(root);
  }
});

test('a quarantined file whose checksum no longer matches is not restored', async () => {
  const root = library();
  try {
    const c = await cleanup(root, { engine: 'inline', now: () => T1 });
    writeFileSync(join(c.quarantine!, ORPHANS[1]), 'tampered');
    const r = await restore(root);
    assert.equal(r.restored, 1);
    assert.deepEqual(r.skipped.map((s) => s.rel), [ORPHANS[1]]);
    assert.match(r.skipped[0].reason, /sha256 mismatch/);
    assert.equal(existsSync(join(root, ORPHANS[1])), false);
    assert.equal(readFileSync(join(c.quarantine!, ORPHANS[1]), 'utf8'), 'tampered');
  } finally {
    removeTree(root);
  }
});

test('restore picks the newest quarantine by default, or the one named with from', async () => {
  const root = library();
  try {
    const first = await cleanup(root, { engine: 'inline', now: () => T1 });
    writeFileSync(join(root, 'a/again.json'), JSON.stringify(sidecarData('again.jpg', 1, 8)));
    const second = await cleanup(root, { engine: 'inline', now: () => T2 });
    assert.notEqual(first.quarantine, second.quarantine);

    await rejectsWith(restore(root, { from: 'no-such-folder/' }), 'NOT_FOUND'); // the slash a shell's completion adds: still a name in the quarantine
    const older = await restore(root, { from: '20261121T113300Z/' });
    assert.equal(older.quarantine, first.quarantine);
    assert.equal(older.restored, 2);
    assert.equal(existsSync(join(root, 'a/again.json')), false);

    const newest = await restore(root);
    assert.equal(newest.quarantine, second.quarantine);
    assert.ok(existsSync(join(root, 'a/again.json')));
    assert.equal(existsSync(join(root, QUARANTINE_DIR)), false);
  } finally {
    removeTree(root);
  }
});

test('restore works from the "planned" manifest a crashed cleanup leaves', async () => {
  const root = library();
  try {
    const c = await cleanup(root, { engine: 'inline', now: () => T1 });
    // Simulate a crash after the first move: the second file never left, the manifest says "planned".
    renameSync(join(c.quarantine!, ORPHANS[1]), join(root, ORPHANS[1]));
    const manifest = JSON.parse(readFileSync(c.manifest!, 'utf8'));
    writeFileSync(c.manifest!, JSON.stringify({ ...manifest, status: 'planned' }));

    const r = await restore(root);
    assert.deepEqual([r.restored, r.alreadyBack], [1, 1]);
    assert.deepEqual(r.skipped, [], 'the file that never left is where the manifest has it: nothing wrong');
    for (const rel of ORPHANS) assert.ok(existsSync(join(root, rel)), rel);
    assert.equal(existsSync(join(root, QUARANTINE_DIR)), false);
  } finally {
    removeTree(root);
  }
});

test('a temp manifest a cleanup or relink killed while it rewrote its manifest left is no stray: restore empties the folder (it stayed, exit 1 on every restore)', async () => {
  const root = library();
  try {
    const c = await cleanup(root, { engine: 'inline', now: () => T1 });
    const temp = join(c.quarantine!, '.manifest.json.isc-tmp-0a1b2c3d-4000000-abc');
    writeFileSync(temp, readFileSync(c.manifest!));
    const r = await restore(root);
    assert.deepEqual([r.restored, r.skipped], [ORPHANS.length, []]);
    assert.equal(existsSync(c.quarantine!), false, 'the folder is gone with its manifest and the temp file');
    for (const rel of ORPHANS) assert.ok(existsSync(join(root, rel)), rel);
  } finally {
    removeTree(root);
  }
});

test('a quarantine folder that is a symlink out of the root is refused', async () => {
  const root = library();
  const elsewhere = tempDir();
  try {
    const c = await cleanup(root, { engine: 'inline', now: () => T1 });
    renameSync(join(root, QUARANTINE_DIR), join(elsewhere, 'q'));
    symlinkSync(join(elsewhere, 'q'), join(root, QUARANTINE_DIR));
    await rejectsWith(restore(root), 'OUTSIDE_ROOT');
    assert.ok(existsSync(join(elsewhere, 'q', relative(join(root, QUARANTINE_DIR), c.quarantine!), ORPHANS[0])));
    for (const rel of ORPHANS) assert.equal(existsSync(join(root, rel)), false);
  } finally {
    removeTree(root);
    removeTree(elsewhere);
  }
});

test('no quarantine means NOT_FOUND; a manifest pointing outside the root is refused', async () => {
  const root = library();
  try {
    await rejectsWith(restore(root), 'NOT_FOUND', /^nothing to restore: the quarantine folder does not exist: /);
    const c = await cleanup(root, { engine: 'inline', now: () => T1 });
    await rejectsWith(restore(root, { from: '/tmp' }), 'OUTSIDE_ROOT');
    await rejectsWith(restore(root, { from: 'no-such-folder' }), 'NOT_FOUND');

    const manifest = JSON.parse(readFileSync(c.manifest!, 'utf8'));
    manifest.entries[0].rel = '../../escape.json';
    writeFileSync(c.manifest!, JSON.stringify(manifest));
    const after = snapshot(root);
    await rejectsWith(restore(root), 'CORRUPT', /invalid manifest entry/);
    assert.deepEqual(snapshot(root), after);
  } finally {
    removeTree(root);
  }
});

test('a restore racing a save into the same sidecar never loses the quarantined data (the move holds the lock a save takes)', async () => {
  const root = library();
  const rel = 'a/Été à la plage.json';
  const target = join(root, rel);
  const realRename = fs.rename;
  try {
    const c = await cleanup(root, { engine: 'inline', now: () => T1 });
    assert.equal(c.removed, 2);
    const quarantined = join(c.quarantine!, rel);
    const orphanBytes = readFileSync(quarantined);
    // The image is back and its pipeline saves a result; restore runs right when the save, having
    // found no sidecar, renames its new file into place.
    let restoring: Promise<unknown> | null = null;
    (fs as { rename: unknown }).rename = (from: string, to: string, cb: (e: Error | null) => void) => {
      if (restoring === null && to === target) {
        restoring = restore(root);
        restoring.catch(() => undefined);
        void Promise.race([restoring, new Promise((r) => setTimeout(r, 500))]).then(() => realRename(from, to, cb));
        return;
      }
      realRename(from, to, cb);
    };
    syncBuiltinESMExports();
    writeFileSync(join(root, 'a', 'Été à la plage.jpg'), FAKE_JPEG);
    await saveSidecar(join(root, 'a', 'Été à la plage.jpg'), 'yolov8', { success: true, objects: [] });
    assert.ok(restoring !== null, 'the save\'s rename was not seen');
    await restoring;
    // The orphan's data is somewhere: still in the quarantine, or in the library's sidecar.
    const inQuarantine = existsSync(quarantined) && readFileSync(quarantined).equals(orphanBytes);
    const data = (await readSidecar(join(root, 'a', 'Été à la plage.jpg'))) as Record<string, unknown>;
    assert.ok(data.yolov8 !== undefined, 'the save was lost');
    assert.ok(inQuarantine || data.face_detection !== undefined, 'the restored sidecar was overwritten by the save and is gone from the quarantine');
  } finally {
    (fs as { rename: unknown }).rename = realRename;
    syncBuiltinESMExports();
    removeTree(root);
  }
});

test('restore leaves in the quarantine a file whose image has a sidecar saved since (put back, the older file was read first: the new results hid); an undo of resolve still puts copies back beside the file it kept', async () => {
  // I2.jpg's bytes differ from I1.jpg's: with the same size and a modification time in the same
  // clock tick, relink's evidence took I1.bin for I2.jpg's and cleanup left it (a rare flake).
  const root = makeTree({ 'a/I1.jpg': FAKE_JPEG, 'a/I2.jpg': Buffer.concat([FAKE_JPEG, Buffer.from('I2')]) });
  const away = tempDir('isc-away-');
  try {
    await saveSidecar(join(root, 'a/I1.jpg'), 'res', { who: 'old' }, { format: 'bin' });
    renameSync(join(root, 'a/I1.jpg'), join(away, 'I1.jpg')); // the image away for a while (a card, an unmounted folder)
    const c = await cleanup(root, { engine: 'inline', force: true, index: false });
    assert.ok(existsSync(join(c.quarantine!, 'a/I1.bin')));
    renameSync(join(away, 'I1.jpg'), join(root, 'a/I1.jpg'));
    await new Promise((r) => setTimeout(r, 20)); // file times tick in milliseconds
    await saveSidecar(join(root, 'a/I1.jpg'), 'res', { who: 'new' }, { format: 'json' });
    const r = await restore(root);
    assert.equal(r.restored, 0);
    assert.deepEqual(r.skipped.map((s) => s.rel), ['a/I1.bin']);
    assert.match(r.skipped[0].reason, /saved since/);
    assert.deepEqual((await readSidecar(join(root, 'a/I1.jpg'))).res, { who: 'new' });
    assert.ok(existsSync(join(c.quarantine!, 'a/I1.bin')), 'kept in the quarantine');

    // resolve keeps one file and quarantines the other; restore undoes it, beside the kept file.
    await saveSidecar(join(root, 'a/I2.jpg'), 'res', { who: 'two' }, { format: 'json' });
    fs.copyFileSync(join(root, 'a/I2.json'), join(root, 'a/I2.jpg.json'));
    const res = await resolveConflicts(root, { engine: 'inline', index: false });
    assert.equal(res.decisions.length, 1, JSON.stringify(res.decisions));
    // What moves ctime but writes nothing (chmod, a hard link of a snapshot) is no save.
    for (const n of readdirSync(join(root, 'a'))) if (n.startsWith('I2.')) fs.chmodSync(join(root, 'a', n), 0o664);
    const undo = await restore(root);
    assert.equal(undo.restored, 1, JSON.stringify(undo.skipped));
    assert.ok(existsSync(join(root, 'a/I2.json')) && existsSync(join(root, 'a/I2.jpg.json')));
  } finally {
    removeTree(root);
    removeTree(away);
  }
});

test('restore leaves in the quarantine a file whose image came back with newer results that keep an older time (mv or rsync -a of the photo and its JSON): put back, the older .bin was read first and hid them', async () => {
  const root = makeTree({ 'a/I1.jpg': FAKE_JPEG });
  const away = tempDir('isc-away-');
  try {
    await saveSidecar(join(root, 'a/I1.jpg'), 'res', { who: 'old' }, { format: 'bin' });
    renameSync(join(root, 'a/I1.jpg'), join(away, 'I1.jpg'));
    // Processed elsewhere before the cleanup; brought back after it with its times (rsync -a).
    await saveSidecar(join(away, 'I1.jpg'), 'res', { who: 'new' }, { format: 'json' });
    const c = await cleanup(root, { engine: 'inline', force: true, index: false });
    assert.ok(existsSync(join(c.quarantine!, 'a/I1.bin')));
    const before = new Date(Date.parse(JSON.parse(readFileSync(c.manifest!, 'utf8')).created_at) - 60_000);
    fs.utimesSync(join(away, 'I1.json'), before, before);
    renameSync(join(away, 'I1.jpg'), join(root, 'a/I1.jpg'));
    renameSync(join(away, 'I1.json'), join(root, 'a/I1.json'));
    const r = await restore(root);
    assert.equal(r.restored, 0);
    assert.deepEqual(r.skipped.map((s) => s.rel), ['a/I1.bin']);
    assert.match(r.skipped[0].reason, /brought back with it/);
    assert.deepEqual((await readSidecar(join(root, 'a/I1.jpg'))).res, { who: 'new' });
    assert.ok(existsSync(join(c.quarantine!, 'a/I1.bin')), 'kept in the quarantine');
  } finally {
    removeTree(root);
    removeTree(away);
  }
});

test('an undo of resolve in a copy of the library (cp -a: every inode new, names, sizes and times kept) puts the files back; a save in the copy still stops it', async (t) => {
  const root = makeTree({ 'a/I2.jpg': FAKE_JPEG, 'a/I3.jpg': FAKE_JPEG });
  const copyDir = tempDir('isc-copy-');
  try {
    for (const n of ['I2', 'I3']) {
      await saveSidecar(join(root, `a/${n}.jpg`), 'res', { who: n }, { format: 'json' });
      fs.copyFileSync(join(root, `a/${n}.json`), join(root, `a/${n}.jpg.json`));
    }
    const res = await resolveConflicts(root, { engine: 'inline', index: false });
    assert.equal(res.quarantined, 2, JSON.stringify(res.decisions));
    const copy = join(copyDir, 'lib');
    const cp = spawnSync('cp', ['-a', root, copy]);
    assert.equal(cp.status, 0, String(cp.stderr));
    await new Promise((r) => setTimeout(r, 20));
    await saveSidecar(join(copy, 'a/I3.jpg'), 'res', { who: 'newer' }); // saved in the copy since
    const undo = await restore(copy);
    assert.equal(undo.restored, 1, JSON.stringify(undo.skipped));
    assert.deepEqual(undo.skipped.map((x) => x.rel), [res.decisions.find((d) => d.image.includes('I3'))!.quarantine.map((q) => relative(root, q))[0]]);
  } finally {
    removeTree(root);
    removeTree(copyDir);
  }
});

test('the sidecars beside a quarantined file are found in NFD too (files from a Mac): a save since into é.json stops the undo of resolve (the restored é.bin was read first and hid it)', async () => {
  const nfd = 'e\u0301';
  const root = makeTree({ [`a/${nfd}.jpg`]: FAKE_JPEG });
  try {
    await saveSidecar(join(root, `a/${nfd}.jpg`), 'res', { who: 'bin' }, { format: 'bin' });
    // The JSON beside it, as another tool wrote it (newer): resolve keeps it.
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(join(root, `a/${nfd}.json`), JSON.stringify({ sidecar_info: {}, res: { who: 'json' } }));
    assert.ok(readdirSync(join(root, 'a')).every((n) => n.startsWith(nfd)), 'names stay NFD on disk');
    const res = await resolveConflicts(root, { engine: 'inline', index: false, prefer: 'json' });
    assert.equal(res.quarantined, 1, JSON.stringify(res.decisions));
    const m = JSON.parse(readFileSync(join(res.quarantine!, 'manifest.json'), 'utf8')) as { entries: { beside: { name: string }[] }[] };
    assert.deepEqual(m.entries[0].beside.map((b) => b.name), ['\u00e9.json'], 'the NFD é.json is recorded (by its NFC name)');
    await new Promise((r) => setTimeout(r, 20));
    await saveSidecar(join(root, `a/${nfd}.jpg`), 'res', { who: 'newer' }, { format: 'json' });
    const r = await restore(root);
    assert.equal(r.restored, 0, JSON.stringify(r.skipped));
    assert.deepEqual((await readSidecar(join(root, `a/${nfd}.jpg`))).res, { who: 'newer' });
  } finally {
    removeTree(root);
  }
});

test('an undo in a copy that kept times at a coarser precision (a millisecond copy, exFAT, NTFS) works; a restore killed between an image\'s files is finished by the next, with nothing to report', async () => {
  const root = makeTree({ 'a/I2.jpg': FAKE_JPEG });
  const copyDir = tempDir('isc-copy-');
  try {
    await saveSidecar(join(root, 'a/I2.jpg'), 'res', { who: 'bin' }, { format: 'bin' });
    for (const n of ['I2.json', 'I2.jpg.json']) writeFileSync(join(root, 'a', n), JSON.stringify({ sidecar_info: {}, res: { who: n } }));
    const res = await resolveConflicts(root, { engine: 'inline', index: false, prefer: 'bin' });
    assert.equal(res.quarantined, 2, JSON.stringify(res.decisions));
    const copy = join(copyDir, 'lib');
    fs.cpSync(root, copy, { recursive: true, preserveTimestamps: true }); // times to the millisecond
    // A restore killed after it put one file back, before it rewrote the manifest.
    const q = join(copy, QUARANTINE_DIR, readdirSync(join(copy, QUARANTINE_DIR))[0]);
    renameSync(join(q, 'a/I2.json'), join(copy, 'a/I2.json'));
    const r = await restore(copy);
    // The file the killed run put back is already back (it was a skip: exit 1 for a finished undo).
    assert.deepEqual([r.restored, r.alreadyBack], [1, 1], JSON.stringify(r.skipped));
    assert.deepEqual(r.skipped, []);
    assert.deepEqual(readdirSync(join(copy, 'a')).sort(), ['I2.bin', 'I2.jpg', 'I2.jpg.json', 'I2.json']);
    assert.equal(existsSync(join(copy, QUARANTINE_DIR)), false, 'nothing left in the quarantine');
  } finally {
    removeTree(root);
    removeTree(copyDir);
  }
});

test('restore compares names in every spelling: a newer Café.json (NFC) beside the quarantined Cafe\u0301.json (NFD), or a newer \u212AAT.json (Kelvin sign) beside KAT.bin, stops it (put back, the older file was read first)', async () => {
  const root = makeTree({ 'a/KAT.jpg': FAKE_JPEG, 'b/Caf\u00e9.jpg': FAKE_JPEG });
  const away = tempDir('isc-away-');
  try {
    await saveSidecar(join(root, 'a/KAT.jpg'), 'res', { who: 'old' }, { format: 'bin' });
    writeFileSync(join(root, 'b/Cafe\u0301.json'), JSON.stringify({ sidecar_info: {}, res: { who: 'old' } }));
    for (const [d, n] of [['a', 'KAT.jpg'], ['b', 'Caf\u00e9.jpg']]) renameSync(join(root, d, n), join(away, n));
    const c = await cleanup(root, { engine: 'inline', force: true, index: false });
    assert.equal(c.removed, 2, JSON.stringify(c.skipped));
    for (const [d, n] of [['a', 'KAT.jpg'], ['b', 'Caf\u00e9.jpg']]) renameSync(join(away, n), join(root, d, n));
    writeFileSync(join(root, 'a/\u212AAT.json'), JSON.stringify({ sidecar_info: {}, res: { who: 'new' } }));
    writeFileSync(join(root, 'b/Caf\u00e9.json'), JSON.stringify({ sidecar_info: {}, res: { who: 'new' } }));
    const r = await restore(root);
    assert.equal(r.restored, 0, JSON.stringify(r.skipped));
    assert.deepEqual(r.skipped.map((x) => x.rel).sort(), ['a/KAT.bin', 'b/Cafe\u0301.json']);
    for (const img of ['a/KAT.jpg', 'b/Caf\u00e9.jpg']) assert.deepEqual((await readSidecar(join(root, img))).res, { who: 'new' }, img);
  } finally {
    removeTree(root);
    removeTree(away);
  }
});

test('a copy\'s time rounded to a coarser unit, up or down (Windows rounds FAT times up), is the recorded time; another time is not, even 1.5 s earlier', async () => {
  const { besideAsRecorded } = await import('../src/ops/quarantine-folder.js');
  const was = 1_795_917_810_618_468_496n;
  const rec = [{ name: 'A.json', size: 10, mtime_ns: String(was) }];
  const at = (mtimeNs: bigint) => besideAsRecorded(rec, 'A.json', { size: 10n, mtimeNs } as unknown as fs.BigIntStats);
  for (const ok of [was, was - (was % 1_000_000n), was - (was % 1_000_000_000n), was - (was % 2_000_000_000n) + 2_000_000_000n, was - (was % 100n), was - (was % 1_000n) + 1_000n + 400n]) assert.ok(at(ok), String(ok));
  for (const no of [was - 1_500_000_000n, was + 1_000_000_000n + 7n, was + 37_000n]) assert.ok(!at(no), String(no));
});

test('restore of a manifest without the sidecars beside each file (an earlier version, or a killed run) judges "since" by time, as before', async () => {
  const root = makeTree({ 'a/I1.jpg': FAKE_JPEG, 'a/I2.jpg': FAKE_JPEG });
  const away = tempDir('isc-away-');
  try {
    for (const n of ['I1', 'I2']) {
      await saveSidecar(join(root, `a/${n}.jpg`), 'res', { who: 'old' }, { format: 'bin' });
      renameSync(join(root, `a/${n}.jpg`), join(away, `${n}.jpg`));
    }
    const c = await cleanup(root, { engine: 'inline', force: true, index: false });
    const m = JSON.parse(readFileSync(c.manifest!, 'utf8'));
    assert.ok(m.entries.every((e: { beside?: unknown }) => Array.isArray(e.beside)), 'the manifest lists what stood beside each file');
    for (const e of m.entries) delete e.beside;
    writeFileSync(c.manifest!, JSON.stringify(m));
    for (const n of ['I1', 'I2']) renameSync(join(away, `${n}.jpg`), join(root, `a/${n}.jpg`));
    await new Promise((r) => setTimeout(r, 20));
    await saveSidecar(join(root, 'a/I1.jpg'), 'res', { who: 'new' }, { format: 'json' }); // saved since: stays
    const r = await restore(root);
    assert.equal(r.restored, 1, JSON.stringify(r.skipped));
    assert.deepEqual(r.skipped.map((s) => s.rel), ['a/I1.bin']);
    assert.deepEqual((await readSidecar(join(root, 'a/I1.jpg'))).res, { who: 'new' });
    assert.deepEqual((await readSidecar(join(root, 'a/I2.jpg'))).res, { who: 'old' });
  } finally {
    removeTree(root);
    removeTree(away);
  }
});

// A damaged created_at ("" or missing: still valid JSON) stopped every restore with INTERNAL
// ("The number NaN cannot be converted to a BigInt"), restoring nothing, while restore --list
// reported no problem; one Date.parse reads leniently ("garbage 2099": the year 2099) let a
// file listed without its beside sidecars back beside a sidecar saved since.
test('a manifest whose created_at names no time: files listing the sidecars beside them, or with none beside them now, are put back; one that only the time could judge stays, named; restore --list says so', async () => {
  const damaged: [string, unknown][] = [['emptied', ''], ['missing', undefined], ['null', null], ['a number', 1_700_000_000_000], ['not a date-time', 'garbage 2099'], ['without its offset', '2026-11-21T11:33:00']];
  for (const [what, createdAt] of damaged) {
    const root = makeTree({ 'a/I1.jpg': FAKE_JPEG, 'a/I2.jpg': FAKE_JPEG, 'a/I3.jpg': FAKE_JPEG });
    const away = tempDir('isc-away-');
    try {
      for (const n of ['I1', 'I2', 'I3']) {
        await saveSidecar(join(root, `a/${n}.jpg`), 'res', { who: 'old' }, { format: 'bin' });
        renameSync(join(root, `a/${n}.jpg`), join(away, `${n}.jpg`));
      }
      const c = await cleanup(root, { engine: 'inline', force: true, index: false });
      const m = JSON.parse(readFileSync(c.manifest!, 'utf8'));
      if (createdAt === undefined) delete m.created_at;
      else m.created_at = createdAt;
      // I1 and I2 without the list of sidecars beside them (a killed run's manifest); I3 with it.
      for (const e of m.entries) if (e.rel !== 'a/I3.bin') delete e.beside;
      writeFileSync(c.manifest!, JSON.stringify(m));
      for (const n of ['I1', 'I2', 'I3']) renameSync(join(away, `${n}.jpg`), join(root, `a/${n}.jpg`));
      await saveSidecar(join(root, 'a/I1.jpg'), 'res', { who: 'new' }, { format: 'json' }); // saved since, or not: only the time could tell

      const listed = (await listQuarantines(root)).folders;
      assert.equal(listed.length, 1, what);
      assert.equal(listed[0].created_at, null, what);
      assert.match(listed[0].problem ?? '', /created_at/, `${what}: the damage is the folder's problem`);
      assert.equal(listed[0].files, 3, what);

      const expectSkipped = (r: { restored: number; skipped: { rel: string; reason: string }[] }) => {
        assert.equal(r.restored, 2, `${what}: ${JSON.stringify(r.skipped)}`);
        assert.deepEqual(r.skipped.map((s) => s.rel), ['a/I1.bin'], what);
        assert.match(r.skipped[0].reason, /created_at/, what);
        assert.match(r.skipped[0].reason, /I1\.json/, `${what}: names the sidecar it cannot judge`);
      };
      expectSkipped(await restore(root, { dryRun: true }));
      expectSkipped(await restore(root));
      assert.deepEqual((await readSidecar(join(root, 'a/I1.jpg'))).res, { who: 'new' }, what);
      assert.deepEqual((await readSidecar(join(root, 'a/I2.jpg'))).res, { who: 'old' }, what);
      assert.deepEqual((await readSidecar(join(root, 'a/I3.jpg'))).res, { who: 'old' }, what);
      const left = JSON.parse(readFileSync(c.manifest!, 'utf8'));
      assert.deepEqual([left.created_at, left.entries.map((e: { rel: string }) => e.rel)], [createdAt, ['a/I1.bin']], `${what}: the manifest keeps what it had, less the files put back`);
      assert.ok(existsSync(join(c.quarantine!, 'a/I1.bin')), what);
    } finally {
      removeTree(root);
      removeTree(away);
    }
  }
});

test('a manifest whose list of sidecars beside a file is malformed is refused whole (never read as "nothing beside")', async () => {
  const root = library();
  try {
    const c = await cleanup(root, { engine: 'inline', now: () => T1 });
    const m = JSON.parse(readFileSync(c.manifest!, 'utf8'));
    m.entries[0].beside = [{ name: 'x.json', ino: 5 }];
    writeFileSync(c.manifest!, JSON.stringify(m));
    await assert.rejects(restore(root), (e: unknown) => isSidecarError(e) && e.code === 'CORRUPT');
    assert.ok(existsSync(join(c.quarantine!, ORPHANS[0])), 'nothing moved');
  } finally {
    removeTree(root);
  }
});

test('a cleanup killed between its link into the quarantine and the unlink of the original (the same file at both names): restore finishes it (it refused for good, and never reached the older quarantines)', async () => {
  const root = library();
  try {
    const original = readFileSync(join(root, ORPHANS[0]));
    const c = await cleanup(root, { engine: 'inline', now: () => T1 });
    // The state such a kill leaves: the quarantine's file and the original name, one inode.
    fs.linkSync(join(c.quarantine!, ORPHANS[0]), join(root, ORPHANS[0]));
    const r = await restore(root);
    assert.deepEqual(r.skipped, []);
    assert.equal(r.restored, 2);
    assert.deepEqual(readFileSync(join(root, ORPHANS[0])), original);
    assert.equal(existsSync(join(root, QUARANTINE_DIR)), false, 'the quarantine is gone: nothing left in it');
  } finally {
    removeTree(root);
  }
});

test('restore after a relink whose old folder was replaced by a link to the new one (the same file by two paths, one entry) never unlinks it: it removed the only copy, "restored 1"', async () => {
  const { relink } = await import('../src/ops/relink.js');
  const root = makeTree({ 'a/IMG_1.jpg': FAKE_JPEG, b: { dir: true } });
  try {
    await saveSidecar(join(root, 'a/IMG_1.jpg'), 'face_detection', { faces: ['kept'] }, { format: 'json' });
    renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg'));
    const r = await relink(root, { index: false });
    assert.equal(r.relinked, 1);
    fs.rmdirSync(join(root, 'a'));
    symlinkSync('b', join(root, 'a'));
    await restore(root).catch(() => undefined);
    assert.ok(existsSync(join(root, 'b/IMG_1.json')), 'the only copy was removed');
    assert.deepEqual((await readSidecar(join(root, 'b/IMG_1.jpg'))).face_detection, { faces: ['kept'] });
  } finally {
    removeTree(root);
  }
});

// ---------------------------------------------------------------------------------------------
// The library's quarantine lock: one cleanup, relink or restore of a library at a time.

/** A lock on disk held by this live process (another process's, to the code under test). */
function plantLiveLock(key: string): string {
  const lockDir = lockPathFor(key);
  plantLock(lockDir, `${hostMark()}-${process.pid}.0-0123abcd`, 0);
  return lockDir;
}

test('restore while a relink is between its planned manifest and its moves: refuses, nothing moved; the relink finishes and restore then undoes it byte for byte (restore took the planned manifest for a killed run’s and removed it: the moves after it had no undo record)', async () => {
  const root = tempDir();
  try {
    const lib = reorganisedLibrary(root, 40);
    assert.ok(lib.movable.size >= 3, 'orphans to relink');
    const before = snapshot(root);
    // The relink (another process) waits in its moves on its first orphan's sidecar lock: every
    // orphan's is held here, so nothing moves until they are released.
    const heldLocks = [...lib.movable.keys()].map((o) => plantLiveLock(lockKeysForLoneSidecar(join(root, o))[0]));
    const child = runCli(['relink', root, '--json']);
    const base = join(root, QUARANTINE_DIR);
    const planned = () => {
      for (const n of existsSync(base) ? readdirSync(base) : []) {
        const m = join(base, n, 'manifest.json');
        if (existsSync(m) && JSON.parse(readFileSync(m, 'utf8')).status === 'planned') return m;
      }
      return null;
    };
    const deadline = Date.now() + 30_000;
    while (planned() === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const manifest = planned();
    assert.ok(manifest !== null, 'the relink wrote its planned manifest');
    const during = snapshot(root);
    await Promise.all([
      rejectsWith(restore(root), 'LOCK_TIMEOUT', /another cleanup, relink or restore of .* is running/),
      rejectsWith(restore(root, { dryRun: true }), 'LOCK_TIMEOUT', /another cleanup, relink or restore/),
      rejectsWith(cleanup(root, { engine: 'inline', force: true }), 'LOCK_TIMEOUT', /another cleanup, relink or restore/), // after a few seconds
    ]);
    assert.deepEqual(snapshot(root), during, 'nothing moved, the planned manifest kept');
    for (const l of heldLocks) fs.rmSync(l, { recursive: true });
    const r = await child;
    const report = JSON.parse(r.stdout);
    assert.deepEqual([report.relinked, report.skipped], [lib.movable.size, []], r.stderr);
    assert.equal(JSON.parse(readFileSync(manifest, 'utf8')).status, 'complete');
    const back = await restore(root);
    assert.deepEqual([back.restored, back.skipped], [lib.movable.size, []]);
    assert.deepEqual(snapshot(root), before);
  } finally {
    removeTree(root);
  }
});

test('cleanup and relink while another run holds the library’s quarantine lock: each refuses within seconds, nothing moved; relink after a killed run waits its lock out; then both run', async () => {
  const root = tempDir();
  try {
    const lib = reorganisedLibrary(root, 40);
    const base = join(root, QUARANTINE_DIR);
    fs.mkdirSync(base);
    const lockDir = plantLiveLock(quarantineLockKey(base));
    const before = snapshot(root);
    const t0 = performance.now();
    await Promise.all([
      rejectsWith(relink(root), 'LOCK_TIMEOUT', /another cleanup, relink or restore of .* is running: nothing was moved/),
      rejectsWith(cleanup(root, { engine: 'inline', force: true }), 'LOCK_TIMEOUT', /another cleanup, relink or restore/),
    ]);
    assert.ok(performance.now() - t0 < 20_000, 'refused within seconds');
    assert.deepEqual(snapshot(root), before);
    // A killed run's lock (its holder dead, the lock fresh): relink waits for it to go stale and takes it over.
    fs.rmSync(lockDir, { recursive: true });
    plantLock(lockDir, `${hostMark()}-${deadPid()}.0-89abcdef`, 0);
    const r = await relink(root);
    assert.equal(r.relinked, lib.movable.size);
    const c = await cleanup(root, { engine: 'inline', force: true });
    assert.ok(c.removed > 0, 'the orphans relink could not place');
    assert.equal(existsSync(lockDir), false, 'no lock left');
  } finally {
    removeTree(root);
  }
});

test('a cleanup that lost the library’s quarantine lock (stopped while another run took it over) stops before its next move: its manifest stays "planned", and restore undoes what it moved', async () => {
  const spec: Record<string, TreeNode> = { 'keep.jpg': FAKE_JPEG, 'keep.json': { json: sidecarData('keep.jpg', 1, 8) } };
  for (let i = 0; i < 300; i++) spec[`o/lost_${i}.json`] = { json: sidecarData(`lost_${i}.jpg`, 1, 8) };
  const root = makeTree(spec);
  try {
    const before = snapshot(root);
    const base = join(root, QUARANTINE_DIR);
    const lockDir = lockPathFor(quarantineLockKey(base));
    let tookOver = false;
    const orphansLeft = () => readdirSync(join(root, 'o')).filter((n) => n.endsWith('.json')).length;
    const watcher = fs.watch(join(root, 'o'), () => {
      if (tookOver || !existsSync(lockDir) || orphansLeft() === 300) return;
      tookOver = true;
      writeFileSync(join(lockDir, 'owner'), 'another run\n');
    });
    try {
      await rejectsWith(cleanup(root, { engine: 'inline', now: () => T1, force: true }), 'CONFLICT', /cleanup stopped: another run took the library's quarantine lock over/);
    } finally {
      watcher.close();
    }
    assert.ok(tookOver);
    const left = orphansLeft();
    assert.ok(left > 0 && left < 300, `${300 - left} moved before it stopped`);
    const folder = readdirSync(base).find((n) => !n.startsWith('.'))!;
    assert.equal(JSON.parse(readFileSync(join(base, folder, 'manifest.json'), 'utf8')).status, 'planned');
    fs.rmSync(lockDir, { recursive: true });
    const back = await restore(root);
    assert.equal(back.restored, 300 - left);
    assert.deepEqual(snapshot(root), before);
  } finally {
    removeTree(root);
  }
});

/**
 * Cleanup, then restore, each right after a run was killed: the library's quarantine lock left by a
 * dead process, dated `aheadMs` from now (0: fresh). Each must take it over and run.
 */
async function afterKilledRuns(aheadMs: number): Promise<void> {
  const root = library();
  try {
    const base = join(root, QUARANTINE_DIR);
    const lockDir = lockPathFor(quarantineLockKey(base));
    fs.mkdirSync(base);
    const killedRunLock = (token: string) => {
      plantLock(lockDir, `${hostMark()}-${deadPid()}.0-${token}`, 0);
      const at = new Date(Date.now() + aheadMs);
      if (aheadMs !== 0) fs.utimesSync(lockDir, at, at);
    };
    killedRunLock('0123abcd');
    const c = await cleanup(root, { engine: 'inline', now: () => T1, force: true });
    assert.deepEqual([c.removed, c.skipped.length], [2, 0]);
    killedRunLock('4567abcd');
    const r = await restore(root);
    assert.deepEqual([r.restored, r.skipped], [2, []]);
  } finally {
    removeTree(root);
  }
}

test('cleanup, and restore, right after a run was killed (the library’s quarantine lock left by a dead process, fresh): each waits for it to go stale, takes it over and runs (restore refused: every try right after a killed relink failed)', async () => {
  await afterKilledRuns(0);
});

// A lock dated ahead of our clock is stale once a taker has seen it unchanged for the stale age
// (lock.ts LockWatch): restore tries again and again with no wait of its own, and each try counted
// the silence from zero, so it gave up with LOCK_TIMEOUT after its 10 s where cleanup took it at 5 s.
test('cleanup, and restore, right after a run was killed whose quarantine lock is dated ahead of our clock (a file server\'s clock): each takes it over once it has stayed unchanged for the stale age', async () => {
  await afterKilledRuns(2 * 60_000);
});

test('a relink waiting on an image’s lock keeps the library’s quarantine lock refreshed (its synchronous loop left it to age: another host would take it over once stale)', async () => {
  const root = tempDir();
  try {
    const lib = reorganisedLibrary(root, 40);
    // A killed writer's lock on every orphan: the relink waits ~5 s on the first, then takes it over.
    for (const o of lib.movable.keys()) plantLock(lockPathFor(lockKeysForLoneSidecar(join(root, o))[0]), `${hostMark()}-${deadPid()}.0-0123abcd`, 0);
    const child = runCli(['relink', root, '--json']);
    const libraryLock = lockPathFor(quarantineLockKey(join(root, QUARANTINE_DIR)));
    const deadline = Date.now() + 30_000;
    while (!existsSync(libraryLock) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const first = fs.statSync(libraryLock).mtimeMs;
    await new Promise((r) => setTimeout(r, 3_500));
    const later = fs.statSync(libraryLock, { throwIfNoEntry: false })?.mtimeMs;
    const r = await child;
    assert.ok(later !== undefined && later > first, `refreshed while it waited (${first} → ${later})`);
    assert.equal(JSON.parse(r.stdout).relinked, lib.movable.size, r.stderr);
  } finally {
    removeTree(root);
  }
});

test('a quarantine holding files its manifest does not list (an edited or cut manifest) keeps that manifest and says so: restore removed it, exit 0, and the files were left where no restore finds them', async () => {
  const root = library();
  try {
    const c = await cleanup(root, { engine: 'inline', now: () => T1 });
    assert.equal(c.removed, 2);
    for (const entries of [1, 0]) {
      const manifest = JSON.parse(readFileSync(c.manifest!, 'utf8')) as { entries: unknown[] };
      manifest.entries = manifest.entries.slice(0, entries);
      writeFileSync(c.manifest!, JSON.stringify(manifest));
      // (Once its manifest lists nothing, a restore without --from passes it over: below.)
      const from = entries === 0 ? { from: basename(c.quarantine!) } : {};
      const dry = await restore(root, { dryRun: true, ...from });
      const r = await restore(root, from);
      for (const x of [dry, r]) {
        assert.equal(x.restored, entries);
        assert.deepEqual(x.skipped.map((s) => s.rel), [relative(root, join(c.quarantine!, ORPHANS[1]))], JSON.stringify(x.skipped));
        assert.match(x.skipped[0].reason, /not in its manifest/);
      }
      // The file stays in the quarantine, under a manifest (listed; a later restore says the same).
      assert.ok(existsSync(join(c.quarantine!, ORPHANS[1])));
      assert.deepEqual(JSON.parse(readFileSync(c.manifest!, 'utf8')).entries, []);
      const list = await listQuarantines(root);
      assert.equal(list.folders.length, 1, JSON.stringify(list));
    }
    assert.ok(existsSync(join(root, ORPHANS[0])), 'the listed entry was restored');
    // A quarantine whose manifest lists nothing (left for its unlisted files) is passed over: the
    // quarantine before it is still restored without --from (it was picked again and again).
    writeFileSync(join(root, 'a/older.json'), JSON.stringify(sidecarData('older.jpg', 1, 8)));
    const before = await cleanup(root, { engine: 'inline', now: () => new Date(T1.getTime() - 86_400_000) });
    assert.equal(before.removed, 2, JSON.stringify(before.actions)); // with the orphan restored above
    const next = await restore(root);
    assert.equal(next.quarantine, before.quarantine);
    assert.ok(existsSync(join(root, 'a/older.json')));
  } finally {
    removeTree(root);
  }
});
