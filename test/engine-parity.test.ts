/**
 * Parity: every tree operation gives byte-identical output whatever runs the per-file work —
 * in-process, or 1, 2 or 7 worker threads (batches small enough that 7 threads all get some) —
 * on the sample library and on trees with the awkward cases (symlinks in and out of the root,
 * loops, corrupt and unreadable files, reports, odd names, a folder of links).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { cleanup, convert, exportSidecars, formatStats, generateSampleLibrary, hashTree, stats, validate, validateFiles } from '../src/index.js';
import type { EngineKind } from '../src/types.js';
import { createRuntime } from '../src/engine/select.js';
import type { Runtime } from '../src/engine/runtime.js';
import { FAKE_JPEG, makeCornerTree, removeTree, sidecarData, tempDir } from './helpers/cli.js';
import { campaign } from './helpers/campaign.js';

interface Engine {
  engine: EngineKind;
  workers: number;
  /** Options.callerRuns: the calling thread is one of the workers. */
  callerRuns?: boolean;
}
const ALL_ENGINES: Engine[] = [
  { engine: 'inline', workers: 1 },
  { engine: 'threads', workers: 2 },
  { engine: 'threads', workers: 3, callerRuns: true },
  { engine: 'threads', workers: 1 },
  { engine: 'threads', workers: 7 },
  { engine: 'threads', workers: 2, callerRuns: true },
];
/** Inline, a pool, and a pool the caller works in; every pool size in the full campaigns (helpers/campaign.ts). */
const ENGINES = ALL_ENGINES.slice(0, campaign(3, ALL_ENGINES.length));

/**
 * One runtime per engine, shared by the operations that take one (the scan's and hash's), as the
 * server shares its own: a thread pool per operation and engine booted ~330 threads, most of this
 * file's time. Its threads carry their state from one operation to the next, which the parity must
 * survive too; validate-files and convert still make their own (they take no runtime).
 */
const runtimes = new Map<Engine, Runtime>();
function runtimeOf(e: Engine): Runtime {
  let r = runtimes.get(e);
  if (r === undefined) runtimes.set(e, (r = createRuntime(e)));
  return r;
}
/** The engine's options with its shared runtime. */
const shared = (e: Engine) => ({ ...e, runtime: runtimeOf(e) });

/** Run `op` under every engine; every output must equal the inline one. */
async function same(what: string, op: (e: Engine) => Promise<string>): Promise<void> {
  const outs: string[] = [];
  for (const e of ENGINES) outs.push(await op(e));
  for (let i = 1; i < outs.length; i++) assert.equal(outs[i], outs[0], `${what}: ${ENGINES[i].engine}/${ENGINES[i].workers}${ENGINES[i].callerRuns ? ' (caller runs)' : ''} differs from inline`);
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    return JSON.stringify(await p);
  } catch (e) {
    const err = e as { code?: string; message?: string; details?: unknown };
    return JSON.stringify({ error: err.code, message: err.message, details: err.details });
  }
}

async function exported(root: string, format: 'json' | 'jsonl' | 'csv', e: Engine): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const r = await exportSidecars(root, { format, output: out, ...e, batchSize: 3 } as never);
  return JSON.stringify(r) + Buffer.concat(chunks).toString('utf8');
}

function awkwardTree(): string {
  const root = makeCornerTree();
  const outside = tempDir('isc-parity-outside-');
  fs.writeFileSync(path.join(outside, 'far.jpg'), FAKE_JPEG);
  fs.writeFileSync(path.join(outside, 'far.json'), JSON.stringify(sidecarData('far.jpg', 1, 8)));
  fs.mkdirSync(path.join(root, 'links'));
  fs.symlinkSync(path.join(outside, 'far.jpg'), path.join(root, 'links', 'far.jpg'));
  fs.symlinkSync('loop-b.jpg', path.join(root, 'links', 'loop-a.jpg'));
  fs.symlinkSync('loop-a.jpg', path.join(root, 'links', 'loop-b.jpg'));
  fs.symlinkSync('gone.jpg', path.join(root, 'links', 'dangling.jpg'));
  for (let i = 0; i < 150; i++) fs.symlinkSync('../photos/IMG_1.jpg', path.join(root, 'links', `L${String(i).padStart(3, '0')}.jpg`));
  fs.writeFileSync(path.join(root, 'photos', 'x.jpg'), FAKE_JPEG);
  fs.writeFileSync(path.join(root, 'photos', 'x.json'), JSON.stringify(sidecarData('x.jpg', 1, 8)));
  fs.writeFileSync(path.join(root, 'photos', 'x.bin'), Buffer.from('not a bin file'));
  return root;
}

describe('engine parity: inline and 1, 2, 7 threads give identical output', () => {
  const roots: Record<string, string> = {};
  before(async () => {
    roots.sample = tempDir('isc-parity-sample-');
    await generateSampleLibrary(roots.sample, { images: 80, seed: 7, formatMix: { json: 2, bin: 1, legacy: 1 } });
    roots.awkward = awkwardTree();
  });
  after(async () => {
    for (const r of Object.values(roots)) removeTree(r);
    for (const r of runtimes.values()) await r.close();
  });

  for (const tree of ['sample', 'awkward']) {
    it(`${tree}: stats, format-stats, validate, export, hash, cleanup plan, convert plan`, async () => {
      const root = roots[tree];
      const small = { batchSize: 3 };
      await same('stats', (e) => outcome(stats(root, { ...shared(e), ...small } as never)));
      await same('stats --operation-type', (e) => outcome(stats(root, { ...shared(e), ...small, operationType: 'face_detection', list: true } as never)));
      await same('format-stats', (e) => outcome(formatStats(root, { ...shared(e), ...small } as never)));
      await same('validate', async (e) => {
        const r = await validate(root, { ...shared(e), ...small } as never);
        for (const x of r.results!) x.processing_time = 0; // a clock, not an output of the data
        return JSON.stringify({ ...r, scan: { ...r.scan, engine: null } });
      });
      for (const f of ['json', 'jsonl', 'csv'] as const) await same(`export ${f}`, (e) => exported(root, f, shared(e)));
      await same('hash', (e) => outcome(hashTree(root, shared(e))));
      await same('hash --canonical', (e) => outcome(hashTree(root, { ...shared(e), canonical: true })));
      await same('cleanup --dry-run', (e) => outcome(cleanup(root, { ...shared(e), dryRun: true, force: true, now: new Date(0) } as never)));
      await same('convert --dry-run', (e) => outcome(convert(root, 'bin', { ...e, dryRun: true, batchSize: 2 })));
    });
  }

  it('validate-json over a list of files', async () => {
    const files = fs.readdirSync(path.join(roots.awkward, 'photos')).filter((n) => n.endsWith('.json') || n.endsWith('.bin')).map((n) => path.join(roots.awkward, 'photos', n));
    await same('validate-files', async (e) => {
      const r = await validateFiles(files, { ...e, batchSize: 2 });
      for (const x of r.results!) x.processing_time = 0;
      return JSON.stringify({ ...r, engine: null });
    });
  });

  it('convert json→bin for real: the same items and the same resulting tree', async () => {
    await same('convert', async (e) => {
      const copy = tempDir('isc-parity-convert-');
      try {
        fs.cpSync(roots.sample, copy, { recursive: true, verbatimSymlinks: true });
        const r = await convert(copy, 'bin', { ...e, batchSize: 4 });
        const h = await hashTree(copy, { allFiles: true });
        return JSON.stringify({ ...r, digest: h.digest }).split(copy).join('<root>');
      } finally {
        removeTree(copy);
      }
    });
  });
});
