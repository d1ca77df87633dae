/**
 * Stats taken for a folder the walk lists ahead (ScanIndex.statListedAhead), attacked: answers kept
 * for their use where a folder's own stat is quick and its sidecars' take round trips (a client
 * caching folder attributes), changes between those stats and the folder's turn, an abort while a
 * read ahead is in flight. (The feature's own tests: index-stat-ahead.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setRoundTripMsForTests, resetFastStatForTests } from '../src/fs/identity.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';
import { photoSpec, scanned } from './helpers/index-parity.js';
import { spyAsyncStat } from './helpers/stat-identity.js';
import type { IndexRunStats } from '../src/model/index-options.js';
import { openScanCache } from '../src/incremental/scan-cache.js';
import type { OpenScanCache } from '../src/scan/port.js';

/** Node's stat binding, a round trip (busy `ms`) for sidecar paths: a server whose folders' stats its client's cache answers. */
function slowSidecarBinding(ms: number, calls: Map<string, number>) {
  const real = (process as unknown as { binding(n: string): { stat: (...a: unknown[]) => BigInt64Array | undefined } }).binding('fs');
  return ((...args: unknown[]) => {
    const p = String(args[0]);
    if (p.endsWith('.json')) {
      calls.set(p, (calls.get(p) ?? 0) + 1);
      const end = performance.now() + ms;
      while (performance.now() < end);
    }
    return real.stat(...args);
  }) as never;
}

test('a folder at its turn (4,098 sidecars: two timed, 4,096 ahead) while the next is taken soon (the same): no answer dropped before use', async (t) => {
  t.after(() => {
    setRoundTripMsForTests(null);
    resetFastStatForTests();
  });
  const dir = testDir(t, 'atk-timed-');
  const root = join(dir, 'lib');
  for (const f of ['a', 'b']) {
    mkdirSync(join(root, f), { recursive: true });
    for (let i = 0; i < 4098; i++) {
      writeFileSync(join(root, f, `IMG_${String(i).padStart(4, '0')}.jpg`), FAKE_JPEG);
      writeFileSync(join(root, f, `IMG_${String(i).padStart(4, '0')}.json`), '{"success": true}');
    }
  }
  const stats: IndexRunStats[] = [];
  const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0, folderRecords: false, fastStat: true, onStats: (x: IndexRunStats) => void stats.push(x) };
  const plain = await scanned(root, undefined);
  await scanned(root, index); // entries
  await scanned(root, index); // listings
  // Folder stats fast (a client's attribute cache), each sidecar's a round trip (1.5 ms).
  setRoundTripMsForTests(1);
  const sync = new Map<string, number>();
  resetFastStatForTests('yes', slowSidecarBinding(1.5, sync));
  const asked = spyAsyncStat(t);
  const listed: string[] = [];
  const opener: OpenScanCache = (r, inspect, o) => {
    const c = openScanCache(r, inspect, o);
    if (c === null) return null;
    const statListedAhead = c.statListedAhead.bind(c);
    c.statListedAhead = (d, entries, signal) => {
      listed.push(d);
      statListedAhead(d, entries, signal);
    };
    return c;
  };
  assert.equal(await scanned(root, index, opener), plain);
  assert.ok(listed.includes(join(root, 'b')), `b listed ahead: ${JSON.stringify(listed)}`);
  // Each sidecar stat'ed once in the run: ahead (fs.stat), or timed / at its lookup (the binding).
  const twice = [...new Set([...asked, ...sync.keys()])].filter((p) => asked.filter((x) => x === p).length + (sync.get(p) ?? 0) > 1);
  assert.deepEqual(twice, [], 'a sidecar stat’ed twice: an answer kept for it was dropped before its use');
  assert.equal(stats.at(-1)!.statsAhead, asked.length, 'every answer taken ahead was used');
});

test('changes between the stats of a folder listed ahead and its turn: the next runs give what index: false gives', async (t) => {
  t.after(() => setRoundTripMsForTests(null));
  const kinds: [string, (folder: string) => void][] = [
    ['rename over', (f) => { writeFileSync(join(f, 'tmp'), JSON.stringify(sidecarData('f5.jpg', 2, 8))); fs.renameSync(join(f, 'tmp'), join(f, 'f5.json')); }],
    ['in place, same size, mtime restored', (f) => {
      const p = join(f, 'f5.json');
      const st = fs.statSync(p);
      const txt = fs.readFileSync(p, 'utf8');
      const edited = txt.replace('"face_detection"', '"face_detectioX"');
      assert.equal(edited.length, txt.length);
      assert.notEqual(edited, txt);
      writeFileSync(p, edited);
      fs.utimesSync(p, st.atime, st.mtime);
    }],
    ['removed', (f) => fs.rmSync(join(f, 'f5.json'))],
    ['image removed', (f) => fs.rmSync(join(f, 'f5.jpg'))],
    ['folder renamed away, a symlink put in its place', (f) => { fs.renameSync(f, `${f}-moved`); fs.symlinkSync(join(f, '..', '0'), f); }],
    ['folder replaced by another folder', (f) => { fs.renameSync(f, `${f}-old`); fs.cpSync(join(f, '..', '0'), f, { recursive: true }); }],
    ['sidecar made a symlink to another', (f) => { fs.rmSync(join(f, 'f5.json')); fs.symlinkSync('f6.json', join(f, 'f5.json')); }],
  ];
  for (const [what, change] of kinds) {
    for (const rt of [-1, Infinity]) {
      const dir = testDir(t, 'atk-moment-');
      const root = join(dir, 'lib');
      const { spec, fill } = photoSpec();
      fill(7, 10);
      makeTree(spec, root);
      const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0 };
      setRoundTripMsForTests(null);
      for (let i = 0; i < 5; i++) await scanned(root, index);
      const folder = join(root, 'fill', '4');
      let done = false;
      let listedAhead = false;
      const opener: OpenScanCache = (r, inspect, o) => {
        const c = openScanCache(r, inspect, o);
        if (c === null) return null;
        const statAhead = c.statAhead.bind(c);
        const statListedAhead = c.statListedAhead.bind(c);
        c.statListedAhead = (d, entries, signal) => {
          if (d === folder) listedAhead = true;
          statListedAhead(d, entries, signal);
        };
        // At its turn: what was taken when it was listed ahead is in, then the change, then its lookups.
        c.statAhead = (d, entries, signal) => {
          const p = statAhead(d, entries, signal);
          if (d === folder && !done) {
            done = true;
            return (async () => {
              await p;
              change(folder);
            })();
          }
          return p;
        };
        return c;
      };
      setRoundTripMsForTests(rt);
      await scanned(root, index, opener);
      assert.ok(done && listedAhead, `${what}: folder listed ahead, then its turn`);
      setRoundTripMsForTests(null);
      const want = await scanned(root, undefined);
      for (const r of [-1, Infinity, -1]) {
        setRoundTripMsForTests(r);
        assert.equal(await scanned(root, index), want, `${what} (rt ${rt}): a later run (rt ${r})`);
      }
    }
  }
});

test('abort: no stat is made after the signal fires (a folder whose read ahead comes back after it)', async (t) => {
  t.after(() => {
    setRoundTripMsForTests(null);
    resetFastStatForTests();
  });
  let unhandled = 0;
  const onUnhandled = () => void unhandled++;
  process.on('unhandledRejection', onUnhandled);
  t.after(() => void process.off('unhandledRejection', onUnhandled));
  for (const mode of ['server', 'attr-cached folders'] as const) {
    const dir = testDir(t, 'atk-abort-');
    const root = join(dir, 'lib');
    const { spec, fill } = photoSpec();
    fill(8, 10);
    makeTree(spec, root);
    const index = { path: join(dir, 'idx', 'index'), racyMarginMs: 0, fastStat: true, folderRecords: false };
    for (let i = 0; i < 3; i++) await scanned(root, index);
    // fill/5 changed: the walk reads it ahead (a readdir in flight when the signal fires).
    writeFileSync(join(root, 'fill', '5', 'new.txt'), 'x');
    const sync = new Map<string, number>();
    resetFastStatForTests('yes', slowSidecarBinding(mode === 'server' ? 0 : 1.5, sync));
    setRoundTripMsForTests(mode === 'server' ? -1 : 1);
    const asked = spyAsyncStat(t);
    const ac = new AbortController();
    let atAbort = -1;
    let syncAtAbort = -1;
    const count = () => [...sync.values()].reduce((a, b) => a + b, 0);
    const opener: OpenScanCache = (r, inspect, o) => {
      const c = openScanCache(r, inspect, o);
      if (c === null) return null;
      const statAhead = c.statAhead.bind(c);
      c.statAhead = (d, entries, signal) => {
        if (d === join(root, 'fill', '1') && !ac.signal.aborted) {
          ac.abort();
          atAbort = asked.length;
          syncAtAbort = count();
        }
        return statAhead(d, entries, signal);
      };
      return c;
    };
    await assert.rejects(scanned(root, index, opener, ac.signal));
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(atAbort >= 0);
    assert.equal(asked.length - atAbort, 0, `${mode}: async stats after the abort`);
    assert.equal(count() - syncAtAbort, 0, `${mode}: sidecar stats after the abort: ${JSON.stringify([...sync])}`);
  }
  assert.equal(unhandled, 0);
});
