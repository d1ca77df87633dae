/**
 * Saves land in a file of the image's own and lose nothing (docs/PAIRING.md §3, §4, §9): images that
 * share a stem (RAW+JPEG, JPEG+MOV), a stem file that belongs to the image its record names, a
 * gradual migration that keeps the JSON, backend maps merged backend by backend, and the default
 * format set once (IMAGE_SIDECAR_FORMAT, defaultFormat in .image-sidecar.json, the earlier tool's
 * names). Each case failed on the code before (a refusal, a lost backend, a JSON written).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSidecarDetailed } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import { SidecarError } from '../src/errors.js';
import type { JsonObject } from '../src/types.js';
import { FAKE_JPEG, makeTree, testDir } from './helpers/tree.js';
import { parseJson, runCli } from './helpers/cli.js';
import { scan } from '../src/ops/scan.js';
import { staleSidecars } from '../src/ops/todo.js';
import { stats } from '../src/ops/stats.js';

const jsonOf = (p: string) => JSON.parse(fs.readFileSync(p, 'utf8')) as JsonObject;

test('images sharing a stem: every companion saves to its own name-ext file and reads only its own data, in any save order', async (t) => {
  const companions = ['IMG_1.jpg', 'IMG_1.CR2', 'IMG_1.MOV', 'IMG_1.HEIC'];
  // Several orders and concurrent saves: no image ever reads another's result.
  for (const [round, order] of [companions, [...companions].reverse()].entries()) {
    const root = makeTree(Object.fromEntries(companions.map((n) => [n, FAKE_JPEG])), testDir(t));
    await Promise.all(order.map((name, i) => saveSidecar(path.join(root, name), 'yolov8', { success: true, round, i, name })));
    for (const name of companions) {
      const r = await readSidecarDetailed(path.join(root, name));
      assert.equal(r.path, path.join(root, `${name}.bin`), name);
      assert.equal((r.data.yolov8 as JsonObject).name, name);
      assert.deepEqual(r.findings, []);
    }
    assert.equal(fs.readdirSync(root).length, companions.length * 2);
  }
});

test('a stem file shared by RAW and JPEG belongs to the image its record names; the other passes it over', async (t) => {
  for (const recordKey of ['image_path', 'target_path'] as const) {
    const root = testDir(t);
    const jpg = path.join(root, 'IMG_2.jpg');
    const info = recordKey === 'image_path' ? { image_path: jpg } : { image_path: path.join(root, 'games', 'IMG_2.jpg'), symlink_info: { target_path: jpg } };
    makeTree({ 'IMG_2.jpg': FAKE_JPEG, 'IMG_2.CR2': 'raw', 'IMG_2.json': { json: { face_detection: { faces: [1] }, sidecar_info: info } } }, root);
    const forJpg = await readSidecarDetailed(jpg);
    assert.equal(forJpg.path, path.join(root, 'IMG_2.json'));
    assert.deepEqual(forJpg.findings, [], 'recorded for the JPEG: not ambiguous');
    const forRaw = await readSidecarDetailed(path.join(root, 'IMG_2.CR2'));
    assert.equal(forRaw.path, null);
    assert.deepEqual(forRaw.data, {});
    // The RAW's save makes its own file; the JPEG's goes into the stem file its record names (a
    // name-ext copy would fall behind that file once the share ends: docs/PAIRING.md §9).
    const raw = await saveSidecar(path.join(root, 'IMG_2.CR2'), 'quality_assessment', { grade: 'A' });
    assert.equal(raw.path, path.join(root, 'IMG_2.CR2.json'));
    assert.equal(raw.created, true);
    const j = await saveSidecar(jpg, 'yolov8', { objects: [] });
    assert.equal(j.path, path.join(root, 'IMG_2.json'));
    assert.equal(j.kept, undefined);
    assert.equal(fs.existsSync(path.join(root, 'IMG_2.jpg.json')), false);
    const after = await readSidecarDetailed(jpg);
    assert.deepEqual(Object.keys(after.data).sort(), ['face_detection', 'sidecar_info', 'yolov8']);
    assert.deepEqual(after.findings, []);
    assert.deepEqual(Object.keys((await readSidecarDetailed(path.join(root, 'IMG_2.CR2'))).data), ['quality_assessment', 'sidecar_info']);
  }
});

test('RAW+JPEG with a corrupt shared stem file: a save stops with its CORRUPT where a read does, and goes into the image\'s own file where a read answers from one', async (t) => {
  const root = testDir(t);
  const full = JSON.stringify({ face_detection: { success: true, faces: ['A'] }, sidecar_info: { image_path: path.join(root, 'IMG_1.JPG') } }, null, 2);
  makeTree({ 'IMG_1.JPG': FAKE_JPEG, 'IMG_1.CR2': 'raw', 'IMG_1.json': full.slice(0, -10) }, root); // truncated: whose it is cannot be read
  const jpg = path.join(root, 'IMG_1.JPG');
  const raw = path.join(root, 'IMG_1.CR2');
  const corrupt = (e: unknown) => e instanceof SidecarError && e.code === 'CORRUPT' && e.message.includes('IMG_1.json');
  await assert.rejects(readSidecarDetailed(jpg), corrupt, 'a read stops at the corrupt file');
  // A new IMG_1.JPG.bin would make every later read answer without it (the JPEG's face_detection may be in it).
  await assert.rejects(saveSidecar(jpg, 'quality_assessment', { grade: 'A' }), corrupt, 'so does a save');
  await assert.rejects(saveSidecar(raw, 'quality_assessment', { grade: 'A' }), corrupt);
  assert.deepEqual(fs.readdirSync(root).sort(), ['IMG_1.CR2', 'IMG_1.JPG', 'IMG_1.json'], 'nothing written');
  // An image with a file of its own (read before the shared one): a read answers from it, and a save goes into it.
  fs.writeFileSync(path.join(root, 'IMG_1.CR2.json'), JSON.stringify({ yolov8: { success: true } }));
  const before = await readSidecarDetailed(raw);
  assert.equal(before.path, path.join(root, 'IMG_1.CR2.json'));
  const saved = await saveSidecar(raw, 'quality_assessment', { grade: 'A' });
  assert.equal(saved.path, path.join(root, 'IMG_1.CR2.json'));
  assert.deepEqual(Object.keys((await readSidecarDetailed(raw)).data).sort(), ['quality_assessment', 'sidecar_info', 'yolov8']);
  assert.equal(fs.readFileSync(path.join(root, 'IMG_1.json'), 'utf8'), full.slice(0, -10), 'the corrupt file is untouched');
});

test('gradual migration: a save in bin beside a JSON sidecar writes the merged document as .bin, keeps the JSON byte for byte, and later saves follow the .bin', async (t) => {
  const root = makeTree({ 'IMG_3.jpg': FAKE_JPEG, 'IMG_3.json': { json: { face_detection: { faces: [] }, custom: 25.0 } } }, testDir(t));
  const img = path.join(root, 'IMG_3.jpg');
  const json = path.join(root, 'IMG_3.json');
  const before = fs.readFileSync(json);
  const first = await saveSidecar(img, 'yolov8', { objects: [1] }, { format: 'bin' });
  assert.equal(first.path, path.join(root, 'IMG_3.bin'));
  assert.equal(first.kept, json);
  // No format asked: the effective file (.bin) keeps its format; a JSON asked would not be read: into the .bin too.
  await saveSidecar(img, 'quality_assessment', { grade: 'B' });
  const third = await saveSidecar(img, 'yolov8', { objects: [2] }, { format: 'json' });
  assert.equal(third.path, path.join(root, 'IMG_3.bin'));
  assert.deepEqual(fs.readFileSync(json), before, 'the JSON is untouched');
  const r = await readSidecarDetailed(img, {});
  assert.equal(r.path, path.join(root, 'IMG_3.bin'));
  assert.deepEqual(Object.keys(r.data), ['face_detection', 'custom', 'yolov8', 'sidecar_info', 'quality_assessment']);
  assert.deepEqual(r.data.yolov8, { objects: [2] });
  assert.deepEqual(r.findings.map((f) => f.code), ['kept']);
});

test('backend maps merge backend by backend; backend: NAME stores one backend; a plain result still replaces the operation', async (t) => {
  const root = makeTree({ 'IMG_4.jpg': FAKE_JPEG }, testDir(t));
  const img = path.join(root, 'IMG_4.jpg');
  await saveSidecar(img, 'face_detection', { insightface: { success: true, faces: [1] } });
  await saveSidecar(img, 'face_detection', { face_recognition: { success: true, faces: [2] } });
  await saveSidecar(img, 'face_detection', { success: true, faces: [3] }, { backend: 'opencv' });
  await saveSidecar(img, 'face_detection', { insightface: { success: false, faces: [] } });
  let fd = (await readSidecarDetailed(img)).data.face_detection as JsonObject;
  assert.deepEqual(Object.keys(fd), ['insightface', 'face_recognition', 'opencv']);
  assert.deepEqual(fd.insightface, { success: false, faces: [] }, 'each backend replaced whole');
  // A whole document sending one backend keeps the others too.
  await saveSidecar(img, 'face_detection', { face_detection: { opencv: { success: true, faces: [4] } }, sidecar_info: {} }, { merge: 'document' });
  fd = (await readSidecarDetailed(img)).data.face_detection as JsonObject;
  assert.deepEqual(Object.keys(fd), ['insightface', 'face_recognition', 'opencv']);
  assert.deepEqual(fd.opencv, { success: true, faces: [4] });
  // A plain result replaces the operation as before.
  await saveSidecar(img, 'face_detection', { success: true, faces: [] });
  assert.deepEqual((await readSidecarDetailed(img)).data.face_detection, { success: true, faces: [] });
  // A backend under an operation that holds a list is refused, nothing written.
  await saveSidecar(img, 'tags', ['a']);
  const bytes = fs.readFileSync(path.join(root, 'IMG_4.bin'));
  await assert.rejects(saveSidecar(img, 'tags', { x: 1 }, { backend: 'b' }), (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT');
  assert.deepEqual(fs.readFileSync(path.join(root, 'IMG_4.bin')), bytes);
});

test('a backend\'s result is replaced whole even when it holds only objects (an error, a per-player map): it was merged again, so a failed run kept the old success and objects, and a player gone stayed', async (t) => {
  const root = makeTree({ 'IMG_5.jpg': FAKE_JPEG }, testDir(t));
  const img = path.join(root, 'IMG_5.jpg');
  await saveSidecar(img, 'yolov8', { yolov8: { success: true, objects: [1, 2] } });
  await saveSidecar(img, 'yolov8', { yolov8: { error: { type: 'OOM' } } });
  assert.deepEqual((await readSidecarDetailed(img)).data.yolov8, { yolov8: { error: { type: 'OOM' } } });
  await saveSidecar(img, 'face_detection', { insightface: { by_player: { p1: { n: 1 }, p2: { n: 2 } } }, opencv: { success: true } });
  await saveSidecar(img, 'face_detection', { insightface: { by_player: { p1: { n: 3 } } } });
  assert.deepEqual((await readSidecarDetailed(img)).data.face_detection, { insightface: { by_player: { p1: { n: 3 } } }, opencv: { success: true } });
  // At the operation's level too: a result holding only objects replaces a plain result whole.
  await saveSidecar(img, 'quality', { success: true, faces: [{ x: 1 }] });
  await saveSidecar(img, 'quality', { error: { message: 'boom' } });
  assert.deepEqual((await readSidecarDetailed(img)).data.quality, { error: { message: 'boom' } });
  // A backend named into an operation holding a result of its own is refused, nothing written: put
  // beside its fields, the old `success` stood over the backend's failure.
  await saveSidecar(img, 'persons', { success: true, faces: [1, 2] });
  await assert.rejects(saveSidecar(img, 'persons', { success: false, error: 'oom' }, { backend: 'insightface' }), (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT' && /holds a result of its own/.test(e.message));
  assert.deepEqual((await readSidecarDetailed(img)).data.persons, { success: true, faces: [1, 2] });
  // The same through a whole document.
  await saveSidecar(img, 'face_detection', { face_detection: { insightface: { by_player: { p9: { n: 9 } } } }, sidecar_info: {} }, { merge: 'document' });
  assert.deepEqual((await readSidecarDetailed(img)).data.face_detection, { insightface: { by_player: { p9: { n: 9 } } }, opencv: { success: true } });
});

test('the default format set once: .image-sidecar.json defaultFormat, IMAGE_SIDECAR_FORMAT, and bin under the earlier tool\'s names', async (t) => {
  const root = makeTree(
    {
      'cfg/.image-sidecar.json': { json: { defaultFormat: 'json' } },
      'cfg/sub/A.jpg': FAKE_JPEG,
      'plain/B.jpg': FAKE_JPEG,
      'plain/old.json': { json: { unrelated: true } },
      'legacy/C.jpg': FAKE_JPEG,
      'legacy/other.json': { json: { unrelated: true } },
      'data.json': { json: { success: true } },
    },
    testDir(t),
  );
  // The library honours the configuration file (the folder's own JSON majority would say json too: use bin there).
  assert.equal((await saveSidecar(path.join(root, 'cfg/sub/A.jpg'), 'op', 1)).format, 'json');
  // The CLI honours the environment over the folder's majority (JSON here).
  const r = await runCli(['write', path.join(root, 'plain/B.jpg'), '--operation', 'op', '--data', path.join(root, 'data.json'), '--json'], { env: { IMAGE_SIDECAR_FORMAT: 'bin' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(parseJson(r).path, path.join(root, 'plain/B.bin'));
  const bad = await runCli(['write', path.join(root, 'plain/B.jpg'), '--operation', 'op', '--data', path.join(root, 'data.json')], { env: { IMAGE_SIDECAR_FORMAT: 'xml' } });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /IMAGE_SIDECAR_FORMAT must be one of/);
  // In any case, spaces around it ignored (every save failed on `JSON`).
  fs.rmSync(path.join(root, 'plain/B.bin'));
  const upper = await runCli(['write', path.join(root, 'plain/B.jpg'), '--operation', 'op', '--data', path.join(root, 'data.json'), '--json'], { env: { IMAGE_SIDECAR_FORMAT: ' JSON ' } });
  assert.equal(upper.code, 0, upper.stderr);
  assert.equal(parseJson(upper).path, path.join(root, 'plain/B.json'));
  // The earlier package's default: bin, where our own default follows the folder (JSON).
  assert.equal((await saveSidecar(path.join(root, 'legacy/C.jpg'), 'op', 1, { defaultFormat: 'bin' })).format, 'bin');
  assert.equal(fs.existsSync(path.join(root, 'legacy/C.json')), false);
  // A bad value in the configuration file is a usage error naming the file.
  fs.writeFileSync(path.join(root, 'cfg/.image-sidecar.json'), '{"defaultFormat": "xml"}');
  await assert.rejects(saveSidecar(path.join(root, 'cfg/sub/A.jpg'), 'op', 2), (e: unknown) => e instanceof SidecarError && e.code === 'USAGE' && /defaultFormat/.test(e.message));
});

test('write --backend from the CLI keeps the other backend', async (t) => {
  const root = makeTree({ 'D.jpg': FAKE_JPEG, 'r1.json': { json: { success: true, faces: [1] } }, 'r2.json': { json: { success: true, faces: [2] } } }, testDir(t));
  for (const [backend, file] of [['insightface', 'r1.json'], ['face_recognition', 'r2.json']]) {
    const r = await runCli(['write', path.join(root, 'D.jpg'), '--operation', 'face_detection', '--backend', backend, '--data', path.join(root, file), '--format', 'json', '--json']);
    assert.equal(r.code, 0, r.stderr);
  }
  const fd = jsonOf(path.join(root, 'D.json')).face_detection as JsonObject;
  assert.deepEqual(fd, { insightface: { success: true, faces: [1] }, face_recognition: { success: true, faces: [2] } });
});

test('tree commands after a migration: the image is ok, its JSON copy is named kept by validate and counted by format-stats and stats', async (t) => {
  const { validate } = await import('../src/ops/validate.js');
  const { formatStats } = await import('../src/ops/format-stats.js');
  const { stats } = await import('../src/ops/stats.js');
  const root = makeTree({ 'G.jpg': FAKE_JPEG, 'G.json': { json: { face_detection: { faces: [] } } }, 'H.jpg': FAKE_JPEG, 'H.json': { json: { yolov8: { objects: [] } } } }, testDir(t));
  await saveSidecar(path.join(root, 'G.jpg'), 'yolov8', { objects: [] }, { format: 'bin' });
  for (const engine of ['inline', 'threads'] as const) {
    const v = await validate(root, { engine, index: false });
    const byFile = Object.fromEntries(v.results!.map((r) => [path.basename(r.file_path), r.category]));
    assert.deepEqual(byFile, { 'G.bin': 'ok', 'G.json': 'kept', 'H.json': 'ok' }, engine);
    assert.equal(v.invalid_files, 0);
    assert.deepEqual(v.scan.counts.ambiguous, 0);
    const f = await formatStats(root, { engine, index: false });
    assert.equal(f.kept_copies, 1);
    assert.equal(f.total_files, 3);
    const st = await stats(root, { engine, index: false });
    assert.deepEqual([st.sidecar_files, st.total_sidecars, st.kept_copies, st.coverage_percentage], [3, 2, 1, 100]);
  }
});

/** The scan's record of the one image in `dir` (no index): its effective file and finding codes. */
async function scannedOnce(dir: string): Promise<{ effective: string | null; codes: string[] }> {
  const recs = [];
  for await (const rec of scan(dir, { index: false })) recs.push(rec);
  assert.equal(recs.length, 1);
  return { effective: recs[0].effective?.path ?? null, codes: recs[0].findings.map((f) => f.code) };
}

test('RAW+JPEG: a JPEG saved before its RAW arrived keeps saving into its stem file, so its results stay read first once the RAW is deleted (it wrote IMG_1.JPG.bin, and the stem file hid it again)', async (t) => {
  for (const format of ['bin', 'json'] as const) {
    const root = makeTree({ 'IMG_1.JPG': FAKE_JPEG }, testDir(t));
    const jpeg = path.join(root, 'IMG_1.JPG');
    const raw = path.join(root, 'IMG_1.CR2');
    const stemFile = path.join(root, `IMG_1.${format === 'bin' ? 'bin' : 'json'}`);
    await saveSidecar(jpeg, 'face_detection', { faces: [1] }, { format }); // alone: the stem form
    fs.writeFileSync(raw, 'raw');
    const rawSave = await saveSidecar(raw, 'face_detection', { faces: ['raw'] }, { format });
    assert.equal(rawSave.path, `${raw}.${format}`, 'the RAW: its own name-ext file');
    const again = await saveSidecar(jpeg, 'object_detection', { objects: [2] }, { format });
    assert.equal(again.path, stemFile, format);
    assert.equal(again.kept, undefined);
    assert.equal(fs.existsSync(`${jpeg}.${format}`), false, 'no name-ext copy of the JPEG');
    assert.deepEqual((await readSidecarDetailed(raw)).data.face_detection, { faces: ['raw'] }, 'the RAW still reads its own');
    fs.unlinkSync(raw);
    fs.unlinkSync(`${raw}.${format}`);
    const r = await readSidecarDetailed(jpeg);
    assert.equal(r.path, stemFile);
    assert.deepEqual(r.data.object_detection, { objects: [2] }, 'the second save is read once the share ended');
    assert.deepEqual(r.findings, []);
    assert.deepEqual(await scannedOnce(root), { effective: stemFile, codes: [] });
  }
});

test('RAW+JPEG: the pipeline\'s JSON recorded for the JPEG, then a save in bin — the stem IMG_1.bin it writes stays read first once the RAW is deleted, the JSON kept', async (t) => {
  const root = testDir(t);
  const jpeg = path.join(root, 'IMG_1.JPG');
  makeTree({ 'IMG_1.JPG': FAKE_JPEG, 'IMG_1.CR2': 'raw', 'IMG_1.json': { json: { sidecar_info: { image_path: jpeg }, face_detection: { faces: [1] } } } }, root);
  // A whole-document save, as the Python packages send (the pipeline read IMG_1.json and adds a result).
  const doc: JsonObject = { ...jsonOf(path.join(root, 'IMG_1.json')), object_detection: { objects: [2] } };
  const s = await saveSidecar(jpeg, 'object_detection', doc, { format: 'bin', merge: 'document' });
  assert.equal(s.path, path.join(root, 'IMG_1.bin'));
  assert.equal(s.kept, path.join(root, 'IMG_1.json'));
  assert.deepEqual((await readSidecarDetailed(path.join(root, 'IMG_1.CR2'))).data, {}, 'the RAW passes both files over');
  fs.unlinkSync(path.join(root, 'IMG_1.CR2'));
  const r = await readSidecarDetailed(jpeg);
  assert.equal(r.path, path.join(root, 'IMG_1.bin'));
  assert.deepEqual(r.data.object_detection, { objects: [2] });
  assert.deepEqual(r.findings.map((f) => f.code), ['kept']);
  assert.deepEqual(await scannedOnce(root), { effective: path.join(root, 'IMG_1.bin'), codes: ['kept'] });
});

test('RAW+JPEG: saves stay in the name-ext form when the shared stem file is not the image\'s (recorded for the RAW, for nobody)', async (t) => {
  const root = testDir(t);
  const jpeg = path.join(root, 'IMG_1.JPG');
  const raw = path.join(root, 'IMG_1.CR2');
  // Recorded for nobody: ambiguous, the JPEG's own file is name-ext (docs/PAIRING.md §3).
  makeTree({ 'a/IMG_1.JPG': FAKE_JPEG, 'a/IMG_1.CR2': 'raw', 'a/IMG_1.json': { json: { face_detection: { faces: [1] } } } }, root);
  assert.equal((await saveSidecar(path.join(root, 'a', 'IMG_1.JPG'), 'object_detection', { objects: [] })).path, path.join(root, 'a', 'IMG_1.JPG.json'));
  // Recorded for the RAW: the JPEG passes it over and saves its own.
  makeTree({ 'IMG_1.JPG': FAKE_JPEG, 'IMG_1.CR2': 'raw', 'IMG_1.json': { json: { sidecar_info: { image_path: raw }, face_detection: { faces: ['raw'] } } } }, root);
  assert.equal((await saveSidecar(jpeg, 'object_detection', { objects: [] })).path, `${jpeg}.json`);
  assert.deepEqual((await readSidecarDetailed(raw)).data.face_detection, { faces: ['raw'] });
});

test('RAW+JPEG: the RAW\'s stem file ranked before the JPEG\'s own (IMG_1.bin beside the JPEG\'s IMG_1.json): the JPEG saves its name-ext file, in any format asked or none, and never reads the RAW\'s file once the RAW is gone', async (t) => {
  for (const asked of ['bin', 'json', undefined] as const) {
    const root = testDir(t);
    const jpeg = path.join(root, 'IMG_1.JPG');
    makeTree({ 'IMG_1.JPG': FAKE_JPEG, 'IMG_1.CR2': 'raw', 'IMG_1.json': { json: { sidecar_info: { image_path: jpeg }, face_detection: { faces: [1] } } } }, root);
    await saveSidecar(path.join(root, 'IMG_1.CR2'), 'face_detection', { faces: ['raw'] }, { format: 'bin', naming: 'name-ext' });
    fs.renameSync(path.join(root, 'IMG_1.CR2.bin'), path.join(root, 'IMG_1.bin')); // the earlier tool's layout for the RAW
    const s = await saveSidecar(jpeg, 'object_detection', { objects: [] }, asked === undefined ? {} : { format: asked });
    assert.equal(s.path, `${jpeg}.${asked ?? 'json'}`, String(asked));
    assert.deepEqual((await readSidecarDetailed(path.join(root, 'IMG_1.CR2'))).data.face_detection, { faces: ['raw'] });
    fs.unlinkSync(path.join(root, 'IMG_1.CR2'));
    const j = await readSidecarDetailed(jpeg);
    assert.notDeepEqual(j.data.face_detection, { faces: ['raw'] }, `never the RAW's (${String(asked)})`);
    assert.ok(j.findings.some((f) => f.code === 'left-behind' && f.path === path.join(root, 'IMG_1.bin')), JSON.stringify(j.findings));
  }
});

test('RAW+JPEG: the RAW\'s stem file ranked after the JPEG\'s own (its IMG_1.json beside the JPEG\'s IMG_1.bin): a json save goes into IMG_1.bin, which stays first once the RAW is gone', async (t) => {
  const root = makeTree({ 'IMG_1.JPG': FAKE_JPEG }, testDir(t));
  const jpeg = path.join(root, 'IMG_1.JPG');
  await saveSidecar(jpeg, 'face_detection', { v: 1 }, { format: 'bin' });
  fs.writeFileSync(path.join(root, 'IMG_1.CR2'), 'raw');
  fs.writeFileSync(path.join(root, 'IMG_1.json'), JSON.stringify({ sidecar_info: { image_path: path.join(root, 'IMG_1.CR2') }, rawop: { v: 'r' } }));
  assert.equal((await saveSidecar(jpeg, 'face_detection', { v: 2 }, { format: 'json' })).path, path.join(root, 'IMG_1.bin'));
  assert.deepEqual(Object.keys((await readSidecarDetailed(path.join(root, 'IMG_1.CR2'))).data).sort(), ['rawop', 'sidecar_info']);
  fs.unlinkSync(path.join(root, 'IMG_1.CR2'));
  assert.deepEqual((await readSidecarDetailed(jpeg)).data.face_detection, { v: 2 });
});

test('RAW+JPEG: naming asked by an image that owns its shared stem file decides nothing, as for an image alone (it has its sidecar): "stem" is not refused, "name-ext" made a copy the stem file hid once the RAW was gone', async (t) => {
  for (const naming of ['name-ext', 'stem'] as const) {
    const root = makeTree({ 'IMG_1.JPG': FAKE_JPEG }, testDir(t));
    const jpeg = path.join(root, 'IMG_1.JPG');
    await saveSidecar(jpeg, 'face_detection', { v: 1 }, { format: 'json' });
    fs.writeFileSync(path.join(root, 'IMG_1.CR2'), 'raw');
    const s = await saveSidecar(jpeg, 'object_detection', { v: 2 }, { format: 'bin', naming });
    assert.equal(s.path, path.join(root, 'IMG_1.bin'), naming);
    fs.unlinkSync(path.join(root, 'IMG_1.CR2'));
    assert.deepEqual((await readSidecarDetailed(jpeg)).data.object_detection, { v: 2 }, naming);
  }
});

test('RAW+JPEG: a whole-document save built from the JPEG\'s kept JSON goes into its stem .bin and keeps the newer result there (what it sends back unchanged is no change)', async (t) => {
  const root = makeTree({ 'IMG_1.JPG': FAKE_JPEG }, testDir(t));
  const jpeg = path.join(root, 'IMG_1.JPG');
  await saveSidecar(jpeg, 'face_detection', { v: 1 }, { format: 'json' });
  fs.writeFileSync(path.join(root, 'IMG_1.CR2'), 'raw');
  await saveSidecar(jpeg, 'face_detection', { v: 2 }, { format: 'bin' }); // IMG_1.bin, the JSON kept with v 1
  const doc: JsonObject = { ...jsonOf(path.join(root, 'IMG_1.json')), object_detection: { v: 3 } }; // what a JSON-only caller read
  const s = await saveSidecar(jpeg, 'object_detection', doc, { format: 'json', merge: 'document' });
  assert.equal(s.path, path.join(root, 'IMG_1.bin'));
  const r = await readSidecarDetailed(jpeg);
  assert.deepEqual([r.data.face_detection, r.data.object_detection], [{ v: 2 }, { v: 3 }]);
});

test('a whole document from the kept JSON: the operation it just ran (its sidecar_info.last_operation) is taken even when equal to the JSON\'s, the ones it carries are no change (a rerun giving the first result after a failure saved since was dropped: the image stayed failed)', async (t) => {
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG }, testDir(t));
  const img = path.join(root, 'IMG_1.jpg');
  await saveSidecar(img, 'face_detection', { success: true, faces: [] }, { format: 'json' });
  await saveSidecar(img, 'quality_assessment', { grade: 'A' }, { format: 'json' });
  await saveSidecar(img, 'face_detection', { success: true, faces: [] }, { format: 'json' }); // the JSON's last operation
  const json = jsonOf(path.join(root, 'IMG_1.json'));
  // What the pipeline sends: the JSON it read, doc[op] = its result, last_operation = the operation it ran.
  let stamp = 0;
  const sent = (op: string, result: JsonObject): JsonObject => ({ ...json, [op]: result, sidecar_info: { ...(json.sidecar_info as JsonObject), last_operation: op, last_updated: `2026-11-29T10:00:0${stamp++}` } });
  await saveSidecar(img, 'face_detection', sent('face_detection', { success: false, error: 'CUDA out of memory' }), { format: 'bin', merge: 'document' });
  assert.deepEqual((await readSidecarDetailed(img)).data.face_detection, { success: false, error: 'CUDA out of memory' });
  await saveSidecar(img, 'quality_assessment', { grade: 'B' }, { format: 'bin' }); // a newer grade, in the .bin only
  // The rerun succeeds with the JSON's very result.
  await saveSidecar(img, 'face_detection', sent('face_detection', { success: true, faces: [] }), { format: 'bin', merge: 'document' });
  let r = await readSidecarDetailed(img);
  assert.deepEqual(r.data.face_detection, { success: true, faces: [] }, 'the rerun is saved');
  assert.deepEqual(r.data.quality_assessment, { grade: 'B' }, 'the grade it carried from the JSON is no change');
  // The pipeline names face_detection in the call for every operation but yolov8: last_operation says which ran.
  await saveSidecar(img, 'face_detection', { success: false, error: 'later failure' }, { format: 'bin' });
  await saveSidecar(img, 'face_detection', sent('quality_assessment', { grade: 'A' }), { format: 'bin', merge: 'document' });
  r = await readSidecarDetailed(img);
  assert.deepEqual(r.data.quality_assessment, { grade: 'A' }, 'the grade it ran is saved, equal to the JSON\'s or not');
  assert.deepEqual(r.data.face_detection, { success: false, error: 'later failure' }, 'the face result it carried from the JSON is no change');
  assert.deepEqual(jsonOf(path.join(root, 'IMG_1.json')), json, 'the JSON is kept as it was');
  // A caller that saves another operation and carries last_operation as the JSON has it: the face
  // result it carries is no change (the rule took it as run again and put the JSON's back).
  await saveSidecar(img, 'face_detection', { ...json, quality_assessment: { grade: 'D' }, sidecar_info: { ...(json.sidecar_info as JsonObject), last_updated: '2026-11-29T11:00:00' } }, { format: 'bin', merge: 'document' });
  r = await readSidecarDetailed(img);
  assert.deepEqual([r.data.face_detection, r.data.quality_assessment], [{ success: false, error: 'later failure' }, { grade: 'D' }]);
  // Sent back as read (not stamped): nothing in it is saved over the .bin.
  await saveSidecar(img, 'face_detection', json, { format: 'bin', merge: 'document' });
  r = await readSidecarDetailed(img);
  assert.deepEqual([r.data.face_detection, r.data.quality_assessment], [{ success: false, error: 'later failure' }, { grade: 'D' }]);
});

test('a whole document read from the .bin (it carries operations the kept JSON lacks) and stamped: the operation it just ran is saved even when equal to the JSON\'s (the rerun was taken as no change and dropped, written: true)', async (t) => {
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG }, testDir(t));
  const img = path.join(root, 'IMG_1.jpg');
  const info = { operation_type: 'face_detection', created_at: '2026-11-01T00:00:00Z', last_updated: '2026-11-01T00:00:00Z', image_path: img };
  fs.writeFileSync(path.join(root, 'IMG_1.json'), JSON.stringify({ face_detection: { success: false, faces: [] }, sidecar_info: info }));
  await saveSidecar(img, 'yolov8', { success: true, objects: [] }, { format: 'bin' }); // IMG_1.bin; the JSON kept
  // The pipeline: read the document (the library's read: the .bin), set the result of the operation
  // it ran, stamp it, send it whole.
  const rerun = async (result: JsonObject, at: string) => {
    const doc = (await readSidecarDetailed(img)).data;
    doc.face_detection = result;
    doc.sidecar_info = { ...(doc.sidecar_info as JsonObject), last_updated: at, last_operation: 'face_detection' };
    return saveSidecar(img, 'face_detection', doc, { format: 'bin', merge: 'document' });
  };
  await rerun({ success: true, faces: [1] }, '2026-11-30T10:00:00Z');
  assert.deepEqual((await readSidecarDetailed(img)).data.face_detection, { success: true, faces: [1] });
  const s = await rerun({ success: false, faces: [] }, '2026-11-30T10:00:01Z');
  assert.equal(s.path, path.join(root, 'IMG_1.bin'));
  const r = await readSidecarDetailed(img);
  assert.deepEqual(r.data.face_detection, { success: false, faces: [] }, 'the rerun giving the JSON\'s result is saved');
  assert.deepEqual(r.data.yolov8, { success: true, objects: [] });
  // A key it carries that is neither the JSON's nor the .bin's is a change of its own: the rule that
  // takes the operation it ran as sent does not apply, and its face result equal to the JSON's is no change.
  await rerun({ success: true, faces: [2] }, '2026-11-30T10:00:02Z');
  const doc = (await readSidecarDetailed(img)).data;
  await saveSidecar(img, 'face_detection', { ...doc, face_detection: { success: false, faces: [] }, yolov8: { success: true, objects: [3] }, sidecar_info: { ...(doc.sidecar_info as JsonObject), last_updated: '2026-11-30T10:00:03Z', last_operation: 'face_detection' } }, { format: 'bin', merge: 'document' });
  const after = await readSidecarDetailed(img);
  assert.deepEqual([after.data.face_detection, after.data.yolov8], [{ success: true, faces: [2] }, { success: true, objects: [3] }]);
  assert.deepEqual(jsonOf(path.join(root, 'IMG_1.json')).face_detection, { success: false, faces: [] }, 'the JSON is kept as it was');
});

test('RAW+JPEG: a JPEG that owns its shared stem file saves into it when the asked format\'s stem name is held by its kept JSON, a folder, a link to nothing or another tool\'s file, never into a name-ext copy; held by the RAW\'s file (in any spelling), its own name-ext file as before', async (t) => {
  const cases: [string, (dir: string) => void][] = [
    ['its kept JSON', () => {}],
    ['a folder', (dir) => fs.mkdirSync(path.join(dir, 'IMG_1.rkyv'))],
    ['a link to nothing', (dir) => fs.symlinkSync('gone/x.rkyv', path.join(dir, 'IMG_1.rkyv'))],
    ['another tool\'s file', (dir) => fs.writeFileSync(path.join(dir, 'IMG_1.rkyv'), JSON.stringify({ title: 'IMG_1.JPG', photoTakenTime: { timestamp: '1' } }))],
  ];
  for (const [what, plant] of cases) {
    const root = makeTree({ 'IMG_1.JPG': FAKE_JPEG }, testDir(t));
    const jpeg = path.join(root, 'IMG_1.JPG');
    await saveSidecar(jpeg, 'face_detection', { v: 1 }, { format: 'json' });
    fs.writeFileSync(path.join(root, 'IMG_1.CR2'), 'raw');
    assert.equal((await saveSidecar(jpeg, 'face_detection', { v: 2 }, { format: 'bin' })).path, path.join(root, 'IMG_1.bin'), what);
    plant(root);
    const asked = what === 'its kept JSON' ? 'json' : 'rkyv';
    const s = await saveSidecar(jpeg, 'face_detection', { v: 3 }, { format: asked });
    assert.equal(s.path, path.join(root, 'IMG_1.bin'), what);
    assert.equal(fs.existsSync(path.join(root, `IMG_1.JPG.${asked}`)), false, what);
    if (what !== 'its kept JSON') assert.ok(fs.lstatSync(path.join(root, 'IMG_1.rkyv')), `${what} left in place`);
    fs.unlinkSync(path.join(root, 'IMG_1.CR2'));
    assert.deepEqual((await readSidecarDetailed(jpeg)).data.face_detection, { v: 3 }, what);
  }
  // The RAW's own stem .bin spelled in NFD beside the JPEG's NFC stem JSON: the JPEG's bin save must
  // not write a second, NFC-equal É.bin (on a normalising file system, the same name as the RAW's):
  // another image's file holds the name, so the JPEG's own name-ext file, as before.
  const root = testDir(t);
  const jpeg = path.join(root, 'É.JPG');
  makeTree({ 'É.JPG': FAKE_JPEG, 'É.CR2': 'raw', 'É.json': { json: { sidecar_info: { image_path: jpeg }, face_detection: { v: 1 } } } }, root);
  fs.writeFileSync(path.join(root, 'É.bin'.normalize('NFD')), JSON.stringify({ sidecar_info: { image_path: path.join(root, 'É.CR2') }, face_detection: { v: 'raw' } }));
  const s = await saveSidecar(jpeg, 'face_detection', { v: 2 }, { format: 'bin' });
  assert.equal(s.path, path.join(root, 'É.JPG.bin'));
  assert.deepEqual(fs.readdirSync(root).map((n) => n.normalize('NFC')).sort(), ['É.CR2', 'É.JPG', 'É.JPG.bin', 'É.bin', 'É.json'].sort());
  assert.deepEqual((await readSidecarDetailed(path.join(root, 'É.CR2'))).data.face_detection, { v: 'raw' });
});

test('A.jpg.png that owns A.jpg.json (its stem file, A.jpg\'s name-ext one) saves its own name-ext file, not A.jpg.bin, which would take A.jpg\'s slot and refuse A.jpg\'s saves', async (t) => {
  const root = makeTree({ 'A.jpg.png': FAKE_JPEG }, testDir(t));
  await saveSidecar(path.join(root, 'A.jpg.png'), 'face_detection', { png: 1 }, { format: 'json' });
  makeTree({ 'A.jpg': FAKE_JPEG, 'A.png': FAKE_JPEG }, root);
  assert.equal((await saveSidecar(path.join(root, 'A.jpg.png'), 'face_detection', { png: 2 }, { format: 'bin' })).path, path.join(root, 'A.jpg.png.bin'));
  assert.equal((await saveSidecar(path.join(root, 'A.jpg'), 'object_detection', { jpg: 1 }, { format: 'bin' })).path, path.join(root, 'A.jpg.bin'));
});

test('a whole-document save never hands its file to another image: a caller\'s symlink_info naming another image (the RAW\'s document, an older name) is replaced by this image\'s record', async (t) => {
  for (const sent of ['older-name', 'raw-document'] as const) {
    const root = makeTree({ 'IMG_1.JPG': FAKE_JPEG }, testDir(t));
    const jpeg = path.join(root, 'IMG_1.JPG');
    const raw = path.join(root, 'IMG_1.CR2');
    await saveSidecar(jpeg, 'op1', { v: 'a' });
    fs.writeFileSync(raw, 'raw');
    await saveSidecar(raw, 'rawop', { v: 'r' });
    const info =
      sent === 'older-name'
        ? { symlink_path: '/old/IMG_1.jpg', symlink_info: { symlink_path: '/old/IMG_1.jpg', target_path: '/old/IMG_1.jpg' } }
        : ((await readSidecarDetailed(raw)).data.sidecar_info as JsonObject);
    const s = await saveSidecar(jpeg, 'op2', { op2: { v: 'b' }, sidecar_info: info }, { merge: 'document' });
    assert.equal(s.path, path.join(root, 'IMG_1.bin'), sent);
    const j = await readSidecarDetailed(jpeg);
    assert.deepEqual([j.path, Object.keys(j.data).sort()], [path.join(root, 'IMG_1.bin'), ['op1', 'op2', 'sidecar_info']], sent);
    assert.deepEqual(j.findings, [], sent);
    assert.deepEqual(Object.keys((await readSidecarDetailed(raw)).data).sort(), ['rawop', 'sidecar_info'], sent);
  }
});

test('RAW+JPEG: a stem file recording the JPEG under another case of its extension (IMG_1.jpg, the file renamed IMG_1.JPG) is the JPEG\'s — the RAW passes it over, the JPEG reads it without an ambiguous finding and keeps saving into it (the RAW read the JPEG\'s results, and the JPEG\'s name-ext copy fell behind once the RAW was gone)', async (t) => {
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG }, testDir(t));
  await saveSidecar(path.join(root, 'IMG_1.jpg'), 'face_detection', { v: 1 });
  fs.renameSync(path.join(root, 'IMG_1.jpg'), path.join(root, 'IMG_1.JPG'));
  const jpeg = path.join(root, 'IMG_1.JPG');
  const raw = path.join(root, 'IMG_1.CR2');
  fs.writeFileSync(raw, 'raw');
  assert.deepEqual((await readSidecarDetailed(raw)).data, {}, 'the RAW passes the JPEG\'s file over');
  const before = await readSidecarDetailed(jpeg);
  assert.deepEqual([before.path, before.findings], [path.join(root, 'IMG_1.bin'), []]);
  assert.equal((await saveSidecar(jpeg, 'face_detection', { v: 2 })).path, path.join(root, 'IMG_1.bin'));
  fs.unlinkSync(raw);
  assert.deepEqual((await readSidecarDetailed(jpeg)).data.face_detection, { v: 2 });
  // Two images matching it but for case: nobody's. Nor is a name whose stem differs in case (another image's stem file).
  const twins = makeTree({ 'IMG_2.Jpg': FAKE_JPEG, 'IMG_2.jPG': FAKE_JPEG, 'IMG_2.json': { json: { sidecar_info: { image_path: '/x/IMG_2.jpg' }, v: 1 } } }, testDir(t));
  assert.deepEqual((await readSidecarDetailed(path.join(twins, 'IMG_2.Jpg'))).findings.map((f) => f.code), ['ambiguous']);
  const stems = makeTree({ 'IMG_3.JPG': FAKE_JPEG, 'IMG_3.CR2': 'raw', 'IMG_3.json': { json: { sidecar_info: { image_path: '/x/img_3.jpg' }, v: 1 } } }, testDir(t));
  assert.deepEqual((await readSidecarDetailed(path.join(stems, 'IMG_3.JPG'))).findings.map((f) => f.code), ['ambiguous']);
});

test('RAW+JPEG: a whole-document save of the RAW keeps a result equal to the JPEG\'s in the shared IMG_1.json (the JPEG\'s file served as the base of the merge, so the RAW\'s own result counted as no change and was dropped)', async (t) => {
  const root = makeTree({ 'IMG_1.JPG': FAKE_JPEG }, testDir(t));
  const jpeg = path.join(root, 'IMG_1.JPG');
  const raw = path.join(root, 'IMG_1.CR2');
  const faces = { success: true, faces: [{ bbox: [1, 2, 3, 4] }] };
  await saveSidecar(jpeg, 'face_detection', { sidecar_info: { operation_type: 'face_detection' }, face_detection: faces }, { merge: 'document', format: 'json' });
  fs.writeFileSync(raw, 'raw');
  const s = await saveSidecar(raw, 'face_detection', { sidecar_info: { operation_type: 'face_detection' }, face_detection: faces }, { merge: 'document', format: 'json' });
  assert.equal(s.path, `${raw}.json`);
  assert.deepEqual((await readSidecarDetailed(raw)).data.face_detection, faces);
});

test('RAW+JPEG: stale and stats check the shared stem file\'s record against the image it records, not the pair\'s first image (the JPEG\'s record was compared with the RAW\'s file)', async (t) => {
  const root = makeTree({ 'IMG_1.JPG': FAKE_JPEG }, testDir(t));
  const jpeg = path.join(root, 'IMG_1.JPG');
  await saveSidecar(jpeg, 'face_detection', { v: 1 });
  fs.writeFileSync(path.join(root, 'IMG_1.CR2'), 'raw');
  fs.utimesSync(path.join(root, 'IMG_1.CR2'), new Date('2020-01-01'), new Date('2020-01-01'));
  const unchanged = await staleSidecars(root, { index: false });
  assert.deepEqual([unchanged.counts, unchanged.entries], [{ stale: 0, current: 1, unknown: 0 }, []]);
  assert.deepEqual((await stats(root, { index: false })).image_identity, { current: 1, stale: 0, unknown: 0 });
  fs.writeFileSync(jpeg, Buffer.concat([FAKE_JPEG, Buffer.from('edited')]));
  const edited = await staleSidecars(root, { index: false });
  assert.deepEqual(edited.entries!.map((e) => e.rel), ['IMG_1.JPG']);
});

test('RAW+JPEG: a shared stem file recorded for a JPEG link whose target is gone is never checked against the RAW (stale listed it under IMG_1.CR2)', async (t) => {
  const root = makeTree({ 'real/P.JPG': FAKE_JPEG, 'd/IMG_1.JPG': { symlink: '../real/P.JPG' } }, testDir(t));
  const dir = path.join(root, 'd');
  // A save through the link writes beside the target (real/P.json), recording it; that file, moved
  // beside the link, is the pair's shared stem file once the RAW arrives.
  assert.equal((await saveSidecar(path.join(dir, 'IMG_1.JPG'), 'face_detection', { v: 1 }, { format: 'json' })).path, path.join(root, 'real', 'P.json'));
  fs.renameSync(path.join(root, 'real', 'P.json'), path.join(dir, 'IMG_1.json'));
  fs.writeFileSync(path.join(dir, 'IMG_1.CR2'), 'raw');
  fs.unlinkSync(path.join(root, 'real', 'P.JPG'));
  const stale = await staleSidecars(dir, { index: false });
  assert.deepEqual(stale.entries, []);
  assert.equal(stale.counts.stale, 0);
  const st = await stats(dir, { index: false, list: true });
  assert.equal(st.image_identity?.stale, 0);
  assert.deepEqual(st.sidecars?.map((e) => e.image), ['IMG_1.JPG'], 'listed for the image it records');
});

test('a save into a sidecar in the earlier tool\'s flat or wrapped layout puts its result under its operation\'s name first: merged as they were, the new operation made the layout read as operations named "faces" or "data", and stats and todo lost the first result (the pipeline redid it)', async (t) => {
  const { encodeSidecar } = await import('../src/formats/codec.js');
  const { todo } = await import('../src/ops/todo.js');
  const root = makeTree({ 'L.jpg': FAKE_JPEG, 'W.jpg': FAKE_JPEG }, testDir(t));
  const { noteFloat } = await import('../src/formats/numbers.js');
  const flat = { faces: [], count: 2, sidecar_info: { operation_type: 'face_detection' } } as JsonObject;
  noteFloat(flat, 'count', 2); // 2.0, a float
  fs.writeFileSync(path.join(root, 'L.bin'), encodeSidecar(flat, 'bin'));
  fs.writeFileSync(path.join(root, 'W.json'), JSON.stringify({ sidecar_info: { operation_type: 'quality_assessment' }, data: { quality: 0.5 } }));
  const counts = async () => (await stats(root, { index: false })).operation_counts;
  const done = async (op: string) => (await todo(root, { operation: op, index: false })).counts.done;
  assert.deepEqual([await counts(), await done('face_detection'), await done('quality_assessment')], [{ face_detection: 1, quality_assessment: 1 }, 1, 1]);

  await saveSidecar(path.join(root, 'L.jpg'), 'quality_assessment', { success: true, quality: 0.9 });
  await saveSidecar(path.join(root, 'W.jpg'), 'yolov8', { success: true, objects: [] });
  assert.deepEqual([await counts(), await done('face_detection'), await done('quality_assessment')], [{ face_detection: 1, quality_assessment: 2, yolov8: 1 }, 1, 2]);
  const l = (await readSidecarDetailed(path.join(root, 'L.jpg'))).data;
  assert.deepEqual(Object.keys(l), ['face_detection', 'sidecar_info', 'quality_assessment']);
  assert.deepEqual(l.face_detection, { faces: [], count: 2 });
  assert.equal((await runCli(['read', path.join(root, 'L.jpg'), '--operation', 'face_detection'])).stdout.replace(/\s/g, ''), '{"faces":[],"count":2.0}', 'the float stays a float');
  const w = (await readSidecarDetailed(path.join(root, 'W.jpg'))).data;
  assert.deepEqual(Object.keys(w), ['sidecar_info', 'quality_assessment', 'yolov8']);
  assert.deepEqual(w.quality_assessment, { quality: 0.5 });
});

test('a whole document read from a flat or wrapped sidecar and sent back is reshaped as the file is (its changed result landed beside the file\'s as an operation named "faces"); a whole sidecar wrapped in data ({sidecar_info, data: {face_detection, yolov8}}) keeps its operations through a save', async (t) => {
  const { encodeSidecar } = await import('../src/formats/codec.js');
  const { findOperation } = await import('../src/cli/read-view.js');
  const { orderedKeys } = await import('../src/formats/key-order.js');
  const root = makeTree({ 'L.jpg': FAKE_JPEG, 'W.jpg': FAKE_JPEG, 'D.jpg': FAKE_JPEG }, testDir(t));
  fs.writeFileSync(path.join(root, 'W.json'), '{"sidecar_info": {"operation_type": "quality_assessment"}, "data": {"quality": 0.5}}');
  fs.writeFileSync(path.join(root, 'D.json'), '{"sidecar_info": {"operation_type": "face_detection"}, "data": {"face_detection": {"faces": []}, "yolov8": {"objects": [], "9": 1, "10": 2}}}');
  // The pipeline's read-modify-save of the whole document, with and without the read as its base.
  for (const withBase of [false, true]) {
    fs.writeFileSync(path.join(root, 'L.bin'), encodeSidecar({ faces: [], sidecar_info: { operation_type: 'face_detection' } } as JsonObject, 'bin'));
    const l = path.join(root, 'L.jpg');
    const read = (await readSidecarDetailed(l)).data;
    const doc = { ...read, faces: [{ confidence: withBase ? 0.8 : 0.9 }], sidecar_info: { ...(read.sidecar_info as JsonObject), last_updated: `2030-01-0${withBase ? 2 : 1}T00:00:00` } } as JsonObject;
    await saveSidecar(l, 'face_detection', doc, { merge: 'document', ...(withBase ? { base: read } : {}) });
    const back = (await readSidecarDetailed(l)).data;
    assert.deepEqual(Object.keys(back), ['face_detection', 'sidecar_info'], `no operation named faces (base: ${withBase})`);
    assert.deepEqual(back.face_detection, { faces: [{ confidence: withBase ? 0.8 : 0.9 }] });
  }
  // The same document with another operation added (it then holds a known operation key).
  for (const withBase of [false, true]) {
    fs.writeFileSync(path.join(root, 'L.bin'), encodeSidecar({ faces: [], sidecar_info: { operation_type: 'face_detection' } } as JsonObject, 'bin'));
    const l = path.join(root, 'L.jpg');
    const read = (await readSidecarDetailed(l)).data;
    const doc = { ...read, faces: [{ confidence: 0.7 }], count: 1, yolov8: { objects: [] }, sidecar_info: { ...(read.sidecar_info as JsonObject), last_updated: '2030-01-03T00:00:00' } } as JsonObject;
    await saveSidecar(l, 'face_detection', doc, { merge: 'document', ...(withBase ? { base: read } : {}) });
    const back = (await readSidecarDetailed(l)).data;
    assert.deepEqual(Object.keys(back), ['face_detection', 'sidecar_info', 'yolov8'], `no operation named faces or count, yolov8 added (base: ${withBase})`);
    assert.deepEqual(back.face_detection, { faces: [{ confidence: 0.7 }], count: 1 });
  }
  // Two workers read the flat file; the first's save puts it in key form; the second sends its flat
  // document with an operation added: its fields are still face_detection's (they were an
  // operation named faces beside the stale face_detection).
  {
    fs.writeFileSync(path.join(root, 'L.bin'), encodeSidecar({ faces: [], sidecar_info: { operation_type: 'face_detection' } } as JsonObject, 'bin'));
    const l = path.join(root, 'L.jpg');
    const a = (await readSidecarDetailed(l)).data;
    const b = (await readSidecarDetailed(l)).data;
    await saveSidecar(l, 'face_detection', { ...a, object_detection: { objects: [] }, sidecar_info: { ...(a.sidecar_info as JsonObject), last_updated: '2030-01-05T00:00:00' } } as JsonObject, { merge: 'document' });
    await saveSidecar(l, 'face_detection', { ...b, faces: [{ confidence: 0.6 }], quality_assessment: { q: 1 }, sidecar_info: { ...(b.sidecar_info as JsonObject), last_updated: '2030-01-05T00:00:01' } } as JsonObject, { merge: 'document' });
    const back = (await readSidecarDetailed(l)).data;
    assert.deepEqual(Object.keys(back), ['face_detection', 'sidecar_info', 'object_detection', 'quality_assessment']);
    assert.deepEqual(back.face_detection, { faces: [{ confidence: 0.6 }] });
  }
  const w = path.join(root, 'W.jpg');
  const wread = (await readSidecarDetailed(w)).data;
  await saveSidecar(w, 'face_detection', { ...wread, data: { quality: 0.7 }, sidecar_info: { ...(wread.sidecar_info as JsonObject), last_updated: '2030-01-01T00:00:00' } } as JsonObject, { merge: 'document' });
  assert.deepEqual((await readSidecarDetailed(w)).data.quality_assessment, { quality: 0.7 });
  assert.equal(Object.hasOwn((await readSidecarDetailed(w)).data, 'data'), false);

  const d = path.join(root, 'D.jpg');
  const before = (await readSidecarDetailed(d)).data;
  const y = findOperation(before, 'yolov8');
  assert.deepEqual(y && orderedKeys(y.holder[y.key] as JsonObject), ['objects', '9', '10'], 'read --operation finds it, in its order');
  // A whole document read from it, with an operation added: its operations lifted, none named data.
  const dread = (await readSidecarDetailed(d)).data;
  await saveSidecar(d, 'quality_assessment', { ...dread, pose: { n: 1 }, sidecar_info: { ...(dread.sidecar_info as JsonObject), last_updated: '2030-01-04T00:00:00' } } as JsonObject, { merge: 'document' });
  assert.deepEqual(orderedKeys((await readSidecarDetailed(d)).data), ['sidecar_info', 'face_detection', 'yolov8', 'pose']);
  await saveSidecar(d, 'quality_assessment', { success: true });
  const after = (await readSidecarDetailed(d)).data;
  assert.deepEqual(orderedKeys(after), ['sidecar_info', 'face_detection', 'yolov8', 'pose', 'quality_assessment']);
  assert.deepEqual(orderedKeys(after.yolov8 as JsonObject), ['objects', '9', '10']);
  const counts = (await stats(root, { index: false })).operation_counts;
  assert.deepEqual(counts, { face_detection: 2, object_detection: 1, pose: 1, quality_assessment: 3, yolov8: 1 });
});
