/**
 * Each command's results in the index stand apart (docs/INDEX.md "What is stored"): validate, stats
 * and format-stats each keep their own file entries, so a command's first run on an index another
 * command filled looks nothing up and adds its entries beside the others', a whole walk prunes only
 * the walking command's own entries, and a changed file is replaced per command. Every run gives
 * what `--no-index` gives; the header's count of each option set's entries is what the file holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { stats, validate, type IndexRunStats } from '../src/index.js';
import { entryKey, entryKeyNo, IndexReader, TABLE_FILES } from '../src/incremental/store.js';
import { edit, noTimes } from './helpers/index-parity.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './helpers/tree.js';

function library(dir: string, n: number): string {
  const spec: Record<string, TreeNode> = {};
  for (let i = 0; i < n; i++) {
    spec[`d${i % 3}/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`d${i % 3}/IMG_${i}.json`] = { json: sidecarData(`IMG_${i}.jpg`, 1 + (i % 2), 8) };
  }
  return makeTree(spec, join(dir, 'lib'));
}

/** The index's file entries per option set (key number → paths), read entry by entry, and the header's counts. */
function fileEntries(path: string): { byKey: Map<number, string[]>; counted: number[]; keys: number } {
  const r = IndexReader.open(path)!;
  try {
    const byKey = new Map<number, string[]>();
    for (const v of r.entries()) {
      if (v.table !== TABLE_FILES) continue;
      const no = entryKeyNo(v);
      byKey.set(no, [...(byKey.get(no) ?? []), entryKey(v)]);
    }
    const keys = r.header.keys.length;
    return { byKey, counted: Array.from({ length: keys }, (_, no) => r.fileCount(no)), keys };
  } finally {
    r.close();
  }
}

/** The header counts each option set's entries as the file holds them. */
function assertCounts(path: string, label: string): Map<number, string[]> {
  const { byKey, counted, keys } = fileEntries(path);
  assert.deepEqual(counted, Array.from({ length: keys }, (_, no) => byKey.get(no)?.length ?? 0), `${label}: the header's counts`);
  return byKey;
}

// A command's first run on an index another command filled looked every file up, merged its new
// result into the entry that held the other command's (one decode and encode per file) and wrote the
// whole index again: 1.33–1.42× of --no-index on the bench library, against 1.06× for a first run.
test("a command's first run on another command's index looks nothing up and continues the file: its entries beside the other's", async (t) => {
  const dir = testDir(t, 'isc-option-sets-first-');
  const root = library(dir, 12);
  const path = join(dir, 'index');
  const runs: IndexRunStats[] = [];
  const index = { path, racyMarginMs: 0, onStats: (s: IndexRunStats) => runs.push(s) };
  const wantStats = noTimes(await stats(root, { index: false, engine: 'inline' }));
  const wantValidate = noTimes(await validate(root, { index: false, engine: 'inline' }));

  assert.equal(noTimes(await stats(root, { index, engine: 'inline' })), wantStats);
  assert.deepEqual(assertCounts(path, 'stats first').get(0)?.length, 12);

  assert.equal(noTimes(await validate(root, { index, engine: 'inline' })), wantValidate);
  const v1 = runs.at(-1)!;
  assert.equal(v1.hits, 0);
  assert.equal(v1.misses, 12);
  assert.equal(v1.written, true);
  assert.equal(v1.extended, true, "the file continued: stats' entries copied as they are");
  assert.equal(v1.pruned, false);
  assert.equal(v1.entries, 12, "validate's entries");
  const r = IndexReader.open(path)!;
  try {
    assert.equal(r.header.garbage ?? 0, 0, "no entry of stats' replaced: validate's stand beside them");
  } finally {
    r.close();
  }
  const byKey = assertCounts(path, 'validate first on stats');
  assert.deepEqual(byKey.get(1)?.sort(), byKey.get(0)?.sort(), 'each file once per option set');

  // Each command's next run is served its own results.
  assert.equal(noTimes(await stats(root, { index, engine: 'inline' })), wantStats);
  assert.equal(runs.at(-1)!.hits, 12, "stats' entries kept");
  assert.equal(noTimes(await validate(root, { index, engine: 'inline' })), wantValidate);
  assert.equal(runs.at(-1)!.hits, 12);
  assertCounts(path, 'both warm');
});

test('a whole walk prunes only its own entries; a changed file is read again by each command in its own run', async (t) => {
  const dir = testDir(t, 'isc-option-sets-prune-');
  const root = library(dir, 12);
  const path = join(dir, 'index');
  const runs: IndexRunStats[] = [];
  const index = { path, racyMarginMs: 0, onStats: (s: IndexRunStats) => runs.push(s) };
  for (let i = 0; i < 2; i++) {
    await stats(root, { index, engine: 'inline' });
    await validate(root, { index, engine: 'inline' });
  }
  assertCounts(path, 'warm');

  // A sidecar removed: validate drops its own entry of it, and only that one.
  rmSync(join(root, 'd0/IMG_0.json'));
  assert.equal(noTimes(await validate(root, { index, engine: 'inline' })), noTimes(await validate(root, { index: false, engine: 'inline' })));
  assert.equal(runs.at(-1)!.pruned, true);
  let byKey = assertCounts(path, 'validate pruned');
  assert.equal(byKey.get(1)?.length, 11);
  assert.equal(byKey.get(0)?.length, 12, "stats' entry of the removed file is stats' to drop");
  assert.ok(byKey.get(0)?.includes('d0/IMG_0.json'));
  assert.equal(noTimes(await stats(root, { index, engine: 'inline' })), noTimes(await stats(root, { index: false, engine: 'inline' })));
  assert.equal(runs.at(-1)!.hits, 11, "stats' entries kept through validate's prune");
  byKey = assertCounts(path, 'stats pruned');
  assert.equal(byKey.get(0)?.length, 11);

  // A sidecar edited in place: validate reads it again and replaces its own entry; stats, next,
  // finds its own entry stale (the file's identity moved) and reads it again too.
  edit(join(root, 'd1/IMG_1.json'));
  assert.equal(noTimes(await validate(root, { index, engine: 'inline' })), noTimes(await validate(root, { index: false, engine: 'inline' })));
  assert.equal(runs.at(-1)!.misses, 1);
  assertCounts(path, 'validate after the edit');
  assert.equal(noTimes(await stats(root, { index, engine: 'inline' })), noTimes(await stats(root, { index: false, engine: 'inline' })));
  assert.equal(runs.at(-1)!.misses, 1);
  assert.equal(runs.at(-1)!.hits, 10);
  byKey = assertCounts(path, 'stats after the edit');
  assert.deepEqual([byKey.get(0)?.length, byKey.get(1)?.length], [11, 11]);
  assert.ok(runs.some((s) => s.delta), 'a delta was written on the way (its counts checked too)');
});
