/**
 * Key order (docs/FORMAT.md: keys in insertion order). A JavaScript object enumerates index-like
 * keys ("0", "32") first: `{"person": 2, "32": 1, "0": 5}` was read as "0", "32", "person" and
 * written so by convert, by every save into the file (the untouched operations too) and by read.
 * Decoders note the order read (formats/key-order.ts) and every encoder writes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { decodeSidecar, encodeSidecar } from '../src/formats/codec.js';
import { orderedKeys } from '../src/formats/key-order.js';
import { parseJsonText } from '../src/formats/json.js';
import { cloneJson } from '../src/formats/numbers.js';
import { readSidecarDetailed } from '../src/ops/read.js';
import { saveSidecar } from '../src/ops/save.js';
import type { JsonObject, JsonValue, SidecarFormat } from '../src/types.js';
import { runCli } from './helpers/cli.js';
import { FAKE_JPEG, makeTree, testDir } from './helpers/tree.js';

const FORMATS: readonly SidecarFormat[] = ['json', 'bin', 'rkyv', 'legacy'];

/** Every object's keys as written, depth first (what a reader that keeps order, Python's, sees). */
function keyPaths(v: unknown, at = ''): string[] {
  if (v === null || typeof v !== 'object') return [];
  if (Array.isArray(v)) return v.flatMap((x, i) => keyPaths(x, `${at}/${i}`));
  return orderedKeys(v).flatMap((k) => [`${at}/${k}`, ...keyPaths((v as Record<string, unknown>)[k], `${at}/${k}`)]);
}

const TEXT = '{"sidecar_info": {"operation_type": "yolov8"}, "yolov8": {"success": true, "class_counts": {"person": 2, "32": 1, "0": 5}}, "7": {"2": 2.0, "1": 1, "b": [{"10": 1, "9": 2}]}, "z": 1}';
const WRITTEN = keyPaths(JSON.parse(TEXT.replace(/"(\d+)":/g, '"k$1":'))).map((p) => p.replace(/\/k(\d+)/g, '/$1'));

test('a file read and written again keeps its keys in the order written, index-like keys ("0", "32") included, in every format', () => {
  const { data } = decodeSidecar(Buffer.from(TEXT));
  assert.deepEqual(keyPaths(data), WRITTEN);
  for (const format of FORMATS) {
    const back = decodeSidecar(encodeSidecar(data, format)).data;
    assert.deepEqual(keyPaths(back), WRITTEN, format);
    assert.deepEqual(keyPaths(cloneJson(back)), WRITTEN, `${format}, copied`);
    const again = decodeSidecar(encodeSidecar(back, 'json')).data;
    assert.deepEqual(keyPaths(again), WRITTEN, `${format} → json`);
  }
  // Compact and indented text, as read (the number types kept: 2.0).
  assert.equal(encodeSidecar(data, 'json').toString(), JSON.stringify(JSON.parse(TEXT.replace(/"(\d+)":/g, '"k$1":')), null, 2).replace(/"k(\d+)":/g, '"$1":').replace('"2": 2,', '"2": 2.0,'));
});

test('key order: any object with index-like keys, in any order, survives every format (fuzz)', () => {
  const key = fc.oneof(fc.constantFrom('0', '1', '7', '10', '32', '4294967294', '4294967295', '01', '-1', 'a', 'person', '__proto__'), fc.nat(100).map(String));
  const tree = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, fc.integer(), fc.string(), tie('object')),
    object: fc.uniqueArray(fc.tuple(key, tie('value')), { selector: ([k]) => k, maxLength: 6 }),
  }));
  const text = (entries: unknown): string => {
    if (!Array.isArray(entries)) return JSON.stringify(entries);
    return `{${(entries as [string, unknown][]).map(([k, v]) => `${JSON.stringify(k)}: ${text(v)}`).join(', ')}}`;
  };
  const written = (entries: unknown, at = ''): string[] =>
    Array.isArray(entries) ? (entries as [string, unknown][]).flatMap(([k, v]) => [`${at}/${k}`, ...written(v, `${at}/${k}`)]) : [];
  fc.assert(
    fc.property(tree.object, (entries) => {
      const src = text([['sidecar_info', 1], ...entries.filter(([k]) => k !== 'sidecar_info')]);
      const expected = written([['sidecar_info', 1], ...entries.filter(([k]) => k !== 'sidecar_info')]);
      const { data } = decodeSidecar(Buffer.from(src));
      assert.deepEqual(keyPaths(data), expected);
      for (const format of FORMATS) assert.deepEqual(keyPaths(decodeSidecar(encodeSidecar(data, format)).data), expected, format);
    }),
    { numRuns: 300, seed: 58 },
  );
});

test('an index-like key spelled with escapes ("\\u0030") keeps its place too', () => {
  const { data } = decodeSidecar(Buffer.from('{"b": 1, "\\u0030": 2, "sidecar_info": {}}'));
  assert.deepEqual(orderedKeys(data), ['b', '0', 'sidecar_info']);
  assert.equal(encodeSidecar(data, 'json').toString().replace(/\s/g, ''), '{"b":1,"0":2,"sidecar_info":{}}');
});

test('the 2-space JSON of a document with index-like keys is Python\'s json.dumps(indent=2) of it, byte for byte', (t) => {
  const py = spawnSync('python3', ['-c', 'import json,sys; print(json.dumps(json.loads(sys.stdin.read()), indent=2), end="")'], { input: TEXT.replace('2.0', '2.5'), encoding: 'utf8' });
  if (py.status !== 0) return t.skip('no python3');
  const { data } = decodeSidecar(Buffer.from(TEXT.replace('2.0', '2.5')));
  assert.equal(encodeSidecar(data, 'json').toString(), py.stdout);
});

test('saves keep the file\'s key order and put new keys last, index-like ones too; the data sent keeps its own order', async (t) => {
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': TEXT }, testDir(t));
  const img = path.join(root, 'IMG_1.jpg');
  const sent = parseJsonText('{"9": 1, "a": 2, "3": 3}', { maxDepth: 64 }) as JsonObject;
  await saveSidecar(img, '5', sent);
  await saveSidecar(img, 'quality_assessment', { success: true }, { format: 'bin' });
  const back = (await readSidecarDetailed(img)).data;
  assert.deepEqual(orderedKeys(back), ['sidecar_info', 'yolov8', '7', 'z', '5', 'quality_assessment']);
  assert.deepEqual(orderedKeys(back['5'] as JsonObject), ['9', 'a', '3']);
  assert.deepEqual(orderedKeys((back.yolov8 as JsonObject).class_counts as JsonObject), ['person', '32', '0']);
  // A whole document merged key by key: its new keys in its order.
  const doc = cloneJson(back);
  (doc['7'] as JsonObject)['0'] = 0;
  doc['1'] = { x: 1 } as JsonValue;
  await saveSidecar(img, 'face_detection', doc, { merge: 'document' });
  const merged = (await readSidecarDetailed(img)).data;
  assert.deepEqual(orderedKeys(merged), ['sidecar_info', 'yolov8', '7', 'z', '5', 'quality_assessment', '1']);
  assert.deepEqual(orderedKeys(merged['7'] as JsonObject), ['2', '1', 'b', '0']);
});

test('convert json → bin → json and read keep the order (the attacker\'s case: class counts by class id)', async (t) => {
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': TEXT }, testDir(t));
  for (const format of ['bin', 'json']) assert.equal((await runCli(['convert', root, '-f', format, '-q'])).code, 0, format);
  assert.deepEqual(keyPaths(decodeSidecar(fs.readFileSync(path.join(root, 'IMG_1.json'))).data), WRITTEN);
  const read = await runCli(['read', path.join(root, 'IMG_1.jpg'), '--json']);
  assert.deepEqual(keyPaths(decodeSidecar(Buffer.from(read.stdout)).data), WRITTEN);
  const op = await runCli(['read', path.join(root, 'IMG_1.jpg'), '--operation', '7']);
  assert.equal(op.stdout.replace(/\s/g, ''), '{"2":2.0,"1":1,"b":[{"10":1,"9":2}]}');
});

test('convert of an equal .json and .bin whose key orders differ (the .bin written with index-like keys first) keeps the JSON\'s order', async (t) => {
  const root = makeTree({ 'IMG_1.jpg': FAKE_JPEG, 'IMG_1.json': TEXT }, testDir(t));
  // The .bin as a tool without key order wrote it: the same data, index-like keys first.
  const plain = JSON.parse(JSON.stringify(decodeSidecar(Buffer.from(TEXT)).data)) as JsonObject;
  const { noteFloat } = await import('../src/formats/numbers.js');
  noteFloat(plain['7'] as JsonObject, '2', 2);
  fs.writeFileSync(path.join(root, 'IMG_1.bin'), encodeSidecar(plain, 'bin'));
  assert.notDeepEqual(keyPaths(decodeSidecar(fs.readFileSync(path.join(root, 'IMG_1.bin'))).data), WRITTEN);
  const r = await runCli(['convert', root, '-f', 'bin', '-q', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.existsSync(path.join(root, 'IMG_1.json')), false, 'deduplicated');
  assert.deepEqual(keyPaths(decodeSidecar(fs.readFileSync(path.join(root, 'IMG_1.bin'))).data), WRITTEN);
});
