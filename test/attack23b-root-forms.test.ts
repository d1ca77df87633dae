/**
 * attack23b: a patch by names joins each group's names to its folder under the root as the
 * caller gave it (scan.ts folderPath(root, rel)) while the memo's folders are real paths
 * (foldersByKeyDir): the root given through a symlink, relative, with a trailing slash, with
 * `..` in it; and a case-only rename of a sidecar and of a folder between runs (the folder
 * changes: a full run). Each run as without the index; the in-place edit patched by names.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { photoSpec } from './helpers/memo.js';
import { makeTree, testDir } from './helpers/tree.js';
import { commands, edit, firstDiff, same, show, warm, type Run } from './helpers/attack23.js';

function library(t: TestContext): { dir: string; root: string } {
  const dir = testDir(t, 'attack23b-roots-');
  const { spec, photo, fill } = photoSpec();
  photo('top');
  photo('Sub/IMG', 2);
  fill(4);
  return { dir, root: makeTree(spec, join(dir, 'lib')) };
}

test('the root given through a symlink, relative, with a trailing slash or ".." in it: a patch by names as without the index', async (t) => {
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
    assert.equal(got[0]?.how, 'patched', `${label}: ${show(got)}`);
    assert.equal(got[0]?.byNames, 1, `${label}: ${show(got)}`);
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
