/**
 * Links read ahead, many at once, where reading a folder's first image link took a round trip (a
 * file server: tasks/link-entry.ts LinkEntries.readAhead, incremental/dir-cache.ts
 * DirSnapshots.linksAhead). Every call is made to count as a round trip
 * (setRoundTripMsForTests(-1)). A run that reads ahead must give what `index: false` gives, and
 * store nothing a later run serves stale, whatever changes right after the read ahead; and it must
 * read nothing it will not use (folder links, folders its records serve, the timed first link twice).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs, { mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { setRoundTripMsForTests } from '../src/fs/identity.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';
import { firstDiff, photoSpec } from './helpers/index-parity.js';
import type { IndexRunStats } from '../src/model/index-options.js';
import { scan } from '../src/ops/scan.js';
import { ScanSession } from '../src/scan/session.js';
import { openScanCache } from '../src/incremental/scan-cache.js';
import type { OpenScanCache } from '../src/scan/port.js';
import { attack, MUTATIONS, WHERE } from './helpers/readahead-changes.js';
import { awkwardLinks } from './helpers/awkward-links.js';
import { DirSnapshots } from '../src/incremental/dir-cache.js';
import { LinkResolver, LookupMemo, resolveLinkNative } from '../src/discovery/resolve-link.js';
import { FolderIdentities, LinkEntries } from '../src/tasks/link-entry.js';
import { kindOfDirent, type WalkEntry } from '../src/discovery/walk.js';

// ---- counting the fs calls the read-ahead makes (async) and saves (sync) ------------------------
const calls = { readlink: 0, lstat: 0, readlinkSync: 0, lstatSync: 0 };
/** The paths given to fs.readlink, and to fs.readlinkSync, in order. */
const readlinkPaths: string[] = [];
const readlinkSyncPaths: string[] = [];
/** Fault injection: throw synchronously from fs.readlink / fs.lstat for paths this says. */
const faults: { readlink: ((p: string) => boolean) | null; lstat: ((p: string) => boolean) | null; lstatErr: ((p: string) => boolean) | null } = { readlink: null, lstat: null, lstatErr: null };
const origReadlink = fs.readlink;
const origLstat = fs.lstat;
(fs as unknown as Record<string, unknown>).readlink = function (...a: unknown[]) {
  calls.readlink++;
  readlinkPaths.push(String(a[0]));
  if (faults.readlink?.(String(a[0]))) throw new Error('injected');
  return (origReadlink as unknown as (...x: unknown[]) => unknown).apply(fs, a);
};
(fs as unknown as Record<string, unknown>).lstat = function (...a: unknown[]) {
  calls.lstat++;
  if (faults.lstat?.(String(a[0]))) throw new Error('injected');
  if (faults.lstatErr?.(String(a[0]))) {
    const cb = a[a.length - 1] as (e: Error) => void;
    return void setImmediate(() => cb(Object.assign(new Error('EIO injected'), { code: 'EIO' })));
  }
  return (origLstat as unknown as (...x: unknown[]) => unknown).apply(fs, a);
};
const origReadlinkSync = fs.readlinkSync;
const origLstatSync = fs.lstatSync;
/** A busy wait in each fs.readlinkSync (ms): a link read that takes a round trip where a folder's stat does not (a client caching folder attributes). */
const slowReadlinkSync = { ms: 0 };
(fs as unknown as Record<string, unknown>).readlinkSync = function (...a: unknown[]) {
  calls.readlinkSync++;
  readlinkSyncPaths.push(String(a[0]));
  for (const end = performance.now() + slowReadlinkSync.ms; performance.now() < end; );
  return (origReadlinkSync as unknown as (...x: unknown[]) => unknown).apply(fs, a);
};
(fs as unknown as Record<string, unknown>).lstatSync = function (...a: unknown[]) {
  calls.lstatSync++;
  return (origLstatSync as unknown as (...x: unknown[]) => unknown).apply(fs, a);
};
syncBuiltinESMExports();

const records = async (session: AsyncIterable<unknown>) => {
  const out: unknown[] = [];
  for await (const r of session) out.push(r);
  return JSON.stringify(out).replace(/"elapsedMs":[-0-9.e+]+/g, '"elapsedMs":0');
};
const same = (got: string, want: string, what: string) => assert.ok(got === want, `${what}: ${firstDiff(got, want)}`);

function keepingTimes(folder: string, fn: () => void): void {
  const st = statSync(folder);
  fn();
  utimesSync(folder, st.atime, st.mtime);
}

/** photos/, games/every with links of every kind, games/ph a folder link, other/ with a p2.jpg. */
function linkLibrary(t: TestContext): { dir: string; root: string; games: string } {
  const dir = testDir(t, 'links-ahead-lib-');
  const root = join(dir, 'lib');
  const { spec, photo, fill } = photoSpec();
  photo('photos/p1');
  photo('photos/p2', 2);
  photo('other/p2', 3);
  photo('other/p1', 4);
  fill(2, 4);
  makeTree(spec, root);
  const games = join(root, 'games', 'every');
  mkdirSync(games, { recursive: true });
  symlinkSync('../photos', join(root, 'games', 'ph'));
  const links: [string, string | Buffer][] = [
    ['a-rel.jpg', '../../photos/p1.jpg'],
    ['b-abs.jpg', join(root, 'photos', 'p2.jpg')],
    ['c-same.jpg', '../../photos/p1.jpg'],
    ['d-via-folder-link.jpg', '../ph/p2.jpg'],
    ['e-to-link.jpg', 'a-rel.jpg'],
    ['f-to-folder.jpg', '../../photos'],
    ['g-broken.jpg', '../../photos/none.jpg'],
    ['h-dotdot.jpg', '..'],
    ['i-not-utf8.jpg', Buffer.from([0x2e, 0x2e, 0x2f, 0xff, 0x2e, 0x6a, 0x70, 0x67])],
    ['j-fffd-\uFFFD.jpg', '../../photos/p2.jpg'],
    ['k-text-fffd.jpg', '../../photos/\uFFFD.jpg'],
    ['l-proc.jpg', '/proc/self/cmdline'],
    ['m-chain.jpg', 'e-to-link.jpg'],
    ['n-dir-link.jpg', '../ph'],
    ['o-rel-same-folder.jpg', 'zz-real.jpg'],
  ];
  for (const [name, text] of links) symlinkSync(text, join(games, name));
  writeFileSync(join(games, 'zz-real.jpg'), FAKE_JPEG);
  writeFileSync(join(games, 'zz-real.json'), JSON.stringify(sidecarData('zz-real.jpg', 1, 8)));
  return { dir, root, games };
}

/** A cache opener that runs `hook(dirRel)` once the folder's links read ahead are in. */
function hooked(hook: { fn: ((dirRel: string) => void) | null }): OpenScanCache {
  return (r, inspect, o) => {
    const c = openScanCache(r, inspect, o);
    if (c === null) return null;
    const linksAhead = c.linksAhead.bind(c);
    c.linksAhead = (d, entries, exts, signal) => {
      const p = linksAhead(d, entries, exts, signal);
      if (p === null) {
        hook.fn?.(d);
        return null;
      }
      return p.then(() => hook.fn?.(d));
    };
    return c;
  };
}

test('every kind of link under round trips, root named directly and through a symlink: each run as index: false', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const { dir, root } = linkLibrary(t);
  symlinkSync(root, join(dir, 'via'));
  let n = 0;
  for (const named of [root, join(dir, 'via'), join(dir, 'via') + '/']) {
    n++;
    const want = await records(scan(named, { engine: 'inline' }));
    const stats: IndexRunStats[] = [];
    const index = { path: join(dir, `idx-${n}`, 'index'), racyMarginMs: 0, onStats: (x: IndexRunStats) => void stats.push(x) };
    for (let k = 0; k < 5; k++) same(await records(scan(named, { engine: 'inline', index })), want, `${named} run ${k}`);
    assert.ok((stats[1].linksAhead ?? 0) > 0, `${named}: links read ahead in run 2 (${stats.map((s) => s.linksAhead)})`);
  }
});

test('awkward links (loops, 40 hops, fifo, trailing slashes) under round trips: each run as index: false', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const { top } = awkwardLinks();
  t.after(() => rmSync(top, { recursive: true, force: true }));
  const root = join(top, 'lib');
  const want = await records(scan(root, { engine: 'inline' }));
  const stats: IndexRunStats[] = [];
  const index = { path: join(top, 'idx', 'index'), racyMarginMs: 0, onStats: (x: IndexRunStats) => void stats.push(x) };
  for (let k = 0; k < 5; k++) same(await records(scan(root, { engine: 'inline', index })), want, `run ${k}`);
  assert.ok((stats[1].linksAhead ?? 0) > 0);
});

type Change = (root: string, games: string) => void;
const CHANGES: Record<string, Change> = {
  'c-same re-pointed, mtime kept': (_r, g) => keepingTimes(g, () => {
    rmSync(join(g, 'c-same.jpg'));
    symlinkSync('../../other/p2.jpg', join(g, 'c-same.jpg'));
  }),
  'a-rel (a link others go through) re-pointed, mtime kept': (_r, g) => keepingTimes(g, () => {
    rmSync(join(g, 'a-rel.jpg'));
    symlinkSync('../../other/p1.jpg', join(g, 'a-rel.jpg'));
  }),
  'a link replaced by a file, mtime kept': (_r, g) => keepingTimes(g, () => {
    rmSync(join(g, 'b-abs.jpg'));
    writeFileSync(join(g, 'b-abs.jpg'), FAKE_JPEG);
  }),
  'a link removed': (_r, g) => rmSync(join(g, 'c-same.jpg')),
  'a broken link mended (target created)': (r) => {
    writeFileSync(join(r, 'photos', 'none.jpg'), FAKE_JPEG);
    writeFileSync(join(r, 'photos', 'none.json'), JSON.stringify(sidecarData('none.jpg', 2, 8)));
  },
  'target replaced by a link to another, photos mtime kept': (r) => keepingTimes(join(r, 'photos'), () => {
    rmSync(join(r, 'photos', 'p1.jpg'));
    symlinkSync('../other/p1.jpg', join(r, 'photos', 'p1.jpg'));
  }),
  'target removed': (r) => rmSync(join(r, 'photos', 'p2.jpg')),
  'target replaced by another file (rename over), mtime kept': (r) => keepingTimes(join(r, 'photos'), () => {
    writeFileSync(join(r, 'photos', 'tmp'), Buffer.concat([FAKE_JPEG, Buffer.from('x')]));
    renameSync(join(r, 'photos', 'tmp'), join(r, 'photos', 'p1.jpg'));
  }),
  'photos folder replaced by a link to other': (r) => {
    renameSync(join(r, 'photos'), join(r, 'photos-old'));
    symlinkSync('other', join(r, 'photos'));
  },
  'the folder link ph re-pointed to other': (r) => {
    rmSync(join(r, 'games', 'ph'));
    symlinkSync('../other', join(r, 'games', 'ph'));
  },
  'a new link added, mtime kept': (_r, g) => keepingTimes(g, () => symlinkSync('../../other/p2.jpg', join(g, 'aa-new.jpg'))),
};

for (const viaLink of [false, true]) {
  for (const inRun of [2, 3, 4]) {
    test(`a change right after the games folder's links are read ahead, run ${inRun}${viaLink ? ', root through a symlink' : ''}: every run after as index: false`, async (t) => {
      t.after(() => setRoundTripMsForTests(null));
      setRoundTripMsForTests(-1);
      const failures: string[] = [];
      for (const [what, change] of Object.entries(CHANGES)) {
        const { dir, root, games } = linkLibrary(t);
        const named = viaLink ? join(dir, 'via') : root;
        if (viaLink) symlinkSync(root, named);
        const hook: { fn: ((d: string) => void) | null } = { fn: null };
        const stats: IndexRunStats[] = [];
        const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0, onStats: (x: IndexRunStats) => void stats.push(x) };
        const indexed = () => records(new ScanSession(named, { engine: 'inline', index }, hooked(hook)));
        const plain = () => records(scan(named, { engine: 'inline' }));
        for (let k = 1; k < inRun; k++) await indexed();
        // Run 3+: make the folder's links resolve again (its identity moves) so they are read ahead again.
        if (inRun >= 3) writeFileSync(join(games, `touch-${inRun}.txt`), 'x');
        let fired = false;
        hook.fn = (d) => {
          if (fired || d !== 'games/every') return;
          fired = true;
          change(root, games);
        };
        const aheadBefore = stats.length;
        await indexed();
        hook.fn = null;
        if (!fired) failures.push(`${what}: never fired`);
        const ahead = stats[aheadBefore]?.linksAhead ?? 0;
        if (ahead === 0) failures.push(`${what}: nothing read ahead in run ${inRun}`);
        for (let k = 0; k < 4; k++) {
          const want = await plain();
          const got = await indexed();
          if (got !== want) {
            failures.push(`${what}: run ${k + 1} after: ${firstDiff(got, want)}`);
            break;
          }
        }
      }
      assert.deepEqual(failures, []);
    });
  }
}

test('the walk read-ahead attacks (readahead-changes.ts) with every call a round trip (links of a-games read ahead too)', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const missed: string[] = [];
  for (const viaLink of [false, true]) {
    for (const [inRun, touch] of [[1, false], [2, true], [3, true]] as const) {
      for (const mutation of Object.keys(MUTATIONS)) {
        for (const [folder, moment] of WHERE) {
          const r = await attack(t, { mutation, folder, moment, inRun, cmds: ['validate'], touch, viaLink });
          if (!r.fired) missed.push(`${mutation} ${folder}@${moment} run ${inRun}`);
        }
      }
    }
  }
  // (Not every change fires in every run: a served folder is never listed. Only failures matter.)
  t.diagnostic(`not fired: ${missed.length}`);
});

test('a scan aborted while a folder’s links are read ahead: no new read is made, it rejects with the abort, no unhandled rejection; the next runs as index: false', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const { dir, root, games } = linkLibrary(t);
  // Many links so the read ahead is in flight for a while.
  for (let i = 0; i < 500; i++) symlinkSync(`../../photos/p${1 + (i % 2)}.jpg`, join(games, `many-${String(i).padStart(4, '0')}.jpg`));
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => void unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  t.after(() => process.off('unhandledRejection', onUnhandled));
  const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0 };
  await records(scan(root, { engine: 'inline', index }));
  const ac = new AbortController();
  const opener: OpenScanCache = (r, inspect, o) => {
    const c = openScanCache(r, inspect, o);
    if (c === null) return null;
    const linksAhead = c.linksAhead.bind(c);
    c.linksAhead = (d, entries, exts, signal) => {
      const p = linksAhead(d, entries, exts, signal);
      if (d === 'games/every' && p !== null) ac.abort(new Error('stop'));
      return p;
    };
    return c;
  };
  const before = { ...calls };
  await assert.rejects(records(new ScanSession(root, { engine: 'inline', index, signal: ac.signal }, opener)), /stop|abort/i);
  // Once aborted, no new read is made: the run waits only for the calls already in flight (at most 64).
  const made = calls.readlink - before.readlink + calls.lstat - before.lstat;
  assert.ok(made <= 64, `${made} reads ahead made after the abort, of 500 links`);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(unhandled, []);
  for (let k = 0; k < 3; k++) same(await records(scan(root, { engine: 'inline', index })), await records(scan(root, { engine: 'inline' })), `after the abort, run ${k}`);
});

test('statAhead: false and a shard make no async link read', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const { dir, root } = linkLibrary(t);
  // (readAhead: false: a first run's reading threads read their links ahead too, the index aside: test/inspect-read-ahead.test.ts.)
  const off = { path: join(dir, 'idx-off', 'index'), racyMarginMs: 0, statAhead: false };
  const before = calls.readlink + calls.lstat;
  for (let k = 0; k < 3; k++) await records(scan(root, { engine: 'inline', index: off, readAhead: false }));
  assert.equal(calls.readlink + calls.lstat - before, 0, 'statAhead: false');
  const sh = { path: join(dir, 'idx-shard', 'index'), racyMarginMs: 0 };
  const b2 = calls.readlink + calls.lstat;
  for (let k = 0; k < 3; k++) await records(scan(root, { engine: 'inline', index: sh, shard: { index: 0, count: 2 }, readAhead: false }));
  assert.equal(calls.readlink + calls.lstat - b2, 0, 'a shard');
});

/** Async reads and how many were used, per indexed run. */
async function countedRuns(root: string, index: object, n: number): Promise<{ readlinks: number; lstats: number; used: number; foldersServed: number; linksReused: number; linksResolved: number }[]> {
  const out = [];
  for (let k = 0; k < n; k++) {
    let s: IndexRunStats | null = null;
    const r0 = calls.readlink;
    const l0 = calls.lstat;
    await records(scan(root, { engine: 'inline', index: { ...index, onStats: (x: IndexRunStats) => void (s = x) } }));
    const st = s! as IndexRunStats;
    out.push({ readlinks: calls.readlink - r0, lstats: calls.lstat - l0, used: st.linksAhead ?? 0, foldersServed: st.foldersServed ?? 0, linksReused: st.linksReused, linksResolved: st.linksResolved });
  }
  return out;
}

/** A library of one photo (photos/p1) and an empty folder `folder` beside it, for links to be made in. */
function photoAnd(t: TestContext, prefix: string, folder: string): { dir: string; root: string; g: string } {
  const dir = testDir(t, prefix);
  const root = join(dir, 'lib');
  const { spec, photo } = photoSpec();
  photo('photos/p1');
  makeTree(spec, root);
  const g = join(root, folder);
  mkdirSync(g);
  return { dir, root, g };
}

test('only image links are read ahead: 50 folder links beside two image links are never read, served or not', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const { dir, root, g } = photoAnd(t, 'links-ahead-folder-links-', 'albums');
  // Albums as folder links (a common layout), and one image link.
  for (let i = 0; i < 50; i++) symlinkSync('../photos', join(g, `album-${String(i).padStart(2, '0')}`));
  symlinkSync('../photos/p1.jpg', join(g, 'zz-one.jpg'));
  symlinkSync('../photos/p1.jpg', join(g, 'zz-two.jpg'));
  const runs = await countedRuns(root, { path: join(dir, 'idx', 'index'), racyMarginMs: 0 }, 6);
  t.diagnostic(JSON.stringify(runs));
  // The two image links, both ahead (the folder's own stat took a round trip: none is timed first), in
  // the run that resolves them; never a folder link.
  for (const [k, r] of runs.entries()) assert.ok(r.readlinks <= 2, `run ${k}: ${JSON.stringify(r)}`);
  assert.ok(runs.some((r) => r.used > 0), 'the image links were read ahead in some run');
  const last = runs[runs.length - 1];
  assert.equal(last.readlinks + last.lstats, 0, `a run that resolves no link makes no async link read (run 6: ${JSON.stringify(last)})`);
});

test('a folder its records serve reads no link ahead, even one whose links are never stored (broken ones first), at its turn or listed ahead', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const { dir, root, g } = photoAnd(t, 'links-ahead-served-', 'games');
  // games/ and four folders after it, each listed ahead of its turn.
  for (const folder of [g, ...['h1', 'h2', 'h3', 'h4'].map((h) => join(root, 'games', h))]) {
    mkdirSync(folder, { recursive: true });
    const up = folder === g ? '../photos' : '../../photos';
    for (let i = 0; i < 20; i++) symlinkSync(`${up}/none-${i}.jpg`, join(folder, `a-broken-${String(i).padStart(2, '0')}.jpg`));
    for (let i = 0; i < 20; i++) symlinkSync(`${up}/p1.jpg`, join(folder, `b-good-${String(i).padStart(2, '0')}.jpg`));
  }
  const runs = await countedRuns(root, { path: join(dir, 'idx', 'index'), racyMarginMs: 0 }, 8);
  t.diagnostic(JSON.stringify(runs));
  const served = runs.filter((r) => r.foldersServed > 0 && r.linksResolved === 0);
  assert.ok(served.length > 0, 'some runs serve the folder from its records');
  for (const r of served) assert.equal(r.readlinks + r.lstats, 0, `a run that resolves no link makes no async link read (${JSON.stringify(r)})`);
});

test('the first link is read once, timed or ahead: its text serves its resolution; untimed where the folder’s own stat took a round trip', async (t) => {
  t.after(() => {
    setRoundTripMsForTests(null);
    slowReadlinkSync.ms = 0;
  });
  // Every call a round trip (the folder's stat too); then folder stats quick, link reads slow.
  for (const folderStatSlow of [true, false]) {
    setRoundTripMsForTests(folderStatSlow ? -1 : 0.5);
    slowReadlinkSync.ms = folderStatSlow ? 0 : 1;
    const { dir, root, g } = photoAnd(t, 'links-ahead-probe-', 'games');
    for (let i = 0; i < 3; i++) symlinkSync('../photos/p1.jpg', join(g, `l${i}.jpg`));
    const r0 = calls.readlink;
    const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0 };
    await records(scan(root, { engine: 'inline', index }));
    const s0 = readlinkSyncPaths.length;
    const a0 = calls.readlink;
    await records(scan(root, { engine: 'inline', index }));
    const syncReads = readlinkSyncPaths.slice(s0);
    t.diagnostic(`second run: sync readlinks ${JSON.stringify(syncReads.map((p) => p.slice(root.length)))}, async ${calls.readlink - a0} (first run async ${a0 - r0})`);
    const asyncReads = readlinkPaths.slice(readlinkPaths.length - (calls.readlink - a0));
    assert.ok(calls.readlink - a0 > 0, 'the others were read ahead');
    assert.equal([...syncReads, ...asyncReads].filter((p) => p.endsWith('/games/l0.jpg')).length, 1, 'l0.jpg read once');
    assert.equal(syncReads.filter((p) => p.endsWith('/games/l0.jpg')).length, folderStatSlow ? 0 : 1, folderStatSlow ? 'not timed: the folder is on a server' : 'timed: its read took a round trip');
  }
});

test('racy folders (every folder changed within the margin): nothing stored, each run as index: false', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const { dir, root } = linkLibrary(t);
  const want = await records(scan(root, { engine: 'inline' }));
  const stats: IndexRunStats[] = [];
  const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 1e9, onStats: (x: IndexRunStats) => void stats.push(x) };
  for (let k = 0; k < 4; k++) same(await records(scan(root, { engine: 'inline', index })), want, `run ${k}`);
  assert.deepEqual(stats.map((s) => s.linksReused), [0, 0, 0, 0], 'no link entry stored: none served');
  assert.ok(stats.slice(1).every((s) => (s.linksAhead ?? 0) > 0), `read ahead on every run after the first: ${stats.map((s) => s.linksAhead)}`);
});

test('more links than LINKS_AHEAD_PER_FOLDER (4,096): the rest one at a time, each run as index: false', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const { dir, root, games } = linkLibrary(t);
  for (let i = 0; i < 4200; i++) symlinkSync(i % 7 === 0 ? `../../photos/none${i}.jpg` : `../../photos/p${1 + (i % 2)}.jpg`, join(games, `w-${String(i).padStart(5, '0')}.jpg`));
  const want = await records(scan(root, { engine: 'inline' }));
  const stats: IndexRunStats[] = [];
  const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0, onStats: (x: IndexRunStats) => void stats.push(x) };
  for (let k = 0; k < 3; k++) same(await records(scan(root, { engine: 'inline', index })), want, `run ${k}`);
  // The second run resolves every link: at most 4,096 of the folder's are read ahead (a text and a target each).
  const ahead = stats[1].linksAhead ?? 0;
  assert.ok(ahead > 4000 && ahead <= 2 * 4096, `second run: ${ahead} read ahead of ${stats[1].linksResolved} resolved`);
  assert.ok(stats[1].linksResolved > 4200);
});

test('links resolved whole (broken, to a link, to a folder): the read ahead saves the readlink + lstat resolve makes before it resolves them whole (on < off in sync calls)', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const { dir, root, g } = photoAnd(t, 'links-ahead-whole-', 'games');
  for (let i = 0; i < 20; i++) symlinkSync(`../photos/none-${i}.jpg`, join(g, `a-broken-${String(i).padStart(2, '0')}.jpg`));
  const per: Record<string, unknown[]> = {};
  for (const statAhead of [true, false]) {
    const index = { path: join(dir, `idx-${statAhead}`, 'index'), racyMarginMs: 0, statAhead };
    per[String(statAhead)] = [];
    for (let k = 0; k < 3; k++) {
      let s: IndexRunStats | null = null;
      const c = { ...calls };
      await records(scan(root, { engine: 'inline', index: { ...index, onStats: (x: IndexRunStats) => void (s = x) } }));
      per[String(statAhead)].push({ run: k, readlinkSync: calls.readlinkSync - c.readlinkSync, lstatSync: calls.lstatSync - c.lstatSync, asyncReadlink: calls.readlink - c.readlink, asyncLstat: calls.lstat - c.lstat, linksAhead: (s! as IndexRunStats).linksAhead });
    }
  }
  t.diagnostic(JSON.stringify(per));
  const on = per.true[2] as { readlinkSync: number; lstatSync: number; linksAhead: number };
  const off = per.false[2] as { readlinkSync: number; lstatSync: number };
  assert.ok(on.linksAhead > 0, 'answers counted as used');
  assert.ok(on.readlinkSync + on.lstatSync < off.readlinkSync + off.lstatSync, `the read ahead saves sync calls (on ${JSON.stringify(on)}, off ${JSON.stringify(off)})`);
});

test('faults inside the read ahead (a call that throws, an EIO answer): each run as index: false, no unhandled rejection', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const { dir, root } = linkLibrary(t);
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => void unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  t.after(() => process.off('unhandledRejection', onUnhandled));
  t.after(() => Object.assign(faults, { readlink: null, lstat: null, lstatErr: null }));
  const want = await records(scan(root, { engine: 'inline' }));
  const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0 };
  await records(scan(root, { engine: 'inline', index }));
  faults.readlink = (p) => p.endsWith('c-same.jpg'); // (a-rel.jpg, the first, is read and timed: not async)
  faults.lstat = (p) => p.endsWith('p2.jpg');
  faults.lstatErr = (p) => p.endsWith('p1.jpg');
  same(await records(scan(root, { engine: 'inline', index })), want, 'with faults');
  Object.assign(faults, { readlink: null, lstat: null, lstatErr: null });
  for (let k = 0; k < 3; k++) same(await records(scan(root, { engine: 'inline', index })), want, `after, run ${k}`);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(unhandled, []);
});

test('links read ahead resolve as one at a time: the same links resolved and stored, run after run, with round trips, without, and with statAhead: false', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  const { dir, root } = linkLibrary(t);
  const want = await records(scan(root, { engine: 'inline' }));
  const links: Record<string, [number, number][]> = {};
  for (const [what, ms, statAhead] of [['round trips', -1, true], ['a local disk', Infinity, true], ['statAhead: false', -1, false]] as const) {
    setRoundTripMsForTests(ms);
    const stats: IndexRunStats[] = [];
    const index = { path: join(dir, `idx-${what}`, 'index'), racyMarginMs: 0, statAhead, onStats: (x: IndexRunStats) => void stats.push(x) };
    for (let k = 0; k < 4; k++) same(await records(scan(root, { engine: 'inline', index })), want, `${what}, run ${k}`);
    const ahead = stats.map((s) => s.linksAhead ?? 0);
    if (statAhead && ms === -1) {
      // The first run's links go to the engine; the second resolves them here, read ahead, and stores them.
      assert.equal(ahead[0], 0, 'a first run reads no link ahead');
      assert.ok(ahead[1] > 0, `second run: ${ahead[1]} read ahead`);
    } else assert.deepEqual(ahead, [0, 0, 0, 0], `${what}: one at a time`);
    links[what] = stats.map((s) => [s.linksResolved, s.linksReused]);
  }
  assert.deepEqual(links['round trips'], links['a local disk']);
  assert.deepEqual(links['round trips'], links['statAhead: false']);
  assert.ok(links['round trips'][2][1] > 0, 'the third run serves stored links');
});

test('the root "/": links resolve (read ahead or not, index or not) to the paths they do from the folder above, never "//"', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const dir = realpathSync(testDir(t, 'links-ahead-slash-'));
  mkdirSync(join(dir, 'photos'));
  mkdirSync(join(dir, 'games'));
  for (let i = 0; i < 4; i++) writeFileSync(join(dir, 'photos', `p${i}.jpg`), FAKE_JPEG);
  for (let i = 0; i < 4; i++) symlinkSync(`../photos/p${i}.jpg`, join(dir, 'games', `l${i}.jpg`));
  const games = join(dir, 'games');
  const entries: WalkEntry[] = readdirSync(games, { withFileTypes: true }).map((d) => ({ name: d.name, kind: kindOfDirent(d) }));
  const sink = { ref: () => undefined, add: () => true };
  const used = async (rootReal: string) => {
    const d = new DirSnapshots(null, rootReal, rootReal, 0n, sink, false);
    const rel = rootReal === '/' ? games.slice(1) : games.slice(rootReal.length + 1);
    await d.linksAhead(rel, entries, new Set(['jpg']));
    const out = entries.map((e) => d.resolve(join(games, e.name), rel, e.name));
    return { used: d.linksAheadUsed, out: out.map((r) => r.target ?? r.reason) };
  };
  const above = await used(dir);
  const slash = await used('/');
  assert.ok(above.used > 0);
  assert.equal(slash.used, above.used, 'as many answers read ahead used');
  assert.deepEqual(slash.out, above.out, 'the same targets, spelled with one slash');
  // And as --no-index resolves them (LinkResolver), from either root.
  for (const rootReal of [dir, '/']) {
    const rel = rootReal === '/' ? games.slice(1) : games.slice(rootReal.length + 1);
    const plain = new LinkResolver(rootReal);
    assert.deepEqual(entries.map((e) => plain.resolve(join(games, e.name), rel, e.name).target), above.out, `--no-index from ${rootReal}`);
  }
});

for (const nested of [false, true])
test(`links of the folders the walk listed ahead are read before their turn: each once, every answer used, each run as index: false (${nested ? 'nested: the walk lists ahead at each depth' : 'flat'})`, async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const { dir, root } = photoAnd(t, 'links-ahead-listed-', 'games');
  rmSync(join(root, 'games'), { recursive: true });
  const folders = nested ? ['a', 'a/a1', 'a/a2', 'a/a3', 'a/a4', 'a/a5', 'b', 'c', 'd', 'e', 'f/f1', 'f/f2'] : ['g0', 'g1', 'g2', 'g3', 'g4', 'g5'];
  for (const f of folders) {
    mkdirSync(join(root, 'games', f), { recursive: true });
    const up = '../'.repeat(f.split('/').length + 1);
    for (let i = 0; i < 3; i++) symlinkSync(`${up}photos/p1.jpg`, join(root, 'games', f, `l${i}.jpg`));
  }
  const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0 };
  const want = await records(scan(root, { engine: 'inline' }));
  same(await records(scan(root, { engine: 'inline', index })), want, 'first run');
  // The second run (nothing of the links stored yet): when each folder's turn comes, which links have been read.
  const turnAt = new Map<string, number>();
  const opener: OpenScanCache = (r, inspect, o) => {
    const c = openScanCache(r, inspect, o);
    if (c === null) return null;
    const linksAhead = c.linksAhead.bind(c);
    c.linksAhead = (d, entries, exts, signal) => {
      turnAt.set(d, readlinkPaths.length);
      return linksAhead(d, entries, exts, signal);
    };
    return c;
  };
  const from = readlinkPaths.length;
  const syncFrom = readlinkSyncPaths.length;
  let stats: IndexRunStats | null = null;
  same(await records(new ScanSession(root, { engine: 'inline', index: { ...index, onStats: (s: IndexRunStats) => void (stats = s) } }, opener)), want, 'second run');
  const read = readlinkPaths.slice(from).filter((p) => p.includes('/games/'));
  const readBefore = (f: string) => readlinkPaths.slice(from, turnAt.get(`games/${f}`)!).filter((p) => p.includes(`/games/${f}/`)).length;
  assert.ok(folders.slice(1).some((f) => readBefore(f) === 3), `a folder's links read before its turn: ${JSON.stringify(folders.map(readBefore))}`);
  assert.equal(read.length, 3 * folders.length, 'each link read ahead once');
  assert.equal(new Set(read).size, read.length);
  assert.deepEqual(readlinkSyncPaths.slice(syncFrom).filter((p) => p.includes('/games/g')), [], 'none read again at its turn');
  assert.equal(stats!.linksAhead, 2 * 3 * folders.length, 'every answer used (text and target of each)');
  same(await records(scan(root, { engine: 'inline', index })), want, 'third run');
});

test('a folder\'s answers read ahead are its own: a read of the folder above never answers a link timed in a subfolder', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const top = realpathSync(testDir(t, 'links-ahead-own-'));
  const sub = join(top, 'sub');
  mkdirSync(sub);
  writeFileSync(join(top, 'x.jpg'), FAKE_JPEG); // top/x.jpg is a file; sub/x.jpg is not there
  for (const n of ['b0.jpg', 'b1.jpg']) symlinkSync('x.jpg', join(top, n));
  symlinkSync('x.jpg', join(sub, 'l.jpg'));
  const entries = new LinkEntries(new FolderIdentities(1n << 62n), new LookupMemo());
  const above = entries.readAhead(top, ['b0.jpg', 'b1.jpg']);
  assert.equal(entries.readTakesRoundTrip(sub, 'l.jpg'), true); // timed while the folder above is read
  await above;
  const got = entries.resolve(sub, 'l.jpg');
  assert.deepEqual(got.link, resolveLinkNative(join(sub, 'l.jpg')), "broken, as realpath says: not the folder above's x.jpg");
  assert.equal(got.link.broken, true);
});

test('answers of a folder let go while its reads are in flight are not kept (at most FOLDERS_READ_AHEAD folders), nor used', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const top = realpathSync(testDir(t, 'links-ahead-let-go-'));
  writeFileSync(join(top, 'x.jpg'), FAKE_JPEG);
  const folders = Array.from({ length: 14 }, (_, i) => join(top, `f${String(i).padStart(2, '0')}`));
  for (const f of folders) {
    mkdirSync(f);
    for (const n of ['l0.jpg', 'l1.jpg']) symlinkSync('../x.jpg', join(f, n));
  }
  const entries = new LinkEntries(new FolderIdentities(1n << 62n), new LookupMemo());
  entries.turn(folders[folders.length - 1]); // the folder at its turn is never let go
  // All started at once: the first ones are let go while their reads are in flight.
  await Promise.all(folders.map((f) => entries.readAhead(f, ['l0.jpg', 'l1.jpg'])));
  const kept = entries.answersKept;
  assert.ok(kept > 0 && kept < 4 * folders.length, `${kept} answers kept of ${4 * folders.length} read`);
  assert.equal(kept % 4, 0, 'whole folders kept: a text and a target per link');
  // A folder whose records served it lets go of its answers (never the folder at its turn).
  entries.letGo(folders[folders.length - 2]);
  assert.equal(entries.answersKept, kept - 4);
  entries.letGo(folders[folders.length - 1]);
  assert.equal(entries.answersKept, kept - 4, 'the folder at its turn keeps its answers');
  const s0 = readlinkSyncPaths.length;
  for (const n of ['l0.jpg', 'l1.jpg']) assert.deepEqual(entries.resolve(folders[0], n).link, resolveLinkNative(join(folders[0], n)));
  assert.equal(readlinkSyncPaths.length - s0, 2, 'a folder let go reads its links at its turn');
});

test('a root whose real path is "/" (given through a link): its folders are "/sub", never "//sub"', (t) => {
  const dir = testDir(t, 'links-ahead-root-link-');
  symlinkSync('/', join(dir, 'root'));
  const sink = { ref: () => undefined, add: () => true };
  const d = new DirSnapshots(null, join(dir, 'root'), '/', 0n, sink, false);
  assert.equal(d.realOf(join(dir, 'root', 'usr')), '/usr');
  assert.equal(d.realOf(join(dir, 'root')), '/');
});
