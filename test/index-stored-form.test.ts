/**
 * The one stored form of a result in the index (tasks/index-entry.ts fileEntry, storedResult): the
 * packed row, and for the fields its columns do not carry the batch's escape, v8-serialized after
 * it. Attacks on it:
 * - results served from the index equal a run without it, field for field (bigints, -0, an own
 *   `__proto__` key, nested key order), for stats, validate and todo (probes), inline and in worker
 *   threads; in worker threads the same text, key order included (a hit comes back as the wire
 *   delivers a result); an error naming the file names the path of the run that serves it;
 * - a result whose escape is far bigger than PACKED_RESULT_ROOM is stored (the room bounds the row) and served;
 * - a row the form cannot hold (a lone surrogate in a summary string) keeps its brief and summary in the escape;
 * - a damaged escape: truncated or any byte changed, the decoder never throws; in the index file a
 *   changed byte is a miss (the entry's CRC), never a crash or another result;
 * - an index of the format before (version 4) is rebuilt with a warning, never an error.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serialize } from 'node:v8';
import { scan, type IndexOptions } from '../src/index.js';
import { INDEX_FORMAT_VERSION, INDEX_MAGIC, madeResult } from '../src/incremental/store.js';
import { fileEntry, PATH_MARK, storedResult } from '../src/tasks/index-entry.js';
import { PACKED_RESULT_ROOM, PACKED_RESULT_TAG } from '../src/tasks/inspect-wire.js';
import { IdentityScratch } from '../src/fs/identity.js';
import { rowOf } from './helpers/packed-row.js';
import { FAKE_JPEG, makeTree, sidecarData, testDir, type TreeNode } from './helpers/tree.js';
import type { InspectOptions, FileInspection } from '../src/model/inspection.js';
import type { IndexRunStats } from '../src/model/index-options.js';

/** A big image mtime (past 2^53: a bigint in the image record). */
const BIG_MTIME = '1700000000123456789';

function library(t: TestContext): string {
  const spec: Record<string, TreeNode> = {};
  const photo = (rel: string, data: unknown) => {
    spec[`${rel}.jpg`] = FAKE_JPEG;
    spec[`${rel}.json`] = typeof data === 'string' ? data : { json: data as Record<string, unknown> };
  };
  for (let i = 0; i < 6; i++) photo(`plain/p${i}`, sidecarData(`p${i}.jpg`, i % 3, 4));
  // An image record (a bigint mtime) and -0 times: the summary and the probe travel whole, in the escape.
  const withImage = (name: string, ops: number) => {
    const d = sidecarData(name, 1, 4) as { sidecar_info: Record<string, unknown>; face_detection: { metadata: Record<string, unknown> } };
    d.face_detection.metadata.processing_time = -0;
    d.sidecar_info.image = { size: 12, mtime_ns: BIG_MTIME, operations: Array.from({ length: ops }, (_, k) => `op-${k}-${'x'.repeat(40)}`), stale_operations: ['yolov8'] };
    return JSON.stringify(d).replace('"processing_time":0', '"processing_time":-0.0');
  };
  photo('odd/image-record', withImage('image-record.jpg', 3));
  // An escape far past the row's room: 2,000 operation names in the image record (~100 KB).
  photo('odd/huge-escape', withImage('huge-escape.jpg', 2000));
  // An operation named __proto__ (an own key in the probe's outcomes), and keys out of order.
  photo('odd/proto', '{"__proto__": {"success": true}, "yolov8": {"success": false, "objects": []}, "face_detection": {"success": true, "faces": []}}');
  // Notes (a BOM), an error naming the file (not JSON), problems (a bad confidence).
  photo('odd/bom', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(sidecarData('bom.jpg', 1, 4)))]).toString('latin1'));
  photo('odd/broken', '{"face_detection": {"success": true, "faces": [1, 2');
  const bad = sidecarData('bad.jpg', 2, 4) as { face_detection: { faces: { confidence: unknown }[] } };
  bad.face_detection.faces[0].confidence = 7;
  bad.face_detection.faces[1].confidence = 'high';
  photo('odd/problems', bad);
  // A lone surrogate in a summary string: the row cannot hold it.
  photo('odd/lone', '{"face_detection": {"success": true, "faces": [], "metadata": {"detector": "det \\ud800"}}}');
  const root = makeTree(spec, testDir(t, 'index-stored-form-'));
  // The BOM file was written as latin1 text: write its bytes.
  writeFileSync(join(root, 'odd/bom.json'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(sidecarData('bom.jpg', 1, 4)))]));
  return root;
}

const COMMANDS: Record<string, InspectOptions> = {
  stats: { summarize: true },
  validate: { validate: true, brief: true },
  todo: { probe: true },
};

/** A value as text: bigints and -0 spelled out, the clock zeroed; `sortTop`: a result's own keys sorted (key order not compared there). */
function text(v: unknown, sortTop = false): string {
  return JSON.stringify(v, function (this: unknown, k, x: unknown) {
    if (k === 'elapsedMs') return 0;
    if (typeof x === 'bigint') return `${x}n`;
    if (Object.is(x, -0)) return '-0';
    if (sortTop && x !== null && typeof x === 'object' && !Array.isArray(x) && Object.hasOwn(x, 'elapsedMs')) {
      const o = x as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().map((key) => [key, o[key]]));
    }
    return x;
  });
}

async function inspections(root: string, inspect: InspectOptions, index: IndexOptions | false, engine: 'inline' | 'threads'): Promise<FileInspection[]> {
  const session = scan(root, { index, inspect, engine, workers: 2, batchSize: 4 });
  const out: FileInspection[] = [];
  for await (const r of session) for (const s of (r as { sidecars: { inspection: FileInspection }[] }).sidecars) out.push(s.inspection);
  for (const r of out) r.elapsedMs = 0; // a hit keeps the time of the run that stored it
  return out;
}

for (const engine of ['inline', 'threads'] as const) {
  test(`results served from the index are the results of a run without it (${engine}): errors, notes, problems, probes, bigints, -0, __proto__, a huge escape`, async (t) => {
    const root = library(t);
    const dir = testDir(t, 'index-stored-form-ix-');
    for (const [name, inspect] of Object.entries(COMMANDS)) {
      const runs: IndexRunStats[] = [];
      const index: IndexOptions = { path: join(dir, `index-${name}`), racyMarginMs: 0, folderRecords: false, onStats: (s) => runs.push(s) };
      const want = await inspections(root, inspect, false, engine);
      assert.ok(want.length >= 13, `${name}: ${want.length} results`);
      await inspections(root, inspect, index, engine);
      const served = await inspections(root, inspect, index, engine);
      const last = runs.at(-1)!;
      assert.equal(last.misses, 0, `${name}: every result served (${JSON.stringify(last)})`);
      assert.ok(last.hits >= want.length, `${name}: ${last.hits} hits`);
      // Field for field (deepStrictEqual: -0, bigints, own __proto__ keys), nested key order by text.
      assert.deepStrictEqual(served, want, name);
      // In worker threads the very text, key order included: a hit is what the wire delivers. Inline,
      // a fresh result's own keys may be in another order (the wire rebuilds the columns' first).
      assert.equal(text(served, engine === 'inline'), text(want, engine === 'inline'), name);
      const byName = (n: string) => served.find((r) => r.path.endsWith(`/odd/${n}.json`))!;
      const broken = byName('broken');
      assert.ok(broken.error !== undefined && broken.error.message.includes(join(root, 'odd/broken.json')) && !broken.error.message.includes(PATH_MARK), broken.error?.message);
      assert.ok(byName('bom').notes.length > 0, `${name}: notes`);
      if (name === 'validate') assert.ok((byName('problems').problems?.length ?? 0) > 0, 'problems');
      if (name === 'todo') {
        const probe = byName('image-record').probe!;
        assert.equal(probe.image!.mtimeNs, BigInt(BIG_MTIME));
        assert.equal(byName('huge-escape').probe!.image!.operations.length, 2000);
        assert.ok(Object.hasOwn(byName('proto').probe!.outcomes, '__proto__'), 'an own __proto__ outcome');
      }
      if (name === 'stats') {
        assert.ok(Object.is(byName('image-record').summary!.processingTimes.face_detection, -0), '-0 kept');
        assert.equal(byName('huge-escape').summary!.image!.operations.length, 2000);
      }
    }
  });
}

/** A result's entry made as a reading thread makes it, and its stored bytes. */
function stored(r: FileInspection): Buffer {
  const id = new IdentityScratch();
  id.load({ dev: 1n, ino: 2n, size: BigInt(r.size), mtimeNs: 3n, ctimeNs: 4n });
  const e = fileEntry(r, id, { racyCutoffMs: 0, root: '/lib', keyNo: 0 }, 10n, false, rowOf(r));
  assert.ok(e !== null);
  return Buffer.from(madeResult(e));
}

test('the stored form: a huge escape is stored whole; a row the form refuses keeps its summary in the escape; top-level oddities come back as they were', () => {
  const base = { path: '/lib/a.json', size: 3, status: 'ok', format: 'json', notes: [], shape: 'sidecar', elapsedMs: -0 } as FileInspection;
  const big = { ...base, problems: Array.from({ length: 2000 }, (_, k) => ({ pointer: `/x/${k}`, message: `bad ${'m'.repeat(40)}`, severity: 'error' as const })) };
  const raw = stored(big);
  assert.ok(raw.length > 4 * PACKED_RESULT_ROOM, `${raw.length} bytes`);
  assert.deepStrictEqual(storedResult(raw), { ...big, path: '' });
  // A lone surrogate in the brief: the row holds no brief, the escape does.
  const lone = { ...base, brief: { detectionCount: 1, toolName: 'a \udc00', operationType: null } };
  const lraw = stored(lone);
  assert.equal(lraw.readUInt16LE(1) & ((1 << 15) | (1 << 13)), 1 << 15, 'F_EXTRA, no F_BRIEF');
  assert.deepEqual(Object.keys(storedResult(lraw)!), Object.keys(lone), "the columns' order");
  assert.deepStrictEqual(storedResult(lraw), { ...lone, path: '' });
  // Top level: an own __proto__ key, a bigint, undefined, -0 in the escape, an error naming the file.
  const odd = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
  const r = Object.assign({ ...base, status: 'corrupt', error: { code: 'CORRUPT', message: 'bad /lib/a.json at /lib/a.json' } }, { n: 2n ** 70n, u: undefined, z: -0 }) as unknown as FileInspection;
  Object.defineProperty(r, '__proto__', { value: odd.__proto__, enumerable: true, writable: true, configurable: true });
  const back = storedResult(stored(r))!;
  assert.equal(Object.getPrototypeOf(back), Object.prototype, 'the prototype is not set by a key');
  assert.deepStrictEqual(Object.getOwnPropertyDescriptor(back, '__proto__')?.value, { polluted: true });
  assert.equal((back as unknown as { n: bigint }).n, 2n ** 70n);
  assert.ok(Object.hasOwn(back, 'u') && Object.is((back as unknown as { z: number }).z, -0) && Object.is(back.elapsedMs, -0));
  assert.equal(back.error!.message, `bad ${PATH_MARK} at ${PATH_MARK}`);
});

test('a damaged stored result: cut anywhere or any byte of its escape changed, the decoder gives null or a result, never throws', () => {
  const r = { path: '/lib/a.json', size: 3, status: 'corrupt', format: 'json', notes: ['n'], shape: null, elapsedMs: 1, error: { code: 'CORRUPT', message: 'bad /lib/a.json' }, probe: { outcomes: { a: true }, image: { size: 1, mtimeNs: 5n, operations: ['a'], staleOperations: [] } } } as unknown as FileInspection;
  const raw = stored(r);
  assert.equal(raw[0], PACKED_RESULT_TAG);
  for (let n = 0; n < raw.length; n++) assert.equal(storedResult(raw.subarray(0, n)), null, `cut at ${n}`);
  assert.equal(storedResult(Buffer.concat([raw.subarray(0, 19), serialize([1, 2])])), null, 'an escape that is not a plain object');
  assert.equal(storedResult(Buffer.concat([raw.subarray(0, 19), serialize(null)])), null);
  for (let at = 1; at < raw.length; at++) {
    for (const x of [0x01, 0x80, 0xff]) {
      const bad = Buffer.from(raw);
      bad[at] ^= x;
      const back = storedResult(bad); // never throws
      if (back !== null) assert.equal(typeof back, 'object');
    }
  }
});

test('a changed byte in a stored escape in the index file is a miss (the entry CRC), never a crash or another result; an index of format 4 is rebuilt', async (t) => {
  const root = library(t);
  const warnings: string[] = [];
  const runs: IndexRunStats[] = [];
  const path = join(testDir(t, 'index-stored-form-ix-'), 'index');
  const index: IndexOptions = { path, racyMarginMs: 0, folderRecords: false, onWarning: (w) => warnings.push(w), onStats: (s) => runs.push(s) };
  const inspect = COMMANDS.todo;
  const want = text(await inspections(root, inspect, false, 'inline'), true); // (inline: a hit's own keys in the wire's order)
  await inspections(root, inspect, index, 'inline');
  // A byte of the escape of the image record's result (its operation names are in no other entry).
  const file = readFileSync(path);
  const at = file.indexOf(Buffer.from('xxxxxxxxxx'));
  assert.ok(at > 0, 'the escape found in the file');
  file[at] ^= 0x01;
  writeFileSync(path, file);
  assert.equal(text(await inspections(root, inspect, index, 'inline'), true), want, 'the damaged entry is not served');
  assert.ok(runs.at(-1)!.misses > 0, 'read again');
  assert.ok(warnings.some((w) => /unusable|checksum/.test(w)), warnings.join('; '));
  // Served again after the rewrite (the run after the damaged one may read again the few results
  // it served before it met the damage: they were not carried into the file it wrote).
  assert.equal(text(await inspections(root, inspect, index, 'inline'), true), want);
  assert.equal(text(await inspections(root, inspect, index, 'inline'), true), want);
  assert.equal(runs.at(-1)!.misses, 0);
  // The version byte of the format before: ignored with a warning, rebuilt.
  const v = readFileSync(path);
  assert.equal(v[INDEX_MAGIC.length], INDEX_FORMAT_VERSION);
  v[INDEX_MAGIC.length] = 4;
  writeFileSync(path, v);
  warnings.length = 0;
  assert.equal(text(await inspections(root, inspect, index, 'inline'), true), want);
  assert.ok(warnings.some((w) => /format version 4/.test(w) && /building a new one/.test(w)), warnings.join('; '));
  assert.equal(readFileSync(path)[INDEX_MAGIC.length], INDEX_FORMAT_VERSION, 'rewritten in this version');
  assert.equal(text(await inspections(root, inspect, index, 'inline'), true), want);
  assert.equal(runs.at(-1)!.misses, 0, 'served from the rebuilt index');
});
