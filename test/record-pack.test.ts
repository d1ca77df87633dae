/**
 * Stored scan records without key names (src/incremental/record-pack.ts): whatever a record holds,
 * reading it back gives the same value, with the same types and the same key order, through JSON
 * and through v8 as folder-records.ts stores them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import { packRecord, unpackRecord } from '../src/incremental/record-pack.js';

const inspection = (over: Record<string, unknown> = {}) => ({
  path: 0, size: 58470, status: 'ok', format: 'json', notes: [], shape: 'sidecar', elapsedMs: 1.4352219999998397,
  brief: { detectionCount: 11, toolName: 'insightface', operationType: 'face_detection' }, problems: [], accel: 'wasm', ...over,
});
const record = (over: Record<string, unknown> = {}, ins: Record<string, unknown> = inspection()) => ({
  category: 'ok', dir: 0,
  images: [{ name: 'IMG_1.jpg', path: 0, rel: 0, isSymlink: true, target: '/lib/photos/IMG_1.jpg', outsideRoot: false }],
  sidecars: [{ name: 'IMG_1.json', path: '/lib/photos/IMG_1.json', ext: 'json', naming: 'stem', rel: 'photos/IMG_1.json', side: 'target', inspection: ins }],
  effective: 0, findings: [{ code: 'note', message: 'm', paths: ['a'] }], files: 1, seq: 0, ...over,
});

/** Stored as folder-records.ts stores it (JSON text, or a v8 value), then read back. */
function throughJson(rec: unknown): unknown {
  return unpackRecord(JSON.parse(JSON.stringify(packRecord(rec))));
}
function throughV8(rec: unknown): unknown {
  return unpackRecord(deserialize(serialize(packRecord(rec))));
}

/** Same value, same types, same key order at every level. */
function assertSame(got: unknown, want: unknown): void {
  assert.deepStrictEqual(got, want);
  assert.equal(JSON.stringify(got), JSON.stringify(want));
}

describe('record-pack: a stored record reads back as it was', () => {
  it('a validate record, a stats record (summary with maps keyed by names from files), an unchecked link record: packed, and back exactly', () => {
    const summaryMaps = JSON.parse('{"__proto__": 1.5, "constructor": 2, "face_detection": 25.0}') as Record<string, unknown>;
    const stats = inspection({
      brief: undefined,
      summary: {
        operations: ['__proto__', 'constructor'], operationType: null, faces: 3, objects: 0, detectionCount: 3, embeddings: 3, embeddingLength: 512,
        qualityGrade: null, qualityScore: null, processingTimes: summaryMaps, success: { ok: true }, dataSizes: {}, toolName: null,
        hasSidecarInfo: true, symlink: null, objectClasses: {}, image: null,
      },
    });
    delete (stats as Record<string, unknown>).brief;
    const unchecked = { path: 0, size: 0, status: 'unchecked', format: null, notes: [], shape: 'sidecar', elapsedMs: 0 };
    for (const rec of [record(), record({}, stats), record({}, unchecked), record({ effective: null, sidecars: [], findings: [] })]) {
      const packed = packRecord(rec);
      assert.ok(Array.isArray(packed), 'packed');
      assert.ok(JSON.stringify(packed).length < JSON.stringify(rec).length * 0.8, 'the key names are gone');
      assertSame(throughJson(rec), rec);
      assertSame(throughV8(rec), rec);
    }
    const back = throughJson(record({}, stats)) as { sidecars: [{ inspection: { summary: { processingTimes: object } } }] };
    assert.deepEqual(Object.keys(back.sidecars[0].inspection.summary.processingTimes), ['__proto__', 'constructor', 'face_detection']);
    assert.equal(Object.getPrototypeOf(back.sidecars[0].inspection.summary.processingTimes), Object.prototype);
  });

  it('keys in another order come back in that order', () => {
    const rec = record({}, inspection({ accel: 'deferred' }));
    const ins = rec.sidecars[0].inspection as Record<string, unknown>;
    const reordered = { problems: ins.problems, accel: ins.accel, path: ins.path, brief: ins.brief, size: ins.size, status: ins.status, format: ins.format, notes: ins.notes, shape: ins.shape, elapsedMs: ins.elapsedMs };
    const r2 = record({}, reordered);
    assertSame(throughJson(r2), r2);
    assert.deepEqual(Object.keys((throughJson(r2) as typeof r2).sidecars[0].inspection), Object.keys(reordered));
  });

  it('an object with a key it does not know stays an object where it is (a __proto__ key too); the rest is packed', () => {
    const odd = JSON.parse('{"name":"a.jpg","path":0,"rel":0,"isSymlink":false,"__proto__":{"x":1}}') as Record<string, unknown>;
    const rec = record({ images: [odd, { name: 'b.jpg', path: 0, rel: 0, isSymlink: false }] }, inspection({ somethingNew: [1, 2] }));
    const packed = packRecord(rec) as unknown[];
    assert.ok(Array.isArray(packed));
    const images = packed[3] as unknown[];
    assert.ok(!Array.isArray(images[0]) && Array.isArray(images[1]));
    for (const back of [throughJson(rec), throughV8(rec)]) {
      assertSame(back, rec);
      const img = (back as { images: Record<string, unknown>[] }).images[0];
      assert.ok(Object.hasOwn(img, '__proto__'), '__proto__ is an own key, not the prototype');
      assert.equal(Object.getPrototypeOf(img), Object.prototype);
    }
  });

  it('an array where a record holds objects: the record is stored as it is, never misread as packed', () => {
    for (const rec of [
      record({ images: [['not', 'an', 'image']] }),
      record({}, inspection({ brief: ['YZa', 1, 't', 'x'] })),
      record({ sidecars: [{ name: 'x', path: 0, ext: 'json', naming: 'stem', rel: 0, side: 'local', inspection: ['9', 'looks packed'] }] }),
    ]) {
      assert.equal(packRecord(rec), rec);
      assertSame(throughJson(rec), rec);
    }
    // Inside an object left as it is (an unknown key), an array stays an array.
    const kept = record({ sidecars: [{ name: 'x', path: 0, ext: 'json', naming: 'stem', rel: 0, side: 'local', other: 1, inspection: ['9', 'an array'] }] });
    assertSame(throughJson(kept), kept);
  });

  it('values only v8 keeps (-0, bigint, undefined, NaN) come back through v8 as they were', () => {
    const rec = record({ files: -0 }, inspection({ size: 2n ** 70n, elapsedMs: NaN, format: undefined }));
    const back = throughV8(rec) as typeof rec;
    assert.deepStrictEqual(back, rec);
    assert.ok(Object.is(back.files, -0));
    assert.deepEqual(Object.keys(back.sidecars[0].inspection), Object.keys(rec.sidecars[0].inspection));
  });

  it('a value that is not a packed record is returned as it is; a damaged code is an error, never a wrong object', () => {
    const rec = record();
    assert.equal(unpackRecord(rec), rec);
    assert.equal(unpackRecord(null), null);
    assert.throws(() => unpackRecord(['\u0000\u0001', 1]), /not a packed record/);
    assert.throws(() => unpackRecord(['00', 1, 2]), /not a packed record/, 'a key twice');
    assert.throws(() => unpackRecord([5, 1]), /not a packed record/);
  });

  it('without code generation from strings (node --disallow-code-generation-from-strings) records still read back', () => {
    const mod = fileURLToPath(new URL('../src/incremental/record-pack.js', import.meta.url));
    const script = `import { packRecord, unpackRecord } from ${JSON.stringify(mod)};
      const rec = ${JSON.stringify(record())};
      const back = unpackRecord(JSON.parse(JSON.stringify(packRecord(rec))));
      process.stdout.write(JSON.stringify(back) === JSON.stringify(rec) ? 'same' : 'differs');`;
    const r = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'same');
  });
});
