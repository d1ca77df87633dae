/**
 * a folder changed at each moment the walk's read-ahead touches it (test/helpers/readahead-changes.ts):
 * as its cache entry is asked (identity noted, readdir about to start), as its listing is put (read,
 * the walk not there yet), as it is listed for its links' pairing; in the first run with the index
 * (every folder read). Every run after it the same as without the index, and the index serves a
 * run whole again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attack, MUTATIONS, WHERE } from './helpers/readahead-changes.js';

test('a folder changed as the read-ahead meets it, in the first run with the index: every run after it as without the index', async (t) => {
  const missed: string[] = [];
  for (const mutation of Object.keys(MUTATIONS)) {
    for (const [folder, moment] of WHERE) {
      const r = await attack(t, { mutation, folder, moment, inRun: 1, cmds: ['validate'] });
      if (!r.fired) missed.push(`${mutation} ${folder}@${moment}`);
      assert.match(r.after, /served$/, `${mutation} ${folder}@${moment}: the index serves the run whole again (${r.after})`);
    }
  }
  assert.deepEqual(missed, [], 'every change made');
});
