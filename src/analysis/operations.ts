/**
 * Operation keys and the shapes operations are stored in (SHAPES.md).
 *
 * A sidecar holds one key per operation (`face_detection`, `yolov8`, ...) plus `sidecar_info`.
 * Older files use detector keys (`Face_detector`), the earlier Rust tool wrote enum spellings
 * (`FaceDetection`) or a flat payload next to `sidecar_info.operation_type`, and some files wrap
 * everything as `{sidecar_info, data}`. The walkers here hide those differences from the summary
 * and the rules, so both see the same (operation, payload, JSON pointer) triples.
 */
import type { JsonObject, JsonValue } from '../types.js';
import { REPORT_FILE_NAMES } from '../discovery/extensions.js';
import { CONFIG_FILE_NAME } from '../discovery/config.js';
import { carryNote } from '../formats/numbers.js';
import { noteKeyOrder, orderedKeys } from '../formats/key-order.js';

/** Operation keys the pipeline writes, in snake_case. */
export const KNOWN_OPERATIONS: readonly string[] = [
  'face_detection',
  'object_detection',
  'ball_detection',
  'quality_assessment',
  'game_detection',
  'yolov8',
  'unified',
  'pose_detection',
];
const KNOWN_SET: ReadonlySet<string> = new Set(KNOWN_OPERATIONS);

/** snake_cased legacy spellings → operation key (detector keys; `YoloV8` → `yolo_v8`). */
const ALIASES: ReadonlyMap<string, string> = new Map([
  ['face_detector', 'face_detection'],
  ['object_detector', 'object_detection'],
  ['ball_detector', 'ball_detection'],
  ['quality_assessor', 'quality_assessment'],
  ['game_detector', 'game_detection'],
  ['pose_detector', 'pose_detection'],
  ['yolo_v8', 'yolov8'],
]);

export const SIDECAR_INFO_KEY = 'sidecar_info';

/** Normalised names repeat across millions of files: cache them, bounded so garbage keys cannot grow it. */
const NAME_CACHE = new Map<string, string>();
const NAME_CACHE_LIMIT = 4096;

function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}
function isLowerOrDigit(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
}

/** `FaceDetection` → `face_detection`, `HTTPServer` → `http_server`, `Face detector` → `face_detector`. */
function toSnakeCase(key: string): string {
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 45 /* - */ || c === 32 /* space */) {
      if (out.length > 0 && !out.endsWith('_')) out += '_';
      continue;
    }
    if (isUpper(c)) {
      const prev = i > 0 ? key.charCodeAt(i - 1) : 0;
      const next = i + 1 < key.length ? key.charCodeAt(i + 1) : 0;
      // A word starts at an upper-case letter after a lower-case letter or digit,
      // or at the last capital of an acronym followed by a lower-case letter.
      const startsWord = isLowerOrDigit(prev) || (isUpper(prev) && next >= 97 && next <= 122);
      if (startsWord && out.length > 0 && !out.endsWith('_')) out += '_';
      out += String.fromCharCode(c + 32);
    } else {
      out += key[i];
    }
  }
  return out;
}

/** The snake_case operation name for a key: known keys as they are, legacy aliases mapped, others snake_cased. */
export function normalizeOperationName(key: string): string {
  if (KNOWN_SET.has(key)) return key;
  const cached = NAME_CACHE.get(key);
  if (cached !== undefined) return cached;
  const snake = toSnakeCase(key);
  const name = ALIASES.get(snake) ?? snake;
  if (NAME_CACHE.size >= NAME_CACHE_LIMIT) NAME_CACHE.clear();
  NAME_CACHE.set(key, name);
  return name;
}

/** True for the known operation keys and every spelling of them (`Face_detector`, `FaceDetection`). */
export function isKnownOperationKey(key: string): boolean {
  return KNOWN_SET.has(key) || KNOWN_SET.has(normalizeOperationName(key));
}

export function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Top-level keys except `sidecar_info`, in insertion order (not normalised). */
export function operationKeysOf(data: JsonObject): string[] {
  const keys = Object.keys(data);
  const at = keys.indexOf(SIDECAR_INFO_KEY);
  if (at >= 0) keys.splice(at, 1);
  return keys;
}

/** Directory-level report content: `games` array at the top level or under a `data` wrapper. */
export function hasReportContent(data: JsonObject): boolean {
  if (Array.isArray(data.games)) return true;
  const inner = data.data;
  return isPlainObject(inner) && Array.isArray(inner.games);
}

const REPORT_STEMS: ReadonlySet<string> = new Set(REPORT_FILE_NAMES.map((n) => n.slice(0, n.lastIndexOf('.'))));
const SIDECAR_LIKE_EXTS: ReadonlySet<string> = new Set(['json', 'bin', 'rkyv']);

/** True when the file name (a bare name or a path) is one of the report names, in any sidecar extension. */
export function hasReportName(fileName: string): boolean {
  const slash = Math.max(fileName.lastIndexOf('/'), fileName.lastIndexOf('\\'));
  const name = (slash >= 0 ? fileName.slice(slash + 1) : fileName).toLowerCase();
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return false;
  return REPORT_STEMS.has(name.slice(0, dot)) && SIDECAR_LIKE_EXTS.has(name.slice(dot + 1));
}

/**
 * A name reads never take for an image's sidecar: a folder report's (any sidecar extension, any
 * case) or the folder's configuration file. Saves and moves give such an image a name-ext file.
 */
export function isReservedSidecarName(name: string): boolean {
  return name === CONFIG_FILE_NAME || hasReportName(name);
}

/**
 * A directory-level report (SHAPES.md): never a sidecar of an image, never an orphan.
 * By content (`games` array at the top or under `data`) or by name (`game_detection.json`,
 * `game_detection_report.json`, also as `.bin`/`.rkyv`, case-insensitive).
 */
export function looksLikeReport(data: JsonObject, fileName: string): boolean {
  return hasReportName(fileName) || (isPlainObject(data) && hasReportContent(data));
}

/**
 * True when the object has a `sidecar_info` object or any known operation key (any spelling).
 * Report content (`games` arrays) is never sidecar-shaped, even inside a `{sidecar_info, data}`
 * wrapper: treating a report as a sidecar could get it deleted as an orphan.
 */
export function looksLikeSidecar(data: JsonObject): boolean {
  if (!isPlainObject(data) || hasReportContent(data)) return false;
  if (isPlainObject(data[SIDECAR_INFO_KEY])) return true;
  const keys = Object.keys(data);
  for (let i = 0; i < keys.length; i++) if (isKnownOperationKey(keys[i])) return true;
  return false;
}

/** What a decoded file is (docs/PAIRING.md §7): a directory report, a sidecar of ours, or another tool's file. */
export type FileShape = 'sidecar' | 'report' | 'other';

/** The one shape rule (the scan's inspections, reads and saves): a report by name or content, else a sidecar when sidecar-shaped. */
export function shapeOf(data: JsonObject, fileName: string): FileShape {
  return looksLikeReport(data, fileName) ? 'report' : looksLikeSidecar(data) ? 'sidecar' : 'other';
}

/**
 * Another tool's file in a sidecar's name (Google Photos Takeout's `IMG_1.jpg.json`, a report, `{}`):
 * it decodes but is not sidecar-shaped. Never an image's sidecar: reads pass over it, saves never
 * write it, convert, resolve and cleanup never touch it (docs/PAIRING.md §7).
 */
export function isForeignData(data: JsonObject, fileName: string): boolean {
  return shapeOf(data, fileName) !== 'sidecar';
}

// ---------------------------------------------------------------------------------------------
// Walking operations and their result nodes
// ---------------------------------------------------------------------------------------------

/** RFC 6901: `~` → `~0`, `/` → `~1`. Fast path for the usual keys that need neither. */
export function escapePointerToken(token: string): string {
  if (token.indexOf('~') < 0 && token.indexOf('/') < 0) return token;
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

export function childPointer(parent: string, key: string | number): string {
  return `${parent}/${typeof key === 'number' ? key : escapePointerToken(key)}`;
}

/** How an operation was found in the file. */
export type OperationForm =
  | 'key' // `{face_detection: {...}}`
  | 'wrapped' // `{sidecar_info, data: {...}}`: data is the payload of sidecar_info.operation_type
  | 'flat'; // the earlier tool's `{faces: [], sidecar_info: {operation_type}}`: the root is the payload

export interface OperationEntry {
  /** Normalised snake_case name. */
  name: string;
  /** The key in the file (`Face_detector`), or '' for the flat form. */
  key: string;
  /** The stored value. For the flat form the root itself (its `sidecar_info` must be skipped). */
  value: JsonValue;
  /** JSON pointer of the value ('' for the flat form). */
  pointer: string;
  form: OperationForm;
  /** The object holding `value` under `key` (its number notes: a scalar's type), null for the flat form. */
  parent: JsonObject | null;
}

/** Keys that mark an object as an operation result rather than a container of backends. */
const RESULT_MARKERS: readonly string[] = [
  'success',
  'faces',
  'objects',
  'quality',
  'poses',
  'games',
  'metadata',
  'error',
  'processing_time',
  'detection_time',
  'face_count',
  'objects_found',
];

function hasResultMarker(o: JsonObject): boolean {
  for (let i = 0; i < RESULT_MARKERS.length; i++) if (o[RESULT_MARKERS[i]] !== undefined) return true;
  return false;
}

/** Infer the operation of a flat payload without `operation_type`. */
function flatOperationName(root: JsonObject): string {
  if (root.faces !== undefined) return 'face_detection';
  if (root.objects !== undefined) return 'object_detection';
  if (root.quality !== undefined) return 'quality_assessment';
  if (root.poses !== undefined) return 'pose_detection';
  return 'unknown';
}

function operationTypeOf(data: JsonObject): string | null {
  const info = data[SIDECAR_INFO_KEY];
  if (!isPlainObject(info)) return null;
  const t = info.operation_type;
  return typeof t === 'string' && t.length > 0 ? normalizeOperationName(t) : null;
}

/**
 * The operations of a sidecar in file order, whatever form it is stored in.
 * Calls `visit` once per operation; never throws on odd data.
 */
export function forEachOperation(data: JsonObject, visit: (op: OperationEntry) => void): void {
  if (!isPlainObject(data)) return;
  const keys = Object.keys(data);
  let others = 0;
  let hasKnown = false;
  // Indexed loops in these walkers: run per file in worker threads, mostly before V8 optimises
  // them, where a for-of allocates an iterator result per step (a tenth of a worker's garbage).
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (key === SIDECAR_INFO_KEY) continue;
    others++;
    if (!hasKnown && isKnownOperationKey(key)) hasKnown = true;
  }
  const hasInfo = data[SIDECAR_INFO_KEY] !== undefined;

  // `{sidecar_info, data}`: either a whole sidecar wrapped, or one operation's payload.
  if (hasInfo && others === 1 && isPlainObject(data.data)) {
    const inner = data.data;
    let innerHasKnown = false;
    for (const key of Object.keys(inner)) {
      if (isKnownOperationKey(key)) {
        innerHasKnown = true;
        break;
      }
    }
    if (innerHasKnown) {
      for (const key of Object.keys(inner)) {
        if (key === SIDECAR_INFO_KEY) continue;
        visit({ name: normalizeOperationName(key), key, value: inner[key], pointer: childPointer('/data', key), form: 'key', parent: inner });
      }
      return;
    }
    const name = operationTypeOf(data) ?? (hasReportContent(data) ? 'game_detection' : 'data');
    visit({ name, key: 'data', value: inner, pointer: '/data', form: 'wrapped', parent: data });
    return;
  }

  // The earlier tool's flat form: the payload's fields sit next to sidecar_info.
  if (!hasKnown && others > 0 && hasResultMarker(data)) {
    visit({ name: operationTypeOf(data) ?? flatOperationName(data), key: '', value: data, pointer: '', form: 'flat', parent: null });
    return;
  }

  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (key === SIDECAR_INFO_KEY) continue;
    visit({ name: normalizeOperationName(key), key, value: data[key], pointer: childPointer('', key), form: 'key', parent: data });
  }
}

/**
 * The sidecar with every operation under its own name at the top level, as saves write it: the
 * earlier tool's layouts — flat (`{faces: [], sidecar_info: {operation_type: "face_detection"}}`:
 * the root is the result), one operation wrapped (`{sidecar_info, data}`) and a whole sidecar
 * wrapped (`{sidecar_info, data: {face_detection, yolov8}}`) — reshaped; any other document is
 * returned as it is. Number notes and key order go with the values. A save puts another operation
 * beside them: merged as they were, they read as operations named `faces` or `data`.
 */
export function keyFormOf(doc: JsonObject): JsonObject {
  const first = firstOperation(doc);
  if (first === undefined || (first.form === 'key' && first.parent === doc) || (first.form === 'wrapped' && first.name === first.key)) return doc;
  return reshaped(doc, first, null) ?? doc;
}

/**
 * A whole document built from a file in one of those layouts, reshaped as keyFormOf reshapes the
 * file: a caller that read the flat `{faces: [], sidecar_info}` and sends `{faces: [new], count: 1,
 * yolov8, sidecar_info}` holds the flat result's fields beside an operation of its own, which
 * keyFormOf alone takes for operations named `faces` and `count`. Read from a flat file, every
 * field but `sidecar_info` and the known operations is the result's (unless the document names
 * the operation already); read from `{sidecar_info, data}`, its `data` is. Anything else as
 * keyFormOf reshapes it.
 */
export function keyFormLike(doc: JsonObject, file: JsonObject): JsonObject {
  let first = firstOperation(file);
  if (first === undefined) return keyFormOf(doc);
  if (first.form === 'key' && first.parent === file) {
    // A flat read sent back after another save reshaped the file: the document's operation_type
    // names the result its top-level fields are (its result markers say it is one).
    const named = operationTypeOf(doc);
    if (named === null || Object.hasOwn(doc, named) || !Object.hasOwn(file, named) || !hasResultMarker(doc)) return keyFormOf(doc);
    first = { name: named, key: '', value: doc, pointer: '', form: 'flat', parent: null };
  }
  if (first.form !== 'key' && Object.hasOwn(doc, first.name)) return keyFormOf(doc);
  // Fields the reshaped file holds at the top level (its other operations) stay there.
  const keptAtTop = first.form === 'flat' && Object.hasOwn(file, first.name) ? file : null;
  return reshaped(doc, first, keptAtTop) ?? keyFormOf(doc);
}

/** The first operation of `doc` as forEachOperation finds it. */
function firstOperation(doc: JsonObject): OperationEntry | undefined {
  let first: OperationEntry | undefined;
  forEachOperation(doc, (op) => {
    first ??= op;
  });
  return first;
}

/**
 * `doc` laid out as `first`, its layout, says: a flat result's fields (all but `sidecar_info`,
 * the known operations and the keys of `keptAtTop`) under its operation's name; one operation
 * wrapped: `data` renamed; a whole sidecar wrapped (`first` an operation inside `data`): the
 * operations of `data` in its place, a key of the document's own taking precedence. Null when
 * nothing of `doc` is in that layout.
 */
function reshaped(doc: JsonObject, first: OperationEntry, keptAtTop: JsonObject | null): JsonObject | null {
  const wrappedWhole = first.form === 'key';
  const moved =
    first.form === 'flat'
      ? (k: string) => k !== SIDECAR_INFO_KEY && !isKnownOperationKey(k) && !(keptAtTop !== null && Object.hasOwn(keptAtTop, k))
      : (k: string) => k === 'data' && (!wrappedWhole || isPlainObject(doc.data));
  if (!Object.keys(doc).some(moved)) return null;
  const out = {} as JsonObject;
  const order: string[] = [];
  const put = (into: JsonObject, keys: string[], key: string, value: JsonValue, from: JsonObject, fromKey: string) => {
    if (Object.hasOwn(into, key)) return;
    Object.defineProperty(into, key, { value, writable: true, enumerable: true, configurable: true });
    carryNote(from, fromKey, into, key);
    keys.push(key);
  };
  const result = {} as JsonObject;
  const resultOrder: string[] = [];
  for (const k of orderedKeys(doc)) {
    if (!moved(k)) put(out, order, k, doc[k], doc, k);
    else if (wrappedWhole) {
      const inner = doc.data as JsonObject;
      for (const ik of orderedKeys(inner)) if (ik !== SIDECAR_INFO_KEY && !Object.hasOwn(doc, ik)) put(out, order, ik, inner[ik], inner, ik);
    } else if (first.form === 'wrapped') put(out, order, first.name, doc[k], doc, k);
    else {
      if (!Object.hasOwn(out, first.name)) {
        Object.defineProperty(out, first.name, { value: result, writable: true, enumerable: true, configurable: true });
        order.push(first.name);
      }
      put(result, resultOrder, k, doc[k], doc, k);
    }
  }
  noteKeyOrder(result, resultOrder);
  noteKeyOrder(out, order);
  return out;
}

/**
 * forEachOperation with each operation once, as the summary (and so todo, find, stats, validate's
 * detection count, export) reads it. When several keys name one operation — an older pipeline's
 * `Face_detector` or the earlier tool's `FaceDetection` next to `face_detection` saved since — one
 * key decides: the key spelled as the operation's name (`face_detection`), else the first of the
 * others in file order. The other keys are skipped (rules still check them: forEachOperation).
 * Operations are visited in file order, each where its deciding key is.
 */
export function forEachDecidingOperation(data: JsonObject, visit: (op: OperationEntry) => void): void {
  const ops: OperationEntry[] = [];
  let aliased = false;
  forEachOperation(data, (op) => {
    ops.push(op);
    if (op.key !== op.name) aliased = true;
  });
  // Every key spelled as its name (the common case): keys are distinct, so are the operations.
  if (!aliased) {
    for (let i = 0; i < ops.length; i++) visit(ops[i]);
    return;
  }
  const deciding = new Map<string, OperationEntry>();
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    const prior = deciding.get(op.name);
    if (prior === undefined || (op.key === op.name && prior.key !== prior.name)) deciding.set(op.name, op);
  }
  for (let i = 0; i < ops.length; i++) if (deciding.get(ops[i].name) === ops[i]) visit(ops[i]);
}

/** How deep backends may nest below an operation (`unified.face_detection.insightface`). */
export const MAX_NESTING = 3;

/** The lists that make an object a result the walk does not descend below (a leaf). */
export const RESULT_LISTS: readonly string[] = ['faces', 'objects', 'quality', 'poses'];

/**
 * The result objects inside one operation value: the value itself when it looks like a result,
 * else backend sub-objects (`face_detection.insightface`, `yolov8.yolov8`) and `data` wrappers,
 * recursively. A result that carries faces/objects/quality is a leaf; others (a unified result
 * with sub-results) are visited and then searched further. `backend` is the key a nested result
 * sits under (null for the value itself). `metadata` and `sidecar_info` are never descended.
 */
export function forEachResultNode(
  value: JsonValue,
  pointer: string,
  visit: (node: JsonObject, pointer: string, backend: string | null) => void,
  tooDeep?: (pointer: string) => void,
): void {
  if (isPlainObject(value)) walkResultNodes(value, pointer, null, 0, visit, tooDeep);
}

function walkResultNodes(
  node: JsonObject,
  pointer: string,
  backend: string | null,
  depth: number,
  visit: (node: JsonObject, pointer: string, backend: string | null) => void,
  tooDeep: ((pointer: string) => void) | undefined,
): void {
  const isResult = hasResultMarker(node);
  if (isResult) visit(node, pointer, backend);
  // RESULT_LISTS, spelt out: this runs per node of every sidecar.
  if (node.faces !== undefined || node.objects !== undefined || node.quality !== undefined || node.poses !== undefined) return;
  if (depth >= MAX_NESTING) {
    // `tooDeep` (export): a result below the depth every summary reads is said, not dropped silently.
    if (tooDeep !== undefined) {
      const deeper = resultBelow(node, pointer);
      if (deeper !== null) tooDeep(deeper);
    }
    return;
  }
  const keys = Object.keys(node);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (key === 'metadata' || key === SIDECAR_INFO_KEY) continue;
    const child = node[key];
    if (!isPlainObject(child)) continue;
    // A `data` wrapper keeps the backend it is found under.
    const childBackend = key === 'data' ? backend : key;
    walkResultNodes(child, childPointer(pointer, key), childBackend, depth + 1, visit, tooDeep);
  }
}

/** The pointer of the first result object anywhere below `node` (as the walk would descend), or null. */
function resultBelow(node: JsonObject, pointer: string): string | null {
  for (const key of Object.keys(node)) {
    if (key === 'metadata' || key === SIDECAR_INFO_KEY) continue;
    const child = node[key];
    if (!isPlainObject(child)) continue;
    const at = childPointer(pointer, key);
    if (hasResultMarker(child)) return at;
    const deeper = resultBelow(child, at);
    if (deeper !== null) return deeper;
  }
  return null;
}
