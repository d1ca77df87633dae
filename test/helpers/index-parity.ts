/**
 * What the index parity tests share: every command that reads through the index, run with it or
 * with `index: false` (as text, processing times zeroed), each indexed run's figures kept; warming
 * an index until it serves a run whole; in-place edits of sidecars; a short message for two
 * outputs that differ; photo libraries.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { formatStats, scan, stats, validate, type IndexOptions, type IndexRunStats, type ValidationResult } from '../../src/index.js';
import type { EngineKind, Keyring } from '../../src/types.js';
import { FAKE_JPEG, sidecarData, type TreeNode } from './tree.js';
import { FULL_CAMPAIGNS } from './campaign.js';
import { ScanSession } from '../../src/scan/session.js';
import { openScanCache } from '../../src/incremental/scan-cache.js';
import type { OpenScanCache } from '../../src/scan/port.js';

/**
 * One `validate` run with the index at `indexPath`: each file's path, category and verdict as in
 * `expected` (the same tree validated without the index).
 */
export async function assertValidateAsWithoutIndex(root: string, indexPath: string, expected: { results?: ValidationResult[] }, label: string, opts: { keyring?: Keyring } = {}): Promise<void> {
  const rows = (r: { results?: ValidationResult[] }) => r.results!.map((x) => [x.file_path, x.category, x.is_valid]);
  assert.deepEqual(rows(await validate(root, { ...opts, index: { path: indexPath } })), rows(expected), label);
}

export const noTimes = (v: unknown) => JSON.stringify(v).replace(/"processing_time":[-0-9.e+]+/g, '"processing_time":0');

/** How the index answered a run: 'served' every sidecar from the index and wrote nothing, else 'read'. */
export type How = 'served' | 'read';
export interface Run {
  how: How;
  misses: number;
  recordsServed: number;
  /** Sidecar stats taken ahead (IndexRunStats.statsAhead). */
  statsAhead: number;
}

export interface CmdOpts {
  engine?: EngineKind;
  workers?: number;
  maxFileSize?: number;
  racyMarginMs?: number;
}

const runOf = (s: IndexRunStats): Run => ({ how: s.misses === 0 && !s.written ? 'served' : 'read', misses: s.misses, recordsServed: s.recordsServed, statsAhead: s.statsAhead ?? 0 });

/** Every command that reads through the index: `(withIndex) => output text`; `runs` gets each indexed run's figures. */
export function commands(root: string, indexPath: string, runs: Run[], o: CmdOpts = {}) {
  const index: IndexOptions = { path: indexPath, racyMarginMs: o.racyMarginMs ?? 0, onStats: (s) => runs.push(runOf(s)) };
  const ix = (w: boolean) => (w ? index : false);
  const base = { engine: o.engine, workers: o.workers, maxFileSize: o.maxFileSize };
  return {
    validate: async (w: boolean) => {
      const results: ValidationResult[] = [];
      const r = await validate(root, { ...base, index: ix(w), onResult: (x) => void results.push(x) });
      return noTimes({ results, ...r });
    },
    'validate kept': async (w: boolean) => noTimes(await validate(root, { ...base, index: ix(w) })),
    'validate op': async (w: boolean) => noTimes(await validate(root, { ...base, index: ix(w), operationType: 'yolov8' })),
    'validate where': async (w: boolean) => noTimes(await validate(root, { ...base, index: ix(w), where: 'faces >= 2' })),
    stats: async (w: boolean) => noTimes(await stats(root, { ...base, index: ix(w) })),
    'stats op': async (w: boolean) => noTimes(await stats(root, { ...base, index: ix(w), operationType: 'face_detection', list: true })),
    'stats where': async (w: boolean) => noTimes(await stats(root, { ...base, index: ix(w), where: 'faces >= 2', folders: 3 })),
    'format-stats': async (w: boolean) => noTimes(await formatStats(root, { ...base, index: ix(w) })),
    // 4,500 bytes: every sidecar of the crafted trees fits (one over the limit is read on every run).
    'validate max': async (w: boolean) => noTimes(await validate(root, { ...base, index: ix(w), maxFileSize: 4500, maxDepth: 6 })),
  };
}
export type CmdName = keyof ReturnType<typeof commands>;
/**
 * The commands an attack runs: all seven in the full campaigns (helpers/campaign.ts); in npm test
 * four that take each path (results streamed, an operation filter with lists, a --where filter
 * with folders, format-stats' own inspection).
 */
export const PARITY_COMMANDS: CmdName[] = FULL_CAMPAIGNS ? ['validate', 'validate kept', 'validate op', 'stats', 'stats op', 'stats where', 'format-stats'] : ['validate', 'stats op', 'stats where', 'format-stats'];
export const FEW: CmdName[] = ['validate', 'stats op', 'format-stats'];

export const show = (runs: Run[]) => runs.map((r) => (r.how === 'served' ? 'served' : `read ${r.misses}`)).join(',');

/** Run with the index until it serves a run whole (each run the same as without). */
export async function warm(cmd: (w: boolean) => Promise<string>, runs: Run[], label: string, root?: string): Promise<void> {
  const want = await cmd(false);
  for (let i = 0; i < 8 && runs.at(-1)?.how !== 'served'; i++) {
    const got = await cmd(true);
    assert.ok(got === want, `${label} warming: ${firstDiff(got, want)}`);
  }
  if (runs.at(-1)?.how !== 'served' && root !== undefined) {
    const s = await scan(root, {}).finish();
    assert.fail(`${label} warm (${show(runs)}): complete ${s.complete}, problems ${JSON.stringify(s.problems.slice(0, 3))}`);
  }
  assert.equal(runs.at(-1)?.how, 'served', `${label} warm (${show(runs)})`);
}

/** With the index twice (the run after a change, then the one after it), each the same as without. */
export async function same(cmd: (w: boolean) => Promise<string>, runs: Run[], label: string): Promise<Run[]> {
  const want = await cmd(false);
  const from = runs.length;
  const got = await cmd(true);
  assert.ok(got === want, `${label} (${show(runs.slice(from))}): ${firstDiff(got, want)}`);
  const again = await cmd(true);
  assert.ok(again === want, `${label} again (${show(runs.slice(from))}): ${firstDiff(again, want)}`);
  return runs.slice(from);
}

/** Rewrite a sidecar's JSON in place: a digit of a confidence (mtime put back: only ctime tells), or success flipped (resized). */
export function edit(file: string, round = 0): void {
  const before = statSync(file);
  const text = readFileSync(file, 'utf8');
  let next = text.replace(/"confidence": 0\.(\d)/, (_, d: string) => `"confidence": 0.${(Number(d) + 1 + round) % 10}`);
  if (round % 2 === 1) next = next.replace(/"success": (true|false)/, (_m, v: string) => `"success": ${v === 'true' ? 'false' : 'true '}`);
  assert.notEqual(next, text, `${file} changed`);
  writeFileSync(file, next);
  if (round % 2 === 0) utimesSync(file, before.atime, before.mtime);
}

/** A short message for two command outputs (JSON text) that differ: the first results or keys that do. */
export function firstDiff(got: string, want: string): string {
  if (got === want) return 'same';
  const g = JSON.parse(got) as Record<string, unknown>;
  const w = JSON.parse(want) as Record<string, unknown>;
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, at: string) => {
    if (out.length >= 4) return;
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    if (a && b && typeof a === 'object' && typeof b === 'object') {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const k of keys) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}/${k}`);
      return;
    }
    const show = (v: unknown) => JSON.stringify(v)?.slice(0, 200).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    out.push(`${at}: got ${show(a)} want ${show(b)}`);
  };
  walk(g, w, '');
  return out.join('\n') || 'differ (number spelling)';
}

/**
 * A tree spec of photos beside their sidecars (8-float embeddings): `photo` adds one, `fill` adds
 * `folders` × `each` filler photos (0–2 faces) under `under`.
 */
export function photoSpec() {
  const spec: Record<string, TreeNode> = {};
  const photo = (rel: string, faces = 1, img = '.jpg', side = '.json') => {
    spec[`${rel}${img}`] = FAKE_JPEG;
    spec[`${rel}${side}`] = { json: sidecarData(`${rel}${img}`, faces, 8) };
  };
  const fill = (folders: number, each = 10, under = 'fill') => {
    for (let f = 0; f < folders; f++) for (let k = 0; k < each; k++) photo(`${under}/${f}/f${k}`, k % 3);
  };
  return { spec, photo, fill };
}

/** A scan's records as text (what every command is made of, processing times zeroed), in-process, with the cache `opener` opens when `index` is given. */
export async function scanned(root: string, index: object | undefined, opener: OpenScanCache = openScanCache, signal?: AbortSignal): Promise<string> {
  const out: unknown[] = [];
  for await (const r of new ScanSession(root, { engine: 'inline', index, signal }, index ? opener : null)) out.push(r);
  return JSON.stringify(out).replace(/"elapsedMs":[-0-9.e+]+/g, '"elapsedMs":0');
}
