/**
 * Links with the index (its stored link resolutions and the folder records of game folders): game
 * folders of links into a photo folder, broken links, links out of the root, lone sidecars and
 * lookalikes beside links; `stats --operation-type` (link targets inspected). Change sequences
 * (an edit, the same file again, another, a folder changed, many folders at once, ...) compared
 * with `index: false` at every step, on each engine, and with the root reached through a symlink.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './helpers/tree.js';
import { FULL_CAMPAIGNS } from './helpers/campaign.js';
import { PARITY_COMMANDS, commands, edit, firstDiff, photoSpec, show, warm, type CmdName, type CmdOpts, type Run } from './helpers/index-parity.js';

function library(t: TestContext, games = 3): { dir: string; root: string; outside: string } {
  const dir = testDir(t, 'index-link-sequences-');
  const outside = join(dir, 'out');
  const root = join(dir, 'lib');
  makeTree({ 'far.jpg': FAKE_JPEG, 'far.json': { json: sidecarData('far.jpg', 2, 8) }, 'note.json': { json: sidecarData('x.jpg', 1, 8) } }, outside);
  const { spec, photo, fill } = photoSpec();
  photo('photos/p1');
  photo('photos/p2', 2);
  photo('photos/p3', 3);
  photo('top');
  for (let g = 0; g < games; g++) {
    const at = `games/g${g}`;
    spec[`${at}/link1.jpg`] = { symlink: '../../photos/p1.jpg' };
    spec[`${at}/link2.jpg`] = { symlink: '../../photos/p2.jpg' };
    // A symlinked image with a sidecar of its own beside it.
    spec[`${at}/link2.json`] = { json: sidecarData('link2.jpg', 1, 8) };
    spec[`${at}/gone.jpg`] = { symlink: '../../photos/nothing.jpg' };
    spec[`${at}/far.jpg`] = { symlink: join(outside, 'far.jpg') };
    // A lone sidecar, a lone sidecar with a lookalike, a link of a sidecar out of the root.
    spec[`${at}/note.json`] = { json: sidecarData('note.jpg', 1, 8) };
    spec[`${at}/raw.json`] = { json: sidecarData('raw.xcf', 1, 8) };
    spec[`${at}/raw.xcf`] = FAKE_JPEG;
    spec[`${at}/outnote.json`] = { symlink: join(outside, 'note.json') };
    // A real photo among the links.
    photo(`${at}/own`, 1);
  }
  fill(8, 12);
  makeTree(spec, root);
  return { dir, root, outside };
}

type Step = [string, (root: string, outside: string, r: number) => void];

const ed = (rel: string): Step => [`edit ${rel}`, (root, outside, r) => edit(rel.startsWith('@') ? join(outside, rel.slice(1)) : join(root, rel), r)];

async function sequence(t: TestContext, label: string, steps: Step[], names: CmdName[], o: CmdOpts = {}, games = 3, via = false): Promise<Run[]> {
  const all: Run[] = [];
  for (const name of names) {
    const { dir, root, outside } = library(t, games);
    let at = root;
    if (via) {
      mkdirSync(join(dir, 'via'));
      symlinkSync(root, join(dir, 'via', 'lib'));
      at = join(dir, 'via', 'lib');
    }
    const runs: Run[] = [];
    const cmd = commands(at, join(dir, 'idx', 'index'), runs, o)[name];
    await warm(cmd, runs, `${label} ${name}`, root);
    let r = 0;
    for (const [what, step] of steps) {
      r++;
      step(root, outside, r);
      const want = await cmd(false);
      for (let k = 0; k < 2; k++) {
        const from = runs.length;
        const got = await cmd(true);
        assert.ok(got === want, `${label}: ${name} step ${r} (${what}) run ${k} (${show(runs.slice(from))}; before ${show(runs.slice(-6, from))}): ${firstDiff(got, want)}`);
      }
    }
    all.push(...runs);
  }
  return all;
}

const GAME_STEPS: Step[] = [
  ed('games/g0/note.json'),
  ed('games/g0/note.json'),
  ed('photos/p1.json'),
  ed('games/g1/raw.json'),
  ed('games/g1/link2.json'),
  ed('@far.json'),
  ed('@note.json'),
  ['a file added to g2', (root) => writeFileSync(join(root, 'games/g2/new.txt'), 'x')],
  ed('games/g2/note.json'),
  ed('games/g2/note.json'),
  ed('photos/p2.json'),
  ['the file removed again', (root) => rmSync(join(root, 'games/g2/new.txt'))],
  ed('games/g0/own.json'),
  ed('games/g0/own.json'),
  ed('games/g1/note.json'),
  ed('photos/p3.json'),
];

test('game folders of links: lone sidecars, a linked image\'s own sidecar, targets in and out of the root, in sequence', async (t) => {
  await sequence(t, 'games', GAME_STEPS, PARITY_COMMANDS);
});

test('more than 8 folders of lone sidecars changed at once', async (t) => {
  const many: Step[] = [
    ['nine lone sidecars', (root, _o, r) => { for (let g = 0; g < 9; g++) edit(join(root, `games/g${g}/note.json`), r); }],
    ['nine again and a photo', (root, _o, r) => { for (let g = 0; g < 9; g++) edit(join(root, `games/g${g}/note.json`), r); edit(join(root, 'photos/p1.json'), r); }],
    ['nine own photos', (root, _o, r) => { for (let g = 0; g < 9; g++) edit(join(root, `games/g${g}/own.json`), r); }],
    ['nine lookalike lone sidecars', (root, _o, r) => { for (let g = 0; g < 9; g++) edit(join(root, `games/g${g}/raw.json`), r); }],
  ];
  await sequence(t, 'many', many, ['validate', 'stats op', 'format-stats'], {}, 10);
});

test('the root through a symlink: a few and many folders changed', async (t) => {
  const steps: Step[] = [
    ed('games/g0/note.json'),
    ed('photos/p1.json'),
    ['nine lone sidecars', (root, _o, r) => { for (let g = 0; g < 9; g++) edit(join(root, `games/g${g}/note.json`), r); }],
    ed('games/g3/own.json'),
  ];
  await sequence(t, 'via', steps, ['validate', 'stats op'], {}, 10, true);
});

for (const engine of ['inline', 'threads'] as const) {
  test(`engine ${engine}: the game sequence`, async (t) => {
    await sequence(t, engine, GAME_STEPS.slice(0, 9), FULL_CAMPAIGNS ? ['validate', 'stats op'] : ['validate'], { engine });
  });
}

test('a link through /proc/PID/cwd follows the process as it moves: never served from an earlier run', async (t) => {
  // /proc/PID/cwd is a magic link: chdir() gives it another target with no folder or inode on the
  // way changing, so the index's checks (folder identities, inodes) cannot see the move.
  const dir = testDir(t, 'index-proc-link-');
  const root = join(dir, 'lib');
  makeTree({ 'img/X.jpg': FAKE_JPEG, 'img/X.json': { json: sidecarData('X.jpg', 1, 8) } }, join(dir, 'A'));
  makeTree({ 'img/X.jpg': FAKE_JPEG, 'img/X.json': { json: sidecarData('X.jpg', 3, 8) } }, join(dir, 'B'));
  makeTree({ 'photos/p.jpg': FAKE_JPEG, 'photos/p.json': { json: sidecarData('p.jpg', 2, 8) } }, root);
  mkdirSync(join(root, 'g'));
  symlinkSync(`/proc/${process.pid}/cwd/img/X.jpg`, join(root, 'g', 'X.jpg'));
  const home = process.cwd();
  t.after(() => process.chdir(home));
  for (const name of ['validate', 'stats'] as CmdName[]) {
    process.chdir(join(dir, 'A'));
    const runs: Run[] = [];
    const cmd = commands(root, join(dir, `idx-${name}`, 'index'), runs, { racyMarginMs: 0 })[name];
    const inA = await cmd(false);
    for (let i = 0; i < 5; i++) assert.ok((await cmd(true)) === inA, `${name}: run ${i + 1} in A (${show(runs)})`);
    process.chdir(join(dir, 'B'));
    const inB = await cmd(false);
    assert.notEqual(inB, inA, `${name}: the move changes the output`);
    for (let i = 0; i < 2; i++) {
      const got = await cmd(true);
      assert.ok(got === inB, `${name}: run ${i + 1} after the move (${show(runs)}): ${firstDiff(got, inB)}`);
    }
  }
});

test('the engine a run names is sized by the same work with the index as without: links leaving the root to an image with many sidecars', async (t) => {
  // 700 links to one image outside the root with 6 sidecars: without the index the links were the
  // work (their targets' sidecars went through a second pipeline, not counted: inline); with it the
  // targets' 4,200 sidecars were (threads). Both now count links and sidecars.
  const dir = testDir(t, 'index-engine-size-');
  const root = join(dir, 'lib');
  const out = join(dir, 'out');
  const spec: Record<string, TreeNode> = { 'T.jpg': FAKE_JPEG };
  for (const name of ['T.json', 'T.jpg.json', 'T.bin', 'T.jpg.bin', 'T.rkyv', 'T.jpg.rkyv']) spec[name] = { json: sidecarData('T.jpg', 1, 8) };
  makeTree(spec, out);
  makeTree({ 'photos/p.jpg': FAKE_JPEG, 'photos/p.json': { json: sidecarData('p.jpg', 2, 8) } }, root);
  mkdirSync(join(root, 'links'));
  for (let i = 0; i < 700; i++) symlinkSync(join(out, 'T.jpg'), join(root, 'links', `L${i}.jpg`));
  for (const name of FULL_CAMPAIGNS ? (['validate', 'stats'] as CmdName[]) : (['validate'] as CmdName[])) {
    const runs: Run[] = [];
    const cmd = commands(root, join(dir, `idx-${name}`, 'index'), runs, { racyMarginMs: 0, workers: 2 })[name];
    const want = await cmd(false);
    for (let i = 0; i < 4; i++) {
      const got = await cmd(true);
      assert.ok(got === want, `${name} run ${i + 1} (${show(runs)}): ${firstDiff(got, want)}`);
    }
    if (name === 'validate') assert.equal((JSON.parse(want) as { scan: { engine: { kind: string } } }).scan.engine.kind, 'threads', 'the work named is links and their sidecars');
  }
});
