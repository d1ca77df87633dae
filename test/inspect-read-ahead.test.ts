/**
 * A batch's sidecars read many at once where a read takes a round trip (a file server:
 * fs/read-ahead.ts, tasks/inspect.ts). Every result and index entry must be the one a read at its
 * turn gives, for every kind of file; a file read ahead is read once; batches of one thread are
 * inspected one after another; `readAhead: false` reads one at a time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { generateSampleLibrary } from '../src/index.js';
import { inspectFilesReadingAhead as inspectFiles } from '../src/tasks/inspect.js';
import { rewindEntries, storedResult } from '../src/tasks/index-entry.js';
import { madeIdentity, madeResult, TABLE_FILES } from '../src/incremental/store.js';
import { setRoundTripMsForTests } from '../src/fs/identity.js';
import { makeCornerTree, removeTree, tempDir } from './helpers/cli.js';
import { sidecarFiles, sidecarData } from './helpers/tree.js';
import { INSPECT_OPTION_SETS } from './helpers/inspection-arbitraries.js';
import type { FileInspection, InspectItem, InspectOptions } from '../src/model/inspection.js';

/** fs.open (the reads taken ahead) spied: the paths opened asynchronously. */
const opened: string[] = [];
const origOpen = fs.open;
(fs as unknown as Record<string, unknown>).open = function (...a: unknown[]) {
  opened.push(String(a[0]));
  return (origOpen as unknown as (...x: unknown[]) => unknown).apply(fs, a);
};
syncBuiltinESMExports();

/** Results as text, their clocks zeroed; each index entry as its stored result (its clock zeroed) and identity. */
function shown(results: readonly FileInspection[]): string {
  const entry = (e: Uint8Array) => ({ result: { ...(storedResult(madeResult(e)) as object), elapsedMs: 0 }, identity: Buffer.from(madeIdentity(e, TABLE_FILES)).toString('hex') });
  return JSON.stringify(
    results.map((r) => ({ ...r, elapsedMs: 0, indexEntry: r.indexEntry === undefined ? undefined : entry(r.indexEntry) })),
    (_, v) => (typeof v === 'bigint' ? `${v}n` : v),
  );
}

async function inspected(items: readonly InspectItem[], opts: InspectOptions, roundTrip: boolean): Promise<string> {
  setRoundTripMsForTests(roundTrip ? -1 : Infinity);
  try {
    const out = await inspectFiles(items, opts);
    const text = shown(out);
    rewindEntries();
    return text;
  } finally {
    setRoundTripMsForTests(null);
  }
}

describe('sidecars read ahead on a file server', () => {
  let roots: string[] = [];
  let items: InspectItem[] = [];
  before(async () => {
    const sample = tempDir('isc-read-ahead-');
    await generateSampleLibrary(sample, { images: 40, seed: 5, formatMix: { json: 2, bin: 1, legacy: 1 } });
    const corner = makeCornerTree();
    // Beside them: every kind of path a batch may name.
    const odd = tempDir('isc-read-ahead-odd-');
    writeFileSync(path.join(odd, 'empty.json'), '');
    writeFileSync(path.join(odd, 'corrupt.json'), '{"image_path": "x.jpg", ');
    writeFileSync(path.join(odd, 'big.json'), JSON.stringify({ ...sidecarData('big.jpg', 2, 8), pad: 'x'.repeat(1_200_000) })); // past the 1 MiB read ahead
    writeFileSync(path.join(odd, 'ok.json'), JSON.stringify(sidecarData('ok.jpg', 1, 8)));
    mkdirSync(path.join(odd, 'folder.json'));
    symlinkSync('ok.json', path.join(odd, 'link.json'));
    symlinkSync('none.json', path.join(odd, 'dangling.json'));
    symlinkSync('loop-b.json', path.join(odd, 'loop-a.json'));
    symlinkSync('loop-a.json', path.join(odd, 'loop-b.json'));
    const names = ['empty.json', 'corrupt.json', 'big.json', 'ok.json', 'folder.json', 'link.json', 'dangling.json', 'loop-a.json', 'none.json'];
    if (spawnSync('mkfifo', [path.join(odd, 'fifo.json')]).status === 0) names.push('fifo.json');
    roots = [sample, corner, odd];
    items = [...sidecarFiles(sample), ...sidecarFiles(corner), ...names.map((name) => ({ path: path.join(odd, name), name }))];
  });
  after(() => {
    for (const r of roots) removeTree(r);
  });

  it('every option set: results and index entries as read at each turn, every kind of file, and the small regular files read ahead once', async () => {
    assert.ok(items.length > 40, `${items.length} items`);
    for (const [name, base] of Object.entries(INSPECT_OPTION_SETS)) {
      for (const entries of [false, true]) {
        if (entries && (base.keepData === true || base.dataJson === true)) continue; // never stored
        const opts: InspectOptions = entries ? { ...base, indexEntries: { racyCutoffMs: Date.now() + 60_000, root: roots[0], keyNo: 0 } } : base;
        const want = await inspected(items, opts, false);
        const from = opened.length;
        const got = await inspected(items, opts, true);
        if (got !== want) {
          let k = 0;
          while (got[k] === want[k]) k++;
          assert.fail(`${name}${entries ? ' with entries' : ''}: read ahead differs at ${k}: …${want.slice(k - 300, k + 200)}… against …${got.slice(k - 300, k + 200)}…`);
        }
        const ahead = opened.slice(from);
        assert.equal(new Set(ahead).size, ahead.length, `${name}: a file opened ahead twice`);
        assert.ok(ahead.includes(items.find((it) => it.name === 'ok.json')!.path), `${name}: ok.json read ahead`);
      }
    }
  });

  it('without a round trip, or with readAhead: false, nothing is read ahead', async () => {
    const from = opened.length;
    await inspected(items, INSPECT_OPTION_SETS[Object.keys(INSPECT_OPTION_SETS)[0]], false);
    await inspected(items, { ...INSPECT_OPTION_SETS[Object.keys(INSPECT_OPTION_SETS)[0]], readAhead: false }, true);
    assert.equal(opened.length - from, 0);
  });

  it('batches of one thread are inspected one after another: one given while another waits on its reads gets its own results', async () => {
    const opts = INSPECT_OPTION_SETS[Object.keys(INSPECT_OPTION_SETS)[0]];
    const half = Math.floor(items.length / 2);
    const [a, b] = [items.slice(0, half), items.slice(half)];
    const wantA = await inspected(a, opts, false);
    const wantB = await inspected(b, opts, false);
    setRoundTripMsForTests(-1);
    try {
      const first = inspectFiles(a, opts);
      assert.ok(first instanceof Promise, 'the first batch reads ahead');
      // Given at once, with round trips no longer timed as such: it waits behind the first all the same.
      setRoundTripMsForTests(Infinity);
      const second = inspectFiles(b, opts);
      assert.ok(second instanceof Promise, 'the second waits behind the first');
      const order: string[] = [];
      const [ra, rb] = await Promise.all([first.then((r) => (order.push('a'), r)), second.then((r) => (order.push('b'), r))]);
      assert.deepEqual(order, ['a', 'b']);
      assert.equal(shown(ra), wantA);
      assert.equal(shown(rb), wantB);
      // Once both are done a batch runs at once again.
      assert.ok(!(inspectFiles(b, opts) instanceof Promise));
    } finally {
      setRoundTripMsForTests(null);
    }
  });
});
