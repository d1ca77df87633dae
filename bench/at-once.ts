/**
 * `at-once`: N runs started together, each in a runner process of its own, to measure what the
 * machine's cores give a run split N ways at best. The runs share the cores, the caches and the
 * disk as the parts of a split run would, and pay nothing to split or to join: the wall of N of a
 * run at once, divided by N, is the least a run split perfectly over the cores can take here
 * (docs/BENCHMARKS.md, section `runs`).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { OpSample, OpSpec } from './protocol.js';
import { errors } from '../src/errors.js';

const RUNNER = fileURLToPath(new URL('./runner.js', import.meta.url));

function runAsync(spec: OpSpec): Promise<OpSample> {
  return new Promise((resolve, reject) => {
    // The runner's own environment (the thread pool the bench set for it) is the children's.
    const child = spawn(process.execPath, [RUNNER, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop();
      if (code !== 0 || !last) return reject(errors.internal(`${spec.op} (run at once with others) exited with ${code}: ${err.trim().split('\n').pop() ?? ''}`));
      resolve(JSON.parse(last) as OpSample);
    });
  });
}

/**
 * The runs' time as one run split N ways: the longest of their own clocks (each excludes its
 * module loading, as every run's does) divided by N; the CPU of them all, divided by N.
 */
export async function atOnce(specs: readonly OpSpec[]): Promise<{ ms: number; detail: Record<string, unknown>; rssMeaningful: false }> {
  if (specs.length === 0) throw errors.usage('at-once: no runs given');
  const samples = await Promise.all(specs.map(runAsync));
  const n = samples.length;
  const cpu = samples.map((s) => Number(s.detail.cpuMs));
  return {
    ms: Math.max(...samples.map((s) => s.ms)) / n,
    detail: { runsMs: samples.map((s) => s.ms), ...(cpu.every(Number.isFinite) ? { cpuMs: cpu.reduce((a, b) => a + b, 0) / n } : {}) },
    rssMeaningful: false,
  };
}
