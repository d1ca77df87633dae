/**
 * Image identity: what a sidecar records about the image its results were computed from, so that
 * a later run can tell whether the image changed since (`stale`, `todo`).
 *
 * Stored by saveSidecar as `sidecar_info.image`:
 *   { "size": 123456, "mtime_ns": "1763812345123456789", "sha256": "ab12…" }   (sha256 optional)
 * - `size`: bytes (a safe integer).
 * - `mtime_ns`: modification time in nanoseconds as a DECIMAL STRING. It exceeds 2^53, so as a
 *   JSON number it would be rounded by every reader that goes through a double (JSON.parse in
 *   JavaScript, many JSON libraries); a string is exact in every format and every language
 *   (Python: `int(info["image"]["mtime_ns"]) == os.stat(p).st_mtime_ns`). Readers also accept an
 *   integer (a bigint, or a safe-integer number) in case another writer stored one.
 * - `sha256`: lowercase hex of the image bytes, only when hashing was asked for (`hashImage`).
 * - `operations`: the operations whose results were saved while the image had this identity.
 * - `stale_operations`: operations whose results were computed on an EARLIER version of the image
 *   (present when a save found the image changed since the previous record).
 * One record per sidecar, but freshness per operation: re-running one operation on a changed image
 * must not make the others look current. On each save of operation OP (a whole document: of each
 * operation it changed, or its stamped `last_operation`; one that changes nothing leaves the record):
 *   no prior record            → operations = [OP]        (the file's other results: unknown)
 *   prior record, same image   → operations = prior ∪ {OP}, stale_operations = prior stale − {OP}
 *   prior record, image changed→ operations = [OP], stale_operations = every other operation in the file
 * The image is `stat`ed through symlinks: the identity is the content's, whichever path saved it.
 * A sidecar without a usable record is "unknown", never stale.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { READ_FLAGS, streamRegularFileSync } from '../fs/regular-file.js';
import { readFileLimitedSync } from '../fs/read-file.js';
import { decodeSidecar, detectFormat } from '../formats/codec.js';
import type { Keyring } from '../types.js';
import type { JsonObject, JsonValue } from '../types.js';
import { forEachOperation, isPlainObject, normalizeOperationName, SIDECAR_INFO_KEY } from './operations.js';
import { UniqueNames } from './unique-names.js';
import type { ImageIdentity, ImageRecord } from '../model/summary.js';
import { imageNamedBy } from '../discovery/pair.js';

/** Key of the record inside `sidecar_info`. */
export const IMAGE_IDENTITY_KEY = 'image';

export type IdentityState = 'current' | 'stale' | 'unknown';

export interface IdentityCheck {
  state: IdentityState;
  /** What differs (stale): 'size', 'mtime', 'sha256'; why unknown: 'no-record', 'image-unreadable'. */
  reasons: string[];
  recorded: ImageRecord | null;
  current: ImageIdentity | null;
}

/**
 * sha256 of a file's bytes (sync, streamed: images can be hundreds of MB). Links are followed (an
 * image may be one); a FIFO or device is refused, never waited on (fs/regular-file.ts).
 */
export function hashFileSync(path: string): string {
  const h = createHash('sha256');
  streamRegularFileSync(path, READ_FLAGS, (bytes) => h.update(bytes));
  return h.digest('hex');
}

/** The current identity of an image (symlinks followed). Throws the fs error when it cannot be stat'ed. */
export function currentImageIdentity(path: string, opts: { hash?: boolean } = {}): ImageIdentity {
  const st = statSync(path, { bigint: true });
  const id: ImageIdentity = { size: Number(st.size), mtimeNs: st.mtimeNs };
  if (opts.hash) id.sha256 = hashFileSync(path);
  return id;
}

const DECIMAL = /^(0|[1-9][0-9]{0,30})$/;
const HEX64 = /^[0-9a-f]{64}$/;

function exactInteger(v: unknown, signed = false): bigint | null {
  if (typeof v === 'string') return DECIMAL.test(v) || (signed && v.startsWith('-') && DECIMAL.test(v.slice(1))) ? BigInt(v) : null;
  if (typeof v === 'bigint') return v >= 0n || signed ? v : null;
  if (typeof v === 'number') return Number.isSafeInteger(v) && (v >= 0 || signed) ? BigInt(v) : null;
  return null;
}

function stringList(v: JsonValue | undefined): string[] {
  if (!Array.isArray(v)) return [];
  const out = new UniqueNames();
  for (const x of v) if (typeof x === 'string') out.add(normalizeOperationName(x));
  return out.list;
}

/** Parse a stored record; null when absent or unusable (wrong types, a rounded mtime). */
export function parseImageRecord(v: JsonValue | undefined): ImageRecord | null {
  if (!isPlainObject(v)) return null;
  const size = exactInteger(v.size);
  // A time before 1970 is negative (a camera clock never set, an archive's restored times): as saved.
  const mtime = exactInteger(v.mtime_ns, true);
  if (size === null || mtime === null || size > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  const rec: ImageRecord = { size: Number(size), mtimeNs: mtime, operations: stringList(v.operations), staleOperations: stringList(v.stale_operations) };
  const sha = v.sha256;
  if (typeof sha === 'string' && HEX64.test(sha.toLowerCase())) rec.sha256 = sha.toLowerCase();
  return rec;
}

/** The record of a decoded sidecar (`sidecar_info.image`), or null. */
export function recordedImage(data: JsonObject): ImageRecord | null {
  const info = isPlainObject(data) ? data[SIDECAR_INFO_KEY] : undefined;
  return isPlainObject(info) ? parseImageRecord(info[IMAGE_IDENTITY_KEY]) : null;
}

/** Same image: size and mtime equal, and the hashes when both sides have one. */
export function sameImage(a: ImageIdentity, b: ImageIdentity): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && (a.sha256 === undefined || b.sha256 === undefined || a.sha256 === b.sha256);
}

/** The JSON form stored in `sidecar_info.image`. */
export function imageRecordJson(rec: ImageRecord): JsonObject {
  const out: JsonObject = { size: rec.size, mtime_ns: rec.mtimeNs.toString() };
  if (rec.sha256 !== undefined) out.sha256 = rec.sha256;
  out.operations = [...rec.operations];
  if (rec.staleOperations.length > 0) out.stale_operations = [...rec.staleOperations];
  return out;
}

/**
 * Set `sidecar_info.image` of a sidecar being saved with the results of `saved` (one operation, or
 * a whole document's; none: the record stays as it is; see the table at the top). `current` null
 * (the image could not be stat'ed) removes the record: unknown, never wrong.
 */
export function recordImageIdentity(data: JsonObject, saved: string | readonly string[], current: ImageIdentity | null): void {
  const info = data[SIDECAR_INFO_KEY];
  if (!isPlainObject(info)) return;
  if (current === null) {
    delete info[IMAGE_IDENTITY_KEY];
    return;
  }
  // The operations this save's results are for (a whole document: those it changed, docs/PAIRING.md §9).
  const names = new UniqueNames();
  for (const op of typeof saved === 'string' ? [saved] : saved) names.add(normalizeOperationName(op));
  const ops = names.list;
  // Nothing computed now (a document sent back as read): the record stays as it was.
  if (ops.length === 0) return;
  const prior = parseImageRecord(info[IMAGE_IDENTITY_KEY]);
  const rec: ImageRecord = { ...current, operations: ops, staleOperations: [] };
  if (prior !== null && sameImage(prior, current)) {
    // The hash stays valid while size and mtime do (a save without hashing keeps it).
    if (rec.sha256 === undefined && prior.sha256 !== undefined) rec.sha256 = prior.sha256;
    rec.operations = [...prior.operations, ...ops.filter((op) => !prior.operations.includes(op))];
    rec.staleOperations = prior.staleOperations.filter((o) => !ops.includes(o));
  } else if (prior !== null) {
    const stale = new UniqueNames(rec.staleOperations);
    forEachOperation(data, (entry) => {
      if (!ops.includes(entry.name)) stale.add(entry.name);
    });
  }
  info[IMAGE_IDENTITY_KEY] = imageRecordJson(rec);
}

/** The image's identity now, or null when it cannot be stat'ed / read. */
export function tryCurrentImageIdentity(path: string, opts: { hash?: boolean } = {}): ImageIdentity | null {
  try {
    return currentImageIdentity(path, opts);
  } catch {
    return null;
  }
}

/**
 * Compare a sidecar's record with the image now; with `operation`, the freshness of that
 * operation's result.
 * - No record → unknown ('no-record'). Image cannot be stat'ed → unknown ('image-unreadable').
 * - Size or mtime differ → stale ('size', 'mtime'). With `verifyHash` and a recorded sha256 the
 *   hash decides instead (touched but same bytes → current; same size and mtime but other bytes →
 *   stale, 'sha256'); a different size still needs no read.
 * - Image unchanged: without `operation`, stale when any result was computed on an earlier
 *   version ('stale-operations'); with it: stale if the operation is listed in stale_operations,
 *   current if in operations, else unknown ('operation-not-recorded': saved before recording began).
 */
export function checkImageIdentity(
  imagePath: string,
  recorded: ImageRecord | null,
  opts: { verifyHash?: boolean; operation?: string } = {},
): IdentityCheck {
  if (recorded === null) return { state: 'unknown', reasons: ['no-record'], recorded: null, current: null };
  let current: ImageIdentity;
  try {
    current = currentImageIdentity(imagePath);
  } catch {
    return { state: 'unknown', reasons: ['image-unreadable'], recorded, current: null };
  }
  const reasons: string[] = [];
  if (current.size !== recorded.size) reasons.push('size');
  if (current.mtimeNs !== recorded.mtimeNs) reasons.push('mtime');
  if (opts.verifyHash && recorded.sha256 !== undefined && current.size === recorded.size) {
    try {
      current.sha256 = hashFileSync(imagePath);
    } catch {
      return { state: 'unknown', reasons: ['image-unreadable'], recorded, current };
    }
    reasons.length = 0; // the hash decides: a touched image with the same bytes is unchanged
    if (current.sha256 !== recorded.sha256) reasons.push('sha256');
  }
  if (reasons.length > 0) return { state: 'stale', reasons, recorded, current };
  if (opts.operation === undefined) {
    return recorded.staleOperations.length > 0
      ? { state: 'stale', reasons: ['stale-operations'], recorded, current }
      : { state: 'current', reasons: [], recorded, current };
  }
  const op = normalizeOperationName(opts.operation);
  if (recorded.staleOperations.includes(op)) return { state: 'stale', reasons: ['stale-operation'], recorded, current };
  if (recorded.operations.includes(op)) return { state: 'current', reasons: [], recorded, current };
  return { state: 'unknown', reasons: ['operation-not-recorded'], recorded, current };
}

/** JSON form of an identity for reports (mtime_ns as a decimal string, as stored). */
export function identityJson(id: ImageIdentity | null): JsonObject | null {
  if (id === null) return null;
  const out: JsonObject = { size: id.size, mtime_ns: id.mtimeNs.toString() };
  if (id.sha256 !== undefined) out.sha256 = id.sha256;
  return out;
}

/**
 * The image of `images` (a record's) a recorded name names (imageNamedBy): by its own name, else a
 * symlinked image by its target's (a save through a link records the target). Undefined: none.
 */
export function imageRecordedAmong<I extends { name: string; target?: string }>(named: string | null, images: readonly I[]): I | undefined {
  if (named === null) return undefined;
  const own = imageNamedBy(named, images.map((i) => i.name.normalize('NFC')));
  if (own >= 0) return images[own];
  const targets = imageNamedBy(named, images.map((i) => (i.target !== undefined ? fileNameOf(i.target).normalize('NFC') : '')));
  return targets >= 0 ? images[targets] : undefined;
}

/**
 * The file name of the image a sidecar says it was saved for: `sidecar_info.symlink_info.target_path`
 * (the resolved image, in our records and the pipeline's), else `sidecar_info.image_path`. Decides
 * which image a stem-form sidecar shared by several images (IMG_1.json beside IMG_1.jpg and
 * IMG_1.CR2) belongs to. Null when the file records no image.
 */
export function recordedImageName(data: JsonObject): string | null {
  const info = data.sidecar_info;
  if (typeof info !== 'object' || info === null || Array.isArray(info)) return null;
  const link = (info as JsonObject).symlink_info;
  const target = typeof link === 'object' && link !== null && !Array.isArray(link) ? (link as JsonObject).target_path : undefined;
  const p = typeof target === 'string' && target !== '' ? target : (info as JsonObject).image_path;
  if (typeof p !== 'string' || p === '') return null;
  const name = fileNameOf(p);
  return name === '' ? null : name.normalize('NFC');
}

/** The last segment of a recorded path, POSIX or Windows (records come from either). */
function fileNameOf(p: string): string {
  return p.slice(Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')) + 1);
}

export interface SidecarRecord {
  identity: ImageRecord | null;
  name: string | null;
  /** When it was last saved (`sidecar_info.last_updated`, ms since the epoch), null when it does not say (undefined: not read). */
  savedAt?: number | null;
}

/**
 * `sidecar_info.last_updated` in ms since the epoch, or null: only a time that names its offset
 * (ours always does); a naive one is the writer's local time, which this host cannot know.
 */
function recordedSaveTime(data: JsonObject): number | null {
  const info = data.sidecar_info;
  if (typeof info !== 'object' || info === null || Array.isArray(info)) return null;
  const at = (info as JsonObject).last_updated;
  if (typeof at !== 'string' || !/^\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:\d{2})$/.test(at)) return null;
  const ms = Date.parse(at);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * What a sidecar file records of its image: `sidecar_info.image` and the image's file name (mv, cp
 * and relink ask it of files they move). Null when the file cannot be read or decoded. `limits`:
 * the size and nesting a tree command's options admit (relink reads the orphans its scan found
 * under them; the defaults otherwise).
 */
export function readSidecarRecord(path: string, keyring?: Keyring, limits: { maxFileSize?: number; maxDepth?: number } = {}): SidecarRecord | null {
  try {
    const bytes = readFileLimitedSync(path, limits.maxFileSize);
    // The two members read here are a string and a safe integer: JSON.parse reads them exactly, at a
    // fraction of the lossless decoder's cost; any other file (bin, encrypted, odd JSON) goes through it.
    if (detectFormat(bytes) === 'json') {
      try {
        const data = JSON.parse(bytes.toString('utf8')) as JsonObject;
        return { identity: recordedImage(data), name: recordedImageName(data), savedAt: recordedSaveTime(data) };
      } catch {
        /* the decoder says what it is */
      }
    }
    const { data } = decodeSidecar(bytes, { path, keyring, maxFileSize: limits.maxFileSize, maxDepth: limits.maxDepth });
    return { identity: recordedImage(data as JsonObject), name: recordedImageName(data as JsonObject), savedAt: recordedSaveTime(data as JsonObject) };
  } catch {
    return null;
  }
}
