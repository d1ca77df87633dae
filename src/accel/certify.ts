/**
 * The validate certifier: for the common form of a sidecar, validate's inspection (the built-in
 * rules and the brief) decided on the scanner's tape, in the module (assembly/scanner.ts
 * certifyValidate), without building the skeleton. It certifies a file only when no rule finds a
 * problem — errors and warnings alike — and it is unsure of anything outside the common form
 * (then the skeleton is built from the same tape and decides, as before; docs/ACCEL.md). The
 * brief is assembled here from what the walk recorded, as analysis/summary.ts briefOfSidecar
 * makes it: the detection count, `sidecar_info.operation_type` normalised (else the first
 * operation), and the tool of that operation.
 */
import { hasReportName, isKnownOperationKey, normalizeOperationName } from '../analysis/operations.js';
import { backendNamesTool, operationsOwnTool } from '../analysis/summary.js';
import { parseImageRecord } from '../analysis/image-identity.js';
import { addOwn, setOwn } from '../analysis/own-record.js';
import { certifyValidateTape, keyStringOf, keyStrings, shapeOfTape, summarizeStatsTape, TAPE, type Scanned } from './scanner.js';
import { tapeString, tapeValue } from './skeleton.js';
import type { SidecarBrief, SidecarSummary } from '../model/summary.js';

let certifierOn = true;

/** The certifier on or off (tests compare the two ways; off: every file takes the skeleton). */
export function setValidateCertifier(on: boolean): void {
  certifierOn = on;
}

/** validate's brief of a scanned sidecar with no rule problem at all; null when the certifier is unsure. */
export function certifyBrief(scanned: Scanned): SidecarBrief | null {
  if (!certifierOn) return null;
  const r = certifyValidateTape(scanned.tape.length);
  if (r === null) return null;
  const { tape, text } = scanned;
  const detectionCount = r[0];
  const ops = r[1];
  const typeAt = r[2];
  const type = typeAt >= 0 ? tapeString(tape, text, typeAt) : '';
  // nonEmptyString, then normalizeOperationName (as the summary); else the first operation.
  // Operation keys are primed: their ids keep their strings for the thread (keyStrings is theirs).
  const operationType = type.length > 0 ? normalizeOperationName(type) : keyStrings[r[4]];
  let toolName: string | null = null;
  for (let k = 0, at = 4; k < ops; k++) {
    const name = keyStrings[r[at]];
    const nodes = r[at + 1];
    at += 2;
    if (name === operationType) {
      toolName = toolOfNodes(tape, text, r, at, nodes) ?? operationsOwnTool(name);
      break;
    }
    at += 2 * nodes;
  }
  return { detectionCount, toolName, operationType };
}

/**
 * An operation's tool as summary.ts finds it (state.tool): that of the first of its `nodes` result
 * nodes that names one, their (backend key, tool string) entries at `r[at]`, `r[at + 1]`, ...
 */
function toolOfNodes(tape: Int32Array, text: Buffer, r: Int32Array, at: number, nodes: number): string | null {
  let tool: string | null = null;
  for (let j = 0; j < nodes && tool === null; j++) tool = toolOf(tape, text, r[at + 2 * j], r[at + 2 * j + 1]);
  return tool;
}

/**
 * summary.ts toolOf for a node under the key at tape entry `backendAt` (-1: none) whose metadata
 * or own fields name the tool at `toolAt` (-1: none): a backend names its tool, unless it is an
 * operation's key (under `unified`) other than yolov8.
 */
function toolOf(tape: Int32Array, text: Buffer, backendAt: number, toolAt: number): string | null {
  if (backendAt >= 0) {
    const backend = keyAt(tape, text, backendAt);
    if (backendNamesTool(backend)) return backend;
  }
  return toolAt >= 0 ? tapeString(tape, text, toolAt) : null;
}

/**
 * The key at a tape entry: a new key's bytes (ASCII), else its id's key from the module's table.
 * Not keyStrings: an id this very tape introduced (KEY_NEW earlier in the file, then KEY_ID) has
 * no string there yet — no skeleton read it — or still the string of the key a rollback freed it from.
 */
function keyAt(tape: Int32Array, text: Buffer, i: number): string {
  const w = tape[i];
  if ((w & 0xff) === TAPE.KEY_NEW) return text.toString('latin1', tape[i + 1], tape[i + 2]);
  return keyStringOf(w >>> 8);
}

/**
 * stats' summary of a scanned sidecar (summary.ts summarizeSidecar; `sizes`: each operation's bin
 * size), decided on the tape by the module's summarizer; null when it is unsure (then the skeleton
 * decides). The object is built as summarize builds it: the same keys in the same order.
 */
export function summaryOnTape(scanned: Scanned, sizes: boolean): SidecarSummary | null {
  if (!certifierOn) return null;
  const r = summarizeStatsTape(scanned.tape.length, sizes);
  if (r === null) return null;
  const { ints, nums } = r;
  const { tape, text } = scanned;
  const summary: SidecarSummary = {
    operations: [],
    operationType: null,
    faces: ints[0],
    objects: ints[1],
    detectionCount: 0,
    embeddings: ints[2],
    embeddingLength: ints[3] >= 0 ? ints[3] : null,
    qualityGrade: ints[4] >= 0 ? tapeString(tape, text, ints[4]) : null,
    qualityScore: Number.isNaN(nums[0]) ? null : nums[0],
    processingTimes: {},
    success: {},
    dataSizes: {},
    toolName: null,
    hasSidecarInfo: (ints[5] & 1) !== 0,
    symlink: (ints[5] & 2) !== 0 ? { isSymlink: (ints[5] & 4) !== 0, broken: (ints[5] & 8) !== 0 } : null,
    objectClasses: {},
    image: null,
  };
  if (ints[6] >= 0) {
    const type = tapeString(tape, text, ints[6]);
    if (type.length > 0) summary.operationType = normalizeOperationName(type);
  }
  if (ints[7] >= 0) summary.image = parseImageRecord(tapeValue(tape, text, ints[7]));
  const ops = ints[8];
  const tools: (string | null)[] = [];
  let at = 11;
  for (let k = 0; k < ops; k++) {
    const name = keyStrings[ints[at]];
    const success = ints[at + 1];
    const size = ints[at + 2];
    const nodes = ints[at + 3];
    at += 4;
    summary.operations.push(name);
    const tool = toolOfNodes(tape, text, ints, at, nodes);
    at += 2 * nodes;
    const time = nums[k + 1];
    if (!Number.isNaN(time)) setOwn(summary.processingTimes, name, time);
    if (success >= 0) setOwn(summary.success, name, success === 1);
    tools.push(tool ?? operationsOwnTool(name));
    if (size >= 0) addOwn(summary.dataSizes, name, size);
  }
  // Only the operationType operation (else the first one) names the tool.
  const toolOp = summary.operationType ?? summary.operations[0];
  const toolAt = summary.operations.indexOf(toolOp);
  if (toolAt >= 0) summary.toolName = tools[toolAt];
  const classes = ints[9];
  for (let c = 0; c < classes; c++) addOwn(summary.objectClasses, tapeString(tape, text, ints[at + c]));
  if (summary.operationType === null && summary.operations.length > 0) summary.operationType = summary.operations[0];
  summary.detectionCount = summary.faces + summary.objects;
  return summary;
}

/**
 * format-stats' shape of a scanned file (inspect.ts analyse: 'report' by its name or a `games`
 * array, 'sidecar' by `sidecar_info` or any spelling of an operation key, else 'other'), decided
 * on the tape; null when unsure (then the probe skeleton decides).
 */
export function shapeOnTape(scanned: Scanned, name: string): 'sidecar' | 'report' | 'other' | null {
  if (!certifierOn) return null;
  const r = shapeOfTape(scanned.tape.length);
  if (r === null) return null;
  const flags = r[0];
  if (hasReportName(name) || (flags & 6) !== 0) return 'report';
  if ((flags & 9) !== 0) return 'sidecar';
  for (let k = 0; k < r[1]; k++) if (isKnownOperationKey(keyAt(scanned.tape, scanned.text, r[2 + k]))) return 'sidecar';
  return 'other';
}
