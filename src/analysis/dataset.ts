/**
 * The rows of export's dataset formats, read from one decoded sidecar (docs/EXPORT.md): boxes
 * converted to COCO's pixels or YOLO's normalised centres, and face embeddings as float32.
 * Runs in the thread that decoded the file; never throws on odd data: what it cannot read with
 * certainty is a problem (`<pointer>: <reason>`), never a guess.
 *
 * Box conventions, by list and key (each one documented in docs/EXPORT.md):
 *   faces[i].bbox {x,y,width,height}           top-left x, y, width, height, 0–1 of the image (detector form)
 *   faces[i].bbox [x,y,w,h]                    top-left, integer pixels (unified form; a float in it: unknown)
 *   faces[i].coordinates {x,y,width,height}    top-left, pixels (the oldest Face_detector form)
 *   objects[i].coordinates_percent {…}         top-left, percent of the image (yolov8: the unrounded box)
 *   objects[i].coordinates_pixels {…}          top-left, pixels (yolov8: the same box rounded)
 *   objects[i].xyxy / xyxyn [x1,y1,x2,y2]      corners, pixels / 0–1 (as Ultralytics' Boxes names them)
 * An object's `xywh` / `xywhn` (centre in Ultralytics, top-left in COCO) or `bbox` says no convention
 * by its name: a finding.
 * The first key present decides. Each conversion is one multiplication or division per coordinate
 * in double precision; nothing is rounded to pixels.
 */
import type { JsonObject, JsonValue } from '../types.js';
import type { DatasetBox, DatasetRequest, DatasetRows } from '../model/dataset.js';
import { notesOf, numberJson, validNote, isFloatValue } from '../formats/numbers.js';
import { typedJsonText } from '../formats/json.js';
import { FloatBlockRef, isDecodedFloatBlock } from '../formats/cbor.js';
import { childPointer, forEachDecidingOperation, forEachResultNode, isPlainObject } from './operations.js';
import { recordedImageName } from './image-identity.js';
import { DEFAULT_EMBEDDING_DIM } from '../vocabulary.js';


/** How far a normalised box may pass the image's edge from float rounding alone (clamped to it). */
const NORMALISED_SLACK = 1e-9;
/** How far a pixel box may pass the image's edge: the rounding of two integers (clamped to it). */
const PIXEL_SLACK = 1;

/** A box, top-left corner and size, in pixels or in 0–1 of the image. */
interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
  pixels: boolean;
  /** What the image's width (height) is in the box's unit when it is not pixels: 1, or 100 for percent (one rounding per coordinate). */
  whole?: number;
}

type Size = { width: number; height: number } | null;

const isNum = (v: JsonValue | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

/** `{x, y, width, height}` with four finite numbers, or null. */
function xywhObject(v: JsonValue | undefined): [number, number, number, number] | null {
  if (!isPlainObject(v)) return null;
  const { x, y, width, height } = v;
  return isNum(x) && isNum(y) && isNum(width) && isNum(height) ? [x, y, width, height] : null;
}

/** Four finite numbers, or null. */
function quad(v: JsonValue | undefined): [number, number, number, number] | null {
  return Array.isArray(v) && v.length === 4 && v.every(isNum) ? (v as [number, number, number, number]) : null;
}

/** Every element an int by the number model (`12`, not `12.0`): what the unified form writes. */
function allInts(a: readonly JsonValue[]): boolean {
  const notes = notesOf(a);
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as number;
    if (isFloatValue(v, validNote(notes, i, v))) return false;
  }
  return true;
}

const FACE_KEYS = 'bbox ({x,y,width,height} 0–1, or [x,y,w,h] integer pixels) or coordinates ({x,y,width,height} pixels)';

/** A face's box, or why it has none this reader can place. */
function faceBox(face: JsonObject): Box | string {
  if (face.bbox !== undefined) {
    const b = face.bbox;
    const o = xywhObject(b);
    if (o) return { x: o[0], y: o[1], w: o[2], h: o[3], pixels: false };
    const a = quad(b);
    if (a) {
      if (!allInts(a)) return `bbox ${typedJsonText(b)}: an array bbox holds integer pixels (the unified form); with a fraction in it, pixels or 0–1 cannot be told`;
      return { x: a[0], y: a[1], w: a[2], h: a[3], pixels: true };
    }
    return `bbox ${short(b)} is neither {x,y,width,height} nor [x,y,w,h] of numbers`;
  }
  if (face.coordinates !== undefined) {
    const o = xywhObject(face.coordinates);
    if (o) return { x: o[0], y: o[1], w: o[2], h: o[3], pixels: true };
    return `coordinates ${short(face.coordinates)} is not {x,y,width,height} of numbers`;
  }
  return `no box: expected ${FACE_KEYS}`;
}

/** Object box keys in the order they decide, with their convention. */
const OBJECT_KEYS: ReadonlyArray<readonly [string, 'percent' | 'pixels' | 'xyxy' | 'xyxyn']> = [
  ['coordinates_percent', 'percent'],
  ['coordinates_pixels', 'pixels'],
  ['xyxy', 'xyxy'],
  ['xyxyn', 'xyxyn'],
];

/** Keys whose convention the name does not settle: a box under them is a finding, never read. */
const AMBIGUOUS_OBJECT_KEYS: ReadonlyArray<readonly [string, string]> = [
  ['xywh', 'its centre (Ultralytics) or its top-left corner (COCO) cannot be told'],
  ['xywhn', 'its centre (Ultralytics) or its top-left corner cannot be told'],
  ['bbox', 'an object\'s bbox has no documented convention: corners or size, pixels or 0–1 cannot be told'],
];

function objectBox(obj: JsonObject): Box | string {
  for (const [key, kind] of OBJECT_KEYS) {
    const v = obj[key];
    if (v === undefined) continue;
    if (kind === 'percent' || kind === 'pixels') {
      const o = xywhObject(v);
      if (!o) return `${key} ${short(v)} is not {x,y,width,height} of numbers`;
      return kind === 'percent' ? { x: o[0], y: o[1], w: o[2], h: o[3], pixels: false, whole: 100 } : { x: o[0], y: o[1], w: o[2], h: o[3], pixels: true };
    }
    const a = quad(v);
    if (!a) return `${key} ${short(v)} is not an array of 4 numbers`;
    return { x: a[0], y: a[1], w: a[2] - a[0], h: a[3] - a[1], pixels: kind === 'xyxy' };
  }
  for (const [key, why] of AMBIGUOUS_OBJECT_KEYS) if (obj[key] !== undefined) return `${key} ${short(obj[key])}: ${why}`;
  return `no box: expected one of ${OBJECT_KEYS.map((k) => k[0]).join(', ')}`;
}

/** A value for a message: its typed JSON, cut short. */
function short(v: JsonValue): string {
  const t = (v as unknown) instanceof FloatBlockRef ? `[${(v as unknown as FloatBlockRef).length} floats]` : typedJsonText(v);
  return t.length > 80 ? `${t.slice(0, 77)}...` : t;
}

const num = (n: number): string => (n === 0 ? '0' : String(n));

/**
 * The box in the output's convention, or why it cannot be: COCO `"bbox":[x,y,w,h],"area":a` in
 * pixels, YOLO `cx cy w h` in 0–1. In range means inside the image up to the slack of its
 * convention (then clamped to the edge); an empty box or one beyond that is a problem.
 */
function place(b: Box, size: Size, format: 'coco' | 'yolo'): string | { problem: string } {
  const whole = b.whole ?? 1;
  const what = b.pixels ? 'pixels' : whole === 100 ? 'percent' : '0–1';
  if (!(b.w > 0 && b.h > 0)) return { problem: `empty box (width ${b.w}, height ${b.h}, ${what})` };
  const slack = b.pixels ? PIXEL_SLACK : NORMALISED_SLACK * whole;
  const limW = b.pixels ? (size ? size.width : Infinity) : whole;
  const limH = b.pixels ? (size ? size.height : Infinity) : whole;
  let { x, y, w, h } = b;
  if (x < -slack || y < -slack || x + w > limW + slack || y + h > limH + slack) {
    const frame = b.pixels ? (size ? `a ${size.width}×${size.height} image` : 'the image') : whole === 100 ? 'the image (0–100)' : 'the image (0–1)';
    return { problem: `box [${num(x)}, ${num(y)}, ${num(w)}, ${num(h)}] (${what}, top-left and size) lies outside ${frame}` };
  }
  // Clamped only when it passes an edge: a box inside keeps its own numbers.
  if (x < 0 || y < 0 || x + w > limW || y + h > limH) {
    const x0 = Math.max(0, x);
    const y0 = Math.max(0, y);
    w = Math.min(limW, x + w) - x0;
    h = Math.min(limH, y + h) - y0;
    x = x0;
    y = y0;
    // A box that only touched the image from outside (within the slack) has nothing left inside it.
    if (!(w > 0 && h > 0)) return { problem: `box [${num(b.x)}, ${num(b.y)}, ${num(b.w)}, ${num(b.h)}] (${what}) lies on the image's edge: nothing of it is inside` };
  }
  if (format === 'coco') {
    if (!b.pixels) {
      if (!size) return { problem: `the sidecar gives no image size: a ${what} box cannot be given in pixels` };
      // Multiplied first, then divided: one rounding per coordinate (7 % of 6000 px is 420).
      x = (x * size.width) / whole;
      w = (w * size.width) / whole;
      y = (y * size.height) / whole;
      h = (h * size.height) / whole;
    }
    const area = w * h;
    if (!(w > 0 && h > 0 && area > 0 && Number.isFinite(area))) return unwritable(b, what);
    return `"bbox":[${num(x)},${num(y)},${num(w)},${num(h)}],"area":${num(area)}`;
  }
  if (b.pixels) {
    if (!size) return { problem: 'the sidecar gives no image size: a pixel box cannot be normalised' };
    x /= size.width;
    w /= size.width;
    y /= size.height;
    h /= size.height;
  } else if (whole !== 1) {
    x /= whole;
    w /= whole;
    y /= whole;
    h /= whole;
  }
  if (!(w > 0 && h > 0 && Number.isFinite(x + w / 2) && Number.isFinite(y + h / 2))) return unwritable(b, what);
  return `${num(x + w / 2)} ${num(y + h / 2)} ${num(w)} ${num(h)}`;
}

/** A box whose size comes out as 0 (or its area as Infinity) in the output's unit: a double cannot hold it there. */
function unwritable(b: Box, what: string): { problem: string } {
  return { problem: `box [${num(b.x)}, ${num(b.y)}, ${num(b.w)}, ${num(b.h)}] (${what}) cannot be written: its size rounds to 0 or its area overflows` };
}

/** A result nested deeper than results are looked for: a finding (the image is left out), never dropped silently. */
function tooDeep(out: { problems: string[] }): (pointer: string) => void {
  return (pointer) => out.problems.push(`${pointer}: a result nested more than three levels below its operation is not read`);
}

/** A scalar member as typed JSON (`0.9`, `1.0`), or `null` for anything but a finite number. */
function typedMember(container: JsonObject, key: string): string {
  const v = container[key];
  return isNum(v) ? numberJson(v, validNote(notesOf(container), key, v)) : 'null';
}

/** Sizes a result node gives (`metadata.image_width`, `image_width`, `metadata.image_dimensions`): [pointer, width, height]. */
function nodeSizes(node: JsonObject, pointer: string, out: [string, JsonValue | undefined, JsonValue | undefined][]): void {
  const meta = isPlainObject(node.metadata) ? node.metadata : null;
  if (meta && (meta.image_width !== undefined || meta.image_height !== undefined)) out.push([`${pointer}/metadata`, meta.image_width, meta.image_height]);
  if (node.image_width !== undefined || node.image_height !== undefined) out.push([pointer, node.image_width, node.image_height]);
  const dims = meta && isPlainObject(meta.image_dimensions) ? meta.image_dimensions : null;
  if (dims) out.push([`${pointer}/metadata/image_dimensions`, dims.width, dims.height]);
}

const isDimension = (v: JsonValue | undefined): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/** The image size every result agrees on (null: none gives one); disagreement or a bad size is a problem. */
function imageSize(data: JsonObject, problems: string[]): Size {
  const seen: [string, JsonValue | undefined, JsonValue | undefined][] = [];
  // A failed result says nothing about the image (its size may be 0×0 or null).
  forEachDecidingOperation(data, (op) => forEachResultNode(op.value, op.pointer, (node, pointer) => node.success !== false && nodeSizes(node, pointer, seen)));
  let size: Size = null;
  let at = '';
  for (const [pointer, w, h] of seen) {
    if (!isDimension(w) || !isDimension(h)) {
      problems.push(`${pointer}: image size ${short(w ?? null)}×${short(h ?? null)} is not two positive integers`);
      return null;
    }
    if (size === null) {
      size = { width: w, height: h };
      at = pointer;
    } else if (size.width !== w || size.height !== h) {
      problems.push(`${pointer}: image size ${w}×${h} differs from ${size.width}×${size.height} at ${at || '/'}`);
      return null;
    }
  }
  return size;
}

/** The list under `key` of a result node: its items' count, or -1 when it has none. */
const listLength = (v: JsonValue | undefined): number => (Array.isArray(v) ? v.length : -1);

/** A successful result's `objects` or `faces` that is there but not a list (null counts as none): its results cannot be read with certainty. */
function notAList(node: JsonObject, list: 'objects' | 'faces', at: string, problems: string[]): boolean {
  const v = node[list];
  if (v === undefined || v === null || Array.isArray(v)) return false;
  problems.push(`${at}: ${list} is ${short(v)}, not a list`);
  return true;
}

/** The dataset rows of one sidecar's data; `namesImage`: read the image it records (InspectItem.namesImage). */
export function extractDataset(data: JsonObject, req: DatasetRequest, namesImage: boolean): DatasetRows {
  const out: DatasetRows = {
    namedImage: namesImage ? recordedImageName(data) : null,
    width: null,
    height: null,
    detected: false,
    boxes: [],
    rows: [],
    vectors: null,
    noEncoding: 0,
    otherDims: {},
    problems: [],
  };
  if (req.format === 'embeddings') embeddings(data, req, out);
  else boxes(data, req, req.format, out);
  return out;
}

function sourceJson(operation: string, backend: string | null, list: string, index: number): string {
  return `{"operation":${JSON.stringify(operation)},"backend":${JSON.stringify(backend)},"list":"${list}","index":${index}}`;
}

function boxes(data: JsonObject, req: DatasetRequest, format: 'coco' | 'yolo', out: DatasetRows): void {
  const size = imageSize(data, out.problems);
  if (size) {
    out.width = size.width;
    out.height = size.height;
  }
  const lists: ('objects' | 'faces')[] = req.faces ? ['objects', 'faces'] : ['objects'];
  forEachDecidingOperation(data, (op) => {
    if (req.operation !== undefined && op.name !== req.operation) return;
    forEachResultNode(op.value, op.pointer, (node, pointer, backend) => {
      for (const list of lists) {
        const items = node[list];
        const n = listLength(items);
        const at = childPointer(pointer, list);
        if (n < 0) {
          if (node.success !== false) notAList(node, list, at, out.problems);
          continue;
        }
        // A failed result's list says nothing about the image; one that holds boxes contradicts itself.
        if (node.success === false) {
          if (n > 0) out.problems.push(`${at}: a failed result (success: false) holds ${n} ${list}`);
          continue;
        }
        out.detected = true;
        for (let i = 0; i < n; i++) {
          const item = (items as JsonValue[])[i];
          const where = `${at}/${i}`;
          if (!isPlainObject(item)) {
            out.problems.push(`${where}: not an object`);
            continue;
          }
          let category: string;
          if (list === 'faces') category = 'face';
          else if (typeof item.class_name === 'string' && item.class_name !== '') category = item.class_name;
          else {
            out.problems.push(`${where}: no class_name`);
            continue;
          }
          const box = list === 'faces' ? faceBox(item) : objectBox(item);
          const placed = typeof box === 'string' ? { problem: box } : place(box, size, format);
          if (typeof placed !== 'string') {
            out.problems.push(`${where}: ${placed.problem}`);
            continue;
          }
          out.boxes.push({ category, box: placed, score: typedMember(item, 'confidence'), source: sourceJson(op.name, backend, list, i) } satisfies DatasetBox);
        }
      }
    }, tooDeep(out));
  });
}

function embeddings(data: JsonObject, req: DatasetRequest, out: DatasetRows): void {
  const dim = req.dim ?? DEFAULT_EMBEDDING_DIM;
  const found: { enc: readonly JsonValue[] | FloatBlockRef; where: string; row: string }[] = [];
  forEachDecidingOperation(data, (op) => {
    if (req.operation !== undefined && op.name !== req.operation) return;
    forEachResultNode(op.value, op.pointer, (node, pointer, backend) => {
      const faces = node.faces;
      const n = listLength(faces);
      const at = childPointer(pointer, 'faces');
      if (n < 0) {
        if (node.success !== false) notAList(node, 'faces', at, out.problems);
        return;
      }
      if (node.success === false) {
        if (n > 0) out.problems.push(`${at}: a failed result (success: false) holds ${n} faces`);
        return;
      }
      // Each row's text up to its face index, made once per result.
      const head = `"operation":${JSON.stringify(op.name)},"backend":${JSON.stringify(backend)},"face":`;
      for (let i = 0; i < n; i++) {
        const face = (faces as JsonValue[])[i];
        if (!isPlainObject(face)) {
          out.problems.push(`${at}/${i}: not an object`);
          continue;
        }
        const key = face.encoding !== undefined ? 'encoding' : 'face_encoding';
        // A bin file's encoding may come as a FloatBlockRef (formats/cbor.ts withFloatBlocks 'vectors').
        const enc = face[key] as JsonValue | FloatBlockRef | undefined;
        if (enc === undefined || enc === null || ((Array.isArray(enc) || enc instanceof FloatBlockRef) && enc.length === 0)) {
          out.noEncoding++;
          continue;
        }
        const where = `${at}/${i}/${key}`;
        if (!Array.isArray(enc) && !(enc instanceof FloatBlockRef)) {
          out.problems.push(`${where}: not an array`);
          continue;
        }
        if (enc.length !== dim) {
          out.otherDims[enc.length] = (out.otherDims[enc.length] ?? 0) + 1;
          continue;
        }
        const box = face.bbox !== undefined ? face.bbox : face.coordinates;
        found.push({ enc, where, row: `${head}${i},"bbox":${box === undefined ? 'null' : boxJson(box)},"confidence":${typedMember(face, 'confidence')}` });
      }
    }, tooDeep(out));
  });
  if (found.length === 0) return;
  // Room for the sidecar's vectors (vectorsOf); a face that fails leaves the rest packed.
  const all = vectorsOf(found.length * dim);
  let n = 0;
  for (const f of found) {
    const bad = toFloat32(f.enc, all, n * dim, dim);
    if (bad !== null) {
      out.problems.push(`${f.where}: ${bad}`);
      continue;
    }
    out.rows.push(f.row);
    n++;
  }
  if (n > 0) out.vectors = n === found.length ? all : all.slice(0, n * dim);
}

/**
 * Room for a sidecar's vectors, carved from 1 MiB chunks, never reused: a typed array of its own
 * costs an ArrayBuffer's backing store each, which was most of the tape walk's own time (export's
 * embeddings, profiled: about 20 ms of a worker's 1.3 s on the bench library). A small view left
 * alive keeps its chunk alive (the inline engine, until the entry is written).
 */
let chunk = new Float32Array(0);
let chunkUsed = 0;
const CHUNK_FLOATS = 1 << 18;

/**
 * `n` zeroed float32 for one sidecar's vectors: a view into a chunk no other view shares bytes with
 * (a chunk is never handed out twice: it lives while any of its views does). Large ones get their own.
 */
export function vectorsOf(n: number): Float32Array {
  if (n > CHUNK_FLOATS >>> 2) return new Float32Array(n);
  if (chunkUsed + n > chunk.length) {
    chunk = new Float32Array(CHUNK_FLOATS);
    chunkUsed = 0;
  }
  const v = chunk.subarray(chunkUsed, chunkUsed + n);
  chunkUsed += n;
  return v;
}

/** Where a FloatBlockRef's doubles are read to (kept for the last length: its bytes and its view). */
let scratch = new Float64Array(DEFAULT_EMBEDDING_DIM);
let scratchBytes = new Uint8Array(scratch.buffer);

/** The index (from `at`) of the first non-finite value of `v[at .. at + n)`, or -1. */
function firstNonFinite(v: Float32Array, at: number, n: number): number {
  for (let k = 0; k < n; k++) {
    const x = v[at + k];
    if (x - x !== 0) return k;
  }
  return -1;
}

/**
 * One encoding into `v[at .. at + dim)` as float32 (round to nearest), or why not: an element that
 * is not a number, or a double past float32's range (Infinity there: not the value the sidecar
 * holds). A FloatBlockRef's bytes are copied once into a kept scratch, never through an array of doubles.
 */
function toFloat32(enc: readonly JsonValue[] | FloatBlockRef, v: Float32Array, at: number, dim: number): string | null {
  if (enc instanceof FloatBlockRef) {
    if (scratch.length !== dim) {
      scratch = new Float64Array(dim);
      scratchBytes = new Uint8Array(scratch.buffer);
    }
    const b = enc.bytes;
    if (Buffer.isBuffer(b)) b.copy(scratchBytes, 0, enc.offset, enc.offset + 8 * dim);
    else scratchBytes.set(b.subarray(enc.offset, enc.offset + 8 * dim));
    // float64 → float32 in one native call.
    v.set(scratch, at);
  } else {
    if (!isDecodedFloatBlock(enc)) {
      for (let k = 0; k < dim; k++) if (typeof enc[k] !== 'number') return `element ${k} is ${short(enc[k])}, not a number`;
    }
    v.set(enc as ArrayLike<number>, at);
  }
  // The decoders refuse NaN and Infinity: a non-finite float32 is a double past its range.
  const k = firstNonFinite(v, at, dim);
  return k < 0 ? null : `element ${k} is beyond float32's range (±3.4e38)`;
}

/** A stored box as typed JSON: the detector form's `{x, y, width, height}` written directly, anything else by the encoder. */
function boxJson(v: JsonValue): string {
  if (isPlainObject(v)) {
    const keys = Object.keys(v);
    const { x, y, width, height } = v;
    if (keys.length === 4 && keys[0] === 'x' && keys[1] === 'y' && keys[2] === 'width' && keys[3] === 'height' && isNum(x) && isNum(y) && isNum(width) && isNum(height)) {
      const notes = notesOf(v);
      const t = (key: string, n: number) => numberJson(n, notes === undefined ? undefined : validNote(notes, key, n));
      return `{"x":${t('x', x)},"y":${t('y', y)},"width":${t('width', width)},"height":${t('height', height)}}`;
    }
  }
  return typedJsonText(v);
}
