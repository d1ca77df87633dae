/**
 * Child process for the reliability suite (test/reliability/*). It loads the library, prints
 * "ready", reads ONE JSON command line on stdin, runs it and prints result lines. The parent
 * may SIGKILL it at any moment; every line is written synchronously, so what the parent has
 * read is exactly what happened before the kill.
 *
 * argv[2] (save | convert | lock | all) names the library modules to load before "ready".
 *
 * Commands (see test/reliability/child.ts for the parent side):
 *   save-loop    saves k = start .. start+count-1 of the crash model; "ok k" | "refused k CODE"
 *   convert      convert(root, format); "started", then "done <report summary JSON>"
 *   hold-lock    take a sidecar lock and hold it forever; "locked"
 *   saves        one process of the concurrency run; "done <stats JSON>"
 *   save-once    one save; "ok <path>"
 *   tree-ops     scan + findOrphans + cleanup (+ convert) over a tree, every outcome as JSON
 *                (run as uid nobody for real EACCES, or just out of process as a hang guard)
 *   readonly     the read-only file system case inside a private mount namespace (run under unshare -m)
 *   fifo-swap    scan a tree while a sidecar is swapped for a FIFO between listing and reading
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { isSidecarError } from '../../src/errors.js';
import type { TaskName, TaskItem, TaskOptions, TaskResult } from '../../src/tasks/index.js';
import type { JsonObject } from '../../src/types.js';
import { CRASH_CLOCK_BASE_MS, concurrentFormat, concurrentPlan, crashImageIndex, crashOpName, crashOpValue, imageName } from '../reliability/models.js';

// The library is loaded lazily, per command group, so that a child that will only save does not
// pay for loading the tree machinery. argv[2] names the group to load before saying "ready".
const load = {
  save: () => import('../../src/ops/save.js'),
  read: () => import('../../src/ops/read.js'),
  lock: () => import('../../src/fs/lock.js'),
  convert: () => import('../../src/ops/convert.js'),
  cleanup: () => import('../../src/ops/cleanup.js'),
  orphans: () => import('../../src/ops/orphans.js'),
  scan: () => import('../../src/ops/scan.js'),
  inline: () => import('../../src/engine/inline.js'),
  codec: () => import('../../src/formats/codec.js'),
  keys: () => import('../../src/crypto/keys.js'),
};
const PRELOAD: Record<string, (keyof typeof load)[]> = {
  save: ['save', 'keys'],
  convert: ['convert', 'keys'],
  lock: ['lock'],
  all: Object.keys(load) as (keyof typeof load)[],
};

type Command =
  | { cmd: 'save-loop'; images: string[]; start: number; count: number; lockTimeoutMs: number; lockStaleMs: number; unsafe?: boolean; keyFiles?: string[] }
  | {
      cmd: 'convert';
      root: string;
      format: 'json' | 'bin' | 'rkyv';
      engine: 'inline' | 'threads';
      /** Encryption mode; keyFiles[0] encrypts, the others decrypt. */
      encryption?: 'encrypt' | 'decrypt' | 'rekey';
      keyFiles?: string[];
      /** Die (SIGKILL) at the first removal of a source, its target published: the window timing rarely hits (inline engine only). */
      dieAtRemoval?: boolean;
    }
  | { cmd: 'hold-lock'; key: string; staleMs: number }
  | { cmd: 'saves'; dir: string; proc: number; saves: number; images: number; seed: number; lockStaleMs: number; chains: number }
  | { cmd: 'save-once'; image: string; op: string; value: unknown }
  | { cmd: 'tree-ops'; root: string; convert?: 'json' | 'bin' }
  | { cmd: 'readonly'; dir: string }
  | { cmd: 'fifo-swap'; root: string; victim: string };

/** Synchronous write: the line is in the pipe before the next statement runs. */
function say(line: string): void {
  fs.writeSync(1, `${line}\n`);
}

function codeOf(e: unknown): string {
  return isSidecarError(e) ? e.code : ((e as NodeJS.ErrnoException)?.code ?? 'FOREIGN');
}

function describe(e: unknown): { code: string; message: string; sidecarError: boolean } {
  return { code: codeOf(e), message: e instanceof Error ? e.message : String(e), sidecarError: isSidecarError(e) };
}

async function outcome<T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: ReturnType<typeof describe> }> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: describe(e) };
  }
}

function readCommand(): Promise<Command> {
  return new Promise((resolve, reject) => {
    let buf = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        process.stdin.pause();
        try {
          resolve(JSON.parse(buf.slice(0, nl)) as Command);
        } catch (e) {
          reject(e);
        }
      }
    });
    process.stdin.on('end', () => reject(new Error('stdin closed before a command arrived')));
  });
}

/** A keyring from key files: the first one encrypts, all of them decrypt. */
async function keyringOf(files: string[] | undefined): Promise<{ keyring?: import('../../src/types.js').Keyring }> {
  if (!files || files.length === 0) return {};
  const { loadKeyFile, mergeKeyrings } = await load.keys();
  let ring = loadKeyFile(files[0]);
  for (const f of files.slice(1)) ring = mergeKeyrings(ring, loadKeyFile(f));
  return { keyring: ring };
}

/** Codes under which saveSidecar guarantees it wrote nothing and the loop may go on. */
const REFUSALS = new Set(['LOCK_TIMEOUT', 'AMBIGUOUS']);

/**
 * The earlier tool's save, for the harness self-check: read, merge (sidecar_info as ours does, so
 * that only the torn write can be what the harness catches), then overwrite the sidecar in place
 * with a pause in the middle of the write. A kill in that pause leaves a torn file.
 */
async function unsafeSave(image: string, op: string, value: JsonObject, k: number): Promise<void> {
  const [{ readSidecarDetailed }, { encodeSidecar }] = await Promise.all([load.read(), load.codec()]);
  const res = await readSidecarDetailed(image);
  const data = res.data;
  data[op] = value;
  const prior = data.sidecar_info;
  data.sidecar_info = {
    ...(prior !== null && typeof prior === 'object' && !Array.isArray(prior) ? prior : {}),
    last_operation: op,
    last_updated: new Date(CRASH_CLOCK_BASE_MS + k * 1000).toISOString(),
  };
  const target = res.path ?? res.location.targetPath.replace(/\.[^.]+$/, '.json');
  const bytes = encodeSidecar(data, res.format === 'legacy' || res.format === null ? (res.path ? 'bin' : 'json') : res.format);
  const fd = fs.openSync(target, 'w');
  const half = bytes.length >> 1;
  fs.writeSync(fd, bytes, 0, half);
  // A long pause: the kill must land mid-write far more often than in the read, merge and encode
  // around it, however fast or slow those are on a loaded machine.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
  fs.writeSync(fd, bytes, half, bytes.length - half);
  fs.closeSync(fd);
}

async function saveLoop(c: Extract<Command, { cmd: 'save-loop' }>): Promise<void> {
  const { saveSidecar } = await load.save();
  const keys = await keyringOf(c.keyFiles);
  if (c.unsafe) {
    for (let k = c.start; k < c.start + c.count; k++) {
      await unsafeSave(c.images[crashImageIndex(k, c.images.length)], crashOpName(k), crashOpValue(k), k);
      say(`ok ${k}`);
    }
    return say('done');
  }
  for (let k = c.start; k < c.start + c.count; k++) {
    const image = c.images[crashImageIndex(k, c.images.length)];
    try {
      await saveSidecar(image, crashOpName(k), crashOpValue(k), {
        lockTimeoutMs: c.lockTimeoutMs,
        lockStaleMs: c.lockStaleMs,
        now: () => new Date(CRASH_CLOCK_BASE_MS + k * 1000),
        ...keys,
      });
      say(`ok ${k}`);
    } catch (e) {
      if (!REFUSALS.has(codeOf(e))) throw e;
      say(`refused ${k} ${codeOf(e)}`);
    }
  }
  say('done');
}

async function runConvert(c: Extract<Command, { cmd: 'convert' }>): Promise<void> {
  const { convert } = await load.convert();
  const keys = await keyringOf(c.keyFiles);
  if (c.dieAtRemoval) {
    // A source is removed in two steps (renamed aside, then unlinked): die before the first. The
    // library's `import { renameSync } from 'node:fs'` sees this once the builtin's exports are synced.
    const mutableFs = createRequire(import.meta.url)('node:fs') as { renameSync: (from: fs.PathLike, to: fs.PathLike) => void };
    const rename = mutableFs.renameSync;
    mutableFs.renameSync = (from: fs.PathLike, to: fs.PathLike) => {
      if (/^IMG_\d{3}\.(json|bin|rkyv)$/.test(path.basename(String(from)))) process.kill(process.pid, 'SIGKILL');
      rename(from, to);
    };
    syncBuiltinESMExports();
  }
  say('started');
  const r = await convert(c.root, c.format, { engine: c.engine, workers: 2, ...keys, ...(c.encryption ? { encryption: c.encryption } : {}) });
  const failedItems = (r.items ?? []).filter((i) => !i.ok).map((i) => ({ source: i.source, action: i.action, error: i.error }));
  const converted = (r.items ?? []).filter((i) => i.ok && (i.action === 'convert' || i.action === 'rewrite' || i.action === 'dedupe')).map((i) => i.target);
  say(`done ${JSON.stringify({ converted: r.converted, failed: r.failed, conflicts: r.conflicts, tempFilesRemoved: r.tempFilesRemoved, scanComplete: r.scanComplete, failedItems, targets: converted })}`);
}

async function holdLock(c: Extract<Command, { cmd: 'hold-lock' }>): Promise<void> {
  const { withSidecarLock } = await load.lock();
  await withSidecarLock(
    c.key,
    async () => {
      say('locked');
      await new Promise(() => setInterval(() => undefined, 1000)); // until killed
    },
    { staleMs: c.staleMs },
  );
}

/** One process of the concurrency run: `chains` async loops share its plan (in-process contention too). */
async function concurrentSaves(c: Extract<Command, { cmd: 'saves' }>): Promise<void> {
  const { saveSidecar } = await load.save();
  const plan = concurrentPlan(c.proc, c.saves, c.images, c.seed);
  // Wall-clock start and end of every save, comparable across processes.
  const timings: [number, number][] = new Array(plan.length);
  const failures: { op: string; code: string; message: string }[] = [];
  let next = 0;
  const chain = async () => {
    while (next < plan.length) {
      const i = next++;
      const s = plan[i];
      const started = Date.now();
      try {
        await saveSidecar(path.join(c.dir, imageName(s.image)), s.op, s.value, {
          format: concurrentFormat(c.proc),
          lockStaleMs: c.lockStaleMs,
          lockTimeoutMs: 60_000,
        });
      } catch (e) {
        failures.push({ op: s.op, ...describe(e) });
      }
      timings[i] = [started, Date.now()];
    }
  };
  await Promise.all(Array.from({ length: c.chains }, chain));
  say(`done ${JSON.stringify({ proc: c.proc, saved: plan.length - failures.length, failures, timings })}`);
}

/**
 * Scan, orphans, cleanup (and optionally convert) of a tree, each outcome recorded. Run as an
 * unprivileged user for real EACCES, or simply in a separate process so that a hang (an open()
 * on a FIFO) cannot block the test runner.
 */
async function treeOps(c: Extract<Command, { cmd: 'tree-ops' }>): Promise<void> {
  const [{ scan }, { findOrphans }, { cleanup }, { convert }] = await Promise.all([load.scan(), load.orphans(), load.cleanup(), load.convert()]);
  const records: { category: string; paths: string[]; findings: string[] }[] = [];
  const scanned = await outcome(async () => {
    const session = scan(c.root, { engine: 'inline' });
    for await (const rec of session) {
      records.push({
        category: rec.category,
        paths: [...rec.images.map((i) => i.path), ...rec.sidecars.map((s) => s.path)],
        findings: rec.findings.map((f) => f.code),
      });
    }
    const s = session.summary;
    return { complete: s.complete, problems: s.problems, counts: s.counts, filesIgnored: s.filesIgnored };
  });
  const orphans = await outcome(() => findOrphans(c.root, { engine: 'inline' }).then((o) => o.orphans.map((x) => x.path)));
  const cleaned = await outcome(() => cleanup(c.root, { engine: 'inline' }).then((r) => ({ removed: r.removed, orphans: r.orphans })));
  const converted =
    c.convert === undefined
      ? null
      : await outcome(() => convert(c.root, c.convert!, { engine: 'inline' }).then((r) => ({ converted: r.converted, failed: r.failed, scanComplete: r.scanComplete })));
  say(`done ${JSON.stringify({ uid: process.getuid?.(), scanned, records, orphans, cleaned, converted })}`);
}

function hashFile(p: string): string {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

/**
 * Inside a private mount namespace (unshare -m): a tmpfs with a small library, remounted
 * read-only, then save / convert / cleanup against it. Every outcome and the bytes of every
 * file before and after are reported; the mount disappears with the namespace.
 */
async function readOnly(c: Extract<Command, { cmd: 'readonly' }>): Promise<void> {
  const [{ saveSidecar }, { readSidecar }, { convert }, { cleanup }, { encodeSidecar }] = await Promise.all([
    load.save(),
    load.read(),
    load.convert(),
    load.cleanup(),
    load.codec(),
  ]);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', c.dir]);
  const photos = path.join(c.dir, 'photos');
  fs.mkdirSync(photos);
  for (let i = 0; i < 4; i++) {
    const img = path.join(photos, imageName(i));
    fs.writeFileSync(img, 'jpeg');
    const sidecar = path.join(photos, imageName(i).replace(/\.jpg$/, i % 2 === 0 ? '.json' : '.bin'));
    fs.writeFileSync(sidecar, encodeSidecar({ face_detection: { success: true, faces: [], step: i, f: 0.22490839660167694 } }, i % 2 === 0 ? 'json' : 'bin'));
  }
  fs.writeFileSync(path.join(photos, 'IMG_ORPHAN.json'), encodeSidecar({ face_detection: { success: true, faces: [] } }, 'json'));
  fs.writeFileSync(path.join(photos, 'IMG_NEW.jpg'), 'jpeg'); // an image without a sidecar yet
  const before = Object.fromEntries(fs.readdirSync(photos).map((n) => [n, hashFile(path.join(photos, n))]));
  execFileSync('mount', ['-o', 'remount,ro', c.dir]);

  const save = await outcome(() => saveSidecar(path.join(photos, imageName(0)), 'yolov8', { success: true, objects: [] }));
  const saveNew = await outcome(() => saveSidecar(path.join(photos, 'IMG_NEW.jpg'), 'yolov8', {}));
  const conv = await outcome(() =>
    convert(c.dir, 'bin', { engine: 'inline' }).then((r) => ({ converted: r.converted, failed: r.failed, errors: (r.items ?? []).filter((i) => !i.ok).map((i) => i.error) })),
  );
  const cleaned = await outcome(() => cleanup(c.dir, { engine: 'inline', force: true }).then((r) => ({ removed: r.removed, skipped: r.skipped })));
  const reads = await outcome(async () => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < 4; i++) out[imageName(i)] = await readSidecar(path.join(photos, imageName(i)));
    return out;
  });
  const after = Object.fromEntries(fs.readdirSync(photos).map((n) => [n, hashFile(path.join(photos, n))]));
  say(`done ${JSON.stringify({ save, saveNew, convert: conv, cleanup: cleaned, reads, before, after })}`);
}

/**
 * A scan whose first inspection batch finds one listed sidecar replaced by a FIFO (what a
 * hostile or very unlucky tree looks like between readdir and open). Must finish, not block.
 */
async function fifoSwap(c: Extract<Command, { cmd: 'fifo-swap' }>): Promise<void> {
  const [{ scan }, { InlineRuntime }] = await Promise.all([load.scan(), load.inline()]);
  const inline = new InlineRuntime();
  let swapped = false;
  const runtime = {
    kind: 'inline' as const,
    workers: 1,
    run<N extends TaskName>(task: N, items: readonly TaskItem<N>[], options: TaskOptions<N>): Promise<TaskResult<N>[]> {
      if (!swapped) {
        swapped = true;
        fs.unlinkSync(c.victim);
        execFileSync('mkfifo', [c.victim]);
        say('swapped');
      }
      return inline.run(task, items, options);
    },
    close: () => inline.close(),
  };
  const session = scan(c.root, { runtime });
  const cats: string[] = [];
  for await (const rec of session) cats.push(rec.category);
  say(`done ${JSON.stringify({ complete: session.summary.complete, categories: cats, problems: session.summary.problems })}`);
}

async function main(): Promise<void> {
  await Promise.all((PRELOAD[process.argv[2] ?? 'all'] ?? PRELOAD.all).map((m) => load[m]()));
  say('ready');
  const c = await readCommand();
  switch (c.cmd) {
    case 'save-loop':
      return saveLoop(c);
    case 'convert':
      return runConvert(c);
    case 'hold-lock':
      return holdLock(c);
    case 'saves':
      return concurrentSaves(c);
    case 'save-once': {
      const { saveSidecar } = await load.save();
      const r = await saveSidecar(c.image, c.op, c.value as never, { lockTimeoutMs: 10_000 });
      return say(`ok ${r.path}`);
    }
    case 'tree-ops':
      return treeOps(c);
    case 'readonly':
      return readOnly(c);
    case 'fifo-swap':
      return fifoSwap(c);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    say(`error ${JSON.stringify(describe(e))}`);
    process.exit(1);
  },
);
