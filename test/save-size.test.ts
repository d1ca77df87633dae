import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readSidecar, saveSidecar } from '../src/index.js';
import { FAKE_JPEG, putFile, testDir } from './helpers/tree.js';

// Issue 10 §5: a merged sidecar above the read limit was written (152 MB) and nothing could read
// it back. The save refuses it before writing anything; the old file stays as it was.
test('a save whose merged sidecar would exceed the read limit is refused before anything is written', async (t) => {
  const root = testDir(t);
  const img = putFile(root, 'IMG_1.jpg', FAKE_JPEG);
  const limit = 64 * 1024;
  await saveSidecar(img, 'face_detection', { success: true, faces: [] }, { format: 'json', maxFileSize: limit });
  const sidecar = path.join(root, 'IMG_1.json');
  const before = fs.readFileSync(sidecar);
  const big = { success: true, blob: 'x'.repeat(limit) };
  await assert.rejects(saveSidecar(img, 'object_detection', big, { maxFileSize: limit }), (e: { code?: string }) => e.code === 'TOO_LARGE');
  assert.deepEqual(fs.readFileSync(sidecar), before);
  assert.deepEqual(fs.readdirSync(root).sort(), ['IMG_1.jpg', 'IMG_1.json'], 'no temp file, no second sidecar');
  assert.equal(Object.keys(await readSidecar(img)).includes('object_detection'), false);
  // A new sidecar that would be too big is not created either.
  const img2 = putFile(root, 'IMG_2.jpg', FAKE_JPEG);
  await assert.rejects(saveSidecar(img2, 'object_detection', big, { maxFileSize: limit }), (e: { code?: string }) => e.code === 'TOO_LARGE');
  assert.equal(fs.existsSync(path.join(root, 'IMG_2.bin')), false);
});
