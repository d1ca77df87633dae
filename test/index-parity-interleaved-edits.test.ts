/**
 * One library, one index, every command in turn (each with its own option set in the index, and
 * folder records per scan shape), round after round, with sidecars edited in place (same size with
 * the mtime put back, or resized) and folders added and removed between the rounds. Each run with
 * the index gives what --no-index gives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commands, firstDiff, photoSpec, show, type CmdName, type Run } from './helpers/index-parity.js';
import { makeTree, testDir } from './helpers/tree.js';

test('every command in turn on one index, sidecars edited and folders added and removed between the runs', async (t) => {
  const { spec, photo, fill } = photoSpec();
  photo('top');
  photo('p/one');
  photo('p/two', 2);
  spec['g/one.jpg'] = { symlink: '../p/one.jpg' };
  spec['g/h/two.jpg'] = { symlink: '../../p/two.jpg' };
  fill(6);
  const root = makeTree(spec, testDir(t, 'index-interleaved-'));
  const runs: Run[] = [];
  const cmds = commands(root, join(root, '.image-sidecar', 'index'), runs);
  const names: CmdName[] = ['validate', 'stats', 'stats where', 'format-stats', 'validate where', 'stats op'];
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
        assert.ok(got === want, `step ${s} ${name} run ${k} (${show(runs.slice(-6))}): ${firstDiff(got, want)}`);
      }
    }
  }
  assert.ok(runs.some((r) => r.how === 'served'), `some run served whole (${show(runs)})`);
});
