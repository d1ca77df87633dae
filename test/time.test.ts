/**
 * Timestamps we write follow the pipeline's style and parse with Python 3.9's
 * `datetime.fromisoformat`, which accepts "YYYY-MM-DDTHH:MM:SS[.ffffff][+HH:MM]" but not "Z".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isoTimestamp } from '../src/time.js';
import { saveSidecar } from '../src/ops/save.js';
import { readSidecar } from '../src/ops/read.js';
import { cleanup } from '../src/ops/cleanup.js';
import { FAKE_JPEG, putFile, sidecarData, testDir } from './helpers/tree.js';

/** Python 3.9 `fromisoformat` grammar, as our writers use it (6 fraction digits, explicit UTC offset). */
const PY39_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/;

test('isoTimestamp: UTC, six fraction digits, +00:00 (never Z)', () => {
  assert.equal(isoTimestamp(new Date(Date.UTC(2024, 6, 3, 4, 24, 40, 825))), '2024-07-03T04:24:40.825000+00:00');
  assert.equal(isoTimestamp(new Date(0)), '1970-01-01T00:00:00.000000+00:00');
  assert.match(isoTimestamp(), PY39_ISO);
});

test('every writer of timestamps uses it: sidecar_info (save) and the quarantine manifest (cleanup)', async (t) => {
  const dir = testDir(t);
  const img = putFile(dir, 'IMG_1.jpg', FAKE_JPEG);
  await saveSidecar(img, 'face_detection', { success: true, faces: [] }, { format: 'json' });
  await saveSidecar(img, 'yolov8', { success: true, objects: [] });
  const info = (await readSidecar(img)).sidecar_info as Record<string, string>;
  assert.match(info.created_at!, PY39_ISO);
  assert.match(info.last_updated!, PY39_ISO);

  putFile(dir, 'gone.json', JSON.stringify(sidecarData('gone.jpg', 0, 4)));
  for (let i = 0; i < 4; i++) {
    putFile(dir, `K${i}.jpg`, FAKE_JPEG);
    putFile(dir, `K${i}.json`, JSON.stringify(sidecarData(`K${i}.jpg`, 0, 4)));
  }
  const r = await cleanup(dir, { engine: 'inline' });
  assert.equal(r.removed, 1);
  const qroot = join(dir, '.image-sidecar-quarantine');
  const [folder] = readdirSync(qroot);
  const manifest = JSON.parse(readFileSync(join(qroot, folder!, 'manifest.json'), 'utf8'));
  assert.match(manifest.created_at, PY39_ISO);

  const py = spawnSync('python3', ['-c', 'import sys, datetime\nfor s in sys.argv[1:]: print(datetime.datetime.fromisoformat(s).utcoffset())', info.created_at!, manifest.created_at], { encoding: 'utf8' });
  if (py.status === null || py.error) return; // no python3 here: the grammar check above stands
  assert.equal(py.status, 0, py.stderr);
  assert.deepEqual(py.stdout.trim().split('\n'), ['0:00:00', '0:00:00']);
});
