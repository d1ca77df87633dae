/**
 * Section `earlier`: one whole process of a command-line tool per measured run, ours (`node
 * dist/bundle/cli.cjs`, its JSON on a pipe to the runner, as the spawn rows read it) or the earlier Rust
 * tool (`-o` to a scratch file: its default output is stdout), under /usr/bin/time for the
 * process's CPU time and peak RSS. Wall time is from spawn to exit. After the clock stops the
 * output is read: a run that exited badly or whose output shows it did not do the job (no JSON,
 * no file counted, an incomplete scan) throws, so its row is a failure with the reason, never a
 * number. The counts each tool printed go into the row's detail.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpSpec } from './protocol.js';
import { errors } from '../src/errors.js';

export type ToolRunSpec = Extract<OpSpec, { op: 'tool-run' }>;

export const TIME_BIN = '/usr/bin/time';

/** What a tool printed that says how much of the job it did (the row's detail). */
export interface ToolCounts {
  /** The sidecars the run covered: validate's `total_files`, stats' `total_sidecars`. */
  sidecars: number;
  [k: string]: number | boolean | string | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * The counts of one run's output, or the reason the run did not do the job (thrown). Our CLI exits
 * 0, or 1 when it found problems (the sample library has corrupt sidecars on purpose); 2 or a
 * signal is a failure. The earlier tool exits 0 on success.
 */
export function checkToolOutput(tool: 'ours' | 'earlier' | 'floor', command: 'validate' | 'stats', exit: { status: number | null; signal?: string | null }, text: string | null): ToolCounts {
  const who = tool === 'ours' ? 'our CLI' : tool === 'earlier' ? 'the earlier tool' : 'the irreducible work';
  const what = tool === 'floor' ? who : `${who}'s ${command}`;
  const okExit = tool === 'ours' ? exit.status === 0 || exit.status === 1 : exit.status === 0;
  if (!okExit) throw errors.internal(`${what} exited with ${exit.status ?? exit.signal ?? 'nothing'}`);
  if (text === null || text.trim() === '') throw errors.internal(`${what} wrote no output`);
  let out: Record<string, unknown>;
  try {
    out = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw errors.internal(`${what} output is not JSON: ${(e as Error).message}`);
  }
  if (!out || typeof out !== 'object') throw errors.internal(`${what} output is not a JSON object`);
  if (tool === 'floor') {
    const files = num(out.files);
    if (files === null || files === 0) throw errors.internal(`${who} read no sidecar`);
    return { sidecars: files, links: num(out.links) };
  }
  if (out.scan_complete === false) throw errors.internal(`${who}'s ${command} says its scan was not complete (scan_problems ${String(out.scan_problems)})`);
  if (command === 'validate') {
    const total = num(out.total_files);
    if (total === null) throw errors.internal(`${who}'s validate output has no total_files`);
    if (total === 0) throw errors.internal(`${who}'s validate validated 0 files`);
    const results = Array.isArray(out.results) ? out.results.length : null;
    return { sidecars: total, valid: num(out.valid_files), invalid: num(out.invalid_files), results };
  }
  const total = num(out.total_sidecars);
  if (total === null) throw errors.internal(`${who}'s stats output has no total_sidecars`);
  if (total === 0) throw errors.internal(`${who}'s stats counted 0 sidecars`);
  const counts: ToolCounts = { sidecars: total, images: num(out.total_images) };
  if (tool === 'ours') counts.sidecarFiles = num(out.sidecar_files);
  else counts.listed = Array.isArray(out.sidecars) ? out.sidecars.length : null;
  return counts;
}

/** The command line of a run (after the executable). */
export function toolArgv(spec: ToolRunSpec): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
  if (spec.tool === 'earlier') {
    if (!spec.out) throw errors.usage('tool-run: the earlier tool needs an output file');
    return { file: spec.exe, args: [spec.command, '--input', spec.root, '-o', spec.out], env: process.env };
  }
  if (spec.tool === 'floor') return { file: process.execPath, args: [spec.exe, spec.root, ...(spec.engine === 'inline' ? ['--inline'] : [])], env: process.env };
  const env = { ...process.env };
  // The default engine unless the spec asks for inline (an engine set in the bench's own environment does not leak in).
  delete env.IMAGE_SIDECAR_ENGINE;
  if (spec.engine === 'inline') env.IMAGE_SIDECAR_ENGINE = 'inline';
  const index = spec.index ? ['--index', spec.index] : ['--no-index'];
  return { file: process.execPath, args: [spec.exe, spec.command, spec.root, '--json', ...index], env };
}

/** `%e %U %S %M` of /usr/bin/time: its last line (a signal adds a line before it). */
export function parseTimeFile(text: string): { cpuMs: number; maxRssKB: number } {
  const last = text.trim().split('\n').pop() ?? '';
  const [, user, sys, rss] = last.split(' ').map(Number);
  if (![user, sys, rss].every(Number.isFinite)) throw errors.internal(`unreadable /usr/bin/time output: ${JSON.stringify(last)}`);
  return { cpuMs: Math.round((user + sys) * 1000), maxRssKB: rss };
}

export function toolRunOp(spec: ToolRunSpec): { ms: number; maxRssKB: number; detail: Record<string, unknown> } {
  if (!existsSync(TIME_BIN)) throw errors.internal(`${TIME_BIN} is needed for the CPU time and peak RSS of a whole process`);
  const { file, args, env } = toolArgv(spec);
  const timeFile = join(tmpdir(), `isc-bench-tool-${process.pid}.time`);
  rmSync(timeFile, { force: true });
  // A stale output file must never pass for this run's.
  if (spec.out) rmSync(spec.out, { force: true });
  const t0 = performance.now();
  const r = spawnSync(TIME_BIN, ['-o', timeFile, '-f', '%e %U %S %M', file, ...args], {
    env,
    stdio: ['ignore', spec.tool === 'earlier' ? 'ignore' : 'pipe', 'pipe'],
    maxBuffer: 1024 * 1024 * 1024,
  });
  const ms = performance.now() - t0;
  if (r.error) throw errors.internal(`could not run ${file}: ${r.error.message}`);
  const stderrTail = r.stderr?.toString().trim().split('\n').slice(-2).join(' | ') ?? '';
  let time: { cpuMs: number; maxRssKB: number };
  try {
    time = parseTimeFile(readFileSync(timeFile, 'utf8'));
  } finally {
    rmSync(timeFile, { force: true });
  }
  let text: string | null;
  if (spec.tool !== 'earlier') text = r.stdout?.toString() ?? null;
  else text = spec.out && existsSync(spec.out) ? readFileSync(spec.out, 'utf8') : null;
  let counts: ToolCounts;
  try {
    counts = checkToolOutput(spec.tool, spec.command, { status: r.status, signal: r.signal }, text);
  } catch (e) {
    throw errors.internal(`${(e as Error).message}${stderrTail ? ` (stderr: ${stderrTail})` : ''}`);
  }
  const detail: Record<string, unknown> = { ...counts, exit: r.status, cpuMs: time.cpuMs };
  // What the index did in this run (our CLI writes it beside the index).
  if (spec.index && existsSync(`${spec.index}.last-run.json`)) {
    try {
      detail.index = JSON.parse(readFileSync(`${spec.index}.last-run.json`, 'utf8'));
    } catch {
      detail.index = 'unreadable last-run file';
    }
  }
  return { ms, maxRssKB: time.maxRssKB, detail };
}
