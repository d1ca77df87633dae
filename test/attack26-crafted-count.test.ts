/**
 * attack26 (helper): a validate memo crafted with a huge result count (`ends`' last) and few names.
 * columnsOfStored allocated its name offsets (n + 1 u32) before any check that the names are there
 * (the split it replaced was bounded by the names' own length): 2^32 - 1 reserved 16 GiB of
 * ArrayBuffer per run (a RangeError where memory is not overcommitted). Each run must be a miss,
 * with the output of --no-index, and allocate nothing in proportion to the crafted count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate, type IndexRunStats } from '../src/index.js';
import { columnBytes } from '../src/byte-order.js';
import { craftMemo, noTimes, photoSpec } from './helpers/memo.js';
import { memoFiles } from './helpers/attack23.js';
import { makeTree, testDir } from './helpers/tree.js';

test('attack26 crafted huge result count', async (t) => {
  const dir = testDir(t, 'attack26-count-');
  const { spec, fill } = photoSpec();
  fill(1);
  const root = makeTree(spec, join(dir, 'lib'));
  const idx = join(dir, 'idx');
  const hows: string[] = [];
  const index = { path: join(idx, 'index'), racyMarginMs: 0, onStats: (s: IndexRunStats) => hows.push(s.memo ? 'whole' : 'none') };
  const want = noTimes(await validate(root, { index: false }));
  for (let i = 0; i < 4; i++) assert.equal(noTimes(await validate(root, { index })), want);
  assert.equal(hows.at(-1), 'whole');
  const files = memoFiles(idx);
  for (const f of files) copyFileSync(f, f + '.save');
  for (const n of [2 ** 26, 2 ** 28, 2 ** 30, 2 ** 32 - 1]) {
    for (const f of files) {
      copyFileSync(f + '.save', f);
      craftMemo(f, (main) => {
        const rows = (main.payload as { rows: Record<string, unknown> | null }).rows;
        if (rows && typeof rows.names === 'string') {
          const ends = new Uint32Array(new Uint8Array(rows.ends as Buffer).slice().buffer);
          ends[ends.length - 1] = n;
          rows.ends = columnBytes(ends);
        }
      });
    }
    const rss0 = process.memoryUsage().rss;
    const ab0 = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    const got = noTimes(await validate(root, { index }));
    const ms = performance.now() - t0;
    const ab = process.memoryUsage().arrayBuffers;
    t.diagnostic(`n ${n}: ${ms.toFixed(0)} ms, how ${hows.at(-1)}, rss +${((process.memoryUsage().rss - rss0) / 2 ** 20).toFixed(0)} MiB, arrayBuffers ${(ab / 2 ** 20).toFixed(0)} MiB`);
    assert.equal(got, want);
    assert.equal(hows.at(-1), 'none', `n ${n}: the crafted memo is a miss`);
    // (Nothing near n × 4 bytes: the run's own buffers are a few MB.)
    assert.ok(ab - ab0 < 256 * 2 ** 20, `n ${n}: ${((ab - ab0) / 2 ** 20).toFixed(0)} MiB of ArrayBuffers more`);
  }
});
