/**
 * An image symlink may lead to any file. read, write and serve crashed (INTERNAL) when the
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

test('write never lands in a quarantine: through an image symlink, a folder link, or a link-side sidecar; a library under a folder named like ours is written as usual', async (t) => {
  const dir = testDir(t);
  const lib = path.join(dir, 'lib');
  const q = path.join(lib, '.image-sidecar-quarantine', '2025-01-01T00-00-00Z');
  fs.mkdirSync(path.join(q, 'a'), { recursive: true });
  fs.mkdirSync(path.join(lib, 'games'));
  fs.mkdirSync(path.join(lib, 'a'));
  const quarantined = JSON.stringify({ face_detection: { faces: [1] } });
  const refused = async (image: string) =>
    assert.rejects(saveSidecar(image, 'yolov8', { objects: [] }, { format: 'json' }), (e: unknown) => {
      assert.ok(e instanceof SidecarError && e.code === 'CONFLICT', String(e));
      assert.match(e.message, /is inside a quarantine \(\.image-sidecar-quarantine/);
      return true;
    });
  // 1. A game folder's link to an image beside a quarantined sidecar (the sidecar merged into before).
  fs.writeFileSync(path.join(q, 'A.jpg'), 'jpg');
  fs.writeFileSync(path.join(q, 'A.json'), quarantined);
  fs.symlinkSync(path.join(q, 'A.jpg'), path.join(lib, 'games', 'A.jpg'));
  await refused(path.join(lib, 'games', 'A.jpg'));
  // 2. A folder link into the quarantine, a regular image file there (the path itself names no quarantine).
  fs.writeFileSync(path.join(q, 'a', 'B.jpg'), 'jpg');
  fs.writeFileSync(path.join(q, 'a', 'B.json'), quarantined);
  fs.symlinkSync(path.join(q, 'a'), path.join(lib, 'qlink'));
  await refused(path.join(lib, 'qlink', 'B.jpg'));
  // 3. An image symlink inside the quarantine pointing out: its link-side sidecar is in the quarantine.
  fs.writeFileSync(path.join(lib, 'a', 'C.jpg'), 'jpg');
  fs.writeFileSync(path.join(q, 'a', 'C.json'), quarantined);
  fs.symlinkSync(path.join(lib, 'a', 'C.jpg'), path.join(q, 'a', 'C.jpg'));
  await refused(path.join(q, 'a', 'C.jpg'));
  for (const f of ['A.json', 'a/B.json', 'a/C.json']) assert.equal(fs.readFileSync(path.join(q, f), 'utf8'), quarantined, f);
  assert.deepEqual(fs.readdirSync(q).sort(), ['A.jpg', 'A.json', 'a']);
  assert.deepEqual(fs.readdirSync(path.join(q, 'a')).sort(), ['B.jpg', 'B.json', 'C.jpg', 'C.json']);
  // Reading through the links stays allowed (read only).
  assert.deepEqual(await readSidecar(path.join(lib, 'games', 'A.jpg')), { face_detection: { faces: [1] } });
  // 4. A library kept under a folder named like the index folder is somebody's photos: written as usual.
  const home = path.join(dir, '.image-sidecar', 'photos');
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(path.join(home, 'D.jpg'), 'jpg');
  const r = await saveSidecar(path.join(home, 'D.jpg'), 'yolov8', { objects: [] }, { format: 'json' });
  assert.equal(r.path, path.join(home, 'D.json'));
  assert.deepEqual(Object.keys(await readSidecar(path.join(home, 'D.jpg'))).sort(), ['sidecar_info', 'yolov8']);
});
