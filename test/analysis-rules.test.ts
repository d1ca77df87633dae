import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkSidecarRules, isIsoTimestamp, isIsoTimestampByPattern, MAX_PROBLEMS } from '../src/analysis/rules.js';
import fc from 'fast-check';
import type { JsonObject } from '../src/types.js';
import { SAMPLES_DIR } from './helpers/samples.js';
import { join } from 'node:path';
import type { Problem } from '../src/model/inspection.js';
import { campaign } from './helpers/campaign.js';

const SAMPLE = join(SAMPLES_DIR, 'sportball-test_no_faces.json');

function floats(seed: number, n: number): number[] {
  const out: number[] = [];
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(s / 0x100000000 - 0.5);
  }
  return out;
}

function face(id: number, encodingLength = 512): JsonObject {
  return {
    face_id: id,
    bbox: { x: 0.1 + id * 0.2, y: 0.2, width: 0.12, height: 0.15 },
    confidence: 0.8123456835746765,
    landmarks: [0, 1, 2, 3, 4].map((k) => [0.2 + k * 0.01, 0.3 + k * 0.01]),
    encoding: floats(id + 7, encodingLength),
  };
}

function yoloObject(id: number): JsonObject {
  return {
    object_id: id,
    class_name: 'person',
    class_id: 0,
    coordinates_pixels: { x: 100, y: 50, width: 80, height: 160 },
    coordinates_percent: { x: 2.5, y: 1.7, width: 2, height: 5.3 },
    confidence: 0.77,
    crop_area_percent: { x: 2, y: 1, width: 3, height: 6 },
    detection_scale_factor: 1.0,
  };
}

/** A realistic, fully valid sidecar covering every rule's subject. */
function goodSidecar(): JsonObject {
  return {
    face_detection: {
      success: true,
      faces: [face(0), face(1)],
      metadata: { image_path: 'IMG_1.jpg', faces_found: 2, processing_time: 0.4, detector: 'insightface' },
    },
    sidecar_info: {
      operation_type: 'face_detection',
      created_at: '2025-10-01T12:40:11.886386',
      last_updated: '2025-10-01T15:51:02+02:00',
      last_operation: 'yolov8',
      image_path: 'IMG_1.jpg',
      symlink_path: 'IMG_1.jpg',
      symlink_info: { symlink_path: 'IMG_1.jpg', target_path: 'IMG_1.jpg', is_symlink: false, broken: false },
    },
    yolov8: {
      success: true,
      objects: [yoloObject(1), yoloObject(2)],
      metadata: { objects_found: 2, detection_time: 0.29, model_path: 'yolov8n.pt' },
    },
    quality_assessment: {
      success: true,
      quality: { overall_score: 0.7, sharpness: 0.8, noise: 0.1, grade: 'C', recommendations: ['more light'] },
      processing_time: 0.1,
    },
    unified: {
      faces: [{ bbox: [120, 80, 64, 64], confidence: 0.9, encoding: floats(3, 512) }, { bbox: [0, 0, 10, 10], confidence: 0.5, encoding: null }],
      face_count: 2,
      processing_time: 1.2,
      success: true,
      error: null,
    },
  };
}

function brief(problems: Problem[]): string[] {
  return problems.map((p) => `${p.severity} ${p.pointer}`);
}

test('valid data: the real sample and a realistic sidecar have no problems', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'analysis-rules-'));
  try {
    const copy = path.join(dir, 'sample.json');
    fs.copyFileSync(SAMPLE, copy);
    assert.deepEqual(checkSidecarRules(JSON.parse(fs.readFileSync(copy, 'utf8')) as JsonObject), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(checkSidecarRules(goodSidecar()), []);
  // The other accepted forms are clean too.
  assert.deepEqual(checkSidecarRules({ face_detection: { insightface: goodSidecar().face_detection } }), []);
  assert.deepEqual(checkSidecarRules({ sidecar_info: { operation_type: 'quality_assessment' }, data: goodSidecar().quality_assessment }), []);
  assert.deepEqual(checkSidecarRules({ objects: [], sidecar_info: { operation_type: 'object_detection' } }), []);
  assert.deepEqual(
    checkSidecarRules({ face_detection: { success: false, error: 'no model', faces: [], metadata: { faces_found: 0 } } }),
    [],
  );
  assert.deepEqual(
    checkSidecarRules({
      Face_detector: {
        metadata: { detection_time_seconds: 1 },
        faces: [{ face_id: 0, coordinates: { x: 10, y: 20, width: 30, height: 40 }, confidence: 0.9, face_encoding: floats(1, 128) }],
      },
    }),
    [],
  );
  // Other top-level keys are the user's own data and are not checked.
  assert.deepEqual(checkSidecarRules({ ...goodSidecar(), my_tool: { faces: 'whatever' } }), []);
});

type Mutation = [name: string, mutate: (d: any) => void, expected: string[]];

const MUTATIONS: Mutation[] = [
  ['success not boolean', (d) => (d.yolov8.success = 'yes'), ['error /yolov8/success']],
  ['success false without error', (d) => (d.quality_assessment.success = false), ['warning /quality_assessment/success']],
  ['faces not an array', (d) => (d.face_detection.faces = {}), ['error /face_detection/faces']],
  ['face not an object', (d) => (d.face_detection.faces[1] = 7), ['error /face_detection/faces/1']],
  ['bbox value not a number', (d) => (d.face_detection.faces[0].bbox.width = '0.1'), ['error /face_detection/faces/0/bbox/width']],
  ['bbox value not finite', (d) => (d.face_detection.faces[0].bbox.x = null), ['error /face_detection/faces/0/bbox/x']],
  ['bbox outside [0,1]', (d) => (d.face_detection.faces[1].bbox.y = 1.5), ['warning /face_detection/faces/1/bbox/y']],
  ['bbox wrong type', (d) => (d.face_detection.faces[0].bbox = 'x'), ['error /face_detection/faces/0/bbox']],
  ['face without bbox', (d) => delete d.face_detection.faces[0].bbox, ['warning /face_detection/faces/0']],
  ['unified bbox negative', (d) => (d.unified.faces[0].bbox[2] = -3), ['warning /unified/faces/0/bbox/2']],
  ['unified bbox not a number', (d) => (d.unified.faces[1].bbox[0] = 'a'), ['error /unified/faces/1/bbox/0']],
  ['unified bbox wrong length', (d) => d.unified.faces[0].bbox.pop(), ['error /unified/faces/0/bbox']],
  ['confidence above 1', (d) => (d.face_detection.faces[1].confidence = 1.2), ['error /face_detection/faces/1/confidence']],
  ['confidence not a number', (d) => (d.yolov8.objects[0].confidence = 'high'), ['error /yolov8/objects/0/confidence']],
  ['landmarks not an array', (d) => (d.face_detection.faces[0].landmarks = 5), ['error /face_detection/faces/0/landmarks']],
  ['landmark not a pair', (d) => (d.face_detection.faces[0].landmarks[3] = [1, 2, 3]), ['error /face_detection/faces/0/landmarks/3']],
  ['landmark not numbers', (d) => (d.face_detection.faces[1].landmarks[0] = ['a', 1]), ['error /face_detection/faces/1/landmarks/0']],
  ['encoding element not a number', (d) => (d.face_detection.faces[1].encoding[17] = 'x'), ['error /face_detection/faces/1/encoding/17']],
  ['encoding not an array', (d) => (d.face_detection.faces[1].encoding = 'abc'), ['error /face_detection/faces/1/encoding']],
  ['encoding length inconsistent', (d) => d.face_detection.faces[1].encoding.pop(), ['error /face_detection/faces/1/encoding']],
  ['encoding length inconsistent across operations', (d) => (d.unified.faces[0].encoding = floats(1, 128)), ['error /unified/faces/0/encoding']],
  [
    'unusual encoding length everywhere',
    (d) => {
      d.face_detection.faces[0].encoding = floats(1, 256);
      d.face_detection.faces[1].encoding = floats(2, 256);
      d.unified.faces[0].encoding = floats(3, 256);
    },
    ['warning /face_detection/faces/0/encoding'],
  ],
  ['faces_found disagrees', (d) => (d.face_detection.metadata.faces_found = 3), ['warning /face_detection/metadata/faces_found']],
  ['face_count disagrees', (d) => (d.unified.face_count = 1), ['warning /unified/face_count']],
  ['objects_found disagrees', (d) => (d.yolov8.metadata.objects_found = 0), ['warning /yolov8/metadata/objects_found']],
  ['objects not an array', (d) => (d.yolov8.objects = null), ['error /yolov8/objects']],
  ['class_name not a string', (d) => (d.yolov8.objects[1].class_name = 3), ['error /yolov8/objects/1/class_name']],
  ['class_name missing (yolov8)', (d) => delete d.yolov8.objects[0].class_name, ['error /yolov8/objects/0/class_name']],
  ['class_id not an integer', (d) => (d.yolov8.objects[0].class_id = 1.5), ['error /yolov8/objects/0/class_id']],
  ['coordinates not numbers', (d) => (d.yolov8.objects[1].coordinates_pixels.height = 'tall'), ['error /yolov8/objects/1/coordinates_pixels/height']],
  ['coordinates wrong type', (d) => (d.yolov8.objects[1].crop_area_percent = true), ['error /yolov8/objects/1/crop_area_percent']],
  ['quality score not a number', (d) => (d.quality_assessment.quality.sharpness = '0.8'), ['error /quality_assessment/quality/sharpness']],
  ['grade outside A–F', (d) => (d.quality_assessment.quality.grade = 'G'), ['error /quality_assessment/quality/grade']],
  ['grade lower case', (d) => (d.quality_assessment.quality.grade = 'a'), ['error /quality_assessment/quality/grade']],
  ['quality not an object', (d) => (d.quality_assessment.quality = 3), ['error /quality_assessment/quality']],
  ['recommendations not an array', (d) => (d.quality_assessment.quality.recommendations = 'x'), ['error /quality_assessment/quality/recommendations']],
  ['operation not an object', (d) => (d.yolov8 = [1]), ['error /yolov8']],
  ['sidecar_info not an object', (d) => (d.sidecar_info = 'x'), ['error /sidecar_info']],
  ['created_at not ISO-8601', (d) => (d.sidecar_info.created_at = 'yesterday'), ['error /sidecar_info/created_at']],
  ['last_updated impossible date', (d) => (d.sidecar_info.last_updated = '2025-02-30T10:00:00'), ['error /sidecar_info/last_updated']],
  ['created_at not a string', (d) => (d.sidecar_info.created_at = 1759322411), ['error /sidecar_info/created_at']],
  ['last_operation not a string', (d) => (d.sidecar_info.last_operation = ['yolov8']), ['error /sidecar_info/last_operation']],
  ['symlink_info not an object', (d) => (d.sidecar_info.symlink_info = 'link'), ['error /sidecar_info/symlink_info']],
  ['is_symlink not boolean', (d) => (d.sidecar_info.symlink_info.is_symlink = 'false'), ['error /sidecar_info/symlink_info/is_symlink']],
  ['target_path not a string', (d) => (d.sidecar_info.symlink_info.target_path = 5), ['error /sidecar_info/symlink_info/target_path']],
];

for (const [name, mutate, expected] of MUTATIONS) {
  test(`rule fires with the right pointer: ${name}`, () => {
    const data = goodSidecar();
    mutate(data);
    const problems = checkSidecarRules(data);
    assert.deepEqual(brief(problems), expected, JSON.stringify(problems));
    for (const p of problems) assert.ok(p.message.length > 0);
  });
}

test('faces_found counts array entries, valid or not', () => {
  const data = goodSidecar();
  (data.face_detection as any).faces.push(5);
  (data.face_detection as any).metadata.faces_found = 3;
  assert.deepEqual(brief(checkSidecarRules(data)), ['error /face_detection/faces/2']);
});

test('a box missing a field says "missing", never "undefined" (face bbox, yolov8 coordinates)', () => {
  const data = goodSidecar();
  const face = (data.face_detection as any).faces[0];
  face.bbox = { x: 0.1, y: 0.2, height: 0.4 };
  const messages = checkSidecarRules(data).map((p) => p.message);
  assert.ok(messages.includes('width must be a finite number, not missing'), messages.join('; '));
  assert.ok(messages.every((m) => !m.includes('undefined')), messages.join('; '));
});

test('no known operation and no sidecar_info: one warning', () => {
  assert.deepEqual(checkSidecarRules({ name: 'x', values: [1, 2] }), [{ pointer: '', message: 'no known operation', severity: 'warning' }]);
  assert.deepEqual(checkSidecarRules({}).length, 1);
  assert.deepEqual(checkSidecarRules({ sidecar_info: { operation_type: 'face_detection' } }), []);
  assert.deepEqual(brief(checkSidecarRules([1] as unknown as JsonObject)), ['error ']);
});

test('JSON pointers escape ~ and / in keys', () => {
  const data = {
    face_detection: { 'in/sight~face': { success: true, faces: [{ bbox: { x: 0, y: 0, width: 0.1, height: 0.1 }, confidence: 2 }] } },
  };
  assert.deepEqual(brief(checkSidecarRules(data)), ['error /face_detection/in~1sight~0face/faces/0/confidence']);
});

test('legacy spellings and the flat form are checked under their own pointers', () => {
  const old = { Face_detector: { faces: [{ coordinates: { x: 'a', y: 0, width: 1, height: 1 }, face_encoding: [1, 2] }] } };
  assert.deepEqual(brief(checkSidecarRules(old)), [
    'error /Face_detector/faces/0/coordinates/x',
    'warning /Face_detector/faces/0/face_encoding',
  ]);
  const flat = { faces: [{ bbox: { x: 0.1, y: 0.1, width: 0.1, height: 0.1 }, confidence: -1 }], sidecar_info: { operation_type: 'FaceDetection' } };
  assert.deepEqual(brief(checkSidecarRules(flat)), ['error /faces/0/confidence']);
  const wrapped = { sidecar_info: { operation_type: 'quality_assessment' }, data: { success: true, quality: { grade: 'Z' } } };
  assert.deepEqual(brief(checkSidecarRules(wrapped)), ['error /data/quality/grade']);
});

test('operationType option: checks only that operation and requires it', () => {
  const data = goodSidecar();
  (data.yolov8 as any).success = 'yes';
  (data.face_detection as any).faces[0].confidence = 7;
  assert.deepEqual(brief(checkSidecarRules(data, { operationType: 'FaceDetection' })), ['error /face_detection/faces/0/confidence']);
  assert.deepEqual(brief(checkSidecarRules(data, { operationType: 'yolov8' })), ['error /yolov8/success']);
  const missing = checkSidecarRules(goodSidecar(), { operationType: 'pose_detection' });
  assert.deepEqual(brief(missing), ['error ']);
  assert.match(missing[0].message, /pose_detection/);
});

test('problems per file are bounded with a final "more" entry', () => {
  const faces = Array.from({ length: 300 }, (_, i) => ({ bbox: { x: 0, y: 0, width: 0.1, height: 0.1 }, confidence: 2 + i }));
  const problems = checkSidecarRules({ face_detection: { success: true, faces } });
  assert.equal(problems.length, MAX_PROBLEMS + 1);
  assert.equal(problems[MAX_PROBLEMS - 1].pointer, `/face_detection/faces/${MAX_PROBLEMS - 1}/confidence`);
  const last = problems[MAX_PROBLEMS];
  assert.equal(last.pointer, '');
  assert.equal(last.severity, 'error');
  assert.match(last.message, /200 more/);
  // An encoding full of strings is one problem, not 512.
  const enc = checkSidecarRules({ face_detection: { faces: [{ bbox: { x: 0, y: 0, width: 0.1, height: 0.1 }, encoding: Array(512).fill('x') }] } });
  assert.deepEqual(brief(enc), ['error /face_detection/faces/0/encoding/0']);
  assert.match(enc[0].message, /512/);
});

test('ISO-8601 timestamps', () => {
  for (const ok of ['2025-10-01T12:40:11.886386', '2025-10-01 12:40:11', '2025-10-01T12:40:11Z', '2025-10-01T12:40+05:30', '2024-02-29', '2025-10-01T12:40:11.5-0800']) {
    assert.equal(isIsoTimestamp(ok), true, ok);
  }
  for (const bad of ['', 'yesterday', '2025-13-01', '2025-02-29', '2025-10-01T24:00:00', '2025-10-01T12:60', '2025-10-01T12:40:11+25:00', '2025/10/01', '2025-10-01T']) {
    assert.equal(isIsoTimestamp(bad), false, bad);
  }
});

test("ISO-8601 timestamps: the fixed-form fast path gives the pattern's answer", () => {
  // Every field at and beyond its limits, both separators, fractions, offsets, one character off.
  const edges = [
    '2024-02-29T00:00:00', '2023-02-29T00:00:00', '1900-02-29 12:00:00', '2000-02-29 12:00:00', '2025-04-31T10:00:00', '2025-00-10T10:00:00',
    '2025-10-00T10:00:00', '2025-10-01T23:59:60', '2025-10-01T23:59:61', '2025-10-01T24:00:00', '2025-10-01T12:60:00', '2025-10-01T12:40:11.',
    '2025-10-01T12:40:11,5', '2025-10-01T12:40:11.886386Z', '2025-10-01T12:40:11.886386+01:00', '2025-10-01T12:40:11.88x', '2025-10-01t12:40:11',
    '2025-10-01T12:40:1', '2025-10-01T12:40:11 ', ' 2025-10-01T12:40:11', '2025-10-01T12:40:11\n', '２０２５-10-01T12:40:11', '2025-10-01T12:40:11.١',
  ];
  for (const s of edges) assert.equal(isIsoTimestamp(s), isIsoTimestampByPattern(s), s);
  const two = (max: number) => fc.integer({ min: 0, max }).map((v) => String(v).padStart(2, '0'));
  const year = fc.oneof(fc.constantFrom('1900', '2000', '2023', '2024', '0000'), fc.integer({ min: 0, max: 9999 }).map((v) => String(v).padStart(4, '0')));
  const stamp = fc
    .tuple(year, two(13), two(32), fc.constantFrom('T', ' ', 't', '_'), two(25), two(61), two(62), fc.constantFrom('', '.', ',', '.5', ',123', '.886386', '.88a', 'Z', '+01:00', '.1-0800'))
    .map(([y, mo, d, t, h, mi, s, rest]) => `${y}-${mo}-${d}${t}${h}:${mi}:${s}${rest}`);
  const mutated = fc.tuple(stamp, fc.nat(30), fc.string({ maxLength: 2 })).map(([s, at, ins]) => s.slice(0, at) + ins + s.slice(at + 1));
  fc.assert(fc.property(fc.oneof(stamp, mutated, fc.string()), (s) => isIsoTimestamp(s) === isIsoTimestampByPattern(s)), { numRuns: campaign(1666, 5000), seed: 7 });
});
