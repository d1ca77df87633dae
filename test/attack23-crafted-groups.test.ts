/**
 * attack23: a patch pairs a record again from the group names its memo keeps (memo-records.ts
 * groupEntriesOf, scan.ts ScanOptions.givenGroups) and takes the record made for the memo's when
 * its partition key and its file checks (the sidecars it reads) are the same. The names are read
 * from the memo's lazy part (or its delta): a memo crafted by hand with a checksum to match must be
 * a miss or give what `index: false` gives, never a wrong answer, never a crash, never a file
 * outside the root read. Crafts: an image left out, an image that does not exist added, an image
 * renamed, a sidecar's kind letter changed, another record's names, a sidecar that does not exist,
 * a lone sidecar, a non-image, '..', out of order, empty, names of the delta's records crafted, the
 * delta's groups of another type or length.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { craftDelta, craftMemo, photoSpec } from './helpers/memo.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';
import { commands, deltaFiles, edit, firstDiff, memoFiles, show, warm, type CmdName, type Run } from './helpers/attack23.js';

const NAMES: CmdName[] = ['validate', 'stats', 'format-stats'];

function library(t: TestContext): { dir: string; root: string; indexPath: string } {
  const dir = testDir(t, 'attack23-craft-');
  const { spec, photo, fill } = photoSpec();
  spec['c/IMG.jpg'] = FAKE_JPEG;
  spec['c/IMG.png'] = FAKE_JPEG;
  spec['c/IMG.json'] = { json: sidecarData('IMG.jpg', 2, 8) };
  photo('c/solo', 1);
  photo('c/other', 3);
  spec['c/lone.json'] = { json: sidecarData('lone.jpg', 1, 8) };
  spec['c/n.txt'] = 'text';
  fill(5, 10, 'c/fill');
  // Beside the root: a sidecar a crafted name must never make the patch read.
  spec['../evil/IMG.json'] = { json: sidecarData('EVIL.jpg', 9, 8) };
  makeTree(spec, join(dir, 'lib'));
  return { dir, root: join(dir, 'lib'), indexPath: join(dir, 'idx', 'index') };
}

/**
 * Warm each command's memo, craft the group names of the records `craft` maps (their group text
 * before → after, null: left as is), edit `changed` in place, then the run with the index must
 * give what the run without it gives (twice: the patch, then what it kept).
 */
async function attack(t: TestContext, label: string, craft: (group: string, key: string) => string | null, changed = ['c/IMG.json'], names = NAMES): Promise<Run[]> {
  const all: Run[] = [];
  for (const name of names) {
    const { dir, root, indexPath } = library(t);
    const runs: Run[] = [];
    const cmd = commands(root, indexPath, runs)[name];
    await warm(cmd, runs, `${label} ${name}`, root);
    let crafted = 0;
    for (const f of memoFiles(join(dir, 'idx'))) {
      craftMemo(f, (_m, lazy) => {
        lazy.groups = lazy.groups.map((g, i) => {
          const to = craft(wholeNames(g, lazy.keys[i]), lazy.keys[i]);
          if (to === null) return g;
          crafted++;
          return to;
        });
      });
    }
    assert.ok(crafted > 0, `${label}: a record crafted`);
    for (const [k, rel] of changed.entries()) edit(join(root, rel), k + 1);
    const want = await cmd(false);
    const from = runs.length;
    const got = await cmd(true);
    assert.ok(!got.includes('EVIL'), `${label}: ${name}: nothing read outside the root`);
    assert.ok(got === want, `${label}: ${name} (${show(runs.slice(from))}): ${firstDiff(got, want)}`);
    const again = await cmd(true);
    assert.ok(again === want, `${label}: ${name} again (${show(runs.slice(from))}): ${firstDiff(again, want)}`);
    all.push(...runs.slice(from));
  }
  return all;
}

const IMG = 'fIMG.jpg/fIMG.json/fIMG.png';

/**
 * A record's group names with every name whole (lower-case letters): a run writes a name that
 * begins with the record's name root after it (`F.jpg` for IMG.jpg of key c/IMG); the crafts here
 * match and write whole names, which a memo may hold too.
 */
function wholeNames(g: string, key: string): string {
  const root = key.slice(key.lastIndexOf('/') + 1);
  return g === '' ? g : g.split('/').map((p) => (p[0] === 'F' || p[0] === 'S' ? p[0].toLowerCase() + root + p.slice(1) : p)).join('/');
}
const only = (from: string, to: string) => (g: string) => (g === from ? to : null);

test('crafted: the memo keeps the names a run writes (the group of two images)', async (t) => {
  // Not crafted: the names as written (the test's own check that they are what it crafts from).
  await attack(t, 'as written', (g) => (g === IMG ? g : null));
});

test('crafted: an image of a two-image group left out of its names', async (t) => {
  await attack(t, 'image left out', only(IMG, 'fIMG.jpg/fIMG.json'));
});

test('crafted: an image that does not exist added to the names', async (t) => {
  await attack(t, 'image added', only(IMG, 'fIMG.gif/fIMG.jpg/fIMG.json/fIMG.png'));
});

test('crafted: an image renamed to one that does not exist (same stem)', async (t) => {
  await attack(t, 'image renamed', only(IMG, 'fIMG.bmp/fIMG.json/fIMG.png'), ['c/IMG.json'], ['validate', 'validate kept', 'validate op', 'stats', 'stats op', 'stats where', 'format-stats']);
});

test('crafted: an image of a one-image group added to its names', async (t) => {
  await attack(t, 'solo image added', only('fsolo.jpg/fsolo.json', 'fsolo.jpg/fsolo.json/fsolo.png'), ['c/solo.json']);
});

test('crafted: the sidecar\'s kind letter made a symlink\'s', async (t) => {
  await attack(t, 'kind letter', only(IMG, 'fIMG.jpg/sIMG.json/fIMG.png'), ['c/IMG.json'], ['validate', 'validate kept', 'validate op', 'stats', 'stats op', 'stats where', 'format-stats']);
});

test('crafted: another record\'s names', async (t) => {
  await attack(t, 'other record', only(IMG, 'fother.jpg/fother.json'));
});

test('crafted: a sidecar that does not exist added (read first, or after the real one)', async (t) => {
  await attack(t, 'sidecar added bin', only(IMG, 'fIMG.bin/fIMG.jpg/fIMG.json/fIMG.png'));
  await attack(t, 'sidecar added name-ext', only(IMG, 'fIMG.jpg/fIMG.jpg.json/fIMG.json/fIMG.png'));
});

test('crafted: a lone sidecar, a non-image, dot-dot, out of order, empty, a bad letter, a NUL', async (t) => {
  for (const to of ['fIMG.json', 'fn.txt', 'f../fIMG.json', 'f..', 'fIMG.png/fIMG.jpg/fIMG.json', '', 'xIMG.jpg/fIMG.json', 'fIMG.jpg/fIMG.json/fIMG.json', 'fIMG.jpg/f/fIMG.json', 'fIMG\0.jpg/fIMG.json', 'dIMG.jpg/fIMG.json', 'flone.json']) {
    await attack(t, `names ${JSON.stringify(to)}`, only(IMG, to), ['c/IMG.json'], ['validate']);
  }
});

test('crafted: a name climbing out of the folder through a link-like name or the other folder\'s names', async (t) => {
  // The record's key is c/IMG; names of a file in the parent folder cannot be spelled (no '/'), but try the ones that look like it.
  for (const to of ['f..%2Fevil%2FIMG.json/fIMG.jpg', 'f.\\..\\evil\\IMG.json/fIMG.jpg', 'fIMG.jpg/s..']) await attack(t, `climb ${JSON.stringify(to)}`, only(IMG, to), ['c/IMG.json'], ['validate']);
});

async function deltaAttack(t: TestContext, crafts: [string, (body: Record<string, unknown>) => void][]): Promise<void> {
  for (const [label, change] of crafts) {
    for (const name of NAMES) {
      const { dir, root, indexPath } = library(t);
      const runs: Run[] = [];
      const cmd = commands(root, indexPath, runs)[name];
      await warm(cmd, runs, `${label} ${name}`, root);
      // A patch of c/IMG: its delta holds the record and its names.
      edit(join(root, 'c/IMG.json'), 1);
      assert.equal(await cmd(true), await cmd(false), `${label} ${name}: first patch`);
      const deltas = deltaFiles(join(dir, 'idx'));
      assert.ok(deltas.length > 0, `${label} ${name}: a delta kept (${show(runs)})`);
      for (const d of deltas) craftDelta(d, change);
      // The same record changed again: patched from the delta's names.
      edit(join(root, 'c/IMG.json'), 2);
      const want = await cmd(false);
      const from = runs.length;
      const got = await cmd(true);
      assert.ok(got === want, `delta ${label}: ${name} (${show(runs.slice(from))}): ${firstDiff(got, want)}`);
      const again = await cmd(true);
      assert.ok(again === want, `delta ${label}: ${name} again (${show(runs.slice(from))}): ${firstDiff(again, want)}`);
    }
  }
}

test('crafted delta: the names of its record crafted (an image left out, one added)', async (t) => {
  await deltaAttack(t, [
    ['image left out', (b) => void (b.groups = (b.groups as string[]).map((g) => (wholeNames(g, 'c/IMG') === IMG ? 'fIMG.jpg/fIMG.json' : g)))],
    ['image added', (b) => void (b.groups = (b.groups as string[]).map((g) => (wholeNames(g, 'c/IMG') === IMG ? 'fIMG.gif/fIMG.jpg/fIMG.json/fIMG.png' : g)))],
  ]);
});

test('crafted delta: its groups of another type, of another length, missing', async (t) => {
  await deltaAttack(t, [
    ['numbers', (b) => void (b.groups = (b.groups as string[]).map(() => 7))],
    ['shorter', (b) => void (b.groups = (b.groups as string[]).slice(1))],
    ['longer', (b) => void (b.groups = [...(b.groups as string[]), IMG])],
    ['missing', (b) => void delete b.groups],
    ['object', (b) => void (b.groups = { 0: IMG })],
    ['bad names', (b) => void (b.groups = (b.groups as string[]).map(() => 'f../fIMG.json'))],
    ['empty names', (b) => void (b.groups = (b.groups as string[]).map(() => ''))],
  ]);
});

test('crafted: a record made a copy of another (key, file checks and names all of the other)', async (t) => {
  // Every column a patch verifies a record by, crafted consistently: record c/solo becomes c/other.
  // (The patch before this commit verified the same two columns; the names are the new third.)
  for (const name of NAMES) {
    const { dir, root, indexPath } = library(t);
    const runs: Run[] = [];
    const cmd = commands(root, indexPath, runs)[name];
    await warm(cmd, runs, `clone ${name}`, root);
    let crafted = 0;
    for (const f of memoFiles(join(dir, 'idx'))) {
      craftMemo(f, (_m, lazy) => {
        const from = lazy.keys.indexOf('c/other');
        const to = lazy.keys.indexOf('c/solo');
        assert.ok(from >= 0 && to >= 0, 'both records in the memo');
        lazy.keys[to] = lazy.keys[from];
        lazy.deps[to] = [...lazy.deps[from]];
        lazy.groups[to] = wholeNames(lazy.groups[from], 'c/other');
        crafted++;
      });
    }
    assert.ok(crafted > 0);
    edit(join(root, 'c/other.json'), 1);
    const want = await cmd(false);
    const from = runs.length;
    const got = await cmd(true);
    assert.ok(got === want, `clone: ${name} (${show(runs.slice(from))}): ${firstDiff(got, want)}`);
  }
});
