/**
 * Index parity with shards and incomplete walks (docs/INDEX.md), attacked after the fixes of
 * 721a633 and b2ab0e6: runs the index must give the same output as `--no-index` after a change, when shard runs
 * (some or all shards, any order, some in parallel) and incomplete walks (a folder name that is not
 * UTF-8) run with the same index between the compared runs, and over three repeat runs (folder
 * records are stored from the second run on). These held; they stay as regression tests.
 * A differential fuzzer with the same runs found nothing either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportSidecars, formatStats, scan, staleSidecars, stats, todo, validate, type IndexOptions } from '../src/index.js';
import { find } from '../src/ops/find.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';

// Folder records are on by default (`folderRecords: false` turns them off):
// these tests run with them, as users do; the parity tests also run with `folderRecords: false`.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function text(v: unknown): string {
  return JSON.stringify(v, (k, x: unknown) => (k === 'elapsedMs' ? 0 : typeof x === 'bigint' ? `${x}n` : x)).replace(/"processing_time":[-0-9.e+]+/g, '"processing_time":0');
}

/** Every record of a scan and the commands' reports, as one text. */
async function everything(root: string, out: string, index: IndexOptions | false, shard?: { index: number; count: number }): Promise<string> {
  const o = { index, engine: 'inline' as const, shard };
  const recs: unknown[] = [];
  const session = scan(root, { ...o, inspect: { summarize: true } });
  for await (const r of session) recs.push(r);
  const csv = join(out, 'export.csv');
  return [
    text([recs, session.summary]),
    text(await validate(root, o)),
    text(await stats(root, { ...o, list: true })),
    text(await formatStats(root, o)),
    text(await find(root, { ...o, where: 'faces >= 1' })),
    text(await todo(root, { ...o, operation: 'yolov8' })),
    text(await staleSidecars(root, o)),
    text(await exportSidecars(root, { ...o, format: 'csv', output: csv })) + readFileSync(csv, 'utf8'),
  ].join('\n');
}

function tree(dir: string): string {
  const root = join(dir, 'lib');
  const files: Record<string, unknown> = {};
  for (const d of ['photos/d1', 'photos/d2']) {
    for (let i = 1; i <= 4; i++) {
      files[`${d}/IMG_${i}.jpg`] = FAKE_JPEG;
      if (i !== 4) files[`${d}/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, (i + d.length) % 3, 4) };
    }
  }
  Object.assign(files, {
    current: { symlink: 'photos/d1' },
    'games/g1/A.jpg': { symlink: '../../photos/d1/IMG_1.jpg' },
    'games/g1/B.jpg': { symlink: '../../current/IMG_2.jpg' },
    'games/g1/C.jpg': { symlink: 'B.jpg' }, // a chain: C -> B -> current -> photos/d1
    'games/g1/D.jpg': { symlink: '../../current/IMG_4.jpg' },
    'games/g1/own.jpg': FAKE_JPEG,
    'games/g1/own.json': { json: sidecarData('own.jpg', 1, 4) },
  });
  makeTree(files as Parameters<typeof makeTree>[0], root);
  return root;
}

const move = (a: string, b: string): void => renameSync(a, b);
const relink = (path: string, target: string) => {
  rmSync(path);
  symlinkSync(target, path);
};

/** The runs between the compared ones: shards of `count` in `order` (in parallel when asked), or an incomplete walk. */
type Between = { shards: number[]; count: number; parallel?: boolean } | 'incomplete';

for (const margin of [0, 40]) {
  test(`held (racy margin ${margin} ms): changes, then shards and incomplete walks, then three runs give --no-index output`, async (t) => {
    const dir = testDir(t, 'isc-index-shards-');
    const root = tree(dir);
    const out = join(dir, 'out');
    mkdirSync(out);
    const bad = Buffer.concat([Buffer.from(`${root}/bad-`), Buffer.from([0xff])]);
    const index: IndexOptions = { path: join(dir, 'index'), folderRecords: true, racyMarginMs: margin };
    const P = (rel: string) => join(root, rel);
    const steps: [string, () => void, Between[]][] = [
      ['folder link re-pointed', () => relink(P('current'), 'photos/d2'), [{ shards: [1], count: 2 }, 'incomplete']],
      ['link re-pointed', () => relink(P('games/g1/A.jpg'), '../../photos/d2/IMG_3.jpg'), [{ shards: [2, 0], count: 3 }]],
      ['chain re-pointed in the middle', () => relink(P('games/g1/B.jpg'), '../../photos/d1/IMG_3.jpg'), ['incomplete', { shards: [0], count: 2 }]],
      ['folders swapped', () => {
        const a = P('photos/d1'), b = P('photos/d2'), tmp = P('photos/t');
        rmSync(tmp, { recursive: true, force: true });
        move(a, tmp); move(b, a); move(tmp, b);
      }, [{ shards: [1, 0], count: 2, parallel: true }, 'incomplete']],
      ['folder link broken', () => relink(P('current'), 'nowhere'), [{ shards: [3, 1], count: 4 }]],
      ['sidecar rewritten, folder link back', () => {
        writeFileSync(P('photos/d1/IMG_2.json'), JSON.stringify(sidecarData('IMG_2.jpg', 2, 4)));
        relink(P('current'), 'photos/d1');
      }, ['incomplete', { shards: [0, 1, 2], count: 3, parallel: true }]],
    ];
    await everything(root, out, index);
    await everything(root, out, index);
    for (const [label, change, between] of steps) {
      await sleep(margin + 20);
      change();
      await sleep(10);
      for (const b of between) {
        if (b === 'incomplete') {
          mkdirSync(bad);
          await stats(root, { index, engine: 'inline' });
          rmSync(bad, { recursive: true });
        } else if (b.parallel) {
          await Promise.all(b.shards.map((i) => validate(root, { index, engine: 'inline', shard: { index: i, count: b.count } })));
        } else {
          for (const i of b.shards) {
            const s: { index: number; count: number } = { index: i, count: b.count };
            assert.equal(await everything(root, out, index, s), await everything(root, out, false, s), `${label}: shard ${i}/${b.count}`);
          }
        }
      }
      await sleep(margin + 20);
      const plain = await everything(root, out, false);
      for (let run = 1; run <= 3; run++) assert.equal(await everything(root, out, index), plain, `${label}: run ${run} with the index`);
    }
  });
}

