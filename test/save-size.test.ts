import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readSidecar, saveSidecar } from '../src/index.js';
import { validate } from '../src/ops/validate.js';
import { FAKE_JPEG, makeTree, putFile, sidecarData, testDir } from './helpers/tree.js';

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

test('validate: a sidecar above the size limit is reported with its real size, by both engines (it said file_size 0)', async (t) => {
  const dir = testDir(t);
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': { json: sidecarData('IMG_1.jpg', 1) }, 'IMG_2.jpg': FAKE_JPEG, 'IMG_2.json': 'x'.repeat(5000) }, path.join(dir, 'lib'));
  for (const engine of ['inline', 'threads'] as const) {
    const report = await validate(root, { maxFileSize: 4096, engine, workers: 2 });
    const big = report.results!.find((r) => r.file_path.endsWith('IMG_2.json'))!;
    assert.equal(big.is_valid, false, engine);
    assert.match(big.error ?? '', /above the limit of 4096 bytes/);
    assert.equal(big.file_size, 5000, engine);
  }
});
