/**
 * The index (folder records made again for the folders whose sidecars changed) on trees shaped to
 * trip it: names whose roots begin each other, ASCII names that sort around a root ('a', 'a ',
 * 'a-', 'a.', 'a~'), folders named oddly (spaces, dots, '#', '~', control characters, deep chains),
 * links to links, links out of the root, sidecars at the top, several edits in a row. Every run
 * with the index gives what --no-index gives.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FULL_CAMPAIGNS } from './helpers/campaign.js';
import { commands, firstDiff, photoSpec, show, warm, type CmdName, type Run } from './helpers/index-parity.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';

function library(t: TestContext): { root: string; outside: string } {
  const outside = makeTree({ 'far.jpg': FAKE_JPEG, 'far.json': { json: sidecarData('far.jpg', 2, 8) } }, testDir(t, 'index-odd-names-out-'));
  const { spec, photo, fill } = photoSpec();
  photo('top');
  photo('a');
  photo('a ');
  photo('a-');
  photo('a.b');
  photo('a~');
  photo('ab', 2);
  photo('A', 3);
  photo('a.JPG', 1, '.png');
  photo('x', 1, '.JPG');
  spec['x.JPG.json'] = { json: sidecarData('x.JPG', 2, 8) };
  photo('d d/ #1/.hidden');
  photo('d d/ #1/~tilde', 2);
  photo('d.d/-dash');
  photo('d-d/after', 3);
  photo('c\nl/new\tline', 2);
  photo('b\\s/back\\slash');
  photo('q"q/\'quote\'');
  const deep = Array.from({ length: 20 }, (_, i) => `l${i}`).join('/');
  photo(`${deep}/bottom`, 2);
  photo('src/p1');
  photo('src/p2', 2);
  // Links: to an image, to a link, out of the root, a dangling one.
  spec['links/one.jpg'] = { symlink: '../src/p1.jpg' };
  spec['links/two.jpg'] = { symlink: 'one.jpg' };
  spec['links/far.jpg'] = { symlink: join(outside, 'far.jpg') };
  spec['links/gone.jpg'] = { symlink: '../src/nothing.jpg' };
  spec['links2/viaLink.jpg'] = { symlink: '../links/two.jpg' };
  fill(8, 12);
  return { root: makeTree(spec, testDir(t, 'index-odd-names-')), outside };
}

/** Rewrite a sidecar in place: the same size (mtime put back: only ctime tells) or another one. */
function change(file: string, how: 'same size' | 'resized', round = 0): void {
  const before = statSync(file);
  const text = readFileSync(file, 'utf8');
  const next =
    how === 'same size'
      ? text.replace(/"confidence": 0\.(\d)/, (_, d: string) => `"confidence": 0.${(Number(d) + 1 + round) % 10}`)
      : text.includes('"success": true')
        ? text.replace('"success": true', '"success": false')
        : text.replace('"success": false', '"success": true ');
  assert.notEqual(next, text);
  writeFileSync(file, next);
  if (how === 'same size') utimesSync(file, before.atime, before.mtime);
}

/** Every command that reads through the index, the --where and size-limit ones too, in the full campaigns (helpers/campaign.ts); one of each path here. */
const ODD_COMMANDS: CmdName[] = FULL_CAMPAIGNS
  ? ['validate', 'validate kept', 'validate op', 'validate where', 'stats', 'stats op', 'stats where', 'format-stats', 'validate max']
  : ['validate', 'validate where', 'stats op', 'format-stats', 'validate max'];

async function attack(t: TestContext, label: string, rounds: string[][], names = ODD_COMMANDS): Promise<void> {
  for (const name of names) {
    const { root, outside } = library(t);
    const at = (rel: string) => (rel.startsWith('@') ? join(outside, rel.slice(1)) : join(root, rel));
    const runs: Run[] = [];
    const cmd = commands(root, join(root, '.image-sidecar', 'index'), runs)[name];
    await warm(cmd, runs, `${label}: ${name}`, root);
    let r = 0;
    for (const edits of rounds) {
      r++;
      for (const [k, rel] of edits.entries()) change(at(rel), (k + r) % 2 === 0 ? 'same size' : 'resized', r);
      const want = await cmd(false);
      const got = await cmd(true);
      assert.ok(got === want, `${label}: ${name} round ${r} (${show(runs)}): ${firstDiff(got, want)}`);
      const again = await cmd(true);
      assert.ok(again === want, `${label}: ${name} round ${r} again (${show(runs)}): ${firstDiff(again, want)}`);
    }
  }
}

test('roots that begin each other and names sorting around them', async (t) => {
  await attack(t, 'roots', [['a.json'], ['a .json', 'a-.json'], ['ab.json', 'a.b.json'], ['A.json'], ['a.JPG.json'], ['x.json', 'x.JPG.json']]);
});

test('odd ASCII folder names and a deep chain', async (t) => {
  const deep = Array.from({ length: 20 }, (_, i) => `l${i}`).join('/');
  await attack(t, 'folders', [['d d/ #1/.hidden.json'], ['d.d/-dash.json', 'd-d/after.json'], [`${deep}/bottom.json`], ['top.json', 'd d/ #1/~tilde.json']]);
});

test('links: to links, out of the root, the link chains\' records made again when their target changes', async (t) => {
  await attack(t, 'links', [['src/p1.json'], ['@far.json'], ['src/p1.json', 'src/p2.json'], ['src/p1.json']]);
});

test('folder and file names with control characters, backslashes and quotes', async (t) => {
  await attack(t, 'control', [['c\nl/new\tline.json'], ['b\\s/back\\slash.json', 'q"q/\'quote\'.json']], ['validate', 'stats', 'format-stats']);
});
