/**
 * Scan problems with the index: symlinked sidecars (of photos, and lone ones) whose targets outside
 * the root are removed read as unreadable (NOT_FOUND), one problem each, among records the index
 * serves. The summary keeps the first 200 problems in tree order (scan/session.ts MAX_PROBLEMS_KEPT):
 * order, count and `complete` must be what `index: false` gives, in a few folders and in many, with
 * more than 200 problems, on both engines. The targets put back, then removed again: each run the
 * same as without the index.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './helpers/tree.js';
import { FULL_CAMPAIGNS } from './helpers/campaign.js';
import { commands, edit, firstDiff, show, warm, type CmdName, type CmdOpts, type Run } from './helpers/index-parity.js';

interface Shape {
  folders: number;
  photos: number;
  /** Per folder: photos whose sidecar is a link out of the root (by names). */
  linked: number;
  /** Per folder: lone sidecars that are links out of the root (by folders). */
  lone: number;
}

function library(t: TestContext, s: Shape): { root: string; outside: string; indexPath: string; targets: string[] } {
  const dir = testDir(t, 'index-scan-problems-');
  const root = join(dir, 'lib');
  const outside = join(dir, 'out');
  const spec: Record<string, TreeNode> = {};
  const out: Record<string, TreeNode> = {};
  const small = (name: string, faces: number) => ({ json: sidecarData(name, faces, 2) });
  const targets: string[] = [];
  for (let f = 0; f < s.folders; f++) {
    // Linked and lone names spread among the photos' names (positions interleave in tree order).
    for (let k = 0; k < s.photos; k++) {
      spec[`f${f}/p${String(k).padStart(3, '0')}.jpg`] = FAKE_JPEG;
      spec[`f${f}/p${String(k).padStart(3, '0')}.json`] = small(`p${k}.jpg`, k % 3);
    }
    for (let k = 0; k < s.linked; k++) {
      const n = `p${String(k * 7).padStart(3, '0')}x`;
      spec[`f${f}/${n}.jpg`] = FAKE_JPEG;
      spec[`f${f}/${n}.json`] = { symlink: join(outside, `f${f}-${n}.json`) };
      out[`f${f}-${n}.json`] = small(`${n}.jpg`, 1);
      targets.push(`f${f}-${n}.json`);
    }
    for (let k = 0; k < s.lone; k++) {
      const n = `l${String(k * 5).padStart(3, '0')}`;
      spec[`f${f}/${n}.json`] = { symlink: join(outside, `f${f}-${n}.json`) };
      out[`f${f}-${n}.json`] = small(`${n}.jpg`, 2);
      targets.push(`f${f}-${n}.json`);
    }
  }
  makeTree(out, outside);
  makeTree(spec, root);
  return { root, outside, indexPath: join(dir, 'idx', 'index'), targets };
}

async function attack(t: TestContext, label: string, shape: Shape, names: CmdName[], broken: (targets: string[]) => string[], o: CmdOpts = {}): Promise<void> {
  for (const name of names) {
    const { root, outside, indexPath, targets } = library(t, shape);
    const runs: Run[] = [];
    const cmd = commands(root, indexPath, runs, o)[name];
    await warm(cmd, runs, `${label} ${name}`, root);
    const gone = broken(targets);
    const saved = new Map(gone.map((n) => [n, readFileSync(join(outside, n))]));
    const step = async (what: string) => {
      const want = await cmd(false);
      const from = runs.length;
      const got = await cmd(true);
      assert.ok(got === want, `${label}: ${name} ${what} (${show(runs.slice(from))}): ${firstDiff(got, want)}`);
      const again = await cmd(true);
      assert.ok(again === want, `${label}: ${name} ${what} again (${show(runs.slice(from))}): ${firstDiff(again, want)}`);
      return runs.slice(from);
    };
    for (const n of gone) rmSync(join(outside, n));
    const plain = JSON.parse(await cmd(false)) as { scan?: { problemCount: number; problems: unknown[] } };
    if (plain.scan) assert.equal(plain.scan.problemCount, gone.length, `${label}: ${name}: a problem per removed target`);
    await step('targets removed');
    for (const [n, b] of saved) writeFileSync(join(outside, n), b);
    await step('targets put back');
    // Removed again, and a photo sidecar edited beside them.
    for (const n of gone) rmSync(join(outside, n));
    edit(join(root, 'f0', 'p001.json'), 1);
    await step('removed again, a photo edited');
  }
}

test('a few problems of photos\' and lone sidecars in one folder and another, in tree order', async (t) => {
  await attack(t, 'few', { folders: 3, photos: 30, linked: 3, lone: 3 }, ['validate', 'validate kept', 'stats', 'stats op', 'format-stats'], (ts) => ts.filter((_, i) => i % 2 === 0));
});

// validate of the same tree runs on the threads engine below; both commands on both engines in the full campaigns (helpers/campaign.ts).
test('more than 200 problems over many folders', async (t) => {
  await attack(t, 'many folders', { folders: 26, photos: 80, linked: 4, lone: 4 }, FULL_CAMPAIGNS ? ['validate', 'stats'] : ['stats'], (ts) => ts);
});

test('more than 200 problems in a few folders', async (t) => {
  await attack(t, 'few folders', { folders: 8, photos: 250, linked: 13, lone: 13 }, ['validate'], (ts) => ts);
});

test('more than 200 problems on the threads engine', async (t) => {
  await attack(t, 'threads', { folders: 26, photos: 80, linked: 4, lone: 4 }, ['validate'], (ts) => ts, { engine: 'threads' });
});

test('problems the walk meets (a name that is not UTF-8) and problems of files (a FIFO sidecar) come in one tree order, with the index as without', async (t) => {
  // Folders a and c hold a FIFO sidecar (its problem comes when its record is finished), b and d a
  // name that is not UTF-8 (the walk's problem, met as soon as the folder is listed: ahead of the
  // records). They came walk problems first without the index, interleaved as folders were served with it.
  const dir = testDir(t, 'index-problem-order-');
  const root = join(dir, 'lib');
  const spec: Record<string, TreeNode> = {};
  for (const f of ['a', 'b', 'c', 'd']) {
    for (let k = 0; k < 30; k++) {
      spec[`${f}/p${k}.jpg`] = FAKE_JPEG;
      spec[`${f}/p${k}.json`] = { json: sidecarData(`p${k}.jpg`, 1, 2) };
    }
  }
  makeTree(spec, root);
  execFileSync('mkfifo', [join(root, 'a', 'F.json'), join(root, 'c', 'G.json')]);
  writeFileSync(Buffer.concat([Buffer.from(join(root, 'b', 'bad')), Buffer.from([0xff]), Buffer.from('.json')]), '{}');
  writeFileSync(Buffer.concat([Buffer.from(join(root, 'd', 'bad')), Buffer.from([0xfe]), Buffer.from('.jpg')]), FAKE_JPEG);
  for (const name of ['validate', 'stats'] as CmdName[]) {
    const runs: Run[] = [];
    const cmd = commands(root, join(dir, `idx-${name}`, 'index'), runs, { racyMarginMs: 0 })[name];
    const want = await cmd(false);
    const problems = (JSON.parse(want) as { scan?: { problems: { path: string }[] } }).scan?.problems;
    if (name === 'validate') assert.deepEqual(problems?.map((p) => p.path.slice(root.length + 1, root.length + 2)), ['a', 'b', 'c', 'd'], 'the problems in tree order');
    for (let i = 0; i < 4; i++) {
      const got = await cmd(true);
      assert.ok(got === want, `${name} run ${i + 1} with the index (${show(runs)}): ${firstDiff(got, want)}`);
    }
    assert.ok(runs.some((r) => r.recordsServed > 0), `${name}: some folders were served (${JSON.stringify(runs)})`);
  }
});
