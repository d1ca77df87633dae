/**
 * The incremental index in bounded memory: the index file is never read whole and new results are
 * spooled to disk, so the peak RSS of a run with the index grows with the library no faster than
 * the same run with --no-index. Measured in child processes (peak RSS, `resourceUsage().maxRSS`)
 * at two sizes; the slope per sidecar of (with index − without) must stay small. The index of
 * version 2 (the whole file in one Buffer, new entries held until the end) grew by about 350 B per
 * sidecar warm and 2,300 B cold here; at 10⁶ images that was 2.8 GB.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAKE_JPEG, testDir } from './helpers/tree.js';

const LIBRARY = fileURLToPath(new URL('../src/index.js', import.meta.url));
const SMALL = 2_000;
const LARGE = 20_000;
/** Bytes per sidecar the peak RSS may grow by, beyond --no-index. */
const WARM_SLOPE = 150;
const COLD_SLOPE = 1_200;

function library(root: string, sidecars: number): void {
  const face = JSON.stringify({ face_detection: { success: true, faces: [{ bbox: [1, 2, 3, 4], confidence: 0.9 }], metadata: { processing_time: 0.5 } } });
  for (let i = 0; i < sidecars; i++) {
    const d = join(root, `d${Math.floor(i / 500)}`);
    if (i % 500 === 0) mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `IMG_${i}.jpg`), FAKE_JPEG);
    writeFileSync(join(d, `IMG_${i}.json`), face);
  }
}

/** Peak RSS (bytes) of `stats` in a fresh process, with the index at `index` or without one. */
function peakRss(root: string, index: string | null): number {
  const script = `const { stats } = await import(${JSON.stringify(LIBRARY)});
const r = await stats(process.argv[1], { engine: 'inline', index: process.argv[2] ? { path: process.argv[2], racyMarginMs: 0 } : undefined });
if (r.total_sidecars < 1) throw new Error('nothing counted');
process.stdout.write(String(process.resourceUsage().maxRSS * 1024));`;
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', script, root, index ?? ''], { encoding: 'utf8' }));
}

test(`index memory: peak RSS per sidecar, ${SMALL} and ${LARGE} sidecars, cold and warm, beyond --no-index`, (t) => {
  const dir = testDir(t, 'isc-index-mem-');
  const rows: Record<string, number[]> = { none: [], cold: [], warm: [] };
  for (const n of [SMALL, LARGE]) {
    const root = join(dir, `lib${n}`);
    library(root, n);
    const index = join(dir, `index${n}`);
    rows.none.push(peakRss(root, null));
    rows.cold.push(peakRss(root, index));
    rows.warm.push(peakRss(root, index));
  }
  const slope = (k: string) => (rows[k][1] - rows.none[1] - (rows[k][0] - rows.none[0])) / (LARGE - SMALL);
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
  for (const k of Object.keys(rows)) t.diagnostic(`${k}: ${rows[k].map(mb).join(' → ')}`);
  t.diagnostic(`slope beyond --no-index: cold ${slope('cold').toFixed(0)} B/sidecar, warm ${slope('warm').toFixed(0)} B/sidecar`);
  assert.ok(slope('warm') < WARM_SLOPE, `warm: ${slope('warm').toFixed(0)} B per sidecar (limit ${WARM_SLOPE})`);
  assert.ok(slope('cold') < COLD_SLOPE, `cold: ${slope('cold').toFixed(0)} B per sidecar (limit ${COLD_SLOPE})`);
});
