/**
 * attack22: one library, one index, every memo command in turn: each command's patch (which lists
 * only its records' folders now: walk.ts listFolders, with the index's folder listings and link
 * resolutions) runs between the others' memos and full runs, round after round, with folders
 * changed in between too (a miss: the next run walks again). Each run with the index gives what
 * --no-index gives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { memoCommands, photoSpec, type How, type MemoCommandName } from './helpers/memo.js';
import { firstDiff } from './helpers/attack22.js';
import { makeTree, testDir } from './helpers/tree.js';

test('every command in turn on one index, patches between the others\' runs, folders added and removed', async (t) => {
  const { spec, photo, fill } = photoSpec();
  photo('top');
  photo('p/one');
  photo('p/two', 2);
  spec['g/one.jpg'] = { symlink: '../p/one.jpg' };
  spec['g/h/two.jpg'] = { symlink: '../../p/two.jpg' };
  fill(6);
  const root = makeTree(spec, testDir(t, 'attack22-turns-'));
  const runs: How[] = [];
  const cmds = memoCommands(root, join(root, '.image-sidecar', 'index'), runs);
  const names: MemoCommandName[] = ['validate', 'stats', 'stats where', 'format-stats', 'validate where', 'stats op'];
  const edit = (rel: string, r: number) => {
    const p = join(root, rel);
    const before = statSync(p);
    const text = readFileSync(p, 'utf8');
    const next = text.replace(/"confidence": 0\.(\d)/, (_m, d: string) => `"confidence": 0.${(Number(d) + 1 + r) % 10}`);
    writeFileSync(p, r % 2 === 0 ? next : next.replace(/"success": (true|false)/, (_m, v: string) => `"success": ${v === 'true' ? 'false' : 'true'}`));
    if (r % 2 === 0) utimesSync(p, before.atime, before.mtime);
  };
  const steps: (() => void)[] = [
    () => edit('p/one.json', 0),
    () => edit('fill/3/f3.json', 1),
    () => edit('top.json', 2),
    () => mkdirSync(join(root, 'fill', '2', 'new')),
    () => edit('fill/2/f0.json', 3),
    () => rmSync(join(root, 'fill', '2', 'new'), { recursive: true }),
    () => edit('p/two.json', 4),
    () => edit('p/two.json', 5),
  ];
  for (let r = 0; r < 3; r++) for (const name of names) assert.equal(await cmds[name](true), await cmds[name](false), `warm ${name}`);
  for (const [s, step] of steps.entries()) {
    step();
    for (const name of [...names.slice(s % names.length), ...names.slice(0, s % names.length)]) {
      const want = await cmds[name](false);
      for (let k = 0; k < 2; k++) {
        const got = await cmds[name](true);
        assert.ok(got === want, `step ${s} ${name} run ${k} (${runs.slice(-6).join(',')}): ${firstDiff(got, want)}`);
      }
    }
  }
  assert.ok(runs.includes('patched'), runs.join(','));
});
