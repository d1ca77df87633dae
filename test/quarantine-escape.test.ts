/**
 * The quarantine is inside the library and everything cleanup and restore write there stays
 * inside. Attacks: a symlink planted as a quarantine's manifest.json (restore
 * rewrote the file it pointed to; cleanup's second manifest write followed it too), a symlink
 * planted as a folder inside a new quarantine while cleanup moves orphans into it (the moves
 * followed it out of the library), and a sparse manifest of huge apparent size (read whole).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, quarantineStamp, writeManifest, MANIFEST_NAME, MANIFEST_VERSION } from '../src/ops/cleanup.js';
import { readManifest, restore } from '../src/ops/restore.js';
import { listQuarantines } from '../src/ops/quarantines.js';
import { QUARANTINE_DIR } from '../src/discovery/own-folders.js';
import { SidecarError } from '../src/errors.js';
import { testDir } from './helpers/tree.js';

const sidecar = (n: number) => JSON.stringify({ face_detection: { faces: [n] } });

test('a symlink planted as a quarantine manifest is neither followed nor rewritten (regression: restore replaced the file it pointed to)', async (t) => {
  const dir = testDir(t);
  const root = path.join(dir, 'lib');
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(outside);
  fs.mkdirSync(root, { recursive: true });
  for (let i = 0; i < 20; i++) {
    fs.writeFileSync(path.join(root, `IMG_${i}.jpg`), 'jpg');
    fs.writeFileSync(path.join(root, `IMG_${i}.json`), sidecar(i));
  }
  fs.writeFileSync(path.join(root, 'gone_1.json'), sidecar(100));
  fs.writeFileSync(path.join(root, 'gone_2.json'), sidecar(101));
  const r = await cleanup(root, { engine: 'inline', force: true });
  assert.equal(r.removed, 2);
  const manifestPath = r.manifest!;
  // Somebody else's file that parses as a manifest (another library's), linked in its place.
  const victim = path.join(outside, 'victim.json');
  const theirs = fs.readFileSync(manifestPath, 'utf8');
  fs.writeFileSync(victim, theirs);
  fs.rmSync(manifestPath);
  fs.symlinkSync(victim, manifestPath);
  // One restore target is taken, so the old code kept an entry and rewrote the manifest through the link.
  fs.writeFileSync(path.join(root, 'gone_1.json'), 'someone made a new one');
  await assert.rejects(restore(root, { from: path.basename(path.dirname(manifestPath)) }), (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT' && /symlink/.test(e.message));
  assert.equal(fs.readFileSync(victim, 'utf8'), theirs);
  assert.ok(fs.lstatSync(manifestPath).isSymbolicLink());
  // cleanup's own manifest writer refuses the link the same way.
  await assert.rejects(writeManifest(manifestPath, { version: MANIFEST_VERSION, status: 'complete', created_at: 'x', root, entries: [] }), (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT');
  assert.equal(fs.readFileSync(victim, 'utf8'), theirs);
});

test('a quarantine manifest of huge apparent size is refused, not read whole', async (t) => {
  const dir = testDir(t);
  const p = path.join(dir, MANIFEST_NAME);
  const fd = fs.openSync(p, 'w');
  fs.ftruncateSync(fd, 300 * 1024 * 1024); // sparse: no disk used
  fs.closeSync(fd);
  const before = process.memoryUsage().rss;
  await assert.rejects(readManifest(p), (e: unknown) => e instanceof SidecarError && e.code === 'TOO_LARGE');
  assert.ok(process.memoryUsage().rss - before < 200 * 1024 * 1024, 'read at most the cap, in chunks');
});

test('a symlink planted as a folder inside the new quarantine while cleanup moves orphans: nothing leaves the library (regression: the moves followed it)', async (t) => {
  const dir = testDir(t);
  const root = path.join(dir, 'lib');
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(outside);
  fs.mkdirSync(path.join(root, 'a'), { recursive: true });
  for (let i = 0; i < 800; i++) {
    fs.writeFileSync(path.join(root, `IMG_${i}.jpg`), 'jpg');
    fs.writeFileSync(path.join(root, `IMG_${i}.json`), sidecar(i));
  }
  const orphans = 150;
  for (let i = 0; i < orphans; i++) fs.writeFileSync(path.join(root, 'a', `gone_${i}.json`), sidecar(1000 + i));
  const when = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
  const planted = path.join(root, QUARANTINE_DIR, quarantineStamp(when), 'a');
  // The racer plants the link the moment the new quarantine folder exists (before cleanup makes `a`).
  // -T: once cleanup has made `a`, `ln -s` would put the link inside it and succeed (a loaded
  // machine lost that race: the test took the link as planted at `a`); -T fails there instead.
  const racer = spawn('bash', ['-c', `end=$((SECONDS+20)); until ln -sT ${JSON.stringify(outside)} ${JSON.stringify(planted)} 2>/dev/null; do if [ $SECONDS -ge $end ]; then exit 1; fi; done; exit 0`], { stdio: 'ignore' });
  const raced = new Promise<number | null>((res) => racer.on('exit', res));
  await new Promise((r) => setTimeout(r, 200)); // the racer is spinning
  const r = await cleanup(root, { engine: 'inline', force: true, now: () => when });
  racer.kill('SIGKILL');
  const planted0 = (await raced) === 0;
  assert.deepEqual(fs.readdirSync(outside), [], 'nothing was moved out of the library');
  // Every orphan is either in its place or inside the quarantine: none lost.
  let inPlace = 0;
  for (let i = 0; i < orphans; i++) if (fs.existsSync(path.join(root, 'a', `gone_${i}.json`))) inPlace++;
  assert.equal(inPlace + r.removed, orphans);
  if (planted0) {
    assert.ok(fs.lstatSync(planted).isSymbolicLink());
    assert.equal(r.removed, 0, 'with the link planted, no orphan of a/ was moved');
    assert.ok(r.skipped.every((s) => s.code === 'OUTSIDE_ROOT'), JSON.stringify(r.skipped.slice(0, 2)));
  }
  t.diagnostic(`the racer planted its link: ${planted0}`);
});

test('a symlink planted as the quarantine folder is refused by restore --list as by restore (regression: --list read the manifests of the folder it pointed to)', async (t) => {
  const dir = testDir(t);
  const root = path.join(dir, 'lib');
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(root, { recursive: true });
  // Another library's quarantine, with a folder and its manifest: nothing of ours to list.
  const theirs = path.join(outside, quarantineStamp(new Date('2025-01-01T00:00:00Z')));
  fs.mkdirSync(theirs, { recursive: true });
  await writeManifest(path.join(theirs, MANIFEST_NAME), { version: MANIFEST_VERSION, created_at: '2025-01-01T00:00:00Z', root: outside, status: 'complete', entries: [{ rel: 'x.json', sha256: '0'.repeat(64), size: 1 }] });
  fs.symlinkSync(outside, path.join(root, QUARANTINE_DIR));
  await assert.rejects(listQuarantines(root), (e: unknown) => e instanceof SidecarError && e.code === 'OUTSIDE_ROOT');
  await assert.rejects(restore(root), (e: unknown) => e instanceof SidecarError && e.code === 'OUTSIDE_ROOT');
  // No quarantine at all: an empty list, as before.
  fs.rmSync(path.join(root, QUARANTINE_DIR));
  assert.deepEqual((await listQuarantines(root)).folders, []);
});
