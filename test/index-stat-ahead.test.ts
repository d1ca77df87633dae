/**
 * Sidecar stats taken ahead, many at once, where a folder's first stat took a round trip (a file
 * server: fs/identity.ts IdentityScratch.statAhead, ScanIndex.statAhead), and links read ahead
 * where a folder's first link read took one (tasks/link-entry.ts LinkEntries.readAhead). Each answer
 * must be the one the call gives, taken once; a scan that takes them ahead must give what it gives
 * without them and what `index: false` gives, through edits, links of every kind and changes made
 * between a read ahead and its use (nothing stale stored).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IdentityScratch, setRoundTripMsForTests, STAT_FILE, STAT_NONE } from '../src/fs/identity.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';
import { pathsOfEveryKind, referenceStat } from './helpers/stat-identity.js';
import { commands, edit, firstDiff, photoSpec, show, warm, type CmdName, type Run } from './helpers/index-parity.js';
import type { IndexRunStats } from '../src/model/index-options.js';
import { validate } from '../src/ops/validate.js';
import { statAheadFromEnv } from '../src/settings.js';
import { scan } from '../src/ops/scan.js';
import { ScanSession } from '../src/scan/session.js';
import { openScanCache } from '../src/incremental/scan-cache.js';
import type { OpenScanCache } from '../src/scan/port.js';

test('stats taken ahead give each path what stat gives it, once: every kind of path, a NUL, nothing there', async (t) => {
  const dir = testDir(t, 'stat-ahead-kinds-');
  // Every kind of path, a NUL and a folder in a sidecar's name beside them.
  mkdirSync(join(dir, 'folder.json'));
  const paths = [...pathsOfEveryKind(dir), join(dir, 'folder.json'), join(dir, 'nul\0.json')];
  const want = paths.map(referenceStat);
  const s = new IdentityScratch();
  await s.statAhead(paths);
  const got = paths.map((p) => {
    const kind = s.stat(p);
    return [kind, kind === STAT_NONE ? null : s.bytes.toString('hex')];
  });
  assert.deepEqual(got, want);
  assert.equal(s.aheadUsed, paths.length, 'every answer was taken ahead and used');
  assert.ok(want.some(([k]) => k === STAT_FILE) && want.some(([k]) => k === STAT_NONE), 'the set holds files and nothing-theres');
});

test('an answer taken ahead is used once: the next stat of the path sees the file as it is then', async (t) => {
  const dir = testDir(t, 'stat-ahead-once-');
  const f = join(dir, 'IMG_1.json');
  writeFileSync(f, '{"a": 1}');
  const before = referenceStat(f);
  const s = new IdentityScratch();
  await s.statAhead([f]);
  // Replaced by rename after the answer was taken: the answer taken ahead is the file as it was.
  writeFileSync(join(dir, 'tmp'), '{"a": 22}');
  renameSync(join(dir, 'tmp'), f);
  assert.equal(s.stat(f), STAT_FILE);
  assert.equal(s.bytes.toString('hex'), before[1]);
  // Taken once: the next one stats the file again.
  assert.equal(s.stat(f), STAT_FILE);
  assert.notEqual(s.bytes.toString('hex'), before[1]);
  assert.deepEqual([STAT_FILE, s.bytes.toString('hex')], referenceStat(f));
  // A file removed since its answer: the answer, then nothing there.
  await s.statAhead([f]);
  rmSync(f);
  assert.equal(s.stat(f), STAT_FILE);
  assert.equal(s.stat(f), STAT_NONE);
});

test('answers taken ahead are bounded: past 8,192 the oldest goes, and its path is stat’ed again', async (t) => {
  const dir = testDir(t, 'stat-ahead-bound-');
  const f = join(dir, 'first.json');
  writeFileSync(f, '{}');
  const s = new IdentityScratch();
  // Answers are kept in the order they come back: f's first, then 8,192 more.
  await s.statAhead([f]);
  await s.statAhead(Array.from({ length: 8192 }, (_, i) => join(dir, `none-${i}.json`)));
  rmSync(f);
  assert.equal(s.stat(f), STAT_NONE, 'the oldest answer was dropped: the path is stat’ed now');
  assert.equal(s.stat(join(dir, 'none-8191.json')), STAT_NONE);
});

test('takesRoundTrip: timed against the threshold; a round trip’s answer is kept for the next stat, a local one is not', (t) => {
  const dir = testDir(t, 'stat-ahead-probe-');
  const f = join(dir, 'a.json');
  const g = join(dir, 'b.json');
  writeFileSync(f, '{}');
  writeFileSync(g, '{}');
  const want = referenceStat(f);
  t.after(() => setRoundTripMsForTests(null));
  const s = new IdentityScratch();
  setRoundTripMsForTests(-1);
  assert.equal(s.takesRoundTrip(f), true);
  setRoundTripMsForTests(Infinity);
  assert.equal(s.takesRoundTrip(g), false);
  rmSync(f);
  rmSync(g);
  assert.deepEqual([s.stat(f), s.bytes.toString('hex')], want, 'the round trip’s answer, kept');
  assert.equal(s.stat(f), STAT_NONE, 'used once');
  assert.equal(s.stat(g), STAT_NONE, 'a local answer is not kept: stat’ed again');
  assert.equal(s.aheadUsed, 0, 'a timed answer is not one taken ahead');
});

/** A library of photo folders, game folders of links into them and beside-sidecars. */
function library(t: TestContext): { dir: string; root: string } {
  const dir = testDir(t, 'stat-ahead-lib-');
  const root = join(dir, 'lib');
  const { spec, photo, fill } = photoSpec();
  photo('photos/p1');
  photo('photos/p2', 2);
  photo('top');
  for (let g = 0; g < 2; g++) {
    spec[`games/g${g}/link1.jpg`] = { symlink: '../../photos/p1.jpg' };
    spec[`games/g${g}/link2.jpg`] = { symlink: '../../photos/p2.jpg' };
    spec[`games/g${g}/link2.json`] = { json: sidecarData('link2.jpg', 1, 8) };
    spec[`games/g${g}/gone.jpg`] = { symlink: '../../photos/nothing.jpg' };
    spec[`games/g${g}/note.json`] = { json: sidecarData('note.jpg', 1, 8) };
    spec[`games/g${g}/sidecar-link.json`] = { symlink: '../../photos/p1.json' };
    photo(`games/g${g}/own`, 1);
  }
  fill(6, 10);
  makeTree(spec, root);
  return { dir, root };
}

const aheadOf = (stats: IndexRunStats[]) => stats.map((s) => s.statsAhead ?? 0);

test('a scan that takes its stats ahead gives what index: false gives, run after run, through edits (every folder a round trip)', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const names: CmdName[] = ['validate', 'stats op', 'format-stats'];
  for (const name of names) {
    const { dir, root } = library(t);
    const runs: Run[] = [];
    const cmd = commands(root, join(dir, 'idx', 'index'), runs, {})[name];
    await warm(cmd, runs, `stat ahead ${name}`, root);
    const steps: [string, () => void][] = [
      ['edit a photo sidecar', () => edit(join(root, 'photos/p1.json'), 1)],
      ['edit a game folder sidecar', () => edit(join(root, 'games/g0/link2.json'), 2)],
      ['a sidecar replaced by rename', () => {
        writeFileSync(join(root, 'photos/tmp'), JSON.stringify(sidecarData('p2.jpg', 3, 8)));
        renameSync(join(root, 'photos/tmp'), join(root, 'photos/p2.json'));
      }],
      ['a sidecar removed, one added', () => {
        rmSync(join(root, 'games/g1/note.json'));
        writeFileSync(join(root, 'photos/extra.jpg'), FAKE_JPEG);
        writeFileSync(join(root, 'photos/extra.json'), JSON.stringify(sidecarData('extra.jpg', 1, 8)));
      }],
      ['nothing', () => undefined],
    ];
    for (const [what, step] of steps) {
      step();
      const want = await cmd(false);
      for (let k = 0; k < 2; k++) {
        const from = runs.length;
        const got = await cmd(true);
        assert.ok(got === want, `${name}: ${what}, run ${k} (${show(runs.slice(from))}): ${firstDiff(got, want)}`);
      }
    }
    // Every run after the first used stats taken ahead, the served ones (folder records checked) too.
    assert.ok(runs.slice(1).every((r) => r.statsAhead > 0), `${name}: stats ahead per run ${runs.map((r) => r.statsAhead).join(',')}`);
    assert.ok(runs.some((r) => r.how === 'served'), `${name}: some run served whole`);
  }
});

test('statsAhead says which ran: every sidecar of a warm run ahead where each stat is a round trip, none where none is, none in a first run', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  const { dir, root } = library(t);
  const stats: IndexRunStats[] = [];
  const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0, onStats: (s: IndexRunStats) => void stats.push(s) };
  const out = async () => JSON.stringify((await validate(root, { engine: 'inline', index })).total_files);
  setRoundTripMsForTests(-1);
  const first = await out();
  setRoundTripMsForTests(Infinity);
  const second = await out();
  setRoundTripMsForTests(-1);
  const third = await out();
  assert.equal(first, second);
  assert.equal(first, third);
  const [a, b, c] = aheadOf(stats);
  assert.equal(a, 0, 'a first run looks nothing up: no stat ahead');
  assert.equal(b, 0, 'no round trip: one at a time');
  // Every folder's first sidecar is stat'ed to time it; the rest of each folder's go ahead.
  assert.ok(c > 0, `third run: ${c} ahead (hits ${stats[2].hits})`);
  // The kill switch: statAhead false takes every stat one at a time, round trips or not.
  const fourth = JSON.stringify((await validate(root, { engine: 'inline', index: { ...index, statAhead: false } })).total_files);
  assert.equal(fourth, first);
  assert.equal(stats[3].statsAhead, 0, 'statAhead: false');
});

test('IMAGE_SIDECAR_STAT_AHEAD=off is the CLI’s kill switch (statAhead: false); unset leaves the default; another value is a usage error', () => {
  assert.equal(statAheadFromEnv({ IMAGE_SIDECAR_STAT_AHEAD: 'off' }), false);
  assert.equal(statAheadFromEnv({ IMAGE_SIDECAR_STAT_AHEAD: 'NO' }), false);
  assert.equal(statAheadFromEnv({ IMAGE_SIDECAR_STAT_AHEAD: 'on' }), undefined);
  assert.equal(statAheadFromEnv({}), undefined);
  assert.throws(() => statAheadFromEnv({ IMAGE_SIDECAR_STAT_AHEAD: 'sometimes' }), /IMAGE_SIDECAR_STAT_AHEAD must be off or on/);
});

test('a sidecar replaced between its stat ahead and its lookup: that run gives the file as its stat found it, the next run reads it again (nothing stale is stored)', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const { dir, root } = library(t);
  const stats: IndexRunStats[] = [];
  const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0, onStats: (x: IndexRunStats) => void stats.push(x) };
  const records = async (session: ScanSession) => {
    const out: unknown[] = [];
    for await (const r of session) out.push(r);
    return JSON.stringify(out).replace(/"elapsedMs":[-0-9.e+]+/g, '"elapsedMs":0');
  };
  const plain = () => records(scan(root, { engine: 'inline' }));
  const indexed = (opener: OpenScanCache = openScanCache) => records(new ScanSession(root, { engine: 'inline', index }, opener));
  for (let i = 0; i < 5; i++) await indexed(); // folder records stored: the photos folder is served
  const before = await plain();
  // A folder of ten sidecars: its first two are timed, f5.json is among the ones taken ahead.
  const folder = join(root, 'fill', '0');
  let replaced = false;
  // The cache as the scan opens it, with f5.json replaced by rename the moment the folder's stats
  // ahead are in (before its records are checked and its files looked up).
  const replacing: OpenScanCache = (r, inspect, o) => {
    const c = openScanCache(r, inspect, o);
    if (c === null) return null;
    const statAhead = c.statAhead.bind(c);
    c.statAhead = async (d, entries) => {
      await statAhead(d, entries);
      if (d !== folder || replaced) return;
      replaced = true;
      writeFileSync(join(folder, 'tmp'), JSON.stringify(sidecarData('fill/0/f5.jpg', 0, 8)));
      renameSync(join(folder, 'tmp'), join(folder, 'f5.json'));
    };
    return c;
  };
  const during = await indexed(replacing);
  assert.ok(replaced);
  assert.ok((stats.at(-1)?.statsAhead ?? 0) > 0, 'stats were taken ahead and used');
  assert.equal(during, before, 'the run gives f5.json as its stat ahead found it');
  const after = await plain();
  assert.notEqual(after, before);
  assert.equal(await indexed(), after, 'the next run reads f5.json again');
  assert.equal(await indexed(), after);
});

/**
 * A game folder of links of every kind beside the library's: plain ones (relative, absolute, two to
 * one target, one through a folder link), and ones resolved whole (to a link, to a folder, broken,
 * a text ending in `..`, a text that is not UTF-8).
 */
function linkLibrary(t: TestContext): { dir: string; root: string; games: string } {
  const { dir, root } = library(t);
  const games = join(root, 'games', 'every');
  mkdirSync(games);
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
  ];
  for (const [name, text] of links) symlinkSync(text, join(games, name));
  return { dir, root, games };
}

test('links read ahead (every call a round trip) resolve as one at a time and as index: false: every kind of link, run after run', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  const { dir, root } = linkLibrary(t);
  const stats: IndexRunStats[] = [];
  const records = async (session: ScanSession) => {
    const out: unknown[] = [];
    for await (const r of session) out.push(r);
    return JSON.stringify(out).replace(/"elapsedMs":[-0-9.e+]+/g, '"elapsedMs":0');
  };
  const want = await records(scan(root, { engine: 'inline' }));
  const links: Record<string, [number, number][]> = {};
  for (const [what, ms, statAhead] of [['round trips', -1, true], ['a local disk', Infinity, true], ['statAhead: false', -1, false]] as const) {
    setRoundTripMsForTests(ms);
    const index = { path: join(dir, `idx-${what}`, 'index'), racyMarginMs: 0, statAhead, onStats: (x: IndexRunStats) => void stats.push(x) };
    const from = stats.length;
    for (let k = 0; k < 4; k++) {
      const got = await records(new ScanSession(root, { engine: 'inline', index }, openScanCache));
      assert.ok(got === want, `${what}, run ${k}: ${firstDiff(got, want)}`);
    }
    const runs = stats.slice(from);
    const ahead = runs.map((s) => s.linksAhead ?? 0);
    if (statAhead && ms === -1) {
      // The first run's links go to the engine; the second resolves them here, read ahead, and stores them.
      assert.equal(ahead[0], 0, 'a first run reads no link ahead');
      assert.ok(ahead[1] > 0, `second run: ${ahead[1]} read ahead`);
      // Later runs serve stored links and read ahead only the ones they resolve (never stored: a broken one).
      for (const k of [2, 3]) {
        const r = runs[k];
        assert.ok(r.linksReused > 0 && r.linksResolved < runs[1].linksResolved, `run ${k}: ${r.linksReused} served, ${r.linksResolved} resolved`);
        assert.ok(ahead[k] <= 2 * r.linksResolved, `run ${k}: ${ahead[k]} read ahead for ${r.linksResolved} resolved (a text and a target each)`);
      }
    } else assert.deepEqual(ahead, [0, 0, 0, 0], `${what}: one at a time`);
    links[what] = runs.map((s) => [s.linksResolved, s.linksReused]);
  }
  // Both ways resolve and store the same links: each run served as many.
  assert.deepEqual(links['round trips'], links['a local disk']);
  assert.deepEqual(links['round trips'], links['statAhead: false']);
  assert.ok(links['round trips'][2][1] > 0, 'the third run serves stored links');
});

test('a link re-pointed between its read ahead and its resolution: that run gives it as read, the next run resolves it again (nothing stale is stored)', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  setRoundTripMsForTests(-1);
  const { dir, root, games } = linkLibrary(t);
  const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0, folderRecords: false as const };
  const records = async (session: ScanSession) => {
    const out: unknown[] = [];
    for await (const r of session) out.push(r);
    return JSON.stringify(out).replace(/"elapsedMs":[-0-9.e+]+/g, '"elapsedMs":0');
  };
  const plain = () => records(scan(root, { engine: 'inline' }));
  const same = (got: string, want: string, what: string) => assert.ok(got === want, `${what}: ${firstDiff(got, want)}`);
  let change: (() => void) | null = null;
  // The cache as the scan opens it, with `change` made the moment the game folder's calls ahead are in.
  const changing: OpenScanCache = (r, inspect, o) => {
    const c = openScanCache(r, inspect, o);
    if (c === null) return null;
    const statAhead = c.statAhead.bind(c);
    c.statAhead = async (d, entries) => {
      await statAhead(d, entries);
      if (d !== games || change === null) return;
      change();
      change = null;
    };
    return c;
  };
  const indexed = () => records(new ScanSession(root, { engine: 'inline', index }, changing));
  await indexed(); // the first run: its links go to the engine, none stored
  const before = await plain();
  // The second run reads the links ahead; c-same.jpg is re-pointed after that (a link no other
  // link goes through: a link to a link is resolved whole, when it is met).
  change = () => {
    rmSync(join(games, 'c-same.jpg'));
    symlinkSync('../../photos/p2.jpg', join(games, 'c-same.jpg'));
  };
  same(await indexed(), before, 'the run gives c-same.jpg as it was read ahead');
  assert.equal(change, null);
  const after = await plain();
  assert.notEqual(after, before);
  same(await indexed(), after, 'the next run resolves it again');
  same(await indexed(), after, 'and the one after');
  // A target replaced by a folder after its lstat ahead: the run after sees its folder changed.
  const before2 = after;
  // The links are stored by now: a new index, whose second run reads them ahead again.
  rmSync(join(dir, 'idx'), { recursive: true });
  await indexed();
  change = () => {
    rmSync(join(root, 'photos', 'p2.jpg'));
    mkdirSync(join(root, 'photos', 'p2.jpg'));
  };
  // The run pairs the target's folder as it lists it then (p2.jpg a folder): a tree changing during
  // a run, seen partly before and partly after, as without reading ahead in a narrower window.
  const during = await indexed();
  assert.equal(change, null);
  assert.notEqual(during, before2, 'the folder in p2.jpg’s place is seen by the pairing');
  const after2 = await plain();
  assert.notEqual(after2, before2);
  same(await indexed(), after2, 'the next run sees the target folder changed');
});
