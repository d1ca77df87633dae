/**
 * the read-ahead attacks of index-readahead-changes and -reread with the library named
 * through a symlink to it (the walk asks the cache by the path as named, which it maps to the real
 * one; a link's target folder is listed by its real path): every run after the change as without
 * the index.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attack, MUTATIONS, WHERE } from './helpers/readahead-changes.js';

const SOME = ['a photo added', 'a sidecar renamed, mtime put back', 'the folder swapped with p', 'the folder replaced by a copy (new inode, same names)'];

for (const [inRun, touch] of [[1, false], [2, true]] as const) {
  test(`through a symlink to the library, a folder changed as the read-ahead meets it in run ${inRun}: every run after it as without the index`, async (t) => {
    const missed: string[] = [];
    for (const mutation of SOME) {
      assert.ok(mutation in MUTATIONS);
      for (const [folder, moment] of WHERE) {
        const r = await attack(t, { mutation, folder, moment, inRun, cmds: ['validate', 'stats'], touch, viaLink: true });
        if (!r.fired) missed.push(`${mutation} ${folder}@${moment}`);
      }
    }
    assert.deepEqual(missed, [], 'every change made');
  });
}
