/**
 * Figures that are process starts: `image-sidecar --version` and one `image-sidecar read` per
 * image (what a caller without the server pays per call). Timed from spawn to exit.
 */
import { spawnSync } from 'node:child_process';
import { median } from './measure.js';
import { errors } from '../src/errors.js';

export interface SpawnFigure {
  calls: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  failures: number;
}

function timeSpawn(args: string[], program = process.execPath): { ms: number; ok: boolean; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(program, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
  return { ms: performance.now() - t0, ok: !r.error && r.status === 0, stderr: r.stderr?.toString() ?? r.error?.message ?? '' };
}

/** One untimed warm-up spawn, then `calls` timed spawns; argsFor(i) gives each call's arguments. */
export function spawnFigure(calls: number, argsFor: (i: number) => string[]): SpawnFigure {
  const first = timeSpawn(argsFor(0));
  if (!first.ok) throw errors.internal(`node ${argsFor(0).join(' ')} failed: ${first.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  const ms: number[] = [];
  let failures = 0;
  for (let i = 0; i < calls; i++) {
    const r = timeSpawn(argsFor(i));
    if (!r.ok) failures++;
    ms.push(r.ms);
  }
  return { calls, medianMs: median(ms), minMs: Math.min(...ms), maxMs: Math.max(...ms), failures };
}

/**
 * Programs' starts in alternation (one untimed warm-up each, then `calls` timed rounds), so a
 * change in the machine's load falls on all of them: each is [program, ...args].
 */
export function alternatingSpawnFigures(calls: number, programs: readonly (readonly string[])[]): SpawnFigure[] {
  const times: number[][] = programs.map(() => []);
  const failures = programs.map(() => 0);
  for (const p of programs) {
    const first = timeSpawn(p.slice(1), p[0]);
    if (!first.ok) throw errors.internal(`${p.join(' ')} failed: ${first.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  }
  for (let i = 0; i < calls; i++) {
    programs.forEach((p, k) => {
      const r = timeSpawn(p.slice(1), p[0]);
      if (!r.ok) failures[k]++;
      times[k].push(r.ms);
    });
  }
  return times.map((ms, k) => ({ calls, medianMs: median(ms), minMs: Math.min(...ms), maxMs: Math.max(...ms), failures: failures[k] }));
}
