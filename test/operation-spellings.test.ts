/**
 * One operation stored under two spellings in one sidecar: an older pipeline's `Face_detector`
 * (or the earlier tool's `FaceDetection`) next to `face_detection` saved since. The key spelled as
 * the operation's name decides; without one, the first of the other spellings in file order
 * (analysis/operations.ts forEachDecidingOperation). The summary used to keep the first key's
 * success flag and sum both keys' faces: `todo` listed an image as failed after a successful
 * `face_detection` save forever (a `todo | xargs detect` loop never ended), `find 'face_detection
 * failed'` matched it, the success rate counted the old flag and faces were counted twice.
 *
 * Attacked with every combination of old spelling × new key × success flag (true, false, none) ×
 * faces × key order, through the library (summary, todo, find, stats, validate) and the CLI
 * (todo, find, stats, validate, read), against a model written here from the rule alone.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { summarizeSidecar, operationOutcomes } from '../src/analysis/summary.js';
import { encodeSidecar } from '../src/formats/codec.js';
import { todo } from '../src/ops/todo.js';
import { find } from '../src/ops/find.js';
import { stats } from '../src/ops/stats.js';
import { validate } from '../src/ops/validate.js';
import { saveSidecar } from '../src/ops/save.js';
import { findOperationKey } from '../src/cli/read-view.js';
import { parseJson, runCli } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, testDir, type TreeNode } from './helpers/tree.js';
import type { JsonObject } from '../src/types.js';

type Flag = boolean | undefined;
/** One key of face detection in a sidecar: its spelling, success flag and number of faces. */
interface KeySpec {
  key: string;
  success: Flag;
  faces: number;
}
interface Case {
  name: string;
  keys: KeySpec[];
  /** A yolov8 result with this many objects (0: none), after the face keys. */
  objects: number;
  format: 'json' | 'bin';
}

const OLD = ['Face_detector', 'FaceDetection'];
const FLAGS: Flag[] = [true, false, undefined];

function result(k: KeySpec): JsonObject {
  const faces = Array.from({ length: k.faces }, (_, i) => ({ face_id: i, bbox: { x: 0.1, y: 0.2, width: 0.3, height: 0.4 }, confidence: 0.9 }));
  return (k.success === undefined ? { faces } : { success: k.success, faces }) as JsonObject;
}

function dataOf(c: Case): JsonObject {
  const data: JsonObject = {};
  for (const k of c.keys) data[k.key] = result(k);
  if (c.objects > 0) data.yolov8 = { success: true, objects: Array.from({ length: c.objects }, (_, i) => ({ object_id: i, class_name: 'person', confidence: 0.8 })) } as JsonObject;
  return data;
}

/** The rule, as the docs say it: `face_detection` decides, else the first other spelling. */
function deciding(c: Case): KeySpec | null {
  return c.keys.find((k) => k.key === 'face_detection') ?? c.keys[0] ?? null;
}

/** Every combination: no key, one key, an old and the new key in both orders, two old spellings, all three. */
function cases(): Case[] {
  const out: Case[] = [];
  const olds: KeySpec[] = [];
  for (const key of OLD) for (const success of FLAGS) for (const faces of [0, 2]) olds.push({ key, success, faces });
  const news: KeySpec[] = [];
  for (const success of FLAGS) for (const faces of [0, 1, 3]) news.push({ key: 'face_detection', success, faces });
  const sets: KeySpec[][] = [[]];
  for (const o of olds) sets.push([o]);
  for (const n of news) sets.push([n]);
  for (const o of olds) for (const n of news) sets.push([o, n], [n, o]);
  // Two old spellings (no new key), and all three in a few orders.
  for (const a of olds.filter((k) => k.key === 'Face_detector')) for (const b of olds.filter((k) => k.key === 'FaceDetection' && k.success !== a.success)) sets.push([a, b], [b, a]);
  for (const n of news.filter((k) => k.faces === 1)) sets.push([olds[3], olds[7], n], [olds[7], n, olds[3]], [n, olds[3], olds[7]]);
  sets.forEach((keys, i) => out.push({ name: `c${String(i).padStart(3, '0')}`, keys, objects: i % 3 === 0 ? 2 : 0, format: i % 2 === 0 ? 'json' : 'bin' }));
  return out;
}

const CASES = cases();

function buildTree(root: string): string {
  const spec: Record<string, TreeNode> = {};
  for (const c of CASES) {
    spec[`lib/${c.name}.jpg`] = FAKE_JPEG;
    spec[`lib/${c.name}.${c.format}`] = c.format === 'json' ? JSON.stringify(dataOf(c), null, 2) : encodeSidecar(dataOf(c), 'bin');
  }
  return join(makeTree(spec, root), 'lib');
}

/** What each command must say of the tree, from the model. */
function expected() {
  const todo: Record<string, string> = {};
  const failed: string[] = [];
  const succeeded: string[] = [];
  const facesOf: Record<string, number> = {};
  let withOp = 0;
  let flags = 0;
  let ok = 0;
  let faces = 0;
  for (const c of CASES) {
    const d = deciding(c);
    const image = `${c.name}.jpg`;
    facesOf[image] = d?.faces ?? 0;
    faces += d?.faces ?? 0;
    if (d === null) todo[image] = 'no-result';
    else {
      withOp++;
      if (d.success === false) {
        todo[image] = 'failed';
        failed.push(image);
      }
      if (d.success === true) succeeded.push(image);
      if (d.success !== undefined) {
        flags++;
        if (d.success) ok++;
      }
    }
  }
  return { todo, failed, succeeded, facesOf, withOp, faces, rate: Math.round((ok / flags) * 100 * 1e6) / 1e6 };
}

describe('one operation under two spellings: the key spelled as its name decides', () => {
  it('the summary and the todo outcomes of every combination follow the rule', () => {
    for (const c of CASES) {
      for (const order of [c.keys, [...c.keys].reverse()]) {
        const k = { ...c, keys: order };
        const d = deciding(k);
        const data = dataOf(k);
        const s = summarizeSidecar(data);
        const what = JSON.stringify(data);
        assert.equal(s.faces, d?.faces ?? 0, `faces of ${what}`);
        assert.equal(s.detectionCount, (d?.faces ?? 0) + k.objects, `detection count of ${what}`);
        assert.equal(s.operations.filter((o) => o === 'face_detection').length, d ? 1 : 0, `operations of ${what}`);
        assert.equal(s.success.face_detection, d?.success, `success of ${what}`);
        const outcomes = operationOutcomes(data);
        assert.equal(outcomes.face_detection, d ? (d.success ?? null) : undefined, `todo outcome of ${what}`);
        // `read --operation` shows the deciding key, whatever spelling is asked for.
        for (const asked of ['face_detection', 'Face_detector', 'FaceDetection']) assert.equal(findOperationKey(data, asked), d?.key ?? null, `read --operation ${asked} of ${what}`);
      }
    }
  });

  it('the same rule in the other stored forms: wrapped in {sidecar_info, data}, nested backends', () => {
    for (const c of CASES) {
      if (c.keys.length === 0) continue; // {sidecar_info, data: {}} is the wrapped form of operation_type itself
      const d = deciding(c);
      const plain = dataOf(c);
      const wrapped = { sidecar_info: { operation_type: 'face_detection' }, data: plain } as JsonObject;
      const nested: JsonObject = {};
      for (const key of Object.keys(plain)) nested[key] = key === 'yolov8' ? plain[key] : ({ insightface: plain[key] } as JsonObject);
      for (const data of [wrapped, nested]) {
        const s = summarizeSidecar(data);
        assert.equal(s.faces, d?.faces ?? 0, JSON.stringify(data));
        assert.equal(s.success.face_detection, d?.success, JSON.stringify(data));
        assert.equal(operationOutcomes(data).face_detection, d ? (d.success ?? null) : undefined, JSON.stringify(data));
      }
    }
  });

  it('library: todo, find, stats and validate over a tree of every combination (json and bin, inline and threads)', async (t) => {
    const lib = buildTree(testDir(t));
    const want = expected();
    for (const engine of [{ engine: 'inline' as const }, { engine: 'threads' as const, workers: 2 }]) {
      const opts = { ...engine, index: false as const };
      const td = await todo(lib, { ...opts, operation: 'face_detection' });
      assert.deepEqual(Object.fromEntries(td.entries!.map((e) => [e.rel, e.reason])), want.todo, `todo (${engine.engine})`);
      assert.equal(td.counts.done, CASES.length - Object.keys(want.todo).length);
      for (const op of ['Face_detector', 'FaceDetection']) assert.deepEqual(Object.fromEntries((await todo(lib, { ...opts, operation: op })).entries!.map((e) => [e.rel, e.reason])), want.todo, `todo ${op}`);

      const rels = async (where: string) => (await find(lib, { ...opts, where })).entries!.map((e) => e.rel).sort();
      assert.deepEqual(await rels('face_detection failed'), want.failed, 'find failed');
      assert.deepEqual(await rels('Face_detector failed'), want.failed, 'find Face_detector failed');
      assert.deepEqual(await rels('face_detection succeeded'), want.succeeded, 'find succeeded');
      for (const n of [0, 1, 2, 3, 4, 5]) assert.deepEqual(await rels(`faces == ${n}`), Object.keys(want.facesOf).filter((k) => want.facesOf[k] === n).sort(), `find faces == ${n}`);

      const st = await stats(lib, opts);
      assert.equal(st.operation_counts.face_detection, want.withOp, 'operation_counts');
      assert.equal(st.success_rate_percentages.face_detection, want.rate, 'success rate');
      assert.equal(st.faces.total, want.faces, 'faces total');
      const hist: Record<string, number> = {};
      for (const n of Object.values(want.facesOf)) hist[String(n)] = (hist[String(n)] ?? 0) + 1;
      assert.deepEqual(st.faces.per_image_histogram, hist, 'faces per image');

      const v = await validate(lib, opts);
      for (const r of v.results!) {
        const name = r.file_path.slice(r.file_path.lastIndexOf('/') + 1).replace(/\.(json|bin)$/, '');
        const c = CASES.find((x) => x.name === name)!;
        assert.equal(r.detection_count, (deciding(c)?.faces ?? 0) + c.objects, `validate detection_count of ${name}`);
      }
    }
  });

  it('CLI: todo, find, stats, validate and read agree with the model (twice: the index answers the second run)', async (t) => {
    const lib = buildTree(testDir(t));
    const want = expected();
    for (let run = 0; run < 2; run++) {
      const td = await runCli(['todo', lib, '--operation', 'Face_detector', '--jsonl', '-q']);
      const listed = td.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { image: string; reason: string });
      assert.deepEqual(Object.fromEntries(listed.map((e) => [e.image.slice(e.image.lastIndexOf('/') + 1), e.reason])), want.todo, `todo, run ${run}`);
      const found = await runCli(['find', lib, '--where', 'face_detection failed', '-q']);
      assert.deepEqual(found.stdout.trim().split('\n').filter(Boolean).map((p) => p.slice(p.lastIndexOf('/') + 1)).sort(), want.failed, `find, run ${run}`);
      const st = parseJson<Record<string, any>>(await runCli(['stats', lib, '--json', '-q']));
      assert.equal(st.success_rate_percentages.face_detection, want.rate, `stats success rate, run ${run}`);
      assert.equal(st.faces.total, want.faces, `stats faces, run ${run}`);
      assert.equal(st.operation_counts.face_detection, want.withOp, `stats operation_counts, run ${run}`);
      const v = parseJson<{ results: { file_path: string; detection_count: number }[] }>(await runCli(['validate', lib, '--json', '-q']));
      assert.equal(v.results.reduce((a, r) => a + r.detection_count, 0), want.faces + CASES.reduce((a, c) => a + c.objects, 0), `validate detection counts, run ${run}`);
    }
    // read --summary of one image per combination shape (a few: each is a process).
    for (const c of CASES.filter((x) => x.keys.length >= 2).slice(0, 6)) {
      const r = parseJson<Record<string, any>>(await runCli(['read', join(lib, `${c.name}.jpg`), '--summary', '--json']));
      assert.equal(r.faces, deciding(c)!.faces, `read --summary faces of ${c.name}`);
      assert.equal(r.success.face_detection, deciding(c)!.success, `read --summary success of ${c.name}`);
    }
  });

  it('a `todo | detect` loop ends: a successful save under face_detection takes every image off the list, whatever older key it holds', async (t) => {
    const lib = buildTree(testDir(t));
    const opts = { engine: 'inline' as const, index: false as const };
    let rounds = 0;
    for (;;) {
      const listed = (await todo(lib, { ...opts, operation: 'face_detection' })).entries!;
      if (listed.length === 0) break;
      assert.ok(++rounds <= 1, `round ${rounds} still lists ${listed.map((e) => `${e.rel} (${e.reason})`).join(', ')}`);
      for (const e of listed) await saveSidecar(e.path, 'face_detection', { success: true, faces: [{ bbox: { x: 0, y: 0, width: 1, height: 1 } }] });
    }
    // And the statistics say what the saves did: every flag now says success.
    const st = await stats(lib, opts);
    assert.equal(st.success_rate_percentages.face_detection, 100);
    assert.equal(st.operation_counts.face_detection, CASES.length);
    assert.deepEqual((await find(lib, { ...opts, where: 'face_detection failed' })).entries, []);
  });
});
