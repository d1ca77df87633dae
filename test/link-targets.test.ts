/**
 * An image symlink may lead to any file. attack11: read, write and serve crashed (INTERNAL) when the
 * target was not named like an image (`blob`, `thing.json`, `.hidden`, `trail.`) or was not a
 * regular file (a folder, a device). Now: read answers as a scan does (such a target pairs no
 * sidecar there; a folder or device is a broken link), write refuses with a clear error and never
 * writes over the target (a `thing.json` target would have been "its own sidecar").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSidecar } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import { SidecarError } from '../src/errors.js';
import { testDir } from './helpers/tree.js';

test('a symlinked image whose target is not named like an image, or is not a file: read answers, write refuses, nothing crashes', async (t) => {
  const dir = testDir(t);
  const store = path.join(dir, 'store');
  const a = path.join(dir, 'a');
  fs.mkdirSync(store);
  fs.mkdirSync(a);
  const targets: Record<string, string> = { 'blob': 'bytes', 'thing.json': '{"theirs":true}', '.hidden': 'x', 'trail.': 'x' };
  for (const [name, body] of Object.entries(targets)) fs.writeFileSync(path.join(store, name), body);
  const links: [string, string][] = [
    ['b.jpg', path.join(store, 'blob')],
    ['t.jpg', path.join(store, 'thing.json')],
    ['h.jpg', path.join(store, '.hidden')],
    ['d.jpg', path.join(store, 'trail.')],
    ['f.jpg', store], // a folder
    ['z.jpg', '/dev/null'], // a device
  ];
  for (const [name, to] of links) fs.symlinkSync(to, path.join(a, name));
  // The link side still pairs as usual.
  fs.writeFileSync(path.join(a, 'b.json'), JSON.stringify({ face_detection: { faces: [] } }));

  assert.deepEqual(await readSidecar(path.join(a, 'b.jpg')), { face_detection: { faces: [] } });
  for (const [name] of links.slice(1)) {
    const got = await readSidecar(path.join(a, name)).then(
      (v) => ({ v }),
      (e: unknown) => ({ e }),
    );
    if ('e' in got) assert.ok(got.e instanceof SidecarError && got.e.code !== 'INTERNAL', `${name}: ${String(got.e)}`);
    else assert.deepEqual(got.v, {}, name);
  }
  for (const [name] of links) {
    await assert.rejects(saveSidecar(path.join(a, name), 'yolov8', { detections: [] }), (e: unknown) => e instanceof SidecarError && (e.code === 'USAGE' || e.code === 'NOT_FOUND') && /nothing saved/.test(e.message), name);
  }
  // Nothing was written: the targets are as they were, and no sidecar appeared anywhere.
  for (const [name, body] of Object.entries(targets)) assert.equal(fs.readFileSync(path.join(store, name), 'utf8'), body);
  assert.deepEqual(fs.readdirSync(store).sort(), Object.keys(targets).sort());
  assert.deepEqual(fs.readdirSync(a).sort(), ['b.jpg', 'b.json', 'd.jpg', 'f.jpg', 'h.jpg', 't.jpg', 'z.jpg']);
});

test('write through an image symlink into the quarantine (or the index folder) refuses; the quarantined file is left as it is (attack11)', async (t) => {
  const dir = testDir(t);
  const lib = path.join(dir, 'lib');
  const q = path.join(lib, '.image-sidecar-quarantine', '2025-01-01T00-00-00Z');
  const idx = path.join(lib, '.image-sidecar');
  fs.mkdirSync(q, { recursive: true });
  fs.mkdirSync(idx, { recursive: true });
  fs.mkdirSync(path.join(lib, 'games'));
  // A quarantined sidecar with an image beside it, and a game folder's link to that image.
  fs.writeFileSync(path.join(q, 'A.jpg'), 'jpg');
  const quarantined = JSON.stringify({ face_detection: { faces: [1] } });
  fs.writeFileSync(path.join(q, 'A.json'), quarantined);
  fs.symlinkSync(path.join(q, 'A.jpg'), path.join(lib, 'games', 'A.jpg'));
  fs.writeFileSync(path.join(idx, 'B.jpg'), 'jpg');
  fs.symlinkSync(path.join(idx, 'B.jpg'), path.join(lib, 'games', 'B.jpg'));
  for (const [image, own] of [['A.jpg', '.image-sidecar-quarantine'], ['B.jpg', '.image-sidecar']]) {
    await assert.rejects(saveSidecar(path.join(lib, 'games', image), 'yolov8', { objects: [] }, { format: 'json' }), (e: unknown) => {
      assert.ok(e instanceof SidecarError && e.code === 'CONFLICT', String(e));
      assert.match(e.message, new RegExp(`inside image-sidecar's own folder ${own.replace('.', '\\.')}`));
      return true;
    });
  }
  // Regression: the save merged into the quarantined file (restore then refused it: changed since).
  assert.equal(fs.readFileSync(path.join(q, 'A.json'), 'utf8'), quarantined);
  assert.deepEqual(fs.readdirSync(q).sort(), ['A.jpg', 'A.json']);
  assert.deepEqual(fs.readdirSync(idx), ['B.jpg']);
  // Reading through the link stays allowed (read only).
  assert.deepEqual(await readSidecar(path.join(lib, 'games', 'A.jpg')), { face_detection: { faces: [1] } });
});
