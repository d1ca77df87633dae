/**
 * Realistic operation payloads, shaped like the sports-photography pipeline's output
 * (shared/reference/SHAPES.md and samples/sportball-test_no_faces.json): same keys, same
 * key order, same nesting variants, floats with full double precision.
 */
import type { JsonObject, JsonValue } from '../types.js';
import { Rng } from './prng.js';
import { isoMicros, US_PER_DAY, US_PER_HOUR, US_PER_SECOND } from './time.js';

/** What a sidecar says about the image it belongs to. Paths are relative to the library root. */
export interface ImageContext {
  /** The original image (a regular file). */
  imagePath: string;
  /** The game-folder symlink the pipeline read the image through, if any. */
  linkPath?: string;
  width: number;
  height: number;
  /** Capture time, µs since the epoch. Every timestamp in the sidecar comes after it. */
  takenAtUs: number;
  game?: GameContext;
  /** Floats per current face embedding (default 512; the old format's are a quarter of it).
   * Shorter ones only for tree-scale checks, where file count matters and content size doesn't. */
  embeddingLength?: number;
}

export interface GameContext {
  id: number;
  folder: string;
  startUs: number;
  endUs: number;
}

/** Top-level layout of a sidecar. */
export type SidecarForm =
  | 'merged' // flat operations + sidecar_info (the common case)
  | 'nested' // `face_detection.insightface` / `yolov8.yolov8`
  | 'oldest'; // top-level `Face_detector`, no sidecar_info

export interface SidecarPlan {
  form: SidecarForm;
  /** Face count; ignored when the face detection failed. */
  faces: number;
  operations: OperationKey[]; // in the order the pipeline ran them
}

export type OperationKey = 'face_detection' | 'yolov8' | 'quality_assessment' | 'game_detection';

/** How many faces a frame has: mostly 1–2, sometimes none, rarely a crowd (8 ≈ 140 KB). */
const FACE_COUNT_WEIGHTS = [14, 34, 30, 10, 5, 3, 2, 1, 1];

export function drawFaceCount(rng: Rng): number {
  return rng.weighted(FACE_COUNT_WEIGHTS);
}

/** Pick the operations, their order and the layout for one image. */
export function drawPlan(rng: Rng, ctx: ImageContext): SidecarPlan {
  const faces = drawFaceCount(rng);
  const r = rng.float();
  const form: SidecarForm = r < 0.01 ? 'oldest' : r < 0.12 ? 'nested' : 'merged';
  const ops: OperationKey[] = [];
  if (rng.chance(0.96)) ops.push('face_detection');
  if (rng.chance(0.82)) ops.push('yolov8');
  if (rng.chance(0.5)) ops.push('quality_assessment');
  if (ctx.game !== undefined && rng.chance(0.4)) {
    // game splitting usually runs first, on the whole folder
    if (rng.chance(0.7)) ops.unshift('game_detection');
    else ops.push('game_detection');
  }
  if (ops.length === 0) ops.push('face_detection');
  else if (ops.length > 1 && rng.chance(0.15)) {
    // some runs did objects before faces
    const i = ops.indexOf('yolov8');
    const j = ops.indexOf('face_detection');
    if (i > 0 && j >= 0) [ops[i], ops[j]] = [ops[j], ops[i]];
  }
  return { form, faces, operations: ops };
}

// --- face_detection ---------------------------------------------------------------------------

const ENCODING_LENGTH = 512;
const OLD_ENCODING_LENGTH = 128;
/** Spread of a normed 512-d embedding component (≈ 1/√512), as two summed uniforms. */
const ENCODING_SCALE = 0.0766 / 4294967296;

/** A 512-float face embedding. Packed double array: cheap to build and to stringify. */
export function faceEncoding(rng: Rng, length = ENCODING_LENGTH): number[] {
  const out: number[] = [];
  for (let i = 0; i < length; i++) out.push((rng.u32() + rng.u32() - 4294967295) * ENCODING_SCALE);
  return out;
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A face-sized box in 0–1 image coordinates. */
function faceBox(rng: Rng, aspect: number): Box {
  const width = rng.range(0.025, 0.16);
  const height = Math.min(0.9, width * aspect * rng.range(1.15, 1.4));
  return { x: rng.range(0, 1 - width), y: rng.range(0, 1 - height), width, height };
}

/** Eyes, nose, mouth corners (InsightFace kps order) relative to the box. */
const LANDMARK_TEMPLATE: ReadonlyArray<readonly [number, number]> = [
  [0.31, 0.4],
  [0.69, 0.4],
  [0.5, 0.58],
  [0.35, 0.77],
  [0.65, 0.77],
];

function landmarks(rng: Rng, box: Box, w: number, h: number): JsonValue[] {
  const out: JsonValue[] = [];
  for (const [fx, fy] of LANDMARK_TEMPLATE) {
    out.push([
      (box.x + box.width * (fx + rng.range(-0.04, 0.04))) * w,
      (box.y + box.height * (fy + rng.range(-0.04, 0.04))) * h,
    ]);
  }
  return out;
}

function detectorFace(rng: Rng, faceId: number, ctx: ImageContext): JsonObject {
  const box = faceBox(rng, ctx.width / ctx.height);
  const face: JsonObject = {
    face_id: faceId,
    bbox: { x: box.x, y: box.y, width: box.width, height: box.height },
    confidence: rng.range(0.5, 0.93),
    landmarks: landmarks(rng, box, ctx.width, ctx.height),
  };
  // real output almost always carries the embedding
  if (rng.chance(0.95)) face.encoding = faceEncoding(rng, ctx.embeddingLength ?? ENCODING_LENGTH);
  return face;
}

function processedPath(ctx: ImageContext): string {
  return ctx.linkPath ?? ctx.imagePath;
}

function faceDetection(rng: Rng, ctx: ImageContext, faceCount: number, atUs: number): JsonObject {
  const failed = rng.chance(0.015);
  const faces: JsonValue[] = [];
  if (!failed) for (let i = 0; i < faceCount; i++) faces.push(detectorFace(rng, i, ctx));
  const metadata: JsonObject = {
    image_path: processedPath(ctx),
    image_width: ctx.width,
    image_height: ctx.height,
    faces_found: faces.length,
    processing_time: rng.range(0.05, 0.4) + faces.length * rng.range(0.02, 0.06),
    extraction_timestamp: isoMicros(atUs),
    detector: 'insightface',
    model_name: 'buffalo_l',
    face_size_threshold: 64,
    confidence_threshold: 0.5,
  };
  if (failed) {
    return { success: false, error: `Failed to decode image: ${processedPath(ctx)}`, faces, metadata };
  }
  return { success: true, faces, metadata };
}

/** The oldest layout: top-level `Face_detector`, pixel boxes, 128-float encodings. */
function oldFaceDetector(rng: Rng, ctx: ImageContext, faceCount: number): JsonObject {
  const faces: JsonValue[] = [];
  for (let i = 0; i < faceCount; i++) {
    const box = faceBox(rng, ctx.width / ctx.height);
    const px = Math.round(box.x * ctx.width);
    const py = Math.round(box.y * ctx.height);
    const pw = Math.round(box.width * ctx.width);
    const ph = Math.round(box.height * ctx.height);
    const pad = Math.round(pw * 0.2);
    const features: JsonValue[] = [];
    const names = ['left_eye', 'right_eye', 'nose', 'mouth_left', 'mouth_right'];
    for (let k = 0; k < names.length; k++) {
      features.push({
        feature_type: names[k],
        coordinates: { x: Math.round(px + pw * LANDMARK_TEMPLATE[k][0]), y: Math.round(py + ph * LANDMARK_TEMPLATE[k][1]) },
        confidence: rng.range(0.6, 0.99),
      });
    }
    faces.push({
      face_id: i,
      coordinates: { x: px, y: py, width: pw, height: ph },
      confidence: rng.range(0.5, 0.93),
      border_padding: 0.2,
      crop_area: {
        x: Math.max(0, px - pad),
        y: Math.max(0, py - pad),
        width: Math.min(ctx.width, pw + 2 * pad),
        height: Math.min(ctx.height, ph + 2 * pad),
      },
      detection_scale_factor: rng.pick([1, 0.5, 0.25]),
      face_encoding: rng.chance(0.8) ? faceEncoding(rng, ctx.embeddingLength === undefined ? OLD_ENCODING_LENGTH : Math.max(1, ctx.embeddingLength >> 2)) : null,
      facial_features: features,
    });
  }
  return {
    metadata: {
      image_path: processedPath(ctx),
      image_width: ctx.width,
      image_height: ctx.height,
      image_dimensions: { width: ctx.width, height: ctx.height },
      faces_found: faces.length,
      detection_time_seconds: rng.range(0.2, 1.5),
    },
    faces,
  };
}

// --- yolov8 -----------------------------------------------------------------------------------

/** COCO classes seen at sports events, weighted towards people. */
const OBJECT_CLASSES: ReadonlyArray<readonly [string, number, number]> = [
  ['person', 0, 60],
  ['sports ball', 32, 8],
  ['baseball bat', 34, 2],
  ['baseball glove', 35, 2],
  ['tennis racket', 38, 2],
  ['bottle', 39, 4],
  ['chair', 56, 3],
  ['bench', 13, 3],
  ['backpack', 24, 3],
  ['handbag', 26, 2],
  ['umbrella', 25, 1],
  ['car', 2, 2],
  ['dog', 16, 1],
  ['cell phone', 67, 2],
  ['frisbee', 29, 1],
];
const OBJECT_CLASS_WEIGHTS = OBJECT_CLASSES.map((c) => c[2]);
const OBJECT_COUNT_WEIGHTS = [12, 10, 14, 16, 14, 10, 8, 6, 4, 3, 2, 1];
const BORDER_PADDING = 0.25;

function yoloObject(rng: Rng, objectId: number, w: number, h: number): JsonObject {
  const [className, classId] = OBJECT_CLASSES[rng.weighted(OBJECT_CLASS_WEIGHTS)];
  const bw = rng.range(0.02, className === 'person' ? 0.35 : 0.15);
  const bh = Math.min(0.95, bw * (className === 'person' ? rng.range(1.8, 3.2) : rng.range(0.7, 1.3)) * (w / h));
  const bx = rng.range(0, 1 - bw);
  const by = rng.range(0, 1 - bh);
  const cx = Math.max(0, bx - bw * BORDER_PADDING);
  const cy = Math.max(0, by - bh * BORDER_PADDING);
  return {
    object_id: objectId,
    class_name: className,
    class_id: classId,
    coordinates_pixels: { x: Math.round(bx * w), y: Math.round(by * h), width: Math.round(bw * w), height: Math.round(bh * h) },
    coordinates_percent: { x: bx * 100, y: by * 100, width: bw * 100, height: bh * 100 },
    confidence: rng.range(0.25, 0.96),
    crop_area_percent: {
      x: cx * 100,
      y: cy * 100,
      width: Math.min(1 - cx, bw * (1 + 2 * BORDER_PADDING)) * 100,
      height: Math.min(1 - cy, bh * (1 + 2 * BORDER_PADDING)) * 100,
    },
    detection_scale_factor: rng.pick([1, 1, 0.5]),
  };
}

function yolov8(rng: Rng, ctx: ImageContext): JsonObject {
  const count = rng.weighted(OBJECT_COUNT_WEIGHTS);
  const objects: JsonValue[] = [];
  for (let i = 1; i <= count; i++) objects.push(yoloObject(rng, i, ctx.width, ctx.height));
  return {
    success: true,
    objects,
    metadata: {
      image_path: processedPath(ctx),
      image_width: ctx.width,
      image_height: ctx.height,
      objects_found: objects.length,
      detection_time: rng.range(0.08, 0.6),
      model_path: 'yolov8n.pt',
      border_padding_percentage: 25,
      confidence_threshold: rng.pick([0.5, 0.5, 0.25, 0.4]),
      gpu_enabled: rng.chance(0.7),
      target_objects: rng.chance(0.8) ? 'all' : ['person', 'sports ball'],
    },
  };
}

// --- quality_assessment -----------------------------------------------------------------------

const RECOMMENDATIONS = [
  'Image appears slightly blurry; consider a faster shutter speed',
  'Exposure is low; consider increasing ISO or opening the aperture',
  'Highlights are clipped; consider reducing exposure',
  'Subject is off-centre; consider cropping',
  'High noise level; consider noise reduction',
  'Low contrast; consider adjusting levels',
];

function grade(score: number): string {
  return score >= 0.9 ? 'A' : score >= 0.8 ? 'B' : score >= 0.7 ? 'C' : score >= 0.6 ? 'D' : 'F';
}

function qualityAssessment(rng: Rng, ctx: ImageContext, atUs: number): JsonObject {
  const base = rng.range(0.45, 0.98);
  const part = () => Math.min(1, Math.max(0, base + rng.range(-0.15, 0.15)));
  const sharpness = part();
  const focus = part();
  const exposure = part();
  const composition = part();
  const action = part();
  const color = part();
  const noise = part();
  const contrast = part();
  const overall = (sharpness + focus + exposure + composition + action + color + noise + contrast) / 8;
  const recommendations: JsonValue[] = [];
  if (sharpness < 0.7) recommendations.push(RECOMMENDATIONS[0]);
  if (exposure < 0.65) recommendations.push(RECOMMENDATIONS[rng.chance(0.5) ? 1 : 2]);
  if (composition < 0.6) recommendations.push(RECOMMENDATIONS[3]);
  if (noise < 0.6) recommendations.push(RECOMMENDATIONS[4]);
  if (contrast < 0.6) recommendations.push(RECOMMENDATIONS[5]);
  const data: JsonObject = {
    success: true,
    quality: {
      overall_score: overall,
      sharpness,
      focus,
      exposure,
      composition,
      action,
      color,
      noise,
      contrast,
      grade: grade(overall),
      recommendations,
    },
    processing_time: rng.range(0.1, 0.9),
    image_path: processedPath(ctx),
    image_width: ctx.width,
    image_height: ctx.height,
  };
  // the quality tool often wraps its result
  if (!rng.chance(0.4)) return data;
  return {
    sidecar_info: { operation_type: 'quality_assessment', created_at: isoMicros(atUs), image_path: processedPath(ctx) },
    data,
  };
}

// --- game_detection (per image) ---------------------------------------------------------------

function gameDetection(rng: Rng, game: GameContext): JsonObject {
  return {
    success: true,
    game_id: game.id,
    game_folder: game.folder,
    start_time: isoMicros(game.startUs),
    end_time: isoMicros(game.endUs),
    detection_method: 'time_gap',
    confidence: rng.range(0.7, 1),
  };
}

// --- whole sidecars ---------------------------------------------------------------------------

function sidecarInfo(rng: Rng, ctx: ImageContext, first: string, last: string, createdUs: number, updatedUs: number): JsonObject {
  const link = ctx.linkPath;
  const symlinkInfo: JsonObject = {
    symlink_path: link ?? ctx.imagePath,
    target_path: ctx.imagePath,
    is_symlink: link !== undefined,
  };
  // newer pipeline versions also record whether the link was broken
  if (rng.chance(0.5)) symlinkInfo.broken = false;
  return {
    operation_type: first,
    created_at: isoMicros(createdUs),
    last_updated: isoMicros(updatedUs),
    last_operation: last,
    image_path: link ?? ctx.imagePath,
    symlink_path: link ?? ctx.imagePath,
    symlink_info: symlinkInfo,
  };
}

/**
 * Build one sidecar from a plan. Keys appear in insertion order, as the pipeline's merging
 * save produced them: the first operation, then `sidecar_info`, then later operations.
 */
export function buildSidecar(rng: Rng, ctx: ImageContext, plan: SidecarPlan): JsonObject {
  if (plan.form === 'oldest') return { Face_detector: oldFaceDetector(rng, ctx, plan.faces) };
  const nested = plan.form === 'nested';
  // processing happens hours to days after capture, operations minutes to hours apart
  let atUs = ctx.takenAtUs + Math.floor(rng.range(US_PER_HOUR, 3 * US_PER_DAY));
  const createdUs = atUs;
  const out: JsonObject = {};
  const ops = plan.operations;
  for (let i = 0; i < ops.length; i++) {
    if (i > 0) atUs += Math.floor(rng.range(US_PER_SECOND, 2 * US_PER_HOUR));
    const op = ops[i];
    switch (op) {
      case 'face_detection': {
        const value = faceDetection(rng, ctx, plan.faces, atUs);
        out.face_detection = nested ? { insightface: value } : value;
        break;
      }
      case 'yolov8': {
        const value = yolov8(rng, ctx);
        out.yolov8 = nested ? { yolov8: value } : value;
        break;
      }
      case 'quality_assessment':
        out.quality_assessment = qualityAssessment(rng, ctx, atUs);
        break;
      case 'game_detection':
        out.game_detection = ctx.game === undefined ? { success: false, error: 'no game found' } : gameDetection(rng, ctx.game);
        break;
    }
    if (i === 0) out.sidecar_info = null; // reserve its place; filled in once the last time is known
  }
  out.sidecar_info = sidecarInfo(rng, ctx, ops[0], ops[ops.length - 1], createdUs, atUs);
  return out;
}

export interface SampleSidecarOptions {
  /** Root-relative path of the image (default `photos/2025-09-20/20250920_143022.jpg`). */
  imagePath?: string;
  /** Game-folder symlink the image was processed through. */
  linkPath?: string;
  width?: number;
  height?: number;
  /** Capture time, ms since the epoch (default 2025-09-20T14:30:22Z). */
  takenAt?: number;
  /** Exact number of faces (default: drawn, mostly 1–2). */
  faces?: number;
  form?: SidecarForm;
  /** Operations in run order (default: drawn). */
  operations?: OperationKey[];
  game?: GameContext;
}

const DEFAULT_TAKEN_AT_MS = Date.UTC(2025, 8, 20, 14, 30, 22);

/**
 * One realistic sidecar object, for tests and benchmarks. Deterministic in `rng`'s state
 * (a number is taken as a seed for a fresh generator).
 */
export function sampleSidecar(rngOrSeed: Rng | number, opts: SampleSidecarOptions = {}): JsonObject {
  const rng = typeof rngOrSeed === 'number' ? new Rng(rngOrSeed) : rngOrSeed;
  const ctx: ImageContext = {
    imagePath: opts.imagePath ?? 'photos/2025-09-20/20250920_143022.jpg',
    width: opts.width ?? 6000,
    height: opts.height ?? 4000,
    takenAtUs: (opts.takenAt ?? DEFAULT_TAKEN_AT_MS) * 1000,
  };
  if (opts.linkPath !== undefined) ctx.linkPath = opts.linkPath;
  if (opts.game !== undefined) ctx.game = opts.game;
  const plan = drawPlan(rng, ctx);
  if (opts.faces !== undefined) plan.faces = opts.faces;
  if (opts.form !== undefined) plan.form = opts.form;
  if (opts.operations !== undefined && opts.operations.length > 0) plan.operations = [...opts.operations];
  return buildSidecar(rng, ctx, plan);
}
