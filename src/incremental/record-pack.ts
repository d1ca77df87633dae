/**
 * A stored scan record without its key names (folder-records.ts writes records this way; format 6).
 *
 * A warm run decodes every record it serves, and JSON.parse's time follows the text's length: in
 * the bench library's validate records, half of the bytes were key names ("inspection", "elapsedMs",
 * "detectionCount", ...) repeated in every record. Here an object at a known place of a record (the
 * record, its images, sidecars and findings, a sidecar's inspection, an inspection's brief,
 * summary and error) is written as an array: a code naming its keys in order (one character per
 * key, from `KEYS`), then its values. Reading makes the object back with its keys in the same order
 * (one object literal per code, made once per thread), so a record reads back exactly as written.
 *
 * Objects whose keys are not all in `KEYS` (or with another prototype) stay objects, where they are;
 * the places named above never hold an array in a scan record, so an array there is always one of
 * ours. A record with an array in one of those places is not packed at all. Values that are not at
 * those places (notes, problems, a summary's maps keyed by operation names: names from files) are
 * written as they are.
 *
 * The key list and the places are part of the stored form: changing them needs a new
 * FOLDER_RECORDS_FORMAT.
 */

/** Every key packed, in a fixed order (a key's code is its position's character in `SYMBOLS`). */
const KEYS = [
  // ScanRecord
  'category', 'dir', 'images', 'sidecars', 'effective', 'findings', 'files', 'seq',
  // ScanImage, ScanSidecar (name, path, rel above or below)
  'name', 'path', 'rel', 'isSymlink', 'target', 'broken', 'outsideRoot', 'ext', 'naming', 'side', 'isLink', 'inspection',
  // FileInspection
  'size', 'status', 'format', 'encryptedKeyId', 'error', 'notes', 'shape', 'summary', 'brief', 'problems', 'probe', 'link', 'accel', 'elapsedMs',
  // SidecarBrief, SidecarSummary, Finding, an error
  'detectionCount', 'toolName', 'operationType', 'operations', 'faces', 'objects', 'embeddings', 'embeddingLength', 'qualityGrade', 'qualityScore',
  'processingTimes', 'success', 'dataSizes', 'hasSidecarInfo', 'symlink', 'objectClasses', 'image', 'code', 'message', 'paths',
] as const;

const SYMBOLS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const CODE_OF = new Map<string, string>(KEYS.map((k, i) => [k, SYMBOLS[i]]));
const KEY_OF = new Map<string, string>(KEYS.map((k, i) => [SYMBOLS[i], k]));

/** The places packed inside a packed object: key → what is there (`[]`: an array of them). */
type Place = 'record' | 'image' | 'sidecar' | 'finding' | 'inspection' | 'brief' | 'summary' | 'error';
const INSIDE: Record<Place, Record<string, { place: Place; many: boolean }>> = {
  record: { images: { place: 'image', many: true }, sidecars: { place: 'sidecar', many: true }, findings: { place: 'finding', many: true } },
  sidecar: { inspection: { place: 'inspection', many: false } },
  inspection: { brief: { place: 'brief', many: false }, summary: { place: 'summary', many: false }, error: { place: 'error', many: false } },
  image: {},
  finding: {},
  brief: {},
  summary: {},
  error: {},
};

/** Raised inside `pack` when a place holds an array (the record is then written as it is). */
const NOT_PACKABLE = Symbol('not packable');

/** A record as stored: its packed form (an array), or the record itself when it cannot be packed. */
export function packRecord(rec: unknown): unknown {
  try {
    return pack(rec, 'record');
  } catch (e) {
    if (e === NOT_PACKABLE) return rec;
    throw e;
  }
}

function pack(v: unknown, place: Place): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) throw NOT_PACKABLE;
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  const inside = INSIDE[place];
  const out: unknown[] = [''];
  let code = '';
  for (const k in v) {
    if (!Object.hasOwn(v, k)) continue;
    const c = CODE_OF.get(k);
    if (c === undefined) {
      // A key we do not know: this object stays as it is, and so do the places inside it (a reader
      // unpacks only inside packed objects).
      return v;
    }
    code += c;
    let x = (v as Record<string, unknown>)[k];
    const at = Object.hasOwn(inside, k) ? inside[k] : undefined;
    if (at !== undefined) {
      if (at.many) {
        if (!Array.isArray(x)) return v; // not a scan record's shape: as it is
        x = x.map((e) => pack(e, at.place));
      } else x = pack(x, at.place);
    }
    out.push(x);
  }
  out[0] = code;
  return out;
}

/** The record a stored value stands for: a packed record made back into objects, anything else as it is. */
export function unpackRecord<T>(stored: unknown): T {
  if (!Array.isArray(stored)) return stored as T;
  // The places of INSIDE, spelled out (a warm run unpacks every record it serves); only inside a
  // packed object is an array one of ours.
  const rec = made(stored);
  unpackEach(rec.images);
  unpackEach(rec.findings);
  const sidecars = rec.sidecars;
  if (Array.isArray(sidecars)) {
    for (let i = 0; i < sidecars.length; i++) {
      const s = sidecars[i] as unknown;
      if (!Array.isArray(s)) continue;
      const sc = (sidecars[i] = made(s));
      const ins = sc.inspection;
      if (!Array.isArray(ins)) continue;
      const o = (sc.inspection = made(ins));
      if (Array.isArray(o.brief)) o.brief = made(o.brief);
      if (Array.isArray(o.summary)) o.summary = made(o.summary);
      if (Array.isArray(o.error)) o.error = made(o.error);
    }
  }
  return rec as T;
}

function unpackEach(list: unknown): void {
  if (!Array.isArray(list)) return;
  for (let i = 0; i < list.length; i++) {
    const e = list[i] as unknown;
    if (Array.isArray(e)) list[i] = made(e);
  }
}

/** The object a packed array stands for (its own places not unpacked). */
function made(a: unknown[]): Record<string, unknown> {
  const code = a[0];
  if (typeof code !== 'string') throw new Error('not a packed record');
  return (makers.get(code) ?? makerOf(code))(a);
}

/** Per code, a function making the object from its packed array (an object literal: V8 builds it with its final shape at once). */
const makers = new Map<string, (a: unknown[]) => Record<string, unknown>>();
const MAX_MAKERS = 4096;

/** The maker of a code not met yet (`made` looks the cache up first). */
function makerOf(code: string): (a: unknown[]) => Record<string, unknown> {
  if (makers.size >= MAX_MAKERS) makers.clear(); // codes from a damaged file are refused below; this bounds the rest
  const keys: string[] = [];
  for (const c of code) {
    const k = KEY_OF.get(c);
    if (k === undefined || keys.includes(k)) throw new Error('not a packed record');
    keys.push(k);
  }
  const make = literalMaker(keys) ?? loopMaker(keys);
  makers.set(code, make);
  return make;
}

/**
 * An object literal with these keys (V8 builds the object with its final shape at once: a third of
 * the time of setting the keys one by one). Keys come from KEYS only, never from a file, and none
 * is __proto__. Null where code cannot be made from strings (node --disallow-code-generation-from-strings).
 */
function literalMaker(keys: readonly string[]): ((a: unknown[]) => Record<string, unknown>) | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    return new Function('a', `return {${keys.map((k, i) => `${JSON.stringify(k)}: a[${i + 1}]`).join(', ')}};`) as (a: unknown[]) => Record<string, unknown>;
  } catch {
    return null;
  }
}

function loopMaker(keys: readonly string[]): (a: unknown[]) => Record<string, unknown> {
  return (a) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) o[keys[i]] = a[i + 1];
    return o;
  };
}
