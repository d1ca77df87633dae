/**
 * in the second and third runs with the index, the folder (and the folder of links into
 * it) changed just before the run, so that it is read again, put, and listed for its links' pairing;
 * then changed again at each moment the read-ahead touches it. Every run after it the same as
 * without the index, and the index serves a run whole again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attack, MUTATIONS, WHERE } from './helpers/readahead-changes.js';

for (const inRun of [2, 3]) {
  test(`a folder read again in run ${inRun}, changed as the read-ahead meets it: every run after it as without the index`, async (t) => {
    const missed: string[] = [];
    for (const mutation of Object.keys(MUTATIONS)) {
      for (const [folder, moment] of WHERE) {
        const r = await attack(t, { mutation, folder, moment, inRun, cmds: ['validate'], touch: true });
        if (!r.fired) missed.push(`${mutation} ${folder}@${moment}`);
        assert.match(r.after, /served$/, `${mutation} ${folder}@${moment}: the index serves the run whole again (${r.after})`);
      }
    }
    assert.deepEqual(missed, [], 'every change made');
  });
}
