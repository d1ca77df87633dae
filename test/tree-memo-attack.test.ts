/**
 * Attacks on the tree memo (src/incremental/tree-memo.ts, scan.ts memo()/patch()): after each
 * change, every command with the index gives exactly what it gives with `index: false`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, statSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { clearIndex, formatStats, stats, validate } from '../src/index.js';
import { craftLazyBytes, craftMemo, craftRows, memoCommands, type How, type MemoCommandName, type MemoMain } from './helpers/memo.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './helpers/tree.js';

const commands = memoCommands;
type Name = MemoCommandName;

/** Warm every command until its memo answers whole (returns the commands that never got one). */
async function warm(root: string, indexPath: string, only?: Name[]): Promise<string[]> {
  const none: string[] = [];
  for (const name of Object.keys(commands(root, indexPath, [])) as Name[]) {
    if (only && !only.includes(name)) continue;
    const plain = await commands(root, indexPath, [])[name](false);
    const runs: How[] = [];
    const run = commands(root, indexPath, runs)[name];
    for (let i = 0; i < 4; i++) assert.equal(await run(true), plain, `warm: ${name} run ${i + 1}`);
    if (runs.at(-1) !== 'whole') none.push(`${name}:${runs.join(',')}`);
  }
  return none;
}

/** Every command after a change (twice: a patched memo stored is used too) equals --no-index. */
async function check(root: string, indexPath: string, label: string, only?: Name[]): Promise<Record<string, How[]>> {
  const hows: Record<string, How[]> = {};
  for (const name of Object.keys(commands(root, indexPath, [])) as Name[]) {
    if (only && !only.includes(name)) continue;
    const plain = await commands(root, indexPath, [])[name](false);
    const runs: How[] = [];
    const run = commands(root, indexPath, runs)[name];
    for (let i = 0; i < 2; i++) assert.equal(await run(true), plain, `${label}: ${name} run ${i + 1} (${runs.join(',')}) differs from --no-index`);
    hows[name] = runs;
  }
  return hows;
}

/** A tree of its own, warmed, changed, checked. */
async function attack(t: { after: (fn: () => void) => void }, label: string, spec: Record<string, TreeNode>, change: (root: string, dir: string) => void | Promise<void>, only?: Name[]) {
  const dir = testDir(t, 'isc-memo-atk-');
  const root = join(dir, 'lib');
  makeTree(spec, root);
  makeTree({ 'IMG_40.jpg': FAKE_JPEG, 'IMG_40.json': sc('IMG_40.jpg', 1) }, join(dir, 'other'));
  const indexPath = join(dir, 'idx', 'index');
  const cold = await warm(root, indexPath, only);
  await change(root, dir);
  const hows = await check(root, indexPath, label, only);
  return { cold, hows, root, dir, indexPath };
}

const sc = (name: string, faces = 1) => ({ json: sidecarData(name, faces, 4) });
const BASE: Record<string, TreeNode> = {
  'a/IMG_1.jpg': FAKE_JPEG,
  'a/IMG_1.json': sc('IMG_1.jpg', 2),
  'a/IMG_2.jpg': FAKE_JPEG,
  'a/IMG_2.json': sc('IMG_2.jpg', 1),
  'a/IMG_3.jpg': FAKE_JPEG,
  'a/IMG_3.json': sc('IMG_3.jpg', 3),
  'a/IMG_4.jpg': FAKE_JPEG,
  'a/IMG_4.json': sc('IMG_4.jpg', 0),
  'b/IMG_5.jpg': FAKE_JPEG,
  'b/IMG_5.json': sc('IMG_5.jpg', 1),
  'b/IMG_6.jpg': FAKE_JPEG,
  'b/IMG_6.json': sc('IMG_6.jpg', 2),
  'b/IMG_7.jpg': FAKE_JPEG,
  'b/IMG_7.json': sc('IMG_7.jpg', 2),
  'b/IMG_8.jpg': FAKE_JPEG,
  'b/IMG_8.json': sc('IMG_8.jpg', 2),
  'c/IMG_9.jpg': FAKE_JPEG,
  'c/IMG_9.json': sc('IMG_9.jpg', 2),
  'c/IMG_10.jpg': FAKE_JPEG,
  'c/IMG_10.json': sc('IMG_10.jpg', 2),
  'c/IMG_11.jpg': FAKE_JPEG,
  'c/IMG_11.json': sc('IMG_11.jpg', 2),
  'c/IMG_12.jpg': FAKE_JPEG,
};

const edit = (f: string, fn: (s: string) => string) => writeFileSync(f, fn(readFileSync(f, 'utf8')));

export { attack, check, warm, commands, BASE, sc, edit, appendFileSync, mkdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync };

test('attack: baseline in-place edit patches', async (t) => {
  const r = await attack(t, 'edit', BASE, (root) => edit(join(root, 'a/IMG_1.json'), (s) => s.replace('"success": true', '"success": !rue')));
  log('edit', r);
});

import { encodeSidecar } from '../src/formats/codec.js';
import { columnBytes, columnOf } from '../src/byte-order.js';
const bin = (name: string, faces = 1) => encodeSidecar(sidecarData(name, faces, 4) as never, 'bin');
/** How each run was answered (MEMO_ATTACK_LOG=1): whether the attacks reach the memo and the patch at all. */
const log = (label: string, r: { cold: string[]; hows: Record<string, How[]> }) => void (process.env.MEMO_ATTACK_LOG && console.log(label, JSON.stringify(r.cold), JSON.stringify(r.hows)));

test('attack: two images sharing a name root, their sidecar edited', async (t) => {
  log('2img', await attack(t, '2img', { ...BASE, 'a/IMG_1.png': FAKE_JPEG, 'a/IMG_1.jpg.json': sc('IMG_1.jpg', 4) }, (root) => edit(join(root, 'a/IMG_1.json'), (s) => s.replace('"success": true', '"success": !rue'))));
});
test('attack: two images sharing a name root, name-ext sidecar edited', async (t) => {
  log('2img-b', await attack(t, '2img-b', { ...BASE, 'a/IMG_1.png': FAKE_JPEG, 'a/IMG_1.png.json': sc('IMG_1.png', 4) }, (root) => edit(join(root, 'a/IMG_1.png.json'), (s) => s.replace('"success": true', '"success": !rue'))));
});
test('attack: NFC and NFD names in one folder', async (t) => {
  const nfc = 'caf\u00e9';
  const nfd = 'cafe\u0301';
  log('nfc', await attack(t, 'nfc', { ...BASE, [`a/${nfc}.jpg`]: FAKE_JPEG, [`a/${nfc}.json`]: sc('x', 1), [`a/${nfd}.jpg`]: FAKE_JPEG, [`a/${nfd}.json`]: sc('y', 2) }, (root) => {
    edit(join(root, `a/${nfd}.json`), (s) => s.replace('"success": true', '"success": !rue'));
    edit(join(root, `a/${nfc}.json`), (s) => s.replace('"faces_found": 1', '"faces_found": 7'));
  }));
});
test('attack: preferred bin made corrupt in place', async (t) => {
  log('bin', await attack(t, 'bin', { ...BASE, 'a/IMG_2.bin': bin('IMG_2.jpg', 5) }, (root) => {
    const f = join(root, 'a/IMG_2.bin');
    const b = readFileSync(f);
    b[b.length - 3] ^= 0xff;
    b[20] ^= 0xff;
    writeFileSync(f, b);
  }));
});
test('attack: sidecar becomes empty / BOM', async (t) => {
  log('empty', await attack(t, 'empty', BASE, (root) => {
    writeFileSync(join(root, 'a/IMG_1.json'), '');
    edit(join(root, 'b/IMG_5.json'), (s) => '\ufeff' + s);
  }));
});
test('attack: orphan sidecar edited in place', async (t) => {
  log('orphan', await attack(t, 'orphan', { ...BASE, 'a/gone.json': sc('gone.jpg', 2) }, (root) => writeFileSync(join(root, 'a/gone.json'), '{"x": ')));
});
test('attack: symlinked sidecar: target edited, removed, made a folder', async (t) => {
  const spec = { ...BASE, 'a/IMG_5.jpg': FAKE_JPEG, 'a/IMG_5.json': { symlink: '../../ext/x.json' }, 'c/IMG_12.json': { symlink: '../../ext/y.json' } };
  const mk = (dir: string) => makeTree({ 'x.json': sc('IMG_5.jpg', 2), 'y.json': sc('IMG_12.jpg', 2), 'z.json': sc('z', 1) }, join(dir, 'ext'));
  const pre = (fn: (root: string, dir: string) => void) => async (t2: typeof t) => {
    const dir = testDir(t2, 'isc-memo-atk-');
    const root = join(dir, 'lib');
    mk(dir);
    makeTree(spec, root);
    const indexPath = join(dir, 'idx', 'index');
    const cold = await warm(root, indexPath);
    fn(root, dir);
    return { cold, hows: await check(root, indexPath, 'symlinked') };
  };
  await t.test('edited', async (t2) => log('sym-edit', await pre((_r, d) => edit(join(d, 'ext/x.json'), (s) => s.replace('"success": true', '"success": !rue')))(t2)));
  await t.test('removed', async (t2) => log('sym-rm', await pre((_r, d) => rmSync(join(d, 'ext/x.json')))(t2)));
  await t.test('folder', async (t2) => log('sym-dir', await pre((_r, d) => {
    rmSync(join(d, 'ext/x.json'));
    makeTree({ 'ext/x.json/IMG_77.jpg': FAKE_JPEG, 'ext/x.json/IMG_77.json': sc('IMG_77.jpg', 1) }, d);
  })(t2)));
  await t.test('renamed over', async (t2) => log('sym-ren', await pre((_r, d) => renameSync(join(d, 'ext/z.json'), join(d, 'ext/x.json')))(t2)));
});

/** BASE plus a game folder: in-root links, and two links to one image outside the root. */
function big(dir: string): Record<string, TreeNode> {
  const spec: Record<string, TreeNode> = { ...BASE };
  for (let i = 20; i < 40; i++) {
    spec[`d/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`d/IMG_${i}.json`] = sc(`IMG_${i}.jpg`, i % 4);
  }
  spec['d/orphan.json'] = sc('orphan.jpg', 1);
  spec['d/notes.json'] = '{"hello": 1}';
  spec['g/IMG_1.jpg'] = { symlink: '../a/IMG_1.jpg' };
  spec['g/IMG_20.jpg'] = { symlink: '../d/IMG_20.jpg' };
  spec['g/far.jpg'] = { symlink: join(dir, 'out/far.jpg') };
  spec['h/far2.jpg'] = { symlink: join(dir, 'out/far.jpg') };
  spec['h/IMG_21.jpg'] = { symlink: '../d/IMG_21.jpg' };
  makeTree({ 'far.jpg': FAKE_JPEG, 'far.json': sc('far.jpg', 3) }, join(dir, 'out'));
  return spec;
}
async function attackBig(t: { after: (fn: () => void) => void }, label: string, change: (root: string, dir: string) => void) {
  const dir = testDir(t, 'isc-memo-atk-');
  const root = join(dir, 'lib');
  makeTree(big(dir), root);
  const indexPath = join(dir, 'idx', 'index');
  const cold = await warm(root, indexPath);
  change(root, dir);
  const r = { cold, hows: await check(root, indexPath, label) };
  log(label, r);
}
const flip = (s: string) => s.replace('"success": true', '"success": !rue');
test('attack big: link target sidecar in root edited', (t) => attackBig(t, 'big-linktarget', (root) => edit(join(root, 'a/IMG_1.json'), flip)));
test('attack big: outside sidecar of two links edited', (t) => attackBig(t, 'big-far', (_root, dir) => edit(join(dir, 'out/far.json'), flip)));
test('attack big: outside sidecar of two links emptied', (t) => attackBig(t, 'big-far0', (_root, dir) => writeFileSync(join(dir, 'out/far.json'), '')));
test('attack big: orphan made unrelated', (t) => attackBig(t, 'big-orphan-unrel', (root) => writeFileSync(join(root, 'd/orphan.json'), '{"hello": 2}')));
test('attack big: unrelated made a sidecar', (t) => attackBig(t, 'big-unrel-sc', (root) => writeFileSync(join(root, 'd/notes.json'), JSON.stringify(sidecarData('notes.jpg', 2, 4)))));
test('attack big: two edits in one folder', (t) => attackBig(t, 'big-two', (root) => {
  edit(join(root, 'd/IMG_25.json'), flip);
  writeFileSync(join(root, 'd/IMG_22.json'), '{"x": [');
}));
test('attack big: a sidecar grows past maxFileSize, another gets deep', (t) => attackBig(t, 'big-max', (root) => {
  writeFileSync(join(root, 'd/IMG_26.json'), JSON.stringify({ ...sidecarData('IMG_26.jpg', 1, 4), pad: 'x'.repeat(5000) }));
  writeFileSync(join(root, 'd/IMG_27.json'), JSON.stringify({ ...sidecarData('IMG_27.jpg', 1, 4), deep: [[[[[[[[[[1]]]]]]]]]] }));
}));
test('attack big: BOM added', (t) => attackBig(t, 'big-bom', (root) => edit(join(root, 'd/IMG_28.json'), (s) => '\ufeff' + s)));
test('attack big: a link record target image sidecar turned bin content', (t) => attackBig(t, 'big-binjson', (root) => writeFileSync(join(root, 'd/IMG_20.json'), bin('IMG_20.jpg', 2))));

test('attack big: a file in the root (only folders before)', (t) => attackBig(t, 'big-rootfile', (root) => writeFileSync(join(root, 'IMG_99.json'), JSON.stringify(sidecarData('IMG_99.jpg', 1, 4)))));
test('attack: a file in an empty folder and a folder of folders', async (t) => {
  log('emptydir', await attack(t, 'emptydir', { ...BASE, 'e/': { dir: true }, 'f/g/IMG_1.jpg': FAKE_JPEG }, (root) => {
    writeFileSync(join(root, 'e/IMG_98.json'), JSON.stringify(sidecarData('IMG_98.jpg', 1, 4)));
    writeFileSync(join(root, 'f/IMG_97.jpg'), FAKE_JPEG);
  }));
});
test('attack: a folder symlink inside the tree', async (t) => {
  const r = await attack(t, 'dirlink', { ...BASE, 'L': { symlink: '../other' }, 'g/IMG_40.jpg': { symlink: '../L/IMG_40.jpg' } }, (root, dir) => {
    makeTree({ 'IMG_40.jpg': FAKE_JPEG, 'IMG_40.json': sc('IMG_40.jpg', 2) }, join(dir, 'other2'));
    rmSync(join(root, 'L'));
    symlinkSync('../other2', join(root, 'L'));
  });
  log('dirlink', r);
});

test('attack: a FIFO at a memo\'s name never blocks a run (read and write side)', async (t) => {
  const dir = testDir(t, 'isc-memo-fifo-');
  const root = join(dir, 'lib');
  makeTree(BASE, root);
  const indexPath = join(dir, 'idx', 'index');
  await warm(root, indexPath, ['validate kept']);
  const idx = join(dir, 'idx');
  const memo = readdirSync(idx).find((n) => n.includes('.memo-'))!;
  rmSync(join(idx, memo));
  assert.equal(spawnSync('mkfifo', [join(idx, memo)]).status, 0);
  // In a child: a blocked open would block this process's event loop too (no test timeout could end it).
  const lib = fileURLToPath(new URL('../src/index.js', import.meta.url));
  const script = `const { validate } = await import(${JSON.stringify(lib)}); const r = await validate(${JSON.stringify(root)}, { index: { path: ${JSON.stringify(indexPath)}, racyMarginMs: 0 } }); console.log(r.total_files);`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000, encoding: 'utf8' });
  assert.equal(child.signal, null, 'the run did not block on the FIFO');
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), '11');
  assert.ok(statSync(join(idx, memo)).isFIFO(), 'the FIFO is left alone');
});

test('attack: index clear removes our memos only (someone else\'s file or folder at a memo\'s name stays, and does not fail it)', async (t) => {
  const dir = testDir(t, 'isc-memo-clear-');
  const root = join(dir, 'lib');
  makeTree(BASE, root);
  const indexPath = join(dir, 'idx', 'index');
  await warm(root, indexPath, ['validate kept', 'stats']);
  const idx = join(dir, 'idx');
  const memos = readdirSync(idx).filter((n) => n.includes('.memo-'));
  assert.equal(memos.length, 2);
  writeFileSync(join(idx, 'index.memo-00000000000000aa'), 'my notes\n');
  mkdirSync(join(idx, 'index.memo-00000000000000bb'));
  clearIndex(root, { path: indexPath });
  assert.deepEqual(readdirSync(idx).filter((n) => n.includes('.memo-')).sort(), ['index.memo-00000000000000aa', 'index.memo-00000000000000bb']);
  assert.equal(readFileSync(join(idx, 'index.memo-00000000000000aa'), 'utf8'), 'my notes\n');
});

test('attack: an aborted signal throws with a memo as without the index', async (t) => {
  const dir = testDir(t, 'isc-memo-abort-');
  const root = join(dir, 'lib');
  makeTree(BASE, root);
  const indexPath = join(dir, 'idx', 'index');
  await warm(root, indexPath, ['validate kept', 'stats', 'format-stats']);
  const index = { path: indexPath, racyMarginMs: 0 };
  for (const ix of [false, index] as const) {
    await assert.rejects(validate(root, { index: ix, signal: AbortSignal.abort() }), { name: 'AbortError' }, `validate index=${!!ix}`);
    await assert.rejects(stats(root, { index: ix, list: true, folders: 5, signal: AbortSignal.abort() }), { name: 'AbortError' }, `stats index=${!!ix}`);
    await assert.rejects(formatStats(root, { index: ix, signal: AbortSignal.abort() }), { name: 'AbortError' }, `format-stats index=${!!ix}`);
  }
  // After a patch too.
  edit(join(root, 'a/IMG_1.json'), flip);
  await assert.rejects(validate(root, { index, signal: AbortSignal.abort() }), { name: 'AbortError' });
});

test('attack: the index in its default place inside the tree', async (t) => {
  for (const where of ['.image-sidecar/index']) {
    const dir = testDir(t, 'isc-memo-in-');
    const root = join(dir, 'lib');
    makeTree(BASE, root);
    const indexPath = join(root, where);
    const cold = await warm(root, indexPath).catch((e: Error) => [`warm failed: ${e.message.slice(0, 300)}`]);
    edit(join(root, 'b/IMG_5.json'), flip);
    const hows = await check(root, indexPath, where);
    log(where, { cold, hows });
  }
});

test('attack big: a bin sidecar flagged encrypted in place, and an orphan bin', async (t) => {
  const dir = testDir(t, 'isc-memo-atk-');
  const root = join(dir, 'lib');
  makeTree({ ...big(dir), 'd/IMG_50.jpg': FAKE_JPEG, 'd/IMG_50.bin': bin('IMG_50.jpg', 2), 'd/lone.bin': bin('lone.jpg', 1) }, root);
  const indexPath = join(dir, 'idx', 'index');
  const cold = await warm(root, indexPath);
  for (const f of ['d/IMG_50.bin', 'd/lone.bin']) {
    const b = readFileSync(join(root, f));
    b[5] = 0x02;
    writeFileSync(join(root, f), b);
  }
  log('big-enc', { cold, hows: await check(root, indexPath, 'encrypted flag') });
});


/** validate's stored columns in a crafted memo (ops/validate.ts StoredValidate), or null for another command's. */
function vrows(m: MemoMain): { ends: Buffer; names: string; folder: Buffer; category: Buffer; valid: Buffer; time: Buffer; size: Buffer; problems: unknown[] } | null {
  const r = m.payload.rows as { names?: unknown } | null;
  return r !== null && typeof r === 'object' && typeof r.names === 'string' ? (r as ReturnType<typeof vrows>) : null;
}

test('attack: a memo crafted with a matching checksum but parts no run writes (lists, summary, rows, output) is a miss, never a crash', async (t) => {
  const only: Name[] = ['validate', 'stats', 'stats where', 'format-stats'];
  // Each craft, whether a patch must run to read it, and the commands whose memo then stands for nothing.
  const crafts: [string, Parameters<typeof craftMemo>[1], boolean, Name[]][] = [
    ['problemSeqs not pairs', (m) => void (m.payload.problemSeqs = [5]), false, only],
    ['summary null', (m) => void (m.payload.summary = null), false, only],
    ['rows not rows', (m) => void (m.payload.rows = m.payload.rows === null ? null : { bogus: 1 }), false, ['validate']],
    // validate's results answered straight from its columns (finishStored): results no record holds.
    ['validate\'s record ends covering none of its results', (m) => void ((m.payload.rows as { ends?: unknown } | null)?.ends !== undefined && ((m.payload.rows as { ends: number[] }).ends = [])), false, ['validate']],
    // validate's columns (ops/validate.ts StoredValidate), each damaged so that it no longer holds a value per result.
    ['validate\'s names one short', (m) => void (vrows(m) && (vrows(m)!.names = vrows(m)!.names.slice(0, vrows(m)!.names.lastIndexOf('/')))), false, ['validate']],
    ['validate\'s folders naming a word past its words', (m) => void (vrows(m) && (vrows(m)!.folder = columnBytes(columnOf(vrows(m)!.folder, Int32Array)!.fill(999)))), false, ['validate']],
    ['validate\'s validity 2 (counted as a valid result twice)', (m) => void (vrows(m) && (vrows(m)!.valid = columnBytes(columnOf(vrows(m)!.valid, Uint8Array)!.fill(2)))), false, ['validate']],
    ['validate\'s categories null', (m) => void (vrows(m) && (vrows(m)!.category = columnBytes(columnOf(vrows(m)!.category, Int32Array)!.fill(-1)))), false, ['validate']],
    ['validate\'s times not whole f64 values', (m) => void (vrows(m) && (vrows(m)!.time = vrows(m)!.time.slice(0, -4))), false, ['validate']],
    // (Base64 text: what an earlier build wrote there.)
    ['validate\'s sizes not bytes', (m) => void (vrows(m) && ((vrows(m) as { size: unknown }).size = vrows(m)!.size.toString('base64'))), false, ['validate']],
    ['validate\'s record ends falling', (m) => void (vrows(m) && (vrows(m)!.ends = columnBytes(columnOf(vrows(m)!.ends, Uint32Array)!.reverse()))), false, ['validate']],
    ['validate\'s problems at a result it does not hold', (m) => void (vrows(m) && (vrows(m)!.problems = [[1_000_000, []]])), false, ['validate']],
    ['output a number', (m) => void (m.payload.output = m.payload.output === null ? null : 7), false, ['stats', 'stats where', 'format-stats']],
    ['a record reading a file check the memo does not hold (a patch reads them)', (_m, lazy) => void (lazy.deps[0] = [1_000_000]), true, only],
    ['a record fewer than the rows', (_m, lazy) => void (lazy.keys.pop(), lazy.deps.pop(), lazy.tallies.pop(), lazy.bytes.pop(), lazy.groups.pop(), (lazy.seqs.length -= 2)), true, only],
    ['a stored report not an object', (m) => void ((m.payload.output as { report?: unknown } | null)?.report !== undefined && ((m.payload.output as { report: unknown }).report = 7)), false, ['stats', 'stats where']],
    ['stored counts not counts (a patch takes rows out of them)', (m) => void ((m.payload.output as { raw?: unknown } | null)?.raw !== undefined && ((m.payload.output as { raw: unknown }).raw = { root: 5 })), true, []],
  ];
  // The rows region (a command that keeps its output reads a patch's rows there, one at a time):
  // a row that is read and not what a run wrote is a miss; with too few rows or none, every patch.
  const kept: Name[] = ['stats', 'stats where', 'format-stats'];
  const rowCrafts: [string, (region: Buffer) => Buffer, Name[], Name[]?][] = [
    ['the last row not JSON (read by a patch that reads every row)', (r) => Buffer.concat([r.subarray(0, r.length - 2), Buffer.from('{[')]), ['stats where'], ['stats', 'format-stats']],
    ['the first row ending past the region', (r) => (r.writeUInt32LE(0x7fffffff, 4), r), ['stats where']],
    ['fewer rows than records', (r) => Buffer.concat([Buffer.from([1, 0, 0, 0]), r.subarray(4)]), kept],
    ['no rows region at all', () => Buffer.alloc(0), kept],
  ];
  // The records' bytes (the lazy part: discovery/memo-records.ts), damaged with a checksum to match.
  const lazyCrafts: [string, (lazy: Buffer) => Buffer][] = [
    ['the records cut short', (b) => b.subarray(0, b.length - 3)],
    ['the records\' count past their bytes', (b) => (b.writeUInt32LE(0x0fffffff, 0), b)],
    ['a record\'s file checks ending before the one before', (b) => {
      const n = b.readUInt32LE(0);
      const depEnds = 4 + 8 * n + 24 * n + 8 * n;
      if (n > 1) b.writeUInt32LE(0, depEnds + 4);
      return b;
    }],
  ];
  for (const [label, change] of lazyCrafts) {
    const dir = testDir(t, 'isc-memo-craft-');
    const root = join(dir, 'lib');
    makeTree(BASE, root);
    const indexPath = join(dir, 'idx', 'index');
    assert.deepEqual(await warm(root, indexPath, only), [], `${label}: every command has its memo`);
    for (const f of readdirSync(join(dir, 'idx')).filter((n) => /^index\.memo-[0-9a-f]{16}$/.test(n))) craftLazyBytes(join(dir, 'idx', f), change);
    edit(join(root, 'a/IMG_1.json'), flip);
    const hows = await check(root, indexPath, `crafted records: ${label}`, only);
    for (const name of only) assert.notEqual(hows[name][0], 'patched', `${label}: ${name} was patched from crafted records`);
  }
  for (const [label, change, spoiled, patched = []] of rowCrafts) {
    const dir = testDir(t, 'isc-memo-craft-');
    const root = join(dir, 'lib');
    makeTree(BASE, root);
    const indexPath = join(dir, 'idx', 'index');
    assert.deepEqual(await warm(root, indexPath, only), [], `${label}: every command has its memo`);
    for (const f of readdirSync(join(dir, 'idx')).filter((n) => /^index\.memo-[0-9a-f]{16}$/.test(n))) craftRows(join(dir, 'idx', f), (r) => (r.length > 8 ? change(r) : r));
    edit(join(root, 'a/IMG_1.json'), flip);
    const hows = await check(root, indexPath, `crafted rows: ${label}`, only);
    for (const name of spoiled) assert.notEqual(hows[name][0], 'patched', `${label}: ${name} was patched from crafted rows`);
    // A patch of the counts reads the rows it changes, not the others.
    for (const name of patched) assert.equal(hows[name][0], 'patched', `${label}: ${name} read a row it does not change`);
  }
  for (const [label, change, needsPatch, spoiled] of crafts) {
    const dir = testDir(t, 'isc-memo-craft-');
    const root = join(dir, 'lib');
    makeTree(BASE, root);
    const indexPath = join(dir, 'idx', 'index');
    assert.deepEqual(await warm(root, indexPath, only), [], `${label}: every command has its memo`);
    const memoFiles = readdirSync(join(dir, 'idx')).filter((n) => /^index\.memo-[0-9a-f]{16}$/.test(n));
    assert.equal(memoFiles.length, only.length);
    for (const f of memoFiles) craftMemo(join(dir, 'idx', f), change);
    // A patch reads the lazy part: a sidecar edited in place (its folder does not move).
    if (needsPatch) edit(join(root, 'a/IMG_1.json'), flip);
    const hows = await check(root, indexPath, `crafted memo: ${label}`, only);
    for (const name of spoiled) assert.notEqual(hows[name][0], 'whole', `${label}: ${name} was answered by the crafted memo`);
  }
});
