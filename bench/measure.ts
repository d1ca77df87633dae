/**
 * Running measured things: one child process per run (so each run's peak RSS is its own), one
 * warm-up run first (page cache, JIT-independent since each child starts cold the same way),
 * then the median of `runs` runs.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { OpSample, OpSpec } from './protocol.js';
import { errors } from '../src/errors.js';
import { CLI_THREAD_POOL_SIZE } from '../src/tuning.js';

const RUNNER = fileURLToPath(new URL('./runner.js', import.meta.url));

export interface Measurement {
  /** Median wall time of the measured runs (ms). */
  ms: number;
  runsMs: number[];
  /** Highest peak RSS of the measured runs (KiB), null when not meaningful. */
  maxRssKB: number | null;
  /** The detail of the median run. */
  detail: Record<string, unknown>;
  /** Each run's CPU ms (all threads) where the runner reported it, in run order. */
  runsCpuMs?: number[];
  /**
   * The set of rounds this was measured in (measureRounds, measurePair, measureInterleaved): run k
   * of every measurement of one set ran in the same round, so two of them are compared round by
   * round (`timeRatio`). Absent for a measurement of its own.
   */
  rounds?: number;
}

export interface Failure {
  error: string;
}

export type Outcome = Measurement | Failure;

export const isFailure = (o: Outcome | undefined): o is Failure => o !== undefined && 'error' in o;

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

/** Run one operation in a fresh `node` process and return what it reports. */
export function runChild(spec: OpSpec): OpSample {
  const r = spawnSync(process.execPath, [RUNNER, JSON.stringify(spec)], {
    // The CLI's thread pool (cli/thread-pool-size.ts), which the runner, an ES module, starts too early to size itself.
    env: { UV_THREADPOOL_SIZE: String(CLI_THREAD_POOL_SIZE), ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
    encoding: 'utf8',
  });
  if (r.error) throw errors.internal(`could not start the runner for ${spec.op}: ${r.error.message}`, r.error);
  const lines = r.stdout.trim().split('\n');
  const last = lines[lines.length - 1];
  if (r.status !== 0 || !last) {
    const why = (r.stderr || r.stdout || '').trim().split('\n').pop();
    throw errors.internal(`${spec.op} exited with ${r.status ?? r.signal}: ${why}`);
  }
  return JSON.parse(last) as OpSample;
}

export interface MeasureOptions {
  runs: number;
  /** Called before each run (warm-up included, index -1): returns the spec to run, e.g. on a fresh copy. */
  prepare?: (run: number) => OpSpec;
  /** Called after each run, e.g. to remove the copy. */
  cleanup?: (run: number, spec: OpSpec) => void;
}

/** Sets of rounds started in this process (Measurement.rounds). */
let roundSets = 0;

function summarise(label: string, samples: OpSample[], rounds?: number): Measurement {
  const runsMs = samples.map((s) => s.ms);
  const cpu = samples.map((s) => s.detail?.cpuMs);
  const ms = median(runsMs);
  const mid = samples.find((s) => s.ms === ms) ?? samples[samples.length >> 1];
  const rss = samples.map((s) => s.maxRssKB).filter((v): v is number => v !== null);
  log(`${label}: ${ms.toFixed(1)} ms (runs ${runsMs.map((v) => v.toFixed(0)).join(', ')})`);
  const m: Measurement = { ms, runsMs, maxRssKB: rss.length > 0 ? Math.max(...rss) : null, detail: mid.detail };
  if (cpu.every((v): v is number => typeof v === 'number')) m.runsCpuMs = cpu;
  if (rounds !== undefined) m.rounds = rounds;
  return m;
}

/** What `timeRatio` needs of a measurement or a figure made of one. */
export interface RunTimes {
  ms: number;
  runsMs: readonly number[];
  runsCpuMs?: readonly number[];
  rounds?: number;
}

/**
 * `a` over `b` in wall time (`cpu`: CPU time, all threads). Measured in the same rounds, the median
 * of the rounds' own ratios: a round's two runs share the machine's state of that moment, so drift
 * between rounds (other load, the host) cancels. In an A/A test (the same command as both, 42
 * rounds, groups of 7 drawn from them) its spread was 0.016 against 0.027 for the ratio of the
 * medians. Otherwise the ratio of the medians.
 */
export function timeRatio(a: RunTimes | null | undefined, b: RunTimes | null | undefined, cpu = false): number | null {
  if (!a || !b) return null;
  const xs = cpu ? a.runsCpuMs : a.runsMs;
  const ys = cpu ? b.runsCpuMs : b.runsMs;
  if (a.rounds !== undefined && a.rounds === b.rounds && xs && ys && xs.length === ys.length && xs.length > 0 && ys.every((y) => y > 0)) {
    return median(xs.map((x, i) => x / ys[i]));
  }
  if (cpu) {
    const ca = xs && xs.length > 0 ? median(xs) : null;
    const cb = ys && ys.length > 0 ? median(ys) : null;
    return ca === null || cb === null || cb === 0 ? null : ca / cb;
  }
  return b.ms === 0 ? null : a.ms / b.ms;
}

function failed(label: string, e: unknown): Failure {
  const error = e instanceof Error ? e.message : String(e);
  log(`${label}: FAILED: ${error}`);
  return { error };
}

/**
 * Two operations compared with each other (e.g. one engine against the other): one warm-up each,
 * then their runs interleaved (A B A B ...), so a change in machine load hits both alike.
 */
export function measurePair(labels: [string, string], specs: [OpSpec, OpSpec], runs: number): [Outcome, Outcome] {
  return measureInterleaved(labels, specs, runs) as [Outcome, Outcome];
}

/** Like measurePair for any number of operations: run k of each is measured back to back (measureRounds). */
export function measureInterleaved(labels: readonly string[], specs: readonly OpSpec[], runs: number): Outcome[] {
  return measureRounds(specs.map((spec, k) => ({ label: labels[k], spec })), runs);
}

/** One warm-up run, then `runs` measured runs; a failing operation becomes a Failure, not an abort. */
export function measure(label: string, spec: OpSpec, opts: MeasureOptions): Outcome {
  const samples: OpSample[] = [];
  try {
    for (let i = -1; i < opts.runs; i++) {
      const s = opts.prepare ? opts.prepare(i) : spec;
      try {
        const sample = runChild(s);
        if (i >= 0) samples.push(sample);
      } finally {
        opts.cleanup?.(i, s);
      }
    }
  } catch (e) {
    return failed(label, e);
  }
  return summarise(label, samples);
}

/**
 * One run, no warm-up: a figure of memory (its peak RSS) of an operation too slow to repeat; its
 * time is only indicative.
 */
export function measureOnce(label: string, spec: OpSpec): Outcome {
  try {
    return summarise(label, [runChild(spec)]);
  } catch (e) {
    return failed(label, e);
  }
}

/**
 * Several operations measured in rounds (A B C ... A B C ...), one warm-up round first, so a change
 * in machine load hits all alike; `prepare` runs before each run of its step (untimed), e.g. to
 * put an index file in place.
 */
export function measureRounds(steps: ReadonlyArray<{ label: string; spec: OpSpec; prepare?: () => void }>, runs: number): Outcome[] {
  const samples: OpSample[][] = steps.map(() => []);
  const errorsSeen: unknown[] = steps.map(() => null);
  const rounds = ++roundSets;
  for (let i = -1; i < runs; i++) {
    steps.forEach((step, k) => {
      if (errorsSeen[k] !== null) return;
      try {
        step.prepare?.();
        const s = runChild(step.spec);
        if (i >= 0) samples[k].push(s);
      } catch (e) {
        errorsSeen[k] = e ?? new Error('failed');
      }
    });
  }
  return steps.map((s, k) => (errorsSeen[k] !== null ? failed(s.label, errorsSeen[k]) : summarise(s.label, samples[k], rounds)));
}
