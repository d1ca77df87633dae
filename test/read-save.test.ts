import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSidecar, readSidecarDetailed } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import { decodeSidecar } from '../src/formats/codec.js';
import { SidecarError } from '../src/errors.js';
import type { JsonObject } from '../src/types.js';
import { hostMark } from '../src/fs/temp-files.js';
import { plantLockAside, testDir } from './helpers/tree.js';
import { SAMPLES_DIR } from './helpers/samples.js';

const SAMPLES = SAMPLES_DIR;


function image(dir: string, name = 'IMG_1.jpg'): string {
  const p = path.join(dir, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, 'jpeg bytes');
  return p;
}

/** A clock that advances one second per call, from a fixed start. */
function clock(start = Date.UTC(2025, 8, 20, 14, 30, 22)): () => Date {
  let t = start;
  return () => new Date((t += 1000));
}

const decodeFile = (p: string) => decodeSidecar(fs.readFileSync(p), { path: p });

async function assertCode(p: Promise<unknown>, code: string): Promise<SidecarError> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    return e instanceof SidecarError && e.code === code;
  });
  return caught as SidecarError;
}

test('no sidecar: readSidecar gives {}, detailed gives no path and no findings', async (t) => {
  const dir = testDir(t);
  const img = image(dir);
  assert.deepEqual(await readSidecar(img), {});
  const r = await readSidecarDetailed(img);
  assert.deepEqual(r.data, {});
  assert.equal(r.path, null);
  assert.equal(r.format, null);
  assert.deepEqual(r.findings, []);
  assert.equal(r.location.targetPath, img);
  await assertCode(readSidecar(path.join(dir, 'missing.jpg')), 'NOT_FOUND');
});

test('first save creates a bin sidecar next to the image with a full sidecar_info', async (t) => {
  const dir = testDir(t);
  const img = image(dir);
  const res = await saveSidecar(img, 'face_detection', { success: true, faces: [] }, { now: clock() });
  assert.deepEqual(res, { path: path.join(dir, 'IMG_1.bin'), format: 'bin', written: true, created: true });
  const decoded = decodeFile(res.path);
  assert.equal(decoded.format, 'bin');
  assert.deepEqual(decoded.data, {
    face_detection: { success: true, faces: [] },
    sidecar_info: {
      operation_type: 'face_detection',
      created_at: '2025-09-20T14:30:23.000000+00:00',
      last_updated: '2025-09-20T14:30:23.000000+00:00',
      last_operation: 'face_detection',
      image_path: img,
      symlink_path: img,
      symlink_info: { symlink_path: img, target_path: img, is_symlink: false, broken: false },
      // What the result was computed from (stale detection): mtime in ns as an exact decimal string.
      image: { size: fs.statSync(img).size, mtime_ns: fs.statSync(img, { bigint: true }).mtimeNs.toString(), operations: ['face_detection'] },
    },
  });
  assert.deepEqual(await readSidecar(img), decoded.data);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['IMG_1.bin', 'IMG_1.jpg']);
});

test('merge keeps other operations and key order; created_at kept; last_* updated', async (t) => {
  const dir = testDir(t);
  const img = image(dir);
  const now = clock();
  await saveSidecar(img, 'face_detection', { faces: [1] }, { now });
  await saveSidecar(img, 'yolov8', { objects: [] }, { now });
  const third = await saveSidecar(img, 'face_detection', { faces: [1, 2] }, { now });
  assert.equal(third.created, false);
  const data = await readSidecar(img);
  assert.deepEqual(Object.keys(data), ['face_detection', 'sidecar_info', 'yolov8']);
  assert.deepEqual(data.face_detection, { faces: [1, 2] });
  assert.deepEqual(data.yolov8, { objects: [] });
  const info = data.sidecar_info as JsonObject;
  assert.equal(info.operation_type, 'face_detection');
  assert.equal(info.created_at, '2025-09-20T14:30:23.000000+00:00');
  assert.equal(info.last_updated, '2025-09-20T14:30:25.000000+00:00');
  assert.equal(info.last_operation, 'face_detection');
  await saveSidecar(img, 'quality_assessment', { success: true }, { now });
  const info2 = (await readSidecar(img)).sidecar_info as JsonObject;
  assert.equal(info2.last_operation, 'quality_assessment');
  assert.equal(info2.operation_type, 'face_detection');
  assert.equal(info2.created_at, '2025-09-20T14:30:23.000000+00:00');
});

test('an existing .json stays json in the same file; unknown keys and their order are kept', async (t) => {
  const dir = testDir(t);
  const img = image(dir, 'test_no_faces.jpg');
  const sidecar = path.join(dir, 'test_no_faces.json');
  fs.copyFileSync(path.join(SAMPLES, 'sportball-test_no_faces.json'), sidecar);
  fs.chmodSync(sidecar, 0o644); // the sample is read-only; the copy is ours
  const before = decodeFile(sidecar).data;
  const res = await saveSidecar(img, 'quality_assessment', { success: true, quality: { grade: 'B' } }, { now: clock() });
  assert.deepEqual(res, { path: sidecar, format: 'json', written: true, created: false });
  const after = decodeFile(sidecar);
  assert.equal(after.format, 'json');
  assert.deepEqual(Object.keys(after.data), ['face_detection', 'sidecar_info', 'yolov8', 'quality_assessment']);
  assert.deepEqual(after.data.face_detection, before.face_detection);
  assert.deepEqual(after.data.yolov8, before.yolov8);
  const info = after.data.sidecar_info as JsonObject;
  const oldInfo = before.sidecar_info as JsonObject;
  assert.equal(info.created_at, oldInfo.created_at);
  assert.equal(info.operation_type, 'face_detection');
  assert.equal(info.last_operation, 'quality_assessment');
  assert.deepEqual(Object.keys(info).slice(0, 7), Object.keys(oldInfo));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['test_no_faces.jpg', 'test_no_faces.json']);
});

test('new sidecar honours format and naming options', async (t) => {
  const dir = testDir(t);
  const a = image(dir, 'a.png');
  const b = image(dir, 'b.JPG');
  const ra = await saveSidecar(a, 'op', 1, { format: 'json' });
  assert.equal(ra.path, path.join(dir, 'a.json'));
  assert.equal(decodeFile(ra.path).format, 'json');
  const rb = await saveSidecar(b, 'op', [true], { format: 'bin', naming: 'name-ext' });
  assert.equal(rb.path, path.join(dir, 'b.JPG.bin'));
  assert.deepEqual((await readSidecar(b)).op, [true]);
  const c = image(dir, 'c.jpg');
  const rc = await saveSidecar(c, 'op', 'x', { format: 'legacy' });
  assert.equal(rc.path, path.join(dir, 'c.bin'));
  assert.equal(decodeFile(rc.path).format, 'legacy');
});

test("a save that writes the image's data into a new file (another format) gives it the permissions of the file it came from: a 0600 JSON of faces does not become a 0644 .bin", async (t) => {
  // Regression: the new file took the umask's mode (0644), while convert kept the source's.
  const dir = testDir(t);
  const img = image(dir);
  const json = path.join(dir, 'IMG_1.json');
  fs.writeFileSync(json, '{"sidecar_info": {}, "face_detection": {"faces": [{"embedding": [0.5]}]}}');
  fs.chmodSync(json, 0o600);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) fs.chownSync(json, 4321, 8765);
  const r = await saveSidecar(img, 'yolov8', { objects: [] }, { format: 'bin' });
  assert.equal(r.path, path.join(dir, 'IMG_1.bin'));
  assert.equal(r.kept, json);
  const st = fs.statSync(r.path);
  assert.equal(st.mode & 0o7777, 0o600, 'the faces stay private in their new file');
  if (asRoot) assert.deepEqual([st.uid, st.gid], [4321, 8765]);
  assert.deepEqual((await readSidecar(img)).face_detection, { faces: [{ embedding: [0.5] }] });
  // A new file made from nothing still takes the umask's mode, as any editor's.
  const other = image(dir, 'IMG_2.jpg');
  const fresh = await saveSidecar(other, 'op', 1, { format: 'bin' });
  assert.equal(fs.statSync(fresh.path).mode & 0o7777, 0o666 & ~process.umask());
});

test('symlinked image: sidecar written next to the target, link recorded', async (t) => {
  const dir = testDir(t);
  const target = image(dir, 'photos/2025-09-20/IMG_7.jpg');
  fs.mkdirSync(path.join(dir, 'Game1_20Sep2025_143000-160000'));
  const link = path.join(dir, 'Game1_20Sep2025_143000-160000', 'IMG_7.jpg');
  fs.symlinkSync('../photos/2025-09-20/IMG_7.jpg', link);
  const res = await saveSidecar(link, 'object_detection', { objects: [] });
  assert.equal(res.path, path.join(dir, 'photos/2025-09-20/IMG_7.bin'));
  assert.deepEqual(fs.readdirSync(path.dirname(link)), ['IMG_7.jpg']);
  const info = (await readSidecar(link)).sidecar_info as JsonObject;
  // The pipeline's convention: image_path is the resolved image, symlink_path the link it came through.
  assert.equal(info.image_path, target);
  assert.equal(info.symlink_path, link);
  assert.deepEqual(info.symlink_info, { symlink_path: link, target_path: target, is_symlink: true, broken: false });
  // the original and the link read the same sidecar
  assert.deepEqual(await readSidecar(target), await readSidecar(link));
});

test("a path whose `..` follows a symlinked folder saves to the image open() reaches, never to the one the text names", async (t) => {
  const dir = testDir(t);
  const photo = image(dir, 'photos/2025/IMG_1.jpg');
  fs.mkdirSync(path.join(dir, 'photos/2025/day1'));
  const other = image(dir, 'lib/IMG_1.jpg'); // `lib/today/..` collapsed as text: another photo
  fs.symlinkSync(path.join(dir, 'photos/2025/day1'), path.join(dir, 'lib/today'));
  const given = `${dir}/lib/today/../IMG_1.jpg`; // (path.join would collapse the `..` as text)
  const res = await saveSidecar(given, 'face_detection', { success: true, faces: [] });
  assert.equal(res.path, path.join(dir, 'photos/2025/IMG_1.bin'));
  assert.deepEqual(fs.readdirSync(path.join(dir, 'lib')).sort(), ['IMG_1.jpg', 'today'], "the other photo got no sidecar");
  assert.equal(((await readSidecar(photo)).sidecar_info as JsonObject).image_path, photo);
  assert.deepEqual(await readSidecar(given), await readSidecar(photo));
  assert.deepEqual(await readSidecar(other), {});
});

test('a sidecar name holding a folder, a FIFO or a link to nothing: a read that finds no sidecar, and a save, say they cannot read it, never {}', async (t) => {
  const dir = testDir(t);
  // [image, the name that holds no readable file, how, the code, a readable sidecar of the image's to add]
  const cases: [string, string, (p: string) => void, string, string][] = [
    ['folder', 'folder.bin', (p) => fs.mkdirSync(p), 'IO', 'folder.json'],
    ['fifo', 'fifo.bin', (p) => assert.equal(spawnSync('mkfifo', [p]).status, 0), 'IO', 'fifo.json'],
    // A sidecar link into a NAS that is offline: a save in bin would write dangling.bin, read before it, for good.
    ['dangling', 'dangling.json', (p) => fs.symlinkSync(path.join(dir, 'offline-nas', 'x.json'), p), 'NOT_FOUND', 'dangling.jpg.json'],
  ];
  for (const [name, blocked, make, code, readable] of cases) {
    const img = image(dir, `${name}.jpg`);
    make(path.join(dir, blocked));
    const e = await assertCode(readSidecar(img), code);
    assert.ok(e.message.includes(blocked), e.message);
    await assertCode(readSidecarDetailed(img), code);
    await assertCode(saveSidecar(img, 'yolov8', { success: true }, { format: 'bin' }), code);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith(`${name}.`)).sort(), [blocked, `${name}.jpg`].sort(), 'nothing written');
    // With a readable sidecar of the image's beside it, the read answers from it, as before.
    fs.writeFileSync(path.join(dir, readable), JSON.stringify({ yolov8: { success: true } }));
    assert.deepEqual(Object.keys(await readSidecar(img)), ['yolov8']);
  }
});

test('broken symlink: save refuses with NOT_FOUND and writes nothing; read reports it', async (t) => {
  const dir = testDir(t);
  const link = path.join(dir, 'gone.jpg');
  fs.symlinkSync('missing/gone.jpg', link);
  const e = await assertCode(saveSidecar(link, 'op', 1), 'NOT_FOUND');
  assert.match(e.message, /broken link/);
  assert.deepEqual(fs.readdirSync(dir), ['gone.jpg']);
  const r = await readSidecarDetailed(link);
  assert.deepEqual(r.data, {});
  assert.deepEqual(r.findings.map((f) => f.code), ['broken-symlink']);
});

test('corrupt only sidecar: read and save throw CORRUPT, the file is untouched', async (t) => {
  const dir = testDir(t);
  const img = image(dir);
  for (const [name, bytes] of [
    ['IMG_1.bin', Buffer.from([1, 2, 3, 0xff, 0x00])],
    ['IMG_1.json', Buffer.from('{"face_detection": {"faces": [')],
  ] as const) {
    const p = path.join(dir, name);
    fs.writeFileSync(p, bytes);
    await assertCode(readSidecar(img), 'CORRUPT');
    await assertCode(readSidecarDetailed(img), 'CORRUPT');
    const e = await assertCode(saveSidecar(img, 'face_detection', { faces: [] }), 'CORRUPT');
    assert.equal(e.path, p);
    assert.deepEqual(fs.readFileSync(p), bytes);
    fs.unlinkSync(p);
  }
  assert.deepEqual(fs.readdirSync(dir), ['IMG_1.jpg']);
});

test('several sidecars of one image: save goes into the one reads pick, the older copy is kept untouched; read says so', async (t) => {
  // Before, such a save was refused (AMBIGUOUS); an image with a kept JSON copy beside its .bin is
  // the gradual migration the pipeline makes (docs/PAIRING.md §4).
  const dir = testDir(t);
  const img = image(dir);
  await saveSidecar(img, 'newer', 1, { format: 'bin' });
  const json = path.join(dir, 'IMG_1.json');
  // Ours (sidecar-shaped): a file of another tool is no kept copy (test/foreign-files.test.ts).
  fs.writeFileSync(json, '{"sidecar_info": {}, "stale": true}');
  const res = await saveSidecar(img, 'op', 2);
  assert.equal(res.path, path.join(dir, 'IMG_1.bin'));
  assert.equal(res.kept, undefined);
  assert.equal(fs.readFileSync(json, 'utf8'), '{"sidecar_info": {}, "stale": true}');
  const r = await readSidecarDetailed(img);
  assert.equal(r.path, path.join(dir, 'IMG_1.bin'));
  assert.equal(r.data.newer, 1);
  assert.equal(r.data.op, 2);
  assert.equal(r.data.stale, undefined);
  assert.deepEqual(r.findings.map((f) => f.code), ['kept']);
  assert.match(r.findings[0].message, /IMG_1\.json/);
});

test('a copy kept beside the file read that was written after it is named as such: a pipeline writing <stem>.json itself after a migration to .bin (it said "older copies")', async (t) => {
  const dir = testDir(t);
  const img = image(dir);
  await saveSidecar(img, 'face_detection', { run: 1 }, { format: 'bin' });
  const bin = path.join(dir, 'IMG_1.bin');
  const json = path.join(dir, 'IMG_1.json');
  fs.writeFileSync(json, '{"sidecar_info": {}, "face_detection": {"run": 2}}');
  const past = new Date(Date.now() - 3600_000);
  fs.utimesSync(bin, past, past);
  const r = await readSidecarDetailed(img);
  assert.equal(r.path, bin, 'reads still take .bin first (the earlier tool\'s order)');
  assert.deepEqual(r.data.face_detection, { run: 1 });
  const kept = r.findings.find((f) => f.code === 'kept')!;
  assert.doesNotMatch(kept.message, /older/);
  assert.ok(kept.message.includes(`${json} modified after ${bin}`), kept.message);
  // The JSON older than the .bin (what a migration leaves): no such words.
  const older = new Date(Date.now() - 7200_000);
  fs.utimesSync(json, older, older);
  const again = (await readSidecarDetailed(img)).findings.find((f) => f.code === 'kept')!;
  assert.doesNotMatch(again.message, /modified after/);
  assert.ok(again.message.startsWith(`copies kept beside ${bin}, not read: ${json}`), again.message);
});

test('corrupt preferred .bin, valid .json: read falls back with a finding; all corrupt → CORRUPT', async (t) => {
  const dir = testDir(t);
  const img = image(dir);
  const bin = path.join(dir, 'IMG_1.bin');
  const json = path.join(dir, 'IMG_1.json');
  fs.writeFileSync(bin, Buffer.alloc(0));
  fs.writeFileSync(json, '{"face_detection": {"faces": []}}');
  const r = await readSidecarDetailed(img);
  assert.equal(r.path, json);
  assert.equal(r.format, 'json');
  assert.deepEqual(r.data, { face_detection: { faces: [] } });
  const codes = r.findings.map((f) => f.code).sort();
  assert.deepEqual(codes, ['corrupt', 'fallback']);
  const fallback = r.findings.find((f) => f.code === 'fallback')!;
  assert.equal(fallback.path, bin);
  assert.match(fallback.message, /IMG_1\.bin/);
  assert.deepEqual(await readSidecar(img), r.data);
  fs.writeFileSync(json, '{"face_detection": ');
  await assertCode(readSidecar(img), 'CORRUPT');
});

test('legacy .bin sample: readable; saving keeps the legacy layout in the same path (as --help promises), keeping its data', async (t) => {
  const dir = testDir(t);
  const img = image(dir, 'IMG.jpg');
  const bin = path.join(dir, 'IMG.bin');
  fs.copyFileSync(path.join(SAMPLES, 'legacy-test1.bin'), bin);
  fs.chmodSync(bin, 0o644);
  const r = await readSidecarDetailed(img);
  assert.equal(r.format, 'legacy');
  assert.equal(r.path, bin);
  assert.deepEqual(r.data, { faces: [], sidecar_info: { operation_type: 'face_detection' } });

  const res = await saveSidecar(img, 'yolov8', { objects: [] }, { now: clock() });
  assert.deepEqual(res, { path: bin, format: 'legacy', written: true, created: false });
  const after = decodeFile(bin);
  assert.equal(after.format, 'legacy');
  // Its one-operation flat layout now holds its result under the operation's name (beside yolov8,
  // `faces` would read as an operation of its own).
  assert.deepEqual(Object.keys(after.data), ['face_detection', 'sidecar_info', 'yolov8']);
  assert.deepEqual(after.data.face_detection, { faces: [] });
  const info = after.data.sidecar_info as JsonObject;
  assert.equal(info.operation_type, 'face_detection', 'kept from the legacy file');
  assert.equal(info.last_operation, 'yolov8');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['IMG.bin', 'IMG.jpg']);
});

test('second legacy sample reads as an object', async (t) => {
  const dir = testDir(t);
  const img = image(dir, 'IMG.jpg');
  fs.copyFileSync(path.join(SAMPLES, 'legacy-test2.bin'), path.join(dir, 'IMG.bin'));
  const r = await readSidecarDetailed(img);
  assert.equal(r.format, 'legacy');
  assert.equal(typeof r.data, 'object');
  assert.ok(Object.keys(r.data).length > 0);
});

test('bad operation names and formats are USAGE errors', async (t) => {
  const dir = testDir(t);
  const img = image(dir);
  await assertCode(saveSidecar(img, '', 1), 'USAGE');
  await assertCode(saveSidecar(img, 'sidecar_info', {}), 'USAGE');
  await assertCode(saveSidecar(img, 42 as unknown as string, 1), 'USAGE');
  await assertCode(saveSidecar(img, 'op', 1, { format: 'xml' as 'json' }), 'USAGE');
  await assertCode(saveSidecar(img, 'op', 1, { naming: 'upper' as 'stem' }), 'USAGE');
  await assertCode(saveSidecar(img, 'op', undefined as unknown as null), 'USAGE');
  assert.deepEqual(fs.readdirSync(dir), ['IMG_1.jpg']);
});

test('data the format cannot carry: UNREPRESENTABLE and nothing written', async (t) => {
  const dir = testDir(t);
  const img = image(dir);
  await saveSidecar(img, 'first', 1);
  const before = fs.readFileSync(path.join(dir, 'IMG_1.bin'));
  await assertCode(saveSidecar(img, 'bad', { text: 'lone \uD800 surrogate' }), 'UNREPRESENTABLE');
  assert.deepEqual(fs.readFileSync(path.join(dir, 'IMG_1.bin')), before);
  const other = image(dir, 'new.jpg');
  await assertCode(saveSidecar(other, 'bad', { text: '\uDC00' }), 'UNREPRESENTABLE');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['IMG_1.bin', 'IMG_1.jpg', 'new.jpg']);
});

test('files above maxFileSize are TOO_LARGE for read and save', async (t) => {
  const dir = testDir(t);
  const img = image(dir);
  await saveSidecar(img, 'op', { big: 'x'.repeat(5000) }, { format: 'json' });
  await assertCode(readSidecar(img, { maxFileSize: 1000 }), 'TOO_LARGE');
  await assertCode(saveSidecar(img, 'op2', 1, { maxFileSize: 1000 }), 'TOO_LARGE');
  assert.equal((await readSidecar(img)).op2, undefined);
});

test('saving the same content at the same time is a no-op write', async (t) => {
  const dir = testDir(t);
  const img = image(dir);
  const fixed = () => new Date(Date.UTC(2025, 0, 1));
  await saveSidecar(img, 'op', { a: 1 }, { now: fixed });
  const again = await saveSidecar(img, 'op', { a: 1 }, { now: fixed });
  assert.equal(again.written, false);
  assert.equal(again.created, false);
});

test('a dead writer\'s temp file for this sidecar is cleaned up by the next save', async (t) => {
  const dir = testDir(t);
  const img = image(dir);
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  const leftover = path.join(dir, `.IMG_1.bin.isc-tmp-${hostMark()}-${dead}-zz`);
  const unrelated = path.join(dir, `.OTHER.bin.isc-tmp-${hostMark()}-${dead}-zz`);
  fs.writeFileSync(leftover, 'half');
  fs.writeFileSync(unrelated, 'half');
  await saveSidecar(img, 'op', 1);
  assert.equal(fs.existsSync(leftover), false);
  assert.equal(fs.existsSync(unrelated), true, 'other sidecars\' leftovers are not this save\'s business');
});

test('a JSON sidecar with a BOM is read, with a finding', async (t) => {
  const dir = testDir(t);
  const img = image(dir);
  fs.writeFileSync(path.join(dir, 'IMG_1.json'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"face_detection": 1}')]));
  const r = await readSidecarDetailed(img);
  assert.deepEqual(r.data, { face_detection: 1 });
  assert.equal(r.findings.length, 1);
  assert.equal(r.findings[0].code, 'bom');
  assert.equal(r.findings[0].path, path.join(dir, 'IMG_1.json'));
});

test('an operation named __proto__ becomes an ordinary key, in every format', async (t) => {
  const dir = testDir(t);
  for (const format of ['bin', 'json'] as const) {
    const img = image(dir, `p_${format}.jpg`);
    await saveSidecar(img, 'a', 1, { format });
    await saveSidecar(img, '__proto__', { polluted: true }, { format });
    const data = await readSidecar(img);
    assert.deepEqual(Object.keys(data), ['a', 'sidecar_info', '__proto__']);
    assert.equal(Object.getPrototypeOf(data), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(data, '__proto__')?.value, { polluted: true });
    assert.equal((data.sidecar_info as JsonObject).last_operation, '__proto__');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  }
});

test('a writer without the sidecar lock replacing the sidecar between the read and the rename: the save reads and merges again, nothing is lost (regression: the save renamed over that write)', async (t) => {
  const dir = testDir(t);
  const img = image(dir);
  const sidecar = path.join(dir, 'IMG_1.json');
  fs.writeFileSync(sidecar, JSON.stringify({ sidecar_info: { image_path: 'IMG_1.jpg' }, first: { success: true, data: { n: 1 } } }));
  // `now` is asked after the read and before the write: the pipeline's own write lands there, once.
  const tick = clock();
  let writes = 0;
  const lockless = (op: string) => () => {
    if (writes < 1) {
      writes++;
      const cur = JSON.parse(fs.readFileSync(sidecar, 'utf8')) as JsonObject;
      fs.writeFileSync(`${sidecar}.tmp-pipeline`, JSON.stringify({ ...cur, [op]: { success: true, data: { n: 2 } } }));
      fs.renameSync(`${sidecar}.tmp-pipeline`, sidecar);
    }
    return tick();
  };
  await saveSidecar(img, 'ours', { n: 3 }, { now: lockless('pipeline') });
  const data = decodeFile(sidecar).data;
  assert.deepEqual(Object.keys(data).sort(), ['first', 'ours', 'pipeline', 'sidecar_info']);

  // A new sidecar the pipeline creates meanwhile is merged with, not replaced.
  const img2 = image(dir, 'IMG_2.jpg');
  const sidecar2 = path.join(dir, 'IMG_2.json');
  writes = 0;
  await saveSidecar(img2, 'ours', { n: 3 }, {
    format: 'json',
    now: () => {
      if (writes++ === 0) fs.writeFileSync(sidecar2, JSON.stringify({ sidecar_info: { image_path: 'IMG_2.jpg' }, pipeline: { success: true } }));
      return tick();
    },
  });
  assert.deepEqual(Object.keys(decodeFile(sidecar2).data).sort(), ['ours', 'pipeline', 'sidecar_info']);

  // A file that changes on every attempt: CONFLICT, and the writer's last version stays.
  let n = 0;
  await assert.rejects(
    saveSidecar(img, 'again', { n: 4 }, {
      now: () => {
        fs.writeFileSync(sidecar, JSON.stringify({ sidecar_info: { image_path: 'IMG_1.jpg' }, churn: { n: ++n } }));
        return tick();
      },
    }),
    (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT' && /changed 3 times/.test(e.message),
  );
  assert.deepEqual(decodeFile(sidecar).data, { sidecar_info: { image_path: 'IMG_1.jpg' }, churn: { n: 3 } });
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('isc-tmp')), [], 'no temp file left');
});

test('save through a symlinked image whose links loop says so (it said the target "does not exist", naming a path that exists)', async (t) => {
  const dir = testDir(t);
  fs.symlinkSync('IMG_B.jpg', path.join(dir, 'IMG_A.jpg'));
  fs.symlinkSync('IMG_A.jpg', path.join(dir, 'IMG_B.jpg'));
  await assert.rejects(saveSidecar(path.join(dir, 'IMG_A.jpg'), 'ours', { n: 1 }), (e: unknown) => e instanceof SidecarError && e.code === 'NOT_FOUND' && /loop or pass 40 links/.test(e.message) && !/does not exist/.test(e.message));
  // A missing target says it does not exist.
  fs.symlinkSync('gone.jpg', path.join(dir, 'IMG_C.jpg'));
  await assert.rejects(saveSidecar(path.join(dir, 'IMG_C.jpg'), 'ours', { n: 1 }), (e: unknown) => e instanceof SidecarError && e.code === 'NOT_FOUND' && /does not exist/.test(e.message));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['IMG_A.jpg', 'IMG_B.jpg', 'IMG_C.jpg']);
});

test("save through a symlinked image sweeps the stale-lock asides of killed takers in the link's folder too (regression: a game folder holds locks but never a written sidecar, so nothing swept them; the crash campaign found one)", async (t) => {
  const dir = testDir(t);
  const target = image(path.join(dir, 'photos'), 'IMG_1.jpg');
  const games = path.join(dir, 'games');
  fs.mkdirSync(games);
  fs.symlinkSync(path.relative(games, target), path.join(games, 'IMG_1.jpg'));
  // Due for the sweep: one dated far in the future (a test cannot make an aside's ctime old).
  const old = plantLockAside(games, '2049:1:123-dead', -3_600_000);
  const young = plantLockAside(games, '2049:2:123-dead', 0); // taken just now: a late taker may still rename onto its name
  await saveSidecar(path.join(games, 'IMG_1.jpg'), 'ours', { n: 1 });
  assert.equal(fs.existsSync(old), false, 'the killed taker\'s aside is gone');
  assert.equal(fs.existsSync(young), true, 'a young aside is kept');
  assert.ok(fs.existsSync(path.join(dir, 'photos', 'IMG_1.bin')));
});

test('a read whose sidecar is converted under it (the new file written, the old one removed between the listing and the open) reads the new file: it said NOT_FOUND', async (t) => {
  const { default: fsCjs } = await import('node:fs');
  const { syncBuiltinESMExports } = await import('node:module');
  const { readSidecarText } = await import('../src/ops/read.js');
  const dir = testDir(t);
  const image = path.join(dir, 'I1.jpg');
  fs.writeFileSync(image, 'img');
  await saveSidecar(image, 'res', { n: 1 }, { format: 'bin' });
  const bin = path.join(dir, 'I1.bin');
  const realOpen = fsCjs.openSync;
  let converted = 0;
  let busy = false;
  fsCjs.openSync = function (this: unknown, p: fs.PathLike, ...rest: unknown[]) {
    if (!busy && String(p) === bin && fs.existsSync(bin)) {
      busy = true;
      // What convert does, in this very moment: the JSON written, then the bin removed.
      const data = decodeSidecar(fs.readFileSync(bin)).data;
      fs.writeFileSync(path.join(dir, 'I1.json'), JSON.stringify({ ...data, res: { ...(data.res as JsonObject), converted: true } }));
      fs.unlinkSync(bin);
      converted++;
      busy = false;
    }
    return (realOpen as (...a: unknown[]) => number).call(this, p, ...rest);
  } as typeof fsCjs.openSync;
  syncBuiltinESMExports();
  try {
    assert.deepEqual((await readSidecar(image)).res, { n: 1, converted: true });
    assert.equal(converted, 1);
    fs.unlinkSync(path.join(dir, 'I1.json'));
    busy = true;
    await saveSidecar(image, 'res', { n: 2 }, { format: 'bin' });
    busy = false;
    const text = await readSidecarText(image); // the server's read
    assert.equal(converted, 2);
    assert.deepEqual(JSON.parse(String(text.text)).res, { n: 2, converted: true });
  } finally {
    fsCjs.openSync = realOpen;
    syncBuiltinESMExports();
  }
});

test('two images whose names differ only in Unicode form (é.jpg NFC and NFD, from a Mac): a save is refused (it went into the other\'s file), a read says the files are both\'s', async (t) => {
  const dir = testDir(t);
  const nfcName = 'caf\u00e9.jpg';
  const nfdName = 'cafe\u0301.jpg';
  fs.writeFileSync(path.join(dir, nfcName), 'A');
  fs.writeFileSync(path.join(dir, nfdName), 'B');
  if (fs.readdirSync(dir).length !== 2) return t.skip('the file system folds Unicode forms');
  await assert.rejects(saveSidecar(path.join(dir, nfcName), 'face_detection', { faces: ['A'] }), (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT' && /another Unicode form/.test(e.message));
  await assert.rejects(saveSidecar(path.join(dir, nfdName), 'face_detection', { faces: ['B'] }), (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT');
  assert.deepEqual(fs.readdirSync(dir).sort(), [nfcName, nfdName].sort(), 'nothing written');
  // A sidecar made by another tool: each image's read says whose results cannot be told.
  fs.writeFileSync(path.join(dir, 'caf\u00e9.json'), JSON.stringify({ face_detection: { faces: ['?'] } }));
  for (const n of [nfcName, nfdName]) {
    const r = await readSidecarDetailed(path.join(dir, n));
    assert.ok(r.findings.some((f) => f.code === 'ambiguous' && /another Unicode form/.test(f.message)), `${JSON.stringify(r.findings)}`);
  }
});
