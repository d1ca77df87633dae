/**
 * a folder changed as the read-ahead asks the cache of it when its listing is served
 * (the second run with the index: listings served; the third: folder records served too), or as a
 * link's target folder is listed for pairing (second run). Every run after it the same as without
 * the index, and the index serves a run whole again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attack, MUTATIONS, type Moment } from './helpers/readahead-changes.js';

const SERVED: [number, string, Moment][] = [
  [2, 'c', 'get'],
  [2, 'm-target', 'get'],
  [2, 'm-target', 'listingSync'],
  [3, 'c', 'get'],
  [3, 'm-target', 'get'],
];

test('a folder changed as the read-ahead is served its listing (runs 2 and 3): every run after it as without the index', async (t) => {
  const missed: string[] = [];
  for (const mutation of Object.keys(MUTATIONS)) {
    for (const [inRun, folder, moment] of SERVED) {
      const r = await attack(t, { mutation, folder, moment, inRun, cmds: ['validate'] });
      if (!r.fired) missed.push(`${mutation} ${folder}@${moment} run ${inRun}`);
      assert.match(r.after, /served$/, `${mutation} ${folder}@${moment} run ${inRun}: the index serves the run whole again (${r.after})`);
    }
  }
  assert.deepEqual(missed, [], 'every change made');
});
