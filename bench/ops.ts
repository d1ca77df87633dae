/**
 * The measured operations, as run inside a child runner. Each returns its wall time and detail;
 * set-up (loading modules, reading path lists) happens before the clock starts. Library modules
 * are imported lazily so an operation's RSS does not include code it never uses.
 */
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { atOnce } from './at-once.js';
import { foldersOf, forEachListed } from './lists.js';
import { percentile } from './measure.js';
import type { BenchIndex, OpSpec } from './protocol.js';
import { ServerClient } from './server-client.js';
import { errors } from '../src/errors.js';
import { DEFAULT_MAX_DEPTH } from '../src/formats/value.js';
import type { IndexOptions, IndexRunStats } from '../src/model/index-options.js';

export interface Timed {
  ms: number;
  detail: Record<string, unknown>;
  /** False when the child's own RSS says nothing about the operation (it ran in another process). */
  rssMeaningful?: boolean;
  /** The peak RSS of the process that did the operation when it is not the runner (KiB). */
  maxRssKB?: number;
}

function loadList(file: string): string[] {
  const out: string[] = [];
  forEachListed(file, (p) => out.push(p));
  return out;
}

function floorRead(list: string): Timed {
  const paths = loadList(list);
  let bytes = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const p of paths) bytes += readFileSync(p).length;
  return { ms: performance.now() - t0, detail: { files: paths.length, bytes, cpuMs: cpuMsSince(c0) } };
}

function floorWrite(from: readonly string[], dir: string): Timed {
  const contents = from.map((p) => readFileSync(p));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const written: string[] = [];
  for (const [i, bytes] of contents.entries()) {
    const p = join(dir, `floor-write-${process.pid}-${i}`);
    const fd = openSync(p, 'w');
    try {
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, Math.min(bytes.length - at, 1 << 24));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    written.push(p);
  }
  const ms = performance.now() - t0;
  for (const p of written) unlinkSync(p);
  return { ms, detail: { files: contents.length, bytes: contents.reduce((n, b) => n + b.length, 0), cpuMs: cpuMsSince(c0) } };
}

function floorWalk(root: string): Timed {
  const t0 = performance.now();
  let dirs = 0;
  let entries = 0;
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    dirs++;
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      entries++;
      if (d.isDirectory()) stack.push(join(dir, d.name));
    }
  }
  return { ms: performance.now() - t0, detail: { dirs, entries } };
}

/**
 * What a warm run over an unchanged tree cannot skip (issue 20): a stat of every sidecar (ns times:
 * an in-place edit that keeps size and mtime still moves ctime) and of every folder (its listing is
 * unchanged while its identity is), from a path list made before the clock starts, one thread.
 */
function floorStat(list: string, root: string): Timed {
  const paths = loadList(list);
  // Every folder of the tree (listed before the clock starts), as a warm run checks each one.
  const dirs = foldersOf(root);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let files = 0;
  for (const p of paths) if (statSync(p, { bigint: true, throwIfNoEntry: false })?.isFile()) files++;
  for (const d of dirs) statSync(d, { bigint: true });
  return { ms: performance.now() - t0, detail: { files, dirs: dirs.length, cpuMs: cpuMsSince(c0) } };
}

/** The earlier tool's layout: u64-LE length (high bytes 0), then compact JSON. */
const isLegacyLayout = (b: Buffer) => b.length > 8 && b[0] !== 0x7b && b[6] === 0 && b[7] === 0;

function floorParse(list: string): Timed {
  const paths = loadList(list);
  let bytes = 0;
  let failed = 0;
  const t0 = performance.now();
  for (const p of paths) {
    const buf = readFileSync(p);
    bytes += buf.length;
    try {
      JSON.parse(buf.toString('utf8', isLegacyLayout(buf) ? 8 : 0));
    } catch {
      failed++; // corrupt samples (truncated, NaN, BOM...): still read, like the real operations
    }
  }
  return { ms: performance.now() - t0, detail: { files: paths.length, bytes, notJson: failed } };
}

/** The earlier tool converts without fsync; `sync` afterwards makes its result as durable as ours. */
function origConvertOp(spec: Extract<OpSpec, { op: 'orig-convert' }>): Timed {
  const t0 = performance.now();
  const r = spawnSync(spec.bin, ['convert', '-i', spec.root, '-f', 'bin'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const tool = performance.now() - t0;
  if (r.error || r.status !== 0) throw errors.internal(`earlier tool's convert failed: ${r.error?.message ?? r.stderr.toString().trim()}`);
  const s = spawnSync('sync', [], { stdio: 'ignore' });
  if (s.error || s.status !== 0) throw errors.internal('sync failed');
  return { ms: performance.now() - t0, detail: { toolMs: tool, syncMs: performance.now() - t0 - tool }, rssMeaningful: false };
}

async function floorDecode(list: string): Promise<Timed> {
  const { decodeSidecar } = await import('../src/formats/codec.js');
  const paths = loadList(list);
  let bytes = 0;
  let failed = 0;
  // CPU time too (all threads: V8's GC and compiler threads count, as they do in the operations):
  // under load it is steadier than the wall time the targets use.
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const p of paths) {
    const buf = readFileSync(p);
    bytes += buf.length;
    try {
      decodeSidecar(buf, { path: p });
    } catch {
      failed++; // corrupt samples: still read, like the real operations
    }
  }
  return { ms: performance.now() - t0, detail: { files: paths.length, bytes, notDecodable: failed, cpuMs: cpuMsSince(c0) } };
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function floorDurable(spec: Extract<OpSpec, { op: 'floor-durable' }>): Timed {
  const paths = loadList(spec.list).map((p) => spec.toRoot + p.slice(spec.fromRoot.length));
  let bytes = 0;
  const t0 = performance.now();
  for (const p of paths) {
    const buf = readFileSync(p);
    bytes += buf.length;
    const tmp = `${p}.floor-tmp`;
    const fd = openSync(tmp, 'wx');
    try {
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, `${p}.floor`);
    fsyncDir(dirname(p));
    unlinkSync(p);
    fsyncDir(dirname(p));
  }
  return { ms: performance.now() - t0, detail: { files: paths.length, bytes } };
}

/** The engine an operation was asked for (reports that print the engine used say it themselves). */
/** The options the CLI adds to every run (settings.ts engineFromEnv), so that figures are what a user's run gets. */
const AS_CLI = { fastStat: true } as const;

function engineUsed(spec: { engine?: string; workers?: number }, used?: { kind: string; workers: number }): Record<string, unknown> {
  return used ? { engine: used.kind, workers: used.workers } : { engine: spec.engine ?? 'auto', workers: spec.workers };
}

/** The index options of a spec, and what the run did with it (hits, misses) in `last`. */
let lastIndexRun: IndexRunStats | null = null;
function indexOf(spec: { index?: BenchIndex }): { index?: IndexOptions } {
  if (!spec.index) return {};
  const index: IndexOptions = { path: spec.index.path, onStats: (s) => (lastIndexRun = s), onWarning: (m) => process.stderr.write(`index: ${m}\n`) };
  if (spec.index.racyMarginMs !== undefined) index.racyMarginMs = spec.index.racyMarginMs;
  if (spec.index.folderRecords !== undefined) index.folderRecords = spec.index.folderRecords;
  return { index };
}

/** CPU time of the whole process (all threads) since `c0`, and the index figures of the run. */
function cpuSince(c0: NodeJS.CpuUsage): Record<string, unknown> {
  const u = process.cpuUsage(c0);
  const out: Record<string, unknown> = { cpuMs: Math.round((u.user + u.system) / 1000) };
  if (lastIndexRun) out.index = { hits: lastIndexRun.hits, misses: lastIndexRun.misses, recorded: lastIndexRun.recorded, entries: lastIndexRun.entries, bytes: lastIndexRun.bytes, written: lastIndexRun.written, foldersServed: lastIndexRun.foldersServed, recordsServed: lastIndexRun.recordsServed, statsAhead: lastIndexRun.statsAhead, linksAhead: lastIndexRun.linksAhead };
  return out;
}

async function validateOp(spec: Extract<OpSpec, { op: 'validate' }>): Promise<Timed> {
  const { validate } = await import('../src/ops/validate.js');
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = await validate(spec.root, { ...AS_CLI, engine: spec.engine, workers: spec.workers, accel: spec.accel, callerRuns: spec.callerRuns, onResult: () => undefined, ...indexOf(spec) });
  const ms = performance.now() - t0;
  return { ms, detail: { total_files: r.total_files, valid_files: r.valid_files, invalid_files: r.invalid_files, ...engineUsed(spec, r.scan.engine), ...cpuSince(c0) } };
}

async function statsOp(spec: Extract<OpSpec, { op: 'stats' }>): Promise<Timed> {
  const { stats, statsRaw } = await import('../src/ops/stats.js');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (spec.shard) {
    const r = await statsRaw(spec.root, { ...AS_CLI, engine: spec.engine, workers: spec.workers, shard: spec.shard });
    const ms = performance.now() - t0;
    return { ms, detail: { shard: `${spec.shard.index}/${spec.shard.count}`, total_images: r.images, total_sidecars: r.sidecarsCounted, cpuMs: cpuMsSince(cpu0), ...engineUsed(spec) } };
  }
  const r = await stats(spec.root, { ...AS_CLI, engine: spec.engine, workers: spec.workers, accel: spec.accel, ...indexOf(spec) });
  const ms = performance.now() - t0;
  return { ms, detail: { total_images: r.total_images, total_sidecars: r.total_sidecars, format_distribution: r.format_distribution, ...engineUsed(spec), ...cpuSince(cpu0) } };
}

/** CPU time of the whole process (main and worker threads) since `start`, ms. */
function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

async function formatStatsOp(spec: Extract<OpSpec, { op: 'format-stats' }>): Promise<Timed> {
  const { formatStats } = await import('../src/ops/format-stats.js');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await formatStats(spec.root, { ...AS_CLI, engine: spec.engine, workers: spec.workers, ...indexOf(spec) });
  const ms = performance.now() - t0;
  return { ms, detail: { total_files: r.total_files, format_distribution: r.format_distribution, ...engineUsed(spec), ...cpuSince(c0) } };
}

async function reportOp(spec: Extract<OpSpec, { op: 'report' }>): Promise<Timed> {
  const { report } = await import('../src/report/run.js');
  const t0 = performance.now();
  const r = await report(spec.root, { ...AS_CLI, engine: spec.engine, workers: spec.workers });
  const ms = performance.now() - t0;
  return { ms, detail: { bytes: r.bytes, total_images: r.stats.total_images, invalid_files: r.validation.invalidFiles, ...engineUsed(spec) } };
}

async function todoOp(spec: Extract<OpSpec, { op: 'todo' }>): Promise<Timed> {
  const { todo } = await import('../src/ops/todo.js');
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = await todo(spec.root, { ...AS_CLI, engine: spec.engine, workers: spec.workers, operation: spec.operation, onEntry: () => undefined });
  const ms = performance.now() - t0;
  return { ms, detail: { ...r.counts, problems: r.problemCount, ...engineUsed(spec), ...cpuSince(c0) } };
}

/** Numbers and booleans at the top of a report (counts), without its per-file lists. */
function scalars(report: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (report && typeof report === 'object') {
    for (const [k, v] of Object.entries(report)) if (typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  }
  return out;
}

async function convertOp(spec: Extract<OpSpec, { op: 'convert' }>): Promise<Timed> {
  const { convert } = await import('../src/ops/convert.js');
  const t0 = performance.now();
  const report = await convert(spec.root, spec.format, { ...AS_CLI, workers: spec.workers, onItem: () => undefined });
  const ms = performance.now() - t0;
  return { ms, detail: { ...scalars(report), ...engineUsed(spec) } };
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

async function readOp(list: string): Promise<Timed> {
  const { readSidecar } = await import('../src/ops/read.js');
  const paths = loadList(list);
  let errorsSeen = 0;
  let empty = 0;
  const t0 = performance.now();
  for (const p of paths) {
    try {
      if (isEmpty(await readSidecar(p, AS_CLI))) empty++;
    } catch {
      errorsSeen++; // corrupt sidecars in the sample library: an error, as documented
    }
  }
  const ms = performance.now() - t0;
  return { ms, detail: { calls: paths.length, errors: errorsSeen, empty, perCallMs: ms / paths.length } };
}

async function hashOp(spec: Extract<OpSpec, { op: 'hash' }>): Promise<Timed> {
  const { hashTree } = await import('../src/integrity/tree-hash.js');
  const t0 = performance.now();
  const r = await hashTree(spec.root, { ...AS_CLI, workers: spec.workers });
  const ms = performance.now() - t0;
  return { ms, detail: { files: r.files, bytes: r.bytes, tag: r.tag, ...engineUsed(spec) } };
}

function sha256sumOp(list: string): Timed {
  const fd = openSync(list, 'r');
  try {
    const t0 = performance.now();
    const r = spawnSync('xargs', ['-0', 'sha256sum'], { stdio: [fd, 'ignore', 'pipe'] });
    const ms = performance.now() - t0;
    if (r.error || r.status !== 0) throw errors.internal(`xargs -0 sha256sum failed: ${r.error?.message ?? r.stderr.toString().trim()}`);
    return { ms, detail: { tool: 'xargs -0 sha256sum' }, rssMeaningful: false };
  } finally {
    closeSync(fd);
  }
}

async function serverReadsOp(spec: Extract<OpSpec, { op: 'server-reads' }>): Promise<Timed> {
  const paths = loadList(spec.list);
  const client = new ServerClient(spec.cli);
  const t00 = performance.now();
  const pong = await client.call('ping', {});
  const startMs = performance.now() - t00;
  if (!pong.ok) throw errors.internal(`server did not answer ping: ${pong.head}`);

  // throughput: every image, up to `window` requests in flight
  let failed = 0;
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < paths.length) {
      const r = await client.call('read', { image: paths[next++] });
      if (!r.ok) failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.window, paths.length) }, lane));
  const ms = performance.now() - t0;

  // latency: one call at a time (the pipeline's pattern: read, work, save)
  const n = Math.min(spec.latencyCalls, paths.length);
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await client.call('read', { image: paths[i] });
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  const serverRssKB = client.peakRssKB();
  const exit = await client.close();
  if (exit !== 0) throw errors.internal(`server exited with ${exit}`);
  return {
    ms,
    rssMeaningful: false,
    detail: {
      calls: paths.length,
      errors: failed,
      window: spec.window,
      startMs,
      latencyCalls: n,
      latencyP50Ms: percentile(lat, 50),
      latencyP90Ms: percentile(lat, 90),
      latencyP99Ms: percentile(lat, 99),
      latencyMeanMs: lat.reduce((a, b) => a + b, 0) / Math.max(1, n),
      serverPeakRssKB: serverRssKB,
    },
  };
}

/** The inspect task alone (read + decode + summary + rules), one thread: the per-file parse cost. */
async function accelInspectOp(spec: Extract<OpSpec, { op: 'accel-inspect' }>): Promise<Timed> {
  const { inspectFile } = await import('../src/tasks/inspect.js');
  const { validateInspectOptions } = await import('../src/ops/validate.js');
  const paths = loadList(spec.list);
  const what = spec.what ?? 'validate';
  // as validate sets them (no filter), or as todo does
  const opts = { ...(what === 'probe' ? { probe: true } : validateInspectOptions(false)), accel: spec.accel };
  let certified = 0;
  let deferred = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  if (what === 'check') {
    const { readFileLimitedSync } = await import('../src/fs/read-file.js');
    const { consumedTape, scanJson, scannerInput } = await import('../src/accel/scanner.js');
    const room = (n: number) => scannerInput(n, DEFAULT_MAX_DEPTH);
    for (const p of paths) {
      const bytes = readFileLimitedSync(p, undefined, room);
      if (typeof scanJson(bytes, DEFAULT_MAX_DEPTH) === 'number') deferred++;
      else {
        certified++;
        // Keep the keys this scan interned, as a skeleton that reads the tape does (no skeleton is
        // ever built in this process, so none needs their strings): later scans find them.
        consumedTape();
      }
    }
  } else {
    for (const p of paths) {
      const r = inspectFile({ path: p, name: p.slice(p.lastIndexOf('/') + 1) }, opts);
      if (r.accel === 'wasm') certified++;
      else if (r.accel === 'deferred') deferred++;
    }
  }
  const ms = performance.now() - t0;
  return { ms, detail: { files: paths.length, certified, deferred, cpuMs: cpuMsSince(c0) } };
}

async function codecOp(spec: Extract<OpSpec, { op: 'codec' }>): Promise<Timed> {
  const { codecFigures } = await import('./codec-bench.js');
  const t0 = performance.now();
  const figures = codecFigures(spec.count, spec.seed);
  return { ms: performance.now() - t0, detail: { ...figures } };
}

async function exportDatasetOp(spec: Extract<OpSpec, { op: 'export-dataset' }>): Promise<Timed> {
  const { exportDataset } = await import('../src/ops/datasets.js');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await exportDataset(spec.root, { ...AS_CLI, engine: spec.engine, workers: spec.workers, format: spec.format, output: spec.output });
  const ms = performance.now() - t0;
  return { ms, detail: { images: r.images, rows: r.rows, annotations: r.annotations, findings: r.findings, problems: r.problems, ...engineUsed(spec), cpuMs: cpuMsSince(c0) } };
}

function pythonEmbeddingsOp(spec: Extract<OpSpec, { op: 'python-embeddings' }>): Timed {
  const r = spawnSync(spec.python, [spec.script, spec.list], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw errors.internal(`python embeddings loop failed: ${r.stderr.slice(-300)}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number; cpu_ms: number; rows: number; files: number; numpy: boolean };
  return { ms: out.ms, detail: { rows: out.rows, files: out.files, numpy: out.numpy, cpuMs: out.cpu_ms }, rssMeaningful: false };
}

export async function runOp(spec: OpSpec): Promise<Timed> {
  switch (spec.op) {
    case 'at-once':
      return atOnce(spec.specs);
    case 'export-dataset':
      return exportDatasetOp(spec);
    case 'python-embeddings':
      return pythonEmbeddingsOp(spec);
    case 'floor-read':
      return floorRead(spec.list);
    case 'floor-parse':
      return floorParse(spec.list);
    case 'floor-decode':
      return floorDecode(spec.list);
    case 'floor-write':
      return floorWrite(spec.from, spec.dir);
    case 'floor-irreducible':
      return (await import('./irreducible.js')).irreducible(spec.root, spec.decode);
    case 'floor-file-server':
      return (await import('./file-server-calls.js')).fileServerCalls(spec.root, spec.listFrom, spec.reads);
    case 'floor-walk':
      return floorWalk(spec.root);
    case 'floor-stat':
      return floorStat(spec.list, spec.root);
    case 'orig-convert':
      return origConvertOp(spec);
    case 'tool-run':
      return (await import('./tool-run.js')).toolRunOp(spec);
    case 'floor-durable':
      return floorDurable(spec);
    case 'validate':
      return validateOp(spec);
    case 'stats':
      return statsOp(spec);
    case 'format-stats':
      return formatStatsOp(spec);
    case 'report':
      return reportOp(spec);
    case 'todo':
      return todoOp(spec);
    case 'convert':
      return convertOp(spec);
    case 'read':
      return readOp(spec.list);
    case 'hash':
      return hashOp(spec);
    case 'sha256sum':
      return sha256sumOp(spec.list);
    case 'server-reads':
      return serverReadsOp(spec);
    case 'codec':
      return codecOp(spec);
    case 'accel-inspect':
      return accelInspectOp(spec);
    default: {
      const unknown: never = spec;
      throw errors.usage(`unknown operation: ${JSON.stringify((unknown as { op?: unknown }).op)}`);
    }
  }
}
