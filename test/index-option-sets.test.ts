/**
 * Each command's results in the index stand apart (docs/INDEX.md "What is stored"): validate, stats
 * and format-stats each keep their own file entries, so a command's first run on an index another
 * command filled looks nothing up and adds its entries beside the others', a whole walk prunes only
 * the walking command's own entries, and a changed file is replaced per command. Every run gives
 * what `--no-index` gives; the header's count of each option set's entries is what the file holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { stats, validate, type IndexRunStats } from '../src/index.js';
import { entryKey, entryKeyNo, entryPayload, entryResult, fileSlotKey, IndexFormatError, IndexReader, IndexWriter, TABLE_DIRS, TABLE_FILES } from '../src/incremental/store.js';
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

/** An index at DIR/index, each run's figures kept in `runs`. */
function indexIn(dir: string): { path: string; runs: IndexRunStats[]; index: { path: string; racyMarginMs: number; onStats: (s: IndexRunStats) => void } } {
  const path = join(dir, 'index');
  const runs: IndexRunStats[] = [];
  return { path, runs, index: { path, racyMarginMs: 0, onStats: (s) => runs.push(s) } };
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
  const { path, runs, index } = indexIn(dir);
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
  const { path, runs, index } = indexIn(dir);
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

// A delta's header counted every entry the run wrote under a key the base lacked, the ones a later
// entry of the same key replaced included: a new sidecar outside the root that two image links
// reach is inspected by two records and stored twice (reviewer's reproduction: 62 counted, 61 held).
test("a delta's header counts each new file once, though two records stored it", async (t) => {
  const dir = testDir(t, 'isc-option-sets-delta-');
  const root = library(dir, 60);
  makeTree({ 'out/IMG_X.jpg': FAKE_JPEG, 'out/IMG_X.json': { json: sidecarData('IMG_X.jpg', 1, 8) }, 'lib/games/IMG_0.jpg': { symlink: '../d0/IMG_0.jpg' } }, dir);
  const { path, runs, index } = indexIn(dir);
  for (let i = 0; i < 3; i++) await validate(root, { index, engine: 'inline' });
  // Two links in a folder of links to one new sidecar outside the root: a few new entries over a base of 60 files.
  makeTree({ 'lib/games/a.jpg': { symlink: '../../out/IMG_X.jpg' }, 'lib/games/b.jpg': { symlink: '../../out/IMG_X.jpg' } }, dir);
  assert.equal(noTimes(await validate(root, { index, engine: 'inline' })), noTimes(await validate(root, { index: false, engine: 'inline' })));
  const run = runs.at(-1)!;
  assert.equal(run.delta, true, 'written as a delta');
  const byKey = assertCounts(path, 'the delta');
  assert.equal(run.entries, byKey.get(0)?.length, "the run's count of its entries");
  assert.equal(byKey.get(0)?.filter((k) => k.endsWith('IMG_X.json')).length, 1, 'the file once');
});

test('store: a spool appended to the file it continues (appendAll) gives the file adding each entry gives, across list chunks, a later entry of a key in place of the earlier', (t) => {
  const dir = testDir(t, 'isc-option-sets-append-');
  const id = Buffer.alloc(40, 1);
  const header = { format: 'image-sidecar-index' as const, root: '/r', keys: [{ key: 'a', used: 1 }, { key: 'b', used: 2 }], written: 'now' };
  // The base: option set 0's entries and a folder.
  const basePath = join(dir, 'base');
  const base = IndexWriter.create(basePath);
  for (let i = 0; i < 500; i++) base.addFile(`f/${i}.json`, id, 0, Buffer.from(`zero ${i}`));
  base.add(TABLE_DIRS, '/r/f', id, [Buffer.from('old listing')]);
  base.finish(header);
  // The spool: option set 1's entries past one list chunk (65,536), one of them twice, and the folder again.
  const spool = IndexWriter.create(join(dir, 'spool'), { tables: 'list' });
  const n = 65_536 + 100;
  for (let i = 0; i < n; i++) spool.addFile(`f/${i}.json`, id, 1, Buffer.from(`one ${i}`));
  spool.addFile('f/7.json', id, 1, Buffer.from('one again'));
  spool.add(TABLE_DIRS, '/r/f', id, [Buffer.from('new listing')]);
  const write = (name: string, fill: (w: IndexWriter) => void) => {
    const r = IndexReader.open(basePath)!;
    try {
      const w = IndexWriter.extend(join(dir, name), r)!;
      fill(w);
      w.finish(header);
      return { file: readFileSync(join(dir, name)), garbage: w.garbage, counts: [...w.fileCounts] };
    } finally {
      r.close();
    }
  };
  const appended = write('appended', (w) => w.appendAll(spool));
  const each = write('each', (w) => {
    for (const v of spool.entries()) w.addRaw(v);
  });
  assert.deepEqual(appended.file, each.file, 'the same file');
  assert.equal(appended.garbage, each.garbage);
  assert.deepEqual(appended.counts, [500, n]);
  const r = IndexReader.open(join(dir, 'appended'))!;
  try {
    assert.deepEqual([r.fileCount(0), r.fileCount(1), r.count(TABLE_FILES), r.count(TABLE_DIRS)], [500, n, 500 + n, 1]);
    const text = (key: string, no: number) => entryResult(r.find(TABLE_FILES, fileSlotKey(key, no))!)[1].toString();
    assert.equal(text('f/7.json', 0), 'zero 7');
    assert.equal(text('f/7.json', 1), 'one again', 'the later entry of a key is live');
    assert.equal(text(`f/${n - 1}.json`, 1), `one ${n - 1}`);
    assert.equal(entryPayload(r.find(TABLE_DIRS, '/r/f')!).toString(), 'new listing');
    assert.equal([...r.entries()].length, 500 + n + 1, 'replaced entries are not live');
  } finally {
    r.close();
  }
});

test("store: a header counting more of an option set's entries than the files table holds is a damaged file", (t) => {
  const dir = testDir(t, 'isc-option-sets-counts-');
  const path = join(dir, 'index');
  const w = IndexWriter.create(path);
  w.addFile('f/1.json', Buffer.alloc(40, 1), 0, Buffer.from('x'));
  w.finish({ format: 'image-sidecar-index', root: '/r', keys: [{ key: 'a', used: 1 }], written: 'now' });
  const good = readFileSync(path);
  assert.equal(IndexReader.open(path)!.fileCount(0), 1);
  // The header's count raised to 2 (the trailer's CRC fixed up): refused.
  const text = good.toString('latin1');
  const at = text.indexOf('"files":1');
  assert.ok(at > 0);
  const bad = Buffer.from(good);
  bad.write('"files":2', at, 'latin1');
  const trailer = bad.length - 40;
  const tablesAt = bad.readDoubleLE(trailer);
  const crc = crc32(bad.subarray(trailer, trailer + 16), crc32(bad.subarray(tablesAt, trailer))) >>> 0;
  bad.writeUInt32LE(crc, trailer + 16);
  writeFileSync(path, bad);
  assert.throws(() => IndexReader.open(path), IndexFormatError);
});

test("store: a first run's list past one chunk (65,536) makes the files table and counts a table kept all along makes, each option set's entries apart", (t) => {
  const dir = testDir(t, 'isc-option-sets-list-');
  const n = 65_536 + 40;
  const id = Buffer.alloc(40, 2);
  const header = () => ({ format: 'image-sidecar-index' as const, root: '/r', keys: [{ key: 'a', used: 1 }, { key: 'b', used: 2 }], written: 'now' });
  const write = (tables: 'list' | 'table') => {
    const path = join(dir, tables);
    const w = IndexWriter.create(path, { tables });
    for (let i = 0; i < n; i++) w.addFile(`k/${i >> 1}.json`, id, i & 1, Buffer.from(`${i & 1} ${i >> 1}`));
    w.addFile('k/3.json', id, 1, Buffer.from('again')); // the same file and option set: in place of the earlier
    w.finish(header());
    return path;
  };
  const [list, table] = [write('list'), write('table')];
  assert.deepEqual(readFileSync(list), readFileSync(table), 'the same file');
  const r = IndexReader.open(list)!;
  try {
    assert.deepEqual([r.fileCount(0), r.fileCount(1), r.count(TABLE_FILES)], [n / 2, n / 2, n]);
    const text = (key: string, no: number) => entryResult(r.find(TABLE_FILES, fileSlotKey(key, no))!)[1].toString();
    assert.equal(text('k/3.json', 0), '0 3');
    assert.equal(text('k/3.json', 1), 'again');
    assert.equal(text(`k/${n / 2 - 1}.json`, 1), `1 ${n / 2 - 1}`);
  } finally {
    r.close();
  }
});
