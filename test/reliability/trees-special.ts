/**
 * Hostile-tree cases that need more than one process or a patched file system call:
 *   - real EACCES: the tree operations run as user nobody (uid 65534) over a tree where root
 *     made one sidecar and one folder unreadable (root itself cannot be denied);
 *   - FIFOs where sidecar files are expected, and a sidecar swapped for a FIFO between listing
 *     and reading — in a child process, so that a blocking open() cannot hang the runner;
 *   - a read-only file system: a tmpfs remounted read-only inside a private mount namespace
 *     (unshare -m), so nothing outside the child ever sees it;
 *   - convert while another process saves into the sidecar it is converting.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';
import { encodeSidecar } from '../../src/formats/codec.js';
import { readSidecar } from '../../src/ops/read.js';
import { saveSidecar } from '../../src/ops/save.js';
import { convert } from '../../src/ops/convert.js';
import type { JsonObject } from '../../src/types.js';
import { Child, CHILD_SCRIPT, runChild } from './child.js';
import { snapshotTree } from './fs-util.js';
import { imageName } from './models.js';
import { jsonBytes } from './tally.js';
import { check, checkNothingLost, errorCode, healthyPairs, SMALL_SIDECAR, type TreeCase } from './tree-kit.js';

const NOBODY = 65534;
const json = (d: JsonObject) => encodeSidecar(d, 'json');

interface ChildError {
  code: string;
  message: string;
  sidecarError: boolean;
}
type Outcome<T> = { ok: true; value: T } | { ok: false; error: ChildError };

interface TreeOpsResult {
  uid: number;
  scanned: Outcome<{ complete: boolean; problems: { path: string; code: string }[]; counts: Record<string, number>; filesIgnored: number }>;
  records: { category: string; paths: string[]; findings: string[] }[];
  orphans: Outcome<string[]>;
  cleaned: Outcome<{ removed: number; orphans: number }>;
  converted: Outcome<{ converted: number; failed: number; scanComplete: boolean }> | null;
}

const codeOf = (o: Outcome<unknown> | null | undefined) => (o === null || o === undefined ? 'none' : o.ok ? 'OK' : o.error.code);

/** Make every directory under `root` (and root) world-readable, so another user can walk it. */
function openUp(root: string): void {
  fs.chmodSync(root, 0o755);
  for (const d of fs.readdirSync(root, { withFileTypes: true, recursive: true })) {
    const p = path.join(d.parentPath ?? (d as unknown as { path: string }).path, d.name);
    fs.chmodSync(p, d.isDirectory() ? 0o755 : 0o644);
  }
}

// ---------------------------------------------------------------------------------------------

const eaccesAsNobody: TreeCase = {
  id: 'eacces-nobody',
  title: 'unreadable file and folder (EACCES, tree operations run as user nobody)',
  async run(row, root) {
    if (process.getuid?.() !== 0) {
      row.skipped = 'needs root to run the tree operations as another user';
      return;
    }
    const photos = path.join(root, 'photos');
    healthyPairs(path.join(photos, 'a'), 20);
    fs.writeFileSync(path.join(photos, 'a', 'IMG_1.jpg'), 'jpeg');
    fs.writeFileSync(path.join(photos, 'a', 'IMG_1.json'), json(SMALL_SIDECAR));
    fs.writeFileSync(path.join(photos, 'a', 'LOCKED_ALONE.json'), json(SMALL_SIDECAR)); // unreadable and without image
    const locked = path.join(photos, 'locked');
    healthyPairs(locked, 2, 'IN');
    fs.writeFileSync(path.join(photos, 'a', 'ORPHAN.json'), json(SMALL_SIDECAR)); // a true orphan
    openUp(root);
    fs.chmodSync(path.join(photos, 'a', 'IMG_1.json'), 0o000);
    fs.chmodSync(path.join(photos, 'a', 'LOCKED_ALONE.json'), 0o000);
    fs.chmodSync(locked, 0o000);
    const before = snapshotTree(root);

    let r: TreeOpsResult;
    try {
      r = await runChild<TreeOpsResult>({ cmd: 'tree-ops', root }, { uid: NOBODY, gid: NOBODY, preload: 'all' }, 60_000);
    } catch (e) {
      row.skipped = `could not run a child process as uid ${NOBODY}: ${(e as Error).message.split('\n')[0]}`;
      return;
    } finally {
      fs.chmodSync(locked, 0o755);
    }
    check(row, r.uid === NOBODY, `the child ran as uid ${r.uid}`);
    check(row, r.scanned.ok && !r.scanned.value.complete, `scan: ${JSON.stringify(r.scanned).slice(0, 300)}`);
    if (r.scanned.ok) {
      check(row, r.scanned.value.problems.some((p) => p.path === locked && p.code === 'PERMISSION'), `the locked folder is not a PERMISSION problem: ${JSON.stringify(r.scanned.value.problems)}`);
    }
    for (const f of ['IMG_1.json', 'LOCKED_ALONE.json']) {
      const rec = r.records.find((x) => x.paths.includes(path.join(photos, 'a', f)));
      check(row, rec?.category === 'unreadable', `${f} (mode 000) is "${rec?.category}", expected unreadable`);
    }
    const unreadable = (p: string) => p.startsWith(`${locked}/`) || /\/(IMG_1|LOCKED_ALONE)\.json$/.test(p);
    const wrongOrphans = r.records.filter((x) => x.category === 'orphan' && x.paths.some(unreadable));
    check(row, wrongOrphans.length === 0, `unreadable files reported as orphans: ${JSON.stringify(wrongOrphans)}`);
    check(row, codeOf(r.orphans) === 'INCOMPLETE_SCAN', `findOrphans: ${codeOf(r.orphans)}`);
    check(row, codeOf(r.cleaned) === 'INCOMPLETE_SCAN', `cleanup: ${codeOf(r.cleaned)}`);
    checkNothingLost(row, before, root);
  },
};

// ---------------------------------------------------------------------------------------------

function fifoTree(root: string): { photos: string; fifos: string[] } {
  const photos = path.join(root, 'photos');
  healthyPairs(photos, 10);
  fs.writeFileSync(path.join(photos, 'IMG_F.jpg'), 'jpeg');
  const fifos = [path.join(photos, 'IMG_F.json'), path.join(photos, 'ALONE.json')];
  for (const f of fifos) spawnSync('mkfifo', [f]);
  return { photos, fifos };
}

async function treeOpsGuarded(row: Parameters<TreeCase['run']>[0], root: string, convertTo?: 'bin'): Promise<TreeOpsResult | null> {
  try {
    return await runChild<TreeOpsResult>({ cmd: 'tree-ops', root, convert: convertTo }, { preload: 'all' }, 30_000);
  } catch (e) {
    check(row, false, `tree operations did not finish within 30 s (a blocking open?): ${(e as Error).message.split('\n')[0]}`);
    return null;
  }
}

const fifoKept: TreeCase = {
  id: 'fifo-kept',
  title: 'FIFOs where sidecar files are expected: no hang, never orphans, kept',
  standsFor: 'an unreadable sidecar file (open() on a FIFO would block)',
  async run(row, root) {
    const { photos, fifos } = fifoTree(root);
    if (!fifos.every((f) => fs.existsSync(f))) {
      row.skipped = 'mkfifo is not available';
      return;
    }
    const before = snapshotTree(root);
    const r = await treeOpsGuarded(row, root, 'bin');
    if (!r) return;
    check(row, r.records.every((x) => x.category !== 'orphan' || !x.paths.some((p) => fifos.includes(p))), 'a FIFO was declared an orphan');
    check(row, codeOf(r.converted) === 'OK', `convert: ${codeOf(r.converted)}`);
    // A clear error, no hang: the image's sidecar is out of reach, never "none" (docs/PAIRING.md §1).
    const read = await errorCode(() => readSidecar(path.join(photos, 'IMG_F.jpg')));
    check(row, read === 'IO', `reading the image beside a FIFO: ${read}, expected IO (its sidecar cannot be read)`);
    checkNothingLost(row, before, root, (rel) => /^photos\/OK_\d+\.json$/.test(rel));
  },
};

const fifoReported: TreeCase = {
  id: 'fifo-reported',
  title: 'FIFOs where sidecar files are expected are reported as unreadable',
  standsFor: 'an unreadable sidecar file',
  async run(row, root) {
    const { fifos } = fifoTree(root);
    if (!fifos.every((f) => fs.existsSync(f))) {
      row.skipped = 'mkfifo is not available';
      return;
    }
    const r = await treeOpsGuarded(row, root);
    if (!r) return;
    for (const f of fifos) {
      const rec = r.records.find((x) => x.paths.includes(f));
      check(row, rec?.category === 'unreadable', `${path.basename(f)} (a FIFO) is ${rec ? `"${rec.category}"` : 'not in any record'}, expected unreadable`);
    }
    check(row, r.scanned.ok && !r.scanned.value.complete, 'the scan claims to be complete');
  },
};

/** A sidecar replaced by a FIFO after the folder was listed and before it is read. */
const fifoSwappedDuringScan: TreeCase = {
  id: 'fifo-swap',
  title: 'a sidecar replaced by a FIFO while a scan runs: no hang',
  async run(row, root) {
    const photos = path.join(root, 'photos');
    healthyPairs(photos, 10);
    const victim = path.join(photos, 'OK_3.json');
    const child = new Child({ preload: 'all' });
    try {
      await child.ready;
      child.send({ cmd: 'fifo-swap', root, victim });
      check(row, (await child.waitFor((l) => l === 'swapped', 30_000)) !== null, `the swap never happened: ${child.stderr}`);
      // Ten small files take milliseconds; seconds mean an open() blocked on the FIFO.
      const done = await child.waitFor((l) => l.startsWith('done ') || l.startsWith('error '), 5_000);
      if (done === null) {
        check(row, false, 'the scan hung: no result 5 s after the sidecar became a FIFO (open() blocks on a FIFO without a writer)');
        return;
      }
      const r = JSON.parse(done.slice(5)) as { complete: boolean; categories: string[] };
      check(row, done.startsWith('done ') && r.categories.includes('unreadable') && !r.complete, `scan finished but: ${done}`);
    } finally {
      await child.kill();
    }
  },
};

// ---------------------------------------------------------------------------------------------

interface ReadOnlyResult {
  save: Outcome<unknown>;
  saveNew: Outcome<unknown>;
  convert: Outcome<{ converted: number; failed: number; errors: ({ code: string; message: string } | undefined)[] }>;
  cleanup: Outcome<{ removed: number; skipped: { code: string }[] }>;
  reads: Outcome<Record<string, JsonObject>>;
  before: Record<string, string>;
  after: Record<string, string>;
}

async function readOnlyRun(row: Parameters<TreeCase['run']>[0], root: string): Promise<ReadOnlyResult | null> {
  if (process.getuid?.() !== 0) {
    row.skipped = 'needs root for unshare -m and mount';
    return null;
  }
  try {
    return await runChild<ReadOnlyResult>({ cmd: 'readonly', dir: root }, { wrap: ['unshare', '-m', '--propagation', 'private'], preload: 'all' }, 60_000);
  } catch (e) {
    row.skipped = `no private read-only mount here (unshare -m + mount -o remount,ro): ${(e as Error).message.split('\n')[0].slice(0, 200)}`;
    return null;
  }
}

/** A clear error: READ_ONLY, and the message says so. */
const saysReadOnly = (o: Outcome<unknown>) => !o.ok && o.error.code === 'READ_ONLY' && /EROFS|read-only/i.test(o.error.message);

const readOnlyFs: TreeCase = {
  id: 'read-only-fs',
  title: 'read-only file system during save and convert',
  standsFor: 'a read-only mount (tmpfs remounted ro in a private mount namespace)',
  async run(row, root) {
    const r = await readOnlyRun(row, root);
    if (!r) return;
    check(row, saysReadOnly(r.save), `save into an existing sidecar: ${JSON.stringify(r.save)}`);
    check(row, saysReadOnly(r.saveNew), `save of a new sidecar: ${JSON.stringify(r.saveNew)}`);
    const conv = r.convert;
    check(
      row,
      conv.ok ? conv.value.converted === 0 && conv.value.failed > 0 && conv.value.errors.every((e) => e?.code === 'READ_ONLY') : conv.error.code === 'READ_ONLY',
      `convert: ${JSON.stringify(conv).slice(0, 300)}`,
    );
    check(row, r.reads.ok && Object.keys(r.reads.value).length === 4, `reads on the read-only tree: ${JSON.stringify(r.reads).slice(0, 200)}`);
    check(row, Object.keys(r.before).length === 10, `fixture: ${Object.keys(r.before).length} files`);
    for (const [name, hash] of Object.entries(r.before)) {
      const same = r.after[name] === hash;
      check(row, same, `${name} changed on the read-only mount`);
      if (!same) row.recordsLost++;
    }
  },
};

const readOnlyCleanup: TreeCase = {
  id: 'read-only-cleanup',
  title: 'read-only file system during cleanup: a clear READ_ONLY error',
  standsFor: 'a read-only mount (tmpfs remounted ro in a private mount namespace)',
  async run(row, root) {
    const r = await readOnlyRun(row, root);
    if (!r) return;
    const cl = r.cleanup;
    check(row, cl.ok ? cl.value.removed === 0 && cl.value.skipped.every((s) => s.code === 'READ_ONLY') : saysReadOnly(cl), `cleanup: ${JSON.stringify(cl).slice(0, 300)}`);
    check(row, r.after['IMG_ORPHAN.json'] === r.before['IMG_ORPHAN.json'], 'the orphan changed on the read-only mount');
  },
};

// ---------------------------------------------------------------------------------------------

const requireCjs = createRequire(import.meta.url);
const fsCjs = requireCjs('node:fs') as typeof fs;

/**
 * Run `fn` with `hook` called before every fs.renameSync (the call the atomic writer commits
 * with). The library imports node:fs as an ES module; syncBuiltinESMExports carries the patch
 * over to its bindings. Only valid with the inline engine (worker threads load their own fs).
 */
async function withRenameHook<T>(hook: (from: string, to: string) => void, fn: () => Promise<T>): Promise<T> {
  const original = fsCjs.renameSync;
  fsCjs.renameSync = function renameSyncHooked(from: fs.PathLike, to: fs.PathLike) {
    hook(String(from), String(to));
    return original.call(fsCjs, from, to);
  };
  syncBuiltinESMExports();
  try {
    return await fn();
  } finally {
    fsCjs.renameSync = original;
    syncBuiltinESMExports();
  }
}

/**
 * convert reads IMG_000.json, and right before it commits IMG_000.bin another process saves a
 * new operation into IMG_000.json (under the sidecar lock, as saveSidecar does). The save was
 * acknowledged; it must still be there after convert.
 */
const convertDuringSave: TreeCase = {
  id: 'convert-during-save',
  title: 'convert while another process saves into the sidecar being converted',
  async run(row, root) {
    const dir = path.join(root, 'photos');
    healthyPairs(dir, 4);
    const image = path.join(dir, imageName(0));
    fs.writeFileSync(image, 'jpeg');
    fs.writeFileSync(image.replace(/jpg$/, 'json'), json({ face_detection: { success: true, faces: [] } }));
    const value = { success: true, objects: [{ class_name: 'person', confidence: 0.8123456835746765 }] };
    // The saver runs concurrently (convert holds the sidecar lock at this point, so the save must
    // wait for it rather than land between convert's read and its removal of the source).
    let saving: Promise<string> | null = null;
    await withRenameHook(
      (_from, to) => {
        if (saving === null && path.basename(to) === 'IMG_000.bin') {
          saving = new Promise<string>((resolve) => {
            const child = spawn(process.execPath, [CHILD_SCRIPT, 'save'], { stdio: ['pipe', 'pipe', 'pipe'] });
            let out = '';
            let err = '';
            const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
            child.stdout.on('data', (b: Buffer) => (out += b.toString()));
            child.stderr.on('data', (b: Buffer) => (err += b.toString()));
            child.on('close', () => {
              clearTimeout(timer);
              resolve(out.split('\n').find((l) => l.startsWith('ok ')) ?? `failed: ${out} ${err}`);
            });
            child.stdin.end(`${JSON.stringify({ cmd: 'save-once', image, op: 'yolov8', value })}\n`);
          });
        }
      },
      () => convert(root, 'bin', { engine: 'inline' }),
    );
    const saved = saving === null ? 'the hook never fired' : await (saving as Promise<string>);
    check(row, saved.startsWith('ok '), `the concurrent save did not run: ${saved}`);
    const data = await readSidecar(image).catch(() => ({}) as JsonObject);
    const kept = JSON.stringify(data.yolov8) === JSON.stringify(value);
    check(row, kept, `the save acknowledged during convert is gone (sidecar now holds: ${Object.keys(data).join(', ')})`);
    if (!kept) {
      row.recordsLost++;
      row.bytesLost += jsonBytes(value);
    }
    // The concurrent save may also legitimately be refused; nothing else in the folder may be lost.
    check(row, (await errorCode(() => saveSidecar(image, 'after', {}))) === 'OK', 'saving after convert failed');
  },
};

export const SPECIAL_TREE_CASES: readonly TreeCase[] = [eaccesAsNobody, fifoKept, fifoReported, fifoSwappedDuringScan, readOnlyFs, readOnlyCleanup, convertDuringSave];

