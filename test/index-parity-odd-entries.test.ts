/**
 * Groups whose names are not regular files, with the index: a FIFO in an image's name, a sidecar
 * hard-linked under two records' names, symlinked sidecars out of the root (one through a chain of
 * links) whose targets become a FIFO, a folder, a link to a folder, then files again; the groups'
 * sidecars edited in place. Every command with the index gives what it gives with `index: false`.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './helpers/tree.js';
import { commands, edit, FEW, photoSpec, same, show, type CmdName, type Run } from './helpers/index-parity.js';

const sc = (name: string, faces = 1): TreeNode => ({ json: sidecarData(name, faces, 8) });

function library(t: TestContext): { root: string; outside: string; indexPath: string } {
  const dir = testDir(t, 'index-odd-entries-');
  const outside = join(dir, 'outside');
  const root = join(dir, 'lib');
  makeTree({ 'o1.json': sc('O.jpg', 2), 'o2.json': sc('M.jpg', 1), 'o3.json': sc('Q.jpg', 1), 'chain.json': { symlink: 'o3.json' } }, outside);
  const { spec, photo, fill } = photoSpec();
  photo('top');
  // A sidecar of one record hard-linked under another's name.
  spec['k/H1.jpg'] = FAKE_JPEG;
  spec['k/H1.json'] = sc('H1.jpg', 1);
  spec['k/H2.jpg'] = FAKE_JPEG;
  // Symlinked sidecars out of the root beside regular ones (their targets made a FIFO, a folder, a
  // link to a folder, then files again), one through a chain of links.
  spec['k/O.jpg'] = FAKE_JPEG;
  spec['k/O.json'] = sc('O.jpg', 1);
  spec['k/O.jpg.json'] = { symlink: join(outside, 'o1.json') };
  spec['k/M.jpg'] = FAKE_JPEG;
  spec['k/M.jpg.json'] = { symlink: join(outside, 'o2.json') };
  spec['k/Q.jpg'] = FAKE_JPEG;
  spec['k/Q.json'] = { symlink: join(outside, 'chain.json') };
  fill(10);
  makeTree(spec, root);
  linkSync(join(root, 'k/H1.json'), join(root, 'k/H2.json'));
  // A FIFO in an image's name, its sidecar beside (the image is only stat'ed).
  writeFileSync(join(root, 'k/F.json'), JSON.stringify(sidecarData('F.jpg', 1, 8), null, 2));
  execFileSync('mkfifo', [join(root, 'k/F.jpg')]);
  return { root, outside, indexPath: join(dir, 'idx', 'index') };
}

async function attack(t: TestContext, label: string, change: (root: string, outside: string, round: number) => void, names: CmdName[] = FEW): Promise<void> {
  for (const name of names) {
    const { root, outside, indexPath } = library(t);
    const runs: Run[] = [];
    const cmd = commands(root, indexPath, runs)[name];
    const want0 = await cmd(false);
    // (A FIFO or a folder read as a sidecar is never stored: every run reads it again.)
    for (let i = 0; i < 4; i++) assert.equal(await cmd(true), want0, `${label} ${name}: warming ${i}`);
    for (let round = 0; round < 2; round++) {
      change(root, outside, round);
      const got = await same(cmd, runs, `${label} ${name} round ${round}`);
      if (process.env.SHOW_RUNS) console.log(`${label} ${name} round ${round}: ${show(got)}`);
    }
  }
}

test('odd entries in a group (a FIFO image, hard-linked sidecars, links out of the root): the group\'s sidecars edited in place', async (t) => {
  await attack(t, 'edited', (root, outside, round) => {
    for (const n of ['O', 'H1', 'F']) edit(join(root, 'k', `${n}.json`), round);
    edit(join(outside, 'o2.json'), round);
    edit(join(outside, 'o3.json'), round);
  });
});

test('links\' targets outside the root made a FIFO, a folder, a link to a folder, then files again', async (t) => {
  await attack(t, 'odd targets', (root, outside, round) => {
    const o = (n: string) => join(outside, n);
    if (round === 0) {
      rmSync(o('o1.json'));
      execFileSync('mkfifo', [o('o1.json')]);
      rmSync(o('o2.json'));
      mkdirSync(o('o2.json'));
      rmSync(o('o3.json'));
      mkdirSync(o('d3'));
      execFileSync('ln', ['-s', 'd3', o('o3.json')]);
    } else {
      rmSync(o('o1.json'));
      writeFileSync(o('o1.json'), JSON.stringify(sidecarData('O.jpg', 3, 8), null, 2));
      rmSync(o('o2.json'), { recursive: true });
      writeFileSync(o('o2.json'), JSON.stringify(sidecarData('M.jpg', 2, 8), null, 2));
      rmSync(o('o3.json'));
      writeFileSync(o('o3.json'), JSON.stringify(sidecarData('Q.jpg', 2, 8), null, 2));
    }
    edit(join(root, 'k/H2.json'), round);
  });
});
