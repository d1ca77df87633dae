/**
 * saveSidecar's whole-document mode (merge: 'document'), used by the image_sidecar_rust module for
 * the earlier package's callers, which send the full merged document instead of one operation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSidecar } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import { SidecarError } from '../src/errors.js';
import type { JsonObject } from '../src/types.js';
import { putFile, testDir } from './helpers/tree.js';

test('a whole document is merged key by key at the top level, not nested under its operation', async (t) => {
  const dir = testDir(t);
  const image = putFile(dir, 'IMG_1.jpg', 'jpeg');
  await saveSidecar(image, 'yolov8', { success: true, objects: [1] }, { format: 'json' });
  await saveSidecar(image, 'face_detection', { success: true, faces: [] });
  const before = (await readSidecar(image)) as JsonObject;
  const beforeInfo = before.sidecar_info as JsonObject;

  const doc: JsonObject = {
    face_detection: { success: true, faces: [{ id: 1 }] },
    quality_assessment: { success: true, grade: 'B' },
    sidecar_info: { operation_type: 'something_else', created_at: '1999-01-01T00:00:00', processing_time: 1.5, success: true },
  };
  const r = await saveSidecar(image, 'face_detection', doc, { merge: 'document' });
  assert.equal(r.format, 'json');
  const after = (await readSidecar(image)) as JsonObject;
  assert.deepEqual(Object.keys(after), ['yolov8', 'sidecar_info', 'face_detection', 'quality_assessment']);
  assert.deepEqual(after.yolov8, before.yolov8, 'keys the document does not name are kept');
  assert.deepEqual(after.face_detection, doc.face_detection, 'the document key replaces the old value, not doc[op][...]');
  assert.deepEqual(after.quality_assessment, doc.quality_assessment);
  const info = after.sidecar_info as JsonObject;
  assert.equal(info.operation_type, beforeInfo.operation_type, 'operation_type of an existing sidecar is kept');
  assert.equal(info.created_at, beforeInfo.created_at, 'created_at of an existing sidecar is kept');
  assert.equal(info.processing_time, 1.5);
  assert.equal(info.success, true);
  assert.equal(info.last_operation, 'face_detection');

  // A new sidecar takes the document's own operation_type / created_at.
  const fresh = putFile(dir, 'IMG_2.jpg', 'jpeg');
  await saveSidecar(fresh, 'face_detection', doc, { merge: 'document', format: 'json' });
  const freshData = JSON.parse(fs.readFileSync(path.join(dir, 'IMG_2.json'), 'utf8')) as JsonObject;
  assert.equal((freshData.sidecar_info as JsonObject).operation_type, 'something_else');
  assert.equal((freshData.sidecar_info as JsonObject).created_at, '1999-01-01T00:00:00');
  assert.ok(!('sidecar_info' in (freshData.face_detection as JsonObject)));

  await assert.rejects(saveSidecar(fresh, 'face_detection', [1, 2] as never, { merge: 'document' }), (e: unknown) => e instanceof SidecarError && e.code === 'USAGE');
  await assert.rejects(saveSidecar(fresh, 'face_detection', {}, { merge: 'nope' as never }), (e: unknown) => e instanceof SidecarError && e.code === 'USAGE');
});
