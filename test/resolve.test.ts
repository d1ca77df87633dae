/**
 * `resolve`: one verified sidecar per image, the others quarantined as cleanup does, so that
 * `restore` brings back every byte. Attacks: a stale .json next to a newer .bin (the earlier tool
 * overwrote the .bin with it), a corrupt candidate, a preference nothing satisfies, a dry run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { encodeSidecar } from '../src/formats/codec.js';
import { keyFromBytes, passphraseKeyring } from '../src/crypto/keys.js';
import { resolveConflicts } from '../src/ops/resolve.js';
import { readSidecar } from '../src/ops/read.js';
import type { JsonObject } from '../src/types.js';
import { parseJson, runCli } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, removeTree, sidecarData } from './helpers/tree.js';
import { snapshotTree } from './reliability/fs-util.js';

const OLD = new Date('2025-01-01T00:00:00Z');
const NEW = new Date('2025-06-01T00:00:00Z');

/** A: stale .json (older) + newer .bin that disagree; B: same data twice (after --keep-source); C: corrupt .json + valid .bin; D: one file. */
function conflictTree(): { root: string; fresh: JsonObject; stale: JsonObject } {
  const stale = sidecarData('A.jpg', 1, 4) as JsonObject;
  const fresh = sidecarData('A.jpg', 3, 4) as JsonObject;
  const b = sidecarData('B.jpg', 2, 4) as JsonObject;
  const root = makeTree({
    'A.jpg': FAKE_JPEG,
    'A.json': { json: stale },
    'A.bin': encodeSidecar(fresh, 'bin'),
    'sub/B.jpg': FAKE_JPEG,
    'sub/B.json': { json: b },
    'sub/B.bin': encodeSidecar(b, 'bin'),
    'C.jpg': FAKE_JPEG,
    'C.json': '{"face_detection": {',
    'C.bin': encodeSidecar(sidecarData('C.jpg', 1, 4) as JsonObject, 'bin'),
    'D.jpg': FAKE_JPEG,
    'D.json': { json: sidecarData('D.jpg', 1, 4) },
  });
  utimesSync(join(root, 'A.json'), OLD, OLD);
  utimesSync(join(root, 'A.bin'), NEW, NEW);
  utimesSync(join(root, 'sub/B.bin'), OLD, OLD);
  utimesSync(join(root, 'sub/B.json'), NEW, NEW);
  return { root, fresh, stale };
}

// The quarantine and the incremental index (written by validate) are ours, not the library's files.
const skipQuarantine = (name: string) => name === '.image-sidecar-quarantine' || name === '.image-sidecar';

test('dry run: the plan per image, nothing changes', async (t) => {
  const { root } = conflictTree();
  t.after(() => removeTree(root));
  const before = snapshotTree(root);
  const r = await resolveConflicts(root, { dryRun: true, engine: 'inline' });
  assert.equal(r.images, 3);
  assert.equal(r.resolved, 3);
  const by = new Map(r.decisions.map((d) => [d.image, d]));
  assert.equal(by.get('A.jpg')!.keep, join(root, 'A.bin'));
  assert.deepEqual(by.get('A.jpg')!.quarantine, [join(root, 'A.json')]);
  assert.equal(by.get('sub/B.jpg')!.keep, join(root, 'sub/B.json'), 'newest');
  assert.equal(by.get('C.jpg')!.keep, join(root, 'C.bin'), 'the corrupt file is never kept');
  assert.equal(r.quarantined, 0);
  assert.deepEqual(snapshotTree(root), before);
});

test('newest: the newer .bin wins over a stale .json; each image has one sidecar; restore undoes every byte', async (t) => {
  const { root, fresh } = conflictTree();
  t.after(() => removeTree(root));
  const before = snapshotTree(root);
  const r = await runCli(['resolve', root, '--engine', 'inline']);
  assert.equal(r.code, 0, r.stderr);
  const rep = parseJson<{ message: string; quarantined: number; quarantine: string }>(r);
  assert.equal(rep.message, 'Resolved 3 images: 3 sidecar files moved to the quarantine');
  assert.equal(rep.quarantined, 3);
  assert.match(r.stderr, /undo with: image-sidecar restore/);
  for (const gone of ['A.json', 'sub/B.bin', 'C.json']) assert.equal(existsSync(join(root, gone)), false, gone);
  for (const kept of ['A.bin', 'sub/B.json', 'C.bin', 'D.json']) assert.ok(existsSync(join(root, kept)), kept);
  assert.deepEqual(await readSidecar(join(root, 'A.jpg')), fresh);
  // No image is ambiguous any more: validate is clean and convert has nothing in conflict.
  const v = parseJson<{ invalid_files: number; results: { category: string }[] }>(await runCli(['validate', root, '--engine', 'inline']));
  assert.equal(v.invalid_files, 0);
  assert.ok(v.results.every((x) => x.category !== 'ambiguous'));
  const c = await runCli(['convert', root, '-f', 'bin', '--dry-run', '--engine', 'inline']);
  assert.equal(c.code, 0, c.stdout);
  // A second run finds nothing to do.
  const again = parseJson<{ images: number }>(await runCli(['resolve', root, '--engine', 'inline']));
  assert.equal(again.images, 0);
  // restore puts back exactly what was there.
  const back = await runCli(['restore', root]);
  assert.equal(back.code, 0, back.stderr);
  assert.deepEqual(snapshotTree(root, skipQuarantine), before);
});

test('a copy saved into after the decision (same size: a newer result) stays, and so does every copy of an image whose kept file went meanwhile (another resolve moved it): the image never reads older results or none', async (t) => {
  // A: A.bin (newer) is kept, A.json goes; B: sub/B.json (newer) is kept, sub/B.bin goes.
  const { root, fresh } = conflictTree();
  t.after(() => removeTree(root));
  const bBin = readFileSync(join(root, 'sub/B.bin'));
  // The clock is read after every decision, right before the moves: a pipeline saves into the
  // copy of B that was to go (the same bytes, written now: the newest file), and another resolve,
  // preferring json, has quarantined A.bin, the file kept for A.
  const elsewhere = join(root, '..', `${root.split('/').pop()}-moved-A.bin`);
  t.after(() => rmSync(elsewhere, { force: true }));
  const now = () => {
    writeFileSync(join(root, 'sub/B.bin'), bBin);
    renameSync(join(root, 'A.bin'), elsewhere);
    return NEW;
  };
  const r = await resolveConflicts(root, { engine: 'inline', now });
  assert.deepEqual(r.skipped.map((s) => [s.rel, s.code]).sort(), [['A.json', 'CONFLICT'], ['sub/B.bin', 'CONFLICT']]);
  assert.match(r.skipped.find((s) => s.rel === 'A.json')!.reason, /the file kept for its image, is gone or changed/);
  assert.ok(existsSync(join(root, 'A.json')), 'A keeps a sidecar');
  assert.ok(existsSync(join(root, 'sub/B.bin')), 'the copy saved into stays');
  assert.equal(r.quarantined, 1, 'C.json (corrupt) goes as planned');
  // Only C is resolved: A and B keep every copy (regression: all three were counted resolved).
  assert.deepEqual([r.resolved, r.unresolved], [1, 2]);
  assert.notDeepEqual(await readSidecar(join(root, 'A.jpg')), {}, 'A reads a sidecar');
  void fresh;
});

test('a resolve none of whose files moved (each saved into since the decision) leaves no quarantine folder behind (regression: one whose manifest listed nothing, shown by restore --list)', async (t) => {
  const stale = sidecarData('A.jpg', 1, 4) as JsonObject;
  const root = makeTree({ 'A.jpg': FAKE_JPEG, 'A.json': { json: stale }, 'A.bin': encodeSidecar(sidecarData('A.jpg', 3, 4) as JsonObject, 'bin') });
  t.after(() => removeTree(root));
  utimesSync(join(root, 'A.json'), OLD, OLD);
  utimesSync(join(root, 'A.bin'), NEW, NEW);
  const json = readFileSync(join(root, 'A.json'));
  const now = () => {
    writeFileSync(join(root, 'A.json'), json); // a save since the decision: the copy stays
    return NEW;
  };
  const r = await resolveConflicts(root, { engine: 'inline', now });
  assert.deepEqual([r.quarantined, r.skipped.length, r.resolved, r.unresolved], [0, 1, 0, 1]);
  assert.deepEqual([r.decisions[0]!.keep, r.decisions[0]!.quarantine], [null, []], 'the decision says what happened');
  assert.match(r.decisions[0]!.reason, /^left alone: none of its other copies could move/);
  assert.equal(r.quarantine, null);
  const base = join(root, '.image-sidecar-quarantine');
  assert.ok(!existsSync(base) || readdirSync(base).every((n) => n.startsWith('.')), `no quarantine folder: ${existsSync(base) ? readdirSync(base).join(', ') : ''}`);
});

test('an image with a candidate the scan could not read (a FIFO) is left alone and says so (not "changed since the scan")', async (t) => {
  const root = makeTree({ 'A.jpg': FAKE_JPEG, 'A.bin': encodeSidecar(sidecarData('A.jpg', 1, 4) as JsonObject, 'bin') });
  t.after(() => removeTree(root));
  execFileSync('mkfifo', [join(root, 'A.jpg.json')]);
  const r = await resolveConflicts(root, { engine: 'inline' });
  assert.equal(r.images, 1);
  assert.equal(r.decisions[0]!.keep, null);
  assert.match(r.decisions[0]!.reason, /could not be read/);
});

test('--prefer json keeps the json; --prefer rkyv with no rkyv leaves images alone (exit 1)', async (t) => {
  const { root, stale } = conflictTree();
  t.after(() => removeTree(root));
  const none = await runCli(['resolve', root, '--prefer', 'rkyv', '--engine', 'inline']);
  assert.equal(none.code, 1);
  const nr = parseJson<{ resolved: number; unresolved: number; quarantined: number }>(none);
  assert.deepEqual([nr.resolved, nr.unresolved, nr.quarantined], [0, 3, 0]);
  const before = snapshotTree(root);
  const j = await runCli(['resolve', root, '--prefer', 'json', '--engine', 'inline']);
  const jr = parseJson<{ resolved: number; unresolved: number }>(j);
  // C has no valid json (its .json is corrupt): left alone, so exit 1.
  assert.equal(j.code, 1);
  assert.deepEqual([jr.resolved, jr.unresolved], [2, 1]);
  assert.deepEqual(await readSidecar(join(root, 'A.jpg')), stale);
  assert.ok(existsSync(join(root, 'C.json')) && existsSync(join(root, 'C.bin')));
  assert.equal((await runCli(['restore', root])).code, 0);
  assert.deepEqual(snapshotTree(root, skipQuarantine), before);
  const bad = await runCli(['resolve', root, '--prefer', 'oldest']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Allowed choices are newest, current, bin, rkyv, json/);
});

test('restore --list shows each quarantine folder (oldest first) with its files and size; it restores nothing', async (t) => {
  const { root } = conflictTree();
  t.after(() => removeTree(root));
  const empty = parseJson<{ folders: unknown[] }>(await runCli(['restore', root, '--list']));
  assert.deepEqual(empty.folders, []);
  assert.equal((await runCli(['resolve', root, '--prefer', 'json', '--engine', 'inline'])).code, 1);
  assert.equal((await runCli(['resolve', root, '--engine', 'inline'])).code, 0);
  const r = await runCli(['restore', root, '--list']);
  assert.equal(r.code, 0, r.stderr);
  const list = parseJson<{ folders: { name: string; files: number; bytes: number; status: string; created_at: string; problem: string | null }[] }>(r);
  assert.equal(list.folders.length, 2);
  assert.deepEqual(list.folders.map((f) => f.files), [2, 1], 'the json run moved A.bin and sub/B.bin; the second C.json');
  assert.ok(list.folders.every((f) => f.status === 'complete' && f.problem === null && f.bytes > 0));
  assert.match(list.folders[0]!.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/);
  assert.ok(list.folders[0]!.name <= list.folders[1]!.name);
  assert.equal(existsSync(join(root, 'C.json')), false, '--list restored nothing');
});

test('a candidate above the size limit was never read: the image is left alone, nothing moves (it is not "corrupt")', async (t) => {
  // Regression: inspect reports a file above --max-file-size as corrupt, and resolve quarantined it
  // as the worse copy beside a valid one it could read, though it never looked at its content.
  const big = sidecarData('E.jpg', 3, 64) as JsonObject;
  const small = sidecarData('E.jpg', 1, 4) as JsonObject;
  const root = makeTree({ 'E.jpg': FAKE_JPEG, 'E.json': { json: small }, 'E.bin': encodeSidecar(big, 'bin') });
  t.after(() => removeTree(root));
  const limit = encodeSidecar(small, 'json').length + 16;
  const before = snapshotTree(root);
  const r = await resolveConflicts(root, { engine: 'inline', maxFileSize: limit });
  assert.equal(r.images, 1);
  assert.equal(r.resolved, 0);
  assert.equal(r.unresolved, 1);
  assert.equal(r.quarantined, 0);
  assert.equal(r.decisions[0]!.keep, null);
  assert.match(r.decisions[0]!.reason, /E\.bin could not be read \(above the size limit: never read\)/);
  assert.deepEqual(snapshotTree(root), before);
});

test('a newer candidate nested beyond the depth limit was never decoded: the image is left alone, nothing moves', async (t) => {
  // Regression: like a file above the size limit, inspect calls it corrupt, and resolve quarantined
  // the newer, valid JSON (Python reads it) beside an older bin.
  let deep = '{"face_detection": {"faces": []}, "x": ';
  for (let i = 0; i < 600; i++) deep += '[';
  for (let i = 0; i < 600; i++) deep += ']';
  deep += '}';
  const root = makeTree({ 'F.jpg': FAKE_JPEG, 'F.json': deep, 'F.bin': encodeSidecar(sidecarData('F.jpg', 1, 4) as JsonObject, 'bin') });
  t.after(() => removeTree(root));
  utimesSync(join(root, 'F.bin'), OLD, OLD);
  utimesSync(join(root, 'F.json'), NEW, NEW);
  const before = snapshotTree(root);
  const r = await resolveConflicts(root, { engine: 'inline' });
  assert.equal(r.images, 1);
  assert.equal(r.unresolved, 1);
  assert.equal(r.quarantined, 0);
  assert.equal(r.decisions[0]!.keep, null);
  assert.match(r.decisions[0]!.reason, /F\.json could not be read \(nested beyond the depth limit: never decoded\)/);
  assert.deepEqual(snapshotTree(root), before);
});

test('a candidate encrypted under a key not given (another key file or passphrase) could not be decrypted: the image is left alone, nothing moves', async (t) => {
  // Regression: a wrong key makes the file CORRUPT "authentication failed", and resolve quarantined
  // it as the worse copy beside a plaintext one, though it never saw its content.
  const theirs = keyFromBytes(Buffer.alloc(32, 7));
  const ours = keyFromBytes(Buffer.alloc(32, 9));
  const root = makeTree({
    'G.jpg': FAKE_JPEG,
    'G.json': { json: sidecarData('G.jpg', 1, 4) },
    'G.bin': encodeSidecar(sidecarData('G.jpg', 2, 4) as JsonObject, 'bin', { encryptWith: theirs }),
  });
  t.after(() => removeTree(root));
  utimesSync(join(root, 'G.bin'), OLD, OLD);
  utimesSync(join(root, 'G.json'), NEW, NEW);
  const before = snapshotTree(root);
  for (const keyring of [{ keys: [ours], encryptWith: 0 }, passphraseKeyring('not theirs')]) {
    const r = await resolveConflicts(root, { engine: 'inline', keyring });
    assert.equal(r.unresolved, 1);
    assert.equal(r.quarantined, 0);
    assert.equal(r.decisions[0]!.keep, null);
    assert.match(r.decisions[0]!.reason, /G\.bin could not be read \(no key for it: key id/);
    assert.deepEqual(snapshotTree(root), before);
  }
  // With its key, the newest valid file wins as usual (here the json).
  const r = await resolveConflicts(root, { engine: 'inline', keyring: { keys: [theirs], encryptWith: 0 }, dryRun: true });
  assert.equal(r.decisions[0]!.keep, join(root, 'G.json'));
});

test('--prefer current: a JSON copy a migration left goes once the .bin holds every result it had; one holding a result the .bin lacks stays; restore undoes it', async (t) => {
  const { saveSidecar } = await import('../src/ops/save.js');
  const root = makeTree({
    'E.jpg': FAKE_JPEG,
    'E.json': { json: { face_detection: { insightface: { faces: [1] } }, yolov8: { objects: [] } } },
    'F.jpg': FAKE_JPEG,
    'F.json': { json: { face_detection: { insightface: { faces: [1] }, opencv: { faces: [] } } } },
  });
  t.after(() => removeTree(root));
  // A migration: saves in bin beside each JSON (E's .bin then gets a newer insightface; F's .bin loses nothing, but...).
  await saveSidecar(join(root, 'E.jpg'), 'face_detection', { success: true, faces: [2] }, { format: 'bin', backend: 'insightface' });
  await saveSidecar(join(root, 'F.jpg'), 'quality_assessment', { grade: 'A' }, { format: 'bin' });
  // ... F's JSON is then given a result by another program that the .bin does not have.
  const fJson = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(root, 'F.json'), 'utf8')));
  fJson.pose_detection = { success: true, poses: [] };
  (await import('node:fs')).writeFileSync(join(root, 'F.json'), JSON.stringify(fJson));
  const before = snapshotTree(root);
  const r = await resolveConflicts(root, { prefer: 'current', engine: 'inline' });
  const byImage = Object.fromEntries(r.decisions.map((d) => [d.image, d]));
  assert.deepEqual(byImage['E.jpg'].quarantine, [join(root, 'E.json')]);
  assert.equal(byImage['E.jpg'].keep, join(root, 'E.bin'));
  assert.deepEqual(byImage['F.jpg'].quarantine, [], byImage['F.jpg'].reason);
  assert.match(byImage['F.jpg'].reason, /F\.json left: it holds results F\.bin does not/);
  assert.equal(existsSync(join(root, 'E.json')), false);
  assert.equal(existsSync(join(root, 'F.json')), true);
  assert.deepEqual(((await readSidecar(join(root, 'E.jpg'))).face_detection as JsonObject).insightface, { success: true, faces: [2] });
  const back = await runCli(['restore', root, '--json']);
  assert.equal(back.code, 0, back.stderr);
  assert.deepEqual(snapshotTree(root), before);
});

test('a group of several images is left alone: a RAW never loses its only sidecar (IMG_1.json shared, IMG_1.jpg.json the JPEG\'s)', async (t) => {
  const root = makeTree({
    'IMG_1.jpg': FAKE_JPEG,
    'IMG_1.CR2': 'raw',
    'IMG_1.json': { json: { face_detection: { faces: [1] } } },
    'IMG_1.jpg.json': { json: { face_detection: { faces: [2] } } },
  });
  t.after(() => removeTree(root));
  const before = snapshotTree(root);
  for (const prefer of ['newest', 'current', 'json'] as const) {
    const r = await resolveConflicts(root, { prefer, engine: 'inline' });
    assert.equal(r.quarantined, 0, prefer);
    assert.equal(r.unresolved, 1, prefer);
    assert.match(r.decisions[0].reason, /share these files/);
    assert.deepEqual(snapshotTree(root), before, prefer);
  }
  assert.deepEqual((await readSidecar(join(root, 'IMG_1.CR2'))).face_detection, { faces: [1] });
});

test('--prefer newest on equal times (FAT, a restored archive) keeps the file reads pick: an older name-ext .bin beat the current stem JSON by format', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': FAKE_JPEG });
  try {
    writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify({ ...sidecarData('IMG_1.jpg'), res: 'current' }));
    writeFileSync(join(root, 'a/IMG_1.jpg.bin'), encodeSidecar({ ...sidecarData('IMG_1.jpg'), res: 'older copy' }, 'bin'));
    const t = new Date('2025-06-01T10:00:00Z');
    for (const n of ['IMG_1.json', 'IMG_1.jpg.bin']) utimesSync(join(root, 'a', n), t, t);
    assert.equal((await readSidecar(join(root, 'a/IMG_1.jpg'))).res, 'current');
    const r = await resolveConflicts(root, { engine: 'inline', index: false });
    assert.equal(r.decisions.length, 1, JSON.stringify(r.decisions));
    assert.equal(r.decisions[0].keep, join(root, 'a/IMG_1.json'));
    assert.equal((await readSidecar(join(root, 'a/IMG_1.jpg'))).res, 'current');
  } finally {
    removeTree(root);
  }
});

test('a scan that could not list a folder moves nothing (a sidecar link there may read a copy: it was quarantined, the link left dangling), as cleanup and relink refuse, the dry run too', async (t) => {
  const { root } = conflictTree();
  t.after(() => removeTree(root));
  // A folder whose name is not UTF-8: the scan cannot address it, nor anything in it.
  const bad = Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x66, 0xff])]);
  mkdirSync(bad);
  writeFileSync(Buffer.concat([bad, Buffer.from('/M.jpg')]), FAKE_JPEG);
  const before = snapshotTree(root);
  for (const dryRun of [true, false]) await assert.rejects(resolveConflicts(root, { dryRun, engine: 'inline', index: false }), (e: { code?: string }) => e.code === 'INCOMPLETE_SCAN');
  assert.deepEqual(snapshotTree(root), before);
});
