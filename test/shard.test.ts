/**
 * Shards (issue 14): the partition, the guarantee that a shard touches only its own sidecars, and
 * merges that equal the unsharded result on the sample library for N = 1, 2, 3 and 8.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { generateSampleLibrary } from '../src/sample/index.js';
import { nameRoot, parseShard, shardHash, shardKey, shardOfKey, ShardFilter } from '../src/discovery/shard.js';
import { pairDirectory } from '../src/discovery/pair.js';
import { scan } from '../src/ops/scan.js';
import { type ScanRecord } from '../src/scan/records.js';
import { imageExtensionSet } from '../src/discovery/extensions.js';
import { stats } from '../src/ops/stats.js';
import { formatStats } from '../src/ops/format-stats.js';
import { validate, validationTotals, type ValidationReport } from '../src/ops/validate.js';
import { hashTree, verifyTree } from '../src/ops/hash.js';
import { exportSidecars } from '../src/ops/export.js';
import { exportShard, formatStatsShard, hashShard, statsShard, validateShard, type LineSink } from '../src/shard/run.js';
import { mergeShards, mergeValidate, openShards } from '../src/shard/merge.js';
import { staleSidecars, todo } from '../src/ops/todo.js';
import { find } from '../src/ops/find.js';
import { cleanup } from '../src/ops/cleanup.js';
import { convert } from '../src/ops/convert.js';
import { isSidecarError } from '../src/errors.js';
import { passphraseKeyring } from '../src/crypto/keys.js';
import { encodeSidecar } from '../src/formats/codec.js';
import { FAKE_JPEG, putFile, removeTree, sidecarData, tempDir, testDir } from './helpers/tree.js';
import { findPython } from './helpers/python.js';

const ENGINE = { engine: 'inline' as const };

/** A sink that keeps the text (the tests write it to a file themselves). */
class Collect implements LineSink {
  text = '';
  write(s: string): undefined {
    this.text += s;
    return undefined;
  }
}

/** A shard output `f` writes, as the file `name` in `dir` (its path). */
async function writeShard(dir: string, name: string, f: (c: Collect) => Promise<unknown>): Promise<string> {
  const c = new Collect();
  await f(c);
  const p = join(dir, name);
  writeFileSync(p, c.text);
  return p;
}

/** One sample library for the whole file (generated once, removed at the end). */
const sampleBase = tempDir('isc-shard-');
after(() => removeTree(sampleBase));
let samplePromise: Promise<string> | undefined;
function sample(): Promise<string> {
  samplePromise ??= (async () => {
    const dir = join(sampleBase, 'lib');
    await generateSampleLibrary(dir, { images: 400, seed: 14, formatMix: { json: 3, bin: 1, legacy: 1 } });
    return dir;
  })();
  return samplePromise;
}

// ---------------------------------------------------------------------------------------------
// the partition
// ---------------------------------------------------------------------------------------------

test('shardHash is FNV-1a-32 of the UTF-8 bytes, then fmix32 (an independent implementation agrees)', () => {
  const reference = (s: string) => {
    let h = 0x811c9dc5;
    for (const b of Buffer.from(s, 'utf8')) h = Math.imul(h ^ b, 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
  };
  for (const k of ['', 'IMG_1', 'photos/2024-11-30/IMG_0001', 'Été/crème', 'emoji/📷 shot', 'é', 'a\u{10FFFF}b', 'lone\uD800x']) {
    assert.equal(shardHash(k), reference(k), k);
  }
  // Pinned values: the partition must not change between versions (docs/SCALE.md).
  assert.equal(shardHash('IMG_1'), reference('IMG_1'));
  assert.deepEqual(['a/IMG_1', 'a/IMG_2', 'b/IMG_1', 'IMG_1'].map((k) => shardOfKey(k, 8)), ['a/IMG_1', 'a/IMG_2', 'b/IMG_1', 'IMG_1'].map((k) => reference(k) % 8));
  // NFC: the NFD spelling of a name lands where its NFC spelling does.
  assert.equal(shardOfKey('photos/E\u0301te\u0301', 7), shardOfKey('photos/\u00C9t\u00E9', 7));
  // Spread: 10,000 keys over 8 shards, none far from 1/8.
  const counts = new Array(8).fill(0);
  for (let i = 0; i < 10_000; i++) counts[shardOfKey(`photos/2024-${i % 12}/IMG_${i}`, 8)]++;
  for (const c of counts) assert.ok(c > 1100 && c < 1400, `uneven shards: ${counts.join(' ')}`);
});

test('a group never splits: every name of a group has the same partition root (stem and name-ext forms, NFD, several images)', () => {
  const exts = imageExtensionSet();
  const entries = ['IMG_1.jpg', 'IMG_1.json', 'IMG_1.jpg.bin', 'IMG_1.CR2', 'IMG_1.JPG.rkyv', 'E\u0301.jpg', '\u00C9.json', 'lone.json', 'x.jpg.json', 'x.jpg.png', 'a.b.jpg', 'a.b.json', '.hidden.json', 'report.JSON']
    .map((name) => ({ name, kind: 'file' as const }));
  const { groups } = pairDirectory({ path: '/r/d', entries }, exts);
  for (const g of groups) {
    const names = [...g.images, ...g.sidecars].map((x) => x.name);
    assert.equal(new Set(names.map((n) => shardKey('d', n, exts))).size, 1, `group ${names.join(', ')} has several keys`);
  }
  assert.equal(shardKey('d', 'IMG_1.JPG.rkyv', exts), 'd/IMG_1');
  assert.equal(shardKey('d', 'E\u0301.jpg', exts), 'd/\u00C9');
  assert.equal(shardKey('d', 'x.jpg.json', exts), 'd/x');
  assert.equal(shardKey('d', 'a.b.json', exts), 'd/a.b');
  assert.equal(shardKey('', 'lone.json', exts), 'lone');
  assert.equal(nameRoot('report.JSON', exts), 'report.JSON'); // not a sidecar name (extensions are case-sensitive)
  // Every file of a folder is owned by exactly one shard, and a group's files by the same one.
  for (let n = 1; n <= 8; n++) {
    const owners = Array.from({ length: n }, (_, i) => new ShardFilter({ index: i, count: n }, exts).folder('d'));
    for (const e of entries) assert.equal(owners.filter((own) => own(e.name)).length, 1);
    for (const g of groups) {
      const names = [...g.images, ...g.sidecars].map((x) => x.name);
      assert.equal(new Set(names.map((name) => owners.findIndex((own) => own(name)))).size, 1, `group ${names.join(',')} split at N=${n}`);
    }
  }
});

test('a shard pairs only its names, yet a lone sidecar next to a file of its name in another shard is still unknown-image, never an orphan', async (t) => {
  const exts = imageExtensionSet();
  // IMG_7.json pairs with no image; IMG_7.xyz (an image type we do not know) has its stem, but
  // another root (IMG_7.xyz): the two names may land in different shards.
  const root = testDir(t, 'isc-shard-lookalike-');
  mkdirSync(join(root, 'p'));
  const names = ['IMG_7.json', 'IMG_7.xyz', 'img_8.JPG', 'IMG_8.json', 'a.jpg', 'a.json'];
  for (const n of names) writeFileSync(join(root, 'p', n), n.endsWith('.json') ? '{"face_detection":{"success":true,"faces":[]}}' : 'x');
  const split = Array.from({ length: 6 }, (_, k) => k + 2).find((n) => new ShardFilter({ index: 0, count: n }, exts).folder('p')('IMG_7.json') !== new ShardFilter({ index: 0, count: n }, exts).folder('p')('IMG_7.xyz'));
  assert.ok(split !== undefined, 'some N puts the two names in different shards');
  const categories = async (shard?: { index: number; count: number }) => {
    const out: string[] = [];
    for await (const r of scan(root, { ...ENGINE, shard })) out.push(`${r.category}:${[...r.images, ...r.sidecars].map((x) => x.name).join('+')}`);
    return out;
  };
  const whole = await categories();
  assert.ok(whole.includes('unknown-image:IMG_7.json') && whole.includes('unknown-image:IMG_8.json'), whole.join(' '));
  for (const n of [2, 3, split!]) {
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(...(await categories({ index: i, count: n })));
    assert.deepEqual(parts.sort(), [...whole].sort(), `N=${n}`);
  }
});

test('--shard parsing: I/N, auto/N from each scheduler (Slurm from its task minimum, PARALLEL_SEQ 1-based), clear usage errors', () => {
  assert.deepEqual(parseShard('3/8', {}), { index: 3, count: 8, source: 'argument' });
  const k8s = parseShard('auto/8', { JOB_COMPLETION_INDEX: '7', SLURM_ARRAY_TASK_ID: '1' });
  assert.equal(k8s.index, 7);
  assert.equal(k8s.source, 'JOB_COMPLETION_INDEX');
  assert.match(k8s.note!, /JOB_COMPLETION_INDEX=7/);
  assert.equal(parseShard('auto/8', { SLURM_ARRAY_TASK_ID: '5' }).index, 5);
  assert.equal(parseShard('auto/8', { SLURM_ARRAY_TASK_ID: '8', SLURM_ARRAY_TASK_MIN: '1' }).index, 7);
  assert.equal(parseShard('auto/8', { PARALLEL_SEQ: '1' }).index, 0);
  assert.equal(parseShard('auto/8', { PARALLEL_SEQ: '8' }).source, 'PARALLEL_SEQ');
  const bad: [string, NodeJS.ProcessEnv, RegExp][] = [
    ['8/8', {}, /0-based: it must be below N/],
    ['-1/8', {}, /whole number/],
    ['1/0', {}, /N must be a whole number from 1/],
    ['1', {}, /expected I\/N/],
    ['x/2', {}, /whole number \(0-based\) or "auto"/],
    ['auto/4', {}, /needs one of JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID, PARALLEL_SEQ/],
    ['auto/4', { JOB_COMPLETION_INDEX: '4' }, /JOB_COMPLETION_INDEX=4 gives shard 4, outside 0 to 3/],
    ['auto/4', { PARALLEL_SEQ: '0' }, /gives shard -1/],
    ['auto/4', { SLURM_ARRAY_TASK_ID: 'a' }, /not a whole number/],
  ];
  for (const [text, env, msg] of bad) {
    assert.throws(() => parseShard(text, env), (e: unknown) => isSidecarError(e) && e.code === 'USAGE' && msg.test(e.message), `${text} ${JSON.stringify(env)}`);
  }
});

// ---------------------------------------------------------------------------------------------
// shards of the sample library
// ---------------------------------------------------------------------------------------------

const recordFiles = (r: ScanRecord) => [...r.images.map((i) => i.path), ...r.sidecars.filter((s) => s.side === 'local').map((s) => s.path), ...(r.images.length + r.sidecars.length === 0 ? r.findings.flatMap((f) => f.paths) : [])];

test('the shards of the sample library are disjoint and cover it (records, files and hashed files) for N = 1, 2, 3, 8', async (t) => {
  const root = await sample();
  const all: string[] = [];
  for await (const r of scan(root, ENGINE)) all.push(...recordFiles(r));
  const allHashed = new Set((await (await import('../src/integrity/tree-hash.js')).listTree(root, ENGINE)).entries.map((e) => e.key));
  assert.ok(all.length > 400);
  for (const n of [1, 2, 3, 8]) {
    const owner = new Map<string, number>();
    const hashed = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      for await (const r of scan(root, { ...ENGINE, shard: { index: i, count: n } })) {
        for (const f of recordFiles(r)) {
          assert.equal(owner.get(f), undefined, `${f} in shards ${owner.get(f)} and ${i} (N=${n})`);
          owner.set(f, i);
        }
      }
      const { listTree } = await import('../src/integrity/tree-hash.js');
      for (const e of (await listTree(root, { ...ENGINE, shard: { index: i, count: n } })).entries) {
        assert.equal(hashed.get(e.key), undefined, `${e.key} hashed by two shards`);
        hashed.set(e.key, i);
      }
    }
    assert.deepEqual([...owner.keys()].sort(), [...all].sort(), `N=${n}: the shards do not cover the tree`);
    assert.deepEqual([...hashed.keys()].sort(), [...allHashed].sort());
    if (n === 8) assert.ok(new Set(owner.values()).size === 8, 'every shard has work');
  }
});

async function writeShards(dir: string, n: number, run: (i: number, path: string) => Promise<void>): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const paths: string[] = [];
  // Reverse order: merge must not depend on the order the files are given in.
  for (let i = n - 1; i >= 0; i--) {
    const p = join(dir, `shard-${i}.jsonl`);
    await run(i, p);
    paths.push(p);
  }
  return paths;
}

const viaCollect = (f: (sink: Collect) => Promise<unknown>) => async (_i: number, path: string) => {
  const c = new Collect();
  await f(c);
  writeFileSync(path, c.text);
};

const withoutTimes = (r: object) => ({ ...r, processing_time: 0 });

test('merged shards equal the unsharded result for stats, validate, format-stats, hash and export, N = 1, 2, 3, 8', async (t) => {
  const root = await sample();
  const out = testDir(t, 'isc-shard-out-');
  const unsharded = {
    stats: JSON.stringify(await stats(root, ENGINE)),
    statsFace: JSON.stringify(await stats(root, { ...ENGINE, operationType: 'face_detection' })),
    formatStats: JSON.stringify(await formatStats(root, ENGINE)),
    hash: await hashTree(root, ENGINE),
  };
  const results: object[] = [];
  const report = await validate(root, { ...ENGINE, onResult: (r) => void results.push(withoutTimes(r)) });
  const exportPath = join(out, 'unsharded.jsonl');
  await exportSidecars(root, { ...ENGINE, format: 'jsonl', output: exportPath });
  const exportJsonPath = join(out, 'unsharded.json');
  await exportSidecars(root, { ...ENGINE, format: 'json', output: exportJsonPath });
  for (const n of [1, 2, 3, 8]) {
    const shard = (i: number) => ({ ...ENGINE, shard: { index: i, count: n } });
    const d = (name: string) => join(out, `${name}-${n}`);
    const s = await mergeShards(await writeShards(d('stats'), n, (i, p) => viaCollect((c) => statsShard(root, shard(i), c))(i, p)));
    assert.equal(JSON.stringify(s.result), unsharded.stats, `stats N=${n}`);
    const sf = await mergeShards(await writeShards(d('stats-face'), n, (i, p) => viaCollect((c) => statsShard(root, { ...shard(i), operationType: 'face_detection' }, c))(i, p)));
    assert.equal(JSON.stringify(sf.result), unsharded.statsFace, `stats --operation-type N=${n}`);
    const f = await mergeShards(await writeShards(d('format'), n, (i, p) => viaCollect((c) => formatStatsShard(root, shard(i), c))(i, p)));
    assert.equal(JSON.stringify(f.result), unsharded.formatStats, `format-stats N=${n}`);
    const h = await mergeShards(await writeShards(d('hash'), n, (i, p) => viaCollect((c) => hashShard(root, shard(i), c))(i, p)));
    assert.deepEqual(h.result, unsharded.hash, `hash N=${n}`);
    const merged: object[] = [];
    const v = await mergeShards(await writeShards(d('validate'), n, (i, p) => viaCollect((c) => validateShard(root, shard(i), c))(i, p)), { onResult: (r) => void merged.push(withoutTimes(r)) });
    assert.equal(v.command, 'validate');
    assert.equal(JSON.stringify(merged), JSON.stringify(results), `validate results N=${n}`);
    if (v.command === 'validate') assert.deepEqual(validationTotals(v.result.report as ValidationReport), validationTotals(report), `validate totals N=${n}`);
    let text = '';
    const e = await mergeShards(await writeShards(d('export'), n, async (i, p) => void (await exportShard(root, { ...shard(i), output: p }))), { out: { write: (s) => void (text += s) } });
    assert.equal(text, readFileSync(exportPath, 'utf8'), `export jsonl N=${n}`);
    // Shards of -f json (the CLI's default): merged, the document one json run writes (it was JSON lines).
    let doc = '';
    await mergeShards(await writeShards(d('export-json'), n, async (i, p) => void (await exportShard(root, { ...shard(i), format: 'json', output: p }))), { out: { write: (s) => void (doc += s) } });
    assert.equal(doc, readFileSync(exportJsonPath, 'utf8'), `export json N=${n}`);
    if (e.command === 'export') assert.equal(e.result.exported, text.split('\n').length - 1);
  }
  assert.ok(report.invalid_files > 0 && report.scan.complete, 'the sample has invalid files to order');
});

// ---------------------------------------------------------------------------------------------
// a shard reads only its own files
// ---------------------------------------------------------------------------------------------

/** Record every path given to the fs calls that open or stat a file (sync and promise APIs). */
function spyFs(): { paths: Set<string>; restore: () => void } {
  const paths = new Set<string>();
  const undo: (() => void)[] = [];
  const wrap = (obj: Record<string, unknown>, name: string) => {
    const orig = obj[name] as (...a: unknown[]) => unknown;
    if (typeof orig !== 'function') return;
    const spy = Object.assign(function (this: unknown, ...a: unknown[]) {
      if (typeof a[0] === 'string') paths.add(a[0]);
      return orig.apply(this, a);
    }, orig);
    obj[name] = spy;
    undo.push(() => (obj[name] = orig));
  };
  for (const n of ['openSync', 'statSync', 'lstatSync', 'readFileSync', 'existsSync', 'accessSync', 'createReadStream', 'open', 'stat', 'lstat', 'readFile']) wrap(fs as unknown as Record<string, unknown>, n);
  wrap(fs.realpathSync as unknown as Record<string, unknown>, 'native');
  for (const n of ['open', 'stat', 'lstat', 'readFile', 'realpath', 'access']) wrap(fsp as unknown as Record<string, unknown>, n);
  syncBuiltinESMExports();
  return {
    paths,
    restore: () => {
      for (const u of undo.reverse()) u();
      syncBuiltinESMExports();
    },
  };
}

test('a shard never opens or stats the sidecars of another shard (images only as its own links\' targets): fs calls recorded for every shardable command', async (t) => {
  const root = await sample();
  const n = 3;
  // Whose is each file? (from the records of an unsharded scan and the partition)
  const sidecarShard = new Map<string, number>();
  const linkTargets = Array.from({ length: n }, () => new Set<string>());
  for (let i = 0; i < n; i++) {
    for await (const r of scan(root, { ...ENGINE, shard: { index: i, count: n } })) {
      for (const s of r.sidecars) if (s.side === 'local') sidecarShard.set(s.path, i);
      for (const img of r.images) {
        sidecarShard.set(img.path, i);
        if (img.target) linkTargets[i].add(img.target);
      }
    }
  }
  assert.ok(linkTargets.some((l) => l.size > 0), 'the sample has symlinked images');
  const out = testDir(t, 'isc-shard-spy-');
  for (let i = 0; i < n; i++) {
    const spy = spyFs();
    try {
      const shard = { ...ENGINE, shard: { index: i, count: n } };
      await statsShard(root, shard, new Collect());
      await validateShard(root, shard, new Collect());
      await formatStatsShard(root, shard, new Collect());
      await exportShard(root, { ...shard, output: join(out, `e${i}.jsonl`) });
      await hashShard(root, shard, new Collect());
      // The commands that only list, plan or preview their shard.
      await todo(root, { ...shard, operation: 'yolov8', onEntry: () => undefined });
      await staleSidecars(root, { ...shard, onEntry: () => undefined });
      await find(root, { ...shard, where: 'faces >= 1', onEntry: () => undefined });
      await cleanup(root, { ...shard, dryRun: true, force: true });
      await convert(root, 'bin', { ...shard, dryRun: true });
      // The sample has corrupt sidecars: a canonical hash refuses them (after reading only its own).
      await hashShard(root, { ...shard, canonical: true }, new Collect()).catch((e: unknown) => assert.ok(isSidecarError(e) && e.code === 'CORRUPT', String(e)));
    } finally {
      spy.restore();
    }
    const foreign = [...spy.paths].filter((p) => sidecarShard.has(p) && sidecarShard.get(p) !== i);
    // Images of other shards are touched only as the targets of this shard's symlinked images.
    assert.deepEqual(foreign.filter((p) => !linkTargets[i].has(p)), [], `shard ${i} touched files of other shards`);
    const own = [...spy.paths].filter((p) => sidecarShard.get(p) === i && /\.(json|bin|rkyv)$/.test(p));
    assert.ok(own.length > 50, `the spy saw shard ${i} read its own sidecars (${own.length})`);
  }
});

// ---------------------------------------------------------------------------------------------
// merge refuses what is not one run
// ---------------------------------------------------------------------------------------------

test('merge refuses mixed roots, N, commands, options and tool versions, a missing and a duplicate shard, cut files and non-shard files', async (t) => {
  const root = await sample();
  const other = join(testDir(t, 'isc-shard-other-'), 'lib');
  await generateSampleLibrary(other, { images: 20, seed: 2 });
  const dir = testDir(t, 'isc-shard-refuse-');
  const write = (name: string, f: (c: Collect) => Promise<unknown>) => writeShard(dir, name, f);
  const s = (i: number, n: number, extra: object = {}) => ({ ...ENGINE, shard: { index: i, count: n }, ...extra });
  const a0 = await write('a0', (c) => statsShard(root, s(0, 2), c));
  const a1 = await write('a1', (c) => statsShard(root, s(1, 2), c));
  const otherRoot1 = await write('o1', (c) => statsShard(other, s(1, 2), c));
  const three1 = await write('t1', (c) => statsShard(root, s(1, 3), c));
  const op1 = await write('op1', (c) => statsShard(root, s(1, 2, { operationType: 'yolov8' }), c));
  const fmt1 = await write('f1', (c) => formatStatsShard(root, s(1, 2), c));
  const version1 = join(dir, 'v1');
  writeFileSync(version1, readFileSync(a1, 'utf8').replace(/"tool_version":"[^"]*"/, '"tool_version":"0.0.1-other"'));
  const cut = join(dir, 'cut');
  writeFileSync(cut, readFileSync(a1, 'utf8').split('\n')[0] + '\n');
  const plain = join(dir, 'plain.json');
  writeFileSync(plain, JSON.stringify(await stats(root, ENGINE)));
  const cases: [string[], RegExp][] = [
    [[a0, otherRoot1], /disagree on the root/],
    [[a0, three1], /disagree on the shard count N/],
    [[a0, op1], /disagree on the options/],
    [[a0, fmt1], /disagree on the command/],
    [[a0, version1], /disagree on the tool version/],
    [[a0], /missing shard 1 of 2/],
    [[a0, a0, a1], /shard 0 given twice/],
    [[a0, cut], /not a complete shard output: no end line/],
    [[a0, plain], /not a complete shard output/],
    [[], /needs the shard output files/],
  ];
  for (const [paths, msg] of cases) {
    await assert.rejects(mergeShards(paths), (e: unknown) => isSidecarError(e) && e.code === 'USAGE' && msg.test(e.message), `${paths.join(' ')} → ${msg}`);
  }
  assert.equal((await mergeShards([a1, a0])).command, 'stats');
});

test('hash --canonical: merged shards give the unsharded digest; on a tree with undecodable sidecars each shard names its own and the merge gives the whole tree’s answer (no digest, every such file)', async (t) => {
  const root = join(testDir(t, 'isc-shard-canon-'), 'lib');
  await generateSampleLibrary(root, { images: 150, seed: 9, formatMix: { json: 1, bin: 1, legacy: 1 } });
  const undecodable = await hashTree(root, { ...ENGINE, canonical: true }).then(
    () => assert.fail('the sample has corrupt sidecars'),
    (e: unknown) => (isSidecarError(e) && Array.isArray(e.details?.files) ? (e.details!.files as string[]) : assert.fail(String(e))),
  );
  // Each shard names its own undecodable files in a complete shard output (it died with no output:
  // a Job retried for ever, and no merge could give the whole tree's answer); merged, the answer
  // is the whole tree's: no digest, every such file named.
  const refused: string[] = [];
  const badDir = testDir(t, 'isc-shard-canon-bad-');
  const badShards: string[] = [];
  for (let i = 0; i < 3; i++) {
    const c = new Collect();
    const r = await hashShard(root, { ...ENGINE, canonical: true, shard: { index: i, count: 3 } }, c);
    refused.push(...(r.undecodable ?? []));
    badShards.push(join(badDir, `s${i}`));
    writeFileSync(badShards[i], c.text);
  }
  assert.deepEqual(refused.sort(), [...undecodable].sort(), 'each corrupt sidecar is named by exactly its own shard');
  // Such a shard says so in its format version: a merge reading only version 1 refuses it (it gave the digest of the tree without those files).
  for (const p of badShards) {
    const h = JSON.parse(readFileSync(p, 'utf8').split('\n')[0]) as { image_sidecar_shard: number };
    const names = JSON.parse(readFileSync(p, 'utf8').trim().split('\n').pop()!).summary.undecodable as string[] | undefined;
    assert.equal(h.image_sidecar_shard, names !== undefined && names.length > 0 ? 2 : 1, p);
  }
  await assert.rejects(mergeShards(badShards), (e: unknown) => isSidecarError(e) && e.code === 'CORRUPT' && assert.deepEqual(e.details?.files, undecodable) === undefined);
  for (const f of undecodable) fs.rmSync(join(root, f));
  const whole = await hashTree(root, { ...ENGINE, canonical: true });
  const out = testDir(t, 'isc-shard-canon-out-');
  for (const n of [1, 2, 3, 8]) {
    const paths = await writeShards(join(out, String(n)), n, (i, p) => viaCollect((c) => hashShard(root, { ...ENGINE, canonical: true, shard: { index: i, count: n } }, c))(i, p));
    assert.deepEqual((await mergeShards(paths)).result, whole, `N=${n}`);
  }
});

test('hash shards of a tree with paths that cannot be read (a folder and a file name not UTF-8, FIFOs): each path is named by one shard, and merge gives the unsharded answer, bytes and canonical (every shard named a folder it could not read: merge counted it N times)', async (t) => {
  const root = join(testDir(t, 'isc-shard-unread-'), 'lib');
  mkdirSync(join(root, 'a'), { recursive: true });
  for (let i = 0; i < 6; i++) {
    writeFileSync(join(root, 'a', `IMG_${i}.jpg`), 'x');
    writeFileSync(join(root, 'a', `IMG_${i}.json`), JSON.stringify({ sidecar_info: { tool_name: 't' }, n: i }));
  }
  if (spawnSync('mkfifo', [join(root, 'a', 'IMG_9.json'), join(root, 'p.bin')]).status !== 0) return t.skip('mkfifo is not available');
  mkdirSync(Buffer.concat([Buffer.from(join(root, 'bad-')), Buffer.from([0xff])]));
  writeFileSync(Buffer.concat([Buffer.from(join(root, 'a', 'x-')), Buffer.from([0xfe]), Buffer.from('.json')]), '{}');
  for (const canonical of [false, true]) {
    const whole = await hashTree(root, { ...ENGINE, canonical }).then(
      () => assert.fail('no digest'),
      (e: unknown) => (isSidecarError(e) ? e : assert.fail(String(e))),
    );
    assert.equal(whole.details?.unreadable_count, 4, `canonical=${canonical}: ${whole.message}`);
    for (const n of [2, 3, 5]) {
      const paths = await writeShards(join(testDir(t, 'isc-shard-unread-out-'), String(n)), n, (i, p) => viaCollect((c) => hashShard(root, { ...ENGINE, canonical, shard: { index: i, count: n } }, c))(i, p));
      await assert.rejects(mergeShards(paths), (e: unknown) => {
        assert.ok(isSidecarError(e));
        assert.deepEqual([e.code, e.message, e.details], [whole.code, whole.message, whole.details], `canonical=${canonical} N=${n}`);
        return true;
      });
    }
  }
});

test('merge checks every end line and every item before it writes anything: a summary missing, null, with a count as text, and a shard cut in the middle are refused (they crashed, merged as "NaN" and "1819", or streamed half the results)', async (t) => {
  const root = await sample();
  const dir = testDir(t, 'isc-shard-ends-');
  const s = (i: number) => ({ ...ENGINE, shard: { index: i, count: 2 } });
  const write = (name: string, f: (c: Collect) => Promise<unknown>) => writeShard(dir, name, f);
  const stats0 = await write('st0', (c) => statsShard(root, s(0), c));
  const stats1 = await write('st1', (c) => statsShard(root, s(1), c));
  const val0 = await write('va0', (c) => validateShard(root, s(0), c));
  const val1 = await write('va1', (c) => validateShard(root, s(1), c));
  const exp0 = join(dir, 'ex0');
  const exp1 = join(dir, 'ex1');
  await exportShard(root, { ...s(0), output: exp0 });
  await exportShard(root, { ...s(1), output: exp1 });
  // The end line replaced, the items kept.
  const withEnd = (from: string, name: string, end: (items: number, summary: Record<string, unknown>) => unknown) => {
    const lines = readFileSync(from, 'utf8').split('\n');
    const old = JSON.parse(lines[lines.length - 2]) as { items: number; summary: Record<string, unknown> };
    lines[lines.length - 2] = JSON.stringify(end(old.items, old.summary));
    const p = join(dir, name);
    writeFileSync(p, lines.join('\n'));
    return p;
  };
  const textCount = withEnd(stats0, 'st0-text', (items, summary) => ({ end: true, items, summary: { ...summary, faces: String(summary.faces) } }));
  const fmt0 = await write('fs0', (c) => formatStatsShard(root, s(0), c));
  const fmt1 = await write('fs1', (c) => formatStatsShard(root, s(1), c));
  const cases: [string[], RegExp][] = [
    [[withEnd(val0, 'va0-none', (items) => ({ end: true, items })), val1], /summary is missing/],
    [[withEnd(stats0, 'st0-null', (items) => ({ end: true, items, summary: null })), stats1], /summary is null, not an object/],
    [[withEnd(exp0, 'ex0-empty', (items) => ({ end: true, items, summary: {} })), exp1], /summary\.exported is missing/],
    [[textCount, stats1], /summary\.faces is text \("\d+"\), not a count/],
    [[withEnd(val0, 'va0-items', (_items, summary) => ({ end: true, items: -1, summary })), val1], /item count is -1, not a count/],
    // A member no writer makes (it was added to Object's own: "function Object() { [native code] }1").
    [[withEnd(fmt0, 'fs0-member', (items, summary) => ({ end: true, items, summary: { ...summary, format_distribution: { ...(summary.format_distribution as object), constructor: 1 } } })), fmt1], /summary\.format_distribution\.constructor is no member of it/],
    // Counts that are not its items ("Exported 1002 images" from 2 lines).
    [[withEnd(exp0, 'ex0-count', (items, summary) => ({ end: true, items, summary: { ...summary, exported: items + 1000 } })), exp1], /its summary counts \d+ images, its end line \d+ items/],
  ];
  // A shard with lines cut from its middle (header and end line kept): refused before the first line goes out.
  const lines = readFileSync(exp1, 'utf8').split('\n');
  assert.ok(lines.length > 10, 'the export shard has items');
  const cut = join(dir, 'ex1-cut');
  writeFileSync(cut, [...lines.slice(0, 3), ...lines.slice(6)].join('\n'));
  cases.push([[exp0, cut], /\d+ items, the end line says \d+/]);
  for (const [paths, msg] of cases) {
    let written = 0;
    await assert.rejects(
      mergeShards(paths, { out: { write: () => void written++ }, onResult: () => void written++ }),
      (e: unknown) => isSidecarError(e) && e.code === 'USAGE' && msg.test(e.message),
      `${paths.join(' ')} → ${msg}`,
    );
    assert.equal(written, 0, `nothing written before the refusal of ${paths[0]}`);
  }
  // The shards as written still merge.
  for (const pair of [[stats0, stats1], [val0, val1], [exp0, exp1], [fmt0, fmt1]]) await mergeShards(pair, { out: { write: () => undefined } });
  // Keys from file names are counts whatever they are called: `constructor` and `__proto__` add up as numbers.
  const ext = (from: string, name: string) => withEnd(from, name, (items, summary) => ({ end: true, items, summary: { ...summary, extension_distribution: JSON.parse('{"constructor": 2, "__proto__": 3}') } }));
  const odd2 = await mergeShards([ext(fmt0, 'fs0-ext'), ext(fmt1, 'fs1-ext')]);
  assert.ok(odd2.command === 'format-stats');
  assert.deepEqual(JSON.parse(JSON.stringify(odd2.result.extension_distribution)), JSON.parse('{"__proto__": 6, "constructor": 4}'));
  // Every command's shards, and a tree with a folder the walk reports (its problem at position -1 of
  // the folder, which the first shape refused: one bad folder stopped the whole merge).
  const odd = join(testDir(t, 'isc-shard-ends-odd-'), 'lib');
  await generateSampleLibrary(odd, { images: 30, seed: 5 });
  mkdirSync(Buffer.concat([Buffer.from(`${odd}/bad`), Buffer.from([0xff])]));
  const runs: [string, (i: number, c: Collect) => Promise<unknown>][] = [
    ['stats', (i, c) => statsShard(odd, s(i), c)],
    ['format-stats', (i, c) => formatStatsShard(odd, s(i), c)],
    ['validate', (i, c) => validateShard(odd, s(i), c)],
    // hash refuses a tree the walk could not read whole (as the unsharded run): the sample's.
    ['hash', (i, c) => hashShard(root, s(i), c)],
    ['hash-canonical', (i, c) => hashShard(root, { ...s(i), canonical: true }, c)],
  ];
  for (const [name, run] of runs) {
    const paths = [await write(`${name}-0`, (c) => run(0, c)), await write(`${name}-1`, (c) => run(1, c))];
    await mergeShards(paths, { out: { write: () => undefined } }).catch((e: unknown) => {
      // hash --canonical of a tree with undecodable sidecars: the whole tree's answer, not a refusal of the shards.
      if (!(name === 'hash-canonical' && isSidecarError(e) && e.code === 'CORRUPT')) throw e;
    });
  }
  const val = [await write('odd-va0', (c) => validateShard(odd, s(0), c)), await write('odd-va1', (c) => validateShard(odd, s(1), c))];
  const merged = await mergeShards(val, { onResult: () => undefined });
  assert.ok(merged.command === 'validate' && merged.result.report.scan.problems.some((p) => p.code === 'USAGE' || /UTF-8/.test(p.message)), JSON.stringify(merged.command === 'validate' && merged.result.report.scan.problems));
  const d0 = join(dir, 'ds0');
  const d1 = join(dir, 'ds1');
  const { exportDatasetShard } = await import('../src/shard/run.js');
  await exportDatasetShard(odd, { ...s(0), format: 'coco', output: d0 });
  await exportDatasetShard(odd, { ...s(1), format: 'coco', output: d1 });
  await mergeShards([d0, d1], { output: join(dir, 'coco.json') });
});

test('the Python partition in docs/SCALE.md gives the same shards as the library (other tools can compute them)', { skip: findPython() === null ? 'python3 not found' : false }, () => {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/SCALE.md', import.meta.url)), 'utf8');
  const code = /```python\n([\s\S]*?)```/.exec(doc)![1];
  const exts = imageExtensionSet();
  const cases: [string, string][] = [
    ['photos/2024-11-30', 'IMG_0001.jpg'], ['photos/2024-11-30', 'IMG_0001.JPG.rkyv'], ['', 'lone.json'], ['Été', 'E\u0301te\u0301.jpg.json'],
    ['d', 'report.JSON'], ['d', '.hidden.json'], ['d', 'a.b.json'], ['d', 'x.jpg.png'], ['d/e', 'IMG_1.CR3.bin'], ['📷', 'shot.heic'], ['d', 'trailing.'],
  ];
  const script = `${code}\nimport json, sys\nexts = set(json.loads(sys.argv[1]))\nprint(json.dumps([shard_of(f, n, k, exts) for f, n in json.loads(sys.argv[2]) for k in (1, 2, 3, 8, 1000)]))\n`;
  const r = spawnSync(findPython()!, ['-c', script, JSON.stringify([...exts]), JSON.stringify(cases)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const expected = cases.flatMap(([f, n]) => [1, 2, 3, 8, 1000].map((k) => shardOfKey(shardKey(f, n, exts), k)));
  assert.deepEqual(JSON.parse(r.stdout) as number[], expected);
});

test('a shard output replaced between the checks and the reading of its items (a shard rerun during the merge) is refused, never merged as half old, half new', async (t) => {
  const root = join(testDir(t, 'isc-shard-rerun-'), 'lib');
  mkdirSync(root, { recursive: true });
  for (const n of ['a', 'b', 'c']) {
    writeFileSync(join(root, `${n}.jpg`), 'x');
    writeFileSync(join(root, `${n}.json`), JSON.stringify({ face_detection: { success: true, faces: [] } }));
  }
  const out = join(testDir(t, 'isc-shard-rerun-out-'), 'v0.jsonl');
  const run = async () => {
    const c = new Collect();
    await validateShard(root, { ...ENGINE, shard: { index: 0, count: 1 } }, c);
    const tmp = `${out}.tmp`;
    writeFileSync(tmp, c.text);
    fs.renameSync(tmp, out); // as the CLI's -o replaces it: atomically
  };
  await run();
  const files = await openShards([out]); // header and end line checked: 3 valid files
  assert.equal((files[0].trailer.summary as { invalid_files: number }).invalid_files, 0);
  // The shard runs again meanwhile, on a tree where b.json went bad: same number of items.
  writeFileSync(join(root, 'b.json'), '{"face_detection": ');
  await run();
  const results: { is_valid: boolean }[] = [];
  let merged: Awaited<ReturnType<typeof mergeValidate>> | undefined;
  try {
    merged = await mergeValidate(files, (r) => {
      results.push(r as { is_valid: boolean });
    });
  } catch (e) {
    assert.ok(isSidecarError(e) && e.code === 'USAGE' && /changed since it was checked/.test(e.message), String(e));
    return;
  }
  // Without the check: the items of the new file with the totals of the old one.
  assert.equal(results.filter((r) => !r.is_valid).length, merged.report.invalid_files, 'results and totals come from different runs of the shard');
});

test('shards run with one passphrase merge (each process draws its own salt for new encryptions); another passphrase is refused', async (t) => {
  const root = join(testDir(t, 'isc-shard-pass-'), 'lib');
  mkdirSync(root, { recursive: true });
  const writer = passphraseKeyring('correct horse');
  for (let i = 0; i < 12; i++) {
    writeFileSync(join(root, `IMG_${i}.jpg`), 'x');
    writeFileSync(join(root, `IMG_${i}.bin`), encodeSidecar({ face_detection: { success: true, faces: [] } }, 'bin', { encryptWith: writer.keys[0] }));
  }
  const out = testDir(t, 'isc-shard-pass-out-');
  const shardFile = async (i: number, pass: string) => {
    const c = new Collect();
    // A keyring per shard, as each job's process makes its own from IMAGE_SIDECAR_PASSPHRASE.
    await statsShard(root, { ...ENGINE, keyring: passphraseKeyring(pass), shard: { index: i, count: 2 } }, c);
    const p = join(out, `s${i}-${pass.length}.jsonl`);
    writeFileSync(p, c.text);
    return p;
  };
  const files = [await shardFile(0, 'correct horse'), await shardFile(1, 'correct horse')];
  const merged = await mergeShards(files);
  const whole = await stats(root, { ...ENGINE, keyring: passphraseKeyring('correct horse') });
  assert.equal(JSON.stringify(merged.result), JSON.stringify(whole));
  assert.equal((whole as { categories: Record<string, number> }).categories.encrypted ?? 0, 0);
  const other = await shardFile(1, 'battery staple');
  await assert.rejects(mergeShards([files[0], other]), (e: unknown) => isSidecarError(e) && /disagree on the options/.test(e.message));
  // No secret in the header: neither passphrase appears.
  for (const f of [...files, other]) assert.ok(!/correct horse|battery staple/.test(readFileSync(f, 'utf8')));
});

test('a stats shard whose end line is longer than a few MiB (a tree with 20,000 long operation names) merges', async (t) => {
  const root = join(testDir(t, 'isc-shard-wide-'), 'lib');
  mkdirSync(root, { recursive: true });
  for (let i = 0; i < 4; i++) {
    writeFileSync(join(root, `IMG_${i}.jpg`), 'x');
    // sidecar_info: ours (another tool's file is not counted, docs/PAIRING.md §7).
    const data: Record<string, unknown> = { sidecar_info: {} };
    // Long names rather than more of them: the line's length is what this attacks, and the time goes by operations.
    for (let j = 0; j < 5_000; j++) data[`op_${i}_${j}_${'y'.repeat(200)}`] = { success: true, processing_time: 0.5 };
    writeFileSync(join(root, `IMG_${i}.json`), JSON.stringify(data));
  }
  const out = testDir(t, 'isc-shard-wide-out-');
  const files: string[] = [];
  for (let i = 0; i < 2; i++) {
    const c = new Collect();
    await statsShard(root, { ...ENGINE, shard: { index: i, count: 2 } }, c);
    const lines = c.text.split('\n');
    assert.ok(Buffer.byteLength(lines[lines.length - 2]) > 5 * 1024 * 1024, 'the end line is not long enough to test this');
    files.push(join(out, `s${i}.jsonl`));
    writeFileSync(files[i], c.text);
  }
  const merged = await mergeShards(files);
  assert.equal(JSON.stringify(merged.result), JSON.stringify(await stats(root, ENGINE)));
  // A file cut inside its long end line is still refused.
  const cut = join(out, 'cut.jsonl');
  writeFileSync(cut, readFileSync(files[1]).subarray(0, -1000));
  await assert.rejects(mergeShards([files[0], cut]), (e: unknown) => isSidecarError(e) && /not a complete shard output/.test(e.message));
});

test('merge --manifest inside the tree leaves that manifest out of the digest, as hash --manifest does: merging again over an unchanged tree gives the same digest (the shards had hashed the one the last merge wrote)', async (t) => {
  const root = testDir(t);
  for (let i = 0; i < 6; i++) {
    putFile(root, `p/IMG_${i}.jpg`, FAKE_JPEG);
    putFile(root, `p/IMG_${i}.json`, JSON.stringify(sidecarData(`IMG_${i}.jpg`, 1, 4)));
  }
  const out = testDir(t, 'isc-shard-out-');
  const manifest = join(root, 'p/m.json');
  const plain = await hashTree(root, { ...ENGINE, manifest });
  const digests: string[] = [];
  for (let run = 0; run < 2; run++) {
    const paths = await writeShards(join(out, `run${run}`), 2, (i, p) => viaCollect((c) => hashShard(root, { ...ENGINE, shard: { index: i, count: 2 } }, c))(i, p));
    const m = await mergeShards(paths, { manifest });
    digests.push((m.result as { digest: string }).digest);
    assert.deepEqual(m.result, plain, `merge ${run + 1}: the unsharded answer`);
  }
  assert.equal(digests[0], digests[1]);
  assert.deepEqual(await verifyTree(root, manifest), { ok: true, missing: [], changed: [], extra: [], checked: plain.files });
});

test('merge refuses a stats or format-stats shard whose end line counts items (those shards write none), and a stats summary naming another root than its header', async (t) => {
  const root = testDir(t);
  putFile(root, 'p/IMG_0.jpg', FAKE_JPEG);
  putFile(root, 'p/IMG_0.json', JSON.stringify(sidecarData('IMG_0.jpg', 1, 4)));
  const out = testDir(t, 'isc-shard-out-');
  for (const [name, run] of [['stats', statsShard], ['format-stats', formatStatsShard]] as const) {
    const paths = await writeShards(join(out, name), 2, (i, p) => viaCollect((c) => run(root, { ...ENGINE, shard: { index: i, count: 2 } }, c))(i, p));
    const text = readFileSync(paths[0], 'utf8');
    writeFileSync(paths[0], text.replace(/\{"end":true,"items":0,/, '{"end":true,"items":5,'));
    await assert.rejects(mergeShards(paths), (e: unknown) => isSidecarError(e) && e.code === 'USAGE' && /counts 5 items, and a (stats|format-stats) shard writes none/.test(e.message), name);
    if (name === 'stats') {
      // A summary naming another root than its header's (the merged report's directory came from it).
      const at = text.lastIndexOf(`"root":${JSON.stringify(root)}`); // the summary's (the header's comes first)
      writeFileSync(paths[0], `${text.slice(0, at)}"root":"/elsewhere"${text.slice(at + `"root":${JSON.stringify(root)}`.length)}`);
      await assert.rejects(mergeShards(paths), (e: unknown) => isSidecarError(e) && e.code === 'USAGE' && /its summary's root "\/elsewhere" is not its header's/.test(e.message));
    }
  }
});
