/**
 * Attacks on the tree memo's newest parts (src/incremental/tree-memo.ts, scan.ts memo()/patch()):
 * name checks held by folder identity or stamp, crafted memos, and a patch's delta file. After
 * each change, every command with the index gives exactly what it gives with `index: false`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { craftDelta, craftMemo, memoCommands, type How, type MemoCommandName } from './helpers/memo.js';
import type { MemoRecordColumns } from '../src/discovery/memo-records.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './helpers/tree.js';

const commands = memoCommands;
const craftMemoMain = (file: string, change: (main: unknown) => unknown) => craftMemo(file, (m) => change(m));
const craftMemoLazy = (file: string, change: (lazy: MemoRecordColumns) => void) => craftMemo(file, (_m, lazy) => void change(lazy));
type Name = MemoCommandName;
const ALL = Object.keys(commands('', '', [])) as Name[];

/** Warm every command until its memo answers whole (returns the commands that never got one). */
async function warm(root: string, indexPath: string, only: Name[] = ALL): Promise<string[]> {
  const none: string[] = [];
  for (const name of only) {
    const plain = await commands(root, indexPath, [])[name](false);
    const runs: How[] = [];
    const run = commands(root, indexPath, runs)[name];
    for (let i = 0; i < 8 && runs.at(-1) !== 'whole'; i++) assert.equal(await run(true), plain, `warm: ${name} run ${i + 1}`);
    if (runs.at(-1) !== 'whole') none.push(`${name}:${runs.join(',')}`);
  }
  return none;
}

/** Where two outputs part (a short view of each). */
function firstDiff(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `at ${i}: index …${a.slice(Math.max(0, i - 80), i + 80)}… vs --no-index …${b.slice(Math.max(0, i - 80), i + 80)}…`;
}

/** Every command after a change (`times` runs each: a patched memo or delta stored is used too) equals --no-index. */
async function check(root: string, indexPath: string, label: string, only: Name[] = ALL, times = 2): Promise<Record<string, How[]>> {
  const hows: Record<string, How[]> = {};
  for (const name of only) {
    const plain = await commands(root, indexPath, [])[name](false);
    const runs: How[] = [];
    const run = commands(root, indexPath, runs)[name];
    for (let i = 0; i < times; i++) {
      const got = await run(true);
      if (got !== plain) assert.fail(`${label}: ${name} run ${i + 1} (${runs.join(',')}) differs from --no-index: ${firstDiff(got, plain)}`);
    }
    hows[name] = runs;
  }
  return hows;
}

const sc = (name: string, faces = 1) => ({ json: sidecarData(name, faces, 4) });
const edit = (f: string, fn: (s: string) => string) => writeFileSync(f, fn(readFileSync(f, 'utf8')));
/** Same size: a flag flipped either way. */
const flip = (f: string) => edit(f, (s) => s.replace(/"success": (true|!rue)/, (_m, v: string) => `"success": ${v === 'true' ? '!rue' : 'true'}`));
const faces = (f: string, n: number) => edit(f, (s) => s.replace(/"faces_found": \d+/, `"faces_found": ${n}`));

/** 40 records in four folders, a game folder of links (in the tree and out of it), an orphan: deltas of up to four records. */
function lib(dir: string): { root: string; indexPath: string; idx: string } {
  const spec: Record<string, TreeNode> = {};
  for (let i = 0; i < 40; i++) {
    spec[`d${i % 4}/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`d${i % 4}/IMG_${i}.json`] = sc(`IMG_${i}.jpg`, i % 4);
  }
  spec['d0/orphan.json'] = sc('orphan.jpg', 2);
  spec['g/IMG_1.jpg'] = { symlink: '../d1/IMG_1.jpg' };
  spec['g/far.jpg'] = { symlink: '../../out/far.jpg' };
  spec['h/far2.jpg'] = { symlink: join(dir, 'out/far.jpg') };
  spec['h/IMG_5.jpg'] = { symlink: '../d1/IMG_5.jpg' };
  spec['h/IMG_6.json'] = { symlink: '../../out/six.json' };
  spec['h/IMG_6.jpg'] = FAKE_JPEG;
  // A folder link out of the library, and an image link through it.
  spec['L'] = { symlink: '../other' };
  spec['h/IMG_40.jpg'] = { symlink: '../L/IMG_40.jpg' };
  makeTree({ 'IMG_40.jpg': FAKE_JPEG, 'IMG_40.json': sc('IMG_40.jpg', 1) }, join(dir, 'other'));
  makeTree({ 'far.jpg': FAKE_JPEG, 'far.json': sc('far.jpg', 3), 'six.json': sc('IMG_6.jpg', 2) }, join(dir, 'out'));
  const root = join(dir, 'lib');
  makeTree(spec, root);
  const idx = join(dir, 'idx');
  return { root, indexPath: join(idx, 'index'), idx };
}
const deltasIn = (idx: string) => readdirSync(idx).filter((n) => /\.memo-[0-9a-f]{16}\.delta$/.test(n));
const memosIn = (idx: string) => readdirSync(idx).filter((n) => /\.memo-[0-9a-f]{16}$/.test(n));

/**
 * Each step's change, then every command (of `names`) checked against --no-index; over the steps,
 * runs answered by a patch and whole, and a delta written, must all have been seen.
 */
async function editSteps(root: string, indexPath: string, idx: string, steps: [string, () => void][], names: Name[] = ALL): Promise<void> {
  const seen = new Set<string>();
  for (const [label, change] of steps) {
    change();
    const hows = await check(root, indexPath, label, names);
    for (const h of Object.values(hows)) for (const x of h) seen.add(x);
    if (deltasIn(idx).length > 0) seen.add('delta');
  }
  assert.ok(seen.has('patched') && seen.has('whole') && seen.has('delta'), [...seen].join(','));
}

export { commands, warm, check, lib, flip, faces, edit, sc, deltasIn, memosIn };

test('delta: one record edited again and again, corrupt then fixed, emptied, faces changed; every step equals --no-index', async (t) => {
  const dir = testDir(t, 'isc-memo-atk2-');
  const { root, indexPath, idx } = lib(dir);
  assert.deepEqual(await warm(root, indexPath), []);
  const f = join(root, 'd1/IMG_9.json');
  const original = readFileSync(f, 'utf8');
  const steps: [string, () => void][] = [
    ['flip', () => flip(f)],
    ['flip back', () => flip(f)],
    ['corrupt', () => writeFileSync(f, '{"face_detection": {"faces": [')],
    ['fixed', () => writeFileSync(f, original)],
    ['faces', () => faces(f, 7)],
    ['more faces (larger)', () => writeFileSync(f, JSON.stringify(sidecarData('IMG_9.jpg', 5, 4), null, 2))],
    ['no faces (smaller)', () => writeFileSync(f, JSON.stringify(sidecarData('IMG_9.jpg', 0, 4), null, 2))],
    ['past maxFileSize', () => writeFileSync(f, JSON.stringify({ ...sidecarData('IMG_9.jpg', 1, 4), pad: 'x'.repeat(5000) }))],
    ['too deep', () => writeFileSync(f, JSON.stringify({ ...sidecarData('IMG_9.jpg', 1, 4), deep: [[[[[[[[[[1]]]]]]]]]] }))],
    ['emptied', () => writeFileSync(f, '')],
    ['bin content', () => writeFileSync(f, Buffer.from([0x49, 0x53, 0x43, 0x01, 0, 0, 0, 0]))],
    ['fixed again', () => writeFileSync(f, original)],
  ];
  await editSteps(root, indexPath, idx, steps);
});


test('crafted memo: a first JSON part that is null, a number, an object without a head, or a head that is not an object is a miss, never a crash', async (t) => {
  const only: Name[] = ['validate', 'stats', 'format-stats'];
  const crafts: [string, (m: unknown) => unknown][] = [
    ['null', () => null],
    ['a number', () => 7],
    ['no head', (m) => ({ payload: (m as { payload: unknown }).payload })],
    ['head null', (m) => ({ ...(m as object), head: null })],
    ['head a string', (m) => ({ ...(m as object), head: 'x' })],
  ];
  for (const [label, change] of crafts) {
    const dir = testDir(t, 'isc-memo-atk2-');
    const root = join(dir, 'lib');
    makeTree({ 'a/IMG_1.jpg': FAKE_JPEG, 'a/IMG_1.json': sc('IMG_1.jpg', 2), 'b/IMG_2.jpg': FAKE_JPEG, 'b/IMG_2.json': sc('IMG_2.jpg', 1) }, root);
    const indexPath = join(dir, 'idx', 'index');
    assert.deepEqual(await warm(root, indexPath, only), []);
    for (const f of memosIn(join(dir, 'idx'))) craftMemoMain(join(dir, 'idx', f), change);
    const hows = await check(root, indexPath, `crafted memo: ${label}`, only);
    for (const name of only) assert.notEqual(hows[name][0], 'whole', `${label}: ${name}`);
  }
});

test('delta: edits across records, accumulate past a tenth, memo rewritten, then more edits; links to sidecars in and out of the library; every step equals --no-index', async (t) => {
  const dir = testDir(t, 'isc-memo-atk2-');
  const { root, indexPath, idx } = lib(dir);
  assert.deepEqual(await warm(root, indexPath), []);
  const p = (r: string) => join(root, r);
  const o = (r: string) => join(dir, 'out', r);
  const steps: [string, () => void][] = [
    ['a link target in the library', () => flip(p('d1/IMG_1.json'))],
    ['far sidecar of two links', () => faces(o('far.json'), 9)],
    ['linked sidecar out of the library', () => flip(o('six.json'))],
    ['the same three again', () => {
      flip(p('d1/IMG_1.json'));
      faces(o('far.json'), 1);
      flip(o('six.json'));
    }],
    ['an orphan', () => faces(p('d0/orphan.json'), 5)],
    ['a sidecar through a folder link out of the library', () => flip(join(dir, 'other/IMG_40.json'))],
    ['it again, larger', () => writeFileSync(join(dir, 'other/IMG_40.json'), JSON.stringify(sidecarData('IMG_40.jpg', 3, 4)))],
    ['two more: past a tenth', () => {
      flip(p('d2/IMG_2.json'));
      flip(p('d3/IMG_3.json'));
    }],
    ['after the rewrite: one', () => flip(p('d2/IMG_2.json'))],
    ['linked sidecar removed', () => rmSync(o('six.json'))],
    ['linked sidecar back', () => writeFileSync(o('six.json'), JSON.stringify(sidecarData('IMG_6.jpg', 3, 4)))],
    ['linked sidecar made corrupt', () => writeFileSync(o('six.json'), '{')],
    ['far sidecar emptied', () => writeFileSync(o('far.json'), '')],
    ['far sidecar renamed over by another', () => {
      writeFileSync(o('far2.json'), JSON.stringify(sidecarData('far.jpg', 4, 4)));
      renameSync(o('far2.json'), o('far.json'));
    }],
  ];
  await editSteps(root, indexPath, idx, steps);
});

test('delta: a sidecar in a delta, then its folder changes (a file added, the sidecar renamed, removed), then edits again', async (t) => {
  const dir = testDir(t, 'isc-memo-atk2-');
  const { root, indexPath, idx } = lib(dir);
  assert.deepEqual(await warm(root, indexPath), []);
  const p = (r: string) => join(root, r);
  const steps: [string, () => void][] = [
    ['edit', () => flip(p('d1/IMG_13.json'))],
    ['a file added beside it', () => writeFileSync(p('d1/IMG_99.json'), JSON.stringify(sidecarData('IMG_99.jpg', 1, 4)))],
    ['edit again', () => flip(p('d1/IMG_13.json'))],
    ['renamed to a name-ext sidecar', () => renameSync(p('d1/IMG_13.json'), p('d1/IMG_13.jpg.json'))],
    ['edit the renamed', () => flip(p('d1/IMG_13.jpg.json'))],
    ['removed', () => rmSync(p('d1/IMG_13.jpg.json'))],
    ['another folder edited', () => flip(p('d2/IMG_14.json'))],
    ['folder d2 renamed away and back', () => {
      renameSync(p('d2'), p('d2x'));
      renameSync(p('d2x'), p('d2'));
    }],
    ['edit in the moved folder', () => flip(p('d2/IMG_14.json'))],
  ];
  for (const [label, change] of steps) {
    change();
    await check(root, indexPath, label);
  }
  void idx;
});

/** A child process running the library (dist-test's) over `root`: each command's output with the index, as one JSON line each. */
function childRun(root: string, indexPath: string, names: Name[], rounds = 1): Promise<{ code: number | null; signal: string | null; out: string; err: string; child: import('node:child_process').ChildProcess }> & { child: import('node:child_process').ChildProcess } {
  // The same commands as this file's (helpers/memo.ts), in another process.
  const helpers = fileURLToPath(new URL('./helpers/memo.js', import.meta.url));
  const script = `
const { memoCommands } = await import(${JSON.stringify(helpers)});
const cmds = memoCommands(${JSON.stringify(root)}, ${JSON.stringify(indexPath)}, []);
for (let i = 0; i < ${rounds}; i++) for (const n of ${JSON.stringify(names)}) process.stdout.write(JSON.stringify([n, await cmds[n](true)]) + '\\n');
`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const p = new Promise<{ code: number | null; signal: string | null; out: string; err: string; child: typeof child }>((res) => child.on('close', (code, signal) => res({ code, signal, out, err, child })));
  return Object.assign(p, { child });
}

test('delta: processes patching the same memos at once (each after its own edit) all give the output of --no-index', async (t) => {
  const dir = testDir(t, 'isc-memo-atk2-');
  const { root, indexPath, idx } = lib(dir);
  const names: Name[] = ['validate', 'validate kept', 'stats', 'format-stats'];
  assert.deepEqual(await warm(root, indexPath, names), []);
  const files = ['d0/IMG_4.json', 'd1/IMG_5.json', 'd2/IMG_6.json', 'd3/IMG_7.json', 'd0/IMG_8.json', 'd1/IMG_9.json'];
  for (let round = 0; round < 6; round++) {
    flip(join(root, files[round % files.length]));
    if (round % 2 === 1) faces(join(dir, 'out/far.json'), round);
    const plain = new Map<string, string>();
    for (const n of names) plain.set(n, await commands(root, indexPath, [])[n](false));
    const kids = await Promise.all([0, 1, 2, 3].map(() => childRun(root, indexPath, names, 2)));
    for (const k of kids) {
      assert.equal(k.code, 0, k.err);
      for (const line of k.out.trim().split('\n')) {
        const [n, o] = JSON.parse(line) as [Name, string];
        assert.equal(o, plain.get(n), `round ${round}: ${n} in a child differs from --no-index`);
      }
    }
    await check(root, indexPath, `after round ${round}`, names, 1);
  }
  void idx;
});

test('delta: a process killed while it runs (patching, writing a delta or a memo) leaves nothing a later run relies on wrongly', async (t) => {
  const dir = testDir(t, 'isc-memo-atk2-');
  const { root, indexPath, idx } = lib(dir);
  const names: Name[] = ['validate', 'stats', 'format-stats'];
  assert.deepEqual(await warm(root, indexPath, names), []);
  const files = ['d0/IMG_4.json', 'd1/IMG_5.json', 'd2/IMG_6.json', 'd3/IMG_7.json', 'd0/IMG_8.json'];
  for (let round = 0; round < 10; round++) {
    flip(join(root, files[round % files.length]));
    const run = childRun(root, indexPath, names, 3);
    await new Promise((r) => setTimeout(r, 40 + ((round * 37) % 120)));
    run.child.kill('SIGKILL');
    await run;
    await check(root, indexPath, `after a kill in round ${round}`, names, 2);
  }
  // No temp file of ours left to be relied on: only memos, deltas and the index's own files.
  void idx;
});

/**
 * A library with an absolute link out of it (every folder from `/` on the way is looked up by name:
 * name checks held by their folder's identity or their stamp), and a relative link into the same
 * outside folder. Each change to the way or the target after the memo: output as --no-index.
 */
test('name checks: an absolute link\'s way out of the library changed in every way (a folder replaced by a link to another or to itself moved, the target folder moved, entries replaced, the way busy)', async (t) => {
  const only: Name[] = ['validate', 'stats', 'format-stats'];
  const variants: [string, (dir: string) => void][] = [
    ['busy folders on the way (files made and removed)', (d) => {
      writeFileSync(join(d, 'mid', 'x.txt'), 'x');
      writeFileSync(join(d, 'y.txt'), 'y');
      rmSync(join(d, 'mid', 'x.txt'));
    }],
    ['the target folder replaced by a link to another folder', (d) => {
      makeTree({ 'far.jpg': FAKE_JPEG, 'far.json': sc('far.jpg', 6) }, join(d, 'elsewhere'));
      renameSync(join(d, 'mid/outside'), join(d, 'mid/outside-old'));
      symlinkSync(join(d, 'elsewhere'), join(d, 'mid/outside'));
    }],
    ['the target folder moved, a link to it in its place', (d) => {
      renameSync(join(d, 'mid/outside'), join(d, 'mid/outside-real'));
      symlinkSync('outside-real', join(d, 'mid/outside'));
    }],
    ['a folder on the way replaced by a relative link to another', (d) => {
      makeTree({ 'outside/far.jpg': FAKE_JPEG, 'outside/far.json': sc('far.jpg', 8), 'outside/near.jpg': FAKE_JPEG }, join(d, 'mid2'));
      renameSync(join(d, 'mid'), join(d, 'mid-old'));
      symlinkSync('mid2', join(d, 'mid'));
    }],
    ['the target folder moved away (links broken)', (d) => renameSync(join(d, 'mid/outside'), join(d, 'mid/gone'))],
    ['the target image replaced by a copy', (d) => {
      writeFileSync(join(d, 'mid/outside/far2.jpg'), FAKE_JPEG);
      renameSync(join(d, 'mid/outside/far2.jpg'), join(d, 'mid/outside/far.jpg'));
    }],
    ['the target sidecar replaced by another', (d) => {
      writeFileSync(join(d, 'mid/outside/far2.json'), JSON.stringify(sidecarData('far.jpg', 2, 4), null, 2));
      renameSync(join(d, 'mid/outside/far2.json'), join(d, 'mid/outside/far.json'));
    }],
    ['the target image made a link to another image', (d) => {
      makeTree({ 'IMG_0.jpg': FAKE_JPEG, 'IMG_0.json': sc('IMG_0.jpg', 4) }, join(d, 'third'));
      rmSync(join(d, 'mid/outside/far.jpg'));
      symlinkSync(join(d, 'third/IMG_0.jpg'), join(d, 'mid/outside/far.jpg'));
    }],
    ['a sibling sidecar for the target appears', (d) => writeFileSync(join(d, 'mid/outside/far.jpg.json'), JSON.stringify(sidecarData('far.jpg', 1, 4)))],
  ];
  for (const [label, change] of variants) {
    const dir = testDir(t, 'isc-memo-atk2-way-');
    const root = join(dir, 'lib');
    makeTree(
      {
        'a/IMG_1.jpg': FAKE_JPEG,
        'a/IMG_1.json': sc('IMG_1.jpg', 2),
        'g/far.jpg': { symlink: join(dir, 'mid/outside/far.jpg') },
        'g/far-rel.jpg': { symlink: '../../mid/outside/far.jpg' },
      },
      root,
    );
    makeTree({ 'outside/far.jpg': FAKE_JPEG, 'outside/far.json': sc('far.jpg', 3) }, join(dir, 'mid'));
    const indexPath = join(dir, 'idx', 'index');
    const cold = await warm(root, indexPath, only);
    change(dir);
    const hows = await check(root, indexPath, label, only);
    if (process.env.MEMO_ATTACK_LOG) console.log(label, JSON.stringify(cold), JSON.stringify(hows));
  }
});

test('delta: a small racy margin (edits made just before runs): patches not kept while racy, then kept; every run equals --no-index', async (t) => {
  const dir = testDir(t, 'isc-memo-atk2-');
  const { root, indexPath } = lib(dir);
  const names: Name[] = ['validate', 'stats', 'format-stats'];
  const racy = 150;
  const run = async (label: string) => {
    for (const n of names) {
      const plain = await commands(root, indexPath, [])[n](false);
      assert.equal(await commands(root, indexPath, [], racy)[n](true), plain, `${label}: ${n}`);
    }
  };
  const hows: How[] = [];
  for (let i = 0; i < 4; i++) await run(`warm ${i}`);
  await new Promise((r) => setTimeout(r, racy + 50));
  for (let i = 0; i < 3; i++) await run(`warm after ${i}`);
  const files = ['d0/IMG_4.json', 'd1/IMG_5.json', 'd0/IMG_4.json', 'd2/IMG_6.json'];
  for (const [k, f] of files.entries()) {
    flip(join(root, f));
    await run(`racy ${k}`);
    await run(`racy ${k} again`);
    await new Promise((r) => setTimeout(r, racy + 50));
    await run(`settled ${k}`);
    for (const n of names) {
      const plain = await commands(root, indexPath, [])[n](false);
      assert.equal(await commands(root, indexPath, hows, racy)[n](true), plain, `settled ${k} again: ${n}`);
    }
  }
  assert.ok(hows.includes('whole'), hows.join(','));
});

test('delta: the index in its default place inside the tree (deltas written in the library\'s own folder), a sequence of edits', async (t) => {
  const dir = testDir(t, 'isc-memo-atk2-');
  const { root } = lib(dir);
  const indexPath = join(root, '.image-sidecar/index');
  const names: Name[] = ['validate', 'stats', 'format-stats'];
  assert.deepEqual(await warm(root, indexPath, names), []);
  const steps = ['d0/IMG_4.json', 'd1/IMG_5.json', 'd0/IMG_4.json', 'd2/IMG_6.json', 'd3/IMG_7.json', 'd3/IMG_11.json'].map((f): [string, () => void] => [f, () => flip(join(root, f))]);
  await editSteps(root, indexPath, join(root, '.image-sidecar'), steps, names);
});



test('crafted delta or memo: per-record counts (tallies) not shaped as a record\'s are never relied on when the record is patched again (a miss, never a wrong output)', async (t) => {
  const only: Name[] = ['validate', 'stats', 'format-stats'];
  const crafts: [string, (body: Record<string, unknown>) => void][] = [
    ['a category out of range', (b) => void ((b.tallies as number[][])[0] = [99, 1, 1, 0, 0, 1])],
    ['a tally too short', (b) => void ((b.tallies as number[][])[0] = [0])],
    ['a tally empty', (b) => void ((b.tallies as number[][])[0] = [])],
    ['memo: its lazy part\'s tallies out of range', () => undefined],
  ];
  for (const [label, change] of crafts) {
    const dir = testDir(t, 'isc-memo-atk2-');
    const { root, indexPath, idx } = lib(dir);
    assert.deepEqual(await warm(root, indexPath, only), []);
    const f = join(root, 'd1/IMG_9.json');
    if (label.startsWith('memo:')) {
      // The memo's own per-record counts (its lazy part), read by a patch.
      for (const m of memosIn(idx)) craftMemoLazy(join(idx, m), (lazy) => void (lazy.tallies = lazy.tallies.map(() => [99, 1, 1, 0, 0, 1])));
      flip(f);
      await check(root, indexPath, `crafted memo: ${label}`, only);
      continue;
    }
    flip(f);
    await check(root, indexPath, `${label}: first patch`, only, 1);
    const deltas = deltasIn(idx);
    assert.equal(deltas.length, only.length, `${label}: a delta per memo`);
    for (const d of deltas) craftDelta(join(idx, d), change);
    // The record patched again: its stored counts (the delta's) are taken out of the summary.
    flip(f);
    await check(root, indexPath, `crafted delta: ${label}`, only);
  }
});
