/**
 * The root as the caller spells it while the index keeps real paths: given through a symlink,
 * relative, with a trailing slash, with `..` in it (an in-place edit read again alone: the other
 * sidecars served); and a case-only rename of a sidecar, an image and a folder between runs. Each
 * run as without the index.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { makeTree, testDir } from './helpers/tree.js';
import { commands, edit, firstDiff, photoSpec, same, show, warm, type Run } from './helpers/index-parity.js';

function library(t: TestContext): { dir: string; root: string } {
  const dir = testDir(t, 'index-root-forms-');
  const { spec, photo, fill } = photoSpec();
  photo('top');
  photo('Sub/IMG', 2);
  fill(4);
  return { dir, root: makeTree(spec, join(dir, 'lib')) };
}

test('the root given through a symlink, relative, with a trailing slash or ".." in it: the edited sidecar read again, as without the index', async (t) => {
  const forms: [string, (dir: string, root: string) => string][] = [
    ['through a symlink', (dir, root) => {
      symlinkSync(root, join(dir, 'alias'));
      return join(dir, 'alias');
    }],
    ['through a symlink, trailing slash', (dir, root) => {
      symlinkSync(root, join(dir, 'alias2'));
      return `${join(dir, 'alias2')}/`;
    }],
    ['relative', (_dir, root) => relative(process.cwd(), root)],
    ['with ".." in it', (_dir, root) => `${root}/Sub/..`],
  ];
  for (const [label, form] of forms) {
    const { dir, root } = library(t);
    const given = form(dir, root);
    const runs: Run[] = [];
    const cmd = commands(given, join(dir, 'idx', 'index'), runs).validate;
    await warm(cmd, runs, label);
    edit(join(root, 'Sub/IMG.json'), 0);
    const got = await same(cmd, runs, label);
    assert.equal(got[0]?.misses, 1, `${label}: only the edited sidecar read (${show(got)})`);
  }
});

test('case-only renames between runs (a sidecar, a folder), with an in-place edit: as without the index', async (t) => {
  for (const [label, rename] of [
    ['a sidecar', (root: string) => renameSync(join(root, 'Sub/IMG.json'), join(root, 'Sub/img.json'))],
    ['an image', (root: string) => renameSync(join(root, 'Sub/IMG.jpg'), join(root, 'Sub/IMG.JPG'))],
    ['a folder', (root: string) => renameSync(join(root, 'Sub'), join(root, 'sub'))],
  ] as const) {
    for (const name of ['validate', 'stats', 'format-stats'] as const) {
      const { dir, root } = library(t);
      const runs: Run[] = [];
      const cmd = commands(root, join(dir, 'idx', 'index'), runs)[name];
      await warm(cmd, runs, `${label} ${name}`);
      edit(join(root, 'top.json'), 1);
      rename(root);
      const want = await cmd(false);
      const got = await cmd(true);
      assert.ok(got === want, `${label} ${name} (${show(runs.slice(-1))}): ${firstDiff(got, want)}`);
      await same(cmd, runs, `${label} ${name} after`);
    }
  }
});
