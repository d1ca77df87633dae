/**
 * Reading one image's sidecar. Unlike the earlier tool (which stopped at the first file that
 * existed, corrupt or not), a corrupt preferred file falls back to the next valid one, and a
 * sidecar that exists but cannot be read is an error — never a silent `{}`.
 */
import { errors, isOtherJson, isSidecarError, isWrongKey, READ_ERROR_CODES } from '../errors.js';
import { decodeSidecar, type DecodedSidecar } from '../formats/codec.js';
import type { JsonObject, Options, SidecarFormat } from '../types.js';
import { imageNameOnSide, locateSidecar, recordNamesAnotherImage, type SidecarCandidate, type SidecarLocation } from '../discovery/locate.js';
import { DEFAULT_MAX_FILE_SIZE, readFileLimitedSync, readFileWithStatSync } from '../fs/read-file.js';
import { identityOf, type FileIdentity } from '../fs/identity.js';
import { typedJsonText } from '../formats/json.js';
import { accelAvailable, plainJsonLine } from '../accel/decode.js';
import { recordedImageName } from '../analysis/image-identity.js';
import { cachedImageExtensionSet, nfc } from '../discovery/extensions.js';
import { imageNamedBy, leftBehindAmong, unrecordedStemFiles, withAmbiguousSharedLater, withUnrecordedStemLater } from '../discovery/pair.js';
import { isForeignData } from '../analysis/operations.js';
import { newerKeptCopies } from '../scan/kept-copies.js';
import { basename } from 'node:path';
import { lstatSync, statSync } from 'node:fs';

export interface ReadFinding {
  code: 'fallback' | 'ambiguous' | 'corrupt' | 'bom' | 'broken-symlink' | 'kept' | 'foreign' | 'left-behind' | string;
  message: string;
  path: string;
}

export interface ReadResult {
  /** The effective sidecar's data; `{}` when there is none. */
  data: JsonObject;
  /** The effective sidecar file, or null when there is none. */
  path: string | null;
  format: SidecarFormat | null;
  /** Key id when the effective sidecar is encrypted. */
  encryptedKeyId?: string;
  findings: ReadFinding[];
  location: SidecarLocation;
}

/**
 * Read and decode one sidecar file, refusing files above the size limit before reading them.
 * Throws SidecarError: NOT_FOUND, TOO_LARGE, CORRUPT, TOO_DEEP, IO...
 */
export async function readSidecarFile(path: string, opts: Options = {}): Promise<DecodedSidecar> {
  return decodeSidecarBytes(readLimited(path, opts), path, opts);
}

/** `readSidecarFile`, and the identity of exactly the bytes decoded (the fstat of the descriptor read). */
export function readSidecarFileWithIdentity(path: string, opts: Options = {}): { decoded: DecodedSidecar; identity: FileIdentity } {
  const { bytes, stat } = readFileWithStatSync(path, opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE);
  return { decoded: decodeSidecarBytes(bytes, path, opts), identity: identityOf(stat) };
}

/**
 * The `kept` finding's text. A copy modified after the file read is named as such (a tool writing
 * `<stem>.json` itself after a migration to `.bin` leaves its newest results in a file reads pass
 * over: bin first, docs/PAIRING.md §4).
 */
function keptMessage(read: string, kept: readonly string[]): string {
  const newer = newerKeptCopies(read, kept);
  const text = `copies kept beside ${read}, not read: ${kept.join(', ')} (image-sidecar resolve quarantines them once their content is in ${read})`;
  if (newer.length === 0) return text;
  return `${text}; ${newer.join(', ')} modified after ${read}: what it holds now is not what reads give`;
}

function noteFinding(note: string, path: string): ReadFinding {
  return { code: /\bBOM\b|byte order mark/i.test(note) ? 'bom' : 'note', message: note, path };
}

export async function readSidecarDetailed(imagePath: string, opts: Options = {}): Promise<ReadResult> {
  const r = await readEffective(imagePath, opts, (path) => decodedCandidate(readLimited(path, opts), path, opts), (read) => read);
  const { value, ...rest } = r;
  return { data: value ?? {}, ...rest };
}

/**
 * Which file a read of the image takes, with its findings, as `readSidecarDetailed` finds them, but
 * without the data: a candidate `vouched` gives a format for (a scan's inspection of it decoded and
 * is sidecar-shaped) is taken as decoded without reading it again. Every other candidate is read
 * and decoded as a read decodes it. For a tree command judging a pair image by image (common.ts).
 */
export async function readSidecarPath(imagePath: string, opts: Options, vouched: (path: string) => SidecarFormat | null): Promise<Omit<ReadResult, 'data'>> {
  const r = await readEffective<null>(
    imagePath,
    opts,
    (path) => {
      const format = vouched(path);
      if (format !== null) return { value: null, format, notes: [], foreign: false };
      return { ...decodedCandidate(readLimited(path, opts), path, opts), value: null };
    },
    (read) => ({ ...read, value: null }),
  );
  const { value: _none, ...rest } = r;
  return rest;
}

/** `readSidecarDetailed` with the data as typed JSON text on one line (`text`) instead of objects. */
export interface ReadTextResult extends Omit<ReadResult, 'data'> {
  /**
   * JSON text that keeps every number's type (`25.0`, exact big ints) and holds no line break:
   * what a JSON-lines server sends. A plain JSON sidecar the WebAssembly scanner vouches for is
   * its own bytes (src/accel/decode.ts `plainJsonLine`: no object is built); anything else is the
   * reference decode written back as typed JSON. `{}` when the image has no sidecar.
   */
  text: Buffer | string;
}

/** The effective sidecar as typed JSON text (the server's `read`): the same candidates, fallbacks and errors as `readSidecarDetailed`. */
export async function readSidecarText(imagePath: string, opts: Options = {}): Promise<ReadTextResult> {
  const r = await readEffective<Buffer | string>(imagePath, opts, (path) => {
    const bytes = readLimited(path, opts);
    // Only a file the tape shows sidecar-shaped is sent as its bytes; another tool's is decoded (and passed over).
    const line = opts.accel !== false && accelAvailable() ? plainJsonLine(bytes, { maxDepth: opts.maxDepth, maxFileSize: opts.maxFileSize, sidecarNamed: basename(path) }) : null;
    if (line) return { value: line, format: 'json', notes: [], foreign: false };
    const decoded = decodedCandidate(bytes, path, opts);
    return { ...decoded, value: typedJsonText(decoded.value) };
  }, (read) => ({ ...read, value: typedJsonText(read.value) }));
  const { value, ...rest } = r;
  return { text: value ?? '{}', ...rest };
}

interface CandidateRead<T> {
  value: T;
  format: SidecarFormat;
  notes: string[];
  encryptedKeyId?: string;
  /** Decodes but is not sidecar-shaped: another tool's file (docs/PAIRING.md §7), never the image's sidecar. */
  foreign: boolean;
}

/** Sync read: for small files it is several times faster than fs.promises (one call, no thread hops). */
function readLimited(path: string, opts: Options): Buffer {
  return readFileLimitedSync(path, opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE, undefined, opts.fastStat === true);
}

function decodeSidecarBytes(bytes: Buffer, path: string, opts: Options): DecodedSidecar {
  return decodeSidecar(bytes, { path, maxDepth: opts.maxDepth, maxFileSize: opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE, keyring: opts.keyring });
}

/** A candidate decoded by the reference, as `readEffective` takes it. */
function decodedCandidate(bytes: Buffer, path: string, opts: Options): CandidateRead<JsonObject> {
  const decoded = decodeSidecarBytes(bytes, path, opts);
  return { value: decoded.data, format: decoded.format, notes: decoded.notes, encryptedKeyId: decoded.encryption?.keyId, foreign: isForeignData(decoded.data, basename(path)) };
}

/**
 * The one reading rule: locate the image's candidates, take the first that decodes (`take` reads
 * one; CORRUPT moves on to the next, any other error stops), and report what was passed over.
 * A candidate shared with other images (IMG_1.json beside IMG_1.jpg and IMG_1.CR2) is decoded in
 * full (`fromDecoded` turns it into `take`'s form): when its record names another of them it is
 * that image's and is passed over; when it names none, it is read with an `ambiguous` finding.
 */
async function readEffective<T>(
  imagePath: string,
  opts: Options,
  take: (path: string) => CandidateRead<T>,
  fromDecoded: (read: CandidateRead<JsonObject>) => CandidateRead<T>,
): Promise<Omit<ReadResult, 'data'> & { value: T | null }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await readEffectiveOnce(imagePath, opts, take, fromDecoded);
    } catch (e) {
      // A candidate gone between the folder's listing and its read (a convert writes the new file,
      // then removes the old one; a resolve, a mv): the image's files are looked for again. Not a
      // sidecar link to nothing: the link is still there.
      const gone = isSidecarError(e) && e.code === 'NOT_FOUND' && e.path !== undefined && e.path !== imagePath && lstatSync(e.path, { throwIfNoEntry: false }) === undefined;
      if (!gone || attempt === READ_ATTEMPTS) throw e;
    }
  }
}

/** Looks at an image's files, as a read meets candidates removed under it. */
const READ_ATTEMPTS = 3;

async function readEffectiveOnce<T>(
  imagePath: string,
  opts: Options,
  take: (path: string) => CandidateRead<T>,
  fromDecoded: (read: CandidateRead<JsonObject>) => CandidateRead<T>,
): Promise<Omit<ReadResult, 'data'> & { value: T | null }> {
  const { location } = readOrderOf(await locateSidecar(imagePath, { imageExtensions: opts.imageExtensions }), opts);
  const findings: ReadFinding[] = [];
  if (location.broken) {
    findings.push({
      code: 'broken-symlink',
      message: `the symlink chain of ${location.imagePath} ends at a missing file, loops, or ends at something that is not a regular file: ${location.targetPath}`,
      path: location.imagePath,
    });
  }
  const { candidates } = location;
  // Another image with the same name in another Unicode form: names pair as NFC, its sidecars are this one's too.
  const twin = location.unicodeTwin;
  if (twin !== undefined) {
    findings.push({ code: 'ambiguous', message: `${twin} has the same name as ${location.targetPath} in another Unicode form: their sidecars are the same files, whose results they are cannot be told (rename one of them)`, path: twin });
  }

  const corrupt: { path: string; error: unknown }[] = [];
  // Stem files another image left behind (docs/PAIRING.md §3): passed over, named, never kept copies.
  const leftBehind = leftBehindOfImage(location, opts);
  for (const c of candidates) {
    const named = leftBehind?.get(c.path);
    if (named !== undefined) {
      findings.push(leftBehindFinding(c.path, named));
      continue;
    }
    let read: CandidateRead<T>;
    try {
      if (c.shared) {
        const decoded = decodedCandidate(readLimited(c.path, opts), c.path, opts);
        if (decoded.foreign) {
          findings.push(foreignFinding(c.path));
          continue;
        }
        const owner = ownerOf(decoded.value, location);
        if (owner === 'other') continue;
        if (owner === 'unknown') {
          findings.push({ code: 'ambiguous', message: `${c.path} belongs to ${[location.targetPath, ...location.siblings].join(', ')} alike (same stem) and records none of them; a save writes ${location.name}.<ext>, this image's own`, path: c.path });
        }
        read = fromDecoded(decoded);
      } else if (c.unverified) {
        // The folder's images came from a listing older than the folder: an image added since
        // (IMG_1.CR2) may be the one this stem file records.
        const decoded = decodedCandidate(readLimited(c.path, opts), c.path, opts);
        if (decoded.foreign) {
          findings.push(foreignFinding(c.path));
          continue;
        }
        if (recordNamesAnotherImage(location, recordedImageName(decoded.value), { imageExtensions: opts.imageExtensions })) continue;
        read = fromDecoded(decoded);
      } else {
        read = take(c.path);
        if (read.foreign) {
          findings.push(foreignFinding(c.path));
          continue;
        }
      }
    } catch (e) {
      // JSON that is not an object (an exiftool dump): another tool's file, passed over as one.
      if (isOtherJson(e)) {
        findings.push(foreignFinding(c.path));
        continue;
      }
      if (!isSidecarError(e) || e.code !== 'CORRUPT' || isWrongKey(e)) throw e;
      corrupt.push({ path: c.path, error: e });
      findings.push({ code: 'corrupt', message: e.message, path: c.path });
      continue;
    }
    for (const f of corrupt) {
      findings.push({
        code: 'fallback',
        message: `${f.path} is corrupt; read ${c.path} instead`,
        path: f.path,
      });
    }
    for (const note of read.notes) findings.push(noteFinding(note, c.path));
    const kept: typeof candidates = [];
    for (const k of candidates.slice(candidates.indexOf(c) + 1)) {
      if (k.shared || k.unverified || leftBehind?.has(k.path)) continue; // another image's or shared: no kept copy of this one's (not read)
      if (isForeignFile(k.path, opts)) findings.push(foreignFinding(k.path));
      else kept.push(k);
    }
    if (kept.length > 0) {
      findings.push({ code: 'kept', message: keptMessage(c.path, kept.map((k) => k.path)), path: kept[0].path });
    }
    const out: Omit<ReadResult, 'data'> & { value: T | null } = { value: read.value, path: c.path, format: read.format, findings, location };
    if (read.encryptedKeyId !== undefined) out.encryptedKeyId = read.encryptedKeyId;
    return out;
  }

  if (corrupt.length === 1) throw corrupt[0].error;
  if (corrupt.length > 1) {
    const detail = `every candidate sidecar is corrupt: ${corrupt.map((f) => (f.error as Error).message).join('; ')}`;
    throw errors.corrupt(detail, undefined, corrupt[0].error);
  }
  const unreachable = unreadableNameError(location);
  if (unreachable !== null) throw unreachable;
  return { value: null, path: null, format: null, findings, location };
}

/**
 * The image's stem files another image left behind (pair.ts leftBehindAmong), by path, with the
 * name each records; null when there are none. Read, save, mv and cp take the image's files by it.
 * A file is decoded here only where the image has files in both namings on one side (rare).
 */
export function leftBehindOfImage(location: SidecarLocation, opts: Options): Map<string, string> | null {
  let out: Map<string, string> | null = null;
  const exts = cachedImageExtensionSet(opts.imageExtensions);
  for (const side of ['target', 'link'] as const) {
    const files = location.candidates.filter((c) => c.side === side);
    // Beside a link, a save through it recorded the target's name: that name is this image's too.
    const names = side === 'target' ? [location.name] : [imageNameOnSide(location, side), location.name];
    const found = leftBehindAmong(
      files,
      names,
      exts,
      // A file of the image's, as the scan counts it (scan/finalize.ts): one read as ours, corrupt or
      // encrypted included; not another tool's, nor one that cannot be read at all.
      (c) => isOwnFile(c.path, opts),
      (c) => {
        try {
          return recordedImageName(decodedCandidate(readLimited(c.path, opts), c.path, opts).value);
        } catch {
          return null;
        }
      },
    );
    if (found !== null) for (const [c, named] of found) (out ??= new Map()).set(c.path, named);
  }
  return out;
}

/**
 * The location with its candidates in read order (docs/PAIRING.md §4): the image's own stem files
 * that record no image after its own name-ext file that records one or that this reader cannot
 * decode (pair.ts unrecordedStemFiles; a shared name-ext file is its own when its record names this
 * image), side by side; `movedLater` holds those stem files (null: nothing moved). Then, on each
 * side, the shared files recording none of the group's images after the shared files recorded for
 * this image (pair.ts withAmbiguousSharedLater). A file is decoded here only where the image has
 * files in both namings, or two shared files, on one side (rare), and once. Read and save take the
 * image's files in this order (`locateSidecar` gives them in name order).
 */
export function readOrderOf(location: SidecarLocation, opts: Options): { location: SidecarLocation; movedLater: ReadonlySet<SidecarCandidate> | null } {
  const looked = new Map<SidecarCandidate, { read: CandidateRead<JsonObject> } | { error: unknown }>();
  const look = (c: SidecarCandidate) => {
    let l = looked.get(c);
    if (l === undefined) {
      try {
        l = { read: decodedCandidate(readLimited(c.path, opts), c.path, opts) };
      } catch (error) {
        l = { error };
      }
      looked.set(c, l);
    }
    return l;
  };
  // Whose a shared file is, as the read takes it (readEffectiveOnce): one this reader cannot
  // decode says nothing and keeps its place (a corrupt one is passed over, any other stops the read there).
  const whose = (c: SidecarCandidate): 'mine' | 'ambiguous' | 'no-say' => {
    const l = look(c);
    if (!('read' in l) || l.read.foreign) return 'no-say';
    const owner = ownerOf(l.read.value, location);
    return owner === 'mine' ? 'mine' : owner === 'unknown' ? 'ambiguous' : 'no-say';
  };
  let later: Set<SidecarCandidate> | null = null;
  for (const side of ['target', 'link'] as const) {
    const found = unrecordedStemFiles(
      location.candidates.filter((c) => c.side === side),
      (c) => {
        // A shared name-ext file is the image's own when its record names it (§3).
        if (c.shared === true) return whose(c) === 'mine' ? 'records' : 'no-say';
        const l = look(c);
        // JSON that is not an object: another tool's file. (Folders, FIFOs and links to nothing are no candidates.)
        if (!('read' in l)) return isOtherJson(l.error) ? 'no-say' : 'unreadable';
        return l.read.foreign ? 'no-say' : recordedImageName(l.read.value) !== null ? 'records' : 'no-record';
      },
    );
    if (found !== null) for (const c of found) (later ??= new Set()).add(c);
  }
  let candidates = later === null ? location.candidates : withUnrecordedStemLater(location.candidates, later, (c) => whose(c) === 'mine');
  const shared = withAmbiguousSharedLater(candidates, whose);
  if (shared !== null) candidates = shared;
  return candidates === location.candidates ? { location, movedLater: later } : { location: { ...location, candidates }, movedLater: later };
}

/** A candidate passed over: another tool's file in a sidecar's name (docs/PAIRING.md §7). */
function foreignFinding(path: string): ReadFinding {
  return { code: 'foreign', message: `${path} is another tool's file (it decodes but holds no sidecar_info and no operation): passed over, not this image's sidecar; never written, converted or moved`, path };
}

/**
 * A sidecar name of the image that holds a folder, a FIFO or a link to nothing (a sidecar link into
 * a NAS that is offline, locate.ts notFiles): the error a read that finds no sidecar stops with, and
 * a save too (docs/PAIRING.md §1: the image's results are out of reach, never "none"). IO for what
 * is not a regular file, the link's own error (NOT_FOUND...) for a link; null when there is none.
 */
export function unreadableNameError(location: SidecarLocation): Error | null {
  for (const p of location.notFiles ?? []) {
    try {
      if (!statSync(p).isFile()) return errors.notRegularFile(p);
    } catch (e) {
      return errors.fromFs(e, p);
    }
  }
  return null;
}

/** Read as one of ours (corrupt or encrypted included), not another tool's file, nor one that cannot be read (tasks/inspect.ts: 'unreadable'). */
function isOwnFile(path: string, opts: Options): boolean {
  try {
    return !decodedCandidate(readLimited(path, opts), path, opts).foreign;
  } catch (e) {
    return !isOtherJson(e) && !(isSidecarError(e) && READ_ERROR_CODES.has(e.code));
  }
}

/** Does the file decode as another tool's file? A file that cannot be read or decoded is not (it stays a kept copy, as before). */
function isForeignFile(path: string, opts: Options): boolean {
  try {
    return decodedCandidate(readLimited(path, opts), path, opts).foreign;
  } catch (e) {
    return isOtherJson(e);
  }
}

/** A candidate passed over: a stem file another image of this stem left behind (docs/PAIRING.md §3). */
function leftBehindFinding(path: string, named: string): ReadFinding {
  return { code: 'left-behind', message: `${path} records ${named}, another image of this stem that is not here (moved or removed): passed over, not this image's sidecar (image-sidecar relink returns it to its image)`, path };
}

/**
 * Whose is a shared candidate (pair.ts sidecarsOfImage), by the image its record names: this
 * image's ('mine'), one of the other images of its group ('other'), or none of them ('unknown').
 */
export function ownerOf(data: JsonObject, loc: SidecarLocation): 'mine' | 'other' | 'unknown' {
  const named = recordedImageName(data);
  if (named === null) return 'unknown';
  const i = imageNamedBy(named, [nfc(loc.name), ...loc.siblings.map((s) => nfc(basename(s)))]);
  return i === 0 ? 'mine' : i > 0 ? 'other' : 'unknown';
}

/** The image's sidecar data, or `{}` when it has none. Throws CORRUPT when sidecars exist but none decodes. */
export async function readSidecar(imagePath: string, opts: Options = {}): Promise<JsonObject> {
  return (await readSidecarDetailed(imagePath, opts)).data;
}
