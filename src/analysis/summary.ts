/**
 * Per-sidecar summary: what the stats, validate and export outputs report for one file.
 * Runs once per sidecar in worker threads over up to 10^6 files: a single pass over the
 * operations, no copies of the data, never throws (values of the wrong type just don't count).
 */
import type { JsonObject, JsonValue } from '../types.js';
import { encodedSize, numberSize } from '../formats/cbor.js';
import { notesOf, validNote } from '../formats/numbers.js';
import {
  forEachDecidingOperation,
  forEachResultNode,
  isKnownOperationKey,
  isPlainObject,
  normalizeOperationName,
  SIDECAR_INFO_KEY,
  type OperationEntry,
} from './operations.js';
import { recordedImage, recordedImageName } from './image-identity.js';
import { addOwn, setOwn } from './own-record.js';
import type { SidecarSummary, SidecarBrief, SidecarProbe } from '../model/summary.js';

export function briefOf(s: SidecarSummary): SidecarBrief {
  return { detectionCount: s.detectionCount, toolName: s.toolName, operationType: s.operationType };
}

/**
 * `briefOf(summarizeSidecar(data))` by the same pass with only what the brief needs: no times,
 * successes, sizes, quality, embeddings, object classes, link or image record (validate asks this
 * of every file).
 */
export function briefOfSidecar(data: JsonObject): SidecarBrief {
  return briefOf(summarize(data, false, true));
}

/** Accumulates one operation's findings while its result nodes are visited. */
interface OperationState {
  time: number | undefined;
  success: boolean | undefined;
  tool: string | null;
}

function finiteNumber(v: JsonValue | undefined): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function nonEmptyString(v: JsonValue | undefined): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

/** First processing time found, in the documented order of preference (seconds). */
function processingTimeOf(node: JsonObject): number | undefined {
  const meta = isPlainObject(node.metadata) ? node.metadata : undefined;
  return (
    (meta && finiteNumber(meta.processing_time)) ??
    finiteNumber(node.processing_time) ??
    finiteNumber(node.detection_time) ??
    (meta && (finiteNumber(meta.detection_time) ?? finiteNumber(meta.detection_time_seconds)))
  );
}

/** One operation's success over its result nodes: false as soon as any node (backend) failed. */
export function mergeSuccess(prior: boolean | undefined, node: JsonObject): boolean | undefined {
  const ok = node.success;
  return typeof ok === 'boolean' ? (prior === undefined ? ok : prior && ok) : prior;
}

/**
 * Per operation (normalised name, file order): its success as the summary computes it, null when
 * no result says. The cheap half of the summary, for `todo`: works on skimmed data (arrays empty).
 */
export function operationOutcomes(data: JsonObject): Record<string, boolean | null> {
  const out: Record<string, boolean | null> = {};
  let success: boolean | undefined;
  const visit = (node: JsonObject): void => {
    success = mergeSuccess(success, node);
  };
  // One key per operation decides (`face_detection` over `Face_detector`), as in the summary.
  forEachDecidingOperation(data, (op) => {
    success = undefined;
    forEachResultNode(op.value, op.pointer, visit);
    setOwn(out, op.name, success ?? null);
  });
  return out;
}

/**
 * Outside the top-level `sidecar_info` it reads only which keys exist, what is an object or an
 * array, and `success` flags: the probe skeleton (accel/skeleton.ts) gives nothing else there
 * (arrays empty, numbers 0, strings ''). Reading more needs the skeleton changed first.
 */
export function probeSidecar(data: JsonObject): SidecarProbe {
  return { outcomes: operationOutcomes(data), image: recordedImage(data), imageName: recordedImageName(data) };
}

/** `yolov8` is both an operation key and the tool that wrote it. */
const TOOL_OPERATIONS: ReadonlySet<string> = new Set(['yolov8']);

/** Does the backend key a result sits under name its tool? Under `unified`, sub-keys are operation names, not tools (yolov8 is both). */
export function backendNamesTool(backend: string): boolean {
  return TOOL_OPERATIONS.has(backend) || !isKnownOperationKey(backend);
}

/** The tool an operation names when none of its results does (yolov8's own name), or null. */
export function operationsOwnTool(name: string): string | null {
  return TOOL_OPERATIONS.has(name) ? name : null;
}

/**
 * The tool a result came from: the backend key it is nested under (`face_detection.insightface`),
 * else what its metadata names. Under `unified`, sub-keys are operation names, not tools.
 */
function toolOf(node: JsonObject, backend: string | null): string | null {
  if (backend !== null && backendNamesTool(backend)) return backend;
  const meta = isPlainObject(node.metadata) ? node.metadata : undefined;
  return (
    (meta && (nonEmptyString(meta.detector) ?? nonEmptyString(meta.tool_name) ?? nonEmptyString(meta.model_name))) ??
    nonEmptyString(node.detector) ??
    nonEmptyString(node.tool_name) ??
    nonEmptyString(node.model_name) ??
    null
  );
}

/**
 * `.bin` size of an operation value (the flat form: the root without sidecar_info), or -1 for a
 * value no format can carry (only possible for in-memory data that did not come from a file).
 * A bin file's decoder knows most of these sizes already (formats/cbor.ts encodedSize). The flat
 * form is said, not signalled by a null value: an operation stored as `null` was sized as the
 * whole root.
 */
function sizeOf(op: OperationEntry, root: JsonObject): number {
  try {
    return op.form === 'flat' || op.parent === null ? flatPayloadSize(root) : memberSize(op.parent, op.key, op.value);
  } catch {
    return -1;
  }
}

/**
 * The size of `value`, held by `container` under `key`: a number with its note there (the number
 * model keeps a scalar's type on its container: `25.0` is a float, 9 bytes, not the int 25; an int
 * beyond 2^53 its exact value), anything else as encodedSize sizes it.
 */
function memberSize(container: JsonObject, key: string, value: JsonValue): number {
  return typeof value === 'number' ? numberSize(value, validNote(notesOf(container), key, value)) : encodedSize(value);
}

/** The CBOR size of the root map without its `sidecar_info` entry (flat form payloads). */
function flatPayloadSize(root: JsonObject): number {
  let entries = 0;
  let body = 0;
  const keys = Object.keys(root);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (key === SIDECAR_INFO_KEY) continue;
    entries++;
    body += encodedSize(key) + memberSize(root, key, root[key]);
  }
  // CBOR map header: count inline below 24, then 1, 2 or 4 extra bytes.
  const header = entries < 24 ? 1 : entries < 0x100 ? 2 : entries < 0x10000 ? 3 : 5;
  return header + body;
}

/**
 * Summarise one decoded sidecar in any stored form (detector, nested backend, `{sidecar_info,
 * data}` wrapper, unified, oldest `Face_detector`, the earlier tool's flat form). Never throws.
 */
export function summarizeSidecar(data: JsonObject, opts: { sizes?: boolean } = {}): SidecarSummary {
  // Sizing every operation in bin encoding costs a walk of the whole value: only stats prints it.
  return summarize(data, opts.sizes !== false, false);
}

const NO_RECORD: Record<string, never> = Object.freeze({});

/** The summary; `briefOnly`: only its brief fields are filled in (briefOfSidecar). */
function summarize(data: JsonObject, withSizes: boolean, briefOnly: boolean): SidecarSummary {
  // A brief never fills the per-operation records (validate asks one of every file): shared, frozen.
  const summary: SidecarSummary = {
    operations: [],
    operationType: null,
    faces: 0,
    objects: 0,
    detectionCount: 0,
    embeddings: 0,
    embeddingLength: null,
    qualityGrade: null,
    qualityScore: null,
    processingTimes: briefOnly ? NO_RECORD : {},
    success: briefOnly ? NO_RECORD : {},
    dataSizes: briefOnly ? NO_RECORD : {},
    toolName: null,
    hasSidecarInfo: false,
    symlink: null,
    objectClasses: briefOnly ? NO_RECORD : {},
    image: null,
  };
  if (!isPlainObject(data)) return summary;

  const info = data[SIDECAR_INFO_KEY];
  if (isPlainObject(info)) {
    summary.hasSidecarInfo = true;
    const type = nonEmptyString(info.operation_type);
    if (type !== null) summary.operationType = normalizeOperationName(type);
    if (!briefOnly) {
      const link = info.symlink_info;
      if (isPlainObject(link)) summary.symlink = { isSymlink: link.is_symlink === true, broken: link.broken === true };
      summary.image = recordedImage(data);
    }
  }

  const state: OperationState = { time: undefined, success: undefined, tool: null };
  const visitNode = briefOnly
    ? (node: JsonObject, _pointer: string, backend: string | null): void => {
        if (state.tool === null) state.tool = toolOf(node, backend);
        summary.faces += countOf(node.faces);
        summary.objects += countOf(node.objects);
      }
    : (node: JsonObject, _pointer: string, backend: string | null): void => {
        if (state.time === undefined) state.time = processingTimeOf(node);
        state.success = mergeSuccess(state.success, node);
        if (state.tool === null) state.tool = toolOf(node, backend);
        countFaces(node.faces, summary);
        countObjects(node.objects, summary);
        readQuality(node.quality, summary);
      };

  // One key per operation decides (operations.ts forEachDecidingOperation): `face_detection`
  // saved since counts, an older `Face_detector` beside it is not summed nor its flag read.
  forEachDecidingOperation(data, (op) => {
    const name = op.name;
    summary.operations.push(name);
    state.time = undefined;
    state.success = undefined;
    state.tool = null;
    forEachResultNode(op.value, op.pointer, visitNode);
    if (state.time !== undefined) setOwn(summary.processingTimes, name, state.time);
    if (state.success !== undefined) setOwn(summary.success, name, state.success);
    if (state.tool === null) state.tool = operationsOwnTool(name);
    // Only the operationType operation (else the first one) names the tool: another's would mislead.
    if (summary.toolName === null && name === (summary.operationType ?? summary.operations[0])) summary.toolName = state.tool;
    if (briefOnly) return;
    const size = withSizes ? sizeOf(op, data) : -1;
    if (size >= 0) setOwn(summary.dataSizes, name, size);
  });

  if (summary.operationType === null && summary.operations.length > 0) summary.operationType = summary.operations[0];
  summary.detectionCount = summary.faces + summary.objects;
  return summary;
}

/** Objects in an array (faces, objects), as countFaces / countObjects count them. */
function countOf(list: JsonValue | undefined): number {
  if (!Array.isArray(list)) return 0;
  let n = 0;
  for (let i = 0; i < list.length; i++) if (isPlainObject(list[i])) n++;
  return n;
}

function countFaces(faces: JsonValue | undefined, summary: SidecarSummary): void {
  if (!Array.isArray(faces)) return;
  for (let i = 0; i < faces.length; i++) {
    const face = faces[i];
    if (!isPlainObject(face)) continue;
    summary.faces++;
    const enc = Array.isArray(face.encoding) ? face.encoding : Array.isArray(face.face_encoding) ? face.face_encoding : null;
    if (enc !== null && enc.length > 0) {
      summary.embeddings++;
      if (summary.embeddingLength === null) summary.embeddingLength = enc.length;
    }
  }
}

function countObjects(objects: JsonValue | undefined, summary: SidecarSummary): void {
  if (!Array.isArray(objects)) return;
  for (let i = 0; i < objects.length; i++) {
    const o = objects[i];
    if (!isPlainObject(o)) continue;
    summary.objects++;
    const cls = o.class_name;
    if (typeof cls === 'string') addOwn(summary.objectClasses, cls);
  }
}

function readQuality(quality: JsonValue | undefined, summary: SidecarSummary): void {
  if (!isPlainObject(quality)) return;
  if (summary.qualityGrade === null) summary.qualityGrade = nonEmptyString(quality.grade);
  if (summary.qualityScore === null) summary.qualityScore = finiteNumber(quality.overall_score) ?? null;
}
