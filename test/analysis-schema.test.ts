import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkSchema, compileSchema, loadSchema } from '../src/analysis/schema.js';
import { isSidecarError } from '../src/errors.js';
import type { JsonObject } from '../src/types.js';

/** A user schema: every face needs a confidence in [0, 1]; only known top-level keys. */
const FACE_SCHEMA = {
  type: 'object',
  required: ['face_detection'],
  properties: {
    sidecar_info: { type: 'object', properties: { operation_type: { enum: ['face_detection', 'yolov8'] } } },
    face_detection: {
      type: 'object',
      required: ['success', 'faces'],
      properties: {
        success: { type: 'boolean' },
        faces: {
          type: 'array',
          items: { type: 'object', required: ['confidence'], properties: { confidence: { type: 'number', minimum: 0, maximum: 1 } } },
        },
      },
    },
    'a/b~c': { type: 'string' },
  },
  additionalProperties: false,
};

function sidecar(confidences: number[]): JsonObject {
  return {
    face_detection: { success: true, faces: confidences.map((c, i) => ({ face_id: i, confidence: c })) },
    sidecar_info: { operation_type: 'face_detection' },
  };
}

function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'analysis-schema-'));
  return fn(dir).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
}

async function rejectsWith(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSidecarError(e), `expected a SidecarError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  });
}

test('loadSchema: valid and invalid data, ajv instancePath as the pointer', async () => {
  await withTempDir(async (dir) => {
    const file = path.join(dir, 'faces.schema.json');
    fs.writeFileSync(file, JSON.stringify(FACE_SCHEMA, null, 2));
    const compiled = await loadSchema(file);
    assert.equal(compiled.path, file);
    assert.deepEqual(checkSchema(compiled, sidecar([0.9, 0.5])), []);

    const problems = checkSchema(compiled, { ...sidecar([0.9, 1.5, -2]), extra: 1, 'a/b~c': 5 });
    const pointers = problems.map((p) => p.pointer).sort();
    assert.deepEqual(pointers, ['', '/a~1b~0c', '/face_detection/faces/1/confidence', '/face_detection/faces/2/confidence']);
    for (const p of problems) assert.equal(p.severity, 'error');
    const extra = problems.find((p) => p.pointer === '');
    assert.match(extra!.message, /additional properties: "extra"/);
    assert.match(problems.find((p) => p.pointer === '/face_detection/faces/1/confidence')!.message, /<= 1/);

    // The compiled validator is reused: errors of one call do not leak into the next.
    assert.deepEqual(checkSchema(compiled, sidecar([0.1])), []);
    const enumProblem = checkSchema(compiled, { ...sidecar([]), sidecar_info: { operation_type: 'pose' } });
    assert.deepEqual(enumProblem.map((p) => p.pointer), ['/sidecar_info/operation_type']);
    assert.match(enumProblem[0].message, /"face_detection", "yolov8"/);
    assert.deepEqual(checkSchema(compiled, { sidecar_info: {} }).map((p) => p.pointer), ['']);
  });
});

test('schemaSource recompiles to an equivalent validator after crossing a thread boundary', () => {
  const compiled = compileSchema(FACE_SCHEMA);
  const cloned = compileSchema(structuredClone(compiled.schemaSource));
  for (const data of [sidecar([0.2]), sidecar([3]), { face_detection: 1 }, {}]) {
    assert.deepEqual(checkSchema(cloned, data), checkSchema(compiled, data));
  }
  assert.ok(checkSchema(cloned, sidecar([3])).length > 0);
});

test('bad schema files and objects: SCHEMA errors with a clear message', async () => {
  await withTempDir(async (dir) => {
    const notJson = path.join(dir, 'broken.json');
    fs.writeFileSync(notJson, '{"type": "object",');
    await rejectsWith(loadSchema(notJson), 'SCHEMA', /not valid JSON/);

    const badType = path.join(dir, 'bad-type.json');
    fs.writeFileSync(badType, JSON.stringify({ type: 'objekt' }));
    await rejectsWith(loadSchema(badType), 'SCHEMA', /invalid JSON Schema.*type/);

    const arraySchema = path.join(dir, 'array.json');
    fs.writeFileSync(arraySchema, '[1, 2]');
    await rejectsWith(loadSchema(arraySchema), 'SCHEMA', /object or a boolean/);

    await rejectsWith(loadSchema(path.join(dir, 'missing.json')), 'NOT_FOUND', /missing\.json/);

    // A UTF-8 BOM is tolerated.
    const bom = path.join(dir, 'bom.json');
    fs.writeFileSync(bom, '\ufeff' + JSON.stringify({ type: 'object' }));
    assert.deepEqual(checkSchema(await loadSchema(bom), {}), []);
  });
  assert.throws(() => compileSchema({ $ref: '#/definitions/nowhere' }), (e: unknown) => isSidecarError(e) && e.code === 'SCHEMA');
  assert.throws(() => compileSchema({ $schema: 'http://json-schema.org/draft-04/schema#' }), /not supported/);
  assert.throws(() => compileSchema({ $async: true, type: 'object' }), /asynchronous/);
  assert.throws(() => compileSchema('object'), (e: unknown) => isSidecarError(e) && e.code === 'SCHEMA');
});

test('draft 2020-12 and 2019-09 schemas, boolean schemas, unknown formats as warnings', () => {
  const s2020 = compileSchema({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    properties: { yolov8: { type: 'object', properties: { objects: { type: 'array', prefixItems: [{ type: 'object' }] } } } },
  });
  assert.deepEqual(checkSchema(s2020, { yolov8: { objects: [{}] } }), []);
  assert.deepEqual(checkSchema(s2020, { yolov8: { objects: [1] } }).map((p) => p.pointer), ['/yolov8/objects/0']);

  const s2019 = compileSchema({ $schema: 'https://json-schema.org/draft/2019-09/schema', type: 'object', unevaluatedProperties: false, properties: { a: {} } });
  const p2019 = checkSchema(s2019, { a: 1, b: 2 });
  assert.equal(p2019.length, 1);
  assert.match(p2019[0].message, /"b"/);

  assert.deepEqual(checkSchema(compileSchema(true), { anything: 1 }), []);
  assert.equal(checkSchema(compileSchema(false), {}).length, 1);

  const withFormat = compileSchema({ properties: { created_at: { type: 'string', format: 'date-time' } } });
  assert.equal(withFormat.warnings.length, 1);
  assert.match(withFormat.warnings[0], /unknown format "date-time"/);
  assert.deepEqual(checkSchema(withFormat, { created_at: 'not checked' }), []);
});
