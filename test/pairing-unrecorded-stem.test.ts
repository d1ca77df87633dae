/**
 * The pipeline's oldest `IMG_1.json` records no image. While a RAW shared it with its JPEG, a save of
 * the JPEG wrote the JPEG's own `IMG_1.JPG.bin` (a stem file would belong to both). Once the RAW is
 * culled, the JSON is the JPEG's alone and, by name, ranks first (docs/PAIRING.md §4): reads showed
 * the old results, the next save built on them, and the newer file was called a kept copy. A stem file
 * that records no image now ranks after the image's own name-ext file that records an image (or that
 * the reader cannot decode), in read, save, the scan (with and without the index) and the Python
 * client alike. The cull cases failed on the code before; the "keeps its place" cases guard what
 * stays as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSidecarDetailed } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import { validate } from '../src/ops/validate.js';
import { scan } from '../src/ops/scan.js';
import { stats } from '../src/ops/stats.js';
import { copyImages, moveImages } from '../src/ops/move-images.js';
import { keyFromBytes } from '../src/crypto/keys.js';
import { SidecarError } from '../src/errors.js';
import type { Keyring } from '../src/types.js';
import { unrecordedStemFiles, withUnrecordedStemLater, type FileRecordSeen } from '../src/discovery/pair.js';
import type { JsonObject } from '../src/types.js';
import { FAKE_JPEG, makeTree, testDir } from './helpers/tree.js';
import { CLI, CLIENT, findPython } from './helpers/python.js';
import { assertValidateAsWithoutIndex } from './helpers/index-parity.js';

/** The pipeline's oldest shape: results, no `sidecar_info.image_path`. */
const OLD_JSON = { json: { face_detection: { faces: [{ id: 'old-face' }] }, sidecar_info: { last_operation: 'face_detection' } } };

/** lib/IMG_1.CR2 + IMG_1.JPG + the shared IMG_1.json; the JPEG saves its objects; then the RAW is culled. */
async function culledRawLibrary(root: string): Promise<{ lib: string; jpeg: string; stem: string; own: string }> {
  const lib = path.join(root, 'lib');
  makeTree({ 'lib/IMG_1.CR2': 'raw bytes', 'lib/IMG_1.JPG': FAKE_JPEG, 'lib/IMG_1.json': OLD_JSON }, root);
  const jpeg = path.join(lib, 'IMG_1.JPG');
  const saved = await saveSidecar(jpeg, 'object_detection', { objects: [{ id: 'new-object' }] }, { format: 'bin' });
  const own = path.join(lib, 'IMG_1.JPG.bin');
  assert.equal(saved.path, own, 'a stem file would belong to both images: the JPEG saves its own');
  fs.unlinkSync(path.join(lib, 'IMG_1.CR2')); // the photographer culls the RAW
  return { lib, jpeg, stem: path.join(lib, 'IMG_1.json'), own };
}

const objectIds = (data: JsonObject) => ((data.object_detection as JsonObject | undefined)?.objects as JsonObject[] | undefined)?.map((o) => o.id);

test('unrecorded stem file: once the RAW is culled, the JPEG reads its own newer file; the old JSON is a kept copy', async (t) => {
  const { jpeg, stem, own } = await culledRawLibrary(testDir(t));
  const r = await readSidecarDetailed(jpeg);
  assert.equal(r.path, own);
  assert.deepEqual(objectIds(r.data), ['new-object']);
  assert.deepEqual(((r.data.face_detection as JsonObject).faces as JsonObject[]).map((f) => f.id), ['old-face'], 'the shared JSON\'s results were carried into the JPEG\'s file');
  assert.deepEqual(
    r.findings.map((f) => [f.code, f.path]),
    [['kept', stem]],
  );
});

test('unrecorded stem file: the next save of the culled JPEG builds on its own file, and never touches the old JSON', async (t) => {
  const { jpeg, stem, own } = await culledRawLibrary(testDir(t));
  const before = fs.readFileSync(stem);
  const saved = await saveSidecar(jpeg, 'quality_assessment', { score: 3 });
  assert.equal(saved.path, own);
  const after = await readSidecarDetailed(jpeg);
  assert.equal(after.path, own);
  assert.deepEqual(objectIds(after.data), ['new-object'], 'the newer results survive the save');
  assert.deepEqual((after.data.quality_assessment as JsonObject).score, 3);
  assert.deepEqual(fs.readFileSync(stem), before);
  // A save asked in JSON lands in the JPEG's own file too (it ranks before the JPEG's JSON slot).
  const asJson = await saveSidecar(jpeg, 'game_detection', { game: 'final' }, { format: 'json' });
  assert.equal(asJson.path, own);
  assert.deepEqual(fs.readFileSync(stem), before);
});

test('unrecorded stem file: validate, stats and the scan take the JPEG\'s own file, with and without the index, run after run', async (t) => {
  const root = testDir(t);
  const { lib, stem, own } = await culledRawLibrary(root);
  const noIndex = await validate(lib, { index: false });
  assert.deepEqual(Object.fromEntries(noIndex.results!.map((r) => [r.file_path, r.category])), { [own]: 'ok', [stem]: 'kept' });
  const records = [];
  for await (const rec of scan(lib, { index: false })) records.push(rec);
  assert.equal(records.length, 1);
  assert.equal(records[0].effective?.path, own);
  assert.deepEqual(records[0].sidecars.map((s) => s.path), [own, stem], 'the record lists them in read order');
  assert.deepEqual(
    records[0].findings.map((f) => [f.code, f.paths]),
    [['kept', [stem]]],
  );
  const s = await stats(lib, { index: false });
  const indexPath = path.join(root, 'idx');
  for (let run = 0; run < 4; run++) {
    await assertValidateAsWithoutIndex(lib, indexPath, noIndex, `validate, run ${run + 1}`);
    assert.deepEqual(await stats(lib, { index: { path: indexPath } }), s, `stats, run ${run + 1}`);
  }
  // The old JSON is rewritten with a record of the JPEG (the earlier tool's save): it ranks first again, index or not.
  fs.writeFileSync(stem, JSON.stringify({ ...OLD_JSON.json, sidecar_info: { image_path: path.join(lib, 'IMG_1.JPG') } }));
  const rewritten = await validate(lib, { index: { path: indexPath } });
  assert.deepEqual(Object.fromEntries(rewritten.results!.map((r) => [r.file_path, r.category])), { [stem]: 'ok', [own]: 'kept' });
});

test('unrecorded stem file: while the RAW is there, nothing changes — the JPEG reads its own file, the RAW the shared JSON', async (t) => {
  const root = testDir(t);
  const lib = path.join(root, 'lib');
  makeTree({ 'lib/IMG_1.CR2': 'raw bytes', 'lib/IMG_1.JPG': FAKE_JPEG, 'lib/IMG_1.json': OLD_JSON }, root);
  await saveSidecar(path.join(lib, 'IMG_1.JPG'), 'object_detection', { objects: [{ id: 'new-object' }] }, { format: 'bin' });
  assert.equal((await readSidecarDetailed(path.join(lib, 'IMG_1.JPG'))).path, path.join(lib, 'IMG_1.JPG.bin'));
  const rawRead = await readSidecarDetailed(path.join(lib, 'IMG_1.CR2'));
  assert.equal(rawRead.path, path.join(lib, 'IMG_1.json'));
  assert.deepEqual(rawRead.findings.map((f) => f.code), ['ambiguous']);
});

for (const v of [
  { image: 'IMG_1.HEIC', pair: 'IMG_1.MOV', copy: 'IMG_1.HEIC.jpg' },
  { image: 'IMG_1.jpg', pair: 'IMG_1.CR2', copy: 'IMG_1.jpg.png' },
]) {
  test(`unrecorded stem file: beside a converted copy (${v.copy}), the image's own file is shared too — once ${v.pair} is culled, ${v.image} still reads and saves ${v.image}.json, recorded for it`, async (t) => {
    const oldest = '{"face_detection": {"success": false, "faces": []}}';
    const root = makeTree({ [v.image]: FAKE_JPEG, [v.pair]: 'pair', [v.copy]: 'copy', 'IMG_1.json': oldest }, testDir(t));
    const img = path.join(root, v.image);
    const own = path.join(root, `${v.image}.json`);
    assert.equal((await saveSidecar(img, 'face_detection', { success: true, faces: [1] })).path, own);
    fs.rmSync(path.join(root, v.pair));
    // IMG_1.json is the image's alone now, and records no image: it ranks after the image's own
    // name-ext file (shared with the copy, recorded for the image), a kept older copy.
    const r = await readSidecarDetailed(img);
    assert.deepEqual([r.path, r.findings.map((f) => f.code)], [own, ['kept']]);
    assert.deepEqual(r.data.face_detection, { success: true, faces: [1] });
    // A save whose stem file is that JSON goes into the image's own file, never into the JSON.
    const s = await saveSidecar(img, 'yolov8', { objects: [] });
    assert.deepEqual([s.path, s.kept], [own, undefined]);
    assert.equal(fs.readFileSync(path.join(root, 'IMG_1.json'), 'utf8'), oldest);
    // A .bin asked: its stem file, free and the image's alone, recorded for it, read first.
    const b = await saveSidecar(img, 'quality', { grade: 'A' }, { format: 'bin' });
    assert.deepEqual([b.path, b.kept], [path.join(root, 'IMG_1.bin'), own]);
    const after = await readSidecarDetailed(img);
    assert.equal(after.path, b.path);
    assert.deepEqual(Object.keys(after.data), ['face_detection', 'sidecar_info', 'yolov8', 'quality']);
    assert.equal((await readSidecarDetailed(path.join(root, v.copy))).path, null, 'the copy reads nothing of the image\'s');
  });
}

test('unrecorded stem file: the rule on its own — which files move, and where to, with several files on two sides', () => {
  type F = { name: string; naming: 'stem' | 'name-ext'; side: 'target' | 'link'; shared?: boolean; seen: FileRecordSeen };
  const f = (name: string, naming: F['naming'], side: F['side'], seen: FileRecordSeen, shared?: boolean): F => ({ name, naming, side, seen, ...(shared ? { shared } : {}) });
  const order = (files: F[]) => {
    const out: string[] = [];
    for (const side of ['target', 'link'] as const) {
      const later = unrecordedStemFiles(files.filter((x) => x.side === side), (x) => x.seen);
      if (later !== null) out.push(...[...later].map((x) => x.name));
    }
    const moved = new Set(files.filter((x) => out.includes(x.name)));
    // A shared name-ext file is the image's own when its record names the image: `see` says `records` only then.
    return { moved: out, order: withUnrecordedStemLater(files, moved, (x) => x.shared === true && x.seen === 'records').map((x) => x.name) };
  };
  // Two unrecorded stem files (bin, json) and two name-ext files, one recording: both stem files move
  // after the last name-ext file of their side, in their order; the link side and a shared file stay.
  const files = [
    f('t.bin', 'stem', 'target', 'no-record'),
    f('t.json', 'stem', 'target', 'no-record'),
    f('t.X.bin', 'name-ext', 'target', 'records'),
    f('t.X.json', 'name-ext', 'target', 'no-record'),
    f('shared.json', 'stem', 'target', 'no-record', true),
    f('l.json', 'stem', 'link', 'no-record'),
    f('l.L.json', 'name-ext', 'link', 'no-record'),
  ];
  assert.deepEqual(order(files), { moved: ['t.bin', 't.json'], order: ['t.X.bin', 't.X.json', 't.bin', 't.json', 'shared.json', 'l.json', 'l.L.json'] });
  // A stem file that records an image, is corrupt or cannot be read stays; an unreadable name-ext file moves the others.
  assert.deepEqual(order([f('a.bin', 'stem', 'target', 'records'), f('a.json', 'stem', 'target', 'no-say'), f('a.rkyv', 'stem', 'target', 'unreadable'), f('a.X.bin', 'name-ext', 'target', 'records')]).moved, []);
  assert.deepEqual(order([f('b.json', 'stem', 'target', 'no-record'), f('b.X.bin', 'name-ext', 'target', 'unreadable')]).order, ['b.X.bin', 'b.json']);
  // A name-ext file that says nothing, or records none, moves nothing; nor does a shared one that is
  // not the image's (another image's, or undecided: `no-say`), nor a shared one this reader cannot decode.
  for (const seen of ['no-say', 'no-record'] as const) assert.equal(order([f('c.json', 'stem', 'target', 'no-record'), f('c.X.bin', 'name-ext', 'target', seen)]).moved.length, 0, seen);
  for (const seen of ['no-say', 'unreadable'] as const) assert.equal(order([f('d.json', 'stem', 'target', 'no-record'), f('d.X.bin', 'name-ext', 'target', seen, true)]).moved.length, 0, seen);
  // A shared one recorded for the image is its own (docs/PAIRING.md §3): the stem file moves after it,
  // past the shared files before it too.
  assert.deepEqual(order([f('g.json', 'stem', 'target', 'no-record'), f('g.X.bin', 'name-ext', 'target', 'no-say', true), f('g.X.json', 'name-ext', 'target', 'records', true)]).order, ['g.X.bin', 'g.X.json', 'g.json']);
  // On the link side alone.
  assert.deepEqual(order([f('e.json', 'stem', 'link', 'no-record'), f('e.L.json', 'name-ext', 'link', 'records')]).order, ['e.L.json', 'e.json']);
});

test('unrecorded stem file keeps its place: beside a name-ext file that records no image or is another tool\'s, or when it does not decode — index or not', async (t) => {
  const root = testDir(t);
  const nameExt = (info: JsonObject) => ({ json: { sidecar_info: info, face_detection: { faces: [{ id: 'name-ext' }] } } });
  const cases: [string, { nameExt: unknown; corruptStem?: boolean }, string, string[]][] = [
    // [case, IMG_2.JPG.json and the stem, the file read, the read's findings]
    ['name-ext records none', { nameExt: nameExt({}) }, 'IMG_2.json', ['kept']],
    ['name-ext another tool\'s', { nameExt: { json: { title: 'IMG_2.JPG', photoTakenTime: { timestamp: '1' } } } }, 'IMG_2.json', ['foreign']],
    ['stem corrupt', { nameExt: nameExt({ image_path: '/x/IMG_2.JPG' }), corruptStem: true }, 'IMG_2.JPG.json', ['corrupt', 'fallback']],
  ];
  for (const [name, c, read, findings] of cases) {
    const dir = path.join(root, name.replace(/[ ']/g, '-'));
    makeTree({ 'IMG_2.JPG': FAKE_JPEG, 'IMG_2.json': c.corruptStem === true ? '{"face_detection": ' : OLD_JSON, 'IMG_2.JPG.json': c.nameExt as string }, dir);
    const r = await readSidecarDetailed(path.join(dir, 'IMG_2.JPG'));
    assert.equal(r.path, path.join(dir, read), name);
    assert.deepEqual(r.findings.map((f) => f.code), findings, name);
    const v = await validate(dir, { index: false });
    assert.equal(v.results!.find((x) => x.category === 'ok')?.file_path, path.join(dir, read), name);
    const index = { path: path.join(dir + '-index') };
    for (let run = 0; run < 3; run++) await assertValidateAsWithoutIndex(dir, index.path, v, `${name}, run ${run + 1}`);
  }
});

test('unrecorded stem file: a name-ext file over the size limit ranks first too — the read stops with TOO_LARGE; the scan reads the JSON and says why', async (t) => {
  const root = testDir(t);
  const lib = path.join(root, 'lib');
  const big = { sidecar_info: { image_path: '/x/IMG_5.JPG' }, object_detection: { objects: [{ id: 'x'.repeat(4000) }] } };
  makeTree({ 'lib/IMG_5.JPG': FAKE_JPEG, 'lib/IMG_5.json': OLD_JSON, 'lib/IMG_5.JPG.json': { json: big } }, root);
  const limits = { maxFileSize: 1024 };
  await assert.rejects(readSidecarDetailed(path.join(lib, 'IMG_5.JPG'), limits), (e: SidecarError) => e.code === 'TOO_LARGE');
  await assert.rejects(saveSidecar(path.join(lib, 'IMG_5.JPG'), 'quality_assessment', { score: 1 }, limits), (e: SidecarError) => e.code === 'TOO_LARGE');
  const records = [];
  for await (const rec of scan(lib, { index: false, ...limits })) records.push(rec);
  assert.equal(records[0].effective?.path, path.join(lib, 'IMG_5.json'));
  assert.deepEqual(records[0].sidecars.map((x) => x.name), ['IMG_5.JPG.json', 'IMG_5.json']);
  assert.ok(records[0].findings.some((f) => f.code === 'fallback'), JSON.stringify(records[0].findings));
  // Without the limit, the name-ext file is read.
  assert.equal((await readSidecarDetailed(path.join(lib, 'IMG_5.JPG'))).path, path.join(lib, 'IMG_5.JPG.json'));
});

test('unrecorded stem file: beside an image symlink, the files beside the link follow the rule in read and in the link\'s record', async (t) => {
  const root = testDir(t);
  makeTree(
    {
      'photos/P.JPG': FAKE_JPEG,
      'lib/L.JPG': { symlink: '../photos/P.JPG' },
      'lib/L.json': OLD_JSON,
      'lib/L.JPG.json': { json: { sidecar_info: { image_path: '/old/L.JPG' }, object_detection: { objects: [{ id: 'beside-link' }] } } },
    },
    root,
  );
  const r = await readSidecarDetailed(path.join(root, 'lib', 'L.JPG'));
  assert.equal(r.path, path.join(root, 'lib', 'L.JPG.json'));
  const records = [];
  for await (const rec of scan(path.join(root, 'lib'), { index: false })) records.push(rec);
  assert.equal(records.length, 1);
  assert.equal(records[0].effective?.path, path.join(root, 'lib', 'L.JPG.json'));
});

test('unrecorded stem file: after mv or cp to a new name (the record names the old one), the image still reads and saves its own newer file', async (t) => {
  const root = testDir(t);
  const { lib, jpeg } = await culledRawLibrary(root);
  await moveImages([jpeg], path.join(lib, 'IMG_9.JPG'));
  const moved = path.join(lib, 'IMG_9.JPG');
  const r = await readSidecarDetailed(moved);
  assert.equal(r.path, path.join(lib, 'IMG_9.JPG.bin'));
  assert.deepEqual(objectIds(r.data), ['new-object']);
  await copyImages([moved], path.join(lib, 'COPY.JPG'));
  const saved = await saveSidecar(path.join(lib, 'COPY.JPG'), 'quality_assessment', { score: 1 });
  assert.equal(saved.path, path.join(lib, 'COPY.JPG.bin'));
  assert.deepEqual(objectIds((await readSidecarDetailed(path.join(lib, 'COPY.JPG'))).data), ['new-object']);
  const v = await validate(lib, { index: false });
  assert.deepEqual(
    v.results!.filter((x) => x.category === 'ok').map((x) => path.basename(x.file_path)).sort(),
    ['COPY.JPG.bin', 'IMG_9.JPG.bin'],
  );
});

test('unrecorded stem file: beside a name-ext file the reader cannot decode (encrypted, no key), a read and a save stop with its error; with the key it is read', async (t) => {
  const root = testDir(t);
  const lib = path.join(root, 'lib');
  const ring: Keyring = { keys: [keyFromBytes(Buffer.alloc(32, 7))], encryptWith: 0 };
  // The JPEG's encrypted file (saved where it was alone), beside the oldest JSON once the RAW is culled.
  makeTree({ 'lib/IMG_4.JPG': FAKE_JPEG, 'lib/IMG_4.json': OLD_JSON, 'alone/IMG_4.JPG': FAKE_JPEG }, root);
  const jpeg = path.join(lib, 'IMG_4.JPG');
  const own = path.join(lib, 'IMG_4.JPG.bin');
  const saved = await saveSidecar(path.join(root, 'alone', 'IMG_4.JPG'), 'object_detection', { objects: [{ id: 'secret' }] }, { format: 'bin', naming: 'name-ext', keyring: ring });
  fs.renameSync(saved.path, own);
  const stem = path.join(lib, 'IMG_4.json');
  const before = fs.readFileSync(stem);
  await assert.rejects(readSidecarDetailed(jpeg), (e: SidecarError) => e.code === 'ENCRYPTED');
  await assert.rejects(saveSidecar(jpeg, 'quality_assessment', { score: 1 }), (e: SidecarError) => e.code === 'ENCRYPTED' && /ranks before .*IMG_4\.json, which records no image/.test(e.message) && !/move it away|remove/.test(e.message));
  assert.deepEqual(fs.readFileSync(stem), before, 'no save landed in the old JSON, where it would have ranked first for everyone');
  assert.deepEqual(fs.readdirSync(lib).sort(), ['IMG_4.JPG', 'IMG_4.JPG.bin', 'IMG_4.json']);
  const withKey = await readSidecarDetailed(jpeg, { keyring: ring });
  assert.equal(withKey.path, own);
  assert.deepEqual(objectIds(withKey.data), ['secret']);
  // The scan without the key stops where the read does: the image's state is its encrypted file's,
  // not the JSON's (docs/PAIRING.md §4); with the key, the file.
  const records = [];
  for await (const rec of scan(lib, { index: false })) records.push(rec);
  assert.equal(records[0].effective, null);
  assert.equal(records[0].category, 'encrypted');
  assert.deepEqual(records[0].findings.map((f) => f.code).sort(), ['encrypted']);
  const keyed = [];
  for await (const rec of scan(lib, { index: false, keyring: ring })) keyed.push(rec);
  assert.equal(keyed[0].effective?.path, own);
  for (const keyring of [undefined, ring]) {
    const v = await validate(lib, { index: false, keyring });
    const idx = path.join(root, keyring ? 'idx-key' : 'idx');
    for (let run = 0; run < 3; run++) await assertValidateAsWithoutIndex(lib, idx, v, `run ${run + 1}`, { keyring });
    assert.equal(v.results!.find((x) => x.category === 'ok')?.file_path, keyring ? own : undefined);
  }
});

const python = findPython();

test('unrecorded stem file: the Python client reads the culled JPEG\'s own file (its local path hands such an image to the library)', { skip: python ? false : 'no python3 >= 3.9' }, async (t) => {
  const { jpeg } = await culledRawLibrary(testDir(t));
  const script = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
from image_sidecar import ImageSidecarManager
from image_sidecar.local import read_local, NotLocal
try:
    read_local(sys.argv[2])
    local = "answered"
except NotLocal:
    local = "handed over"
with ImageSidecarManager() as m:
    print(json.dumps([local, [o["id"] for o in m.read_data(sys.argv[2])["object_detection"]["objects"]]]))
`;
  const r = spawnSync(python!, ['-c', script, CLIENT, jpeg], {
    encoding: 'utf8',
    env: { ...process.env, IMAGE_SIDECAR_BIN: CLI, IMAGE_SIDECAR_NODE: process.execPath, PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ['handed over', ['new-object']]);
});

test('unrecorded stem file: a link\'s record inside the root answers the same whether the scan inspects link targets or not (the target\'s own record applies the rule)', async (t) => {
  const root = testDir(t);
  makeTree(
    {
      'lib/photos/P.JPG': FAKE_JPEG,
      'lib/photos/P.json': OLD_JSON,
      'lib/photos/P.JPG.json': { json: { sidecar_info: { image_path: '/x/P.JPG' }, object_detection: { objects: [{ id: 'new' }] } } },
      'lib/L.JPG': { symlink: 'photos/P.JPG' },
    },
    root,
  );
  const lib = path.join(root, 'lib');
  const effectives = async (inspectLinkTargets: boolean) => {
    const out: Record<string, string | undefined> = {};
    for await (const rec of scan(lib, { index: false, inspectLinkTargets })) out[rec.images[0].rel] = rec.effective?.rel;
    return out;
  };
  const plain = await effectives(false);
  assert.equal(plain['photos/P.JPG'], 'photos/P.JPG.json', 'the target\'s own record applies the rule');
  assert.deepEqual(await effectives(true), plain);
});

test('unrecorded stem file: while the name-ext file is corrupt (a copy half written), a save is refused and never records the image in the old JSON; reads fall back to it', async (t) => {
  const root = testDir(t);
  const { lib, jpeg, stem, own } = await culledRawLibrary(root);
  const whole = fs.readFileSync(own);
  const before = fs.readFileSync(stem);
  fs.writeFileSync(own, whole.subarray(0, Math.floor(whole.length / 2)));
  const r = await readSidecarDetailed(jpeg);
  assert.equal(r.path, stem);
  assert.deepEqual(r.findings.map((f) => [f.code, f.path]), [['corrupt', own], ['fallback', own]]);
  await assert.rejects(saveSidecar(jpeg, 'quality_assessment', { score: 1 }), (e: SidecarError) => e.code === 'CORRUPT' && e.path === own && /nothing saved: it ranks before .*PAIRING\.md §4/.test(e.message));
  assert.deepEqual(fs.readFileSync(stem), before, 'the old JSON gained no record');
  // resolve cannot tell a copy still being written from a damaged file: it leaves the image alone.
  const { resolveConflicts } = await import('../src/ops/resolve.js');
  const plan = await resolveConflicts(lib, { dryRun: true, index: false });
  assert.deepEqual(plan.decisions.map((d) => [d.keep, d.quarantine]), [[null, []]]);
  assert.match(plan.decisions[0].reason, /left alone: .*IMG_1\.JPG\.bin does not decode and ranks before/);
  const v = await validate(lib, { index: false });
  assert.equal(v.results!.find((x) => x.category === 'ok')?.file_path, stem);
  // The copy completes: the image's newer results are read again.
  fs.writeFileSync(own, whole);
  const again = await readSidecarDetailed(jpeg);
  assert.equal(again.path, own);
  assert.deepEqual(objectIds(again.data), ['new-object']);
});

test('unrecorded stem file: resolve --prefer newest keeps the JPEG\'s own file even when the old JSON carries a later time (a copy or a restore)', async (t) => {
  const root = testDir(t);
  const { lib, stem, own } = await culledRawLibrary(root);
  const later = new Date(Date.now() + 3_600_000);
  fs.utimesSync(stem, later, later);
  const { resolveConflicts } = await import('../src/ops/resolve.js');
  const plan = await resolveConflicts(lib, { dryRun: true, index: false });
  assert.deepEqual(plan.decisions.map((d) => [d.keep, d.quarantine]), [[own, [stem]]]);
});

test('unrecorded stem file: a save refused on a file that ranked first anyway says nothing of the rule; resolve goes ahead when the file reads take ranks before the corrupt one', async (t) => {
  const root = testDir(t);
  // A symlinked image: the target side holds only a corrupt name-ext file (first by side); the link side is reordered.
  makeTree(
    {
      'real/IMG_1.JPG': FAKE_JPEG,
      'real/IMG_1.JPG.json': '{"object_detection": ',
      'lib/LINK.JPG': { symlink: '../real/IMG_1.JPG' },
      'lib/LINK.json': OLD_JSON,
      'lib/LINK.JPG.json': { json: { sidecar_info: { image_path: '/x/LINK.JPG' }, object_detection: { objects: [] } } },
    },
    root,
  );
  await assert.rejects(saveSidecar(path.join(root, 'lib', 'LINK.JPG'), 'quality_assessment', { score: 1 }), (e: SidecarError) => e.code === 'CORRUPT' && !/ranks before/.test(e.message));
  // IMG_5.bin records the image and is read first; the old JSON moved after the corrupt name-ext file.
  const lib = path.join(root, 'lib5');
  makeTree({ 'IMG_5.JPG': FAKE_JPEG, 'IMG_5.json': OLD_JSON, 'IMG_5.JPG.bin': 'not a sidecar at all' }, lib);
  const alone = path.join(root, 'alone5');
  makeTree({ 'IMG_5.JPG': FAKE_JPEG }, alone);
  const saved = await saveSidecar(path.join(alone, 'IMG_5.JPG'), 'object_detection', { objects: [{ id: 'kept' }] }, { format: 'bin' });
  fs.copyFileSync(saved.path, path.join(lib, 'IMG_5.bin'));
  const r = await readSidecarDetailed(path.join(lib, 'IMG_5.JPG'));
  assert.equal(r.path, path.join(lib, 'IMG_5.bin'));
  const { resolveConflicts } = await import('../src/ops/resolve.js');
  const plan = await resolveConflicts(lib, { dryRun: true, index: false });
  assert.equal(plan.decisions[0].keep, path.join(lib, 'IMG_5.bin'), JSON.stringify(plan.decisions));
});

test('unrecorded stem file: the pipeline after the cull — it reads IMG_1.json itself and sends the whole document back; the newer results stay, the new one lands in the JPEG\'s own file', async (t) => {
  const { jpeg, stem, own } = await culledRawLibrary(testDir(t));
  const before = fs.readFileSync(stem);
  // What the pipeline holds: the old JSON, read directly, with its new face result set and the save stamped now.
  const doc = JSON.parse(before.toString('utf8')) as JsonObject;
  doc.face_detection = { faces: [{ id: 'rerun-face' }] };
  doc.sidecar_info = { ...(doc.sidecar_info as JsonObject), last_operation: 'face_detection', last_updated: new Date().toISOString() };
  const saved = await saveSidecar(jpeg, 'face_detection', doc, { merge: 'document' });
  assert.equal(saved.path, own);
  const after = await readSidecarDetailed(jpeg);
  assert.equal(after.path, own);
  assert.deepEqual(objectIds(after.data), ['new-object'], 'the results the old JSON does not hold are kept');
  assert.deepEqual(((after.data.face_detection as JsonObject).faces as JsonObject[]).map((f) => f.id), ['rerun-face']);
  assert.deepEqual(fs.readFileSync(stem), before);
});
