/**
 * Concurrent writers: P processes × S saves spread over I images, every operation distinct,
 * started at the same moment — right after a lock holder on one of the images was SIGKILLed,
 * so that image starts behind a stale lock. At the end every operation must be present with
 * its exact value, the stale lock must have been taken over after about `lockStaleMs` (not the
 * 60 s lock timeout) while the other images went on, and nothing of ours may be left behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSidecar } from '../../src/formats/codec.js';
import { readSidecarDetailed } from '../../src/ops/read.js';
import { Rng } from '../../src/sample/prng.js';
import { sampleSidecar } from '../../src/sample/shapes.js';
import type { JsonObject } from '../../src/types.js';
import { Child } from './child.js';
import { checkAsides, findLeftovers, freshDir, removeDir } from './fs-util.js';
import { concurrentPlan, imageName } from './models.js';
import { addLoss, compareOperations, fail, newRow, timed, type ReliabilityRow } from './tally.js';

export interface ConcurrencyOptions {
  processes: number;
  saves: number;
  images: number;
  seed: number;
  /** Stale-lock age given to the writers (the library's floor is 2 s). */
  lockStaleMs?: number;
  /** Async save loops inside each process (in-process contention on top). */
  chains?: number;
}

interface WorkerResult {
  proc: number;
  saved: number;
  failures: { op: string; code: string; message: string }[];
  timings: [number, number][];
}

/** Existing sidecars in every format we meet: pipeline JSON, our bin, the earlier tool's layout. */
function buildFolder(dir: string, images: number, seed: number): void {
  const rng = new Rng(seed);
  for (let i = 0; i < images; i++) {
    const img = path.join(dir, imageName(i));
    fs.writeFileSync(img, 'jpeg');
    const data = sampleSidecar(rng.fork(), { imagePath: imageName(i), faces: 1 });
    const stem = img.replace(/\.jpg$/, '');
    if (i % 5 === 0) fs.writeFileSync(`${stem}.json`, encodeSidecar(data, 'json'));
    else if (i % 5 === 1) fs.writeFileSync(`${stem}.bin`, encodeSidecar(data, 'bin'));
    else if (i % 5 === 2) fs.writeFileSync(`${stem}.bin`, encodeSidecar(data, 'legacy'));
    // the others get their first sidecar from whichever process saves first
  }
}

export async function runConcurrentSaves(opts: ConcurrencyOptions): Promise<ReliabilityRow> {
  const row = newRow('concurrency', `concurrent saves (${opts.processes} processes × ${opts.saves}, ${opts.images} images)`, 'saves');
  const dir = freshDir('concurrency');
  try {
    await timed(row, () => concurrentRun(row, dir, opts));
  } finally {
    removeDir(dir);
  }
  return row;
}

async function concurrentRun(row: ReliabilityRow, dir: string, opts: ConcurrencyOptions): Promise<void> {
  const staleMs = opts.lockStaleMs ?? 2000;
  buildFolder(dir, opts.images, opts.seed);
  const baseline: JsonObject[] = [];
  for (let i = 0; i < opts.images; i++) baseline.push((await readSidecarDetailed(path.join(dir, imageName(i)))).data);

  // Warm the writers first, so that they really start together.
  const workers = Array.from({ length: opts.processes }, () => new Child({ preload: 'save' }));
  const holder = new Child({ preload: 'lock' });
  try {
    await Promise.all([...workers.map((w) => w.ready), holder.ready]);
    // A holder of image 0's lock dies without releasing it.
    holder.send({ cmd: 'hold-lock', key: path.join(dir, 'IMG_000'), staleMs });
    if ((await holder.waitFor((l) => l === 'locked', 30_000)) === null) throw new Error(`the lock holder never locked: ${holder.stderr}`);
    await holder.kill();
    const killedAt = Date.now();

    workers.forEach((w, proc) =>
      w.send({ cmd: 'saves', dir, proc, saves: opts.saves, images: opts.images, seed: opts.seed, lockStaleMs: staleMs, chains: opts.chains ?? 2 }),
    );
    const results = await Promise.all(workers.map((w) => w.result<WorkerResult>(300_000)));
    row.count = results.reduce((n, r) => n + r.saved, 0);
    for (const r of results) for (const f of r.failures) fail(row, `process ${r.proc}: ${f.op} failed: ${f.code} ${f.message}`);
    checkData(row, dir, opts, baseline, await readAll(dir, opts.images));
    checkTimings(row, opts, results, killedAt, staleMs);
  } finally {
    await Promise.all([...workers.map((w) => w.kill()), holder.kill()]);
  }
  const left = findLeftovers(dir);
  for (const p of [...left.tempFiles, ...left.lockDirs]) fail(row, `left behind: ${p}`);
  checkAsides(row, left);
}

async function readAll(dir: string, images: number): Promise<(JsonObject | null)[]> {
  const out: (JsonObject | null)[] = [];
  for (let i = 0; i < images; i++) {
    try {
      out.push((await readSidecarDetailed(path.join(dir, imageName(i)))).data);
    } catch {
      out.push(null);
    }
  }
  return out;
}

/** Every planned operation present with its value, on top of what each sidecar held before. */
function checkData(row: ReliabilityRow, dir: string, opts: ConcurrencyOptions, baseline: JsonObject[], actual: (JsonObject | null)[]): void {
  const expected = baseline.map((b) => structuredClone(b));
  for (let proc = 0; proc < opts.processes; proc++) {
    for (const s of concurrentPlan(proc, opts.saves, opts.images, opts.seed)) expected[s.image][s.op] = s.value;
  }
  for (let i = 0; i < opts.images; i++) {
    if (actual[i] === null) fail(row, `${imageName(i)}: cannot be read at the end`);
    const loss = compareOperations(expected[i], actual[i]);
    if (loss.records > 0) {
      addLoss(row, loss);
      fail(row, `${imageName(i)}: ${loss.records} operation(s) lost: ${[...loss.missing, ...loss.changed].slice(0, 10).join(', ')}`);
    }
    if (loss.unexpected.length > 0) fail(row, `${imageName(i)}: unexpected operations ${loss.unexpected.join(', ')}`);
    // One sidecar, or the .bin the bin savers wrote beside a JSON sidecar, which is kept untouched
    // as an older copy (docs/PAIRING.md §9: a save in .bin to an image with a JSON sidecar).
    const stem = imageName(i).replace(/\.jpg$/, '');
    const sidecars = fs.readdirSync(dir).filter((n) => n.startsWith(`${stem}.`) && !n.endsWith('.jpg')).sort();
    const keptJson = sidecars.length === 2 && sidecars[0] === `${stem}.bin` && sidecars[1] === `${stem}.json`;
    if (sidecars.length !== 1 && !keptJson) fail(row, `${imageName(i)}: ${sidecars.length} sidecar files at the end (${sidecars.join(', ')})`);
  }
}

/**
 * The stale lock on image 0 is taken over after about staleMs, and meanwhile the other images
 * keep being saved (one dead holder does not stall everybody).
 */
function checkTimings(row: ReliabilityRow, opts: ConcurrencyOptions, results: WorkerResult[], killedAt: number, staleMs: number): void {
  let firstOnVictim = Infinity;
  let othersBefore = 0;
  let maxLatency = 0;
  const ends: { image: number; end: number }[] = [];
  for (const r of results) {
    const plan = concurrentPlan(r.proc, opts.saves, opts.images, opts.seed);
    r.timings.forEach(([start, end], i) => {
      maxLatency = Math.max(maxLatency, end - start);
      ends.push({ image: plan[i].image, end });
      if (plan[i].image === 0) firstOnVictim = Math.min(firstOnVictim, end);
    });
  }
  for (const e of ends) if (e.image !== 0 && e.end < firstOnVictim) othersBefore++;
  const recoveredMs = firstOnVictim - killedAt;
  row.notes.push(`stale lock of a SIGKILLed holder taken over ${recoveredMs} ms after the kill (stale age ${staleMs} ms); ${othersBefore} saves to other images completed meanwhile; slowest save ${maxLatency} ms`);
  if (!Number.isFinite(firstOnVictim)) fail(row, 'no save to the image behind the stale lock ever completed');
  // Generous bound for a loaded CI machine, far below the 60 s lock timeout.
  else if (recoveredMs > staleMs + 15_000) fail(row, `the stale lock blocked image 0 for ${recoveredMs} ms`);
  if (othersBefore === 0) fail(row, 'no other image was saved while image 0 waited for its stale lock');
}
