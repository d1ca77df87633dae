/** `read --operation OP`, `read --summary` and the shortened terminal view of a sidecar. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { abbreviatedJson, findOperation, findOperationKey } from '../src/cli/read-view.js';
import type { JsonObject } from '../src/types.js';
import { hasScript, parseJson, runCli, runCliTty } from './helpers/cli.js';
import { FAKE_JPEG, putFile, sidecarData, testDir } from './helpers/tree.js';

function library(t: Parameters<typeof testDir>[0]): { dir: string; img: string; data: JsonObject } {
  const dir = testDir(t);
  const img = putFile(dir, 'IMG_1.jpg', FAKE_JPEG);
  const data = sidecarData('IMG_1.jpg', 3, 512) as JsonObject;
  putFile(dir, 'IMG_1.json', JSON.stringify(data, null, 2));
  return { dir, img, data };
}

test('findOperationKey: any spelling of an operation finds its key; sidecar_info is not an operation', () => {
  const data = { Face_detector: {}, yolov8: {}, sidecar_info: {} } as JsonObject;
  assert.equal(findOperationKey(data, 'face_detection'), 'Face_detector');
  assert.equal(findOperationKey(data, 'FaceDetection'), 'Face_detector');
  assert.equal(findOperationKey(data, 'yolov8'), 'yolov8');
  assert.equal(findOperationKey(data, 'quality_assessment'), null);
  assert.equal(findOperationKey({ sidecar_info: {} } as JsonObject, 'sidecar_info'), 'sidecar_info');
});

test('read --operation finds an operation in the earlier tool\'s one-operation layouts, as stats and todo count it (it said "no face_detection data", exit 1, where todo had it done)', async (t) => {
  const flat = { faces: [], sidecar_info: { operation_type: 'face_detection' } } as JsonObject;
  const f = findOperation(flat, 'FaceDetection');
  assert.deepEqual(f && f.holder[f.key], { faces: [] });
  const wrapped = { sidecar_info: { operation_type: 'quality_assessment' }, data: { quality: 0.5 } } as JsonObject;
  const w = findOperation(wrapped, 'quality_assessment');
  assert.deepEqual(w && w.holder[w.key], { quality: 0.5 });
  assert.equal(findOperation(flat, 'yolov8'), null);
  const dir = testDir(t);
  const img = putFile(dir, 'W.jpg', FAKE_JPEG);
  putFile(dir, 'W.json', '{"sidecar_info": {"operation_type": "quality_assessment"}, "data": {"quality": 25.0}}');
  const r = await runCli(['read', img, '--operation', 'quality_assessment']);
  assert.deepEqual([r.code, r.stdout.replace(/\s/g, '')], [0, '{"quality":25.0}']);
});

test('abbreviatedJson: long number arrays shortened, short ones on one line, everything else as JSON', () => {
  const v = { e: Array.from({ length: 512 }, (_, i) => i / 2), p: [1, 2], s: ['a', 'b'], n: null, o: {} } as JsonObject;
  const text = abbreviatedJson(v);
  assert.match(text, /"e": \[0, 0\.5, 1, 1\.5, … 512 numbers\]/);
  assert.match(text, /"p": \[1, 2\]/);
  assert.match(text, /"s": \[\n {4}"a",\n {4}"b"\n {2}\]/);
  assert.match(text, /"o": \{\}/);
  // Without long arrays the view is exact JSON.
  const small = { a: [1, 2, 3], b: { c: 'x' } } as JsonObject;
  assert.deepEqual(JSON.parse(abbreviatedJson(small)), small);
});

test('read --operation OP: that operation only (full data when piped); aliases; a miss prints null, exit 1', async (t) => {
  const { img, data } = library(t);
  const y = await runCli(['read', img, '--operation', 'yolov8']);
  assert.equal(y.code, 0, y.stderr);
  assert.deepEqual(parseJson(y), data.yolov8);
  const f = await runCli(['read', img, '--operation', 'Face_detector']);
  assert.equal(f.code, 0);
  const faces = parseJson<{ faces: { encoding: number[] }[] }>(f).faces;
  assert.equal(faces.length, 3);
  assert.equal(faces[0]!.encoding.length, 512, 'piped JSON is data: never shortened');
  const miss = await runCli(['read', img, '--operation', 'quality_assessment']);
  assert.equal(miss.code, 1);
  assert.equal(miss.stdout.trim(), 'null');
  assert.match(miss.stderr, /no quality_assessment data/);
  assert.equal((await runCli(['read', img, '--operation', 'quality_assessment', '--exit-zero'])).code, 0);
  const both = await runCli(['read', img, '--operation', 'yolov8', '--summary']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /either --summary or --operation/);
  const detailed = parseJson<Record<string, unknown>>(await runCli(['read', img, '--operation', 'yolov8', '--detailed']));
  assert.equal(detailed.operation, 'yolov8');
  assert.deepEqual(detailed.data, data.yolov8);
});

test('read --summary: counts, quality, times, sizes and sidecar_info on one screen', async (t) => {
  const { dir, img } = library(t);
  const r = await runCli(['read', img, '--summary']);
  assert.equal(r.code, 0, r.stderr);
  const s = parseJson<Record<string, unknown>>(r);
  assert.equal(s.sidecar, join(dir, 'IMG_1.json'));
  assert.equal(s.format, 'json');
  assert.deepEqual(s.operations, ['face_detection', 'yolov8']);
  assert.equal(s.faces, 3);
  assert.equal(s.objects, 1);
  assert.equal(s.embeddings, 3);
  assert.equal(s.embedding_length, 512);
  assert.deepEqual(s.processing_times, { face_detection: 0.25, yolov8: 0.5 });
  assert.deepEqual(s.success, { face_detection: true, yolov8: true });
  assert.equal(s.created_at, '2025-10-01T12:40:11.886386');
  assert.equal(s.last_operation, 'yolov8');
  assert.ok(r.stdout.length < 1500, 'small, whatever the embeddings');
  const none = parseJson<Record<string, unknown>>(await runCli(['read', putFile(dir, 'bare.jpg', FAKE_JPEG), '--summary']));
  assert.equal(none.sidecar, null);
  assert.equal(none.faces, 0);
});

test('read on a terminal: embeddings shortened, one screen for --summary', { skip: hasScript() ? false : 'no script(1) for a pseudo-terminal' }, async (t) => {
  const { img } = library(t);
  const full = await runCliTty(['read', img]);
  assert.equal(full.code, 0, full.stdout);
  assert.match(full.stdout, /"encoding": \[[^\]]*… 512 numbers\]/);
  assert.ok(full.stdout.split('\n').length < 150, `${full.stdout.split('\n').length} lines`);
  const sum = await runCliTty(['read', img, '--summary']);
  assert.equal(sum.code, 0);
  assert.match(sum.stdout, /faces\s+3 \(3 embeddings × 512\)/);
  assert.ok(sum.stdout.split('\n').length <= 24, 'fits a 24-line terminal');
  assert.ok(readFileSync(img).equals(FAKE_JPEG));
});
