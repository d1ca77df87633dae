/**
 * Sidecar stats taken ahead, many at once, where a folder's first stat took a round trip (a file
 * server: fs/identity.ts IdentityScratch.statAhead, ScanIndex.statAhead). Each answer must be the
 * one `stat` gives the path, taken once; a scan that takes them ahead must give what it gives
 * without them and what `index: false` gives, through edits, links and racy changes. (Links read
 * ahead: index-links-ahead.test.ts.)
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IdentityScratch, setRoundTripMsForTests, STAT_FILE, STAT_NONE } from '../src/fs/identity.js';
import { manyAtOnce } from '../src/fs/many-at-once.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';
import { pathsOfEveryKind, referenceStat, spyAsyncStat } from './helpers/stat-identity.js';
import { commands, edit, firstDiff, photoSpec, scanned, show, warm, type CmdName, type Run } from './helpers/index-parity.js';
import type { IndexRunStats } from '../src/model/index-options.js';
import { validate } from '../src/ops/validate.js';
import { statAheadFromEnv } from '../src/settings.js';
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
  // Every folder's own stat took a round trip: each folder's sidecars go ahead.
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
  const plain = () => scanned(root, undefined);
  const indexed = (opener: OpenScanCache = openScanCache) => scanned(root, index, opener);
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
    c.statAhead = async (d, entries, signal) => {
      // At the folder's turn (its stats may have been taken when the walk listed it ahead).
      await statAhead(d, entries, signal);
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

test('calls made ahead stop at an abort: no new one is made, and it resolves once those in flight are back (manyAtOnce)', async () => {
  const ac = new AbortController();
  const made: string[] = [];
  const answered: string[] = [];
  const inputs = Array.from({ length: 1000 }, (_, i) => `p${i}`);
  await manyAtOnce<number>(
    inputs,
    (p, done) => {
      made.push(p);
      setImmediate(() => done(1));
    },
    0,
    (p) => {
      answered.push(p);
      if (answered.length === 10) ac.abort();
    },
    ac.signal,
  );
  assert.ok(made.length <= 64 + 10, `${made.length} made`);
  assert.deepEqual(answered.sort(), made.sort(), 'every call made was answered before it resolved');
  // Without a signal (or one that never fires) every input is called once.
  const all: string[] = [];
  await manyAtOnce<number>(inputs, (p, done) => void setImmediate(() => done(all.push(p))), 0, () => undefined);
  assert.equal(new Set(all).size, 1000);
  // A call that throws is answered `failed`.
  const got: number[] = [];
  await manyAtOnce<number>(['a', 'b'], (p, done) => { if (p === 'a') throw new Error('refused'); done(2); }, -1, (_p, r) => void got.push(r));
  assert.deepEqual(got.sort(), [-1, 2]);
});

/**
 * The cache as a scan opens it, with one event list of what happens in order: `listed DIR` (the
 * walk listed it ahead), `turn DIR` (its statAhead at its turn) and, through `fs.stat` spied,
 * `stat PATH` (a stat taken ahead).
 */
function logging(events: string[]): OpenScanCache {
  return (r, inspect, o) => {
    const c = openScanCache(r, inspect, o);
    if (c === null) return null;
    const statAhead = c.statAhead.bind(c);
    const statListedAhead = c.statListedAhead.bind(c);
    c.statAhead = (d, entries, signal) => {
      events.push(`turn ${d}`);
      return statAhead(d, entries, signal);
    };
    c.statListedAhead = (d, entries, signal) => {
      events.push(`listed ${d}`);
      statListedAhead(d, entries, signal);
    };
    return c;
  };
}

test('stats of a folder the walk lists ahead are taken then, and its turn uses them: each sidecar stat’ed once, every answer used, the output unchanged', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  const { dir, root } = library(t);
  const stats: IndexRunStats[] = [];
  const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0, onStats: (x: IndexRunStats) => void stats.push(x) };
  const plain = await scanned(root, undefined);
  for (let i = 0; i < 8 && stats.at(-1)?.written !== false; i++) await scanned(root, index); // every folder's records stored
  const events: string[] = [];
  const asked = spyAsyncStat(t, events);
  setRoundTripMsForTests(-1);
  const probes = { n: 0 };
  const takesRoundTrip = IdentityScratch.prototype.takesRoundTrip;
  IdentityScratch.prototype.takesRoundTrip = function (p: string) {
    probes.n++;
    return takesRoundTrip.call(this, p);
  };
  t.after(() => void (IdentityScratch.prototype.takesRoundTrip = takesRoundTrip));
  const during = await scanned(root, index, logging(events));
  const served = stats.at(-1)!;
  assert.equal(served.written, false, 'a served run');
  assert.equal(during, plain, 'the run gives what the index-free one gives');
  // Folders listed ahead had their sidecars stat'ed before their turn.
  const early = new Set<string>();
  for (const e of events.filter((x) => x.startsWith('listed '))) {
    const d = e.slice('listed '.length);
    const turn = events.indexOf(`turn ${d}`);
    assert.ok(turn > events.indexOf(e), `${d}: its turn after it was listed ahead`);
    if (events.slice(0, turn).some((x) => x.startsWith(`stat ${d}/`))) early.add(d);
  }
  assert.ok(early.size >= 3, `folders stat'ed before their turn: ${[...early].join(', ')}`);
  // Each path stat'ed ahead once, and every answer used (none dropped, none taken twice).
  assert.equal(new Set(asked).size, asked.length, 'no path stat’ed ahead twice');
  assert.equal(served.statsAhead, asked.length, 'every answer taken ahead was used');
  // Every folder's own stat took a round trip: no sidecar was timed to find out.
  assert.equal(probes.n, 0, 'no probe where the folder’s stat took a round trip');
});

test('on a local disk a folder listed ahead is timed once (two sidecars), its turn times none again, and nothing is stat’ed asynchronously', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  const { dir, root } = library(t);
  const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0 };
  for (let i = 0; i < 3; i++) await scanned(root, index);
  setRoundTripMsForTests(Infinity);
  const asked = spyAsyncStat(t);
  const timed: string[] = [];
  const takesRoundTrip = IdentityScratch.prototype.takesRoundTrip;
  IdentityScratch.prototype.takesRoundTrip = function (p: string) {
    timed.push(p);
    return takesRoundTrip.call(this, p);
  };
  t.after(() => void (IdentityScratch.prototype.takesRoundTrip = takesRoundTrip));
  const events: string[] = [];
  assert.equal(await scanned(root, index, logging(events)), await scanned(root, undefined));
  assert.equal(asked.length, 0, 'no stat taken ahead');
  assert.ok(timed.length >= 4, `${timed.length} sidecars timed`);
  assert.equal(new Set(timed).size, timed.length, 'no sidecar timed twice');
  assert.ok(events.some((e) => e.startsWith('listed ')), 'folders were listed ahead');
});

test('folders taken soon hold at most 4,096 answers together: a big folder waits for its turn, and no answer is dropped before its use', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  const dir = testDir(t, 'stat-ahead-soon-bound-');
  const root = join(dir, 'lib');
  // Four folders of 2,100 sidecars: the second is taken soon, the third and fourth would pass the
  // bound (taken soon too, the four folders' 8,400 answers would pass the 8,192 kept).
  for (const f of ['a', 'b', 'c', 'd']) {
    mkdirSync(join(root, f), { recursive: true });
    for (let i = 0; i < 2100; i++) {
      writeFileSync(join(root, f, `IMG_${i}.jpg`), FAKE_JPEG);
      writeFileSync(join(root, f, `IMG_${i}.json`), '{"success": true}');
    }
  }
  const stats: IndexRunStats[] = [];
  const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0, folderRecords: false, onStats: (x: IndexRunStats) => void stats.push(x) };
  const plain = await scanned(root, undefined);
  await scanned(root, index);
  const events: string[] = [];
  const asked = spyAsyncStat(t, events);
  setRoundTripMsForTests(-1);
  assert.equal(await scanned(root, index, logging(events)), plain);
  assert.equal(new Set(asked).size, asked.length, 'no path stat’ed ahead twice');
  assert.equal(stats.at(-1)!.statsAhead, asked.length, 'every answer taken ahead was used: none dropped');
  assert.equal(asked.length, 8400, 'every sidecar ahead, at its turn or soon');
  // b, c and d are listed ahead (in the order their reads come back): one of them (2,100) is taken
  // then; a second would make 4,200 together: the other two are taken at their turn.
  const firstStat = (f: string) => events.findIndex((e) => e.startsWith(`stat ${join(root, f)}/`));
  const turn = (f: string) => events.indexOf(`turn ${join(root, f)}`);
  const listed = ['b', 'c', 'd'].filter((f) => events.includes(`listed ${join(root, f)}`));
  assert.equal(listed.length, 3, 'b, c and d listed ahead');
  const early = listed.filter((f) => firstStat(f) < turn(f));
  assert.equal(early.length, 1, `stat'ed before their turn: ${early.join(', ')}`);
});
