/**
 * validate asks each file only for its brief (detection count, tool, operation type): the summary
 * pass with only those fields (briefOfSidecar) must give what the whole summary gives, on every
 * form a sidecar is stored in and on odd data.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { briefOf, briefOfSidecar, summarizeSidecar } from '../src/analysis/summary.js';
import { decodeSidecar } from '../src/formats/codec.js';
import { generateSampleLibrary } from '../src/sample/generate.js';
import type { JsonObject, JsonValue } from '../src/types.js';
import { sidecarDataArb } from './reliability/fuzz-inputs.js';
import { filesUnder } from './helpers/accel-parity.js';
import { SAMPLES_DIR } from './helpers/samples.js';
import { removeTree, tempDir } from './helpers/cli.js';
import { campaign } from './helpers/campaign.js';

function same(data: JsonObject, label: string): void {
  assert.deepEqual(briefOfSidecar(data), briefOf(summarizeSidecar(data)), label);
}

const oddArb: fc.Arbitrary<JsonValue> = fc.oneof(fc.constant<JsonValue>(null), fc.integer(), fc.string({ maxLength: 6 }), fc.constant<JsonValue>([]), fc.constant<JsonValue>({}), fc.boolean());
const toolArb = fc.constantFrom('insightface', 'yolov8', '', 'face_detection', 'mtcnn');
const nodeArb: fc.Arbitrary<JsonObject> = fc.record(
  {
    success: fc.oneof(fc.boolean(), oddArb),
    faces: fc.oneof(fc.array(fc.oneof(fc.record({ confidence: fc.double() }), oddArb), { maxLength: 4 }), oddArb),
    objects: fc.oneof(fc.array(fc.oneof(fc.record({ class_name: fc.constantFrom('person', 'ball') }), oddArb), { maxLength: 4 }), oddArb),
    metadata: fc.oneof(fc.record({ detector: fc.oneof(toolArb, oddArb), tool_name: fc.oneof(toolArb, oddArb), model_name: toolArb }, { requiredKeys: [] }), oddArb),
    detector: toolArb,
    quality: fc.record({ grade: fc.constantFrom('A', 'B') }),
  },
  { requiredKeys: [] },
);
const opKeyArb = fc.constantFrom('face_detection', 'Face_detector', 'yolov8', 'object_detection', 'unified', 'quality_assessment', 'data', 'mine');
const sidecarArb: fc.Arbitrary<JsonObject> = fc
  .tuple(
    fc.array(fc.tuple(opKeyArb, fc.oneof(nodeArb, fc.dictionary(fc.constantFrom('insightface', 'yolov8', 'face_detection', 'x'), nodeArb, { maxKeys: 3 }), oddArb)), { maxLength: 4 }),
    fc.option(fc.record({ operation_type: fc.oneof(opKeyArb, oddArb) }, { requiredKeys: [] })),
    fc.option(nodeArb),
    sidecarDataArb,
  )
  .map(([ops, info, flat, extra]) => {
    const out: JsonObject = flat ?? {};
    if (info !== null) out.sidecar_info = info;
    for (const [k, v] of ops) out[k] = v;
    if (ops.length === 0 && flat === null) Object.assign(out, extra);
    return out;
  });

describe('the brief of a sidecar (validate)', () => {
  it('property: briefOfSidecar equals the brief of the whole summary', () => {
    fc.assert(
      fc.property(sidecarArb, (data) => {
        same(data, JSON.stringify(data).slice(0, 200));
      }),
      { numRuns: campaign(200, 600), seed: 31 },
    );
    fc.assert(
      fc.property(sidecarDataArb, (data) => same(data, 'random')),
      { numRuns: 200, seed: 32 },
    );
  });

  it('equals it on the reference samples and on a generated library (every stored form)', async () => {
    let n = 0;
    /** Each file that decodes, compared (files that are not sidecars, or corrupt ones, are passed over). */
    const compareFile = (f: string) => {
      let data: JsonObject;
      try {
        data = decodeSidecar(fs.readFileSync(f)).data;
      } catch {
        return;
      }
      same(data, f);
      n++;
    };
    for (const f of filesUnder(SAMPLES_DIR)) compareFile(f);
    const root = tempDir('isc-brief-');
    try {
      await generateSampleLibrary(root, { images: 150, seed: 31, formatMix: { json: 2, bin: 1, legacy: 1 } });
      for (const f of filesUnder(root)) if (/\.(json|bin|rkyv)$/.test(f)) compareFile(f);
    } finally {
      removeTree(root);
    }
    assert.ok(n > 100, `${n} files`);
  });
});
