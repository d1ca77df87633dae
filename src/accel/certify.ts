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
import { isKnownOperationKey, normalizeOperationName } from '../analysis/operations.js';
import type { SidecarBrief } from '../analysis/summary.js';
import type { Scanned } from './decode.js';
import { certifyValidateTape, keyStringOf, keyStrings, TAPE } from './scanner.js';
import { tapeString } from './skeleton.js';

let certifierOn = true;

/** The certifier on or off (tests compare the two ways; off: every file takes the skeleton). */
export function setValidateCertifier(on: boolean): void {
  certifierOn = on;
}

/** `yolov8` is both an operation key and the tool that wrote it (summary.ts TOOL_OPERATIONS). */
const TOOL_OPERATIONS: ReadonlySet<string> = new Set(['yolov8']);

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
  const operationType = type.length > 0 ? normalizeOperationName(type) : keyStrings[r[4]];
  let toolName: string | null = null;
  for (let k = 0, at = 4; k < ops; k++) {
    const name = keyStrings[r[at]];
    const nodes = r[at + 1];
    at += 2;
    if (name === operationType) {
      // The first of its result nodes that names a tool (summary.ts: state.tool), else yolov8's own name.
      let tool: string | null = null;
      for (let j = 0; j < nodes && tool === null; j++) tool = toolOf(tape, text, r[at + 2 * j], r[at + 2 * j + 1]);
      toolName = tool ?? (TOOL_OPERATIONS.has(name) ? name : null);
      break;
    }
    at += 2 * nodes;
  }
  return { detectionCount, toolName, operationType };
}

/**
 * summary.ts toolOf for a node under the key at tape entry `backendAt` (-1: none) whose metadata
 * or own fields name the tool at `toolAt` (-1: none): a backend names its tool, unless it is an
 * operation's key (under `unified`) other than yolov8.
 */
function toolOf(tape: Int32Array, text: Buffer, backendAt: number, toolAt: number): string | null {
  if (backendAt >= 0) {
    const backend = keyAt(tape, text, backendAt);
    if (TOOL_OPERATIONS.has(backend) || !isKnownOperationKey(backend)) return backend;
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
