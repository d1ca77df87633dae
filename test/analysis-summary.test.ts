import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { summarizeSidecar } from '../src/analysis/summary.js';
import {
  isKnownOperationKey,
  looksLikeReport,
  looksLikeSidecar,
  normalizeOperationName,
  operationKeysOf,
} from '../src/analysis/operations.js';
import { binEncodedSize } from '../src/formats/codec.js';
import type { JsonObject, JsonValue } from '../src/types.js';
import { SAMPLES_DIR } from './helpers/samples.js';
import { join } from 'node:path';

const SAMPLE = join(SAMPLES_DIR, 'sportball-test_no_faces.json');

/** Deterministic pseudo-random floats (LCG) so fixtures are realistic but stable. */
function floats(seed: number, n: number): number[] {
  const out: number[] = [];
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(s / 0x100000000 - 0.5);
  }
  return out;
}

function detectorFace(id: number, encodingLength: number): JsonObject {
  const r = floats(id + 1, 4);
  return {
    face_id: id,
    bbox: { x: 0.1 + r[0] * 0.1, y: 0.2 + r[1] * 0.1, width: 0.12, height: 0.15 },
    confidence: 0.8123456835746765 - id * 0.01,
    landmarks: [0, 1, 2, 3, 4].map((k) => [0.2 + k * 0.01, 0.3 + k * 0.01]),
    encoding: floats(100 + id, encodingLength),
  };
}

function faceDetection(faces: JsonObject[], processingTime = 0.42): JsonObject {
  return {
    success: true,
    faces,
    metadata: {
      image_path: 'IMG_1.jpg',
      image_width: 4000,
      image_height: 3000,
      faces_found: faces.length,
      processing_time: processingTime,
      extraction_timestamp: '2025-10-01T15:50:14.846973',
      detector: 'insightface',
      model_name: 'buffalo_l',
      face_size_threshold: 64,
      confidence_threshold: 0.5,
    },
  };
}

function yoloObject(id: number, className: string, classId: number): JsonObject {
  const box = { x: 100 * id, y: 50, width: 80, height: 160 };
  return {
    object_id: id,
    class_name: className,
    class_id: classId,
    coordinates_pixels: box,
    coordinates_percent: { x: 2.5 * id, y: 1.7, width: 2, height: 5.3 },
    confidence: 0.77,
    crop_area_percent: { x: 2, y: 1, width: 3, height: 6 },
    detection_scale_factor: 1.0,
  };
}

function yolov8(objects: JsonObject[], detectionTime = 0.29): JsonObject {
  return {
    success: true,
    objects,
    metadata: {
      image_path: 'IMG_1.jpg',
      image_width: 4000,
      image_height: 3000,
      objects_found: objects.length,
      detection_time: detectionTime,
      model_path: 'yolov8n.pt',
      border_padding_percentage: 25.0,
      confidence_threshold: 0.5,
      gpu_enabled: true,
      target_objects: 'all',
    },
  };
}

function qualityAssessment(grade: string, score: number): JsonObject {
  return {
    success: true,
    quality: {
      overall_score: score,
      sharpness: 0.8,
      focus: 0.7,
      exposure: 0.6,
      composition: 0.5,
      action: 0.4,
      color: 0.9,
      noise: 0.1,
      contrast: 0.55,
      grade,
      recommendations: ['increase shutter speed'],
    },
    processing_time: 0.12,
    image_path: 'IMG_1.jpg',
    image_width: 4000,
    image_height: 3000,
  };
}

function sidecarInfo(operationType: string): JsonObject {
  return {
    operation_type: operationType,
    created_at: '2025-10-01T12:40:11.886386',
    last_updated: '2025-10-01T15:51:02.205516',
    last_operation: operationType,
    image_path: 'IMG_1.jpg',
    symlink_path: 'IMG_1.jpg',
    symlink_info: { symlink_path: 'IMG_1.jpg', target_path: 'IMG_1.jpg', is_symlink: false, broken: false },
  };
}

test('summary of the real sample sportball-test_no_faces.json (read from a private copy)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'analysis-summary-'));
  try {
    const copy = path.join(dir, 'test_no_faces.json');
    fs.copyFileSync(SAMPLE, copy);
    const data = JSON.parse(fs.readFileSync(copy, 'utf8')) as JsonObject;
    const s = summarizeSidecar(data);
    assert.deepEqual(s.operations, ['face_detection', 'yolov8']);
    assert.equal(s.operationType, 'face_detection');
    assert.equal(s.faces, 0);
    assert.equal(s.objects, 0);
    assert.equal(s.detectionCount, 0);
    assert.equal(s.embeddings, 0);
    assert.equal(s.embeddingLength, null);
    assert.deepEqual(s.processingTimes, { face_detection: 0.09838628768920898, yolov8: 0.2952775190351531 });
    assert.deepEqual(s.success, { face_detection: true, yolov8: true });
    assert.equal(s.toolName, 'insightface');
    assert.equal(s.hasSidecarInfo, true);
    assert.deepEqual(s.symlink, { isSymlink: false, broken: false });
    assert.equal(s.qualityGrade, null);
    assert.deepEqual(s.dataSizes, {
      face_detection: binEncodedSize(data.face_detection),
      yolov8: binEncodedSize(data.yolov8),
    });
    assert.ok(s.dataSizes.face_detection > 100);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('realistic multi-operation sidecar with 512-d embeddings', () => {
  const faces = [detectorFace(0, 512), detectorFace(1, 512), detectorFace(2, 512)];
  faces[2] = { ...faces[2], encoding: null }; // a face whose embedding failed
  const data: JsonObject = {
    face_detection: faceDetection(faces, 0.5),
    sidecar_info: sidecarInfo('yolov8'),
    yolov8: yolov8([yoloObject(1, 'person', 0), yoloObject(2, 'sports ball', 32)], 0.25),
    quality_assessment: qualityAssessment('B', 0.73),
  };
  const s = summarizeSidecar(data);
  assert.deepEqual(s.operations, ['face_detection', 'yolov8', 'quality_assessment']);
  assert.equal(s.operationType, 'yolov8');
  assert.equal(s.faces, 3);
  assert.equal(s.objects, 2);
  assert.equal(s.detectionCount, 5);
  assert.equal(s.embeddings, 2);
  assert.equal(s.embeddingLength, 512);
  assert.equal(s.qualityGrade, 'B');
  assert.equal(s.qualityScore, 0.73);
  assert.deepEqual(s.processingTimes, { face_detection: 0.5, yolov8: 0.25, quality_assessment: 0.12 });
  assert.deepEqual(s.success, { face_detection: true, yolov8: true, quality_assessment: true });
  // yolov8 is both the operation and the tool; its metadata names no detector.
  assert.equal(s.toolName, 'yolov8');
  assert.equal(s.dataSizes.face_detection, binEncodedSize(data.face_detection));
  assert.ok(s.dataSizes.face_detection > s.dataSizes.yolov8, 'embeddings dominate the size');
});

test('nested backend forms: face_detection.insightface and yolov8.yolov8', () => {
  const data: JsonObject = {
    sidecar_info: sidecarInfo('face_detection'),
    face_detection: { insightface: faceDetection([detectorFace(0, 512), detectorFace(1, 512)], 0.61) },
    yolov8: { yolov8: yolov8([yoloObject(1, 'person', 0)], 0.33) },
  };
  const s = summarizeSidecar(data);
  assert.deepEqual(s.operations, ['face_detection', 'yolov8']);
  assert.equal(s.faces, 2);
  assert.equal(s.objects, 1);
  assert.equal(s.embeddings, 2);
  assert.deepEqual(s.processingTimes, { face_detection: 0.61, yolov8: 0.33 });
  assert.deepEqual(s.success, { face_detection: true, yolov8: true });
  assert.equal(s.toolName, 'insightface');
  assert.equal(summarizeSidecar({ ...data, sidecar_info: sidecarInfo('yolov8') }).toolName, 'yolov8');

  // Two backends: faces add up, one failure makes the operation unsuccessful.
  const failed: JsonObject = { success: false, error: 'model missing', faces: [], metadata: { processing_time: 0.01 } };
  const two = summarizeSidecar({ face_detection: { insightface: faceDetection([detectorFace(0, 512)]), opencv: failed } });
  assert.equal(two.faces, 1);
  assert.equal(two.success.face_detection, false);
  assert.equal(two.toolName, 'insightface');
  assert.equal(two.hasSidecarInfo, false);
  assert.equal(two.symlink, null);
});

test('{sidecar_info, data} wrappers: one operation payload, or a whole sidecar', () => {
  const wrapped: JsonObject = { sidecar_info: sidecarInfo('quality_assessment'), data: qualityAssessment('A', 0.91) };
  const s = summarizeSidecar(wrapped);
  assert.deepEqual(s.operations, ['quality_assessment']);
  assert.equal(s.operationType, 'quality_assessment');
  assert.equal(s.qualityGrade, 'A');
  assert.equal(s.qualityScore, 0.91);
  assert.deepEqual(s.processingTimes, { quality_assessment: 0.12 });
  assert.deepEqual(s.dataSizes, { quality_assessment: binEncodedSize(wrapped.data) });

  // The wrapper one level down, under the operation key.
  const inner = summarizeSidecar({
    quality_assessment: { sidecar_info: sidecarInfo('quality_assessment'), data: qualityAssessment('D', 0.31) },
  });
  assert.deepEqual(inner.operations, ['quality_assessment']);
  assert.equal(inner.qualityGrade, 'D');
  assert.equal(inner.success.quality_assessment, true);

  // A whole sidecar wrapped.
  const whole = summarizeSidecar({
    sidecar_info: sidecarInfo('face_detection'),
    data: { face_detection: faceDetection([detectorFace(0, 128)]), yolov8: yolov8([]) },
  });
  assert.deepEqual(whole.operations, ['face_detection', 'yolov8']);
  assert.equal(whole.faces, 1);
  assert.equal(whole.embeddingLength, 128);
});

test('unified form: pixel bboxes, nullable encodings, faces and objects', () => {
  const unifiedFace = (i: number, withEncoding: boolean): JsonObject => ({
    bbox: [120 + i, 80, 64, 64],
    confidence: 0.9,
    encoding: withEncoding ? floats(i, 512) : null,
  });
  const flat = summarizeSidecar({
    sidecar_info: sidecarInfo('unified'),
    unified: {
      faces: [unifiedFace(0, true), unifiedFace(1, false), unifiedFace(2, true)],
      face_count: 3,
      objects: [yoloObject(1, 'person', 0)],
      objects_found: 1,
      processing_time: 1.25,
      success: true,
      error: null,
    },
  });
  assert.deepEqual(flat.operations, ['unified']);
  assert.equal(flat.faces, 3);
  assert.equal(flat.objects, 1);
  assert.equal(flat.embeddings, 2);
  assert.equal(flat.detectionCount, 4);
  assert.deepEqual(flat.processingTimes, { unified: 1.25 });
  assert.deepEqual(flat.success, { unified: true });

  // Unified result holding one sub-result per operation.
  const split = summarizeSidecar({
    unified: {
      success: true,
      processing_time: 2.5,
      face_detection: { faces: [unifiedFace(0, true)], face_count: 1, processing_time: 1, success: true, error: null },
      object_detection: { objects: [yoloObject(1, 'person', 0), yoloObject(2, 'car', 2)], objects_found: 2, detection_time: 1, success: true, error: null },
    },
  });
  assert.equal(split.faces, 1);
  assert.equal(split.objects, 2);
  assert.deepEqual(split.processingTimes, { unified: 2.5 });
  assert.equal(split.toolName, null, 'operation names under unified are not tools');
});

test('oldest Face_detector form and the earlier tool flat form', () => {
  const oldFace = (i: number, enc: boolean): JsonObject => ({
    face_id: i,
    coordinates: { x: 10, y: 20, width: 30, height: 40 },
    confidence: 0.95,
    border_padding: 0.2,
    crop_area: { x: 5, y: 15, width: 40, height: 50 },
    detection_scale_factor: 1,
    face_encoding: enc ? floats(i, 128) : null,
    facial_features: [{ feature_type: 'eye', coordinates: { x: 1, y: 2 }, confidence: 0.5 }],
  });
  const s = summarizeSidecar({
    Face_detector: {
      metadata: { image_dimensions: { width: 640, height: 480 }, detection_time_seconds: 1.5, detector: 'opencv_dnn' },
      faces: [oldFace(0, true), oldFace(1, false)],
    },
  });
  assert.deepEqual(s.operations, ['face_detection']);
  assert.equal(s.operationType, 'face_detection');
  assert.equal(s.faces, 2);
  assert.equal(s.embeddings, 1);
  assert.equal(s.embeddingLength, 128);
  assert.deepEqual(s.processingTimes, { face_detection: 1.5 });
  assert.equal(s.toolName, 'opencv_dnn');
  assert.equal(s.hasSidecarInfo, false);

  // legacy-test2.bin's body: the payload sits next to sidecar_info.
  const flat: JsonObject = { objects: [{ class_name: 'person', class_id: 0 }], sidecar_info: { operation_type: 'ObjectDetection' } };
  const f = summarizeSidecar(flat);
  assert.deepEqual(f.operations, ['object_detection']);
  assert.equal(f.operationType, 'object_detection');
  assert.equal(f.objects, 1);
  assert.deepEqual(f.dataSizes, { object_detection: binEncodedSize({ objects: flat.objects }) });
});

test('garbage types never throw and do not count', () => {
  const weird: JsonValue[] = [
    {},
    { sidecar_info: [] },
    { sidecar_info: null, face_detection: null },
    { sidecar_info: { operation_type: 5, symlink_info: 'x' }, face_detection: 'text' },
    { face_detection: { success: 'yes', faces: 'many', metadata: 5, processing_time: 'fast' } },
    { face_detection: { faces: [1, null, 'a', [], { encoding: 'x' }, { encoding: [] }], metadata: { processing_time: null } } },
    { yolov8: { objects: { 0: {} }, detection_time: -Infinity } },
    { quality_assessment: { quality: { grade: 5, overall_score: '0.7' } } },
    { quality_assessment: { quality: [] }, unified: [[[]]] },
    { data: null, sidecar_info: {} },
    { face_detection: { a: { b: { c: { d: { e: { faces: [{}] } } } } } } },
    { __proto__: { faces: [] }, constructor: { success: true } } as unknown as JsonValue,
  ];
  for (const w of weird) {
    const s = summarizeSidecar(w as JsonObject);
    assert.ok(s.faces <= 2, `faces for ${JSON.stringify(w)}`);
    assert.equal(s.objects, 0);
    assert.equal(s.qualityGrade, null);
    assert.equal(s.qualityScore, null);
    for (const t of Object.values(s.processingTimes)) assert.ok(Number.isFinite(t));
  }
  const mixed = summarizeSidecar(weird[5] as JsonObject);
  assert.equal(mixed.faces, 2, 'only object entries are faces');
  assert.equal(mixed.embeddings, 0, 'a string or empty encoding is no embedding');
  assert.deepEqual(mixed.processingTimes, {});

  const proto = summarizeSidecar(JSON.parse('{"__proto__": {"success": true}, "constructor": {"success": false}}') as JsonObject);
  assert.deepEqual(proto.operations, ['__proto__', 'constructor']);
  assert.equal(Object.hasOwn(proto.success, '__proto__'), true);
  assert.equal(proto.success.constructor, false);

  // In-memory data no format can carry (undefined, a function) is summarised without a size.
  const odd = summarizeSidecar({ face_detection: { success: true, faces: [{}], note: undefined, fn: () => 1 } } as unknown as JsonObject);
  assert.equal(odd.faces, 1);
  assert.deepEqual(odd.dataSizes, {});

  for (const notObject of [null, 5, 'x', [1, 2]]) {
    const s = summarizeSidecar(notObject as unknown as JsonObject);
    assert.deepEqual(s.operations, []);
    assert.equal(s.detectionCount, 0);
  }
});

test('operation names: aliases, Rust enum spellings, unknown CamelCase', () => {
  const cases: [string, string][] = [
    ['face_detection', 'face_detection'],
    ['Face_detector', 'face_detection'],
    ['Object_detector', 'object_detection'],
    ['Ball_detector', 'ball_detection'],
    ['Quality_assessor', 'quality_assessment'],
    ['Game_detector', 'game_detection'],
    ['FaceDetection', 'face_detection'],
    ['QualityAssessment', 'quality_assessment'],
    ['PoseDetection', 'pose_detection'],
    ['Yolov8', 'yolov8'],
    ['YoloV8', 'yolov8'],
    ['Unified', 'unified'],
    ['SceneClassifier', 'scene_classifier'],
    ['HTTPResult', 'http_result'],
    ['my-custom op', 'my_custom_op'],
  ];
  for (const [key, name] of cases) assert.equal(normalizeOperationName(key), name, key);
  assert.equal(isKnownOperationKey('Face_detector'), true);
  assert.equal(isKnownOperationKey('GameDetection'), true);
  assert.equal(isKnownOperationKey('scene_classifier'), false);
  assert.equal(isKnownOperationKey('sidecar_info'), false);
  assert.deepEqual(operationKeysOf({ yolov8: {}, sidecar_info: {}, Face_detector: {} }), ['yolov8', 'Face_detector']);
});

test('sidecar and report shapes', () => {
  assert.equal(looksLikeSidecar({ sidecar_info: {} }), true);
  assert.equal(looksLikeSidecar({ Face_detector: {} }), true);
  assert.equal(looksLikeSidecar({ faces: [], sidecar_info: { operation_type: 'face_detection' } }), true);
  assert.equal(looksLikeSidecar({ sidecar_info: 'x' }), false);
  assert.equal(looksLikeSidecar({ name: 'package', version: '1.0.0' }), false);
  // A report is never sidecar-shaped, even wrapped with sidecar_info.
  const report: JsonObject = { success: true, games: [{ game_id: 1, photo_count: 2, photo_files: ['a.jpg', 'b.jpg'] }], summary: {} };
  assert.equal(looksLikeSidecar(report), false);
  assert.equal(looksLikeSidecar({ sidecar_info: sidecarInfo('game_detection'), data: report }), false);

  assert.equal(looksLikeReport(report, 'anything.json'), true);
  assert.equal(looksLikeReport({ sidecar_info: {}, data: report }, 'x.json'), true);
  assert.equal(looksLikeReport({}, 'game_detection.json'), true);
  assert.equal(looksLikeReport({}, '/lib/Game1/GAME_DETECTION_REPORT.json'), true);
  assert.equal(looksLikeReport({}, 'game_detection.bin'), true);
  assert.equal(looksLikeReport({ face_detection: {} }, 'IMG_1.json'), false);
  assert.equal(looksLikeReport({ games: 'none' }, 'game_detection.jpg'), false);
});

test('validate carries only what it prints: a brief result equals the full-summary result on every sidecar of a sample library, and is a stored result of its own', async () => {
  const { generateSampleLibrary } = await import('../src/index.js');
  const { inspectFiles } = await import('../src/tasks/inspect.js');
  const { resultFromInspection } = await import('../src/ops/validate.js');
  const { optionsKey } = await import('../src/incremental/key.js');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isc-brief-'));
  try {
    await generateSampleLibrary(root, { images: 150, seed: 21, formatMix: { json: 4, bin: 1, legacy: 1 } });
    const files = (fs.readdirSync(root, { recursive: true, withFileTypes: true }) as fs.Dirent[])
      .filter((d) => d.isFile() && /\.(json|bin|rkyv)$/.test(d.name))
      .map((d) => ({ path: join(d.parentPath ?? d.path, d.name), name: d.name }));
    assert.ok(files.length > 100);
    for (const accel of [true, false]) {
      const full = inspectFiles(files, { summarize: true, sizes: false, validate: true, accel });
      const brief = inspectFiles(files, { brief: true, validate: true, accel });
      let counted = 0;
      for (let i = 0; i < files.length; i++) {
        assert.equal(brief[i].summary, undefined, 'no full summary crosses threads');
        const { processing_time: _a, ...a } = resultFromInspection(full[i], 'ok');
        const { processing_time: _b, ...b } = resultFromInspection(brief[i], 'ok');
        assert.deepEqual(b, a, `${files[i].path} (accel ${accel})`);
        if (a.detection_count > 0 && a.tool_name !== null) counted++;
      }
      assert.ok(counted > 20, 'the sample has detections and tools to compare');
    }
    // The index keeps brief and full results apart (a stats or a filtered validate needs the full one).
    assert.notEqual(optionsKey({ brief: true, validate: true }), optionsKey({ summarize: true, sizes: false, validate: true }));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('an operation stored as null is sized as null (1 byte), not as the whole root: null had signalled the flat form to the sizing', () => {
  const data = JSON.parse('{"sidecar_info": {"operation_type": "yolov8"}, "yolov8": {"success": true, "objects": []}, "unified": null, "face_detection": [1.5, "x"]}') as JsonObject;
  const s = summarizeSidecar(data);
  assert.equal(s.dataSizes.unified, binEncodedSize(null));
  assert.equal(s.dataSizes.unified, 1);
  assert.equal(s.dataSizes.yolov8, binEncodedSize(data.yolov8));
  assert.equal(s.dataSizes.face_detection, binEncodedSize(data.face_detection));
  // The flat form is still sized as the root without sidecar_info.
  const flat = JSON.parse('{"sidecar_info": {"operation_type": "face_detection"}, "faces": [], "success": true}') as JsonObject;
  const { sidecar_info: _info, ...payload } = flat;
  assert.equal(summarizeSidecar(flat).dataSizes.face_detection, binEncodedSize(payload as JsonObject));
});
