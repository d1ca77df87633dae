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
 * Two programs' starts in alternation (one untimed warm-up each, then `calls` timed pairs), so a
 * change in the machine's load falls on both: `a` and `b` are [program, ...args].
 */
export function pairedSpawnFigures(calls: number, a: readonly string[], b: readonly string[]): [SpawnFigure, SpawnFigure] {
  const figures: [number[], number[]] = [[], []];
  const failures = [0, 0];
  const progs = [a, b];
  for (let k = 0; k < 2; k++) {
    const first = timeSpawn(progs[k].slice(1), progs[k][0]);
    if (!first.ok) throw errors.internal(`${progs[k].join(' ')} failed: ${first.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  }
  for (let i = 0; i < calls; i++) {
    for (let k = 0; k < 2; k++) {
      const r = timeSpawn(progs[k].slice(1), progs[k][0]);
      if (!r.ok) failures[k]++;
      figures[k].push(r.ms);
    }
  }
  const figure = (k: number): SpawnFigure => ({ calls, medianMs: median(figures[k]), minMs: Math.min(...figures[k]), maxMs: Math.max(...figures[k]), failures: failures[k] });
  return [figure(0), figure(1)];
}
