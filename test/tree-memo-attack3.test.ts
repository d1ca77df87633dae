/**
 * Attacks on the tree memo's patch of stored counts (ops/stats.ts patchOutput / removeRow,
 * ops/format-stats.ts patchFormatStats, memo format 7's rows region): after every change, stats
 * and format-stats with the index give exactly (deepStrictEqual: -0 is not 0) what they give with
 * `index: false`, and a memo or delta crafted by hand is a miss or a fallback, never a crash or
 * counts made of parts no run writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSidecar, formatStats, keyFromBytes, stats, type IndexOptions, type IndexRunStats, type SidecarKey, type StatsOptions } from '../src/index.js';
import type { JsonObject } from '../src/types.js';
import type { How } from './helpers/memo.js';
import { FAKE_JPEG, makeTree, testDir, type TreeNode } from './helpers/tree.js';

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

/** A small seeded generator (mulberry32): the same steps on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
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
  const r = rng(0x5eed17);
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
    for (const name of names) for (const h of await same(root, indexPath, name, `step ${step} (IMG_${changed.join(', IMG_')})`)) seen.add(h);
    if (deltasIn(idx).length > 0) seen.add('delta');
  }
  assert.ok(seen.has('patched') && seen.has('whole') && seen.has('delta'), [...seen].join(','));
});
