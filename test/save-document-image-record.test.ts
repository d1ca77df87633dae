/**
 * A whole-document save (image_sidecar_rust: sportball reads the sidecar, changes its operation,
 * sends the whole document back) must not put the document's copy of the image record
 * (`sidecar_info.image`, docs/QUERY.md) over the library's: that copy is as old as the read. A
 * save of another operation in between (another worker) was dropped from `operations`, and when
 * the image had changed meanwhile that operation — computed on the current image — was marked
 * stale (todo: "stale", recomputed for nothing). The record is the library's alone, as
 * `operation_type` and `created_at` are kept. Found replaying sportball's read-merge-save with a
 * second worker saving between the read and the save.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { readSidecar } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import { cloneJson } from '../src/formats/numbers.js';
import type { JsonObject } from '../src/types.js';
import { putFile, testDir } from './helpers/tree.js';

function record(data: JsonObject): JsonObject {
  return (data.sidecar_info as JsonObject).image as JsonObject;
}

test('whole-document save keeps the library image record, not the document copy', async (t) => {
  const dir = testDir(t);
  const image = putFile(dir, 'A.jpg', 'jpeg v1');
  await saveSidecar(image, 'face_detection', { faces: [], success: true }, { format: 'json' });
  const doc = cloneJson(await readSidecar(image)); // what the pipeline read

  writeFileSync(image, 'jpeg v2, retouched'); // the image changes
  await saveSidecar(image, 'yolov8', { objects: [], success: true }); // another worker, on the new image
  assert.deepEqual(record(await readSidecar(image)).operations, ['yolov8']);

  doc.face_detection = { faces: [1], success: true };
  await saveSidecar(image, 'face_detection', doc, { merge: 'document' });
  const rec = record(await readSidecar(image));
  assert.deepEqual(rec.operations, ['yolov8', 'face_detection'], 'both were computed on the current image');
  assert.equal(rec.stale_operations, undefined, `nothing is stale: ${JSON.stringify(rec)}`);
});

test('a whole document credits the operations it changes, not the one the call names (the pipeline names face_detection for every document but yolov8\'s): a quality run again on a changed image marked face_detection current and quality stale, and todo asked for the wrong one for good', async (t) => {
  const dir = testDir(t);
  const image = putFile(dir, 'B.jpg', 'jpeg v1');
  const stamp = (doc: JsonObject, op: string, at: string) => {
    doc.sidecar_info = { ...((doc.sidecar_info as JsonObject) ?? {}), last_operation: op, last_updated: at };
    return doc;
  };
  // As the pipeline saves: the whole document, the call naming face_detection.
  await saveSidecar(image, 'face_detection', stamp({ face_detection: { faces: [1], success: true } }, 'face_detection', 't1'), { merge: 'document', format: 'json' });
  let doc = cloneJson(await readSidecar(image));
  doc.quality_assessment = { quality: { overall_score: 0.5, grade: 'B' }, success: true };
  await saveSidecar(image, 'face_detection', stamp(doc, 'quality_assessment', 't2'), { merge: 'document' });
  let data = await readSidecar(image);
  assert.deepEqual(record(data).operations, ['face_detection', 'quality_assessment']);
  assert.equal((data.sidecar_info as JsonObject).last_operation, 'quality_assessment');

  writeFileSync(image, 'jpeg v2, retouched'); // the image changes; only quality runs again
  doc = cloneJson(data);
  doc.quality_assessment = { quality: { overall_score: 0.7, grade: 'A' }, success: true };
  await saveSidecar(image, 'face_detection', stamp(doc, 'quality_assessment', 't3'), { merge: 'document' });
  data = await readSidecar(image);
  assert.deepEqual(record(data).operations, ['quality_assessment'], JSON.stringify(record(data)));
  assert.deepEqual(record(data).stale_operations, ['face_detection']);
  assert.equal((data.sidecar_info as JsonObject).last_operation, 'quality_assessment');

  // The same result computed again on a changed image (a deterministic run) changes nothing in the
  // document but is credited by its stamp: todo asked for it again forever.
  writeFileSync(image, 'jpeg v3, cropped');
  doc = cloneJson(data);
  await saveSidecar(image, 'face_detection', stamp(doc, 'quality_assessment', 't4'), { merge: 'document' });
  data = await readSidecar(image);
  assert.deepEqual([record(data).operations, record(data).stale_operations], [['quality_assessment'], ['face_detection']], JSON.stringify(record(data)));
  assert.equal((data.sidecar_info as JsonObject).last_operation, 'quality_assessment');
  // A document sent back as read (no new stamp) credits nothing: face_detection stays stale.
  doc = cloneJson(await readSidecar(image));
  await saveSidecar(image, 'face_detection', doc, { merge: 'document' });
  const last = record(await readSidecar(image));
  assert.deepEqual([last.operations, last.stale_operations], [['quality_assessment'], ['face_detection']]);
});

test('a document sent back unchanged from the kept JSON copy is not stamped anew (its last_updated is that copy\'s): it credits nothing (it marked a stale face_detection current)', async (t) => {
  const dir = testDir(t);
  const image = putFile(dir, 'C.jpg', 'jpeg v1');
  await saveSidecar(image, 'face_detection', { success: true, faces: [1] }, { format: 'json' });
  await saveSidecar(image, 'yolov8', { success: true, objects: [1] }, { format: 'bin' }); // C.bin, C.json kept beside
  writeFileSync(image, 'jpeg v2, changed');
  await saveSidecar(image, 'yolov8', { success: true, objects: [2] });
  const before = record(await readSidecar(image));
  assert.deepEqual([before.operations, before.stale_operations], [['yolov8'], ['face_detection']]);
  const asRead = JSON.parse(readFileSync(`${dir}/C.json`, 'utf8')) as JsonObject; // what a JSON-only caller read
  await saveSidecar(image, 'face_detection', asRead, { merge: 'document' });
  const after = await readSidecar(image);
  assert.deepEqual([record(after).operations, record(after).stale_operations], [['yolov8'], ['face_detection']], JSON.stringify(record(after)));
});

test('a stamped document whose operation holds one backend takes that backend as sent, the kept JSON copy\'s value included: the pipeline\'s latest result (equal to the copy\'s) was dropped for the .bin\'s older one', async (t) => {
  const dir = testDir(t);
  const image = putFile(dir, 'D.jpg', 'jpeg');
  const X = { success: true, faces: [1, 2] };
  const Y = { success: true, faces: [1, 2, 3, 4, 5] };
  await saveSidecar(image, 'face_detection', { insightface: X }, { format: 'json' });
  const read = () => JSON.parse(readFileSync(`${dir}/D.json`, 'utf8')) as JsonObject; // what the pipeline reads: the JSON
  const stamped = (doc: JsonObject, at: string) => {
    doc.sidecar_info = { ...(doc.sidecar_info as JsonObject), last_operation: 'face_detection', last_updated: at };
    return doc;
  };
  const second = read();
  second.face_detection = { insightface: Y };
  await saveSidecar(image, 'face_detection', stamped(second, '2026-01-01T00:00:01+00:00'), { merge: 'document', format: 'bin' }); // D.bin, D.json kept
  assert.deepEqual((await readSidecar(image)).face_detection, { insightface: Y });
  const third = read(); // the JSON's X, run again and got X
  await saveSidecar(image, 'face_detection', stamped(third, '2026-01-01T00:00:02+00:00'), { merge: 'document' });
  assert.deepEqual((await readSidecar(image)).face_detection, { insightface: X });
});

test('two workers that each read the sidecar, set their own operation and send the whole document back keep both results when each sends what it read (SaveOptions.base): the later save put back its stale copy of the other operation', async (t) => {
  const dir = testDir(t);
  const image = putFile(dir, 'W.jpg', 'jpeg');
  await saveSidecar(image, 'face_detection', { run: 0 });
  await saveSidecar(image, 'yolov8', { run: 0 });
  const readA = cloneJson(await readSidecar(image));
  const readB = cloneJson(await readSidecar(image));
  const send = (read: JsonObject, op: string, at: string): JsonObject => {
    const doc = cloneJson(read);
    doc[op] = { run: 1 };
    doc.sidecar_info = { ...(doc.sidecar_info as JsonObject), last_operation: op, last_updated: at };
    return doc;
  };
  await saveSidecar(image, 'face_detection', send(readB, 'face_detection', '2030-01-01T00:00:01'), { merge: 'document', base: readB });
  await saveSidecar(image, 'face_detection', send(readA, 'yolov8', '2030-01-01T00:00:02'), { merge: 'document', base: readA });
  const now = await readSidecar(image);
  assert.deepEqual([now.face_detection, now.yolov8], [{ run: 1 }, { run: 1 }]);
  assert.deepEqual(record(now).operations, ['face_detection', 'yolov8'], 'each save credited with the operation it changed');

  // An entry the caller changed is its own, even back to an older value; one sent as read is not.
  const readC = cloneJson(now);
  const doc = cloneJson(readC);
  doc.yolov8 = { run: 0 };
  await saveSidecar(image, 'yolov8', { run: 2 }); // another worker meanwhile
  await saveSidecar(image, 'face_detection', doc, { merge: 'document', base: readC });
  assert.deepEqual((await readSidecar(image)).yolov8, { run: 0 }, 'the caller set it: taken');
  const readD = cloneJson(await readSidecar(image));
  await saveSidecar(image, 'face_detection', { run: 3 });
  await saveSidecar(image, 'face_detection', cloneJson(readD), { merge: 'document', base: readD });
  assert.deepEqual((await readSidecar(image)).face_detection, { run: 3 }, 'sent back as read: the newer result stays');
});

test('a document built from the JSON copy kept beside the .bin, sent with the caller\'s own base (its last read of the .bin): an entry as the JSON copy holds it is no change either (its stale value reverted a newer result)', async (t) => {
  const dir = testDir(t);
  const image = putFile(dir, 'K.jpg', 'jpeg');
  writeFileSync(`${dir}/K.json`, JSON.stringify({ face_detection: { v: 0 }, yolov8: { v: 0 }, sidecar_info: { operation_type: 'face_detection', last_updated: '2020-01-01T00:00:00' } }));
  await saveSidecar(image, 'yolov8', { v: 1 }, { format: 'bin' }); // the .bin, the JSON kept beside it
  const view = cloneJson(await readSidecar(image));
  const doc = JSON.parse(readFileSync(`${dir}/K.json`, 'utf8')) as JsonObject; // the pipeline's own load
  doc.face_detection = { v: 0 }; // a deterministic run again: the same result
  doc.sidecar_info = { ...(doc.sidecar_info as JsonObject), last_updated: '2030-01-01T00:00:00', last_operation: 'face_detection' };
  await saveSidecar(image, 'face_detection', doc, { merge: 'document', base: view });
  assert.deepEqual((await readSidecar(image)).yolov8, { v: 1 });
});
