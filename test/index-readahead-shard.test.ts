/**
 * shards (`--shard I/3`: every shard walks the whole tree, reads ahead with the index's
 * cache, pairs its own names; no folder records) sharing one index: a folder changed as the read-ahead
 * meets it in some shard's run; every shard's run after it as without the index.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate, type ValidationResult } from '../src/index.js';
import { library, MUTATIONS, patch, setHook, WHERE } from './helpers/readahead-changes.js';
import { firstDiff, noTimes } from './helpers/index-parity.js';

const SOME = ['a photo added', 'a sidecar removed', 'a sidecar renamed, mtime put back', 'the folder swapped with p', 'the folder replaced by a link to p'];

test('shards sharing an index, a folder changed as one shard read it ahead: every shard run after it as without the index', async (t) => {
  patch();
  const missed: string[] = [];
  for (const mutation of SOME) {
    for (const [folder, moment] of WHERE) {
      const { root, indexPath } = library(t, 'isc-readahead-shard-');
      const run = async (shard: number, withIndex: boolean) => {
        const results: ValidationResult[] = [];
        const r = await validate(root, { shard: { index: shard, count: 3 }, index: withIndex ? { path: indexPath, racyMarginMs: 0 } : false, onResult: (x) => void results.push(x) });
        return noTimes({ results, ...r });
      };
      for (const s of [1, 2, 3]) await run(s, true);
      // Both read again in the run of the change (put, and the links' target folder listed again).
      for (const f of [folder, 'a-games']) writeFileSync(join(root, f, 'touch.txt'), 'x');
      let fired = false;
      const targets = [join(root, folder)];
      setHook((m, path) => {
        if (fired || m !== moment || !targets.includes(path)) return;
        fired = true;
        MUTATIONS[mutation](root, folder);
      });
      try {
        // The shards' runs in turn until one meets the moment (a shard lists a link target's folder
        // only for the links of its own partition).
        for (const s of [1, 2, 3]) await run(s, true);
      } finally {
        setHook(null);
      }
      if (!fired) missed.push(`${mutation} ${folder}@${moment}`);
      for (let k = 0; k < 2; k++) {
        for (const s of [1, 2, 3]) {
          const want = await run(s, false);
          const got = await run(s, true);
          assert.ok(got === want, `${mutation} ${folder}@${moment}: shard ${s}/3, round ${k + 1}: ${firstDiff(got, want)}`);
        }
      }
    }
  }
  assert.deepEqual(missed, [], 'every change made');
});
