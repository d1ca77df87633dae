/**
 * The incremental index in bounded memory: the index file is never read whole and new results are
 * spooled to disk, so what a run with the index holds grows with the library no faster than the
 * same run with --no-index. Measured in child processes at two sizes: live memory (heap + external
 * after a full collection, sampled during the run) and peak RSS (reported; it varies by hundreds of
 * bytes per sidecar with when the collector runs, so the limit is on live memory). The slope per
 * sidecar of (with index − without) must stay small: version 2 (the whole file in one Buffer, a Map
 * of paths, new entries held until the end) held about 600–700 B per sidecar warm and more cold (at
 * 10⁶ images: 2.8 GB peak): here about 800 B warm and 1,250 B cold. Version 3 measures 140–220 B (its slot table, 12 bytes a slot, and
 * one 8-byte reference per entry).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAKE_JPEG, testDir } from '../helpers/tree.js';

const LIBRARY = fileURLToPath(new URL('../../src/index.js', import.meta.url));
const SMALL = 2_000;
const LARGE = 12_000;
/** Bytes per sidecar the live memory may grow by, beyond --no-index. */
const WARM_SLOPE = 400;
const COLD_SLOPE = 400;
/** The same per sidecar and the symlink that reaches its image (the lookup memo held ~300 B more per link). */
const LINKED_SLOPE = 400;

/** `links`: every image is also reached through a game folder of relative symlinks, as in the pipeline's libraries. */
function library(root: string, sidecars: number, links = false): void {
  const face = JSON.stringify({ face_detection: { success: true, faces: [{ bbox: [1, 2, 3, 4], confidence: 0.9 }], metadata: { processing_time: 0.5 } } });
  for (let i = 0; i < sidecars; i++) {
    const folder = `d${Math.floor(i / 200)}`;
    const d = join(root, folder);
    if (i % 200 === 0) mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `IMG_${i}.jpg`), FAKE_JPEG);
    writeFileSync(join(d, `IMG_${i}.json`), face);
    if (!links) continue;
    const g = join(root, 'games', `g${Math.floor(i / 500)}`);
    if (i % 500 === 0) mkdirSync(g, { recursive: true });
    symlinkSync(`../../${folder}/IMG_${i}.jpg`, join(g, `IMG_${i}.jpg`));
  }
}

/**
 * `stats` in a fresh process: its peak RSS, and its peak live memory (heap + external, after a
 * full collection every 1,000 records: what a run holds, without the garbage peak RSS varies by).
 */
function measure(root: string, index: string | null, every = 1000): { rss: number; live: number } {
  const script = `const { stats } = await import(${JSON.stringify(LIBRARY)});
let live = 0, n = 0;
const onProgress = () => { if (++n % ${every} === 0) { globalThis.gc(); const m = process.memoryUsage(); live = Math.max(live, m.heapUsed + m.external); } };
const r = await stats(process.argv[1], { engine: 'inline', onProgress, index: process.argv[2] ? { path: process.argv[2], racyMarginMs: 0 } : undefined });
if (r.total_sidecars < 1) throw new Error('nothing counted');
process.stdout.write(JSON.stringify({ rss: process.resourceUsage().maxRSS * 1024, live }));`;
  return JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script, root, index ?? ''], { encoding: 'utf8' })) as { rss: number; live: number };
}

test(`index memory: live memory per sidecar, ${SMALL} and ${LARGE} sidecars, cold and warm, beyond --no-index`, (t) => {
  const dir = testDir(t, 'isc-index-mem-');
  // warm: the first repeat run (stores the listings and links); stores: the next one, which stores
  // folder records (on by default); served: the one after, served from them.
  const rows: Record<string, { rss: number; live: number }[]> = { none: [], cold: [], warm: [], stores: [], served: [] };
  for (const n of [SMALL, LARGE]) {
    const root = join(dir, `lib${n}`);
    library(root, n);
    const index = join(dir, `index${n}`);
    rows.none.push(measure(root, null));
    rows.cold.push(measure(root, index));
    rows.warm.push(measure(root, index));
    rows.stores.push(measure(root, index));
    // A run stores a quarter of the records (at least 4,096: folder-records.ts RECORDS_PER_RUN_SHARE):
    // the larger library's are all stored after two more runs.
    for (let i = 0; i < 2; i++) measure(root, index);
    rows.served.push(measure(root, index));
  }
  const slope = (k: string, m: 'rss' | 'live') => (rows[k][1][m] - rows.none[1][m] - (rows[k][0][m] - rows.none[0][m])) / (LARGE - SMALL);
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
  for (const k of Object.keys(rows)) t.diagnostic(`${k}: live ${rows[k].map((r) => mb(r.live)).join(' → ')}, peak RSS ${rows[k].map((r) => mb(r.rss)).join(' → ')}`);
  for (const m of ['live', 'rss'] as const) t.diagnostic(`${m} slope beyond --no-index: cold ${slope('cold', m).toFixed(0)} B/sidecar, warm ${slope('warm', m).toFixed(0)} B/sidecar, storing folder records ${slope('stores', m).toFixed(0)} B/sidecar, served ${slope('served', m).toFixed(0)} B/sidecar`);
  assert.ok(slope('warm', 'live') < WARM_SLOPE, `warm: ${slope('warm', 'live').toFixed(0)} B per sidecar (limit ${WARM_SLOPE})`);
  assert.ok(slope('stores', 'live') < WARM_SLOPE, `storing folder records: ${slope('stores', 'live').toFixed(0)} B per sidecar (limit ${WARM_SLOPE})`);
  assert.ok(slope('served', 'live') < WARM_SLOPE, `served from folder records: ${slope('served', 'live').toFixed(0)} B per sidecar (limit ${WARM_SLOPE})`);
  assert.ok(slope('cold', 'live') < COLD_SLOPE, `cold: ${slope('cold', 'live').toFixed(0)} B per sidecar (limit ${COLD_SLOPE})`);
});

/**
 * Symlinked images (issue 12 at 10^6 images: 7 in 10 images are reached through a game folder of
 * links): resolving a link with the index traces every lookup, and the lookups were memoised for
 * the whole run, the link itself included: ~300 B held per symlink to the end (a 10^6-image first
 * run peaked at 943 MB). Live memory beyond --no-index, per sidecar with one link each, cold.
 */
test(`index memory: symlinked images, ${SMALL} and ${LARGE} sidecars with a link each, cold, beyond --no-index`, (t) => {
  const dir = testDir(t, 'isc-index-mem-links-');
  const rows: Record<string, { rss: number; live: number }[]> = { none: [], cold: [] };
  for (const n of [SMALL, LARGE]) {
    const root = join(dir, `lib${n}`);
    library(root, n, true);
    rows.none.push(measure(root, null, 2000));
    rows.cold.push(measure(root, join(dir, `index${n}`), 2000));
  }
  const slope = (m: 'rss' | 'live') => (rows.cold[1][m] - rows.none[1][m] - (rows.cold[0][m] - rows.none[0][m])) / (LARGE - SMALL);
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
  for (const k of Object.keys(rows)) t.diagnostic(`${k}: live ${rows[k].map((r) => mb(r.live)).join(' → ')}, peak RSS ${rows[k].map((r) => mb(r.rss)).join(' → ')}`);
  t.diagnostic(`slope beyond --no-index, cold: live ${slope('live').toFixed(0)} B, peak RSS ${slope('rss').toFixed(0)} B per sidecar and link`);
  // Per sidecar and its link: the file's and the link's table slots and references (~100–200 B).
  assert.ok(slope('live') < LINKED_SLOPE, `cold with links: ${slope('live').toFixed(0)} B per sidecar and link (limit ${LINKED_SLOPE})`);
});
