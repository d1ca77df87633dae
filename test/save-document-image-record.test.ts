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
import { writeFileSync } from 'node:fs';
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
