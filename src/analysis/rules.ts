/**
 * Built-in structural rules for the known operations (SHAPES.md). Each problem carries an
 * RFC 6901 JSON pointer to the offending value. Type errors are `error`s; implausible but
 * well-typed values (a bbox slightly outside the image, a count that disagrees with its array)
 * are `warning`s. Pointer strings are only built for faces/objects and for actual problems, so a
 * clean file costs one pass and almost no allocation.
 */
import type { JsonObject, JsonValue } from '../types.js';
import { isDecodedFloatBlock } from '../formats/cbor.js';
import {
  childPointer,
  forEachOperation,
  forEachResultNode,
  isKnownOperationKey,
  isPlainObject,
  normalizeOperationName,
  SIDECAR_INFO_KEY,
} from './operations.js';
import type { Problem } from '../model/inspection.js';

/** Problems kept per file; the rest are counted in one final problem. */
export const MAX_PROBLEMS = 100;

/** Collects problems up to a bound; `finish()` appends "… N more" when some were left out. */
export class ProblemList {
  readonly problems: Problem[] = [];
  private moreErrors = 0;
  private moreWarnings = 0;
  constructor(private readonly limit: number = MAX_PROBLEMS) {}

  add(pointer: string, message: string, severity: 'error' | 'warning'): void {
    if (this.problems.length < this.limit) this.problems.push({ pointer, message, severity });
    else if (severity === 'error') this.moreErrors++;
    else this.moreWarnings++;
  }
  error(pointer: string, message: string): void {
    this.add(pointer, message, 'error');
  }
  warning(pointer: string, message: string): void {
    this.add(pointer, message, 'warning');
  }
  finish(): Problem[] {
    const more = this.moreErrors + this.moreWarnings;
    if (more > 0) {
      this.problems.push({
        pointer: '',
        message: `… ${more} more problem${more === 1 ? '' : 's'} (${this.moreErrors} error${this.moreErrors === 1 ? '' : 's'}, ${this.moreWarnings} warning${this.moreWarnings === 1 ? '' : 's'}) not listed`,
        severity: this.moreErrors > 0 ? 'error' : 'warning',
      });
    }
    return this.problems;
  }
}

/** Per-file state shared by all faces of all operations. */
interface FileContext {
  list: ProblemList;
  /** Embedding length of the first face that has one, and where it was seen. */
  encodingLength: number | undefined;
  encodingPointer: string;
}

const TYPICAL_ENCODING_LENGTHS: ReadonlySet<number> = new Set([128, 512]);
const GRADES: ReadonlySet<string> = new Set(['A', 'B', 'C', 'D', 'E', 'F']);
const QUALITY_SCORES: readonly string[] = [
  'overall_score',
  'sharpness',
  'focus',
  'exposure',
  'composition',
  'action',
  'color',
  'noise',
  'contrast',
];
const BOX_FIELDS: readonly string[] = ['x', 'y', 'width', 'height'];

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function typeName(v: JsonValue | undefined): string {
  if (v === undefined) return 'missing'; // an absent key ("width must be a finite number, not missing")
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

// ---------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------

/** ISO-8601 date or date-time as Python's isoformat() writes it (`T` or space, fraction, offset). */
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(?:[Zz]|[+-](\d{2})(?::?(\d{2}))?)?)?$/;
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** True for a parseable ISO-8601 timestamp with real field values (no 2025-02-30, no 25:00). */
export function isIsoTimestamp(s: string): boolean {
  return isoFixedForm(s) ?? isIsoTimestampByPattern(s);
}

/** The same answer by the pattern alone: the reference for isoFixedForm (test/analysis-rules.test.ts). */
export function isIsoTimestampByPattern(s: string): boolean {
  const m = ISO_8601.exec(s);
  if (m === null) return false;
  const field = (i: number) => (m[i] === undefined ? -1 : Number(m[i]));
  return validIsoFields(Number(m[1]), Number(m[2]), Number(m[3]), field(4), field(5), field(6), field(7), field(8));
}

/** Real field values (-1: the field is absent): no 2025-02-30, no 25:00. */
function validIsoFields(year: number, month: number, day: number, hour: number, minute: number, second: number, offsetHour: number, offsetMinute: number): boolean {
  if (month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1]) return false;
  if (month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) return false;
  if (hour > 23 || minute > 59) return false;
  if (second > 60) return false; // 60: leap second
  if (offsetHour > 23 || offsetMinute > 59) return false;
  return true;
}

/** The ASCII digit at s[i] as a number, or -1. */
function digitAt(s: string, i: number): number {
  const d = s.charCodeAt(i) - 0x30;
  return d >= 0 && d <= 9 ? d : -1;
}

/** Two ASCII digits at s[i], s[i + 1] as a number, or -1. */
function twoDigitsAt(s: string, i: number): number {
  const a = digitAt(s, i);
  const b = digitAt(s, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

/**
 * The form Python's isoformat() writes without an offset, `YYYY-MM-DDTHH:MM:SS[.ffffff]` (`T` or
 * a space; what every sidecar's sidecar_info has twice), checked without the pattern (validate
 * asks this of every file); undefined for any other string, which the pattern decides.
 */
function isoFixedForm(s: string): boolean | undefined {
  const n = s.length;
  if (n < 19) return undefined;
  const y0 = twoDigitsAt(s, 0);
  const y1 = twoDigitsAt(s, 2);
  const month = twoDigitsAt(s, 5);
  const day = twoDigitsAt(s, 8);
  const hour = twoDigitsAt(s, 11);
  const minute = twoDigitsAt(s, 14);
  const second = twoDigitsAt(s, 17);
  const t = s.charCodeAt(10);
  if ((y0 | y1 | month | day | hour | minute | second) < 0 || s.charCodeAt(4) !== 0x2d || s.charCodeAt(7) !== 0x2d) return undefined;
  if ((t !== 0x54 && t !== 0x20) || s.charCodeAt(13) !== 0x3a || s.charCodeAt(16) !== 0x3a) return undefined;
  if (n > 19) {
    // A fraction of one or more digits and nothing after it.
    const c = s.charCodeAt(19);
    if ((c !== 0x2e && c !== 0x2c) || n === 20) return undefined;
    for (let i = 20; i < n; i++) if (digitAt(s, i) < 0) return undefined;
  }
  return validIsoFields(y0 * 100 + y1, month, day, hour, minute, second, -1, -1);
}

// ---------------------------------------------------------------------------------------------
// sidecar_info
// ---------------------------------------------------------------------------------------------

function checkString(list: ProblemList, obj: JsonObject, key: string, ptr: string, nullable: boolean): void {
  const v = obj[key];
  if (v === undefined || typeof v === 'string' || (nullable && v === null)) return;
  list.error(childPointer(ptr, key), `${key} must be a string${nullable ? ' or null' : ''}, not ${typeName(v)}`);
}

function checkBoolean(list: ProblemList, obj: JsonObject, key: string, ptr: string): void {
  const v = obj[key];
  if (v === undefined || typeof v === 'boolean') return;
  list.error(childPointer(ptr, key), `${key} must be a boolean, not ${typeName(v)}`);
}

function checkTimestamp(list: ProblemList, obj: JsonObject, key: string, ptr: string): void {
  const v = obj[key];
  if (v === undefined) return;
  if (typeof v !== 'string') list.error(childPointer(ptr, key), `${key} must be an ISO-8601 timestamp string, not ${typeName(v)}`);
  else if (!isIsoTimestamp(v)) list.error(childPointer(ptr, key), `${key} is not an ISO-8601 timestamp: "${v.slice(0, 40)}"`);
}

function checkSidecarInfo(info: JsonValue, list: ProblemList): void {
  const ptr = `/${SIDECAR_INFO_KEY}`;
  if (!isPlainObject(info)) {
    list.error(ptr, `sidecar_info must be an object, not ${typeName(info)}`);
    return;
  }
  checkString(list, info, 'operation_type', ptr, false);
  checkTimestamp(list, info, 'created_at', ptr);
  checkTimestamp(list, info, 'last_updated', ptr);
  checkString(list, info, 'last_operation', ptr, false);
  checkString(list, info, 'image_path', ptr, true);
  checkString(list, info, 'symlink_path', ptr, true);
  const link = info.symlink_info;
  if (link === undefined || link === null) return;
  const linkPtr = `${ptr}/symlink_info`;
  if (!isPlainObject(link)) {
    list.error(linkPtr, `symlink_info must be an object, not ${typeName(link)}`);
    return;
  }
  checkString(list, link, 'symlink_path', linkPtr, true);
  checkString(list, link, 'target_path', linkPtr, true);
  checkBoolean(list, link, 'is_symlink', linkPtr);
  checkBoolean(list, link, 'broken', linkPtr);
}

// ---------------------------------------------------------------------------------------------
// Faces, objects, quality
// ---------------------------------------------------------------------------------------------

function checkConfidence(list: ProblemList, obj: JsonObject, ptr: string): void {
  const v = obj.confidence;
  if (v === undefined) return;
  if (!isFiniteNumber(v)) list.error(`${ptr}/confidence`, `confidence must be a finite number, not ${typeName(v)}`);
  else if (v < 0 || v > 1) list.error(`${ptr}/confidence`, `confidence ${v} is outside [0, 1]`);
}

// Below, a value's pointer is given as its parent's pointer and its key, and made only for a
// problem: a clean file (nearly every file) builds one pointer string per face and object.

/** `parent/name` = `{x, y, width, height}` of finite numbers; `unit` ones must also lie in [0, 1] (warning). */
function checkBoxObject(list: ProblemList, box: JsonObject, parent: string, name: string, unit: boolean): void {
  for (let i = 0; i < BOX_FIELDS.length; i++) {
    const key = BOX_FIELDS[i];
    const v = box[key];
    if (!isFiniteNumber(v)) list.error(`${parent}/${name}/${key}`, `${key} must be a finite number, not ${typeName(v)}`);
    else if (unit && (v < 0 || v > 1)) list.warning(`${parent}/${name}/${key}`, `${key} ${v} is outside [0, 1]`);
  }
}

/** `parent/bbox`. Detector form: object of 0–1 floats. Unified form: `[x, y, w, h]` non-negative pixel numbers. */
function checkBbox(list: ProblemList, bbox: JsonValue, parent: string): void {
  if (isPlainObject(bbox)) {
    checkBoxObject(list, bbox, parent, 'bbox', true);
    return;
  }
  if (!Array.isArray(bbox)) {
    list.error(`${parent}/bbox`, `bbox must be an object {x, y, width, height} or an array [x, y, w, h], not ${typeName(bbox)}`);
    return;
  }
  if (bbox.length !== 4) list.error(`${parent}/bbox`, `bbox array must have 4 numbers [x, y, w, h], has ${bbox.length}`);
  for (let i = 0; i < bbox.length; i++) {
    const v = bbox[i];
    if (!isFiniteNumber(v)) list.error(`${parent}/bbox/${i}`, `bbox values must be finite numbers, not ${typeName(v)}`);
    else if (v < 0) list.warning(`${parent}/bbox/${i}`, `bbox value ${v} is negative`);
  }
}

/** `parent/name`: pixel/percent boxes of the older forms, an object or an array of finite numbers, any range. */
function checkCoordinates(list: ProblemList, coords: JsonValue, parent: string, name: string): void {
  if (isPlainObject(coords)) {
    checkBoxObject(list, coords, parent, name, false);
  } else if (Array.isArray(coords)) {
    for (let i = 0; i < coords.length; i++) {
      if (!isFiniteNumber(coords[i])) list.error(`${parent}/${name}/${i}`, `${name} values must be finite numbers, not ${typeName(coords[i])}`);
    }
  } else {
    list.error(`${parent}/${name}`, `${name} must be an object {x, y, width, height}, not ${typeName(coords)}`);
  }
}

/** `parent/landmarks`. */
function checkLandmarks(list: ProblemList, landmarks: JsonValue, parent: string): void {
  if (!Array.isArray(landmarks)) {
    list.error(`${parent}/landmarks`, `landmarks must be an array of [x, y] pairs, not ${typeName(landmarks)}`);
    return;
  }
  for (let i = 0; i < landmarks.length; i++) {
    const p = landmarks[i];
    if (!Array.isArray(p) || p.length !== 2 || !isFiniteNumber(p[0]) || !isFiniteNumber(p[1])) {
      list.error(`${parent}/landmarks/${i}`, 'each landmark must be an [x, y] pair of finite numbers');
    }
  }
}

/** `parent/key` (`encoding` or `face_encoding`). */
function checkEncoding(ctx: FileContext, enc: JsonValue, parent: string, key: string): void {
  const list = ctx.list;
  if (enc === null) return; // "no embedding" is a valid value
  if (!Array.isArray(enc)) {
    list.error(`${parent}/${key}`, `${key} must be an array of numbers or null, not ${typeName(enc)}`);
    return;
  }
  let firstBad = -1;
  let bad = 0;
  // A float block the decoder built holds finite floats only: nothing to look for (cbor.ts).
  if (!isDecodedFloatBlock(enc)) {
    for (let i = 0; i < enc.length; i++) {
      if (!isFiniteNumber(enc[i])) {
        if (firstBad < 0) firstBad = i;
        bad++;
      }
    }
  }
  if (firstBad >= 0) {
    const rest = bad > 1 ? ` (${bad} non-numeric values in total)` : '';
    list.error(`${parent}/${key}/${firstBad}`, `${key} values must be finite numbers, not ${typeName(enc[firstBad])}${rest}`);
  }
  if (ctx.encodingLength === undefined) {
    ctx.encodingLength = enc.length;
    ctx.encodingPointer = `${parent}/${key}`;
    if (!TYPICAL_ENCODING_LENGTHS.has(enc.length)) {
      list.warning(ctx.encodingPointer, `unusual ${key} length ${enc.length} (expected 128 or 512)`);
    }
  } else if (enc.length !== ctx.encodingLength) {
    list.error(`${parent}/${key}`, `${key} length ${enc.length} differs from ${ctx.encodingLength} at ${ctx.encodingPointer}`);
  }
}

function checkFace(ctx: FileContext, face: JsonValue, ptr: string): void {
  const list = ctx.list;
  if (!isPlainObject(face)) {
    list.error(ptr, `each face must be an object, not ${typeName(face)}`);
    return;
  }
  if (face.bbox !== undefined) checkBbox(list, face.bbox, ptr);
  else if (face.coordinates !== undefined) checkCoordinates(list, face.coordinates, ptr, 'coordinates');
  else list.warning(ptr, 'face has no bbox');
  checkConfidence(list, face, ptr);
  if (face.landmarks !== undefined && face.landmarks !== null) checkLandmarks(list, face.landmarks, ptr);
  if (face.encoding !== undefined) checkEncoding(ctx, face.encoding, ptr, 'encoding');
  if (face.face_encoding !== undefined) checkEncoding(ctx, face.face_encoding, ptr, 'face_encoding');
}

function checkObject(list: ProblemList, obj: JsonValue, ptr: string, requireClass: boolean): void {
  if (!isPlainObject(obj)) {
    list.error(ptr, `each object must be an object, not ${typeName(obj)}`);
    return;
  }
  const name = obj.class_name;
  if (typeof name !== 'string' && (name !== undefined || requireClass)) {
    list.error(`${ptr}/class_name`, `class_name must be a string, not ${name === undefined ? 'missing' : typeName(name)}`);
  }
  const id = obj.class_id;
  if (!(typeof id === 'number' && Number.isInteger(id) && id >= 0) && (id !== undefined || requireClass)) {
    list.error(`${ptr}/class_id`, `class_id must be a non-negative integer, not ${id === undefined ? 'missing' : typeof id === 'number' ? id : typeName(id)}`);
  }
  checkConfidence(list, obj, ptr);
  if (obj.bbox !== undefined) checkBbox(list, obj.bbox, ptr);
  if (obj.coordinates_pixels !== undefined) checkCoordinates(list, obj.coordinates_pixels, ptr, 'coordinates_pixels');
  if (obj.coordinates_percent !== undefined) checkCoordinates(list, obj.coordinates_percent, ptr, 'coordinates_percent');
  if (obj.crop_area_percent !== undefined) checkCoordinates(list, obj.crop_area_percent, ptr, 'crop_area_percent');
}

/**
 * A declared count (`faces_found`, `objects_found`, `face_count`) of `holder` — the node at `ptr`,
 * or its `sub` object (`metadata`) — must match its array (warning).
 */
function checkCount(list: ProblemList, holder: JsonObject, key: string, ptr: string, sub: string | null, actual: number, arrayName: string): void {
  const v = holder[key];
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    list.warning(childPointer(sub === null ? ptr : `${ptr}/${sub}`, key), `${key} must be a non-negative integer, not ${typeName(v)}`);
  } else if (v !== actual) {
    list.warning(childPointer(sub === null ? ptr : `${ptr}/${sub}`, key), `${key} is ${v} but ${arrayName} has ${actual}`);
  }
}

/** `parent/quality`. */
function checkQuality(list: ProblemList, quality: JsonValue, parent: string): void {
  if (!isPlainObject(quality)) {
    list.error(`${parent}/quality`, `quality must be an object, not ${typeName(quality)}`);
    return;
  }
  for (let i = 0; i < QUALITY_SCORES.length; i++) {
    const key = QUALITY_SCORES[i];
    const v = quality[key];
    if (v !== undefined && !isFiniteNumber(v)) list.error(`${parent}/quality/${key}`, `${key} must be a finite number, not ${typeName(v)}`);
  }
  const grade = quality.grade;
  if (grade !== undefined && !(typeof grade === 'string' && GRADES.has(grade))) {
    list.error(`${parent}/quality/grade`, `grade must be one of A, B, C, D, E, F, not ${typeof grade === 'string' ? `"${grade.slice(0, 20)}"` : typeName(grade)}`);
  }
  const recs = quality.recommendations;
  if (recs !== undefined && recs !== null) {
    if (!Array.isArray(recs)) list.error(`${parent}/quality/recommendations`, `recommendations must be an array of strings, not ${typeName(recs)}`);
    else {
      for (let i = 0; i < recs.length; i++) {
        if (typeof recs[i] !== 'string') list.error(`${parent}/quality/recommendations/${i}`, `recommendations must be strings, not ${typeName(recs[i])}`);
      }
    }
  }
}

/** One result object of an operation (the value itself, a backend under it, or a data wrapper). */
function checkResultNode(ctx: FileContext, node: JsonObject, ptr: string, operation: string): void {
  const list = ctx.list;
  const success = node.success;
  if (success !== undefined && typeof success !== 'boolean') {
    list.error(`${ptr}/success`, `success must be a boolean, not ${typeName(success)}`);
  } else if (success === false) {
    const err = node.error;
    if (err === undefined || err === null || err === '') list.warning(`${ptr}/success`, 'success is false but no error is given');
  }
  const meta = isPlainObject(node.metadata) ? node.metadata : null;

  const faces = node.faces;
  if (faces !== undefined) {
    const facesPtr = `${ptr}/faces`;
    if (!Array.isArray(faces)) list.error(facesPtr, `faces must be an array, not ${typeName(faces)}`);
    else {
      for (let i = 0; i < faces.length; i++) checkFace(ctx, faces[i], `${facesPtr}/${i}`);
      if (meta !== null) checkCount(list, meta, 'faces_found', ptr, 'metadata', faces.length, 'faces');
      checkCount(list, node, 'faces_found', ptr, null, faces.length, 'faces');
      checkCount(list, node, 'face_count', ptr, null, faces.length, 'faces');
    }
  }

  const objects = node.objects;
  if (objects !== undefined) {
    const objectsPtr = `${ptr}/objects`;
    if (!Array.isArray(objects)) list.error(objectsPtr, `objects must be an array, not ${typeName(objects)}`);
    else {
      const requireClass = operation === 'yolov8';
      for (let i = 0; i < objects.length; i++) checkObject(list, objects[i], `${objectsPtr}/${i}`, requireClass);
      if (meta !== null) checkCount(list, meta, 'objects_found', ptr, 'metadata', objects.length, 'objects');
      checkCount(list, node, 'objects_found', ptr, null, objects.length, 'objects');
    }
  }

  if (node.quality !== undefined) checkQuality(list, node.quality, ptr);
}

export interface RuleOptions {
  /** Check only this operation (any spelling); its absence is an error. */
  operationType?: string;
}

/**
 * Check one decoded sidecar against the built-in rules. Never throws; at most MAX_PROBLEMS
 * problems plus one "… N more" entry.
 */
export function checkSidecarRules(data: JsonObject, opts: RuleOptions = {}): Problem[] {
  const list = new ProblemList();
  if (!isPlainObject(data)) {
    list.error('', `a sidecar must be a JSON object, not ${typeName(data)}`);
    return list.finish();
  }
  const ctx: FileContext = { list, encodingLength: undefined, encodingPointer: '' };
  const only = opts.operationType ? normalizeOperationName(opts.operationType) : null;
  let knownSeen = false;
  let onlySeen = false;

  const info = data[SIDECAR_INFO_KEY];
  if (info !== undefined) checkSidecarInfo(info, list);

  forEachOperation(data, (op) => {
    if (!isKnownOperationKey(op.name)) return; // other keys are the user's own data
    knownSeen = true;
    if (only !== null && op.name !== only) return;
    onlySeen = true;
    if (!isPlainObject(op.value)) {
      list.error(op.pointer, `${op.key || op.name} must be an object, not ${typeName(op.value)}`);
      return;
    }
    forEachResultNode(op.value, op.pointer, (node, ptr) => checkResultNode(ctx, node, ptr, op.name));
  });

  if (!knownSeen && info === undefined) list.warning('', 'no known operation');
  if (only !== null && !onlySeen) list.error('', `operation ${only} is not present`);
  return list.finish();
}
