/**
 * attack22: KeySetFilter.namesOf (shard.ts: binary search per ASCII root, a search of the names
 * joined for the others) against the plain rule (a name is picked when its partition key is one
 * of the keys), on random sorted listings of names built from characters that sort around roots
 * ('.', ' ', '-', '~', upper case), that NFC maps to ASCII (KELVIN SIGN, GREEK QUESTION MARK),
 * combining marks, U+FFFD, astral characters (surrogate pairs), image and sidecar extensions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeySetFilter, shardKey } from '../src/discovery/shard.js';
import { byName } from '../src/discovery/walk.js';
import { imageExtensionSet } from '../src/discovery/extensions.js';

const PARTS = ['a', 'b', 'A', 'K', ';', '`', '.', ' ', '-', '~', '_', '\u212A', '\u037E', '\u1FEF', 'e\u0301', '\u00e9', '\uFFFD', '\u{1F600}', '\uFF41', '.jpg', '.JPG', '.png', '.json', '.bin', '.rkyv', '.txt', '.jpg.json', '.png.jpg'];

test('KeySetFilter.namesOf picks exactly the names whose key is a key (random listings)', () => {
  const exts = imageExtensionSet();
  let seed = 12345;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  for (let round = 0; round < 3000; round++) {
    const names = new Set<string>();
    const count = 1 + rnd(30);
    for (let i = 0; i < count; i++) {
      let s = '';
      const len = 1 + rnd(5);
      for (let k = 0; k < len; k++) s += PARTS[rnd(PARTS.length)];
      if (s.includes('/')) continue;
      names.add(s);
    }
    const listing = [...names].map((name) => ({ name })).sort(byName);
    const dir = ['', 'd', 'd/e'][rnd(3)];
    // Keys: the keys of a few of the names (ASCII roots or not), and a few made up.
    const keys = new Set<string>();
    for (const e of listing) if (rnd(4) === 0) keys.add(shardKey(dir, e.name, exts));
    if (rnd(2) === 0) keys.add(shardKey(dir, PARTS[rnd(PARTS.length)], exts));
    const want = listing.flatMap((e, i) => (keys.has(shardKey(dir, e.name, exts)) ? [i] : []));
    const got = new KeySetFilter(keys, exts).namesOf(dir, listing);
    assert.deepEqual(got, want, `round ${round}: ${JSON.stringify([...keys])} in ${JSON.stringify(listing.map((e) => e.name))}`);
  }
});
