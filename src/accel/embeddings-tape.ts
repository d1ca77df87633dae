/**
 * export --format embeddings on the scanner's tape of a plain bin file or a JSON file: the rows
 * analysis/dataset.ts extractDataset makes of the decoded data, found by walking the tape
 * (accel/scanner.ts scanCborBody, scanJson) instead of building the sidecar's objects; the
 * encodings copied from their tag 86 blocks' bytes, or parsed from their JSON arrays' text alone
 * (assembly/scanner.ts places each block). Only the common form is
 * read here: operations at the top (results and backends below them walked as operations.ts
 * walks them, with its markers, lists and depth; one key deciding where several name one
 * operation), faces whose encoding is a tag 86 block, whose box is absent or `{x, y, width,
 * height}` of numbers. Anything else — a top-level `data` wrapper, the earlier tool's flat form, a
 * report, keys the scan left unchecked, anything that would be a finding — returns null, and the
 * reference decode decides (tasks/inspect.ts). The parity tests (test/export-datasets.test.ts)
 * hold the two to the same rows.
 */
import type { JsonObject } from '../types.js';
import type { DatasetRequest, DatasetRows } from '../model/dataset.js';
import { numberJson, parseNumberToken } from '../formats/numbers.js';
import { isKnownOperationKey, MAX_NESTING, normalizeOperationName, RESULT_LISTS } from '../analysis/operations.js';
import { recordedImageName } from '../analysis/image-identity.js';
import { vectorsOf } from '../analysis/dataset.js';
import { DEFAULT_EMBEDDING_DIM } from '../vocabulary.js';
import { LITTLE_ENDIAN_HOST } from '../byte-order.js';
import { tapeString } from './skeleton.js';
import { isIndexKey } from '../formats/key-order.js';
import { floatBlockSpots, keyStringOf, keyStrings, primedKeyCount, scanCheckedKeys, TAPE, type Scanned } from './scanner.js';

/** The primed key ids the walk compares with (assembly/scanner.ts PRIMED_KEYS: a primed key always comes as its id). */
interface KeyIds {
  sidecarInfo: number;
  symlinkInfo: number;
  imagePath: number;
  targetPath: number;
  success: number;
  faces: number;
  encoding: number;
  faceEncoding: number;
  bbox: number;
  coordinates: number;
  confidence: number;
  x: number;
  y: number;
  width: number;
  height: number;
  data: number;
  games: number;
  metadata: number;
}

// Per-thread state, set once: the ids, what each primed id means to the walk.
let keyIds: KeyIds | null = null;
/** Per primed id: 1 a result's list (operations.ts RESULT_LISTS: a leaf), 2 a member a result walk never descends into (metadata, sidecar_info). */
let roleOf: Uint8Array = new Uint8Array(0);
let nodeWant: Int32Array;
let faceWant: Int32Array;
let boxWant: Int32Array;
let infoWant: Int32Array;
let targetWant: Int32Array;

function primedIds(): KeyIds | null {
  if (keyIds !== null) return keyIds;
  const primed = primedKeyCount();
  const id = (k: string) => {
    const i = keyStrings.indexOf(k);
    return i < primed ? i : -1;
  };
  const ids: KeyIds = {
    sidecarInfo: id('sidecar_info'),
    symlinkInfo: id('symlink_info'),
    imagePath: id('image_path'),
    targetPath: id('target_path'),
    success: id('success'),
    faces: id('faces'),
    encoding: id('encoding'),
    faceEncoding: id('face_encoding'),
    bbox: id('bbox'),
    coordinates: id('coordinates'),
    confidence: id('confidence'),
    x: id('x'),
    y: id('y'),
    width: id('width'),
    height: id('height'),
    data: id('data'),
    games: id('games'),
    metadata: id('metadata'),
  };
  if (Object.values(ids).some((v) => v < 0) || RESULT_LISTS.some((k) => id(k) < 0)) return null;
  roleOf = new Uint8Array(primed);
  for (const k of RESULT_LISTS) roleOf[id(k)] = 1;
  roleOf[ids.metadata] = 2;
  roleOf[ids.sidecarInfo] = 2;
  nodeWant = Int32Array.of(ids.success, ids.faces);
  faceWant = Int32Array.of(ids.encoding, ids.faceEncoding, ids.bbox, ids.coordinates, ids.confidence);
  boxWant = Int32Array.of(ids.x, ids.y, ids.width, ids.height);
  infoWant = Int32Array.of(ids.symlinkInfo, ids.imagePath);
  targetWant = Int32Array.of(ids.targetPath);
  keyIds = ids;
  return ids;
}

// Per-file state: the walk is synchronous, and `finally` lets go of the file's tape and bytes.
let tape: Int32Array = new Int32Array(0);
let text: Buffer = Buffer.alloc(0);
/** The tape's tag 86 blocks (scanner.ts floatBlockSpots), and the next one to look at: the walk meets them in tape order. */
let spots: Int32Array = new Int32Array(0);
let spotAt = 0;
/** The text is JSON (a JSON file, or a legacy file's text): strings may be escaped, float arrays are text. */
let isJson = false;
const EMPTY_TAPE = new Int32Array(0);
const EMPTY_TEXT = Buffer.alloc(0);

// Scratch (per thread): slots of the members asked for, a double's words, an unaligned encoding's doubles.
const nodeSlots = new Int32Array(2);
const faceSlots = new Int32Array(5);
const boxSlots = new Int32Array(4);
const infoSlots = new Int32Array(2);
const wordScratch = new Int32Array(2);
const doubleScratch = new Float64Array(wordScratch.buffer);
let scratch = new Float64Array(DEFAULT_EMBEDDING_DIM);
let scratchBytes = new Uint8Array(scratch.buffer);

/** Thrown inside the walk: the reference decides this file. */
const UNSURE = Object.freeze({ unsure: true });

const kindAt = (i: number): number => tape[i] & 0xff;

/** The entry after the value at `i`. */
function skip(i: number): number {
  const w = tape[i];
  const k = w & 0xff;
  if (k === TAPE.NUM || k === TAPE.STR) return i + 3;
  if (k === TAPE.FLOATS) return i + 2;
  if (k === TAPE.OBJ_START || k === TAPE.ARR_START) return i + (w >>> 8) + 1;
  return i + 1;
}

/** A key entry's primed id, or -1 for any other key (a primed key always comes as its id). */
function primedIdAt(i: number): number {
  const w = tape[i];
  return (w & 0xff) === TAPE.KEY_ID && (w >>> 8) < roleOf.length ? w >>> 8 : -1;
}

/** The entry after a key entry. */
const afterKey = (i: number): number => ((tape[i] & 0xff) === TAPE.KEY_ID ? i + 1 : i + 3);

/** A key's string: primed from the table kept in JS, others from the module's table or the bytes. */
function keyAt(i: number): string {
  const w = tape[i];
  const k = w & 0xff;
  if (k === TAPE.KEY_ID) return (w >>> 8) < roleOf.length ? keyStrings[w >>> 8] : keyStringOf(w >>> 8);
  // KEY_NEW (its id above the kind): ASCII bytes [a, b), no escape. KEY: a key not interned, read as a string is.
  if (k === TAPE.KEY_NEW) return (text as SliceDecoders).latin1Slice(tape[i + 1], tape[i + 2]);
  return tapeString(tape, text, i);
}

/** A result walk descends into the object under this key (not metadata, not sidecar_info). */
const descended = (id: number): boolean => id < 0 || roleOf[id] !== 2;

/**
 * The value entries of the object at `obj` under the primed keys asked (`want`: id → slot);
 * `slots` gets each value's entry (-1: absent). Returns whether the object holds a result's list
 * (bit 1: a leaf) and an object member a result walk would descend into (bit 2).
 */
function members(obj: number, want: Int32Array, slots: Int32Array): number {
  slots.fill(-1);
  let flags = 0;
  const end = obj + (tape[obj] >>> 8);
  for (let i = obj + 1; i < end; ) {
    const id = primedIdAt(i);
    const v = afterKey(i);
    if (id >= 0) {
      if (roleOf[id] === 1) flags |= 1;
      for (let s = 0; s < want.length; s++) if (want[s] === id) slots[s] = v;
    }
    if (kindAt(v) === TAPE.OBJ_START && descended(id)) flags |= 2;
    i = skip(v);
  }
  return flags;
}

/** A number entry as typed JSON (dataset.ts typedMember): ints as digits, floats with their type. */
function numberText(i: number): string {
  const w = tape[i];
  if ((w & TAPE.F_VALUE) === 0) {
    // A JSON token the scan left as text (an exponent, many digits, an int past 2^53): read as the reference reads it.
    const r = parseNumberToken((text as SliceDecoders).latin1Slice(tape[i + 1], tape[i + 2]));
    if ('error' in r) throw UNSURE;
    return numberJson(r.value, r.note);
  }
  wordScratch[0] = tape[i + 1];
  wordScratch[1] = tape[i + 2];
  const v = doubleScratch[0];
  return numberJson(v, (w & TAPE.F_FLOAT) !== 0 ? v : undefined);
}

/** A box (dataset.ts boxJson) of the detector form `{x, y, width, height}`, four numbers in that order; else unsure. */
function boxText(i: number): string {
  if (kindAt(i) !== TAPE.OBJ_START) throw UNSURE;
  const end = i + (tape[i] >>> 8);
  let k = 0;
  for (let j = i + 1; j < end; k++) {
    if (k === 4 || primedIdAt(j) !== boxWant[k]) throw UNSURE;
    const v = afterKey(j);
    if (kindAt(v) !== TAPE.NUM) throw UNSURE;
    boxSlots[k] = v;
    j = skip(v);
  }
  if (k !== 4) throw UNSURE;
  return `{"x":${numberText(boxSlots[0])},"y":${numberText(boxSlots[1])},"width":${numberText(boxSlots[2])},"height":${numberText(boxSlots[3])}}`;
}


/**
 * The embeddings rows of a scanned plain bin sidecar (the data's shape is 'sidecar': the caller
 * has ruled out a report's name), exactly as extractDataset gives them for its decoded data; null
 * when this walk is unsure and the reference must decide.
 */
export function embeddingsOnTape(scanned: Scanned, req: DatasetRequest, namesImage: boolean): DatasetRows | null {
  // A duplicate key makes the file corrupt to the reference: the scan must have checked them all.
  if (!LITTLE_ENDIAN_HOST || req.format !== 'embeddings' || !scanCheckedKeys()) return null;
  const ids = primedIds();
  if (ids === null) return null;
  tape = scanned.tape;
  text = scanned.text;
  isJson = scanned.format !== 'bin';
  spots = floatBlockSpots();
  spotAt = 0;
  try {
    return walk(ids, req, namesImage);
  } catch (e) {
    if (e === UNSURE) return null;
    throw e;
  } finally {
    tape = EMPTY_TAPE;
    text = EMPTY_TEXT;
    spots = EMPTY_TAPE;
    isJson = false;
  }
}

function walk(ids: KeyIds, req: DatasetRequest, namesImage: boolean): DatasetRows {
  const dim = req.dim ?? DEFAULT_EMBEDDING_DIM;
  if (kindAt(0) !== TAPE.OBJ_START) throw UNSURE;
  const end = tape[0] >>> 8;
  // Top level (operations.ts forEachOperation, forEachDecidingOperation): every key but
  // sidecar_info is an operation spelled as its name, one of them known; no wrapper, no report.
  let info = -1;
  let known = false;
  const ops: { key: string; name: string; value: number }[] = [];
  let aliased = false;
  for (let i = 1; i < end; ) {
    const v = afterKey(i);
    const id = primedIdAt(i);
    if (id === ids.sidecarInfo) info = v;
    else {
      if (id === ids.data || id === ids.games) throw UNSURE;
      const key = keyAt(i);
      if (isIndexKey(key)) throw UNSURE; // a JavaScript object lists it first: not the tape's order
      const name = normalizeOperationName(key);
      if (name !== key) aliased = true;
      if (!known && isKnownOperationKey(key)) known = true;
      ops.push({ key, name, value: v });
    }
    i = skip(v);
  }
  if (!known) throw UNSURE;
  const out: DatasetRows = { namedImage: namesImage ? imageNamed(info) : null, width: null, height: null, detected: false, boxes: [], rows: [], vectors: null, noEncoding: 0, otherDims: {}, problems: [] };
  const found: number[] = [];
  // Several keys naming one operation (`Face_detector` beside `face_detection`): one decides, the
  // key spelled as the name, else the first (operations.ts forEachDecidingOperation).
  const deciding = aliased ? new Map<string, (typeof ops)[number]>() : null;
  if (deciding) {
    for (const op of ops) {
      const prior = deciding.get(op.name);
      if (prior === undefined || (op.key === op.name && prior.key !== prior.name)) deciding.set(op.name, op);
    }
  }
  for (const op of ops) {
    if (deciding && deciding.get(op.name) !== op) continue;
    if (req.operation !== undefined && op.name !== req.operation) continue;
    if (kindAt(op.value) !== TAPE.OBJ_START) continue; // forEachResultNode: not an object, no result
    resultNodes(ids, op.value, op.name, null, 0, dim, out, found);
  }
  if (found.length === 0) return out;
  const all = vectorsOf(found.length * dim);
  if (isJson) {
    // A JSON array of float tokens (the scan's FLOATS: nothing else in it, no ']' before its end)
    // read by JSON.parse, as the reference reads the whole file; a value past float32's range is
    // a finding the reference words.
    for (let f = 0; f < found.length; f++) {
      const open = found[f];
      const values = JSON.parse((text as SliceDecoders).latin1Slice(open, text.indexOf(0x5d, open) + 1)) as number[];
      if (values.length !== dim) throw UNSURE;
      all.set(values, f * dim);
    }
    for (let j = 0; j < all.length; j++) if (all[j] - all[j] !== 0) throw UNSURE;
    out.vectors = all;
    return out;
  }
  // float64 → float32 in one native call per encoding (every value below 2^127 in magnitude, the
  // scan saw to it: none becomes Infinity, which would be a finding).
  for (let f = 0; f < found.length; f++) {
    const at = found[f];
    const from = text.byteOffset + at;
    if ((from & 7) === 0) all.set(new Float64Array(text.buffer, from, dim), f * dim);
    else {
      if (scratch.length !== dim) {
        scratch = new Float64Array(dim);
        scratchBytes = new Uint8Array(scratch.buffer);
      }
      text.copy(scratchBytes, 0, at, at + 8 * dim);
      all.set(scratch, f * dim);
    }
  }
  out.vectors = all;
  return out;
}

/** The payload offset of the tag 86 block whose FLOATS entry is at `i`; negative when it is none placed, or holds a value float32 may not hold. */
function blockAt(i: number): number {
  while (spotAt < spots.length && spots[spotAt] < i) spotAt += 2;
  return spotAt < spots.length && spots[spotAt] === i ? spots[spotAt + 1] : -1;
}

/**
 * operations.ts walkResultNodes over the object at `obj`: a result's faces (a node with no
 * `faces` gives none), then, unless it holds a list, the objects below it but metadata and
 * sidecar_info (a `data` wrapper keeps its backend). A result below the depth every summary reads
 * is a finding in export: unsure.
 */
function resultNodes(ids: KeyIds, obj: number, name: string, backend: string | null, depth: number, dim: number, out: DatasetRows, found: number[]): void {
  const flags = members(obj, nodeWant, nodeSlots);
  // A node's `faces`, whatever else it holds (`faces` is a result marker: such a node is a result).
  facesOf(name, backend, nodeSlots[0], nodeSlots[1], dim, out, found);
  if ((flags & 1) !== 0 || (flags & 2) === 0) return;
  if (depth >= MAX_NESTING) throw UNSURE;
  const end = obj + (tape[obj] >>> 8);
  for (let i = obj + 1; i < end; ) {
    const id = primedIdAt(i);
    const v = afterKey(i);
    if (kindAt(v) === TAPE.OBJ_START && descended(id)) {
      const key = id === ids.data ? null : keyAt(i);
      if (key !== null && isIndexKey(key)) throw UNSURE;
      resultNodes(ids, v, name, key ?? backend, depth + 1, dim, out, found);
    }
    i = skip(v);
  }
}

/** dataset.ts embeddings for one result node: its faces' rows, encodings' offsets into `found`. */
function facesOf(name: string, backend: string | null, success: number, faces: number, dim: number, out: DatasetRows, found: number[]): void {
  const kind = faces < 0 ? TAPE.NULL : kindAt(faces);
  if (kind === TAPE.NULL) return; // no list: nothing, and no finding
  if (kind !== TAPE.ARR_START) throw UNSURE; // not a list (or a list of floats): a finding
  const failed = success >= 0 && kindAt(success) === TAPE.FALSE;
  const end = faces + (tape[faces] >>> 8);
  if (failed) {
    if (end !== faces + 1) throw UNSURE; // a failed result holding faces: a finding
    return;
  }
  const head = `"operation":${JSON.stringify(name)},"backend":${JSON.stringify(backend)},"face":`;
  let index = 0;
  for (let i = faces + 1; i < end; i = skip(i), index++) {
    if (kindAt(i) !== TAPE.OBJ_START) throw UNSURE;
    members(i, faceWant, faceSlots);
    const enc = faceSlots[0] >= 0 ? faceSlots[0] : faceSlots[1];
    const ek = enc < 0 ? TAPE.NULL : kindAt(enc);
    if (ek === TAPE.NULL || (ek === TAPE.ARR_START && tape[enc] >>> 8 === 1)) {
      out.noEncoding++;
      continue;
    }
    if (ek !== TAPE.FLOATS) throw UNSURE; // an array of other numbers, or not an array
    const length = tape[enc + 1];
    if (length !== dim) {
      out.otherDims[length] = (out.otherDims[length] ?? 0) + 1;
      continue;
    }
    // Not a tag 86 block, or one with a value float32 may not hold (a finding the reference words).
    const at = blockAt(enc);
    if (at < 0) throw UNSURE;
    const box = faceSlots[2] >= 0 ? faceSlots[2] : faceSlots[3];
    const confidence = faceSlots[4] >= 0 && kindAt(faceSlots[4]) === TAPE.NUM ? numberText(faceSlots[4]) : 'null';
    out.rows.push(`${head}${index},"bbox":${box < 0 ? 'null' : boxText(box)},"confidence":${confidence}`);
    found.push(at);
  }
}

/** The image the sidecar records (image-identity.ts recordedImageName), from the strings it reads in sidecar_info. */
function imageNamed(info: number): string | null {
  if (info < 0 || kindAt(info) !== TAPE.OBJ_START) return null;
  members(info, infoWant, infoSlots);
  const link = infoSlots[0];
  const imagePath = stringOrNull(infoSlots[1]);
  const part: JsonObject = { image_path: imagePath };
  if (link >= 0 && kindAt(link) === TAPE.OBJ_START) {
    members(link, targetWant, infoSlots);
    part.symlink_info = { target_path: stringOrNull(infoSlots[0]) };
  }
  return recordedImageName({ sidecar_info: part });
}


/** The string of a STR entry (as the skeleton reads it: JSON's escapes too), or null for any other value (recordedImageName reads strings only). */
function stringOrNull(i: number): string | null {
  return i < 0 || kindAt(i) !== TAPE.STR ? null : tapeString(tape, text, i);
}
/** Buffer's unchecked slice decoders (public, untyped in @types/node). */
type SliceDecoders = Buffer & { utf8Slice(start: number, end: number): string; latin1Slice(start: number, end: number): string };
