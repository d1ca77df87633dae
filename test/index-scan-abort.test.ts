/**
 * An aborted scan and its index: the walk reads folders ahead with the index's listing cache too
 * (walk.ts walkTree; before it did, every readdir the walk started with a cache was awaited by it).
 * A read ahead calls the cache's `put` when its readdir comes back. A scan that ends early (aborted
 * by its signal) must not leave such a read in flight: a `put` that lands after the index was
 * closed makes a new spool (ScanIndex.spoolWith creates one when there is none): the index folder
 * is made again and a spool file is left in it, open, after the scan has settled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scan } from '../src/index.js';
import { DirSnapshots } from '../src/incremental/dir-cache.js';
import { ScanIndex } from '../src/incremental/scan-index.js';
import { FAKE_JPEG, sidecarData, testDir } from './helpers/tree.js';

/** Folders f000…f0NN, each with a photo and its sidecar. */
function library(dir: string, folders: number): string {
  const root = join(dir, 'lib');
  for (let i = 0; i < folders; i++) {
    const f = join(root, `f${String(i).padStart(3, '0')}`);
    mkdirSync(f, { recursive: true });
    writeFileSync(join(f, 'a.jpg'), FAKE_JPEG);
    writeFileSync(join(f, 'a.json'), JSON.stringify(sidecarData('a.jpg', 1, 4)));
  }
  return root;
}

/** Settle: a few turns of the event loop (any read still in flight comes back). */
const settle = () => new Promise((r) => setTimeout(r, 150));

test('index, aborted scan: a scan aborted while folders are read ahead puts nothing into its index after it has closed it', async (t) => {
  const dir = testDir(t, 'index-abort-');
  const root = library(dir, 20);
  const idx = join(dir, 'idx');
  const ac = new AbortController();
  // The walk pops f000 and reads f001…f004 ahead; it pops f001 (its listing already in) and reads
  // f005 ahead, asking the cache first: the abort comes as f005 is asked (its readdir starts right
  // after it), and the walk stops at its next step, f005's readdir still in flight.
  const at = join(root, 'f005');
  let closed = false;
  const late: string[] = [];
  const origGet = DirSnapshots.prototype.get;
  const origPut = DirSnapshots.prototype.put;
  const origClose = ScanIndex.prototype.close;
  DirSnapshots.prototype.get = function (this: DirSnapshots, path: string) {
    const r = origGet.call(this, path);
    if (path === at) ac.abort();
    return r;
  };
  DirSnapshots.prototype.put = function (this: DirSnapshots, path, entries) {
    if (closed) late.push(path);
    return origPut.call(this, path, entries);
  };
  ScanIndex.prototype.close = function (this: ScanIndex) {
    closed = true;
    return origClose.call(this);
  };
  t.after(() => {
    DirSnapshots.prototype.get = origGet;
    DirSnapshots.prototype.put = origPut;
    ScanIndex.prototype.close = origClose;
  });
  const s = scan(root, { index: { path: join(idx, 'index'), racyMarginMs: 0 }, signal: ac.signal });
  await assert.rejects(async () => {
    for await (const r of s) void r;
  }, /abort/i);
  // The caller cleans up after the aborted scan: the index folder goes.
  rmSync(idx, { recursive: true, force: true });
  await settle();
  assert.deepEqual(late, [], 'listings put into the index after it was closed');
  assert.ok(!existsSync(idx), `the index folder was made again after the scan settled: ${existsSync(idx) ? readdirSync(idx).join(', ') : ''}`);
});

test('index, aborted scan: a scan aborted while folders are read ahead leaves no spool file next to its index', async (t) => {
  const dir = testDir(t, 'index-abort2-');
  const root = library(dir, 20);
  const idx = join(dir, 'idx');
  // A first run builds the index (so a later one has a reader and rewrites).
  await scan(root, { index: { path: join(idx, 'index'), racyMarginMs: 0 } }).finish();
  // Every folder changes: each is read again (a miss) and put.
  for (let i = 0; i < 20; i++) writeFileSync(join(root, `f${String(i).padStart(3, '0')}`, 'b.txt'), 'x');
  const before = readdirSync(idx).sort();
  const ac = new AbortController();
  const at = join(root, 'f006');
  const origGet = DirSnapshots.prototype.get;
  DirSnapshots.prototype.get = function (this: DirSnapshots, path: string) {
    const r = origGet.call(this, path);
    if (path === at) ac.abort();
    return r;
  };
  t.after(() => {
    DirSnapshots.prototype.get = origGet;
  });
  const s = scan(root, { index: { path: join(idx, 'index'), racyMarginMs: 0 }, signal: ac.signal });
  await assert.rejects(async () => {
    for await (const r of s) void r;
  }, /abort/i);
  await settle();
  assert.deepEqual(readdirSync(idx).sort(), before, 'an aborted run leaves the index folder as it was');
});

test('index, aborted scan: a closed ScanIndex writes nothing: a listing put after close makes no spool and no folder', (t) => {
  const dir = testDir(t, 'index-closed-');
  const root = library(dir, 2);
  const idx = join(dir, 'idx');
  const index = ScanIndex.open(root, { summarize: true }, { path: join(idx, 'index'), racyMarginMs: 0 });
  assert.ok(index !== null);
  index.close();
  const folder = join(root, 'f000');
  // As a read in flight would when it comes back: the cache is asked, then the listing put.
  assert.equal(index.dirs.get(folder), null);
  index.dirs.put(folder, [{ name: 'a.jpg', kind: 'file' }, { name: 'a.json', kind: 'file' }]);
  assert.ok(!existsSync(idx), `a closed index wrote: ${existsSync(idx) ? readdirSync(idx).join(', ') : ''}`);
});
