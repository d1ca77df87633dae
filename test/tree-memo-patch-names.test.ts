/**
 * A tree memo's patch that pairs its records again from the names the memo keeps of each
 * (discovery/memo-records.ts groupNamesOf, scan.ts ScanOptions.givenGroups): no folder listed,
 * no index opened. Every group shape a folder can hold, edited in place, gives with the index what
 * it gives with `index: false`; records the names cannot make (a lone sidecar, links) go the
 * folders' way in the same patch, and their problems land in tree order among the others'; a
 * memo whose names were crafted (another record's, a file beside, `..`) is never patched from.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { indexStatus, type IndexOptions, type IndexRunStats } from '../src/index.js';
import { encodeSidecar } from '../src/formats/codec.js';
import { craftDelta, craftMemo, memoCommandsWith, photoSpec } from './helpers/memo.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir } from './helpers/tree.js';

const bin = (name: string, faces = 1) => encodeSidecar(sidecarData(name, faces, 4) as never, 'bin');

/** A library with one of each group shape, and enough filler that a patch of a few stays under its share. */
function library(t: TestContext): { root: string; outside: string } {
  const dir = testDir(t, 'memo-patch-names-');
  const { spec, photo, fill } = photoSpec();
  photo('top');
  photo('top2');
  photo('deep/a/b/c/d/e/p', 2);
  // Two images sharing a stem and one sidecar (ambiguous); an image with a stem and a name-ext sidecar.
  spec['amb/IMG_1.jpg'] = FAKE_JPEG;
  spec['amb/IMG_1.png'] = FAKE_JPEG;
  spec['amb/IMG_1.json'] = { json: sidecarData('IMG_1.jpg', 1, 8) };
  spec['ne/IMG_2.JPG'] = FAKE_JPEG;
  spec['ne/IMG_2.json'] = { json: sidecarData('IMG_2.JPG', 1, 8) };
  spec['ne/IMG_2.JPG.json'] = { json: sidecarData('IMG_2.JPG', 2, 8) };
  // The preferred bin and a json of one image.
  spec['bj/IMG_3.jpg'] = FAKE_JPEG;
  spec['bj/IMG_3.bin'] = bin('IMG_3.jpg', 2);
  spec['bj/IMG_3.json'] = { json: sidecarData('IMG_3.jpg', 1, 8) };
  // A symlinked sidecar: to a lone sidecar inside the root, and to a file outside it.
  spec['sl/IMG_4.jpg'] = FAKE_JPEG;
  spec['sl/IMG_4.json'] = { symlink: '../store/IMG_4.json' };
  spec['store/IMG_4.json'] = { json: sidecarData('IMG_4.jpg', 1, 8) };
  spec['sl/IMG_5.jpg'] = FAKE_JPEG;
  spec['sl/IMG_5.json'] = { symlink: join(dir, 'outside', 'IMG_5.json') };
  spec['lone/far.json'] = { symlink: join(dir, 'outside', 'far.json') };
  // Names the walk sorts by code units, a quote, a backslash, a percent sign, NFC and NFD twins
  // (one group: each sidecar claims both images).
  photo('odd/it\'s "q" \\ 100%');
  photo('odd/Caf\u00e9');
  photo('odd/Cafe\u0301', 2);
  // A lone sidecar with a lookalike (xyz is not an image type: unknown-image), an orphan.
  spec['lone/IMG_6.xyz'] = FAKE_JPEG;
  spec['lone/IMG_6.json'] = { json: sidecarData('IMG_6.xyz', 1, 8) };
  spec['lone/orphan.json'] = { json: sidecarData('gone.jpg', 1, 8) };
  // A symlinked image (its record is made by listing its folder).
  spec['links/l1.jpg'] = { symlink: '../top.jpg' };
  fill(8);
  makeTree({ 'IMG_5.json': { json: sidecarData('IMG_5.jpg', 1, 8) }, 'far.json': { json: sidecarData('far.jpg', 1, 8) } }, join(dir, 'outside'));
  return { root: makeTree(spec, join(dir, 'lib')), outside: join(dir, 'outside') };
}

/** Rewrite a sidecar with other content: the same size (mtime put back: only ctime tells) or another one. */
type How = 'same size' | 'resized' | 'corrupt' | 'a folder';
function change(file: string, how: How): void {
  if (how === 'a folder') {
    // (A link's target outside the root: its own folder is not the library's.)
    rmSync(file);
    mkdirSync(file);
    return;
  }
  const before = statSync(file);
  const text = readFileSync(file, 'utf8');
  if (how === 'corrupt') {
    writeFileSync(file, `${text.slice(0, text.length >> 1)}`);
    return;
  }
  const next = how === 'same size' ? text.replace(/"confidence": 0\.(\d)/, (_, d: string) => `"confidence": 0.${(Number(d) + 1) % 10}`) : text.replace('"success": true', '"success": false');
  assert.notEqual(next, text, file);
  writeFileSync(file, next);
  if (how === 'same size') utimesSync(file, before.atime, before.mtime);
}

/** The memo commands (helpers/memo.ts), each run's figures into `runs`. */
function commands(root: string, runs: IndexRunStats[], extra: Partial<IndexOptions> = {}) {
  return memoCommandsWith(root, { path: join(root, '.image-sidecar', 'index'), racyMarginMs: 0, onStats: (s) => void runs.push(s), ...extra });
}
type Name = keyof ReturnType<typeof commands>;
const NAMES: Name[] = ['validate', 'validate kept', 'stats', 'stats op', 'format-stats'];

/** Warm `name` until its memo answers whole. */
async function warm(cmd: (w: boolean) => Promise<string>, runs: IndexRunStats[], label: string): Promise<void> {
  for (let i = 0; i < 8 && !(runs.at(-1)?.memo === true && runs.at(-1)?.memoPatched === undefined); i++) assert.equal(await cmd(true), await cmd(false), `${label}: warming`);
  assert.ok(runs.at(-1)?.memo === true && runs.at(-1)?.memoPatched === undefined, `${label}: answered whole`);
}

/**
 * Each command: warm, change the files, then the patched run and the run after it (from the
 * memo's delta) as without the index; `byNames`: how many of the records made again went by their
 * names (undefined: not patched).
 */
async function attack(t: TestContext, label: string, edits: [string, How][], expect: { made: number; byNames: number } | null, names = NAMES): Promise<void> {
  for (const name of names) {
    const { root, outside } = library(t);
    const runs: IndexRunStats[] = [];
    const cmd = commands(root, runs)[name];
    await warm(cmd, runs, `${label}: ${name}`);
    for (const [rel, how] of edits) change(rel.startsWith('/') ? join(outside, rel) : join(root, rel), how);
    const plain = await cmd(false);
    assert.equal(await cmd(true), plain, `${label}: ${name} patched run`);
    const s = runs.at(-1)!;
    if (expect) {
      // (stats with an operation filter reads links' targets' sidecars: the link to top.jpg is made again too.)
      if (name === 'stats op') assert.ok((s.memoPatched ?? 0) >= expect.made, `${label}: ${name} records made again`);
      else assert.equal(s.memoPatched, expect.made, `${label}: ${name} records made again`);
      assert.equal(s.memoPatchedByNames, expect.byNames, `${label}: ${name} of them by their names`);
    }
    assert.equal(await cmd(true), plain, `${label}: ${name} the run after the patch`);
    // The same file changed again: the delta's record (and its names) made again.
    const again = edits.find(([, how]) => how !== 'a folder')![0];
    change(again.startsWith('/') ? join(outside, again) : join(root, again), 'resized');
    const plain2 = await cmd(false);
    assert.equal(await cmd(true), plain2, `${label}: ${name} patched again`);
    if (expect) assert.equal(runs.at(-1)!.memoPatchedByNames !== undefined, true, `${label}: ${name} patched again from the delta`);
    assert.equal(await cmd(true), plain2, `${label}: ${name} after the second patch`);
  }
}

test('a patch makes photo records again from their names: at the top, deep, odd names, NFC and NFD twins', async (t) => {
  await attack(t, 'photos', [['top.json', 'same size'], ['deep/a/b/c/d/e/p.json', 'resized'], ['odd/it\'s "q" \\ 100%.json', 'same size'], ['odd/Caf\u00e9.json', 'same size'], ['odd/Cafe\u0301.json', 'resized']], { made: 4, byNames: 4 });
});

test('a patch makes groups of several names again from their names: two images, a name-ext sidecar, a corrupt preferred bin', async (t) => {
  await attack(t, 'ambiguous', [['amb/IMG_1.json', 'same size']], { made: 1, byNames: 1 });
  await attack(t, 'name-ext', [['ne/IMG_2.JPG.json', 'same size'], ['ne/IMG_2.json', 'resized']], { made: 1, byNames: 1 });
  await attack(t, 'corrupt bin', [['bj/IMG_3.json', 'same size'], ['bj/IMG_3.bin', 'corrupt']], { made: 1, byNames: 1 }, ['validate', 'stats', 'format-stats']);
});

test('a symlinked sidecar edited through its target: its record by names, the lone target\'s by its folder; one outside the root', async (t) => {
  await attack(t, 'link inside', [['store/IMG_4.json', 'same size']], { made: 2, byNames: 1 });
  await attack(t, 'link outside', [['/IMG_5.json', 'resized']], { made: 1, byNames: 1 });
});

test('index status says how the last run\'s memo was patched', async (t) => {
  const { root } = library(t);
  const runs: IndexRunStats[] = [];
  const cmd = commands(root, runs).validate;
  await warm(cmd, runs, 'status');
  assert.equal(indexStatus(root).last_run?.memo_patched, undefined, 'answered whole');
  change(join(root, 'top.json'), 'same size');
  change(join(root, 'lone/orphan.json'), 'resized');
  assert.equal(await cmd(true), await cmd(false));
  const last = indexStatus(root).last_run;
  assert.equal(last?.memo, true);
  assert.equal(last?.memo_patched, 2);
  assert.equal(last?.memo_patched_by_names, 1);
});

test('lone sidecars (a lookalike, an orphan) and photos in one patch; corrupt and unreadable ones: findings, and problems in tree order', async (t) => {
  await attack(t, 'mixed', [['lone/IMG_6.json', 'same size'], ['top.json', 'corrupt'], ['lone/orphan.json', 'corrupt'], ['fill/3/f1.json', 'corrupt']], { made: 4, byNames: 2 });
  // Links' targets outside the root made folders: unreadable (scan problems), one record of each way.
  await attack(t, 'unreadable', [['fill/2/f1.json', 'same size'], ['/far.json', 'a folder'], ['/IMG_5.json', 'a folder']], { made: 3, byNames: 2 });
});

test('more folders of lone sidecars than are read directly: the index is opened, the changed sidecars looked up as misses, even when it holds their new identities', async (t) => {
  const dir = testDir(t, 'memo-patch-names-many-');
  const { spec, fill } = photoSpec();
  for (let f = 0; f < 12; f++) spec[`l${f}/x.json`] = { json: sidecarData('x.jpg', 1, 8) };
  fill(16);
  const root = makeTree(spec, join(dir, 'lib'));
  const runs: IndexRunStats[] = [];
  const cmd = commands(root, runs).validate;
  await warm(cmd, runs, 'many');
  for (let f = 0; f < 12; f++) change(join(root, `l${f}/x.json`), 'same size');
  // A run without memos records the changed files' new identities in the index.
  const noMemo = commands(root, [], { memo: false }).stats;
  assert.equal(await noMemo(true), await noMemo(false));
  const plain = await cmd(false);
  assert.equal(await cmd(true), plain);
  assert.equal(runs.at(-1)!.memoPatched, 12);
  assert.equal(runs.at(-1)!.memoPatchedByNames, 0);
  assert.equal(await cmd(true), plain);
});

test('crafted group names (a checksum to match) never make a record: another record\'s, a file beside, one not there, ".." or a lone sidecar', async (t) => {
  // Each craft of the record of top.jpg, found by its names.
  const crafts: [string, (names: string) => string][] = [
    ['another record\'s names', () => 'ftop2.jpg/ftop2.json'],
    ['another record\'s names after the root', () => 'F2.jpg/F2.json'],
    ['a sidecar beside that is not in its group', (g) => `${g}/F.jpg.json`],
    ['a sidecar left out', (g) => g.split('/').filter((p) => !p.endsWith('.json')).join('/')],
    ['its image left out (a lone sidecar)', (g) => g.split('/').filter((p) => p.endsWith('.json')).join('/')],
    ['a parent folder\'s name', () => 'f../top.jpg/f../top.json'],
    ['".." as a name', (g) => `f../${g}`],
    ['a link letter for a file', (g) => g.replace(/^F/, 'S')],
    ['the names whole, as another record\'s', () => 'fIMG_1.jpg/fIMG_1.json'],
  ];
  for (const [label, craft] of crafts) {
    const { root } = library(t);
    const runs: IndexRunStats[] = [];
    const cmd = commands(root, runs).validate;
    await warm(cmd, runs, label);
    const idx = join(root, '.image-sidecar');
    let crafted = 0;
    for (const m of readdirSync(idx).filter((n) => /^index\.memo-[0-9a-f]{16}$/.test(n))) {
      craftMemo(join(idx, m), (_main, lazy) => {
        lazy.groups = lazy.groups.map((g, i) => (lazy.keys[i] === 'top' ? (crafted++, craft(g)) : g));
      });
    }
    assert.equal(crafted, 1, `${label}: the record of top.jpg crafted`);
    change(join(root, 'top.json'), 'resized');
    assert.equal(await cmd(true), await cmd(false), `${label}: as without the index`);
    const s = runs.at(-1)!;
    assert.ok(!(s.memoPatchedByNames && s.memoPatchedByNames > 0), `${label}: made from crafted names (${JSON.stringify(s)})`);
    assert.equal(await cmd(true), await cmd(false), `${label}: the run after`);
  }
});

test('a crafted delta\'s group names (not strings, one short): the delta is not used, the output as without the index', async (t) => {
  for (const [label, craft] of [
    ['not strings', (b: Record<string, unknown>) => void (b.groups = (b.groups as unknown[]).map(() => 7))],
    ['one short', (b: Record<string, unknown>) => void (b.groups = (b.groups as unknown[]).slice(1))],
    ['a file beside', (b: Record<string, unknown>) => void (b.groups = (b.groups as string[]).map((g) => `${g}/F.jpg.json`))],
  ] as const) {
    const { root } = library(t);
    const runs: IndexRunStats[] = [];
    const cmd = commands(root, runs).validate;
    await warm(cmd, runs, label);
    change(join(root, 'top.json'), 'same size');
    assert.equal(await cmd(true), await cmd(false), `${label}: patched`);
    const idx = join(root, '.image-sidecar');
    const deltas = readdirSync(idx).filter((n) => /^index\.memo-[0-9a-f]{16}\.delta$/.test(n));
    assert.equal(deltas.length, 1, `${label}: a delta`);
    craftDelta(join(idx, deltas[0]), craft);
    change(join(root, 'top.json'), 'resized');
    assert.equal(await cmd(true), await cmd(false), `${label}: after the craft`);
    assert.equal(await cmd(true), await cmd(false), `${label}: the run after`);
  }
});

test('a memo\'s lazy part (what only a patch reads, at the end of its file) is not read by a run answered whole; damaged, a patch is a miss', async (t) => {
  const { root } = library(t);
  const runs: IndexRunStats[] = [];
  const cmd = commands(root, runs).validate;
  await warm(cmd, runs, 'lazy');
  const idx = join(root, '.image-sidecar');
  const memos = readdirSync(idx).filter((n) => /^index\.memo-[0-9a-f]{16}$/.test(n));
  assert.equal(memos.length, 1);
  // The last byte of the file flipped: the lazy part's own CRC-32 no longer holds, the file's does.
  const file = join(idx, memos[0]);
  const bytes = readFileSync(file);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(file, bytes);
  const plain = await cmd(false);
  assert.equal(await cmd(true), plain);
  assert.ok(runs.at(-1)!.memo === true && runs.at(-1)!.memoPatched === undefined, 'answered whole without the lazy part');
  change(join(root, 'top.json'), 'same size');
  const plain2 = await cmd(false);
  assert.equal(await cmd(true), plain2);
  assert.notEqual(runs.at(-1)!.memo, true, 'no patch from a damaged lazy part');
  assert.equal(await cmd(true), plain2);
});
