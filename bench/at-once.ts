/**
 * `at-once`: N runs started together, each in a runner process of its own, to estimate what the
 * machine's cores give a run split N ways. The runs share the cores, the caches and the disk as the
 * parts of a split run would, and pay nothing to split or to join: the longer of their own clocks
 * (each excludes its module loading, as every run's does), divided by N, estimates the least a run
 * split over the cores can take here (docs/BENCHMARKS.md, section `runs`). It is an estimate, not a
 * strict bound: each copy touches the whole tree (a part would touch its share), and the copies'
 * clocks start when each has loaded its modules (`startSkewMs` says how far apart).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { OpSample, OpSpec } from './protocol.js';
import { errors } from '../src/errors.js';

const RUNNER = fileURLToPath(new URL('./runner.js', import.meta.url));

/** One runner; `started` gets the child (a sibling's failure kills it). */
function runAsync(spec: OpSpec, started: (c: ChildProcess) => void): Promise<OpSample & { endedAt: number }> {
  return new Promise((resolve, reject) => {
    // The runner's own environment (the thread pool the bench set for it) is the children's.
    const child = spawn(process.execPath, [RUNNER, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    started(child);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const endedAt = performance.timeOrigin + performance.now();
      const last = out.trim().split('\n').pop();
      if (code !== 0 || !last) return reject(errors.internal(`${spec.op} (run at once with others) exited with ${code ?? signal}: ${err.trim().split('\n').pop() ?? ''}`));
      try {
        resolve({ ...(JSON.parse(last) as OpSample), endedAt });
      } catch (e) {
        reject(errors.internal(`${spec.op} (run at once with others) printed no result: ${last.slice(0, 200)}`, e));
      }
    });
  });
}

/**
 * The runs' time as one run split N ways: the longest of their own clocks divided by N; their
 * CPU, divided by N. `childMs`: each run's own clock; `startSkewMs`: how far apart their clocks
 * started (each run's end, as this process saw it, less its own time).
 */
export async function atOnce(specs: readonly OpSpec[]): Promise<{ ms: number; detail: Record<string, unknown>; rssMeaningful: false }> {
  if (specs.length === 0) throw errors.usage('at-once: no runs given');
  const children: ChildProcess[] = [];
  let samples: (OpSample & { endedAt: number })[];
  try {
    samples = await Promise.all(specs.map((s) => runAsync(s, (c) => children.push(c))));
  } catch (e) {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(); // not left running into the next measurement
    throw e;
  }
  const n = samples.length;
  const cpu = samples.map((s) => Number(s.detail.cpuMs));
  const starts = samples.map((s) => s.endedAt - s.ms);
  return {
    ms: Math.max(...samples.map((s) => s.ms)) / n,
    detail: {
      childMs: samples.map((s) => s.ms),
      startSkewMs: Math.round(Math.max(...starts) - Math.min(...starts)),
      ...(cpu.every(Number.isFinite) ? { cpuMs: cpu.reduce((a, b) => a + b, 0) / n } : {}),
    },
    rssMeaningful: false,
  };
}
