/**
 * Attacks on mv / cp / relink / restore / cleanup (ops/move-images.ts, ops/relink.ts, ops/restore.ts).
 * Each test asserts one of the promises; a failing test is a defect found, a passing one a guard.
 *
 *   1. mv/cp: every sidecar goes along, nothing overwritten, no image apart from its sidecars at any
 *      instant (SIGKILL anywhere), no result lost, leftovers never block the next run.
 *   2. relink: never to a wrong image nor to two, never overwrites, restore byte for byte, no escape
 *      through planted symlinks or a tampered manifest (killed at random instants, then relink and
 *      restore again: the campaign in test/long/reorganise-kill.test.ts).
 *   3. cleanup never quarantines what relink could re-attach.
 *   4. relink's orphan walk (walkLibrary): its plan is the plan of the scan's orphans on every tree;
 *      it refuses (INCOMPLETE_SCAN) where a folder cannot be listed or a name addressed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyImages, moveImages } from '../src/ops/move-images.js';
import { saveSidecar } from '../src/ops/save.js';
import { readSidecar, readSidecarDetailed } from '../src/ops/read.js';
import { planRelink, relink, type RelinkOptions, type RelinkPlan } from '../src/ops/relink.js';
import type { OrphanList } from '../src/ops/orphans.js';
import { scan } from '../src/ops/scan.js';
import { leftBehindFilesOf } from '../src/scan/records.js';
import { errors } from '../src/errors.js';
import { encodeSidecar } from '../src/formats/codec.js';
import { keyFromBytes } from '../src/crypto/keys.js';
import { withExtraImageExtensions } from '../src/discovery/extensions.js';
import type { Keyring } from '../src/types.js';
import { restore } from '../src/ops/restore.js';
import { cleanup } from '../src/ops/cleanup.js';
import { hostMark } from '../src/fs/temp-files.js';
import { acquireSidecarLockSync } from '../src/fs/lock.js';
import { lockKeyForImage } from '../src/discovery/lock-key.js';
import { QUARANTINE_DIR } from '../src/discovery/own-folders.js';
import { listTree, makeTree, removeTree, sidecarData, tempDir } from './helpers/tree.js';
import { mulberry32 } from './helpers/mulberry32.js';
import { campaign } from './helpers/campaign.js';
import { CLI_PATH as BUNDLE } from './helpers/cli.js';

const DEAD_PID = 4_000_000; // above any pid_max

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8) * seed) & 0xff;
  b.writeUInt32LE(seed, 0);
  return b;
}

function names(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** A sidecar recording its image's identity (size, mtime_ns, optionally sha256) and name. */
function identitySidecar(imagePath: string, withSha: boolean, extra: Record<string, unknown> = {}): string {
  const st = fs.statSync(imagePath, { bigint: true });
  const image: Record<string, unknown> = { size: Number(st.size), mtime_ns: st.mtimeNs.toString(), operations: ['face_detection'] };
  if (withSha) image.sha256 = sha256(fs.readFileSync(imagePath));
  return JSON.stringify({ sidecar_info: { image_path: imagePath, operation_type: 'face_detection', image }, face_detection: { success: true, faces: [{ confidence: 0.9 }] }, ...extra }, null, 2);
}

function touchAs(ref: string, p: string): void {
  const r = spawnSync('touch', ['-r', ref, p]);
  assert.equal(r.status, 0, String(r.stderr));
}

function cliMv(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BUNDLE, ...args, '--json'], { stdio: 'pipe' });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.stderr.on('data', (d: Buffer) => (err += d));
    c.on('error', reject);
    c.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
}

async function waitFor(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * relink from the CLI while a writer holds the lock of image `image` in `dir`: `meanwhile` runs once
 * relink has written its manifest (its files hashed) and waits for that lock, which is then let go.
 */
async function relinkWhileLocked(root: string, dir: string, image: string, meanwhile: () => void): ReturnType<typeof cliMv> {
  const lock = acquireSidecarLockSync(lockKeyForImage(dir, image));
  const run = cliMv(['relink', root]);
  try {
    await waitFor(() => fs.existsSync(join(root, QUARANTINE_DIR)) && fs.readdirSync(join(root, QUARANTINE_DIR)).some((d) => fs.existsSync(join(root, QUARANTINE_DIR, d, 'manifest.json'))));
    meanwhile();
  } finally {
    lock.release();
  }
  return run;
}

/** The JSON stem file beside an image path (IMG_1.jpg → IMG_1.json). */
const stemJson = (image: string) => image.replace(/\.[^./]+$/, '.json');

/** A unit as a journal lists it: the image `from` → `to`, with its JSON stem file first unless `imageOnly`. */
function journalUnit(from: string, to: string, imageOnly = false): { files: { from: string; to: string; role: string }[] } {
  const image = { from, to, role: 'image' };
  return { files: imageOnly ? [image] : [{ from: stemJson(from), to: stemJson(to), role: 'sidecar' }, image] };
}

/** The journal a dead run (its pid no process's) left in `dir`, listing `units`; its path. */
function plantDeadJournal(dir: string, mode: 'move' | 'copy', units: object[], tag = '0a1b'): string {
  const journal = join(dir, `.isc-move-${hostMark()}-${DEAD_PID}-${tag}`);
  fs.writeFileSync(journal, JSON.stringify({ version: 1, mode, units }));
  return journal;
}

/** A move of `from` (and its JSON stem file) to `to` killed after the image landed: both names of each, and the journal. */
function killedAfterLanding(from: string, to: string): void {
  fs.linkSync(stemJson(from), stemJson(to));
  fs.linkSync(from, to);
  plantDeadJournal(join(to, '..'), 'move', [journalUnit(from, to)]);
}

function leftovers(dir: string): string[] {
  // A stale lock taken aside (`.<16 hex>.isc-lock-aside`) is left on purpose for ten minutes (PAIRING.md §8).
  return fs.readdirSync(dir).filter((n) => /\.isc-(move|stage|lock|tmp)/.test(n) && !n.endsWith('.isc-lock-aside'));
}

// =============================================================================================
// 1. mv / cp
// =============================================================================================

test('1 mv: a save that creates a new sidecar file while mv waits for the image lock (after its plan) is not left behind', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(500, 1), b: { dir: true } });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify(sidecarData('IMG_1.jpg')));
    // A save is in progress: it holds the image's lock (as saveSidecar does) ...
    const lock = acquireSidecarLockSync(lockKeyForImage(join(root, 'a'), 'IMG_1.jpg'));
    const run = cliMv(['mv', join(root, 'a/IMG_1.jpg'), join(root, 'b')]);
    try {
      // ... mv has planned (its journal is written) and now waits for that lock ...
      await waitFor(() => fs.readdirSync(join(root, 'b')).some((n) => n.startsWith('.isc-move-')));
      // ... the save writes its new file (a .bin beside the JSON: a gradual migration) and lets go.
      fs.writeFileSync(join(root, 'a/IMG_1.bin'), fs.readFileSync(join(root, 'a/IMG_1.json')));
    } finally {
      lock.release();
    }
    const r = await run;
    assert.deepEqual(names(join(root, 'a')), [], `left at the source: ${names(join(root, 'a'))} (exit ${r.code})`);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.bin', 'IMG_1.jpg', 'IMG_1.json']);
  } finally {
    removeTree(root);
  }
});

test('1 mv: recovering a dead run (killed after its image landed) never removes an image whose source sidecar was saved to since', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(500, 1), 'a/IMG_2.jpg': bytes(501, 2), b: { dir: true } });
  try {
    await saveSidecar(join(root, 'a/IMG_1.jpg'), 'face_detection', { faces: [] }, { format: 'json' });
    await saveSidecar(join(root, 'a/IMG_2.jpg'), 'face_detection', { faces: [] }, { format: 'json' });
    // A run killed between "the image is at the destination" and "the source image is unlinked".
    killedAfterLanding(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg'));
    // The pipeline saves a new result through the old path (the image is still there).
    await saveSidecar(join(root, 'a/IMG_1.jpg'), 'yolov8', { objects: [1] }, { format: 'json' });
    // The next mv into b recovers the dead run.
    await moveImages([join(root, 'a/IMG_2.jpg')], join(root, 'b'));
    for (const dir of ['a', 'b']) {
      if (!fs.existsSync(join(root, dir, 'IMG_1.jpg'))) continue;
      const doc = await readSidecar(join(root, dir, 'IMG_1.jpg'));
      assert.ok('yolov8' in doc, `${dir}/IMG_1.jpg has lost the yolov8 result (now: ${names(join(root, dir))})`);
    }
    assert.ok(names(join(root, 'a')).every((n) => !n.startsWith('IMG_1.')) || names(join(root, 'a')).includes('IMG_1.jpg'), `an orphan with the newest result is left: a = ${names(join(root, 'a'))}`);
  } finally {
    removeTree(root);
  }
});

test('1 cp/mv: an image whose name is near 255 bytes copies (the staging folder name must fit)', async () => {
  const long = 'L'.repeat(226) + '.jpg'; // 230 bytes: the sidecar IMG.json fits, as does name.jpg.json
  const root = makeTree({ [`a/${long}`]: bytes(300, 3), b: { dir: true } });
  try {
    fs.writeFileSync(join(root, 'a', long.replace(/\.jpg$/, '.json')), JSON.stringify(sidecarData(long)));
    const r = await copyImages([join(root, 'a', long)], join(root, 'b'));
    assert.deepEqual(r.problems, []);
    assert.deepEqual(names(join(root, 'b')), [long.replace(/\.jpg$/, '.json'), long].sort());
  } finally {
    removeTree(root);
  }
});

test('1 mv: a 250-byte image name whose sidecar cannot take the name-ext form there is refused whole, nothing lost', async () => {
  const long = 'M'.repeat(247) + '.jpg'; // 251 bytes: name.jpg.json would be 256
  const stem = long.slice(0, -4);
  const root = makeTree({ [`a/${long}`]: bytes(300, 3), [`b/${stem}.png`]: bytes(10, 4) });
  try {
    fs.writeFileSync(join(root, 'a', `${stem}.json`), JSON.stringify(sidecarData(long)));
    // Renamed on the way is not needed: the png sharer forces the name-ext form unless the record names it.
    fs.writeFileSync(join(root, 'a', `${stem}.json`), JSON.stringify(sidecarData('other.jpg')));
    const r = await moveImages([join(root, 'a', long)], join(root, 'b'));
    assert.equal(r.done + r.problems.length, 1);
    const a = names(join(root, 'a'));
    const b = names(join(root, 'b'));
    const imageIn = a.includes(long) ? 'a' : 'b';
    const list = imageIn === 'a' ? a : b;
    assert.ok(list.some((n) => n.endsWith('.json')), `image in ${imageIn} without its sidecar: a=${a} b=${b}`);
    assert.ok(!(a.includes(long) && b.includes(long)));
  } finally {
    removeTree(root);
  }
});

test('1 mv: a journal planted in the destination cannot make the next mv delete a file outside that folder', async (t) => {
  const root = makeTree({ 'outside/victim.json': 'precious results', 'a/IMG_2.jpg': bytes(300, 2), b: { dir: true } });
  try {
    // An equal copy (same bytes and times) at a name the attacker controls, and a "landed" image.
    fs.copyFileSync(join(root, 'outside/victim.json'), join(root, 'b/trap.json'));
    touchAs(join(root, 'outside/victim.json'), join(root, 'b/trap.json'));
    fs.writeFileSync(join(root, 'b/trap.jpg'), 'x');
    const unit = {
      files: [
        { from: join(root, 'outside/victim.json'), to: join(root, 'b/trap.json'), role: 'sidecar' },
        { from: join(root, 'outside/never-there.jpg'), to: join(root, 'b/trap.jpg'), role: 'image' },
      ],
    };
    // Planted by another user (a shared folder): only a journal of our own is acted on. (One of the
    // same user's could name anything it can remove anyway.)
    const journal = plantDeadJournal(join(root, 'b'), 'move', [unit], '00ff');
    if (process.getuid?.() !== 0) return t.skip('needs root to plant a file owned by another user');
    fs.chownSync(journal, 65534, 65534);
    await moveImages([join(root, 'a/IMG_2.jpg')], join(root, 'b'));
    assert.ok(fs.existsSync(join(root, 'outside/victim.json')), 'a file outside the destination folder was unlinked on the word of a journal');
  } finally {
    removeTree(root);
  }
});

test('1 mv: a dead run whose pid was reused by another process blocks the next mv of the same image for ten minutes at most', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), b: { dir: true } });
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify(sidecarData('IMG_1.jpg')));
    // Killed after its sidecar's link, before the image's; the pid is now another program's.
    fs.linkSync(join(root, 'a/IMG_1.json'), join(root, 'b/IMG_1.json'));
    const unit = {
      files: [
        { from: join(root, 'a/IMG_1.json'), to: join(root, 'b/IMG_1.json'), role: 'sidecar' },
        { from: join(root, 'a/IMG_1.jpg'), to: join(root, 'b/IMG_1.jpg'), role: 'image' },
      ],
    };
    const journal = join(root, `b/.isc-move-${hostMark()}-${sleeper.pid}-0a1b`);
    fs.writeFileSync(journal, JSON.stringify({ version: 1, mode: 'move', units: [unit] }));
    // A live writer refreshes its journal every minute: a fresh one is a run at work, left alone ...
    const waiting = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b'));
    assert.equal(waiting.done, 0);
    // ... one not refreshed for over ten minutes is abandoned, whatever process has its pid now.
    const old = new Date(Date.now() - 11 * 60_000);
    fs.utimesSync(journal, old, old);
    const r = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b'));
    assert.deepEqual(r.problems, [], 'the dead run\'s leftover blocks the move');
    assert.deepEqual(names(join(root, 'a')), []);
  } finally {
    sleeper.kill('SIGKILL');
    removeTree(root);
  }
});

test('1 mv: a new name whose stem-form sidecar would claim another image there by name-ext (foo.png → IMG_1.jpg.png beside IMG_1.jpg) gives no result to IMG_1.jpg', async () => {
  const root = makeTree({ 'a/foo.png': bytes(300, 1), 'c/IMG_1.jpg': bytes(200, 2) });
  try {
    fs.writeFileSync(join(root, 'a/foo.json'), JSON.stringify(sidecarData('foo.png')));
    const r = await moveImages([join(root, 'a/foo.png')], join(root, 'c/IMG_1.jpg.png'));
    const other = await readSidecarDetailed(join(root, 'c/IMG_1.jpg'));
    assert.ok(!('face_detection' in other.data), `IMG_1.jpg (never analysed) now reads ${other.path} (problems: ${JSON.stringify(r.problems)}, c: ${names(join(root, 'c'))})`);
  } finally {
    removeTree(root);
  }
});

test('1 mv: A.jpg.png moved away leaves A.jpg.json (the name-ext file of A.jpg) with A.jpg', async () => {
  const root = makeTree({ 'a/A.jpg': bytes(300, 1), 'a/A.jpg.png': bytes(301, 2), b: { dir: true } });
  try {
    fs.writeFileSync(join(root, 'a/A.jpg.json'), JSON.stringify(sidecarData('A.jpg')));
    await moveImages([join(root, 'a/A.jpg.png')], join(root, 'b'));
    assert.ok(fs.existsSync(join(root, 'a/A.jpg.json')), `A.jpg lost its sidecar: a=${names(join(root, 'a'))} b=${names(join(root, 'b'))}`);
  } finally {
    removeTree(root);
  }
});

test('1 mv: a sidecar that is a symlink is refused; the image stays with it; the link target is untouched', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), 'elsewhere/r.json': { json: sidecarData('IMG_1.jpg') }, 'a/IMG_1.json': { symlink: '../elsewhere/r.json' }, b: { dir: true } });
  try {
    const r = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b'));
    assert.equal(r.done, 0);
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.jpg', 'IMG_1.json']);
    assert.deepEqual(names(join(root, 'b')), []);
    assert.ok(fs.existsSync(join(root, 'elsewhere/r.json')));
  } finally {
    removeTree(root);
  }
});

test('1 mv: a destination name that is a dangling symlink is never replaced nor written through', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), 'b/IMG_2.jpg': { symlink: '../nowhere/x.jpg' }, 'b/IMG_1.json': { symlink: '../nowhere/y.json' } });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify(sidecarData('IMG_1.jpg')));
    await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b/IMG_2.jpg')).catch(() => undefined);
    await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b')).catch(() => undefined);
    assert.equal(fs.readlinkSync(join(root, 'b/IMG_2.jpg')), '../nowhere/x.jpg');
    assert.equal(fs.readlinkSync(join(root, 'b/IMG_1.json')), '../nowhere/y.json');
    assert.ok(!fs.existsSync(join(root, 'nowhere')));
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.jpg', 'IMG_1.json']);
  } finally {
    removeTree(root);
  }
});

test('1 mv: a destination folder that is a symlink to the source folder (same name) refuses, nothing lost', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), alias: { symlink: 'a' } });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify(sidecarData('IMG_1.jpg')));
    const r = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'alias')).catch((e: Error) => ({ done: 0, problems: [e] }));
    assert.equal(r.done, 0);
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.jpg', 'IMG_1.json']);
    // and a new name through the alias is a plain rename in the folder
    const r2 = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'alias/IMG_7.jpg'));
    assert.deepEqual(r2.problems, []);
    assert.deepEqual(names(join(root, 'a')), ['IMG_7.jpg', 'IMG_7.json']);
  } finally {
    removeTree(root);
  }
});

test('1 mv: a source listed twice (through a folder alias, and with ./) moves once, nothing lost', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), alias: { symlink: 'a' }, b: { dir: true } });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify(sidecarData('IMG_1.jpg')));
    const r = await moveImages([join(root, 'a/IMG_1.jpg'), join(root, 'alias/IMG_1.jpg'), join(root, 'a/./IMG_1.jpg')], join(root, 'b'));
    assert.equal(r.done, 1);
    assert.deepEqual(names(join(root, 'a')), []);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.jpg', 'IMG_1.json']);
  } finally {
    removeTree(root);
  }
});

test('1 mv: NFC and NFD spellings of the same sidecar beside one image: both kept, none overwritten', async () => {
  const nfcJson = '\u00c9quipe.json';
  const nfdJson = 'E\u0301quipe.json';
  const root = makeTree({ 'a/\u00c9quipe.jpg': bytes(300, 1), [`a/${nfcJson}`]: 'nfc copy {', b: { dir: true } });
  try {
    fs.writeFileSync(join(root, 'a', nfcJson), JSON.stringify(sidecarData('\u00c9quipe.jpg')));
    fs.writeFileSync(join(root, 'a', nfdJson), JSON.stringify({ ...sidecarData('\u00c9quipe.jpg'), yolov8: { nfd: true } }));
    const before = [fs.readFileSync(join(root, 'a', nfcJson)), fs.readFileSync(join(root, 'a', nfdJson))];
    await moveImages([join(root, 'a/\u00c9quipe.jpg')], join(root, 'b'));
    const all = [...names(join(root, 'a')).map((n) => join(root, 'a', n)), ...names(join(root, 'b')).map((n) => join(root, 'b', n))];
    for (const b of before) assert.ok(all.some((p) => fs.readFileSync(p).equals(b)), 'a spelling lost');
    const imageDir = fs.existsSync(join(root, 'a/\u00c9quipe.jpg')) ? 'a' : 'b';
    assert.equal(names(join(root, imageDir)).length, 3, `image apart from a sidecar: a=${names(join(root, 'a'))} b=${names(join(root, 'b'))}`);
  } finally {
    removeTree(root);
  }
});

test('1 mv: renames in its own folder (IMG_1.jpg → IMG_2.jpg, → IMG_1.JPG) carry every form; the source folder as DEST is refused', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1) });
  try {
    await saveSidecar(join(root, 'a/IMG_1.jpg'), 'face_detection', { faces: [] }, { format: 'json' });
    await saveSidecar(join(root, 'a/IMG_1.jpg'), 'yolov8', { objects: [] }, { format: 'bin' });
    fs.writeFileSync(join(root, 'a/IMG_1.jpg.json'), JSON.stringify(sidecarData('IMG_1.jpg')));
    const doc = await readSidecar(join(root, 'a/IMG_1.jpg'));
    await assert.rejects(moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'a/IMG_1.jpg')));
    const same = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'a'));
    assert.equal(same.done, 0);
    const r = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'a/IMG_2.jpg'));
    assert.deepEqual(r.problems, []);
    assert.deepEqual(names(join(root, 'a')), ['IMG_2.bin', 'IMG_2.jpg', 'IMG_2.jpg.json', 'IMG_2.json']);
    const r2 = await moveImages([join(root, 'a/IMG_2.jpg')], join(root, 'a/IMG_2.JPG'));
    assert.deepEqual(r2.problems, []);
    assert.deepEqual(names(join(root, 'a')), ['IMG_2.JPG', 'IMG_2.JPG.json', 'IMG_2.bin', 'IMG_2.json']);
    assert.deepEqual(await readSidecar(join(root, 'a/IMG_2.JPG')), doc);
  } finally {
    removeTree(root);
  }
});

test('1 mv: a failure to unlink a source (immutable source folder) leaves no second copy at the destination to block the retry', async (t) => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), b: { dir: true } });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify(sidecarData('IMG_1.jpg')));
    if (spawnSync('chattr', ['+a', join(root, 'a')]).status !== 0) return t.skip('chattr +a not available here');
    let r;
    try {
      r = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'b'));
    } finally {
      spawnSync('chattr', ['-a', join(root, 'a')]);
    }
    assert.equal(r.done, 0);
    assert.deepEqual(names(join(root, 'b')), [], 'a failed move leaves the image and its sidecar at the destination too');
  } finally {
    removeTree(root);
  }
});

/**
 * A preload for the CLI: once it links the image at `to` (the last file a unit places), a writer
 * that takes no lock (a pipeline saving its JSON by temp file and rename) replaces `sidecar` with
 * `content`. The move's check-then-unlink of the source names comes after.
 */
function unlockedWriterHook(dir: string, to: string, sidecar: string, content: string): string {
  const hook = join(dir, 'unlocked-writer-hook.cjs');
  fs.writeFileSync(
    hook,
    `const fs = require('fs');
const link = fs.linkSync, symlink = fs.symlinkSync;
let done = false;
const after = (dest) => {
  if (done || String(dest) !== ${JSON.stringify(to)}) return;
  done = true;
  fs.writeFileSync(${JSON.stringify(sidecar + '.pipeline-tmp')}, ${JSON.stringify(content)});
  fs.renameSync(${JSON.stringify(sidecar + '.pipeline-tmp')}, ${JSON.stringify(sidecar)});
};
fs.linkSync = function (a, b) { const r = link.apply(this, arguments); after(b); return r; };
`,
  );
  return hook;
}

/** `mv a/IMG_1.jpg DEST` by the CLI while a writer without the lock writes `sidecar` once the image lands at DEST (unlockedWriterHook). */
function mvWhileAWriterSaves(root: string, dest: string, sidecar: string, content: string) {
  const hookDir = tempDir('isc-hook-');
  try {
    const hook = unlockedWriterHook(hookDir, join(dest, 'IMG_1.jpg'), sidecar, content);
    return spawnSync(process.execPath, ['-r', hook, BUNDLE, 'mv', join(root, 'a/IMG_1.jpg'), dest, '--json'], { encoding: 'utf8', timeout: 60_000 });
  } finally {
    removeTree(hookDir);
  }
}

test('1 mv: a sidecar a writer without the lock replaced at the source during the move goes with the image (it was unlinked: its results lost, exit 0)', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(400, 1), b: { dir: true } });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify({ ...sidecarData('IMG_1.jpg'), face_detection: { run: 'old' } }));
    const newer = JSON.stringify({ ...sidecarData('IMG_1.jpg'), face_detection: { run: 'newer, from the pipeline' } });
    const r = mvWhileAWriterSaves(root, join(root, 'b'), join(root, 'a/IMG_1.json'), newer);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(names(join(root, 'a')), []);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.jpg', 'IMG_1.json']);
    assert.equal(fs.readFileSync(join(root, 'b/IMG_1.json'), 'utf8'), newer, 'the pipeline\'s newer file went with the image');
  } finally {
    removeTree(root);
  }
});

test('1 mv: a sidecar a writer without the lock wrote at the destination during the move (it found the image there) is kept; the source\'s older file goes', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(400, 1), b: { dir: true } });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify({ ...sidecarData('IMG_1.jpg'), face_detection: { run: 'old' } }));
    const newer = JSON.stringify({ ...sidecarData('IMG_1.jpg'), face_detection: { run: 'newer, saved where the image now is' } });
    const r = mvWhileAWriterSaves(root, join(root, 'b'), join(root, 'b/IMG_1.json'), newer);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(names(join(root, 'a')), []);
    assert.equal(fs.readFileSync(join(root, 'b/IMG_1.json'), 'utf8'), newer, 'the save at the destination was replaced by the older file');
  } finally {
    removeTree(root);
  }
});

test('1 mv to another file system: a sidecar replaced at the source during the move is left there, said (CONFLICT, exit 1), never removed', async (t) => {
  const shm = '/dev/shm';
  const root = makeTree({ 'a/IMG_1.jpg': bytes(400, 1) });
  if (!fs.existsSync(shm) || fs.statSync(shm).dev === fs.statSync(root).dev) {
    removeTree(root);
    return t.skip('no second file system at /dev/shm');
  }
  const dest = fs.mkdtempSync(join(shm, 'isc-xdev-'));
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify({ ...sidecarData('IMG_1.jpg'), face_detection: { run: 'old' } }));
    const newer = JSON.stringify({ ...sidecarData('IMG_1.jpg'), face_detection: { run: 'newer, from the pipeline' } });
    const r = mvWhileAWriterSaves(root, dest, join(root, 'a/IMG_1.json'), newer);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout + r.stderr, /changed at the source during the move/);
    assert.equal(fs.readFileSync(join(root, 'a/IMG_1.json'), 'utf8'), newer, 'the newer file stays where the writer put it');
    assert.ok(fs.existsSync(join(dest, 'IMG_1.jpg')) && fs.existsSync(join(dest, 'IMG_1.json')));
  } finally {
    removeTree(root);
    fs.rmSync(dest, { recursive: true, force: true });
  }
});

test('1 mv: a lone sidecar whose file stays (an image type not in the set, or IMG_2.JPG for IMG_2.jpg.json) is refused: moved, it became an orphan cleanup would take', async () => {
  const root = makeTree({ 'a/scan_7.xyz': bytes(300, 7), 'a/IMG_2.JPG': bytes(300, 2), 'a/IMG_1.jpg': bytes(300, 1), b: { dir: true } });
  try {
    for (const n of ['scan_7.json', 'IMG_2.jpg.json', 'IMG_1.json']) fs.writeFileSync(join(root, 'a', n), JSON.stringify({ res: n }));
    // Everything but IMG_2.JPG (whose .jpg.json pairs with no image of the set: it is that file's).
    const r = await moveImages(names(join(root, 'a')).filter((n) => n !== 'IMG_2.JPG').map((n) => join(root, 'a', n)), join(root, 'b'));
    assert.deepEqual(names(join(root, 'a')), ['IMG_2.JPG', 'IMG_2.jpg.json', 'scan_7.json', 'scan_7.xyz']);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.jpg', 'IMG_1.json']);
    for (const n of ['scan_7.json', 'IMG_2.jpg.json']) assert.ok(r.problems.some((p) => p.path === join(root, 'a', n) && /which stays: left with it/.test(p.message)), JSON.stringify(r.problems));
    // Given with its file (the type added): they go together.
    const both = await moveImages([join(root, 'a/scan_7.xyz'), join(root, 'a/scan_7.json')], join(root, 'b'), { imageExtensions: ['jpg', 'xyz'] });
    assert.equal(both.problems.length, 0, JSON.stringify(both.problems));
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.jpg', 'IMG_1.json', 'scan_7.json', 'scan_7.xyz']);
  } finally {
    removeTree(root);
  }
});

test('1 mv/cp: a symlinked image moved with its target leads to where the target landed (it led to the old place: a broken link, exit 0)', async () => {
  for (const [mode, order] of [['move', 'link first'], ['move', 'target first'], ['copy', 'link first']] as const) {
    const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), b: { dir: true } });
    try {
      fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify(sidecarData('IMG_1.jpg')));
      fs.symlinkSync('IMG_1.jpg', join(root, 'a/favourite.jpg'));
      fs.mkdirSync(join(root, 'a/sub'));
      fs.symlinkSync('../IMG_1.jpg', join(root, 'a/sub/L.jpg')); // a text that changes with the move
      const sources = [join(root, 'a/favourite.jpg'), join(root, 'a/sub/L.jpg'), join(root, 'a/IMG_1.jpg')];
      if (order === 'target first') sources.reverse();
      const r = await (mode === 'move' ? moveImages : copyImages)(sources, join(root, 'b'));
      assert.equal(r.problems.length, 0, JSON.stringify(r.problems));
      for (const l of ['favourite.jpg', 'L.jpg']) {
        assert.equal(fs.readlinkSync(join(root, 'b', l)), 'IMG_1.jpg', `${mode}, ${order}: ${l}`);
        assert.ok(fs.readFileSync(join(root, 'b', l)).equals(bytes(300, 1)), `${mode}, ${order}: ${l} leads nowhere`);
      }
    } finally {
      removeTree(root);
    }
  }
});

test('1 mv: a rename killed after its image landed (IMG_1.jpg → IMG_2.jpg) is finished by the same command run again (it refused: the destination exists)', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1) });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify(sidecarData('IMG_1.jpg')));
    killedAfterLanding(join(root, 'a/IMG_1.jpg'), join(root, 'a/IMG_2.jpg'));
    const r = await moveImages([join(root, 'a/IMG_1.jpg')], join(root, 'a/IMG_2.jpg'));
    assert.equal(r.recovered, 1);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(names(join(root, 'a')), ['IMG_2.jpg', 'IMG_2.json']);
  } finally {
    removeTree(root);
  }
});

test('1 cp: the same cp run again after a kill counts the images the dead run copied as done (each was a CONFLICT, exit 1)', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), 'a/IMG_2.jpg': bytes(301, 2), b: { dir: true } });
  try {
    for (const n of [1, 2]) fs.writeFileSync(join(root, `a/IMG_${n}.json`), JSON.stringify(sidecarData(`IMG_${n}.jpg`)));
    // The dead run copied IMG_1 (times kept to the nanosecond, as its cp --preserve does), then was killed.
    for (const n of ['IMG_1.json', 'IMG_1.jpg']) assert.equal(spawnSync('cp', ['--preserve=mode,timestamps', join(root, 'a', n), join(root, 'b', n)]).status, 0);
    const units = [1, 2].map((n) => journalUnit(join(root, `a/IMG_${n}.jpg`), join(root, `b/IMG_${n}.jpg`)));
    plantDeadJournal(join(root, 'b'), 'copy', units);
    // The journal's units count as done only where this run would put them: a copy under another name is made.
    const other = await copyImages([join(root, 'a/IMG_1.jpg')], join(root, 'b/IMG_9.jpg'));
    assert.equal(other.done, 1, JSON.stringify(other.problems));
    for (const n of ['IMG_9.jpg', 'IMG_9.json']) fs.rmSync(join(root, 'b', n));
    plantDeadJournal(join(root, 'b'), 'copy', units);
    const r = await copyImages([join(root, 'a/IMG_1.jpg'), join(root, 'a/IMG_2.jpg')], join(root, 'b'));
    assert.deepEqual(r.problems, []);
    assert.equal(r.done, 1);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.jpg', 'IMG_1.json', 'IMG_2.jpg', 'IMG_2.json']);
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.jpg', 'IMG_1.json', 'IMG_2.jpg', 'IMG_2.json']);
  } finally {
    removeTree(root);
  }
});

test('1 mv: findings name what is true — a name an earlier unit of the run plans is read where it is; one image given through a folder link too moves once, exit 0', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), 'b/IMG_1.JPG': bytes(301, 2), 'c/IMG_1.jpg': bytes(303, 4), 'a/IMG_2.jpg': bytes(302, 3), d: { dir: true }, e: { dir: true } });
  try {
    for (const i of ['a/IMG_1.jpg', 'b/IMG_1.JPG', 'c/IMG_1.jpg', 'a/IMG_2.jpg']) await saveSidecar(join(root, i), 'res', { i }, { format: 'bin' });
    // Three images, two of one name: the third is refused for its name ("IMG_1.bin names no image", it said).
    const r = await moveImages([join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.JPG'), join(root, 'c/IMG_1.jpg')], join(root, 'd'));
    assert.equal(r.done, 2);
    assert.equal(r.problems.length, 1);
    assert.equal(r.problems[0].path, join(root, 'c/IMG_1.jpg'));
    assert.match(r.problems[0].message, /^exists at the destination; not overwritten/);
    assert.deepEqual(names(join(root, 'd')), ['IMG_1.JPG', 'IMG_1.JPG.bin', 'IMG_1.bin', 'IMG_1.jpg']);
    fs.symlinkSync('a', join(root, 'alink'));
    const twice = await moveImages([join(root, 'a/IMG_2.jpg'), join(root, 'alink/IMG_2.jpg')], join(root, 'e'));
    assert.deepEqual(twice.problems, []);
    assert.deepEqual(names(join(root, 'e')), ['IMG_2.bin', 'IMG_2.jpg']);
  } finally {
    removeTree(root);
  }
});

test('1 mv/cp: links moved with their targets — an absolute text, a chain given last link first — lead to where the targets landed (broken, exit 0)', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(300, 1), b: { dir: true } });
  try {
    fs.symlinkSync(join(root, 'a/IMG_1.jpg'), join(root, 'a/ABS.jpg'));
    fs.symlinkSync('IMG_1.jpg', join(root, 'a/L1.jpg'));
    fs.symlinkSync('L1.jpg', join(root, 'a/L2.jpg'));
    const r = await moveImages(['L2.jpg', 'ABS.jpg', 'L1.jpg', 'IMG_1.jpg'].map((n) => join(root, 'a', n)), join(root, 'b'));
    assert.deepEqual(r.problems, []);
    assert.equal(fs.readlinkSync(join(root, 'b/ABS.jpg')), join(root, 'b/IMG_1.jpg'));
    assert.equal(fs.readlinkSync(join(root, 'b/L2.jpg')), 'L1.jpg');
    for (const n of ['ABS.jpg', 'L1.jpg', 'L2.jpg']) assert.ok(fs.readFileSync(join(root, 'b', n)).equals(bytes(300, 1)), `${n} leads nowhere`);
  } finally {
    removeTree(root);
  }
});

test('1 mv: a symlinked image killed after its new link was made (its text rewritten) is finished by the same command run again (refused for good: exists)', async () => {
  const root = makeTree({ 'b/IMG_1.jpg': bytes(300, 1), a: { dir: true } });
  try {
    // The dead run moved IMG_1.jpg to b, made b/L.jpg (text rewritten) and died before unlinking a/L.jpg.
    fs.symlinkSync('IMG_1.jpg', join(root, 'a/L.jpg'));
    fs.symlinkSync('IMG_1.jpg', join(root, 'b/L.jpg'));
    plantDeadJournal(join(root, 'b'), 'move', [journalUnit(join(root, 'a/L.jpg'), join(root, 'b/L.jpg'), true)]);
    const r = await moveImages([join(root, 'a/L.jpg')], join(root, 'b'));
    assert.deepEqual(r.problems, []);
    assert.equal(r.recovered, 1);
    assert.deepEqual(names(join(root, 'a')), []);
    assert.ok(fs.readFileSync(join(root, 'b/L.jpg')).equals(bytes(300, 1)));
  } finally {
    removeTree(root);
  }
});

test('1 mv: a sidecar a writer without the lock made under a new name at the source during the move is named (left an orphan, exit 0)', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(400, 1), b: { dir: true } });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify(sidecarData('IMG_1.jpg')));
    const r = mvWhileAWriterSaves(root, join(root, 'b'), join(root, 'a/IMG_1.jpg.json'), JSON.stringify({ ...sidecarData('IMG_1.jpg'), late: true }));
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout + r.stderr, /appeared at the source during the move[^\n]*IMG_1\.jpg\.json/);
    assert.ok(fs.existsSync(join(root, 'a/IMG_1.jpg.json')), 'left where the writer put it');
  } finally {
    removeTree(root);
  }
});

test('1 mv: an image whose sidecar another image\'s sidecar link beside it reads stays (moved, M\'s link read nothing, exit 0)', async () => {
  const root = makeTree({ 'a/Z.jpg': bytes(300, 1), 'a/M.jpg': bytes(301, 2), b: { dir: true } });
  try {
    fs.writeFileSync(join(root, 'a/Z.json'), JSON.stringify({ ...sidecarData('Z.jpg'), res: 'Z, read by M too' }));
    fs.symlinkSync('Z.json', join(root, 'a/M.json'));
    const r = await moveImages([join(root, 'a/Z.jpg')], join(root, 'b'));
    assert.equal(r.done, 0);
    assert.ok(r.problems.some((p) => /sidecar link .*M\.json reads/.test(p.message)), JSON.stringify(r.problems));
    assert.equal((await readSidecar(join(root, 'a/M.jpg'))).res, 'Z, read by M too');
    assert.deepEqual(names(join(root, 'b')), []);
  } finally {
    removeTree(root);
  }
});

test('1 cp/mv: an image name that is a FIFO is one finding; the other sources are copied; no hang, no leftovers', async (t) => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(400, 1), b: { dir: true }, c: { dir: true } });
  try {
    if (spawnSync('mkfifo', [join(root, 'a/IMG_0.jpg')]).status !== 0) return t.skip('mkfifo not available');
    fs.writeFileSync(join(root, 'a/IMG_1.json'), JSON.stringify(sidecarData('IMG_1.jpg')));
    const cp = spawnSync(process.execPath, [BUNDLE, 'cp', join(root, 'a/IMG_0.jpg'), join(root, 'a/IMG_1.jpg'), join(root, 'b'), '--json'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(cp.error, undefined, 'cp hung on the FIFO');
    assert.equal(cp.status, 1, cp.stderr);
    assert.match(cp.stdout + cp.stderr, /not a regular file[^\n]*IMG_0\.jpg/);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.jpg', 'IMG_1.json']);
    const copy = await copyImages([join(root, 'a/IMG_0.jpg')], join(root, 'c'));
    assert.equal(copy.done, 0);
    assert.deepEqual(names(join(root, 'c')), []);
    assert.deepEqual(names(join(root, 'a')), ['IMG_0.jpg', 'IMG_1.jpg', 'IMG_1.json']);
  } finally {
    removeTree(root);
  }
});

test('1 mv: recovering a dead run (killed after its image landed) whose image was saved to at the destination since finishes forward: the newest results stay with it', async () => {
  for (const both of [false, true]) {
    const root = makeTree({ 'a/IMG_1.jpg': bytes(500, 1), 'a/IMG_2.jpg': bytes(501, 2), b: { dir: true } });
    try {
      await saveSidecar(join(root, 'a/IMG_1.jpg'), 'face_detection', { faces: [] }, { format: 'json' });
      // A run killed between "the image is at the destination" and "the source image is unlinked".
      killedAfterLanding(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg'));
      // The pipeline saves its newest result where the image now is (and, in the second case, through the old path too),
      // a moment after the crash (file times tick in milliseconds). In the second case its save at the destination
      // writes a new name (bin beside the JSON moved: it was not seen as a save there, and moved back, orphaned).
      await new Promise((r) => setTimeout(r, 30));
      if (both) {
        fs.unlinkSync(join(root, 'b/IMG_1.json'));
        await saveSidecar(join(root, 'b/IMG_1.jpg'), 'yolov8', { objects: [1] }, { format: 'bin' });
        fs.linkSync(join(root, 'a/IMG_1.json'), join(root, 'b/IMG_1.json'));
      } else await saveSidecar(join(root, 'b/IMG_1.jpg'), 'yolov8', { objects: [1] }, { format: 'json' });
      if (both) await saveSidecar(join(root, 'a/IMG_1.jpg'), 'quality', { score: 1 }, { format: 'json' });
      const r = await moveImages([join(root, 'a/IMG_2.jpg')], join(root, 'b'));
      if (!both) {
        assert.deepEqual(names(join(root, 'a')), [], 'moved forward: nothing of IMG_1 left at the source');
        assert.ok('yolov8' in (await readSidecar(join(root, 'b/IMG_1.jpg'))), 'the newest result stays with the image');
        assert.equal(r.problems.length, 0, JSON.stringify(r.problems));
      } else {
        // Saved to in both places: neither is removed, and the run says so.
        assert.ok('quality' in (await readSidecar(join(root, 'a/IMG_1.jpg'))));
        assert.ok('yolov8' in (await readSidecar(join(root, 'b/IMG_1.jpg'))));
        assert.ok(r.problems.some((p) => /saved to both/.test(p.message)), JSON.stringify(r.problems));
      }
      assert.ok(fs.existsSync(join(root, 'b/IMG_2.jpg')));
    } finally {
      removeTree(root);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// SIGKILL trials and racing processes
// ---------------------------------------------------------------------------------------------

interface Lib {
  root: string;
  /** image name → { sidecar name → bytes } */
  sidecars: Map<string, Map<string, Buffer>>;
  images: Map<string, Buffer>;
}

function library(root: string, n: number, srcDir = 'a'): Lib {
  const lib: Lib = { root, sidecars: new Map(), images: new Map() };
  fs.mkdirSync(join(root, srcDir), { recursive: true });
  for (let i = 0; i < n; i++) {
    const name = `IMG_${String(i).padStart(4, '0')}.jpg`;
    const body = bytes(700 + i, i + 1);
    fs.writeFileSync(join(root, srcDir, name), body);
    lib.images.set(name, body);
    const m = new Map<string, Buffer>();
    const stem = name.slice(0, -4);
    m.set(`${stem}.json`, Buffer.from(JSON.stringify(sidecarData(name))));
    if (i % 3 === 0) m.set(`${name}.json`, Buffer.from(JSON.stringify({ ...sidecarData(name), kept: i })));
    if (i % 5 === 0) m.set(`${stem}.bin`, fs.readFileSync(join(root, srcDir, name)).subarray(0, 64)); // a second form (bytes only matter)
    for (const [s, b] of m) fs.writeFileSync(join(root, srcDir, s), b);
    lib.sidecars.set(name, m);
  }
  return lib;
}

/** Every image that exists has all its sidecars' bytes next to it; each image exists at least once. */
function checkInvariants(lib: Lib, dirs: string[], label: string): void {
  for (const [name, side] of lib.sidecars) {
    const where = dirs.filter((d) => fs.existsSync(join(d, name)));
    assert.ok(where.length >= 1, `${label}: ${name} is gone`);
    for (const d of where) {
      assert.ok(fs.readFileSync(join(d, name)).equals(lib.images.get(name)!), `${label}: ${name} bytes`);
      for (const [s, b] of side) {
        const p = join(d, s);
        assert.ok(fs.existsSync(p) && fs.readFileSync(p).equals(b), `${label}: ${d}/${name} without its ${s} (there: ${fs.readdirSync(d).filter((x) => x.startsWith(name.slice(0, -4))).join(', ')})`);
      }
    }
  }
}

// SIGKILL trials of mv (both on one file system and across), cp and relink: test/long/reorganise-kill.test.ts.

test('1 race: two mv processes on the same images (to two folders, and to the same folder) — each image once, with all its sidecars', async () => {
  for (const same of [false, true]) {
    const root = tempDir();
    try {
      const lib = library(root, 120);
      fs.mkdirSync(join(root, 'b'));
      fs.mkdirSync(join(root, 'c'));
      const srcs = [...lib.images.keys()].map((n) => join(root, 'a', n));
      const [r1, r2] = await Promise.all([cliMv(['mv', ...srcs, join(root, 'b')]), cliMv(['mv', ...[...srcs].reverse(), join(root, same ? 'b' : 'c')])]);
      void r1;
      void r2;
      const dirs = ['a', 'b', 'c'].map((d) => join(root, d));
      checkInvariants(lib, dirs, `race same=${same}`);
      for (const name of lib.images.keys()) assert.equal(dirs.filter((d) => fs.existsSync(join(d, name))).length, 1, `${name} in two places`);
      assert.deepEqual(names(join(root, 'a')), [], `left behind: ${names(join(root, 'a')).slice(0, 5)}`);
      for (const d of dirs) assert.deepEqual(leftovers(d), []);
    } finally {
      removeTree(root);
    }
  }
});

test('1 race: saves (a new .bin each, some JSON) racing an mv of the same images — no result left behind, none lost', async () => {
  const root = tempDir();
  try {
    const n = 80;
    fs.mkdirSync(join(root, 'a'));
    fs.mkdirSync(join(root, 'b'));
    const imgs: string[] = [];
    for (let i = 0; i < n; i++) {
      const name = `IMG_${i}.jpg`;
      fs.writeFileSync(join(root, 'a', name), bytes(600 + i, i + 1));
      await saveSidecar(join(root, 'a', name), 'face_detection', { faces: [] }, { format: 'json' });
      imgs.push(name);
    }
    const run = cliMv(['mv', ...imgs.map((x) => join(root, 'a', x)), join(root, 'b')]);
    let finished = false;
    void run.then(() => (finished = true));
    const ok = new Set<string>();
    for (let i = 0; !finished; i = (i + 1) % n) {
      await new Promise((r) => setImmediate(r)); // a failing save settles at once: let the child's exit in
      try {
        await saveSidecar(join(root, 'a', imgs[i]), 'yolov8', { objects: [i] }, { format: 'bin' });
        ok.add(imgs[i]);
      } catch {
        /* moved away meanwhile */
      }
    }
    await run;
    assert.deepEqual(names(join(root, 'a')), [], 'results left at the source');
    for (const name of ok) {
      const doc = await readSidecar(join(root, 'b', name));
      assert.ok('yolov8' in doc, `${name}: a saved result is not with the moved image`);
    }
  } finally {
    removeTree(root);
  }
});

// =============================================================================================
// 2. relink
// =============================================================================================

test('2 relink: an image saved to where it now is (its file records the same image) gets no second, older sidecar that reads would take first', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(4000, 9), b: { dir: true } });
  try {
    await saveSidecar(join(root, 'a/IMG_1.jpg'), 'face_detection', { tag: 'old' }, { format: 'bin' });
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg')); // a plain mv: a/IMG_1.bin is an orphan
    await saveSidecar(join(root, 'b/IMG_1.jpg'), 'face_detection', { tag: 'new' }, { format: 'json' });
    const r = await relink(root, { index: false });
    assert.equal(r.relinked, 0);
    assert.ok(r.ambiguous.some((a) => /has a sidecar of its own/.test(a.reason)), JSON.stringify(r.ambiguous));
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.jpg', 'IMG_1.json']);
    assert.deepEqual((await readSidecar(join(root, 'b/IMG_1.jpg'))).face_detection, { tag: 'new' });
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.bin']);
  } finally {
    removeTree(root);
  }
});

test('2 relink: an orphan rewritten with the same size after it was hashed into the manifest stays where it is, replaced by rename or written in place, its mtime put back or not (moved, restore refused to undo it: sha256 mismatch)', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(4000, 3), 'a/IMG_2.jpg': bytes(4100, 4), 'a/IMG_3.jpg': bytes(4200, 5), b: { dir: true } });
  const outside = tempDir('isc-times-');
  try {
    const orphans = ['IMG_1', 'IMG_2', 'IMG_3'].map((n) => join(root, `a/${n}.json`));
    for (const n of ['IMG_1', 'IMG_2', 'IMG_3']) {
      fs.writeFileSync(join(root, `a/${n}.json`), identitySidecar(join(root, `a/${n}.jpg`), false));
      fs.renameSync(join(root, `a/${n}.jpg`), join(root, `b/P_${n}.jpg`)); // a plain mv: a/IMG_n.json is an orphan
    }
    // A writer holds the first image's lock while relink hashes the orphans into its manifest and waits ...
    const rewritten: string[] = [];
    const r = await relinkWhileLocked(root, join(root, 'b'), 'P_IMG_1.jpg', () => {
      // ... and another tool rewrites the orphans, same size, other bytes: by temp file and rename, in place, in place with the mtime put back.
      for (const [k, orphan] of orphans.entries()) {
        const before = fs.readFileSync(orphan, 'utf8');
        rewritten.push(before.replace('0.9', '0.8'));
        assert.equal(rewritten[k].length, before.length);
        const times = join(outside, `times-${k}`);
        fs.writeFileSync(times, '');
        touchAs(orphan, times);
        if (k === 0) {
          fs.writeFileSync(`${orphan}.tmp`, rewritten[k]);
          fs.renameSync(`${orphan}.tmp`, orphan);
        } else fs.writeFileSync(orphan, rewritten[k]);
        if (k === 2) touchAs(times, orphan); // touch -r: the mtime as it was, to the nanosecond
      }
    });
    assert.equal(r.code, 1, r.stderr);
    const skipped = (JSON.parse(r.stdout) as { skipped: { rel: string; reason: string }[] }).skipped;
    assert.deepEqual(skipped.map((k) => k.rel), ['a/IMG_1.json', 'a/IMG_2.json', 'a/IMG_3.json']);
    for (const k of skipped) assert.match(k.reason, /changed or replaced since it was hashed/);
    assert.deepEqual(orphans.map((o) => fs.readFileSync(o, 'utf8')), rewritten, 'the rewritten orphans stay where they are');
    assert.deepEqual(names(join(root, 'b')), ['P_IMG_1.jpg', 'P_IMG_2.jpg', 'P_IMG_3.jpg']);
  } finally {
    removeTree(root);
    removeTree(outside);
  }
});

test('2 relink: two names of one orphan (hard links) both move (the first\'s link and unlink moved the file\'s ctime: the second was refused as changed, and stranded)', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(4000, 7), b: { dir: true } });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), identitySidecar(join(root, 'a/IMG_1.jpg'), false));
    fs.linkSync(join(root, 'a/IMG_1.json'), join(root, 'a/IMG_1.jpg.json'));
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg'));
    const r = await relink(root, { index: false });
    assert.deepEqual([r.relinked, r.skipped], [2, []]);
    assert.deepEqual(names(join(root, 'a')), []);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.jpg', 'IMG_1.jpg.json', 'IMG_1.json']);
  } finally {
    removeTree(root);
  }
});

test('2 relink: a name-ext file that would also be the stem file of another image there (X.jpg.json beside X.jpg.png) is not made: that photo read the moved one\'s results', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(4000, 8), 'b/X.png': bytes(700, 1), 'b/X.jpg.png': bytes(710, 2) });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), identitySidecar(join(root, 'a/IMG_1.jpg'), false));
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/X.jpg')); // X.png beside it: its file takes the name-ext form
    const r = await relink(root, { index: false });
    assert.equal(r.relinked, 0);
    assert.ok(r.ambiguous.some((a) => /would also be the stem file of X\.jpg\.png/.test(a.reason)), JSON.stringify(r.ambiguous));
    assert.deepEqual(names(join(root, 'b')), ['X.jpg', 'X.jpg.png', 'X.png']);
    assert.deepEqual(await readSidecar(join(root, 'b/X.jpg.png')), {});
  } finally {
    removeTree(root);
  }
});

test('2 relink: a neighbour of the image\'s name in another Unicode form that comes while relink waits for the image\'s lock stops that move (it was checked at the plan only)', async () => {
  const [nfc, nfd] = ['Caf\u00e9.jpg', 'Cafe\u0301.jpg'];
  const root = makeTree({ 'a/IMG_1.jpg': bytes(4000, 9), b: { dir: true } });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), identitySidecar(join(root, 'a/IMG_1.jpg'), false));
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b', nfd));
    const r = await relinkWhileLocked(root, join(root, 'b'), nfd, () => fs.writeFileSync(join(root, 'b', nfc), bytes(7000, 10))); // an unrelated photo copied in meanwhile
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr + r.stdout, /in another Unicode form since the plan/);
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.json'], 'the orphan stays where it is');
    assert.deepEqual(await readSidecar(join(root, 'b', nfc)), {});
  } finally {
    removeTree(root);
  }
});

test('2 relink: an image that comes while relink waits for the lock and would claim the name the orphan takes (Y.png beside Y.jpg for Y.json) stops that move (it read the moved photo\'s results)', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(4000, 11), b: { dir: true } });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), identitySidecar(join(root, 'a/IMG_1.jpg'), false));
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/Y.jpg'));
    const r = await relinkWhileLocked(root, join(root, 'b'), 'Y.jpg', () => fs.writeFileSync(join(root, 'b/Y.png'), bytes(700, 12))); // an unrelated photo copied in meanwhile
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr + r.stdout, /Y\.png has come beside .* since the plan/);
    assert.deepEqual(names(join(root, 'a')), ['IMG_1.json'], 'the orphan stays where it is');
    assert.deepEqual(await readSidecar(join(root, 'b/Y.png')), {});
  } finally {
    removeTree(root);
  }
});

test('2 relink: a JPEG moved beside its RAW (whose IMG_1.json records the RAW) gets its orphaned file back in the name-ext form (it was ambiguous: "a sidecar of its own")', async () => {
  const root = makeTree({ 'a/IMG_1.JPG': bytes(500, 3), 'c/IMG_1.CR2': bytes(900, 4) });
  try {
    await saveSidecar(join(root, 'a/IMG_1.JPG'), 'face_detection', { who: 'jpeg' }, { format: 'json' });
    await saveSidecar(join(root, 'c/IMG_1.CR2'), 'quality', { who: 'raw' }, { format: 'json' });
    fs.renameSync(join(root, 'a/IMG_1.JPG'), join(root, 'c/IMG_1.JPG')); // a plain mv
    assert.equal((await readSidecar(join(root, 'c/IMG_1.JPG'))).face_detection, undefined);
    const r = await relink(root, { index: false });
    assert.equal(r.relinked, 1, JSON.stringify(r.ambiguous));
    assert.deepEqual(names(join(root, 'c')), ['IMG_1.CR2', 'IMG_1.JPG', 'IMG_1.JPG.json', 'IMG_1.json']);
    assert.deepEqual((await readSidecar(join(root, 'c/IMG_1.JPG'))).face_detection, { who: 'jpeg' });
    assert.deepEqual((await readSidecar(join(root, 'c/IMG_1.CR2'))).quality, { who: 'raw' });
  } finally {
    removeTree(root);
  }
});

test('2 relink leaves a file another image\'s sidecar link reads (moved, the link dangled and every later cleanup stopped)', async () => {
  const root = makeTree({ 'd1/Z.jpg': bytes(500, 5), d2: { dir: true }, 'x/M.jpg': bytes(10, 6) });
  try {
    await saveSidecar(join(root, 'd1/Z.jpg'), 'res', { who: 'Z, read by M too' }, { format: 'json' });
    fs.renameSync(join(root, 'd1/Z.jpg'), join(root, 'd2/Z.jpg'));
    fs.symlinkSync('../d1/Z.json', join(root, 'x/M.json'));
    const r = await relink(root, { index: false });
    assert.equal(r.relinked, 0);
    assert.ok(r.skipped.some((k) => /sidecar link .*x\/M\.json reads this file/.test(k.reason)), JSON.stringify(r.skipped));
    assert.deepEqual((await readSidecar(join(root, 'x/M.jpg'))).res, { who: 'Z, read by M too' });

  } finally {
    removeTree(root);
  }
});

test('2 relink none of whose moves happen (a save landed where each orphan was to go) leaves no quarantine folder behind (regression: one whose manifest listed nothing)', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(500, 5), b: { dir: true } });
  try {
    await saveSidecar(join(root, 'a/IMG_1.jpg'), 'res', { v: 1 }, { format: 'json' });
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg')); // a plain mv: a/IMG_1.json is an orphan
    const now = () => {
      fs.writeFileSync(join(root, 'b/IMG_1.json'), fs.readFileSync(join(root, 'a/IMG_1.json'))); // a save where the image now is, since the plan: not moved over
      return new Date('2026-01-02T03:04:05Z');
    };
    const r = await relink(root, { index: false, now });
    assert.equal(r.relinked, 0);
    assert.equal(r.skipped.length, 1, JSON.stringify(r.skipped));
    assert.deepEqual([r.manifest, r.quarantine], [null, null]);
    const base = join(root, '.image-sidecar-quarantine');
    assert.deepEqual(fs.existsSync(base) ? fs.readdirSync(base).filter((n) => !n.startsWith('.')) : [], []);
    assert.ok(fs.existsSync(join(root, 'a/IMG_1.json')));
  } finally {
    removeTree(root);
  }
});

test('2 relink --hash-images: a recorded sha256 is checked — a same-size, same-time image with other bytes (the original deleted) gets nothing', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(1000, 1), 'b/other.jpg': bytes(1000, 2) });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), identitySidecar(join(root, 'a/IMG_1.jpg'), true));
    touchAs(join(root, 'a/IMG_1.jpg'), join(root, 'b/other.jpg'));
    fs.rmSync(join(root, 'a/IMG_1.jpg'));
    // Hashing is asked for (docs/REORGANISE.md): without it size and time are the evidence, and the report says so.
    const plain = await planRelink(root, { index: false });
    assert.deepEqual(plain.matches.map((m) => m.evidence), [['size', 'mtime']]);
    const r = await relink(root, { index: false, hashImages: true });
    assert.deepEqual(r.matches.map((m) => m.imageRel), [], `attached to a different image: ${JSON.stringify(r.matches)}`);
    assert.ok(fs.existsSync(join(root, 'a/IMG_1.json')));
  } finally {
    removeTree(root);
  }
});

test('2 relink: decoys — a copy (cp -p) beside the moved image, a same-name other-size image — never attached to a wrong one or to two', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(1000, 1), 'a/IMG_2.jpg': bytes(1100, 3), 'c/IMG_2.jpg': 'same name, other image' });
  try {
    fs.writeFileSync(join(root, 'a/IMG_1.json'), identitySidecar(join(root, 'a/IMG_1.jpg'), false));
    fs.writeFileSync(join(root, 'a/IMG_2.json'), identitySidecar(join(root, 'a/IMG_2.jpg'), false));
    fs.mkdirSync(join(root, 'b'));
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg'));
    assert.equal(spawnSync('cp', ['-p', join(root, 'b/IMG_1.jpg'), join(root, 'c/IMG_1.jpg')]).status, 0);
    fs.rmSync(join(root, 'a/IMG_2.jpg'));
    const r = await relink(root, { index: false, hashImages: true });
    assert.deepEqual(r.matches, []);
    assert.equal(r.ambiguous.length, 1);
    assert.deepEqual(r.ambiguous[0].candidates.sort(), ['b/IMG_1.jpg', 'c/IMG_1.jpg']);
    assert.ok(fs.existsSync(join(root, 'a/IMG_1.json')) && fs.existsSync(join(root, 'a/IMG_2.json')));
  } finally {
    removeTree(root);
  }
});

test('2 relink: an orphan given the stem form IMG_1.jpg.json beside IMG_1.jpg.png does not become IMG_1.jpg\'s (name-ext claim)', async () => {
  const root = makeTree({ 'a/foo.png': bytes(1000, 1), 'c/IMG_1.jpg': bytes(50, 2) });
  try {
    fs.writeFileSync(join(root, 'a/foo.json'), identitySidecar(join(root, 'a/foo.png'), false));
    fs.renameSync(join(root, 'a/foo.png'), join(root, 'c/IMG_1.jpg.png'));
    await relink(root, { index: false });
    const other = await readSidecarDetailed(join(root, 'c/IMG_1.jpg'));
    assert.ok(!('face_detection' in other.data), `IMG_1.jpg (never analysed) now reads ${other.path} (c: ${names(join(root, 'c'))})`);
  } finally {
    removeTree(root);
  }
});

test('2 relink: a folder swapped for a symlink to outside the root between plan and act moves nothing outside', async () => {
  const top = tempDir();
  try {
    const root = join(top, 'lib');
    makeTree({ 'a/IMG_1.jpg': bytes(1000, 1), 'b/keep.txt': 'x' }, root);
    fs.writeFileSync(join(root, 'a/IMG_1.json'), identitySidecar(join(root, 'a/IMG_1.jpg'), false));
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg'));
    // Outside: a folder shaped like a, with its own file of that name.
    makeTree({ 'outside/IMG_1.json': 'outside, not ours', 'outside2/keep.txt': 'y' }, top);
    for (const swap of ['a', 'b']) {
      const r = await relink(root, {
        index: false,
        now: () => {
          // Between plan and act: the orphan's (or the image's) folder becomes a symlink outside.
          fs.renameSync(join(root, swap), join(top, `${swap}-real`));
          fs.symlinkSync(join(top, swap === 'a' ? 'outside' : 'outside2'), join(root, swap));
          return new Date();
        },
      });
      assert.equal(r.relinked, 0, `swap ${swap}: moved through the symlink`);
      assert.deepEqual(names(join(top, 'outside')), ['IMG_1.json']);
      assert.equal(fs.readFileSync(join(top, 'outside/IMG_1.json'), 'utf8'), 'outside, not ours');
      assert.deepEqual(names(join(top, 'outside2')), ['keep.txt']);
      fs.unlinkSync(join(root, swap));
      fs.renameSync(join(top, `${swap}-real`), join(root, swap));
      fs.rmSync(join(root, QUARANTINE_DIR), { recursive: true, force: true });
    }
  } finally {
    removeTree(top);
  }
});

test('2 restore: a tampered relink manifest (moved_to outside, .., absolute, through a symlinked folder) is refused and moves nothing', async () => {
  const top = tempDir();
  try {
    const root = join(top, 'lib');
    makeTree({ 'a/IMG_1.jpg': bytes(1000, 1), 'b/keep.txt': 'x' }, root);
    fs.writeFileSync(join(root, 'a/IMG_1.json'), identitySidecar(join(root, 'a/IMG_1.jpg'), false));
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg'));
    const r = await relink(root, { index: false });
    assert.equal(r.relinked, 1);
    const manifest = JSON.parse(fs.readFileSync(r.manifest!, 'utf8')) as { entries: { rel: string; moved_to: string; sha256: string; size: number }[] };
    makeTree({ 'outside/victim.json': 'victim' }, top);
    const victim = fs.readFileSync(join(top, 'outside/victim.json'));
    fs.symlinkSync(join(top, 'outside'), join(root, 'link'));
    for (const movedTo of ['../outside/victim.json', join(top, 'outside/victim.json'), 'b/../../outside/victim.json', 'link/victim.json']) {
      const e = { ...manifest.entries[0], moved_to: movedTo, sha256: sha256(victim), size: victim.length, rel: 'a/stolen.json' };
      fs.writeFileSync(r.manifest!, JSON.stringify({ ...manifest, entries: [e] }));
      const out = await restore(root).catch((err: Error) => err);
      assert.ok(fs.existsSync(join(top, 'outside/victim.json')), `moved_to ${movedTo}: the outside file was moved (${out instanceof Error ? out.message : JSON.stringify(out)})`);
      assert.ok(!fs.existsSync(join(root, 'a/stolen.json')));
      if (!fs.existsSync(r.manifest!)) fs.mkdirSync(join(r.manifest!, '..'), { recursive: true });
    }
    // And the untampered one still restores byte for byte.
    fs.writeFileSync(r.manifest!, JSON.stringify(manifest));
    const back = await restore(root);
    assert.equal(back.restored, 1);
    assert.ok(fs.existsSync(join(root, 'a/IMG_1.json')));
  } finally {
    removeTree(top);
  }
});

// =============================================================================================
// 3. cleanup
// =============================================================================================

test('3 cleanup: an orphan relink re-attaches (moved image) stays in place', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(1000, 1), 'a/IMG_2.jpg': bytes(1001, 2), 'a/IMG_3.jpg': bytes(1002, 3), b: { dir: true } });
  try {
    for (const i of [1, 2, 3]) fs.writeFileSync(join(root, `a/IMG_${i}.json`), identitySidecar(join(root, `a/IMG_${i}.jpg`), false));
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg'));
    const r = await cleanup(root, { index: false, force: true });
    assert.equal(r.relinkable, 1);
    assert.ok(fs.existsSync(join(root, 'a/IMG_1.json')));
  } finally {
    removeTree(root);
  }
});

test('3 cleanup: an orphan only `relink --hash-images` can re-attach (same-name, same-size, same-time decoy; sha256 recorded) is not quarantined', async () => {
  const root = makeTree({ 'a/IMG_1.jpg': bytes(1000, 1), 'a/IMG_2.jpg': bytes(1001, 2), 'a/IMG_3.jpg': bytes(1002, 3), b: { dir: true }, c: { dir: true } });
  try {
    for (const i of [1, 2, 3]) fs.writeFileSync(join(root, `a/IMG_${i}.json`), identitySidecar(join(root, `a/IMG_${i}.jpg`), true));
    fs.renameSync(join(root, 'a/IMG_1.jpg'), join(root, 'b/IMG_1.jpg'));
    const decoy = fs.readFileSync(join(root, 'b/IMG_1.jpg'));
    decoy[decoy.length - 1] ^= 0xff;
    fs.writeFileSync(join(root, 'c/IMG_1.jpg'), decoy);
    touchAs(join(root, 'b/IMG_1.jpg'), join(root, 'c/IMG_1.jpg'));
    const plan = await planRelink(root, { index: false, hashImages: true });
    assert.equal(plan.matches.length, 1, 'relink --hash-images re-attaches it');
    await cleanup(root, { index: false, force: true });
    assert.ok(fs.existsSync(join(root, 'a/IMG_1.json')), 'cleanup quarantined an orphan relink --hash-images would re-attach');
  } finally {
    removeTree(root);
  }
});

// =============================================================================================
// 4. relink's orphan walk (ops/relink.ts walkLibrary): one walk of names, only lone files read.
//    Its plan must be the plan of the scan's orphans on every tree; it refuses (INCOMPLETE_SCAN)
//    where the walk cannot list a folder or address a name, and lists a lone file it cannot read.
// =============================================================================================

type PlanOptions = Omit<RelinkOptions, 'dryRun' | 'now'>;
type Outcome = RelinkPlan | { error: string };

const KEYRING: Keyring = { keys: [keyFromBytes(Buffer.alloc(32, 7))], encryptWith: 0 };

async function outcomeOf(plan: () => Promise<RelinkPlan>): Promise<Outcome> {
  try {
    return await plan();
  } catch (e) {
    return { error: (e as { code?: string }).code ?? String(e) };
  }
}

/**
 * relink's own plan, and the plan by the scan's definitions under relink's rule of what stops it: the
 * scan's orphans (category 'orphan', not a link) given to planRelink, its lone files that cannot be
 * read listed as unmatched, and INCOMPLETE_SCAN only where the walk could not list a folder or
 * address a name (an image's sidecar that cannot be read stops findOrphans, never relink).
 */
async function bothPlans(root: string, opts: PlanOptions): Promise<{ own: Outcome; scanned: Outcome }> {
  const own = await outcomeOf(() => planRelink(root, opts));
  const scanned = await outcomeOf(async () => {
    const session = scan(root, opts);
    const orphans: OrphanList['orphans'] = [];
    const unreadable: RelinkPlan['unmatched'] = [];
    for await (const rec of session) {
      const sc = rec.sidecars[0];
      // A stem file another image left behind is that image's orphan (docs/PAIRING.md §3).
      for (const lb of leftBehindFilesOf(rec)) orphans.push({ path: lb.path, rel: lb.rel, format: lb.inspection.format, size: lb.inspection.size, leftBehind: true });
      if (rec.images.length > 0 || sc === undefined || sc.isLink) continue;
      if (rec.category === 'orphan') orphans.push({ path: sc.path, rel: sc.rel, format: sc.inspection.format, size: sc.inspection.size });
      else if (rec.category === 'unreadable') unreadable.push({ sidecars: [sc.rel], reason: `cannot be read (${sc.inspection.error?.code ?? 'IO'})`, unreadable: true });
      else if (rec.category === 'encrypted') unreadable.push({ sidecars: [sc.rel], reason: 'its record cannot be read (an encrypted file needs its key)' });
    }
    const problems = session.summary.problems;
    if (session.problemSeqs.some((q, i) => q[1] === -1 || problems[i].code === 'UNADDRESSABLE')) throw errors.incompleteScan('a folder or a name');
    const plan = await planRelink(root, opts, { orphans });
    return { ...plan, orphans: plan.orphans + unreadable.length, unmatched: [...unreadable, ...plan.unmatched] };
  });
  return { own, scanned };
}

/** Every sidecar a plan names (matched, ambiguous, unmatched). */
function listedIn(o: Outcome): string[] {
  if ('error' in o) return [];
  return [...o.matches.flatMap((m) => m.sidecars.map((s) => s.rel)), ...o.ambiguous.flatMap((a) => a.sidecars), ...o.unmatched.flatMap((u) => u.sidecars)];
}

/** A sidecar's data recording `imagePath`'s identity and name (as a save writes it). */
function recordOf(imagePath: string): Record<string, unknown> {
  return JSON.parse(identitySidecar(imagePath, false)) as Record<string, unknown>;
}

type RecordFormat = 'json' | 'bin' | 'enc' | 'rkyv' | 'legacy';
/** A sidecar file's extension for a format (the legacy layout and encrypted files are .bin). */
const extOf = (format: RecordFormat) => (format === 'json' || format === 'rkyv' ? format : 'bin');

/** Write a sidecar recording `imagePath` at `sidecarPath` (json, bin, rkyv, legacy, or bin encrypted under KEYRING). */
function writeRecord(sidecarPath: string, imagePath: string, format: RecordFormat = 'json'): void {
  const data = recordOf(imagePath);
  fs.mkdirSync(join(sidecarPath, '..'), { recursive: true });
  if (format === 'json') fs.writeFileSync(sidecarPath, JSON.stringify(data, null, 2));
  else if (format === 'enc') fs.writeFileSync(sidecarPath, encodeSidecar(data as never, 'bin', { encryptWith: KEYRING.keys[0] }));
  else fs.writeFileSync(sidecarPath, encodeSidecar(data as never, format));
}

/** An image at `imageRel` whose sidecars (`sidecarRels`) record it, then moved to `toRel`: orphans relink re-attaches. */
function movedImage(root: string, imageRel: string, toRel: string, sidecarRels: string[], seed: number, format: RecordFormat = 'json'): void {
  fs.mkdirSync(join(root, imageRel, '..'), { recursive: true });
  fs.writeFileSync(join(root, imageRel), bytes(2000 + seed * 17, seed));
  for (const s of sidecarRels) writeRecord(join(root, s), join(root, imageRel), format);
  fs.mkdirSync(join(root, toRel, '..'), { recursive: true });
  fs.renameSync(join(root, imageRel), join(root, toRel));
}

/**
 * A bait: a file in a sidecar's name that records the identity of a unique image without a sidecar
 * (`targets/T_<seed>.jpg`). Taken for an orphan, it would be matched to that image and moved.
 */
function bait(root: string, rel: string, seed: number, shape: (data: Record<string, unknown>) => unknown = (d) => d): void {
  const image = join(root, 'targets', `T_${seed}.jpg`);
  fs.mkdirSync(join(root, 'targets'), { recursive: true });
  fs.writeFileSync(image, bytes(5000 + seed * 13, 100 + seed));
  fs.mkdirSync(join(root, rel, '..'), { recursive: true });
  fs.writeFileSync(join(root, rel), JSON.stringify(shape(recordOf(image))));
}

function mkfifo(p: string): void {
  const r = spawnSync('mkfifo', [p]);
  assert.equal(r.status, 0, String(r.stderr));
}

/** The odd cases of one library: what relink may move, and the files it must never take for orphans. */
function oddLibrary(top: string): { root: string; movable: Map<string, string>; never: string[]; outside: string } {
  const root = join(top, 'lib');
  const outside = join(top, 'outside');
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(outside, { recursive: true });
  const movable = new Map<string, string>(); // orphan rel -> the rel it goes to
  const never: string[] = [];
  // Orphans of moved or renamed images: JSON, bin, a name-ext one left by a RAW+JPEG pair's JPEG, an NFD name.
  movedImage(root, 'a/IMG_1.jpg', 'b/IMG_1.jpg', ['a/IMG_1.json'], 1);
  movable.set('a/IMG_1.json', 'b/IMG_1.json');
  movedImage(root, 'a/IMG_2.jpg', 'b/renamed.jpg', ['a/IMG_2.bin'], 2, 'bin');
  movable.set('a/IMG_2.bin', 'b/renamed.bin');
  fs.writeFileSync(join(root, 'a/IMG_3.CR2'), bytes(3001, 3));
  writeRecord(join(root, 'a/IMG_3.json'), join(root, 'a/IMG_3.CR2')); // the RAW's own: paired, stays
  movedImage(root, 'a/IMG_3.jpg', 'c/IMG_3.jpg', ['a/IMG_3.jpg.json'], 4);
  movable.set('a/IMG_3.jpg.json', 'c/IMG_3.jpg.json');
  movedImage(root, 'a/Caf\u00e9.jpg', 'b/Caf\u00e9.jpg', ['a/Cafe\u0301.json'], 5); // NFD sidecar of an NFC image
  movable.set('a/Cafe\u0301.json', 'b/Caf\u00e9.json');
  movedImage(root, 'a/IMG_E.jpg', 'c/IMG_E.jpg', ['a/IMG_E.bin'], 6, 'enc'); // encrypted: only with the key
  movable.set('a/IMG_E.bin', 'c/IMG_E.bin');
  // A sidecar beside its image in NFD while the image is NFC: paired, not lone.
  fs.writeFileSync(join(root, 'c/Z\u00fcrich.jpg'), bytes(3100, 7));
  writeRecord(join(root, 'c/Zu\u0308rich.json'), join(root, 'c/Z\u00fcrich.jpg'));

  // Never orphans (each records a unique image without a sidecar: taken for an orphan, it would move).
  const never1 = (rel: string, seed: number, shape?: (d: Record<string, unknown>) => unknown) => {
    bait(root, rel, seed, shape);
    never.push(rel);
  };
  never1('a/game_detection.json', 10); // a report's name
  never1('a/games.json', 11, (d) => ({ ...d, games: [] })); // report content
  never1('a/IMG_4.jpg.json', 12, (d) => ({ title: 'IMG_4.jpg', photoTakenTime: { timestamp: '1' }, image: (d.sidecar_info as Record<string, unknown>).image })); // Takeout
  never1('a/empty.json', 13, () => ({}));
  never1('a/IMG_5.json', 14); // beside IMG_5.xyz: an image type not in the list
  fs.writeFileSync(join(root, 'a/IMG_5.xyz'), 'xyz');
  never1('a/IMG_6.jpg.json', 15); // beside IMG_6.JPG: a case variant
  fs.writeFileSync(join(root, 'a/IMG_6.JPG'), 'jpg');
  never1('a/.image-sidecar.json', 16); // the configuration file's name
  never1('.image-sidecar.json', 17);
  never1(`a/.IMG_7.json.isc-tmp-0123abcd-${DEAD_PID}-zz`, 18); // our temp file
  never1('a/IMG_7.jpg.json.isc-lock', 19); // not a sidecar's extension
  fs.mkdirSync(join(root, 'a/.IMG_7.isc-lock'));
  fs.writeFileSync(join(root, 'a/.IMG_7.isc-lock/owner'), 'x');
  never1(`${QUARANTINE_DIR}/2026-01-01T00-00-00Z/a/IMG_8.json`, 20);
  never1(`a/${QUARANTINE_DIR}/x/IMG_8.json`, 21);
  never1('.image-sidecar/IMG_9.json', 22);
  never1('a/.image-sidecar/IMG_9.json', 23);
  // Above maxFileSize 4096: corrupt (TOO_LARGE) with that limit, an orphan without it.
  bait(root, 'a/big.json', 24, (d) => ({ ...d, pad: 'x'.repeat(10_000) }));
  movable.set('a/big.json', 'targets/T_24.json');
  fs.writeFileSync(join(root, 'a/bad.json'), '{"sidecar_info": {"image": '); // corrupt
  never.push('a/bad.json');
  fs.writeFileSync(join(root, 'a/IMG_B.JSON'), fs.readFileSync(join(root, 'a/IMG_5.json'))); // upper-case extension: not a sidecar
  never.push('a/IMG_B.JSON');
  // Symlinked sidecars: read through, never moved (inside and outside the root).
  bait(root, 'store/kept.json', 25);
  fs.symlinkSync('../store/kept.json', join(root, 'a/linked.json'));
  never.push('a/linked.json', 'store/kept.json');
  fs.renameSync(join(root, 'store/kept.json'), join(root, 'store/kept.data')); // the target itself: no sidecar name
  fs.symlinkSync('kept.data', join(root, 'store/kept.json')); // ...and a link to it there too
  bait(root, 'tmpbait/x.json', 26);
  fs.renameSync(join(root, 'tmpbait/x.json'), join(outside, 'x.json'));
  fs.rmdirSync(join(root, 'tmpbait'));
  fs.symlinkSync(join(outside, 'x.json'), join(root, 'a/out.json'));
  never.push('a/out.json');
  // A symlinked folder holding an orphan-shaped file: never entered.
  bait(root, 'tmpdir/IMG_D.json', 27);
  fs.renameSync(join(root, 'tmpdir'), join(outside, 'dir'));
  fs.symlinkSync(join(outside, 'dir'), join(root, 'linkdir'));
  // A symlinked image (a link to a moved image is not a candidate; its own folder's sidecar is paired).
  fs.symlinkSync('../b/IMG_1.jpg', join(root, 'c/alias.jpg'));
  return { root, movable, never, outside };
}

const ODD_OPTIONS: [string, PlanOptions][] = [
  ['defaults', { index: false }],
  ['with the key', { index: false, keyring: KEYRING }],
  ['xyz an image type', { index: false, imageExtensions: withExtraImageExtensions(['xyz']) }],
  ['maxFileSize 4096', { index: false, maxFileSize: 4096 }],
  ['no accel', { index: false, accel: false }],
  ['threads', { index: false, engine: 'threads', workers: 2 }],
];

test('4 relink walk: the odd cases (reports, foreign, corrupt, look-alikes, links, config, temp, own folders, NFD, RAW+JPEG, encrypted) — the same plan as the scan\'s orphans, none of them listed', async () => {
  const top = tempDir();
  try {
    const { root, movable, never } = oddLibrary(top);
    for (const [name, opts] of ODD_OPTIONS) {
      const { own, scanned } = await bothPlans(root, opts);
      assert.deepEqual(own, scanned, `${name}: relink's plan differs from the scan's`);
      assert.ok(!('error' in own), `${name}: ${JSON.stringify(own)}`);
      const listed = listedIn(own);
      for (const rel of never) assert.ok(!listed.includes(rel), `${name}: ${rel} taken for an orphan`);
      const matched = new Map(own.matches.flatMap((m) => m.sidecars.map((s) => [s.rel, s.toRel] as const)));
      for (const [o, to] of movable) {
        if (o === 'a/IMG_E.bin' && opts.keyring === undefined) continue;
        if (o === 'a/big.json' && opts.maxFileSize !== undefined) {
          assert.ok(!listed.includes(o), `${name}: ${o} (above maxFileSize) taken for an orphan`);
          continue;
        }
        assert.equal(matched.get(o), to, `${name}: ${o}`);
      }
      if (opts.keyring === undefined) assert.match(own.unmatched.find((u) => u.sidecars[0] === 'a/IMG_E.bin')?.reason ?? '', /its record cannot be read/, name);
      for (const rel of matched.keys()) assert.ok(movable.has(rel), `${name}: ${rel} matched`);
      assert.deepEqual(own.ambiguous, [], name);
    }
  } finally {
    removeTree(top);
  }
});

test('4 relink walk: a real run over the odd cases (root given through a symlink) moves exactly the orphans, byte for byte; everything else stays', async () => {
  const top = tempDir();
  try {
    const { root, movable } = oddLibrary(top);
    fs.symlinkSync(root, join(top, 'alias'));
    const via = join(top, 'alias');
    const opts: PlanOptions = { index: false, keyring: KEYRING };
    const { own, scanned } = await bothPlans(via, opts);
    assert.deepEqual(own, scanned);
    const before = listTree(root);
    const r = await relink(via, opts);
    assert.deepEqual(r.skipped, []);
    assert.equal(r.relinked, movable.size);
    const after = listTree(root);
    for (const [o, to] of movable) {
      assert.equal(after[o], undefined, `${o} still there`);
      assert.equal(after[to], before[o], `${o} → ${to}`);
    }
    for (const [rel, content] of Object.entries(before)) {
      if (movable.has(rel)) continue;
      if (rel.startsWith(`${QUARANTINE_DIR}/`) && !rel.startsWith(`${QUARANTINE_DIR}/2026-01-01`)) continue;
      assert.equal(after[rel], content, `${rel} changed`);
    }
    const added = Object.keys(after).filter((k) => !(k in before) && !k.startsWith(`${QUARANTINE_DIR}/`));
    assert.deepEqual(added.sort(), [...movable.values()].sort());
    // And back.
    const back = await restore(via);
    assert.equal(back.restored, movable.size);
    for (const [rel, content] of Object.entries(before)) assert.equal(listTree(root)[rel], content, `${rel} after restore`);
  } finally {
    removeTree(top);
  }
});

/** One poison each, added to a library with one movable orphan: relink stops where the scan's walk does, lists a lone file it cannot read, and goes on past anything else. */
const POISONS: [string, (root: string, outside: string) => void][] = [
  ["a folder in a lone sidecar's name", (r) => fs.mkdirSync(join(r, 'b/ghost.json'))],
  ["a FIFO in a lone sidecar's name", (r) => mkfifo(join(r, 'b/ghost.json'))],
  ["a dangling symlink in a lone sidecar's name", (r) => fs.symlinkSync('nowhere.json', join(r, 'b/ghost.json'))],
  ["a symlink to a folder in a lone sidecar's name", (r) => fs.symlinkSync('.', join(r, 'b/ghost.json'))],
  ["a folder in the name of an image's sidecar", (r) => {
    fs.writeFileSync(join(r, 'b/Z.jpg'), 'z');
    fs.mkdirSync(join(r, 'b/Z.json'));
  }],
  ["a FIFO in the name of an image's sidecar", (r) => {
    fs.writeFileSync(join(r, 'b/Z.jpg'), 'z');
    mkfifo(join(r, 'b/Z.json'));
  }],
  ["a dangling symlink as an image's sidecar", (r) => {
    fs.writeFileSync(join(r, 'b/Z.jpg'), 'z');
    fs.symlinkSync('nowhere', join(r, 'b/Z.bin'));
  }],
  ["a folder as a RAW+JPEG pair's name-ext sidecar", (r) => {
    fs.writeFileSync(join(r, 'b/P.jpg'), 'j');
    fs.writeFileSync(join(r, 'b/P.CR2'), 'r');
    fs.writeFileSync(join(r, 'b/P.json'), JSON.stringify(sidecarData('P.CR2')));
    fs.mkdirSync(join(r, 'b/P.jpg.json'));
  }],
  ["a folder in a lone sidecar's name beside a look-alike", (r) => {
    fs.writeFileSync(join(r, 'b/Z.xyz'), 'z');
    fs.mkdirSync(join(r, 'b/Z.json'));
  }],
  ['a dangling symlink lone sidecar beside a look-alike', (r) => {
    fs.writeFileSync(join(r, 'b/Z.xyz'), 'z');
    fs.symlinkSync('nowhere', join(r, 'b/Z.json'));
  }],
  ["a symlinked image leading out of the root, a folder in its target's sidecar name", (r, out) => {
    fs.writeFileSync(join(out, 'P.jpg'), 'p');
    fs.mkdirSync(join(out, 'P.json'));
    fs.symlinkSync(join(out, 'P.jpg'), join(r, 'b/P.jpg'));
  }],
  ["a symlinked image leading out of the root, a dangling link as its target's sidecar", (r, out) => {
    fs.writeFileSync(join(out, 'P.jpg'), 'p');
    fs.symlinkSync('nowhere', join(out, 'P.bin'));
    fs.symlinkSync(join(out, 'P.jpg'), join(r, 'b/P.jpg'));
  }],
  ['a lone sidecar named by bytes that are not UTF-8', (r) => fs.writeFileSync(Buffer.concat([Buffer.from(join(r, 'b/G_')), Buffer.from([0xff]), Buffer.from('.json')]), '{}')],
  ['an image named by bytes that are not UTF-8', (r) => fs.writeFileSync(Buffer.concat([Buffer.from(join(r, 'b/G_')), Buffer.from([0xfe]), Buffer.from('.jpg')]), 'x')],
  ['a folder named by bytes that are not UTF-8', (r) => fs.mkdirSync(Buffer.concat([Buffer.from(join(r, 'b/d_')), Buffer.from([0xff])]))],
  // Not poison: both complete.
  ["a folder in a sidecar's name inside the quarantine folder", (r) => fs.mkdirSync(join(r, QUARANTINE_DIR, 'x', 'ghost.json'), { recursive: true })],
  ['a name that is not UTF-8 inside the index folder', (r) => {
    fs.mkdirSync(join(r, 'b/.image-sidecar'));
    fs.writeFileSync(Buffer.concat([Buffer.from(join(r, 'b/.image-sidecar/G_')), Buffer.from([0xff]), Buffer.from('.json')]), '{}');
  }],
  ['a folder named like the configuration file', (r) => fs.mkdirSync(join(r, 'b/.image-sidecar.json'))],
  ['a FIFO named like a lock and a temp file', (r) => {
    mkfifo(join(r, 'b/.Q.isc-lock'));
    mkfifo(join(r, `b/.Q.json.isc-tmp-0123abcd-${DEAD_PID}-zz`));
  }],
  ["a FIFO in an image's name beside its sidecar", (r) => {
    mkfifo(join(r, 'b/F.jpg'));
    fs.writeFileSync(join(r, 'b/F.json'), JSON.stringify(sidecarData('F.jpg')));
  }],
  ["a corrupt file in an image's sidecar name", (r) => {
    fs.writeFileSync(join(r, 'b/Z.jpg'), 'z');
    fs.writeFileSync(join(r, 'b/Z.json'), '{');
  }],
  ['a symlinked image into the root, a folder in its target folder that is a lone name', (r) => {
    fs.symlinkSync('../a/nothing.jpg', join(r, 'b/broken.jpg'));
  }],
];

for (const [name, poison] of POISONS) {
  test(`4 relink walk: stops where the scan's walk does (a folder, a name), lists a lone file it cannot read, never opens an image's sidecar — ${name}`, async () => {
    const top = tempDir();
    try {
      const root = join(top, 'lib');
      const outside = join(top, 'outside');
      fs.mkdirSync(outside);
      movedImage(root, 'a/IMG_1.jpg', 'b/IMG_1.jpg', ['a/IMG_1.json'], 1);
      poison(root, outside);
      const { own, scanned } = await bothPlans(root, { index: false });
      assert.deepEqual(own, scanned);
      if ('error' in scanned) {
        await assert.rejects(relink(root, { index: false }), { code: scanned.error });
        assert.ok(fs.existsSync(join(root, 'a/IMG_1.json')), 'moved although the scan is incomplete');
      }
    } finally {
      removeTree(top);
    }
  });
}

test('4 relink walk: a root that does not exist, or is a file, fails as the scan does', async () => {
  const top = tempDir();
  try {
    fs.writeFileSync(join(top, 'file'), 'x');
    for (const root of [join(top, 'missing'), join(top, 'file')]) {
      const { own, scanned } = await bothPlans(root, { index: false });
      assert.deepEqual(own, scanned, root);
    }
  } finally {
    removeTree(top);
  }
});

test('4 relink walk: with a shard, the shard\'s orphans (as the scan\'s)', async () => {
  const root = tempDir();
  try {
    for (let i = 0; i < 12; i++) movedImage(root, `a/IMG_${i}.jpg`, `b/IMG_${i}.jpg`, [`a/IMG_${i}.json`], i + 1);
    for (const index of [0, 1]) {
      const opts: PlanOptions = { index: false, shard: { index, count: 2 } };
      const { own, scanned } = await bothPlans(root, opts);
      assert.deepEqual(own, scanned, `shard ${index}/2`);
    }
  } finally {
    removeTree(root);
  }
});

test('4 relink walk: an orphan swapped for a symlink or a FIFO between plan and act is left alone (CONFLICT), its target untouched', async () => {
  const top = tempDir();
  try {
    const root = join(top, 'lib');
    movedImage(root, 'a/IMG_1.jpg', 'b/IMG_1.jpg', ['a/IMG_1.json'], 1);
    movedImage(root, 'a/IMG_2.jpg', 'b/IMG_2.jpg', ['a/IMG_2.json'], 2);
    fs.writeFileSync(join(top, 'victim.json'), fs.readFileSync(join(root, 'a/IMG_1.json')));
    const r = await relink(root, {
      index: false,
      now: () => {
        fs.rmSync(join(root, 'a/IMG_1.json'));
        fs.symlinkSync(join(top, 'victim.json'), join(root, 'a/IMG_1.json'));
        fs.rmSync(join(root, 'a/IMG_2.json'));
        mkfifo(join(root, 'a/IMG_2.json'));
        return new Date();
      },
    });
    assert.equal(r.relinked, 0);
    assert.deepEqual(r.skipped.map((s) => [s.rel, s.code]), [['a/IMG_1.json', 'CONFLICT'], ['a/IMG_2.json', 'CONFLICT']]);
    assert.deepEqual(names(join(root, 'b')), ['IMG_1.jpg', 'IMG_2.jpg']);
    assert.ok(fs.lstatSync(join(root, 'a/IMG_1.json')).isSymbolicLink());
    assert.ok(fs.existsSync(join(top, 'victim.json')));
  } finally {
    removeTree(top);
  }
});

/**
 * A small random library built from the odd cases: images (some moved, renamed, copied with their
 * times, deleted) with sidecars in both forms and formats, lone files of every kind, links, our
 * own names and folders, and now and then a file that cannot be read.
 */
function randomLibrary(rnd: () => number, top: string): { root: string; opts: PlanOptions } {
  const root = join(top, 'lib');
  const outside = join(top, 'out');
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(outside, { recursive: true });
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const chance = (p: number) => rnd() < p;
  const folders = ['', 'a', 'b', 'a/c', 'd'].filter((f) => f === '' || chance(0.8));
  for (const f of folders) fs.mkdirSync(join(root, f), { recursive: true });
  const stems = ['IMG_1', 'IMG_2', 'IMG_3', 'Caf\u00e9', 'Cafe\u0301', 'x'];
  const exts = ['jpg', 'JPG', 'CR2', 'png', 'xyz'];
  const free = (rel: string) => !fs.existsSync(join(root, rel)) && !isLink(join(root, rel));
  const at = (folder: string, name: string) => (folder === '' ? name : `${folder}/${name}`);
  const poisonP = chance(0.3) ? 0.08 : 0;
  let seed = 1 + Math.floor(rnd() * 1000);
  const images: string[] = [];
  const nImages = 1 + Math.floor(rnd() * 6);
  for (let i = 0; i < nImages; i++) {
    const stem = pick(stems);
    const name = `${stem}.${pick(exts)}`;
    const rel = at(pick(folders), name);
    if (!free(rel)) continue;
    // Few sizes: same-size, same-time images (decoys) come up.
    fs.writeFileSync(join(root, rel), bytes(pick([300, 301, 302, 303, 304, 305]), seed++));
    if (chance(0.3)) fs.utimesSync(join(root, rel), 1_700_000_000, 1_700_000_000);
    images.push(rel);
    // Its sidecars: stem and/or name-ext, JSON, bin or encrypted.
    const folder = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    const forms = [chance(0.7) ? `${stem}` : null, chance(0.4) ? name : null].filter((x) => x !== null);
    for (const base of forms) {
      const fmt = pick(['json', 'json', 'bin', 'enc', 'rkyv', 'legacy'] as const);
      const srel = at(folder, `${base}.${extOf(fmt)}`);
      if (free(srel)) writeRecord(join(root, srel), join(root, rel), fmt);
    }
  }
  // What happens to the images: moved, renamed, copied (cp -p), deleted, kept.
  for (const rel of images) {
    const r = rnd();
    const dest = at(pick(folders), r < 0.5 ? rel.slice(rel.lastIndexOf('/') + 1) : `${pick(stems)}.${pick(exts)}`);
    if (r < 0.6) {
      if (free(dest)) fs.renameSync(join(root, rel), join(root, dest));
    } else if (r < 0.7) {
      if (free(dest)) assert.equal(spawnSync('cp', ['-p', join(root, rel), join(root, dest)]).status, 0);
    } else if (r < 0.8) fs.rmSync(join(root, rel));
  }
  // Lone files of every kind, and our own names and folders.
  const odd = 2 + Math.floor(rnd() * 8);
  for (let k = 0; k < odd; k++) {
    const folder = pick(folders);
    const target = images.length > 0 ? join(root, pick(images)) : null;
    const record = target && fs.existsSync(target) ? recordOf(target) : { sidecar_info: { image_path: 'gone.jpg' }, face_detection: { faces: [] } };
    const kind = Math.floor(rnd() * 16);
    const base = pick(stems);
    const write = (name: string, text: string | Buffer) => {
      const rel = at(folder, name);
      if (free(rel)) fs.writeFileSync(join(root, rel), text);
    };
    switch (kind) {
      case 0: write('game_detection.json', JSON.stringify(record)); break;
      case 1: write(`${base}.json`, JSON.stringify({ ...record, games: [] })); break;
      case 2: write(`${base}.${pick(exts)}.json`, JSON.stringify({ title: base, photoTakenTime: { timestamp: '1' } })); break;
      case 3: write(`${base}.json`, '{"sidecar_info": {'); break;
      case 4: write(`${base}.json`, '{}'); break;
      case 5: write('.image-sidecar.json', JSON.stringify(record)); break;
      case 6: write(`.${base}.json.isc-tmp-0123abcd-${DEAD_PID}-zz`, JSON.stringify(record)); break;
      case 7: {
        const q = join(root, folder, chance(0.5) ? QUARANTINE_DIR : '.image-sidecar', 'x');
        fs.mkdirSync(q, { recursive: true });
        fs.writeFileSync(join(q, `${base}.json`), JSON.stringify(record));
        break;
      }
      case 8: {
        // A symlinked sidecar: to a file inside, outside, or nowhere.
        const rel = at(folder, `${base}.${pick(['json', 'bin'])}`);
        if (!free(rel)) break;
        const out = join(outside, `o${k}.json`);
        fs.writeFileSync(out, JSON.stringify(record));
        fs.symlinkSync(chance(1 - poisonP * 4) ? out : join(outside, 'nowhere'), join(root, rel));
        break;
      }
      case 9: write(`${base}.json`, JSON.stringify(record)); break; // an orphan of its own
      case 10: write(`${base}.${pick(exts)}.bin`, encodeSidecar(record as never, 'bin')); break;
      case 11: {
        // A symlinked image, into the root or out of it (its target's folder has sidecars too).
        const rel = at(folder, `${base}.jpg`);
        if (!free(rel)) break;
        if (chance(0.5) && target) fs.symlinkSync(target, join(root, rel));
        else {
          fs.writeFileSync(join(outside, `t${k}.jpg`), 't');
          if (chance(poisonP * 4)) fs.mkdirSync(join(outside, `t${k}.json`));
          else fs.writeFileSync(join(outside, `t${k}.json`), JSON.stringify(record));
          fs.symlinkSync(join(outside, `t${k}.jpg`), join(root, rel));
        }
        break;
      }
      case 12: write(`${base}.JSON`, JSON.stringify(record)); break;
      case 13: {
        // A symlinked folder holding an orphan-shaped file.
        const d = join(outside, `dir${k}`);
        fs.mkdirSync(d, { recursive: true });
        fs.writeFileSync(join(d, `${base}.json`), JSON.stringify(record));
        if (free(at(folder, `linkdir${k}`))) fs.symlinkSync(d, join(root, at(folder, `linkdir${k}`)));
        break;
      }
      default: {
        // Now and then a name that cannot be read: a folder or FIFO in a sidecar's name (lone or an image's).
        if (!chance(poisonP * 6)) break;
        const rel = at(folder, `${base}.${pick(['json', 'bin'])}`);
        if (!free(rel)) break;
        if (chance(0.5)) fs.mkdirSync(join(root, rel));
        else mkfifo(join(root, rel));
      }
    }
  }
  const opts: PlanOptions = { index: false, engine: 'inline' };
  if (chance(0.5)) opts.keyring = KEYRING;
  if (chance(0.3)) opts.imageExtensions = withExtraImageExtensions(['xyz']);
  if (chance(0.2)) opts.maxFileSize = 600;
  if (chance(0.2)) opts.accel = false;
  return { root, opts };
}

/** Every name under `dir` with its kind (a FIFO is never opened). */
function namesUnder(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel === '' ? d.name : `${rel}/${d.name}`;
    if (d.isDirectory()) {
      out.push(`${r}/`);
      out.push(...namesUnder(dir, r));
    } else out.push(d.isSymbolicLink() ? `${r}@` : d.isFIFO() ? `${r}|` : r);
  }
  return out;
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

test('4 relink walk: random libraries of the odd cases (seeded) — relink\'s plan is the plan of the scan\'s orphans', async () => {
  const failures: string[] = [];
  let unreadable = 0;
  let matched = 0;
  const TREES = campaign(120, 300);
  for (let n = 0; n < TREES; n++) {
    const seed = 9000 + n;
    const top = tempDir();
    try {
      const { root, opts } = randomLibrary(mulberry32(seed), top);
      const { own, scanned } = await bothPlans(root, opts);
      if (!('error' in own) && own.unmatched.some((u) => u.unreadable === true)) unreadable++;
      if (!('error' in scanned)) matched += scanned.matches.length;
      try {
        assert.deepEqual(own, scanned);
      } catch {
        if (failures.length < 5) failures.push(`seed ${seed} (${JSON.stringify({ ...opts, keyring: opts.keyring ? 'K' : undefined })}): own ${JSON.stringify(own).slice(0, 300)} / scan ${JSON.stringify(scanned).slice(0, 300)}\n  tree: ${namesUnder(root).join(' ')}`);
        else failures.push(`seed ${seed}`);
      }
    } finally {
      removeTree(top);
    }
  }
  assert.deepEqual(failures, [], `${failures.length} of ${TREES} trees differ:\n${failures.join('\n')}`);
  assert.ok(unreadable > TREES / 60, `trees with a lone file that cannot be read: ${unreadable}`);
  assert.ok(matched > TREES / 3, `matches: ${matched}`);
});

test('4 relink walk: the record of an orphan the options admit (bin and rkyv nested deeper than the default limit, JSON above the default size) is read under the same options in both plans', async () => {
  const root = tempDir();
  try {
    let nest: Record<string, unknown> = {};
    for (let i = 0; i < 600; i++) nest = { n: nest };
    for (const [k, format] of (['bin', 'rkyv'] as const).entries()) {
      fs.mkdirSync(join(root, 'a'), { recursive: true });
      fs.writeFileSync(join(root, `a/IMG_${k}.jpg`), bytes(700 + k, k + 1));
      const data = { ...recordOf(join(root, `a/IMG_${k}.jpg`)), deep: nest };
      fs.writeFileSync(join(root, `a/IMG_${k}.${format}`), encodeSidecar(data as never, format, { maxDepth: 1000 }));
      fs.mkdirSync(join(root, 'b'), { recursive: true });
      fs.renameSync(join(root, `a/IMG_${k}.jpg`), join(root, `b/IMG_${k}.jpg`));
    }
    const deep = await bothPlans(root, { index: false, maxDepth: 1000 });
    assert.deepEqual(deep.own, deep.scanned);
    assert.equal((deep.scanned as RelinkPlan).matches.length, 2, JSON.stringify(deep.scanned));

    fs.rmSync(join(root, 'a'), { recursive: true });
    fs.rmSync(join(root, 'b'), { recursive: true });
    movedImage(root, 'a/IMG_9.jpg', 'b/IMG_9.jpg', [], 9);
    const big = { ...recordOf(join(root, 'b/IMG_9.jpg')), pad: 'x'.repeat(65 * 1024 * 1024) };
    fs.writeFileSync(join(root, 'a/IMG_9.json'), JSON.stringify(big));
    const large = await bothPlans(root, { index: false, maxFileSize: 80 * 1024 * 1024 });
    assert.deepEqual(large.own, large.scanned);
    assert.equal((large.scanned as RelinkPlan).matches.length, 1, JSON.stringify(large.scanned));
  } finally {
    removeTree(root);
  }
});

test('4 relink walk: run as another user — a folder it cannot list stops it; a sidecar its permissions hide beside an image is no evidence either way, a lone one is listed unreadable; findOrphans refuses all three', async (t) => {
  if (process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status !== 0) {
    t.skip('needs root and setpriv to run as nobody');
    return;
  }
  const top = tempDir();
  try {
    fs.chmodSync(top, 0o755);
    const root = join(top, 'lib');
    movedImage(root, 'a/IMG_1.jpg', 'b/IMG_1.jpg', ['a/IMG_1.json'], 1);
    const relinkJs = fileURLToPath(new URL('../src/ops/relink.js', import.meta.url));
    const orphansJs = fileURLToPath(new URL('../src/ops/orphans.js', import.meta.url));
    const code = `
      const { planRelink } = await import(${JSON.stringify(relinkJs)});
      const { findOrphans } = await import(${JSON.stringify(orphansJs)});
      const root = ${JSON.stringify(root)};
      const of = async (f) => { try { return await f(); } catch (e) { return { error: e.code }; } };
      const own = await of(() => planRelink(root, { index: false }));
      const scanned = await of(async () => planRelink(root, { index: false }, await findOrphans(root, { index: false })));
      process.stdout.write(JSON.stringify({ own, scanned }));`;
    const asNobody = () => {
      spawnSync('chmod', ['-R', 'a+rX', root]);
      for (const [p, mode] of hidden) fs.chmodSync(p, mode);
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', code], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as { own: Outcome; scanned: Outcome };
    };
    let hidden: [string, number][] = [];
    const clean = asNobody();
    assert.deepEqual(clean.own, clean.scanned);
    assert.equal((clean.own as RelinkPlan).matches.length, 1);
    const cases: [string, () => void][] = [
      ["an image's sidecar", () => {
        fs.writeFileSync(join(root, 'b/Z.jpg'), 'z');
        fs.writeFileSync(join(root, 'b/Z.json'), JSON.stringify(sidecarData('Z.jpg')));
        hidden = [[join(root, 'b/Z.json'), 0o600]];
      }],
      ['a lone sidecar', () => {
        fs.writeFileSync(join(root, 'b/L.json'), JSON.stringify(sidecarData('L.jpg')));
        hidden = [[join(root, 'b/L.json'), 0o600]];
      }],
      ['a folder', () => {
        fs.mkdirSync(join(root, 'b/sub'));
        hidden = [[join(root, 'b/sub'), 0o700]];
      }],
    ];
    for (const [name, make] of cases) {
      make();
      const { own, scanned } = asNobody();
      // findOrphans (cleanup's guard) refuses every one; relink stops only where a folder hides names.
      assert.deepEqual(scanned, { error: 'INCOMPLETE_SCAN' }, name);
      if (name === 'a folder') assert.deepEqual(own, scanned, name);
      else {
        const plan = own as RelinkPlan;
        assert.deepEqual(plan.matches.map((m) => m.imageRel), ['b/IMG_1.jpg'], name);
        const unreadable = plan.unmatched.filter((u) => u.unreadable === true).map((u) => u.sidecars[0]);
        assert.deepEqual(unreadable, name === 'a lone sidecar' ? ['b/L.json'] : [], name);
      }
      for (const [p] of hidden) fs.rmSync(p, { recursive: true });
      hidden = [];
    }
  } finally {
    removeTree(top);
  }
});
