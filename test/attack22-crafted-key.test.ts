/**
 * attack22: a patch now lists the folder its records' partition keys spell (scan.ts patch,
 * walk.ts listFolders) instead of walking the tree and pairing only at the records' walk steps.
 * The key is read from the memo's lazy part: a crafted memo (checksum to match) whose record key
 * names another folder makes the patch list that folder at the record's step and take its record
 * for the memo's; one whose key climbs out of the root ('../evil/a') makes it list, pair and read
 * sidecars outside the tree. Before, a key whose folder was not the one at its step matched no name
 * there: no record made again, a miss. A crafted memo must be a miss, never a wrong answer.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { craftMemo, memoCommands, photoSpec, type How, type MemoCommandName } from './helpers/memo.js';
import { firstDiff } from './helpers/attack22.js';
import { makeTree, testDir } from './helpers/tree.js';

function library(t: TestContext): { dir: string; root: string; indexPath: string } {
  const dir = testDir(t, 'attack22-key-');
  const { spec, photo, fill } = photoSpec();
  photo('lib/d/a', 1);
  photo('lib/e/a', 3);
  fill(4, 10, 'lib/fill');
  photo('evil/a', 2);
  makeTree(spec, dir);
  return { dir, root: join(dir, 'lib'), indexPath: join(dir, 'idx', 'index') };
}

const COMMANDS: MemoCommandName[] = ['validate', 'stats', 'format-stats'];

async function attack(t: TestContext, craftedKey: string): Promise<void> {
  for (const name of COMMANDS) {
    const { dir, root, indexPath } = library(t);
    const runs: How[] = [];
    const cmd = memoCommands(root, indexPath, runs)[name];
    for (let i = 0; i < 8 && runs.at(-1) !== 'whole'; i++) assert.equal(await cmd(true), await cmd(false), `${name} warming`);
    assert.equal(runs.at(-1), 'whole', `${name} warm (${runs.join(',')})`);
    let crafted = 0;
    for (const f of readdirSync(join(dir, 'idx')).filter((n) => /\.memo-[0-9a-f]{16}$/.test(n))) {
      craftMemo(join(dir, 'idx', f), (_m, lazy) => {
        lazy.keys = lazy.keys.map((k) => (k === 'd/a' ? (crafted++, craftedKey) : k));
      });
    }
    assert.ok(crafted > 0, 'the memo holds the record d/a');
    const p = join(root, 'd', 'a.json');
    writeFileSync(p, readFileSync(p, 'utf8').replace('"success": true', '"success": false'));
    const want = await cmd(false);
    const got = await cmd(true);
    assert.ok(got === want, `${name} with the key of d/a crafted to ${craftedKey} (${runs.join(',')}): ${firstDiff(got, want)}`);
  }
}

test('a crafted key naming another folder of the tree: a miss, not that folder\'s record', async (t) => {
  await attack(t, 'e/a');
});

test('a crafted key climbing out of the root: a miss, nothing outside the tree read', async (t) => {
  await attack(t, '../evil/a');
});
