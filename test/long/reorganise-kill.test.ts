/**
 * SIGKILL at random points of `mv`, `cp` and `relink` (50 trials each, 20 more of `mv` across file
 * systems; docs/REORGANISE.md): right
 * after the kill no image is without its sidecars and no result is lost; the next run of the same
 * command finishes the job, and nothing of ours is left behind (journal, staging folder, lock);
 * after a killed relink and the next one, restore brings every result back, byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { join } from 'node:path';
import { QUARANTINE_DIR } from '../../src/discovery/own-folders.js';
import { restore } from '../../src/ops/restore.js';
import { isSidecarError } from '../../src/errors.js';
import { isLockAsideName, isLockName } from '../../src/fs/temp-files.js';
import { CLI_PATH } from '../helpers/cli.js';
import { mulberry32 } from '../helpers/mulberry32.js';
import { removeTree, tempDir } from '../helpers/tree.js';

const TRIALS = 50;
/** Across file systems every file is copied (slower): fewer trials, beyond what the promise needs. */
const TRIALS_ACROSS = 20;
const IMAGES = 60;

const hash = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');

interface Lib {
  root: string;
  /** Image name → its bytes' hash and its sidecars (name → bytes' hash), as names relative to the image's folder. */
  images: Map<string, { image: string; sidecars: Map<string, string> }>;
}

/** IMAGES images in src/, each with IMG_i.json; every third also IMG_i.jpg.json, every fifth IMG_i.bin (mv and cp). */
function library(withIdentity: boolean): Lib {
  const root = tempDir('isc-kill-');
  fs.mkdirSync(join(root, 'src'));
  fs.mkdirSync(join(root, 'dst'));
  const images: Lib['images'] = new Map();
  for (let i = 0; i < IMAGES; i++) {
    const name = `IMG_${i}.jpg`;
    const p = join(root, 'src', name);
    fs.writeFileSync(p, Buffer.alloc(1000 + i, i & 0xff));
    const st = fs.statSync(p, { bigint: true });
    const info: Record<string, unknown> = { image_path: name };
    if (withIdentity) info.image = { size: Number(st.size), mtime_ns: st.mtimeNs.toString(), operations: ['face_detection'] };
    const sidecars = new Map<string, string>();
    const write = (file: string, tag: string) => {
      fs.writeFileSync(join(root, 'src', file), JSON.stringify({ sidecar_info: info, face_detection: { faces: [{ tag, i }] } }));
      sidecars.set(file.replace(`IMG_${i}`, '@'), hash(join(root, 'src', file)));
    };
    write(`IMG_${i}.json`, 'stem');
    if (i % 3 === 0) write(`IMG_${i}.jpg.json`, 'name-ext');
    if (i % 5 === 0 && !withIdentity) write(`IMG_${i}.bin`, 'bin'); // a third form (reads take it first; only its bytes matter here)
    images.set(name, { image: hash(p), sidecars });
  }
  return { root, images };
}

function run(args: string[], killAfterMs: number | null): Promise<{ code: number | null; killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args, '--json', '-q'], { stdio: 'ignore' });
    let killed = false;
    const timer = killAfterMs === null ? null : setTimeout(() => ((killed = true), child.kill('SIGKILL')), killAfterMs);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, killed });
    });
  });
}

/** For every image that exists in `dir` (under `rename` of its name): all its sidecars beside it, with their bytes. */
function assertEachImageHasItsSidecars(lib: Lib, dir: string, where: string): number {
  let present = 0;
  for (const [name, want] of lib.images) {
    const p = join(lib.root, dir, name);
    if (!fs.existsSync(p)) continue;
    present++;
    assert.equal(hash(p), want.image, `${where}: ${dir}/${name} bytes`);
    const stem = name.slice(0, -4);
    for (const [pattern, h] of want.sidecars) {
      const file = pattern.replace('@', stem);
      assert.ok(fs.existsSync(join(lib.root, dir, file)), `${where}: ${dir}/${name} is without ${file}`);
      assert.equal(hash(join(lib.root, dir, file)), h, `${where}: ${dir}/${file} bytes`);
    }
  }
  return present;
}

/** Ours, left behind: a journal, a staging folder, a lock, a temp file (a lock a takeover set aside is swept later by design: fs/lock.ts). */
function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.startsWith('.isc-move-') || n.includes('.isc-stage-') || n.endsWith('.isc-lock') || n.includes('.isc-tmp-'));
}

const ownAsides = (dir: string) => fs.readdirSync(dir).filter((n) => !n.endsWith('.isc-lock-aside'));

async function measure(args: (lib: Lib) => string[], identity: boolean): Promise<number> {
  const lib = library(identity);
  try {
    const t0 = performance.now();
    const r = await run(args(lib), null);
    assert.equal(r.code, 0);
    return performance.now() - t0;
  } finally {
    removeTree(lib.root);
  }
}

const srcImages = (lib: Lib) => [...lib.images.keys()].map((n) => join(lib.root, 'src', n)).filter((p) => fs.existsSync(p));

/** The destination: `dst` in the library, or a folder on another file system (/dev/shm) linked there as `dst`. */
function useOtherFs(lib: Lib): void {
  const other = fs.mkdtempSync('/dev/shm/isc-kill-');
  fs.rmdirSync(join(lib.root, 'dst'));
  fs.symlinkSync(other, join(lib.root, 'dst'));
}

const otherFs = fs.existsSync('/dev/shm') && fs.statSync('/dev/shm').dev !== fs.statSync(tempDir()).dev;

for (const across of [false, true]) test(`mv${across ? ' across file systems' : ''} killed at ${across ? TRIALS_ACROSS : TRIALS} random points: no image without its sidecars, the next mv finishes`, { timeout: 900_000, skip: across && !otherFs ? 'no second file system' : false }, async () => {
  const args = (lib: Lib) => ['mv', ...srcImages(lib), join(lib.root, 'dst')];
  const full = await (async () => {
    const lib = library(false);
    if (across) useOtherFs(lib);
    try {
      const t0 = performance.now();
      assert.equal((await run(args(lib), null)).code, 0);
      return performance.now() - t0;
    } finally {
      if (across) removeTree(fs.realpathSync(join(lib.root, 'dst')));
      removeTree(lib.root);
    }
  })();
  const rnd = mulberry32(across ? 64 : 61);
  for (let t = 0; t < (across ? TRIALS_ACROSS : TRIALS); t++) {
    const lib = library(false);
    if (across) useOtherFs(lib);
    try {
      await run(args(lib), rnd() * full);
      const a = assertEachImageHasItsSidecars(lib, 'src', `trial ${t}`);
      const b = assertEachImageHasItsSidecars(lib, 'dst', `trial ${t}`);
      assert.ok(a + b >= IMAGES, `trial ${t}: every image is somewhere (${a} + ${b})`);
      const again = srcImages(lib);
      if (again.length > 0) assert.equal((await run(['mv', ...again, join(lib.root, 'dst')], null)).code, 0, `trial ${t}: the next mv`);
      // Killed after its last unit, before removing its journal: the next mv into the folder (here
      // of a source that is gone, a finding) removes it.
      else await run(['mv', join(lib.root, 'src', 'IMG_0.jpg'), join(lib.root, 'dst')], null);
      assert.equal(assertEachImageHasItsSidecars(lib, 'dst', `trial ${t} after`), IMAGES);
      assert.deepEqual(ownAsides(join(lib.root, 'src')), [], `trial ${t}: the sources are gone`);
      assert.deepEqual(leftovers(join(lib.root, 'dst')), [], `trial ${t}: nothing of ours left`);
    } finally {
      if (across) removeTree(fs.realpathSync(join(lib.root, 'dst')));
      removeTree(lib.root);
    }
  }
});

test(`cp killed at ${TRIALS} random points: the sources untouched, every copied image with its sidecars, the next cp finishes`, { timeout: 600_000 }, async () => {
  const args = (lib: Lib) => ['cp', ...srcImages(lib), join(lib.root, 'dst')];
  const full = await measure(args, false);
  const rnd = mulberry32(62);
  for (let t = 0; t < TRIALS; t++) {
    const lib = library(false);
    try {
      await run(args(lib), rnd() * full);
      assert.equal(assertEachImageHasItsSidecars(lib, 'src', `trial ${t}`), IMAGES);
      assertEachImageHasItsSidecars(lib, 'dst', `trial ${t}`);
      const missing = [...lib.images.keys()].filter((n) => !fs.existsSync(join(lib.root, 'dst', n))).map((n) => join(lib.root, 'src', n));
      if (missing.length > 0) assert.equal((await run(['cp', ...missing, join(lib.root, 'dst')], null)).code, 0, `trial ${t}: the next cp`);
      // Killed after its last unit, before removing its journal: the next cp into the folder (here
      // of an image already there, a finding) removes it.
      else await run(['cp', join(lib.root, 'src', 'IMG_0.jpg'), join(lib.root, 'dst')], null);
      assert.equal(assertEachImageHasItsSidecars(lib, 'dst', `trial ${t} after`), IMAGES);
      assert.deepEqual(leftovers(join(lib.root, 'dst')), [], `trial ${t}: nothing of ours left`);
      // No sidecar at the destination without its image (a copy begun and undone leaves nothing).
      const extra = ownAsides(join(lib.root, 'dst')).filter((n) => !n.endsWith('.jpg') && !lib.images.has(n.replace(/(\.jpg)?\.(json|bin)$/, '.jpg')));
      assert.deepEqual(extra, [], `trial ${t}`);
    } finally {
      removeTree(lib.root);
    }
  }
});

test(`relink killed at ${TRIALS} random points: no result lost, the next relink finishes, restore undoes it`, { timeout: 600_000 }, async () => {
  const moveImages = (lib: Lib) => {
    for (const n of lib.images.keys()) fs.renameSync(join(lib.root, 'src', n), join(lib.root, 'dst', n));
  };
  const full = await (async () => {
    const lib = library(true);
    try {
      moveImages(lib);
      const t0 = performance.now();
      assert.equal((await run(['relink', lib.root], null)).code, 0);
      return performance.now() - t0;
    } finally {
      removeTree(lib.root);
    }
  })();
  const rnd = mulberry32(63);
  for (let t = 0; t < TRIALS; t++) {
    const lib = library(true);
    try {
      moveImages(lib);
      await run(['relink', lib.root], rnd() * full);
      // Each result is at its old place, next to its image, or both (one file, two names).
      for (const [name, want] of lib.images) {
        for (const [pattern, h] of want.sidecars) {
          const file = pattern.replace('@', name.slice(0, -4));
          const at = ['src', 'dst'].filter((d) => fs.existsSync(join(lib.root, d, file)));
          assert.ok(at.length > 0, `trial ${t}: ${file} lost`);
          for (const d of at) assert.equal(hash(join(lib.root, d, file)), h);
        }
      }
      assert.equal((await run(['relink', lib.root], null)).code, 0, `trial ${t}: the next relink`);
      assert.equal(assertEachImageHasItsSidecars(lib, 'dst', `trial ${t} after`), IMAGES);
      // The killed run's lock on a sidecar it had already moved stays until the next writer of that
      // image takes it over (its holder is dead: fs/lock.ts); nothing else of ours, and no orphan.
      assert.deepEqual(ownAsides(join(lib.root, 'src')).filter((n) => !n.endsWith('.isc-lock')), [], `trial ${t}: no orphan left`);
      assert.deepEqual(leftovers(join(lib.root, 'dst')).filter((n) => !n.endsWith('.isc-lock')), []);
      // restore undoes both runs (the newest first): every result back at its old place, byte for
      // byte, and no quarantine folder left.
      for (let j = 0; j < 3 && fs.existsSync(join(lib.root, QUARANTINE_DIR)); j++) await restore(lib.root).catch(() => undefined);
      for (const [name, want] of lib.images) {
        for (const [pattern, h] of want.sidecars) {
          const file = pattern.replace('@', name.slice(0, -4));
          assert.ok(fs.existsSync(join(lib.root, 'src', file)), `trial ${t}: ${file} not restored`);
          assert.equal(hash(join(lib.root, 'src', file)), h, `trial ${t}: ${file} restored with other bytes`);
        }
      }
      // A run killed between making its folder and writing the manifest's temp file leaves that
      // folder empty, which restore takes for one being written until it is an hour old
      // (ops/quarantine-folder.ts): nothing else may be left, and once aged restore removes it.
      // The killed run's quarantine lock, taken over by the next run, is left aside for ten minutes
      // (fs/lock.ts), then swept by the next restore, cleanup or relink.
      const base = join(lib.root, QUARANTINE_DIR);
      if (fs.existsSync(base)) {
        const left = fs.readdirSync(base);
        for (const name of left.filter((n) => !isLockName(n))) assert.deepEqual(fs.readdirSync(join(base, name)), [], `trial ${t}: quarantine folder ${name} holds something`);
        const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
        for (const name of left) fs.utimesSync(join(base, name), twoHoursAgo, twoHoursAgo);
        // Nothing to restore there: restore removes the aged folders and says so (NOT_FOUND).
        await restore(lib.root).catch((e: unknown) => {
          if (!isSidecarError(e) || e.code !== 'NOT_FOUND') throw e;
        });
      }
      // (The aside of a lock taken over cannot be aged here: it goes by its ctime too.)
      assert.ok(!fs.existsSync(base) || fs.readdirSync(base).every(isLockAsideName), `trial ${t}: a quarantine folder is left`);
    } finally {
      removeTree(lib.root);
    }
  }
});
