/**
 * attack23: what the attacks on a tree memo's patch by group names share (scan.ts patch,
 * ScanOptions.givenGroups, memo-records.ts groupNamesOf): every memo command with the index or
 * without it, each run's index figures kept (memoPatched, memoPatchedByNames), warming to a whole
 * answer, in-place edits of sidecars, and the memo files of an index folder.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatStats, scan, stats, validate, type IndexOptions, type IndexRunStats, type ValidationResult } from '../../src/index.js';
import type { EngineKind } from '../../src/types.js';
import { noTimes, photoSpec } from './memo.js';
import { makeTree, testDir } from './tree.js';
import { firstDiff } from './attack22.js';

export type How = 'whole' | 'patched' | 'none';
export interface Run {
  how: How;
  patched: number;
  byNames: number;
}

export interface CmdOpts {
  engine?: EngineKind;
  maxFileSize?: number;
}

/** Every memo command: `(withIndex) => output text`; `runs` gets each indexed run's figures. */
export function commands(root: string, indexPath: string, runs: Run[], o: CmdOpts = {}) {
  const index: IndexOptions = {
    path: indexPath,
    racyMarginMs: 0,
    onStats: (s: IndexRunStats) => runs.push({ how: s.memo ? (s.memoPatched ? 'patched' : 'whole') : 'none', patched: s.memoPatched ?? 0, byNames: s.memoPatchedByNames ?? 0 }),
  };
  const ix = (w: boolean) => (w ? index : false);
  const base = { engine: o.engine, maxFileSize: o.maxFileSize };
  return {
    validate: async (w: boolean) => {
      const results: ValidationResult[] = [];
      const r = await validate(root, { ...base, index: ix(w), resultsOnly: true, onResult: (x) => void results.push(x) });
      return noTimes({ results, ...r });
    },
    'validate kept': async (w: boolean) => noTimes(await validate(root, { ...base, index: ix(w) })),
    'validate op': async (w: boolean) => noTimes(await validate(root, { ...base, index: ix(w), operationType: 'yolov8' })),
    stats: async (w: boolean) => noTimes(await stats(root, { ...base, index: ix(w) })),
    'stats op': async (w: boolean) => noTimes(await stats(root, { ...base, index: ix(w), operationType: 'face_detection', list: true })),
    'stats where': async (w: boolean) => noTimes(await stats(root, { ...base, index: ix(w), where: 'faces >= 2', folders: 3 })),
    'format-stats': async (w: boolean) => noTimes(await formatStats(root, { ...base, index: ix(w) })),
  };
}
export type CmdName = keyof ReturnType<typeof commands>;
export const ALL: CmdName[] = ['validate', 'validate kept', 'validate op', 'stats', 'stats op', 'stats where', 'format-stats'];
export const FEW: CmdName[] = ['validate', 'stats op', 'format-stats'];

/** Run with the index until the memo answers whole (each run the same as without). */
export async function warm(cmd: (w: boolean) => Promise<string>, runs: Run[], label: string, root?: string): Promise<void> {
  const want = await cmd(false);
  for (let i = 0; i < 8 && runs.at(-1)?.how !== 'whole'; i++) {
    const got = await cmd(true);
    assert.ok(got === want, `${label} warming: ${firstDiff(got, want)}`);
  }
  if (runs.at(-1)?.how !== 'whole' && root !== undefined) {
    const s = await scan(root, {}).finish();
    assert.fail(`${label} warm (${runs.map((r) => r.how).join(',')}): complete ${s.complete}, problems ${JSON.stringify(s.problems.slice(0, 3))}`);
  }
  assert.equal(runs.at(-1)?.how, 'whole', `${label} warm (${runs.map((r) => r.how).join(',')})`);
}

/** With the index twice (the patch, then the memo and its delta), each the same as without. */
export async function same(cmd: (w: boolean) => Promise<string>, runs: Run[], label: string): Promise<Run[]> {
  const want = await cmd(false);
  const from = runs.length;
  const got = await cmd(true);
  assert.ok(got === want, `${label} (${show(runs.slice(from))}): ${firstDiff(got, want)}`);
  const again = await cmd(true);
  assert.ok(again === want, `${label} again (${show(runs.slice(from))}): ${firstDiff(again, want)}`);
  return runs.slice(from);
}

export const show = (runs: Run[]) => runs.map((r) => (r.how === 'patched' ? `patched ${r.patched}/${r.byNames}` : r.how)).join(',');

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

/** The memo files (not deltas) of an index folder. */
export function memoFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /\.memo-[0-9a-f]{16}$/.test(n))
    .map((n) => join(dir, n));
}

/** The delta files of an index folder. */
export function deltaFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /\.memo-[0-9a-f]{16}\.delta$/.test(n))
    .map((n) => join(dir, n));
}

export { firstDiff };
export const overwrite = (p: string, text: string | Buffer) => writeFileSync(p, text);

/** A small library (two photos, three filler folders) in a fresh folder `prefix…`, its index in `idx/` beside it. */
export function smallLibrary(t: { after: (fn: () => void) => void }, prefix: string): { root: string; indexPath: string; idx: string; dir: string } {
  const dir = testDir(t, prefix);
  const { spec, photo, fill } = photoSpec();
  photo('top');
  photo('a/b', 2);
  fill(3);
  const root = makeTree(spec, join(dir, 'lib'));
  const idx = join(dir, 'idx');
  return { root, indexPath: join(idx, 'index'), idx, dir };
}
