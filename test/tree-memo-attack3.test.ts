/**
 * Attacks on the tree memo's patch of stored counts (ops/stats.ts patchOutput / removeRow,
 * ops/format-stats.ts patchFormatStats, memo format 7's rows region): after every change, stats
 * and format-stats with the index give exactly (deepStrictEqual: -0 is not 0) what they give with
 * `index: false`, and a memo or delta crafted by hand is a miss or a fallback, never a crash or
 * counts made of parts no run writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { encodeSidecar, formatStats, keyFromBytes, stats, type IndexOptions, type IndexRunStats, type SidecarKey, type StatsOptions } from '../src/index.js';
import type { JsonObject } from '../src/types.js';
import { craftDelta, craftMemo, craftRows, type How } from './helpers/memo.js';
import { FAKE_JPEG, makeTree, testDir, type TreeNode } from './helpers/tree.js';
import { mulberry32 } from './helpers/mulberry32.js';

/** Set a key, `__proto__` included (an own key, as JSON.parse makes it). */
const own = (o: Record<string, unknown>, k: string, v: unknown) => Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });

/** One operation of a sidecar: its processing time (absent: undefined), success, faces. */
interface Op {
  t?: unknown;
  ok?: unknown;
  faces?: number;
}
/** A sidecar of these operations (key form), with a quality grade when given. */
function side(ops: Record<string, Op>, grade?: string): string {
  const out: Record<string, unknown> = {};
  for (const [name, op] of Object.entries(ops)) {
    const node: Record<string, unknown> = {};
    if (op.ok !== undefined) node.success = op.ok;
    node.faces = Array.from({ length: op.faces ?? 0 }, (_, i) => ({ face_id: i, bbox: { x: 0, y: 0, width: 1, height: 1 }, confidence: 0.9 }));
    node.metadata = op.t === undefined ? {} : { processing_time: op.t };
    if (grade !== undefined && name === Object.keys(ops)[0]) node.quality = { grade, overall_score: 0.5 };
    own(out, name, node);
  }
  return JSON.stringify(out, null, 2);
}
/** A sidecar of ours whatever its operations: `sidecar_info` first (unknown operations alone make another tool's file, docs/PAIRING.md §7). */
const ours = (text: string) => text.replace(/^\{/, '{"sidecar_info": {},');
/** `-0` as a JSON text (JSON.stringify writes 0). */
const negZeroTimes = (text: string) => text.replace(/"processing_time": "NEGZERO"/g, '"processing_time": -0.0');

type Cmd = (w: boolean) => Promise<unknown>;
function cmds(root: string, indexPath: string, runs: How[]): Record<string, Cmd> {
  const index: IndexOptions = { path: indexPath, racyMarginMs: 0, onStats: (s: IndexRunStats) => runs.push(s.memo ? (s.memoPatched ? 'patched' : 'whole') : 'none') };
  const ix = (w: boolean) => (w ? index : false);
  const st = (o: StatsOptions) => (w: boolean) => stats(root, { ...o, index: ix(w) });
  return {
    stats: st({}),
    'stats op': st({ operationType: 'face_detection' }),
    'stats where': st({ where: 'faces >= 1' }),
    'stats where time': st({ where: 'processing_time.face_detection > 0 or yolov8 failed' }),
    'stats op proto': st({ operationType: '__proto__' }),
    // With a list or a folder table, a patch counts every row again (finish): its rows are read from the memo.
    'stats list': st({ list: true, where: 'not has constructor' }),
    'stats folders': st({ folders: 1 }),
    'format-stats': (w) => formatStats(root, { index: ix(w) }),
  };
}

/** A run's output, or its error's message (an error is an output too: the same with the index). */
const settle = (p: Promise<unknown>) => p.then((ok) => ({ ok }), (e: Error) => ({ error: `${e.name}: ${e.message}` }));

/** Run `name` with the index `times` times, each deepStrictEqual to --no-index; returns how each was answered. */
async function same(root: string, indexPath: string, name: string, label: string, times = 2): Promise<How[]> {
  const plain = await settle(cmds(root, indexPath, [])[name](false));
  const runs: How[] = [];
  const run = cmds(root, indexPath, runs)[name];
  for (let i = 0; i < times; i++) {
    const got = await settle(run(true));
    assert.deepStrictEqual(got, plain, `${label}: ${name} run ${i + 1} (${runs.join(',')}) differs from --no-index`);
  }
  return runs;
}
/** Warm `name` until its memo answers whole. */
async function warm(root: string, indexPath: string, name: string): Promise<void> {
  const runs = await same(root, indexPath, name, 'warm', 4);
  assert.equal(runs.at(-1), 'whole', `warm ${name}: ${runs.join(',')}`);
}
const deltasIn = (idx: string) => readdirSync(idx).filter((n) => /\.memo-[0-9a-f]{16}\.delta$/.test(n));

function tree(dir: string, n: number, sidecar: (i: number) => string | Buffer): { root: string; indexPath: string; idx: string } {
  const spec: Record<string, TreeNode> = {};
  for (let i = 0; i < n; i++) {
    spec[`d${i % 3}/IMG_${i}.jpg`] = FAKE_JPEG;
    spec[`d${i % 3}/IMG_${i}.json`] = sidecar(i);
  }
  const root = join(dir, 'lib');
  makeTree(spec, root);
  const idx = join(dir, 'idx');
  return { root, indexPath: join(idx, 'index'), idx };
}

test('stats: a time of -0 beside others, then the others\' times taken away: the average is -0 as counted from scratch (a memo\'s rows went through JSON text, which writes -0 as 0)', async (t) => {
  const dir = testDir(t, 'isc-memo-atk3-');
  // IMG_0 has face_detection at -0; the others 5 s.
  const { root, indexPath } = tree(dir, 20, (i) => negZeroTimes(side({ face_detection: { t: i === 0 ? 'NEGZERO' : 5, ok: true, faces: 1 } })));
  // Runs that could make a memo (the rows were read from the spool as JSON: -0 came back 0).
  for (const name of ['stats', 'stats op']) await same(root, indexPath, name, 'warm', 4);
  // One by one, the other records lose their time (a patch each, were there a memo).
  for (let i = 1; i < 20; i++) {
    writeFileSync(join(root, `d${i % 3}/IMG_${i}.json`), side({ face_detection: { ok: true, faces: 1 } }));
    for (const name of ['stats', 'stats op']) await same(root, indexPath, name, `time of IMG_${i} removed`);
  }
  const last = (await stats(root, { index: false })).avg_processing_times.face_detection;
  assert.ok(Object.is(last, -0), `the average left is -0 (${last})`);
});

test('stats: a sidecar\'s time becomes -0 after the memo, then the others lose theirs: every run equals --no-index', async (t) => {
  const dir = testDir(t, 'isc-memo-atk3-');
  const { root, indexPath } = tree(dir, 20, () => side({ face_detection: { t: 5, ok: true, faces: 1 } }));
  for (const name of ['stats', 'stats op']) await warm(root, indexPath, name);
  writeFileSync(join(root, 'd0/IMG_0.json'), negZeroTimes(side({ face_detection: { t: 'NEGZERO', ok: true, faces: 1 } })));
  for (const name of ['stats', 'stats op']) assert.ok((await same(root, indexPath, name, 'IMG_0 at -0')).includes('patched'));
  for (let i = 1; i < 20; i++) {
    writeFileSync(join(root, `d${i % 3}/IMG_${i}.json`), side({ face_detection: { ok: true, faces: 1 } }));
    for (const name of ['stats', 'stats op']) await same(root, indexPath, name, `time of IMG_${i} removed`);
  }
});

const OPS = ['face_detection', 'yolov8', '__proto__', 'constructor', 'toString', 'quality_assessment'];
const TIMES: unknown[] = [undefined, 0, 0.1, 0.2, 0.3, 1e15, -1e15, 1e15 + 0.125, 2e15, -3, 1e-300, 5e-324, 123.456, 'x', null, 1e308, 0.1 + 0.2];
const OKS: unknown[] = [undefined, true, false, 'yes', 1];
const GRADES: (string | undefined)[] = [undefined, 'A', 'B', '__proto__', 'constructor', ''];

/** A random sidecar: mostly JSON of random operations, else corrupt, empty, bin or encrypted bin content. */
function randomSidecar(r: () => number, key: SidecarKey): string | Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const ops: Record<string, Op> = {};
  for (const op of OPS) if (r() < 0.35) own(ops, op, { t: pick(TIMES), ok: pick(OKS), faces: Math.floor(r() * 13) });
  const text = side(ops, pick(GRADES));
  const k = r();
  if (k < 0.75) return text;
  if (k < 0.8) return '{"face_detection": {"faces": [';
  if (k < 0.84) return '';
  const data = JSON.parse(text) as JsonObject;
  if (Object.keys(data).length === 0) return text;
  if (k < 0.93) return encodeSidecar(data, 'bin');
  return encodeSidecar(data, 'bin', { encryptWith: key });
}

test('stats, format-stats: random in-place edits of one to three sidecars at a time (operations, times, success flags, grades, faces buckets, corrupt, empty, bin, encrypted): every run equals --no-index', async (t) => {
  const dir = testDir(t, 'isc-memo-atk3-');
  const r = mulberry32(Number(process.env.ATK3_SEED ?? 0x5eed17));
  const key = keyFromBytes(Buffer.alloc(32, 7));
  const N = 30;
  const { root, indexPath, idx } = tree(dir, N, (i) => side({ face_detection: { t: 0.25, ok: true, faces: 1 }, yolov8: { t: 0.5, ok: true }, ...(i % 5 === 0 ? { ['__proto__']: { t: 1, ok: false } } : {}) }, 'A'));
  const names = Object.keys(cmds(root, indexPath, []));
  for (const name of names) await warm(root, indexPath, name);
  const seen = new Set<string>();
  const STEPS = Number(process.env.ATK3_STEPS ?? 40);
  for (let step = 0; step < STEPS; step++) {
    const k = 1 + Math.floor(r() * 3);
    const changed: number[] = [];
    for (let j = 0; j < k; j++) {
      const i = Math.floor(r() * N);
      changed.push(i);
      writeFileSync(join(root, `d${i % 3}/IMG_${i}.json`), randomSidecar(r, key));
    }
    for (const name of names) for (const h of await same(root, indexPath, name, `step ${step} (IMG_${changed.join(', IMG_')})`)) seen.add(h === 'none' ? h : `${name}:${h}`);
    if (deltasIn(idx).length > 0) seen.add('delta');
  }
  assert.ok(seen.has('delta'), [...seen].join(','));
  for (const name of names) assert.ok(seen.has(`${name}:patched`) && seen.has(`${name}:whole`), `${name}: ${[...seen].join(',')}`);
});

const memosIn = (idx: string) => readdirSync(idx).filter((n) => /\.memo-[0-9a-f]{16}$/.test(n));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = Record<string, any>;
/** The stored counts of stats' memo output (or of a delta's output). */
const rawOf = (output: unknown) => (output as { raw: Raw }).raw;

/**
 * Crafted counts beside a stored stats report, shaped as `raw()` never makes them: a patch (one
 * sidecar edited in place) must fall back to counting every row, or miss; never count from them.
 * Each: the change to the stored counts, the sidecar written for IMG_1 (before: face_detection and
 * yolov8 with times, success, one face).
 */
const RAW_CRAFTS: [string, (raw: Raw) => void, string?][] = [
  ['an operation count at 0 (a key raw() never leaves)', (r) => void (r.opCounts.ghost = 0, r.sizeSum.ghost = 0)],
  ['a negative count of a grade no changed row has', (r) => void (r.grades.Z = -2)],
  ['a count that is not an integer', (r) => void (r.opCounts.face_detection += 0.5)],
  ['a time sum of an operation without timed records, the edited sidecar then times it', (r) => void (r.timeSum.ghost = [1000]), side({ face_detection: { t: 0.25, ok: true, faces: 1 }, yolov8: { t: 0.5, ok: true }, ghost: { t: 1 } })],
  ['timed records without a time sum, the edited sidecar times that operation', (r) => void delete r.timeSum.yolov8, side({ face_detection: { t: 0.25, ok: true, faces: 1 }, ghost: { t: 1 } })],
  ['time partials that overflow when added up', (r) => void (r.timeSum.face_detection = [1.7e308, 1.7e308])],
  ['an identity count beside the three', (r) => void (r.identity.bogus = 3)],
  ['an identity count missing', (r) => void delete r.identity.stale],
  ['sizes of an operation never counted, the edited sidecar then has it', (r) => void (r.sizeSum.ghost = 7), side({ face_detection: { t: 0.25, ok: true, faces: 1 }, yolov8: { t: 0.5, ok: true }, ghost: { t: 1 } })],
  ['successes above the records that said', (r) => void (r.succ.yolov8 = r.succN.yolov8 + 5)],
  ['a negative face total', (r) => void (r.faces = -40)],
  ['sidecars counted fewer than their formats', (r) => void (r.sidecarsCounted = 1)],
];

test('crafted memo: stored counts not shaped as raw() makes them are never patched (a fallback to every row, or a miss)', async (t) => {
  const failed: string[] = [];
  for (const [label, craft, write] of RAW_CRAFTS) {
    const dir = testDir(t, 'isc-memo-atk3-');
    const { root, indexPath, idx } = tree(dir, 20, (i) => side({ face_detection: { t: 0.25 + i, ok: i % 2 === 0, faces: i % 3 }, yolov8: { t: 0.5, ok: true } }, i % 4 === 0 ? 'A' : undefined));
    await warm(root, indexPath, 'stats');
    for (const f of memosIn(idx)) craftMemo(join(idx, f), (m) => void craft(rawOf(m.payload.output)));
    writeFileSync(join(root, 'd1/IMG_1.json'), write ?? side({ face_detection: { t: 9, ok: true, faces: 12 }, yolov8: { t: 0.5, ok: false } }, 'B'));
    await same(root, indexPath, 'stats', `crafted counts: ${label}`, 3).catch((e: Error) => failed.push(e.message.split('\n')[0]));
  }
  assert.deepEqual(failed, []);
});

/** format-stats' stored counts shaped as no run makes them: a patch falls back to every row, or misses. */
const FORMAT_CRAFTS: [string, (out: Raw) => void][] = [
  ['an extension counted 0 times (a key no count leaves)', (o) => void (o.extension_distribution.rkyv = 0)],
  ['an extension no sidecar has', (o) => void ((o.extension_distribution.png = 2), (o.format_distribution.Json += 2), (o.total_files += 2))],
  ['a total that is not the sum of the formats', (o) => void (o.total_files += 3)],
  ['formats that do not add up to the extensions', (o) => void (o.format_distribution.Legacy += 4, o.total_files += 4)],
];

test('crafted memo: format-stats counts not shaped as a run makes them are never patched', async (t) => {
  const failed: string[] = [];
  for (const [label, craft] of FORMAT_CRAFTS) {
    const dir = testDir(t, 'isc-memo-atk3-');
    const { root, indexPath, idx } = tree(dir, 20, (i) => side({ face_detection: { t: 0.25 + i, ok: true, faces: 1 } }));
    await warm(root, indexPath, 'format-stats');
    for (const f of memosIn(idx)) craftMemo(join(idx, f), (m) => void craft(m.payload.output as Raw));
    writeFileSync(join(root, 'd1/IMG_1.json'), '{');
    await same(root, indexPath, 'format-stats', `crafted format counts: ${label}`, 3).catch((e: Error) => failed.push(e.message.split('\n')[0]));
  }
  assert.deepEqual(failed, []);
});

/** A memo's rows region with `change` applied to each row (parsed JSON; returns the row to write, as a value). */
function changeRows(region: Buffer, change: (row: Raw, i: number) => unknown): Buffer {
  const n = region.readUInt32LE(0);
  const texts: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < n; i++) {
    const to = region.readUInt32LE(4 + 4 * i);
    const row = JSON.parse(region.toString('utf8', 4 + 4 * n + from, 4 + 4 * n + to)) as Raw;
    texts.push(Buffer.from(JSON.stringify(change(row, i))));
    from = to;
  }
  const table = Buffer.alloc(4 + 4 * n);
  table.writeUInt32LE(n, 0);
  let end = 0;
  texts.forEach((x, i) => table.writeUInt32LE((end += x.length), 4 + 4 * i));
  return Buffer.concat([table, ...texts]);
}

/**
 * Crafted rows (the rows region a patch reads), shaped as rowOf never makes them. `mine`: the
 * changed record's own row (the one a patch takes out of the counts); else every other row (read
 * when a patch counts every row again: here, because the changed sidecar's new time is -0).
 */
const ROW_CRAFTS: [string, boolean, (row: Raw) => unknown][] = [
  ['the changed row holds an operation twice', true, (r) => ({ ...r, eff: { ...r.eff, ops: [...r.eff.ops, r.eff.ops[0]] } })],
  ['the changed row has negative sidecar files', true, (r) => ({ ...r, files: -5 })],
  ['the changed row has negative images', true, (r) => ({ ...r, images: -3 })],
  ['the changed row\'s time is beyond what is averaged', true, (r) => ({ ...r, eff: { ...r.eff, ops: r.eff.ops.map((o: unknown[]) => [o[0], o[1], 1e300, o[3]]) } })],
  ['the changed row\'s size is negative', true, (r) => ({ ...r, eff: { ...r.eff, ops: r.eff.ops.map((o: unknown[]) => [o[0], -7, o[2], o[3]]) } })],
  ['another row\'s files a text', false, (r) => ({ ...r, files: '7' })],
  ['another row\'s operation list not a list', false, (r) => ({ ...r, eff: { ...r.eff, ops: 5 } })],
  ['another row null', false, () => null],
];

test('crafted memo: rows not shaped as rowOf makes them, read by a patch, are never counted', async (t) => {
  const failed: string[] = [];
  for (const [label, mine, craft] of ROW_CRAFTS) {
    const dir = testDir(t, 'isc-memo-atk3-');
    // IMG_1's row is told apart by its 7 faces.
    const { root, indexPath, idx } = tree(dir, 20, (i) => side({ face_detection: { t: 0.25 + i, ok: true, faces: i === 1 ? 7 : 1 }, yolov8: { t: 2, ok: false } }));
    await warm(root, indexPath, 'stats');
    for (const f of memosIn(idx)) craftRows(join(idx, f), (region) => changeRows(region, (row) => ((row.eff?.faces === 7) === mine ? craft(row) : row)));
    // A new time of -0: the patch counts every row again (ops/stats.ts patchOutput).
    writeFileSync(join(root, 'd1/IMG_1.json'), mine ? side({ face_detection: { t: 3, ok: true, faces: 2 } }) : negZeroTimes(side({ face_detection: { t: 'NEGZERO', ok: true, faces: 2 }, yolov8: { t: 2, ok: false } })));
    await same(root, indexPath, 'stats', `crafted rows: ${label}`, 3).catch((e: Error) => failed.push(e.message.split('\n')[0]));
  }
  assert.deepEqual(failed, []);
});

test('crafted delta: the counts of a delta\'s output not shaped as raw() makes them are never patched either', async (t) => {
  const failed: string[] = [];
  for (const [label, craft] of RAW_CRAFTS) {
    const dir = testDir(t, 'isc-memo-atk3-');
    const { root, indexPath, idx } = tree(dir, 30, (i) => side({ face_detection: { t: 0.25 + i, ok: i % 2 === 0, faces: i % 3 }, yolov8: { t: 0.5, ok: true } }, i % 4 === 0 ? 'A' : undefined));
    await warm(root, indexPath, 'stats');
    writeFileSync(join(root, 'd2/IMG_2.json'), side({ face_detection: { t: 4, ok: true, faces: 2 } }));
    assert.deepEqual(await same(root, indexPath, 'stats', 'a delta made'), ['patched', 'whole']);
    assert.equal(deltasIn(idx).length, 1);
    for (const f of deltasIn(idx)) craftDelta(join(idx, f), (body) => void craft(rawOf(body.output)));
    writeFileSync(join(root, 'd1/IMG_1.json'), side({ face_detection: { t: 9, ok: true, faces: 12 }, yolov8: { t: 0.5, ok: false }, ghost: { t: 1 } }, 'B'));
    await same(root, indexPath, 'stats', `crafted delta counts: ${label}`, 3).catch((e: Error) => failed.push(e.message.split('\n')[0]));
  }
  assert.deepEqual(failed, []);
});

/**
 * A richer library: records of a .json and a .bin sidecar, of a name-ext sidecar, orphans, image
 * links in another folder (to images in the library), records whose sidecar holds its image's
 * identity (current or stale). Random in-place edits of any sidecar file (its bytes JSON or bin
 * whatever its extension), times of -0 among them.
 */
test('stats, format-stats: random in-place edits in a library of pairs, name-ext sidecars, orphans, image links and image identities (-0 times too): every run equals --no-index', async (t) => {
  const dir = testDir(t, 'isc-memo-atk3-');
  const r = mulberry32(Number(process.env.ATK3_SEED ?? 0xa77ac3));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const key = keyFromBytes(Buffer.alloc(32, 9));
  const spec: Record<string, TreeNode> = {};
  const files: string[] = [];
  const imageOf = new Map<string, string>();
  for (let i = 0; i < 36; i++) {
    const d = `d${i % 4}`;
    spec[`${d}/IMG_${i}.jpg`] = FAKE_JPEG;
    const names = i % 6 === 0 ? [`IMG_${i}.json`, `IMG_${i}.bin`] : i % 6 === 1 ? [`IMG_${i}.jpg.json`] : i % 6 === 2 ? [`IMG_${i}.json`, `IMG_${i}.jpg.json`] : [`IMG_${i}.json`];
    for (const n of names) {
      spec[`${d}/${n}`] = side({ face_detection: { t: 0.5, ok: true, faces: 1 }, ...(i % 5 === 0 ? { ['__proto__']: { t: 2, ok: true } } : {}) });
      files.push(`${d}/${n}`);
      imageOf.set(`${d}/${n}`, `${d}/IMG_${i}.jpg`);
    }
  }
  for (let i = 0; i < 4; i++) {
    spec[`d${i}/orphan_${i}.json`] = side({ yolov8: { t: 1, ok: true } });
    files.push(`d${i}/orphan_${i}.json`);
  }
  for (const i of [3, 4, 5, 9]) spec[`g/IMG_${i}.jpg`] = { symlink: `../d${i % 4}/IMG_${i}.jpg` };
  const root = join(dir, 'lib');
  makeTree(spec, root);
  const indexPath = join(dir, 'idx', 'index');
  const idx = join(dir, 'idx');
  const names = Object.keys(cmds(root, indexPath, []));
  for (const name of names) await warm(root, indexPath, name);
  /** A random sidecar for `rel`: random operations (with -0 times), sometimes the image's identity (as it is, or another), sometimes other bytes. */
  const content = (rel: string): string | Buffer => {
    const ops: Record<string, Op> = {};
    for (const op of OPS) if (r() < 0.4) own(ops, op, { t: pick([...TIMES, 'NEGZERO']), ok: pick(OKS), faces: Math.floor(r() * 13) });
    const data = JSON.parse(side(ops, pick(GRADES))) as Record<string, unknown>;
    const img = imageOf.get(rel);
    if (img !== undefined && r() < 0.4) {
      const st = statSync(join(root, img), { bigint: true });
      const mtime = r() < 0.6 ? st.mtimeNs : st.mtimeNs - 1000n;
      data.sidecar_info = { operation_type: 'face_detection', image: { size: Number(st.size), mtime_ns: mtime.toString(), operations: Object.keys(data) } };
    }
    const text = negZeroTimes(JSON.stringify(data, null, 2));
    const k = r();
    if (k < 0.8 || Object.keys(data).length === 0) return text;
    if (k < 0.85) return '[1, 2';
    if (k < 0.93) return encodeSidecar(data as JsonObject, 'bin');
    return encodeSidecar(data as JsonObject, 'bin', { encryptWith: key });
  };
  const seen = new Set<string>();
  const STEPS = Number(process.env.ATK3_STEPS ?? 30);
  for (let step = 0; step < STEPS; step++) {
    const changed: string[] = [];
    for (let j = 1 + Math.floor(r() * 3); j > 0; j--) {
      const f = pick(files);
      changed.push(f);
      writeFileSync(join(root, f), content(f));
    }
    for (const name of names) for (const h of await same(root, indexPath, name, `step ${step} (${changed.join(', ')})`)) seen.add(h === 'none' ? h : `${name}:${h}`);
    if (deltasIn(idx).length > 0) seen.add('delta');
  }
  assert.ok(seen.has('delta'), [...seen].join(','));
  for (const name of names) assert.ok(seen.has(`${name}:patched`) && seen.has(`${name}:whole`), `${name}: ${[...seen].join(',')}`);
});

/** A child process running stats (plain, --operation-type, --where) and format-stats with the index over `root`, `rounds` times. */
function child(root: string, indexPath: string, rounds: number): Promise<{ code: number | null; err: string }> {
  const lib = fileURLToPath(new URL('../src/index.js', import.meta.url));
  const script = `
const { stats, formatStats } = await import(${JSON.stringify(lib)});
const index = { path: ${JSON.stringify(indexPath)}, racyMarginMs: 0 };
const root = ${JSON.stringify(root)};
for (let i = 0; i < ${rounds}; i++) {
  await stats(root, { index });
  await stats(root, { index, operationType: 'face_detection' });
  await stats(root, { index, where: 'faces >= 1' });
  await formatStats(root, { index });
}
`;
  const c = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((res) => c.on('close', (code) => res({ code, err })));
}

test('processes patching the counts at once while sidecars change under them: none fails, and once the edits stop every run equals --no-index', async (t) => {
  const dir = testDir(t, 'isc-memo-atk3-');
  const r = mulberry32(77);
  const N = 30;
  const { root, indexPath } = tree(dir, N, (i) => side({ face_detection: { t: 0.5 + i, ok: true, faces: i % 3 }, yolov8: { t: 1, ok: i % 2 === 0 } }));
  const names = ['stats', 'stats op', 'stats where', 'format-stats'];
  for (const name of names) await warm(root, indexPath, name);
  let edits = 0;
  for (let phase = 0; phase < 3; phase++) {
    const kids = [0, 1, 2].map(() => child(root, indexPath, 12));
    let running = true;
    const done = Promise.all(kids).finally(() => (running = false));
    // Edits while the children run: each a size no earlier content of that file had (a rewrite is
    // never taken for the content it replaced, whatever the clock's tick: racyMarginMs is 0).
    while (running) {
      const i = Math.floor(r() * N);
      const ops: Record<string, Op> = { face_detection: { t: Math.floor(r() * 5) / 4, ok: r() < 0.5, faces: Math.floor(r() * 12) } };
      if (r() < 0.5) ops.yolov8 = { t: r() < 0.3 ? 0.1 + 0.2 : 2, ok: true };
      writeFileSync(join(root, `d${i % 3}/IMG_${i}.json`), side(ops) + ' '.repeat(++edits));
      await new Promise((res) => setTimeout(res, 15));
    }
    for (const k of await done) assert.equal(k.code, 0, k.err);
    if (process.env.ATK3_VERBOSE) console.log(`phase ${phase}: ${edits} edits`);
    for (const name of names) await same(root, indexPath, name, `after phase ${phase} (${edits} edits)`, 3);
  }
});

test('stats: an operation, a grade, a success count and the 10+ faces bucket held by one sidecar fall to 0 (gone, as never counted) and come back, move to another sidecar, through patches and deltas', async (t) => {
  const dir = testDir(t, 'isc-memo-atk3-');
  const plain = side({ face_detection: { t: 0.3, ok: true, faces: 1 } });
  const rare = (t: number, ok: boolean | undefined, faces: number) => side({ face_detection: { t: 0.3, ok: true, faces: 1 }, rare_op: { t, ok, faces } }, 'Z');
  const { root, indexPath, idx } = tree(dir, 30, (i) => (i === 5 ? rare(0.1, false, 11) : plain));
  const at = (i: number) => join(root, `d${i % 3}/IMG_${i}.json`);
  for (const name of ['stats', 'stats op']) await warm(root, indexPath, name);
  const steps: [string, () => void, boolean][] = [
    ['the one sidecar with rare_op loses it', () => writeFileSync(at(5), plain), false],
    ['it comes back, succeeding, 0.2 s', () => writeFileSync(at(5), rare(0.2, true, 10)), true],
    ['it moves to another sidecar in the same step', () => (writeFileSync(at(5), plain), writeFileSync(at(7), rare(0.1 + 0.2, undefined, 12))), true],
    ['and to a third, without a time', () => (writeFileSync(at(7), plain), writeFileSync(at(8), ours(side({ rare_op: { ok: false } }, 'Z')))), true],
    ['gone again', () => writeFileSync(at(8), plain), false],
    ['back where it began', () => writeFileSync(at(5), rare(0.1, false, 11)), true],
  ];
  for (const [label, change, present] of steps) {
    change();
    for (const name of ['stats', 'stats op']) {
      const runs = await same(root, indexPath, name, label);
      assert.equal(runs[0], 'patched', `${label}: ${name} ${runs.join(',')}`);
    }
    const out = await stats(root, { index: { path: indexPath, racyMarginMs: 0 } });
    assert.equal('rare_op' in out.operation_counts, present, label);
    assert.equal('Z' in out.quality_grades, present, label);
    if (!present) {
      for (const k of [out.avg_processing_times, out.success_rate_percentages, out.avg_data_sizes]) assert.ok(!('rare_op' in k), label);
      assert.ok(!('10+' in out.faces.per_image_histogram), label);
    }
  }
  assert.ok(deltasIn(idx).length > 0 || memosIn(idx).length > 0);
});

test('stats --where that no sidecar matches (any more, after a patch): a report of no counts, not a TypeError out of the unknown-operation check', async (t) => {
  const dir = testDir(t, 'isc-memo-atk3-');
  const { root, indexPath } = tree(dir, 20, (i) => side({ face_detection: { t: 0.3, ok: true, faces: i === 4 ? 6 : 1 } }));
  const run = (w: boolean, runs: How[] = []) => stats(root, { where: 'faces >= 5', index: w ? { path: indexPath, racyMarginMs: 0, onStats: (s) => void runs.push(s.memo ? (s.memoPatched ? 'patched' : 'whole') : 'none') } : false });
  for (let i = 0; i < 3; i++) assert.deepStrictEqual(await run(true), await run(false));
  writeFileSync(join(root, 'd1/IMG_4.json'), side({ face_detection: { t: 0.3, ok: true, faces: 2 } }));
  const plain = await run(false);
  assert.equal(plain.total_sidecars, 0);
  assert.deepEqual(plain.operation_counts, {});
  const runs: How[] = [];
  for (let i = 0; i < 2; i++) assert.deepStrictEqual(await run(true, runs), plain);
  // --operation-type with a typo still is a usage error when nothing holds it.
  await assert.rejects(stats(root, { operationType: 'face_detecton', index: false }), /unknown operation "face_detecton"/);
});
