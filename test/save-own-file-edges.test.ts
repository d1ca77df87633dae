/**
 * The per-image pairing and save rules (docs/PAIRING.md §3, §4, §9) against names where
 * one image's full name is another's stem (`A.jpg` beside `A.jpg.png`: `A.jpg.bin` is A.jpg's
 * name-ext file and A.jpg.png's stem file at once). Each case failed on the code before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSidecarDetailed, readSidecarText } from '../src/ops/read.js';
import { parseJsonText } from '../src/formats/json.js';
import { keyFromBytes } from '../src/crypto/keys.js';
import { saveSidecar } from '../src/ops/save.js';
import { resolveConflicts } from '../src/ops/resolve.js';
import { SidecarError } from '../src/errors.js';
import type { JsonObject } from '../src/types.js';
import { encodeSidecar } from '../src/formats/codec.js';
import { FAKE_JPEG, listTree, makeTree, testDir } from './helpers/tree.js';

for (const stem of ['A', 'É']) {
  test(`${stem}.jpg beside ${stem}.png and ${stem}.jpg.png: ${stem}.jpg saves again and again into its own ${stem}.jpg.bin, and ${stem}.jpg.png never reads it`, async (t) => {
    const root = makeTree({ [`${stem}.jpg`]: FAKE_JPEG, [`${stem}.png`]: 'png', [`${stem}.jpg.png`]: 'png' }, testDir(t));
    const jpg = path.join(root, `${stem}.jpg`);
    const png2 = path.join(root, `${stem}.jpg.png`);
    for (let i = 0; i < 3; i++) {
      const r = await saveSidecar(jpg, `op${i}`, { v: i });
      assert.equal(r.path, path.join(root, `${stem}.jpg.bin`), `save ${i}`);
    }
    const mine = await readSidecarDetailed(jpg);
    assert.deepEqual(Object.keys(mine.data), ['op0', 'sidecar_info', 'op1', 'op2']);
    // The stem file of A.jpg.png that A.jpg's record names is A.jpg's: A.jpg.png reads nothing.
    const other = await readSidecarDetailed(png2);
    assert.equal(other.path, null, `${stem}.jpg.png must not read ${stem}.jpg's sidecar`);
    assert.deepEqual(other.data, {});
    // Its own save goes to its own name-ext file; A.jpg's data stays A.jpg's.
    const s = await saveSidecar(png2, 'yolov8', { objects: [] });
    assert.equal(s.path, path.join(root, `${stem}.jpg.png.bin`));
    assert.deepEqual(Object.keys((await readSidecarDetailed(png2)).data), ['yolov8', 'sidecar_info']);
    assert.deepEqual(Object.keys((await readSidecarDetailed(jpg)).data), ['op0', 'sidecar_info', 'op1', 'op2']);
  });
}

test('A.jpg whose slot A.jpg.bin is recorded for A.jpg.png: the save takes the next free name (A.jpg.rkyv), nothing written over the other image\'s file, whose reads stay as they were', async (t) => {
  const root = makeTree({ 'A.jpg.png': 'png' }, testDir(t));
  const png2 = path.join(root, 'A.jpg.png');
  const jpg = path.join(root, 'A.jpg');
  // Saved before A.jpg and A.png arrived: A.jpg.bin is A.jpg.png's stem file.
  const first = await saveSidecar(png2, 'yolov8', { objects: [1] });
  assert.equal(first.path, path.join(root, 'A.jpg.bin'));
  makeTree({ 'A.jpg': FAKE_JPEG, 'A.png': 'png' }, root);
  const bytes = fs.readFileSync(first.path);
  const pngBefore = await readSidecarDetailed(png2);
  assert.equal((await readSidecarDetailed(jpg)).path, null);
  // Every name A.jpg's sidecar could have is shared: the stem files with A.png, the name-ext ones
  // with A.jpg.png. A.jpg.bin is another image's: the next free name in read order, recorded for A.jpg.
  const s = await saveSidecar(jpg, 'op', { v: 1 });
  assert.equal(s.path, path.join(root, 'A.jpg.rkyv'));
  assert.equal(s.format, 'rkyv');
  assert.equal(s.kept, undefined);
  const r = await readSidecarDetailed(jpg);
  assert.equal(r.path, s.path);
  assert.deepEqual(r.data.op, { v: 1 });
  assert.equal(r.data.yolov8, undefined, 'nothing of A.jpg.png\'s');
  assert.equal((await saveSidecar(jpg, 'op2', { v: 2 })).path, s.path);
  assert.deepEqual(fs.readFileSync(first.path), bytes);
  const pngAfter = await readSidecarDetailed(png2);
  assert.deepEqual([pngAfter.path, pngAfter.data, pngAfter.findings], [pngBefore.path, pngBefore.data, pngBefore.findings]);
});

/** What a read of each image gives (path, data, finding codes): for "the other images' reads do not change". */
async function readsOf(images: string[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const img of images) {
    const r = await readSidecarDetailed(img);
    out.push([r.path, r.data, r.findings.map((f) => f.code)]);
  }
  return out;
}

// The pipeline's oldest IMG_1.json (no record) shared by a pair (a Live Photo's HEIC and MOV, a
// RAW+JPEG pair), and a converted copy named after the image (IMG_1.HEIC.jpg, IMG_1.jpg.png) whose stem
// file is the image's name-ext file: every name the image's sidecar could have is shared. The save
// wrote IMG_1.HEIC.json (written: true, kept IMG_1.json), the read still gave the JSON (ambiguous),
// and every later save was refused (AMBIGUOUS: "its record does not name this image", which it did).
const SHARED_SLOTS = [
  { image: 'IMG_1.HEIC', pair: 'IMG_1.MOV', copy: 'IMG_1.HEIC.jpg' },
  { image: 'IMG_1.jpg', pair: 'IMG_1.CR2', copy: 'IMG_1.jpg.png' },
];
const OLDEST_JSON = '{"face_detection": {"success": false, "faces": []}}\n';

for (const v of SHARED_SLOTS) {
  test(`${v.image} beside ${v.pair} and ${v.copy}, the pipeline's IMG_1.json shared: the save lands in ${v.image}.json, read back at once; the next saves go there too; the other images read what they read`, async (t) => {
    const root = makeTree({ [v.image]: FAKE_JPEG, [v.pair]: 'pair', [v.copy]: 'copy', 'IMG_1.json': OLDEST_JSON }, testDir(t));
    const img = path.join(root, v.image);
    const own = path.join(root, `${v.image}.json`);
    const others = [path.join(root, v.pair), path.join(root, v.copy)];
    const othersBefore = await readsOf(others);
    const before = await readSidecarDetailed(img);
    assert.equal(before.path, path.join(root, 'IMG_1.json'));
    assert.deepEqual(before.findings.map((f) => f.code), ['ambiguous']);

    const s1 = await saveSidecar(img, 'face_detection', { success: true, faces: [{ bbox: [1, 2, 3, 4] }] });
    assert.deepEqual([s1.path, s1.written, s1.kept], [own, true, path.join(root, 'IMG_1.json')]);
    const r1 = await readSidecarDetailed(img);
    assert.equal(r1.path, own, 'the next read takes the file saved');
    assert.deepEqual(r1.findings, []);
    assert.deepEqual(r1.data.face_detection, { success: true, faces: [{ bbox: [1, 2, 3, 4] }] });

    const s2 = await saveSidecar(img, 'quality_assessment', { grade: 'A' });
    assert.deepEqual([s2.path, s2.kept], [own, undefined]);
    const r2 = await readSidecarDetailed(img);
    assert.equal(r2.path, own);
    assert.deepEqual(Object.keys(r2.data), ['face_detection', 'sidecar_info', 'quality_assessment']);
    assert.equal(fs.readFileSync(path.join(root, 'IMG_1.json'), 'utf8'), OLDEST_JSON, 'the shared JSON untouched');
    assert.deepEqual(await readsOf(others), othersBefore, 'the other images read what they read');
    assert.deepEqual(fs.readdirSync(root).sort(), [v.image, `${v.image}.json`, 'IMG_1.json', v.pair, v.copy].sort());
  });
}

test('a shared file recorded for the image (the state the earlier save left): read first, before the ambiguous stem file, and saved into', async (t) => {
  const root = makeTree({ 'IMG_1.HEIC': FAKE_JPEG, 'IMG_1.MOV': 'mov', 'IMG_1.HEIC.jpg': 'copy', 'IMG_1.json': OLDEST_JSON }, testDir(t));
  const img = path.join(root, 'IMG_1.HEIC');
  const own = path.join(root, 'IMG_1.HEIC.json');
  fs.writeFileSync(own, JSON.stringify({ face_detection: { success: true, faces: [1] }, sidecar_info: { image_path: img } }));
  const r = await readSidecarDetailed(img);
  assert.deepEqual([r.path, r.findings], [own, []]);
  assert.deepEqual(r.data.face_detection, { success: true, faces: [1] });
  const s = await saveSidecar(img, 'yolov8', { objects: [] });
  assert.deepEqual([s.path, s.kept], [own, undefined]);
  assert.deepEqual(Object.keys((await readSidecarDetailed(img)).data), ['face_detection', 'sidecar_info', 'yolov8']);
  // The MOV's read and the copy's: the JSON (ambiguous) and nothing, as without that file.
  const mov = await readSidecarDetailed(path.join(root, 'IMG_1.MOV'));
  assert.deepEqual([mov.path, mov.findings.map((f) => f.code)], [path.join(root, 'IMG_1.json'), ['ambiguous']]);
  assert.equal((await readSidecarDetailed(path.join(root, 'IMG_1.HEIC.jpg'))).path, null);
});

test('the image\'s slot holds an undecided shared file (IMG_1.HEIC.json recording none: the copy\'s stem file too): the save writes IMG_1.HEIC.bin, read first from then on; the copy reads what it read', async (t) => {
  const undecided = '{"face_detection": {"faces": ["whose?"]}}';
  const root = makeTree({ 'IMG_1.HEIC': FAKE_JPEG, 'IMG_1.MOV': 'mov', 'IMG_1.HEIC.jpg': 'copy', 'IMG_1.HEIC.json': undecided }, testDir(t));
  const img = path.join(root, 'IMG_1.HEIC');
  const copy = path.join(root, 'IMG_1.HEIC.jpg');
  const copyBefore = await readsOf([copy]);
  assert.deepEqual(copyBefore, [[path.join(root, 'IMG_1.HEIC.json'), { face_detection: { faces: ['whose?'] } }, ['ambiguous']]]);
  const s = await saveSidecar(img, 'yolov8', { objects: [1] });
  assert.deepEqual([s.path, s.format, s.kept], [path.join(root, 'IMG_1.HEIC.bin'), 'bin', path.join(root, 'IMG_1.HEIC.json')]);
  const r = await readSidecarDetailed(img);
  assert.deepEqual([r.path, r.findings], [s.path, []]);
  assert.deepEqual(Object.keys(r.data).sort(), ['face_detection', 'sidecar_info', 'yolov8']);
  assert.equal((await saveSidecar(img, 'op', { v: 1 })).path, s.path);
  assert.equal(fs.readFileSync(path.join(root, 'IMG_1.HEIC.json'), 'utf8'), undecided);
  assert.deepEqual(await readsOf([copy]), copyBefore);
});

test('every name the image\'s sidecar could have holds a file that is not its own: CONFLICT before anything is written, naming each and whose it is', async (t) => {
  const root = makeTree({ 'IMG_1.HEIC': FAKE_JPEG, 'IMG_1.MOV': 'mov', 'IMG_1.HEIC.jpg': 'copy', 'IMG_1.json': OLDEST_JSON }, testDir(t));
  const copy = path.join(root, 'IMG_1.HEIC.jpg');
  for (const ext of ['bin', 'rkyv', 'json'] as const) {
    fs.writeFileSync(path.join(root, `IMG_1.HEIC.${ext}`), encodeSidecar({ [`copy_${ext}`]: { v: 1 }, sidecar_info: { image_path: copy } }, ext));
  }
  const before = listTree(root);
  const img = path.join(root, 'IMG_1.HEIC');
  const readBefore = await readsOf([img, copy, path.join(root, 'IMG_1.MOV')]);
  await assert.rejects(saveSidecar(img, 'yolov8', { objects: [] }), (e: unknown) => {
    assert.ok(e instanceof SidecarError && e.code === 'CONFLICT', String(e));
    assert.match(e.message, /nothing saved/);
    assert.match(e.message, /IMG_1\.HEIC\.json \(claimed by .*IMG_1\.HEIC\.jpg too; its record names IMG_1\.HEIC\.jpg\)/);
    assert.match(e.message, /IMG_1\.json \(claimed by .*IMG_1\.MOV too; its record names no image\)/);
    assert.match(e.message, /move one of them aside, or rename an image, to save/);
    return true;
  });
  assert.deepEqual(listTree(root), before);
  assert.deepEqual(await readsOf([img, copy, path.join(root, 'IMG_1.MOV')]), readBefore);
});

test('a shared file this reader cannot decrypt, between the ambiguous JSON and the new file in name order: the save stops with ENCRYPTED (the new file would be read after it); with the key, that file is the image\'s and is saved into', async (t) => {
  const root = makeTree({ 'IMG_1.HEIC': FAKE_JPEG }, testDir(t));
  const img = path.join(root, 'IMG_1.HEIC');
  const A = { keys: [keyFromBytes(Buffer.alloc(32, 0xa2))], encryptWith: 0 };
  const enc = await saveSidecar(img, 'face_detection', { faces: [1] }, { keyring: A, naming: 'name-ext' });
  assert.equal(enc.path, path.join(root, 'IMG_1.HEIC.bin'));
  makeTree({ 'IMG_1.MOV': 'mov', 'IMG_1.HEIC.jpg': 'copy', 'IMG_1.json': OLDEST_JSON }, root);
  const before = listTree(root);
  await assert.rejects(saveSidecar(img, 'yolov8', { objects: [] }), (e: unknown) => e instanceof SidecarError && e.code === 'ENCRYPTED' && /would be read before .*IMG_1\.HEIC\.json/.test(e.message));
  assert.deepEqual(listTree(root), before);
  const s = await saveSidecar(img, 'yolov8', { objects: [] }, { keyring: A });
  assert.deepEqual([s.path, s.kept], [enc.path, undefined]);
  const r = await readSidecarDetailed(img, { keyring: A });
  assert.deepEqual([r.path, Object.keys(r.data)], [enc.path, ['face_detection', 'sidecar_info', 'yolov8']]);
});

test('a whole-document save beside a kept JSON copy: a top-level number sent with another type or another exact int is a change (25 over 25.0, ...900 over ...901), in the document and in sidecar_info', async (t) => {
  const root = makeTree({ 'I.jpg': FAKE_JPEG, 'I.json': '{"score": 25.0, "big": 1763805012345678901, "same": 7.0, "sidecar_info": {"k": 2.0, "n": 1763805012345678901}}' }, testDir(t));
  const img = path.join(root, 'I.jpg');
  await saveSidecar(img, 'face_detection', { faces: [2] }, { format: 'bin' });
  // What a Python caller sends: typed JSON (score an int now, big another exact int).
  const doc = parseJsonText('{"score": 25, "big": 1763805012345678900, "same": 7.0, "sidecar_info": {"k": 2, "n": 1763805012345678900}}', { maxDepth: 64 }) as JsonObject;
  const r = await saveSidecar(img, 'x', doc, { merge: 'document' });
  assert.equal(r.path, path.join(root, 'I.bin'));
  const text = (await readSidecarText(img)).text.toString();
  for (const want of ['"score":25,', '"big":1763805012345678900,', '"same":7.0', '"k":2,', '"n":1763805012345678900']) assert.ok(text.includes(want), `${want} not in ${text}`);
});

test('a whole-document save built from the effective .bin (its last_updated) is not merged against the kept JSON: an entry set back to the JSON\'s value is saved', async (t) => {
  const root = makeTree({ 'I.jpg': FAKE_JPEG, 'I.json': { json: { face_detection: { faces: [1] }, sidecar_info: { last_updated: '2020-01-01T00:00:00+00:00' } } } }, testDir(t));
  const img = path.join(root, 'I.jpg');
  await saveSidecar(img, 'face_detection', { faces: [2] }, { format: 'bin' });
  // The caller reads what the library reads (the .bin), runs detection again and gets the first result.
  const doc = (await readSidecarDetailed(img)).data;
  doc.face_detection = { faces: [1] };
  await saveSidecar(img, 'face_detection', doc, { merge: 'document' });
  assert.deepEqual((await readSidecarDetailed(img)).data.face_detection, { faces: [1] });
  // A document built from the JSON copy (the pipeline's read) still leaves the newer .bin result.
  await saveSidecar(img, 'face_detection', { faces: [3] });
  const fromJson = JSON.parse(fs.readFileSync(path.join(root, 'I.json'), 'utf8')) as JsonObject;
  fromJson.yolov8 = { objects: [] };
  await saveSidecar(img, 'yolov8', fromJson, { merge: 'document' });
  const after = (await readSidecarDetailed(img)).data;
  assert.deepEqual(after.face_detection, { faces: [3] });
  assert.deepEqual(after.yolov8, { objects: [] });
});

test('a stem file encrypted for the JPEG before its RAW arrived: a save without the key stops with ENCRYPTED as a read does (it wrote IMG_1.jpg.bin, hiding the encrypted results from every later read, key or no key)', async (t) => {
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG }, testDir(t));
  const jpg = path.join(root, 'IMG_1.jpg');
  const A = { keys: [keyFromBytes(Buffer.alloc(32, 0xa1))], encryptWith: 0 };
  await saveSidecar(jpg, 'face_detection', { faces: [1] }, { keyring: A });
  makeTree({ 'IMG_1.CR2': 'raw' }, root);
  await assert.rejects(readSidecarDetailed(jpg), (e: unknown) => e instanceof SidecarError && e.code === 'ENCRYPTED');
  await assert.rejects(saveSidecar(jpg, 'yolov8', { objects: [] }), (e: unknown) => e instanceof SidecarError && e.code === 'ENCRYPTED');
  assert.deepEqual(fs.readdirSync(root).sort(), ['IMG_1.CR2', 'IMG_1.bin', 'IMG_1.jpg']);
  // With the key: the stem file the record names, still encrypted, holds both results.
  const s = await saveSidecar(jpg, 'yolov8', { objects: [] }, { keyring: A });
  assert.equal(s.path, path.join(root, 'IMG_1.bin'));
  assert.deepEqual(fs.readdirSync(root).sort(), ['IMG_1.CR2', 'IMG_1.bin', 'IMG_1.jpg']);
  assert.ok(s.encryptedKeyId !== undefined);
  assert.deepEqual(Object.keys((await readSidecarDetailed(jpg, { keyring: A })).data), ['face_detection', 'sidecar_info', 'yolov8']);
});

test('resolve --prefer current leaves a kept JSON copy written to after the .bin (a newer result there), and moves it once the .bin holds that result as it is', async (t) => {
  const root = makeTree({ 'I.jpg': FAKE_JPEG, 'I.json': { json: { face_detection: { faces: [1] } } } }, testDir(t));
  const img = path.join(root, 'I.jpg');
  const json = path.join(root, 'I.json');
  await saveSidecar(img, 'yolov8', { objects: [1] }, { format: 'bin' });
  // A pipeline writing its JSON itself (no lock, no library) stores a newer result afterwards.
  const freshText = '{"face_detection": {"faces": [1, 2, 3], "model": "v2", "t": 2.0}}';
  fs.writeFileSync(json, freshText);
  const later = new Date(Date.now() + 5000);
  fs.utimesSync(json, later, later);
  const first = await resolveConflicts(root, { prefer: 'current' });
  assert.deepEqual(first.decisions[0]!.quarantine, [], JSON.stringify(first.decisions));
  assert.equal(first.quarantined, 0);
  assert.ok(fs.existsSync(json));
  // The result in the .bin with t an int: not the same result, the copy stays.
  await saveSidecar(img, 'face_detection', { faces: [1, 2, 3], model: 'v2', t: 2 });
  fs.utimesSync(json, later, later);
  assert.deepEqual((await resolveConflicts(root, { prefer: 'current' })).decisions[0]!.quarantine, []);
  // The same result, t a float: the copy has nothing of its own.
  await saveSidecar(img, 'face_detection', (parseJsonText(freshText, { maxDepth: 8 }) as JsonObject).face_detection);
  fs.utimesSync(json, later, later);
  const second = await resolveConflicts(root, { prefer: 'current' });
  assert.deepEqual(second.decisions[0]!.quarantine, [json], JSON.stringify(second.decisions));
  assert.equal(second.quarantined, 1);
});

test('a directory in the slot\'s name (IMG_1.bin beside IMG_1.json, bin asked): the save says so at once, nothing else touched', async (t) => {
  const root = makeTree({ 'I.jpg': FAKE_JPEG, 'I.json': { json: { a: { v: 1 } } }, 'I.bin': { dir: true } }, testDir(t));
  // I.json is another tool's file (no operation, no sidecar_info): the image has no file of its own,
  // and its I.bin cannot be read: the save stops as a read of it does (IO), before choosing a slot.
  const unreadable = (e: unknown) => e instanceof SidecarError && e.code === 'IO' && /I\.bin: not a regular file/.test(e.message);
  await assert.rejects(saveSidecar(path.join(root, 'I.jpg'), 'b', { v: 2 }, { format: 'bin' }), unreadable);
  await assert.rejects(readSidecarDetailed(path.join(root, 'I.jpg')), unreadable);
  // With a sidecar of its own, the save reaches the slot asked for, and says it is a directory.
  fs.writeFileSync(path.join(root, 'I.json'), JSON.stringify({ a: { v: 1 }, sidecar_info: {} }));
  await assert.rejects(saveSidecar(path.join(root, 'I.jpg'), 'b', { v: 2 }, { format: 'bin' }), (e: unknown) => e instanceof SidecarError && e.code === 'CONFLICT' && /is a directory/.test(e.message));
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(root, 'I.json'), 'utf8')), { a: { v: 1 }, sidecar_info: {} });
  assert.ok(fs.statSync(path.join(root, 'I.bin')).isDirectory());
});

test('a folder of more than 4096 entries, its listing reused: a RAW and its stem file added meanwhile are never the JPEG\'s (the JPEG read the RAW\'s IMG_1.json, and its save copied the RAW\'s results into IMG_1.bin for good)', async (t) => {
  const root = testDir(t);
  for (let i = 0; i < 4200; i++) fs.writeFileSync(path.join(root, `P_${i}.jpg`), 'x');
  fs.writeFileSync(path.join(root, 'IMG_1.jpg'), FAKE_JPEG);
  const jpg = path.join(root, 'IMG_1.jpg');
  await new Promise((r) => setTimeout(r, 100)); // past the racy margin: the listing is cached
  assert.equal((await readSidecarDetailed(jpg)).path, null);
  fs.writeFileSync(path.join(root, 'IMG_1.CR2'), 'raw');
  fs.writeFileSync(path.join(root, 'IMG_1.json'), JSON.stringify({ raw_only: { v: 1 }, sidecar_info: { image_path: path.join(root, 'IMG_1.CR2') } }));
  const r = await readSidecarDetailed(jpg);
  assert.equal(r.path, null, 'the RAW\'s stem file is not the JPEG\'s');
  const s = await saveSidecar(jpg, 'jpg_op', { v: 2 }, { format: 'bin' });
  assert.equal(s.path, path.join(root, 'IMG_1.jpg.bin'));
  assert.deepEqual(Object.keys((await readSidecarDetailed(jpg)).data), ['jpg_op', 'sidecar_info']);
  // A stem file recording this image, or none, is still read at once.
  const mine = await readSidecarDetailed(path.join(root, 'IMG_1.CR2'));
  assert.equal(mine.path, path.join(root, 'IMG_1.json'));
});

test('a new name-ext slot another image would claim (A.jpg.png.bin is the stem file of A.jpg.png.mov): the save goes where reads look, never into a file read after the image\'s stem file', async (t) => {
  const root = makeTree({ 'A.jpg.png': 'png', 'A.jpg.png.mov': 'mov' }, testDir(t));
  const png2 = path.join(root, 'A.jpg.png');
  await saveSidecar(png2, 'op_json', { v: 1 }, { format: 'json' }); // A.jpg.json, its own stem file
  makeTree({ 'A.jpg.CR2': 'raw' }, root); // now A.jpg.json is shared (recorded for A.jpg.png)
  const s = await saveSidecar(png2, 'op_bin', { v: 2 }, { format: 'bin' });
  const r = await readSidecarDetailed(png2);
  assert.equal(r.path, s.path, `saved to ${s.path}, read from ${r.path}`);
  assert.deepEqual(Object.keys(r.data).sort(), ['op_bin', 'op_json', 'sidecar_info']);
  assert.deepEqual(Object.keys((await readSidecarDetailed(path.join(root, 'A.jpg.png.mov'))).data), []);
});

test('a folder of more than 4096 entries, its listing reused: a RAW added meanwhile whose stem file records it under another case of its extension (IMG_1.cr2) is never the JPEG\'s (the JPEG read it and its save re-recorded it as the JPEG\'s)', async (t) => {
  const root = testDir(t);
  for (let i = 0; i < 4200; i++) fs.writeFileSync(path.join(root, `P_${i}.jpg`), 'x');
  fs.writeFileSync(path.join(root, 'IMG_1.jpg'), FAKE_JPEG);
  fs.writeFileSync(path.join(root, 'IMG_1.json'), JSON.stringify({ raw_only: { v: 1 }, sidecar_info: { image_path: '/x/IMG_1.cr2' } }));
  const jpg = path.join(root, 'IMG_1.jpg');
  await new Promise((r) => setTimeout(r, 100)); // past the racy margin: the listing is cached
  await readSidecarDetailed(jpg);
  fs.writeFileSync(path.join(root, 'IMG_1.CR2'), 'raw');
  assert.equal((await readSidecarDetailed(jpg)).path, null, 'the RAW\'s stem file is not the JPEG\'s');
  assert.equal((await saveSidecar(jpg, 'jpg_op', { v: 2 })).path, path.join(root, 'IMG_1.jpg.json'));
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(root, 'IMG_1.json'), 'utf8')).sidecar_info, { image_path: '/x/IMG_1.cr2' }, 'the RAW\'s file untouched');
});

test('a save never writes a file that reads take for a folder report or configuration: a top-level games list is refused (the sidecar read as another tool\'s file and the next save started a new one, the earlier results lost from view); Game_Detection.JPG and .image-sidecar.jpg get name-ext files (their stem files are the report\'s and the configuration\'s names: every command in the folder then failed on the configuration)', async (t) => {
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'Game_Detection.JPG': FAKE_JPEG, '.image-sidecar.jpg': FAKE_JPEG, 'A.jpg': FAKE_JPEG }, testDir(t));
  const img = path.join(root, 'IMG_1.jpg');
  const first = await saveSidecar(img, 'face_detection', { success: true, faces: [] });
  const before = fs.readFileSync(first.path);
  for (const [op, value] of [['games', [{ game_id: 'Game1' }]], ['data', { games: [] }]] as const) {
    await assert.rejects(saveSidecar(img, op, value as never), (e: unknown) => e instanceof SidecarError && e.code === 'USAGE' && /folder's game report/.test(e.message), op);
  }
  await assert.rejects(saveSidecar(img, 'face_detection', { face_detection: { success: true }, games: [], sidecar_info: {} }, { merge: 'document' }), /folder's game report/);
  assert.deepEqual(fs.readFileSync(first.path), before, 'nothing written');
  assert.deepEqual((await readSidecarDetailed(img)).data.face_detection, { success: true, faces: [] });

  const report = path.join(root, 'Game_Detection.JPG');
  assert.equal((await saveSidecar(report, 'face_detection', { success: true })).path, path.join(root, 'Game_Detection.JPG.bin'));
  assert.deepEqual((await readSidecarDetailed(report)).data.face_detection, { success: true });
  assert.equal((await saveSidecar(report, 'yolov8', { success: true })).path, path.join(root, 'Game_Detection.JPG.bin'));
  assert.deepEqual(Object.keys((await readSidecarDetailed(report)).data).filter((k) => k !== 'sidecar_info'), ['face_detection', 'yolov8']);

  const dotted = path.join(root, '.image-sidecar.jpg');
  assert.equal((await saveSidecar(dotted, 'op', { v: 1 }, { format: 'json' })).path, path.join(root, '.image-sidecar.jpg.json'));
  assert.equal(fs.existsSync(path.join(root, '.image-sidecar.json')), false);
  assert.equal((await saveSidecar(path.join(root, 'A.jpg'), 'op', { v: 1 })).path, path.join(root, 'A.bin'), 'the folder still saves');
  // With a configuration there: the same file, not "changed 3 times while it was saved".
  fs.writeFileSync(path.join(root, '.image-sidecar.json'), '{"defaultFormat": "json"}');
  assert.equal((await saveSidecar(dotted, 'op2', { v: 2 })).path, path.join(root, '.image-sidecar.jpg.json'));
  assert.deepEqual((await readSidecarDetailed(dotted)).data.op2, { v: 2 });
});
