/**
 * The validate certifier (issue 13; src/accel/certify.ts, assembly/scanner.ts certifyValidate):
 * validate's inspection of the common form decided on the scanner's tape, no skeleton built. It
 * must give exactly what the skeleton and the reference give — or be unsure, never wrong:
 *  - a property test over sidecars generated in the common form and just outside it (every rule's
 *    boundary: ranges, counts, lengths, timestamps, backends, wrappers, tools), each through the
 *    three ways (certifier, skeleton, reference);
 *  - crafted attackers for each of its decisions, each asserting which way it went;
 *  - the sample library: the same inspections with the certifier on and off, most files on the tape;
 *  - the scan's duplicate-key check it relies on (nested, escaped, objects of many keys).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { setValidateCertifier } from '../src/accel/certify.js';
import { accelCounts } from '../src/accel/decode.js';
import { DEFER_REASONS, scanJson, TAPE } from '../src/accel/scanner.js';
import { inspectBytes } from '../src/tasks/inspect.js';
import { generateSampleLibrary } from '../src/index.js';
import { checkAccelParity, filesUnder, newTally, type ParityTally } from './helpers/accel-parity.js';
import { campaign, FULL_CAMPAIGNS } from './helpers/campaign.js';
import { removeTree, tempDir } from './helpers/cli.js';
import type { FileInspection } from '../src/model/inspection.js';

const VALIDATE = { brief: true, validate: true } as const;
const STATS = { summarize: true } as const;
/** format-stats: format and shape only. */
const SHAPE = {} as const;
type Inspection = typeof VALIDATE | typeof STATS | typeof SHAPE;

function assertClean(t: ParityTally): void {
  assert.deepEqual(t.mismatches.slice(0, 5), [], `${t.mismatches.length} mismatches`);
}

/** An inspection of `text` with the accelerator (validate's by default), and whether it was decided on the tape. */
function inspect(text: string | Buffer, name = 'IMG_1.json', set: Inspection = VALIDATE): { result: FileInspection; onTape: boolean } {
  const before = accelCounts.onTape;
  const result = inspectBytes({ path: name, name }, Buffer.isBuffer(text) ? text : Buffer.from(text), { ...set, accel: true });
  return { result, onTape: accelCounts.onTape > before };
}

/** Both other ways give the same inspection (the reference, and the skeleton with the tape's walks off). */
function assertSameAllWays(text: string | Buffer, name = 'IMG_1.json', set: Inspection = VALIDATE): FileInspection {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const strip = (r: FileInspection) => ({ ...r, elapsedMs: 0, accel: undefined });
  const fast = inspectBytes({ path: name, name }, bytes, { ...set, accel: true });
  setValidateCertifier(false);
  let skeleton: FileInspection;
  try {
    skeleton = inspectBytes({ path: name, name }, bytes, { ...set, accel: true });
  } finally {
    setValidateCertifier(true);
  }
  const ref = inspectBytes({ path: name, name }, bytes, { ...set, accel: false });
  assert.deepEqual(strip(fast), strip(ref), `certifier vs reference: ${bytes.toString('utf8', 0, 300)}`);
  assert.deepEqual(strip(skeleton), strip(ref), `skeleton vs reference: ${bytes.toString('utf8', 0, 300)}`);
  if (fast.accel === 'wasm') assert.ok(ref.status === 'ok' && (ref.problems ?? []).length === 0, 'certified a file the reference flags');
  return fast;
}

// ---------------------------------------------------------------------------------------------
// A generator of sidecars in the common form and at its edges.
// ---------------------------------------------------------------------------------------------

const floats = (n: number, seed: number) => Array.from({ length: n }, (_, i) => (((i + 1) * 7919 + seed) % 2003) / 1000 - 0.5 + 1e-9);

/**
 * Sidecars in the common form (`edgy` false: every value one the rules accept, so the certifier
 * should decide most of them), or with values at and past every rule's boundary mixed in.
 */
export function sidecars(edgy: boolean): fc.Arbitrary<Record<string, unknown>> {
  /** Take the clean arbitrary, or (edgy) now and then one of the odd values. */
  const or = <T,>(clean: fc.Arbitrary<T>, odd: fc.Arbitrary<unknown>, weight = 1): fc.Arbitrary<unknown> =>
    edgy ? fc.oneof({ weight: 6, arbitrary: clean as fc.Arbitrary<unknown> }, { weight, arbitrary: odd }) : clean;
  // Numbers as sidecars hold them (fast-check's doubles favour magnitudes like 1e-300, which the scan leaves to the reference).
  const fraction = (max: number) => fc.integer({ min: 0, max: max * 1_000_000 }).map((i) => i / 1_000_000);
  const unitArb = or(fraction(1), fc.constantFrom<unknown>(0, 1, -0, 1.0000000000000002, -1e-9, 1.5, '0.5', null, true, [0.5]), 2);
  const coordArb = fc.oneof(fc.integer({ min: -100_000, max: 10_000_000 }).map((i) => i / 1000), fc.integer({ min: -5, max: 6000 }));
  const boxObject = (v: fc.Arbitrary<unknown>) =>
    fc.record({ x: v, y: v, width: v, height: v }, { requiredKeys: edgy ? [] : ['x', 'y', 'width', 'height'] }).map((b) => (Object.keys(b).length === 0 ? { x: 0.1, y: 0.2, width: 0.3, height: 0.4 } : b));
  const bboxArb = or(
    fc.oneof(boxObject(unitArb), fc.array(fc.oneof(fraction(5000), fc.nat(6000)), { minLength: 4, maxLength: 4 })),
    fc.oneof(fc.array(coordArb, { minLength: 3, maxLength: 5 }), fc.constantFrom<unknown>(null, 'box', [[1, 2]], {})),
    2,
  );
  const encodingArb = or(
    fc.nat(1000).map((s) => floats(512, s)),
    fc.oneof(fc.tuple(fc.constantFrom(0, 3, 128, 127, 513), fc.nat(1000)).map(([n, s]) => floats(n, s)), fc.constantFrom<unknown>(null, 'x', [1, 2, 'x'], Array.from({ length: 512 }, (_, i) => i))),
  );
  const landmarksArb = or(fc.array(fc.tuple(coordArb, coordArb), { maxLength: 5 }), fc.constantFrom<unknown>(null, [[1.5]], [[1.5, 2.5, 3.5]], ['x'], [1.5, 2.5], 'x'));
  const faceArb = or(
    fc.record(
      { face_id: fc.nat(9), bbox: bboxArb, coordinates: or(boxObject(coordArb), bboxArb), confidence: unitArb, landmarks: landmarksArb, encoding: encodingArb, face_encoding: or(fc.constant(null), encodingArb) },
      { requiredKeys: edgy ? ['face_id'] : ['face_id', 'bbox'] },
    ),
    fc.constantFrom<unknown>(null, 3, 'face', [1]),
  );
  const classIdArb = or(fc.nat(80), fc.constantFrom<unknown>(-1, 2.5, '3', null, 12345678901234567890, 1e2));
  const objectArb = or(
    fc.record(
      {
        object_id: fc.nat(20),
        class_name: or(fc.constantFrom('person', 'ball', 'backpack'), fc.constantFrom<unknown>(3, null)),
        class_id: classIdArb,
        confidence: unitArb,
        bbox: bboxArb,
        coordinates_pixels: or(boxObject(coordArb), fc.oneof(fc.array(coordArb, { maxLength: 4 }), fc.constantFrom<unknown>(null, 'x'))),
        coordinates_percent: boxObject(coordArb),
        crop_area_percent: boxObject(coordArb),
      },
      { requiredKeys: edgy ? ['object_id'] : ['object_id', 'class_name', 'class_id'] },
    ),
    fc.constantFrom<unknown>(null, 'o'),
  );
  const toolArb = or(fc.constantFrom<unknown>('insightface', 'buffalo_l', 'yolov8', 'caf\u00e9', 'a\\"b'), fc.constantFrom<unknown>('', 3, null));
  const countFor = (n: number) => or(fc.constant<unknown>(n), fc.constantFrom<unknown>(n + 1, -1, null, String(n), n + 0.5));
  const metadataArb = (faces: number | null, objects: number | null) =>
    fc.record(
      {
        faces_found: faces === null ? fc.constant(undefined) : countFor(faces),
        objects_found: objects === null ? fc.constant(undefined) : countFor(objects),
        detector: toolArb,
        tool_name: toolArb,
        model_name: toolArb,
        processing_time: fraction(5),
        image_width: fc.constant(5472),
      },
      { requiredKeys: [] },
    );
  const successArb = or(fc.constant<unknown>(true), fc.constantFrom<unknown>(false, 'yes', null));
  const errorArb = fc.constantFrom<unknown>(undefined, 'boom', ...(edgy ? ['', null, 0] : []));
  const facesNode = fc
    .array(faceArb, { maxLength: 4 })
    .chain((faces) =>
      fc.record({ success: successArb, error: errorArb, faces: fc.constant(faces), metadata: metadataArb(faces.length, null), face_count: fc.oneof(fc.constant(undefined), countFor(faces.length)) }, { requiredKeys: ['faces'] }),
    );
  const objectsNode = fc
    .array(objectArb, { maxLength: 4 })
    .chain((objects) => fc.record({ success: successArb, objects: fc.constant(objects), metadata: metadataArb(null, objects.length), objects_found: fc.oneof(fc.constant(undefined), countFor(objects.length)) }, { requiredKeys: ['objects'] }));
  const qualityNode = fc.record(
    {
      success: successArb,
      quality: fc.record(
        {
          overall_score: or(fraction(1), fc.constantFrom<unknown>('x', null)),
          sharpness: fraction(1),
          grade: or(fc.constantFrom<unknown>('A', 'B', 'F'), fc.constantFrom<unknown>('G', 'a', '', 'AB', 3)),
          recommendations: or(fc.array(fc.constantFrom('High noise', 'Blur'), { maxLength: 2 }), fc.constantFrom<unknown>(null, 'x', [1])),
        },
        { requiredKeys: [] },
      ),
      processing_time: fraction(5),
    },
    { requiredKeys: ['quality'] },
  );
  const gameNode = fc.record({ success: successArb, game_id: fc.nat(200), confidence: or(fraction(1), fc.double({ noNaN: true, noDefaultInfinity: true })) }, { requiredKeys: [] });
  /** An operation's value: the result itself, under a backend, inside a data wrapper, or odder. */
  const wrapped = (node: fc.Arbitrary<Record<string, unknown>>) =>
    fc.oneof(
      { weight: 5, arbitrary: node as fc.Arbitrary<unknown> },
      { weight: 2, arbitrary: fc.tuple(fc.constantFrom('insightface', 'yolov8', 'face_detection', 'FaceDetection', 'data', ...(edgy ? ['0'] : [])), node).map(([k, n]) => ({ [k]: n })) },
      { weight: 1, arbitrary: node.map((n) => ({ sidecar_info: { operation_type: 'quality_assessment' }, data: n })) },
      { weight: 1, arbitrary: fc.tuple(node, node).map(([a, b]) => ({ success: true, metadata: { detector: 'outer' }, first: a, second: { deeper: { deepest: { deepest2: b } } } })) },
      { weight: edgy ? 1 : 0, arbitrary: fc.constantFrom<unknown>([], 'x', null) },
    );
  const timestampArb = or(
    fc.date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString().replace('Z', '').replace(/\.(\d{3})$/, '.$1123')),
    fc.constantFrom<unknown>('2024-02-29T10:00:00', '2023-02-29T10:00:00', '2024-13-01T00:00:00', '2024-01-01T24:00:00', '2024-01-01T23:59:60', '2024-01-01 12:00:00,5', '2024-01-01T12:00:00.', '2024-01-01', '2024-01-01T12:00:00Z', 'yesterday', null, 5),
    2,
  );
  const infoArb = fc.record(
    {
      operation_type: or(fc.constantFrom<unknown>('face_detection', 'yolov8', 'quality_assessment', 'game_detection', 'FaceDetection', 'unknown_op', ''), fc.constantFrom<unknown>(3, null)),
      created_at: timestampArb,
      last_updated: timestampArb,
      last_operation: or(fc.constant<unknown>('yolov8'), fc.constant(3)),
      image_path: or(fc.constantFrom<unknown>('photos/x.jpg', null), fc.constant(1)),
      symlink_path: fc.constantFrom<unknown>('games/x.jpg', null),
      symlink_info: or(
        fc.record({ symlink_path: fc.constantFrom<unknown>('a', null), target_path: fc.constantFrom<unknown>('b', null), is_symlink: fc.boolean(), broken: fc.boolean() }, { requiredKeys: [] }),
        fc.oneof(fc.constantFrom<unknown>(null, 'x'), fc.record({ is_symlink: fc.constantFrom<unknown>('yes', 1) })),
      ),
      image: fc.constant({ size: 123, mtime_ns: '1730000000000000000' }),
    },
    { requiredKeys: [] },
  );
  return fc
    .record(
      {
        sidecar_info: infoArb,
        face_detection: wrapped(facesNode),
        yolov8: wrapped(objectsNode),
        quality_assessment: wrapped(qualityNode),
        game_detection: gameNode,
        unified: fc.tuple(facesNode, objectsNode).map(([f, o]) => ({ face_detection: f, yolov8: o })),
        ...(edgy ? { Face_detector: facesNode, user_notes: fc.constant('mine') } : {}),
      },
      { requiredKeys: edgy ? [] : ['face_detection'] },
    )
    .chain((doc) => fc.shuffledSubarray(Object.keys(doc), { minLength: Object.keys(doc).length }).map((keys) => Object.fromEntries(keys.map((k) => [k, (doc as Record<string, unknown>)[k]]))));
}

describe('accel: the validate certifier', () => {
  it('gives what the skeleton and the reference give, on generated sidecars in the common form and at its edges (validate and stats)', () => {
    const tally = newTally();
    const before = accelCounts.onTape;
    let certified = 0;
    const runs = campaign(400, 1500);
    fc.assert(
      fc.property(fc.oneof(sidecars(false), sidecars(true)), fc.boolean(), (doc, pretty) => {
        const text = JSON.stringify(doc, (_k, v: unknown) => (v === undefined ? undefined : v), pretty ? 2 : undefined);
        const r = assertSameAllWays(text);
        if (r.accel === 'wasm') certified++;
        assertSameAllWays(text, 'IMG_1.json', STATS);
        assertSameAllWays(text, 'IMG_1.json', SHAPE);
        checkAccelParity('generated.json', Buffer.from(text), tally);
      }),
      { numRuns: runs, seed: FULL_CAMPAIGNS ? undefined : 1318 }, // short: one fixed draw; full: a new one each run
    );
    assertClean(tally);
    // The generator reaches the certifier (and past it): the property is not vacuous.
    assert.ok(accelCounts.onTape - before > runs / 10, `decided on the tape: ${accelCounts.onTape - before} of ${runs}`);
    assert.ok(certified > runs / 7.5, `certified: ${certified} of ${runs}`);
  });

  describe('crafted: each decision, and which way it went', () => {
    const face = (f: string) => `{"face_detection": {"success": true, "faces": [${f}], "metadata": {"faces_found": 1, "detector": "insightface"}}}`;
    const bbox = '"bbox": {"x": 0.1, "y": 0.2, "width": 0.3, "height": 0.4}';
    const enc = (n: number) => `[${floats(n, 1).join(', ')}]`;
    // [name, text, decided on the tape]: a file decided there must be the reference's; one that
    // is not goes to the skeleton (either way the result is the reference's, checked below).
    const cases: [string, string, boolean][] = [
      ['the common form', face(`{${bbox}, "confidence": 0.9, "landmarks": [[1.5, 2.5]], "encoding": ${enc(512)}}`), true],
      ['confidence 1', face(`{${bbox}, "confidence": 1}`), true],
      ['confidence -0.0', face(`{${bbox}, "confidence": -0.0}`), true],
      ['confidence 1.0000000000000002', face(`{${bbox}, "confidence": 1.0000000000000002}`), false],
      ['confidence 1e-5', face(`{${bbox}, "confidence": 1e-5}`), true],
      ['confidence 1e0', face(`{${bbox}, "confidence": 1e0}`), true],
      ['bbox x 1.5: a warning', face('{"bbox": {"x": 1.5, "y": 0.2, "width": 0.3, "height": 0.4}}'), false],
      ['bbox without height', face('{"bbox": {"x": 0.1, "y": 0.2, "width": 0.3}}'), false],
      ['bbox array', face('{"bbox": [10, 20.5, 30, 40]}'), true],
      ['bbox array with -0.0', face('{"bbox": [-0.0, 20.5, 30, 40]}'), true],
      ['bbox array with a negative', face('{"bbox": [10, -20.5, 30, 40]}'), false],
      ['bbox array of 3', face('{"bbox": [10, 20.5, 30]}'), false],
      ['bbox null', face('{"bbox": null}'), false],
      ['coordinates only', face('{"coordinates": {"x": 100, "y": -20, "width": 3000.5, "height": 4}}'), true],
      ['no bbox: a warning', face('{"confidence": 0.5}'), false],
      ['encoding 128 then 512', face(`{${bbox}, "encoding": ${enc(128)}}, {${bbox}, "encoding": ${enc(512)}}`).replace('"faces_found": 1', '"faces_found": 2'), false],
      ['encoding 128 twice', face(`{${bbox}, "encoding": ${enc(128)}}, {${bbox}, "face_encoding": ${enc(128)}}`).replace('"faces_found": 1', '"faces_found": 2'), true],
      ['encoding of ints', face(`{${bbox}, "encoding": [${Array.from({ length: 128 }, (_, i) => i).join(', ')}]}`), true],
      ['encoding of 3', face(`{${bbox}, "encoding": [0.5, 0.25, 0.125]}`), false],
      ['encoding empty', face(`{${bbox}, "encoding": []}`), false],
      ['encoding null', face(`{${bbox}, "encoding": null}`), true],
      ['landmarks of ints and floats', face(`{${bbox}, "landmarks": [[1, 2.5], [3, 4]]}`), true],
      ['landmarks with a triple', face(`{${bbox}, "landmarks": [[1.5, 2.5, 3.5]]}`), false],
      ['faces_found 1.0 (an integral float)', face(`{${bbox}}`).replace('"faces_found": 1', '"faces_found": 1.0'), true],
      ['faces_found 2: a warning', face(`{${bbox}}`).replace('"faces_found": 1', '"faces_found": 2'), false],
      ['faces_found "1"', face(`{${bbox}}`).replace('"faces_found": 1', '"faces_found": "1"'), false],
      ['faces_found null', face(`{${bbox}}`).replace('"faces_found": 1', '"faces_found": null'), true],
      ['success false with an error', '{"face_detection": {"success": false, "error": "no GPU", "faces": []}}', true],
      ['success false with an empty error: a warning', '{"face_detection": {"success": false, "error": "", "faces": []}}', false],
      ['success false with error 0', '{"face_detection": {"success": false, "error": 0, "faces": []}}', true],
      ['success "yes"', '{"face_detection": {"success": "yes", "faces": []}}', false],
      ['yolov8 without class_name', '{"yolov8": {"success": true, "objects": [{"class_id": 0}]}}', false],
      ['object_detection without class_name', '{"object_detection": {"success": true, "objects": [{"class_id": 0}]}}', true],
      ['class_id 3.0', '{"yolov8": {"success": true, "objects": [{"class_name": "ball", "class_id": 3.0}]}}', true],
      ['class_id 2.5', '{"yolov8": {"success": true, "objects": [{"class_name": "ball", "class_id": 2.5}]}}', false],
      ['class_id -0', '{"yolov8": {"success": true, "objects": [{"class_name": "ball", "class_id": -0}]}}', true],
      ['class_id beyond 2^53', '{"yolov8": {"success": true, "objects": [{"class_name": "ball", "class_id": 12345678901234567890}]}}', false],
      ['quality grade A', '{"quality_assessment": {"success": true, "quality": {"grade": "A", "recommendations": ["x"]}}}', true],
      ['quality grade a', '{"quality_assessment": {"success": true, "quality": {"grade": "a"}}}', false],
      ['quality grade \\u0041 (escaped)', '{"quality_assessment": {"success": true, "quality": {"grade": "\\u0041"}}}', false],
      ['quality score a string', '{"quality_assessment": {"success": true, "quality": {"sharpness": "0.5"}}}', false],
      ['a backend', '{"face_detection": {"insightface": {"success": true, "faces": []}}}', true],
      ['a backend named like an operation', '{"unified": {"face_detection": {"success": true, "faces": [], "metadata": {"detector": "retina"}}, "yolov8": {"success": true, "objects": []}}}', true],
      ['a data wrapper', '{"quality_assessment": {"sidecar_info": {"operation_type": "quality_assessment"}, "data": {"success": true, "quality": {"grade": "B"}}}}', true],
      ['a backend key starting with a digit', '{"face_detection": {"9insight": {"success": true, "faces": []}}}', false],
      ['nesting four deep (not followed: as the reference)', '{"face_detection": {"a": {"b": {"c": {"d": {"success": "no"}}}}}}', true],
      ['nesting three deep with a problem', '{"face_detection": {"a": {"b": {"c": {"success": "no"}}}}}', false],
      ['the user\'s own root key', '{"face_detection": {"success": true, "faces": []}, "mine": 1}', false],
      ['an alias spelling', '{"Face_detector": {"success": true, "faces": []}}', false],
      ['no operation', '{"sidecar_info": {"operation_type": "face_detection"}}', false],
      ['the flat form', '{"sidecar_info": {"operation_type": "face_detection"}, "faces": []}', false],
      ['an operation not an object', '{"face_detection": [1]}', false],
      ['operation_type FaceDetection (normalised)', '{"sidecar_info": {"operation_type": "FaceDetection"}, "face_detection": {"success": true, "faces": [], "metadata": {"detector": "x"}}}', true],
      ['operation_type empty: the first operation', '{"sidecar_info": {"operation_type": ""}, "yolov8": {"success": true, "objects": []}, "face_detection": {"success": true, "faces": []}}', true],
      ['operation_type 3', '{"sidecar_info": {"operation_type": 3}, "face_detection": {"success": true, "faces": []}}', false],
      ['created_at 2024-02-29', '{"sidecar_info": {"created_at": "2024-02-29T10:11:12.123456"}, "face_detection": {"success": true, "faces": []}}', true],
      ['created_at 2023-02-29', '{"sidecar_info": {"created_at": "2023-02-29T10:11:12"}, "face_detection": {"success": true, "faces": []}}', false],
      ['created_at with a space and a comma', '{"sidecar_info": {"created_at": "2024-01-01 10:11:60,5"}, "face_detection": {"success": true, "faces": []}}', true],
      ['created_at with an offset (the pattern decides)', '{"sidecar_info": {"created_at": "2024-01-01T10:11:12+01:00"}, "face_detection": {"success": true, "faces": []}}', false],
      ['symlink_info with a string flag', '{"sidecar_info": {"symlink_info": {"is_symlink": "yes"}}, "face_detection": {"success": true, "faces": []}}', false],
      ['symlink_info null', '{"sidecar_info": {"symlink_info": null, "image_path": null}, "face_detection": {"success": true, "faces": []}}', true],
      ['tool from the node itself', '{"face_detection": {"success": true, "faces": [], "model_name": "buffalo"}}', true],
      ['tool with an escape and a non-ASCII letter', '{"face_detection": {"success": true, "faces": [], "metadata": {"detector": "caf\\u00e9 \u00e9"}}}', true],
      ['an escaped key', '{"face_detection": {"success": true, "faces": [], "\\u006detadata": {}}}', false],
      ['__proto__ as a backend', '{"face_detection": {"__proto__": {"success": true, "faces": []}}}', true],
      ['a BOM', '\ufeff{"face_detection": {"success": true, "faces": []}}', true],
    ];
    for (const [name, text, expectOnTape] of cases) {
      it(name, () => {
        assertSameAllWays(text);
        assert.equal(inspect(text).onTape, expectOnTape, `decided on the tape: expected ${expectOnTape}`);
      });
    }

    it('a report by its name is the skeleton\'s (its shape is "report")', () => {
      const text = '{"face_detection": {"success": true, "faces": []}}';
      assertSameAllWays(text, 'game_detection.json');
      assert.equal(inspect(text, 'game_detection.json').onTape, false);
    });

    it('a legacy file (the earlier tool\'s length prefix) is decided on its text', () => {
      const json = Buffer.from('{"yolov8":{"success":true,"objects":[{"class_name":"person","class_id":0,"confidence":0.5}]}}');
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(BigInt(json.length));
      const bytes = Buffer.concat([prefix, json]);
      const r = assertSameAllWays(bytes, 'IMG_1.bin');
      assert.equal(r.format, 'legacy');
      assert.equal(inspect(bytes, 'IMG_1.bin').onTape, true);
    });
  });

  describe('crafted: the stats summary on the tape', () => {
    const enc = (n: number) => `[${floats(n, 1).join(', ')}]`;
    const cases: [string, string, boolean][] = [
      ['times: metadata first', '{"face_detection": {"success": true, "faces": [], "processing_time": 2, "metadata": {"processing_time": 1.5, "detection_time": 3}}}', true],
      ['times: the node\'s detection_time before metadata\'s', '{"face_detection": {"success": true, "faces": [], "detection_time": 0.25, "metadata": {"detection_time": 3, "detection_time_seconds": 4}}}', true],
      ['times: detection_time_seconds last', '{"face_detection": {"success": true, "faces": [], "metadata": {"detection_time_seconds": 4, "processing_time": "x"}}}', true],
      ['times: a time of 20 digits (left to JavaScript)', '{"face_detection": {"success": true, "faces": [], "processing_time": 1.2345678901234567890}}', false],
      ['success merged over backends', '{"face_detection": {"a": {"success": true, "faces": []}, "b": {"success": false, "error": "x", "faces": []}, "c": {"success": true}}}', true],
      ['tools: a backend, then metadata', '{"sidecar_info": {"operation_type": "face_detection"}, "face_detection": {"retina": {"success": true, "faces": []}, "insightface": {"success": true, "faces": [], "metadata": {"detector": "x"}}}}', true],
      ['tools: yolov8 names its own', '{"yolov8": {"success": true, "objects": [{"class_name": "person"}, {"class_name": "person"}, {"class_name": "__proto__"}, {"class_name": "constructor"}, {"class_name": 3}]}}', true],
      ['embeddings: an empty encoding hides face_encoding', `{"face_detection": {"success": true, "faces": [{"encoding": [], "face_encoding": ${enc(128)}}, {"face_encoding": ${enc(128)}}, {"encoding": ${enc(512)}}, 3]}}`, true],
      ['quality: the first grade and score', '{"quality_assessment": {"a": {"success": true, "quality": {"overall_score": "x"}}, "b": {"success": true, "quality": {"grade": "", "overall_score": 0.5}}, "c": {"success": true, "quality": {"grade": "B", "overall_score": 0.75}}}}', true],
      ['sizes: ints at every head size', '{"game_detection": {"a": [0, 23, 24, 255, 256, 65535, 65536, 4294967295, 4294967296, 9007199254740991, -1, -24, -25, -256, -257, -0]}}', true],
      ['sizes: floats, integral floats, mixed and nested arrays', '{"game_detection": {"f": [1.5, 2.5, 3.5], "g": [1.5, 2.5, 3.5, 4.5, 5.5], "i": [25.0, 1e2], "m": [1.5, 2], "n": [[1.5], [], {}], "e": [], "o": {}}}', true],
      ['sizes: strings (non-ASCII, long) and literals', `{"game_detection": {"s": "café", "l": "${'x'.repeat(300)}", "t": true, "f": false, "z": null, "k${'y'.repeat(30)}": 1}}`, true],
      ['sizes: an escaped string (left to JavaScript)', '{"game_detection": {"s": "a\\nb"}}', false],
      ['sizes: an int beyond 2^53 (left to JavaScript)', '{"game_detection": {"big": 12345678901234567890}}', false],
      ['operations that are not objects', '{"face_detection": [1.5, "x"], "yolov8": "done", "game_detection": 3, "unified": null}', true],
      ['sidecar_info only', '{"sidecar_info": {"operation_type": "yolov8", "symlink_info": {"is_symlink": true, "broken": "yes"}}}', true],
      ['sidecar_info an array', '{"sidecar_info": [1], "face_detection": {"success": true}}', true],
      ['an image record', '{"sidecar_info": {"image": {"size": 123, "mtime_ns": "1730000000123456789", "sha256": "' + 'ab'.repeat(32) + '", "operations": ["yolov8"]}}, "yolov8": {"success": true, "objects": []}}', true],
      ['an image record with a big int mtime', '{"sidecar_info": {"image": {"size": 123, "mtime_ns": 1730000000123456789}}, "yolov8": {"success": true, "objects": []}}', true],
      ['an empty root (not sidecar-shaped)', '{}', false],
      ['the user\'s own key', '{"yolov8": {"success": true}, "mine": 1}', false],
    ];
    for (const [name, text, expectOnTape] of cases) {
      it(name, () => {
        assertSameAllWays(text, 'IMG_1.json', STATS);
        assert.equal(inspect(text, 'IMG_1.json', STATS).onTape, expectOnTape, `summarized on the tape: expected ${expectOnTape}`);
      });
    }

    it('sizes without the sizes option (stats of --where): none', () => {
      const text = '{"yolov8": {"success": true, "objects": []}}';
      const fast = inspectBytes({ path: 'a.json', name: 'a.json' }, Buffer.from(text), { summarize: true, sizes: false, accel: true });
      const ref = inspectBytes({ path: 'a.json', name: 'a.json' }, Buffer.from(text), { summarize: true, sizes: false, accel: false });
      assert.deepEqual(fast.summary, ref.summary);
      assert.deepEqual(fast.summary?.dataSizes, {});
    });
  });

  describe('crafted: format-stats\' shape on the tape', () => {
    const cases: [string, string, string, 'sidecar' | 'report' | 'other', boolean][] = [
      ['a sidecar', 'IMG_1.json', '{"face_detection": {"success": true}}', 'sidecar', true],
      ['sidecar_info alone', 'IMG_1.json', '{"sidecar_info": {}}', 'sidecar', true],
      ['sidecar_info not an object', 'IMG_1.json', '{"sidecar_info": 3}', 'other', true],
      ['an alias spelling of an operation', 'IMG_1.json', '{"Face_detector": {}}', 'sidecar', true],
      ['a Rust enum spelling', 'IMG_1.json', '{"FaceDetection": {}, "notes": 1}', 'sidecar', true],
      ['the user\'s keys only', 'IMG_1.json', '{"notes": 1, "__proto__": {}}', 'other', true],
      ['games at the root', 'IMG_1.json', '{"games": [], "face_detection": {}}', 'report', true],
      ['games at the root, floats', 'IMG_1.json', '{"games": [1.5, 2.5]}', 'report', true],
      ['games not an array', 'IMG_1.json', '{"games": {}, "sidecar_info": {}}', 'sidecar', true],
      ['games under data', 'IMG_1.json', '{"sidecar_info": {}, "data": {"games": [{"id": 1}]}}', 'report', true],
      ['a report by its name', 'game_detection_report.json', '{"face_detection": {}}', 'report', true],
      ['an empty object', 'IMG_1.json', '{}', 'other', true],
      ['an escaped key (left to JavaScript)', 'IMG_1.json', '{"\\u0067ames": []}', 'report', false],
    ];
    for (const [label, name, text, shape, expectOnTape] of cases) {
      it(label, () => {
        const r = assertSameAllWays(text, name, SHAPE);
        assert.equal(r.shape, shape);
        assert.equal(inspect(text, name, SHAPE).onTape, expectOnTape, `decided on the tape: expected ${expectOnTape}`);
      });
    }
  });

  describe('the scan checks every object\'s keys for duplicates (what the certifier relies on)', () => {
    it('defers a duplicate key at any depth, and in arrays of objects', () => {
      for (const text of ['{"a": 1, "a": 2}', '{"x": {"y": {"b": 1, "c": 2, "b": 3}}}', '{"x": [{"k": 1}, {"k": 1, "k": 2}]}', '{"a": {"a": 1}, "b": 2, "a": 3}']) {
        assert.equal(scanJson(Buffer.from(text), 512), -8, text);
        assert.equal(DEFER_REASONS[-8], 'duplicate key');
        assertSameAllWays(text);
      }
      // The same key in sibling or nested objects is no duplicate.
      assert.equal(typeof scanJson(Buffer.from('{"a": {"a": {"a": 1}}, "b": [{"a": 1}, {"a": 2}]}'), 512), 'object');
    });

    it('leaves what it cannot check to JavaScript: escaped keys, objects of more than 64 keys', () => {
      const many = (dup: boolean) => `{"face_detection": {"success": true, "faces": []}, "x": {${Array.from({ length: 70 }, (_, i) => `"k${i}": ${i}`).join(', ')}${dup ? ', "k3": 9' : ''}}}`;
      for (const text of ['{"face_detection": {"success": true, "faces": []}, "\\u0061": 1, "a": 2}', many(true), many(false)]) {
        const tape = scanJson(Buffer.from(text), 512);
        assert.equal(typeof tape, 'object', text.slice(0, 60));
        assertSameAllWays(text);
        assert.equal(inspect(text).onTape, false);
      }
      assert.equal(inspect(many(true)).result.status, 'corrupt');
    });

    it('writes the distance to its end into each container\'s start entry', () => {
      const tape = scanJson(Buffer.from('{"a": [1, {"b": []}], "c": {}}'), 512) as Int32Array;
      for (let i = 0; i < tape.length; i++) {
        const kind = tape[i] & 0xff;
        if (kind !== TAPE.OBJ_START && kind !== TAPE.ARR_START) continue;
        const end = i + (tape[i] >>> 8);
        assert.equal(tape[end], kind === TAPE.OBJ_START ? TAPE.OBJ_END : TAPE.ARR_END, `container at ${i}`);
      }
    });
  });

  describe('the sample library', () => {
    let dir = '';
    before(async () => {
      dir = tempDir('isc-certify-');
      await generateSampleLibrary(dir, { images: 300, seed: 11 });
    });
    after(() => removeTree(dir));

    it('every file: the same inspections (validate, stats) with the tape\'s walks on and off, and most decided on the tape', () => {
      let onTape = 0;
      let certified = 0;
      let statsOnTape = 0;
      let statsCertified = 0;
      for (const f of filesUnder(dir)) {
        if (!/\.(json|bin|rkyv)$/.test(f)) continue;
        const bytes = fs.readFileSync(f);
        const r = assertSameAllWays(bytes, path.basename(f));
        if (r.accel === 'wasm') certified++;
        if (inspect(bytes, path.basename(f)).onTape) onTape++;
        if (assertSameAllWays(bytes, path.basename(f), STATS).accel === 'wasm') statsCertified++;
        if (inspect(bytes, path.basename(f), STATS).onTape) statsOnTape++;
        assertSameAllWays(bytes, path.basename(f), SHAPE);
      }
      assert.ok(certified > 100, `certified ${certified}`);
      assert.ok(onTape >= 0.9 * certified, `decided on the tape: ${onTape} of ${certified} certified`);
      assert.ok(statsOnTape >= 0.9 * statsCertified, `stats, summarized on the tape: ${statsOnTape} of ${statsCertified} certified`);
    });
  });
});
