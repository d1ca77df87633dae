/**
 * saveSidecar: merge one operation's result into an image's sidecar, the way callers of the
 * earlier tool's save_data expect (other operations kept, sidecar_info maintained), but without
 * its data loss: under a per-sidecar lock, refusing whenever the current state is unclear
 * (corrupt or several candidates), and writing atomically.
 */
import { lstatSync, realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { errors, isOtherJson, isSidecarError, isWrongKey, SidecarError } from '../errors.js';
import { encodeSidecar, normalizeFormat } from '../formats/codec.js';
import { carryNote, cloneJson, putNote, type NumberNote } from '../formats/numbers.js';
import { noteKeyOrder, orderAdding, orderedKeys } from '../formats/key-order.js';
import type { FormatName, JsonObject, JsonValue, Options, SidecarExt, SidecarFormat, SidecarNaming, SidecarKey } from '../types.js';
import { folderSidecarFormat, imagesClaiming, locateSidecar, recordNamesAnotherImage, sidecarLockKeys, sidecarPathFor, type SidecarCandidate, type SidecarLocation } from '../discovery/locate.js';
import { sidecarRank } from '../discovery/pair.js';
import { nfc } from '../discovery/extensions.js';
import { hasReportContent, isForeignData, isReservedSidecarName, keyFormLike, keyFormOf } from '../analysis/operations.js';
import { configuredDefaultFormat } from '../discovery/config.js';
import { canonicalJson } from '../formats/canonical.js';
import type { DecodedSidecar } from '../formats/codec.js';
import { inQuarantine, QUARANTINE_DIR } from '../discovery/own-folders.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { DEFAULT_MAX_FILE_SIZE } from '../fs/read-file.js';
import { assertLockHeld, withSidecarLock } from '../fs/lock.js';
import { removeStaleTempFiles } from '../fs/temp-files.js';
import { leftBehindOfImage, readOrderOf, ownerOf, readSidecarFileWithIdentity, unreadableNameError } from './read.js';
import { isStillAsRead, type FileIdentity } from '../fs/identity.js';
import { encryptionKey } from '../crypto/keys.js';
import { isoTimestamp } from '../time.js';
import { IMAGE_IDENTITY_KEY, recordedImageName, recordImageIdentity, tryCurrentImageIdentity } from '../analysis/image-identity.js';

export interface SaveOptions extends Options {
  /**
   * The format to write (docs/PAIRING.md §9). An image whose sidecar is in another format keeps
   * that file untouched beside the new one (a JSON sidecar stays while saves go to `.bin`), as long
   * as reads will pick the new file; otherwise the save goes into the existing file in its own
   * format. Default: the `defaultFormat` of the nearest `.image-sidecar.json`, else
   * `defaultFormat` below, else the existing sidecar's format (the earlier tool's legacy layout
   * included), else the format most common in the folder, else 'bin'.
   */
  format?: FormatName;
  /** The format when neither `format` nor a configuration file names one (the earlier package's names: 'bin'). */
  defaultFormat?: FormatName;
  /**
   * Store `data` as one backend's result under the operation (`face_detection → {insightface:
   * …}`): the other backends' results are kept. Without it, a value that is a map of backend
   * results (an object whose every value is an object) is merged backend by backend too.
   */
  backend?: string;
  /**
   * Encrypt a NEW sidecar with the keyring's encryption key (default: true when `keyring` has one;
   * it then needs the bin format). An existing encrypted sidecar always stays encrypted.
   */
  encrypt?: boolean;
  /** Clock for sidecar_info timestamps. */
  now?: () => Date;
  /** Lock wait limit (default 60 s) and stale-lock age (default 5 s). */
  lockTimeoutMs?: number;
  lockStaleMs?: number;
  /**
   * 'operation' (default): data becomes doc[operation]. 'document': data is a whole sidecar (the
   * earlier tool's Python callers send the full merged document): its top-level keys are merged
   * key by key; its sidecar_info fields are merged except operation_type and created_at, which an
   * existing sidecar keeps; last_updated / last_operation / paths are maintained as for any save.
   */
  merge?: 'operation' | 'document';
  /** Also record the sha256 of the image bytes in sidecar_info.image (size and mtime always are). */
  hashImage?: boolean;
  /**
   * The number note of `data` when `data` is a bare number (formats/numbers.ts): a float written
   * `25.0`, or the exact value of an int beyond 2^53. A number's note lives on its container, and a
   * bare number has none: the CLI and the server take it from the text they parsed (`numberNoteOf`).
   */
  dataNote?: NumberNote;
  /**
   * A whole document's base (`merge: 'document'`): the sidecar as the caller read it before
   * building the document. An entry sent back as read is no change, so what another writer saved
   * since stays (two workers that each read, set their own operation and send the whole document
   * keep both results). Without it, the JSON copy kept beside a `.bin`, when there is one, is
   * taken as what the caller read.
   */
  base?: JsonObject;
}

export interface SaveResult {
  path: string;
  format: SidecarFormat;
  /** Key id when the sidecar is written encrypted. */
  encryptedKeyId?: string;
  /** False when the file already held exactly these bytes. */
  written: boolean;
  /** True when no sidecar existed before. */
  created: boolean;
  /**
   * The image's sidecar before this save, when the save wrote another file (a `.bin` beside a
   * JSON sidecar): kept untouched; reads now pick the file written.
   */
  kept?: string;
}

/** File extension for a new sidecar of this format. The earlier tool kept its layout in `.bin` files. */
function extFor(format: SidecarFormat): SidecarExt {
  return format === 'json' ? 'json' : format === 'rkyv' ? 'rkyv' : 'bin';
}

function isPlainObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A map of backend results (`{insightface: {...}, face_recognition: {...}}`): a non-empty object
 * whose every value is an object. A detector's own result always holds a flag, a list or a number
 * (`success`, `faces`, `objects`), so it is never taken for one.
 */
export function isBackendMap(v: JsonValue | undefined): v is JsonObject {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys.every((k) => isPlainObject(v[k]));
}

/** Same value and type (numbers by the number model: 25.0 is not 25). */
export function sameEntry(a: JsonObject, aKey: string, b: JsonObject, bKey: string): boolean {
  return valueText(a, aKey) === valueText(b, bKey);
}

/**
 * `obj[key]`'s value and type as text. With its own note (looked up under its own key: under 'v'
 * every note was missed, so 25 sent over a kept 25.0, or one exact int beyond 2^53 over another,
 * counted as unchanged).
 */
function valueText(obj: JsonObject, key: string): string {
  const box: JsonObject = { v: obj[key] };
  carryNote(obj, key, box, 'v');
  return canonicalJson(box);
}

/**
 * Put `value[key]` into `into[key]`. A backend map is merged backend by backend (each backend's
 * result replaced whole) into an existing object. `bases`: what the caller could have read of this
 * sidecar (the read it names, the JSON copy kept beside a `.bin`: a whole-document save is built
 * from one of them): an entry the caller sends back unchanged from one is no change, so a newer
 * value in `into` stays.
 */
function putEntry(into: JsonObject, from: JsonObject, key: string, bases: readonly JsonObject[], insideBackendMap = false): void {
  if (bases.some((base) => Object.hasOwn(base, key) && sameEntry(from, key, base, key))) return;
  const value = from[key];
  const current = Object.hasOwn(into, key) ? into[key] : undefined;
  // Into a map of backend results only, one level only: a backend's result is replaced whole, even
  // one holding only objects (an `{"error": {...}}`, a `{"by_player": {...}}`); so is a plain result
  // (`{"success": true, ...}`) by one holding only objects. Merged, a failed run kept the old
  // result's `success` and objects beside its error, and a player gone from a new result stayed.
  if (!insideBackendMap && isBackendMap(value) && isBackendMap(current)) {
    const baseMaps = bases.map((base) => base[key]).filter(isPlainObject);
    for (const b of orderedKeys(value)) putEntry(current, value, b, baseMaps, true);
    return;
  }
  setKey(into, key, value, from);
}

/**
 * Set data[operation] and maintain sidecar_info in place (key order of everything else kept:
 * an existing key is overwritten where it stands, new keys go last). `from`: the container the
 * value comes from, whose number note (25.0, an exact big int) goes with it (formats/numbers.ts);
 * without it the value has none, and a note `obj` held for the old value is dropped.
 */
function setKey(obj: JsonObject, key: string, value: JsonValue, from?: JsonObject): void {
  // A new key goes last, also among index-like keys (formats/key-order.ts).
  const order = orderAdding(obj, key);
  if (key === '__proto__') {
    // Plain assignment would call the prototype setter instead of creating the key.
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
  carryNote(from, key, obj, key);
  if (order !== null) noteKeyOrder(obj, order);
}

interface MergeHow {
  document: boolean;
  backend?: string;
  /** The caller's view of the sidecar (putEntry), when it is not the file merged into. */
  base?: JsonObject;
  /**
   * The JSON copy kept beside the file, when the caller names its own base: a document built from
   * that copy instead (the pipeline loads `<stem>.json` itself) sends its stale entries back as
   * the copy holds them, and they are no change either.
   */
  keptCopy?: JsonObject;
  /** `value`'s number note when it is a bare number (SaveOptions.dataNote). */
  note?: NumberNote;
}

/** `{ [key]: value }`, with `value`'s note when it is a bare number (a container holds a number's type). */
function holding(key: string, value: JsonValue, note: NumberNote | undefined): JsonObject {
  const box = {} as JsonObject;
  setKey(box, key, value);
  if (note !== undefined) putNote(box, key, note);
  return box;
}

/**
 * The operation a whole document's caller has just run when everything it sends is as it could
 * read it (each entry equal to the kept JSON's, or to the file saved into's: a document read from
 * the `.bin` carries the operations only the `.bin` holds): a save stamped now (its
 * `sidecar_info.last_updated` is not the JSON's: the pipeline stamps every save) that changes
 * nothing else saves its `sidecar_info.last_operation`'s result (the pipeline sets it to the
 * operation it ran, and names face_detection in the call for every operation but yolov8), equal to
 * the JSON's. Taken as "no change", a detector run again giving the first result after a failure
 * saved since (in the `.bin`) was dropped, and the image stayed failed for good. A document that
 * changes anything else says what it saves by that; one not stamped is a document sent back as
 * read. Otherwise undefined.
 */
function freshOperation(doc: JsonObject, bases: readonly JsonObject[], current: JsonObject): string | undefined {
  const info = isPlainObject(doc.sidecar_info) ? doc.sidecar_info : undefined;
  const last = info?.last_operation;
  if (info === undefined || typeof last !== 'string' || last === 'sidecar_info' || !Object.hasOwn(doc, last)) return undefined;
  const stampOf = (view: JsonObject) => (isPlainObject(view.sidecar_info) ? view.sidecar_info.last_updated : undefined);
  if (typeof info.last_updated !== 'string' || bases.some((base) => info.last_updated === stampOf(base))) return undefined;
  const asRead = (key: string, view: JsonObject) => Object.hasOwn(view, key) && sameEntry(doc, key, view, key);
  for (const key of Object.keys(doc)) if (key !== 'sidecar_info' && !bases.some((base) => asRead(key, base)) && !asRead(key, current)) return undefined;
  return last;
}

/** An entry's value and type as text (undefined: absent): what a save changed. */
function entryText(obj: JsonObject, key: string): string | undefined {
  return Object.hasOwn(obj, key) ? valueText(obj, key) : undefined;
}

/**
 * The operations a save's results are for, and the one `last_operation` names: the one asked,
 * or, for a whole document, those it changed (its fresh one too). The pipeline names
 * face_detection in the call for every document but yolov8's: credited to the call, a quality
 * run again on a changed image marked face_detection current and quality stale, for good.
 */
interface Saved {
  operations: string[];
  last: string;
}

function mergeOperation(existingAsRead: JsonObject, imagePath: string, loc: SidecarLocation, operation: string, sent: JsonValue, now: string, howAsSent: MergeHow): { merged: JsonObject; saved: Saved } {
  // The earlier tool's one-operation layouts with their result under its name (operations.ts
  // keyFormOf): the file, and a whole document read from such a file and the read it came from.
  const existing = keyFormOf(existingAsRead);
  const value = howAsSent.document && isPlainObject(sent) ? keyFormLike(sent, existingAsRead) : sent;
  const how = { ...howAsSent, base: howAsSent.base && keyFormOf(howAsSent.base), keptCopy: howAsSent.keptCopy && keyFormOf(howAsSent.keptCopy) };
  const prior = existing.sidecar_info;
  const info: JsonObject = isPlainObject(prior) ? prior : {};
  const saved: Saved = { operations: [operation], last: operation };
  if (how.document && isPlainObject(value)) {
    // The fresh operation's result is taken as sent; a backend map of several backends under it is
    // still merged against the kept JSON backend by backend (the backends it carries are the
    // JSON's; which one was computed, the document does not say).
    const baseInfo = how.base !== undefined && isPlainObject(how.base.sidecar_info) ? how.base.sidecar_info : undefined;
    const bases = [how.base, how.keptCopy].filter((b): b is JsonObject => b !== undefined);
    const fresh = bases.length === 0 ? undefined : freshOperation(value, bases, existing);
    const changed: string[] = [];
    for (const key of orderedKeys(value)) {
      if (key === 'sidecar_info') continue;
      const before = entryText(existing, key);
      // (A backend map holding one backend says which one ran: taken as sent too.)
      const asSent = key === fresh && (!isBackendMap(value[key]) || Object.keys(value[key]).length === 1);
      putEntry(existing, value, key, asSent ? [] : bases);
      if (key === fresh || entryText(existing, key) !== before) changed.push(key);
    }
    // `last_operation` is the one the call names, unless the document is stamped anew (its
    // last_updated is not the file's: the pipeline stamps every save) naming one it changed.
    // (Not the file's nor the kept JSON copy's: a document read from that copy and sent back carries its stamp.)
    const sent = isPlainObject(value.sidecar_info) ? value.sidecar_info : undefined;
    const stamped = typeof sent?.last_updated === 'string' && sent.last_updated !== info.last_updated && sent.last_updated !== baseInfo?.last_updated;
    const named = stamped ? sent!.last_operation : undefined;
    // The stamped document's operation was run now even when its result is the one held (a
    // deterministic run again on a changed image): credited, or todo asked for it again forever.
    if (typeof named === 'string' && named !== 'sidecar_info' && Object.hasOwn(value, named) && !changed.includes(named)) changed.push(named);
    saved.operations = changed;
    if (typeof named === 'string' && changed.includes(named)) saved.last = named;
    if (sent !== undefined) {
      for (const key of orderedKeys(sent)) {
        if ((key === 'operation_type' || key === 'created_at') && typeof info[key] === 'string') continue;
        if (baseInfo !== undefined && Object.hasOwn(baseInfo, key) && sameEntry(sent, key, baseInfo, key)) continue;
        // The image record is the library's (recordImageIdentity, below): a document read before
        // another save carries an older copy, which would drop that save's operation or mark it stale.
        if (key === IMAGE_IDENTITY_KEY) continue;
        setKey(info, key, sent[key], sent);
      }
    }
  } else if (how.backend !== undefined) {
    const current = Object.hasOwn(existing, operation) ? existing[operation] : undefined;
    if (current !== undefined && !isPlainObject(current)) {
      throw errors.conflict(`${imagePath}: nothing saved, "${operation}" holds a ${Array.isArray(current) ? 'list' : typeof current} where backend "${how.backend}" would go; save without a backend to replace it`, []);
    }
    // A result of its own (`{"success": true, "faces": [...]}`) is no map of backend results: a
    // backend put beside its fields left its `success` standing over the backend's failure.
    if (current !== undefined && Object.keys(current).length > 0 && !isBackendMap(current)) {
      throw errors.conflict(`${imagePath}: nothing saved, "${operation}" holds a result of its own (not a map of backend results) where backend "${how.backend}" would go; save without a backend to replace it`, []);
    }
    const map: JsonObject = current ?? {};
    setKey(map, how.backend, value, holding(how.backend, value, how.note));
    if (current === undefined) setKey(existing, operation, map);
  } else {
    putEntry(existing, holding(operation, value, how.note), operation, []);
  }
  if (typeof info.operation_type !== 'string') info.operation_type = operation;
  if (typeof info.created_at !== 'string') info.created_at = now;
  info.last_updated = now;
  info.last_operation = saved.last;
  // The pipeline's convention: the resolved image here, the path it came through in symlink_path.
  info.image_path = loc.targetPath;
  // A caller that resolved a link itself (the pipeline saves to the target) sends the link it came
  // through in its document: kept, unless the path we were given is that link, or the record would
  // then name another image (a document read from the RAW, an older name): the record says whose a
  // stem file is (docs/PAIRING.md §3), and a save never gives its file to another image.
  const given = how.document && isPlainObject(value) && isPlainObject(value.sidecar_info) ? value.sidecar_info : undefined;
  const named = recordedImageName({ sidecar_info: info });
  const namesAnother = named !== null && named !== nfc(loc.name);
  if (loc.isSymlink || given === undefined || typeof given.symlink_path !== 'string' || namesAnother) {
    info.symlink_path = imagePath;
    info.symlink_info = {
      symlink_path: imagePath,
      target_path: loc.targetPath,
      is_symlink: loc.isSymlink,
      broken: loc.broken,
    };
  }
  existing.sidecar_info = info;
  return { merged: existing, saved };
}

function checkArguments(operation: unknown, data: unknown, opts: SaveOptions): void {
  if (typeof operation !== 'string' || operation.length === 0) throw errors.usage('operation must be a non-empty string');
  if (operation === 'sidecar_info') throw errors.usage('"sidecar_info" is maintained by the library and cannot be saved as an operation');
  if (data === undefined) throw errors.usage(`no data given for operation "${operation}"`);
  if (opts.format !== undefined) normalizeFormat(opts.format); // USAGE for an unknown name
  if (opts.encrypt === true && !encryptionKey(opts.keyring)) throw errors.usage('encrypt: true needs a keyring with an encryption key');
  if (opts.merge !== undefined && opts.merge !== 'operation' && opts.merge !== 'document') {
    throw errors.usage(`unknown merge "${String(opts.merge)}" (operation or document)`);
  }
  if (opts.merge === 'document' && !isPlainObject(data as JsonValue)) throw errors.usage('a whole-document save needs an object');
  if (opts.naming !== undefined && opts.naming !== 'stem' && opts.naming !== 'name-ext') {
    throw errors.usage(`unknown naming "${String(opts.naming)}" (stem or name-ext)`);
  }
}

function refuseBroken(loc: SidecarLocation, imagePath: string): void {
  if (loc.broken) {
    if (loc.targetNotAFile) throw errors.usage(`${imagePath}: its target ${loc.targetPath} is not a regular file (a folder, a device...); nothing saved`);
    // NOT_FOUND as for any broken link (callers map it), with the reason: the path may well exist.
    if (loc.loops) throw new SidecarError('NOT_FOUND', `${imagePath}: its symlinks loop or pass 40 links (ELOOP), so it has no target; nothing saved`, { path: imagePath });
    throw errors.notFound(loc.targetPath, `target of the symlinked image ${imagePath} (broken link; nothing saved)`);
  }
  if (loc.unpairable) {
    throw errors.usage(`${imagePath}: ${loc.isSymlink ? `its target ${loc.targetPath}` : 'it'} is not named like an image (no extension, a hidden name, or a sidecar's name), so no sidecar pairs with it; nothing saved`);
  }
  // Another image with the same name in another Unicode form (é.jpg in NFC and in NFD, copied
  // from a Mac): names pair as NFC, so every sidecar of one is the other's too. Its save went into
  // the other's file, and a read of either gave the other's results.
  const twin = loc.unicodeTwin;
  if (twin !== undefined) {
    throw errors.conflict(`${imagePath}: another image has the same name in another Unicode form (${twin}); a sidecar cannot tell them apart, nothing saved: rename one of them`, [loc.targetPath, twin]);
  }
}

/**
 * A sidecar is never written into a quarantine: a scan never walks it, and a quarantined file
 * changed there no longer matches its manifest, so restore would refuse it. Checked on the real
 * path of the folder the bytes would land in (an image symlink, a folder link, or a link-side
 * candidate can all lead there), right before the write.
 */
function refuseQuarantine(target: string, imagePath: string): void {
  const dir = path.dirname(target);
  let real: string;
  try {
    real = realpathSync.native(dir);
  } catch {
    return; // the write itself reports a folder that is gone
  }
  if (!inQuarantine(real)) return;
  throw new SidecarError(
    'CONFLICT',
    `${imagePath}: nothing saved, its sidecar ${target} is inside a quarantine (${QUARANTINE_DIR}, under ${real}): restore the files first`,
    { path: target, details: { paths: [target, real] } },
  );
}

/**
 * The permissions of the file a save merged from, for a new file made from it (a save in another
 * format, or past a kept copy): a 0600 file of face embeddings is not copied into a 0644 one, as
 * convert keeps them too. Unknown (the file went meanwhile): the new file takes the umask's.
 */
function permissionsOf(file: string): { mode: number; uid: number; gid: number } | undefined {
  const st = statSync(file, { throwIfNoEntry: false });
  return st?.isFile() ? { mode: st.mode, uid: st.uid, gid: st.gid } : undefined;
}

/** Symlinked sidecars are read through, never written through (the link may lead anywhere, or be shared). */
function refuseLinkedSidecar(loc: SidecarLocation, imagePath: string): void {
  const link = loc.candidates.find((c) => c.isLink);
  if (!link) return;
  throw new SidecarError(
    'CONFLICT',
    `${imagePath}: nothing saved, its sidecar ${link.path} is a symlink; image-sidecar reads through sidecar links but never writes through them ` +
      `(replace the link by a copy of the file it points to, or save to the image whose sidecar it points to)`,
    { path: link.path, details: { paths: [link.path] } },
  );
}

export async function saveSidecar(imagePath: string, operation: string, data: JsonValue, opts: SaveOptions = {}): Promise<SaveResult> {
  checkArguments(operation, data, opts);
  const locateOpts = { imageExtensions: opts.imageExtensions };
  const first = await locateSidecar(imagePath, locateOpts);
  refuseBroken(first, imagePath);
  // One lock per folder the image's sidecars may be in (lock-key.ts), shared with convert.
  const keys = sidecarLockKeys(first);

  return withSidecarLock(
    keys,
    async (signal) => {
      // A writer that does not take the lock (a pipeline writing its sidecars itself) may replace
      // the sidecar between our read and our rename: then we read and merge again, a few times.
      for (let attempt = 1; ; attempt++) {
        try {
          return await saveLocked(signal);
        } catch (e) {
          if (!(e instanceof ChangedMeanwhile)) throw e;
          if (attempt >= SAVE_ATTEMPTS) throw errors.conflict(`the sidecar changed ${SAVE_ATTEMPTS} times while it was saved (a writer without the sidecar lock); nothing saved`, e.path ? [e.path] : []);
        }
      }
    },
    { timeoutMs: opts.lockTimeoutMs, staleMs: opts.lockStaleMs },
  );

  async function saveLocked(signal: AbortSignal): Promise<SaveResult> {
    // Look again under the lock: another writer may have created or replaced files meanwhile.
    const loc = await locateSidecar(imagePath, locateOpts);
    refuseBroken(loc, imagePath);
    if (sidecarLockKeys(loc).join('\0') !== keys.join('\0')) {
      throw errors.conflict('the image symlink was re-pointed while saving; nothing saved', [loc.imagePath, ...keys]);
    }
    refuseLinkedSidecar(loc, imagePath);
    const sentRecord = opts.merge === 'document' && isPlainObject(data) ? recordedImageName(data) : null;
    const { target, format, existing, readAs, encryptWith, effective, base } = chooseTarget(loc, imagePath, opts, sentRecord);
    const now = isoTimestamp((opts.now ?? (() => new Date()))());
    const { merged, saved } = mergeOperation(existing, imagePath, loc, operation, data, now, { document: opts.merge === 'document', backend: opts.backend, ...basesOf(opts.base, readFrom(data, existing, base)), note: opts.dataNote });
    // A games list at the top (or under `data`) is a folder report's (docs/PAIRING.md §7): reads
    // would pass over the file as another tool's, and the image's results would be lost from view.
    if (hasReportContent(merged)) {
      throw errors.usage(`${imagePath}: nothing saved, a "games" list ${Array.isArray(merged.games) ? 'at the top level' : 'under "data"'} is what a folder's game report holds (docs/PAIRING.md §7): reads would take the sidecar for a report and pass over it; save the list inside an operation's result (game_detection: {"games": [...]})`);
    }
    // What the results were computed from: stale detection compares it with the image later.
    recordImageIdentity(merged, saved.operations, tryCurrentImageIdentity(loc.targetPath, { hash: opts.hashImage }));
    // UNREPRESENTABLE / TOO_DEEP are thrown here, before anything is written.
    const bytes = encodeSidecar(merged, format, { path: target, maxDepth: opts.maxDepth, encryptWith });
    // A sidecar above the read limit could never be read back: refuse it before writing anything.
    const limit = opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
    if (bytes.length > limit) throw errors.tooLarge(bytes.length, limit, target);

    refuseQuarantine(target, imagePath);
    // Nor merged from one (a quarantined file copied back out would dodge restore).
    if (effective !== null && effective.path !== target) refuseQuarantine(effective.path, imagePath);
    assertLockHeld(signal, keys[0]);
    // Leftovers of writers that died mid-write on this sidecar (only its names are stat'ed), and in
    // every folder this save locks, the stale-lock asides of takers killed mid-takeover: a symlinked
    // image's own folder (a game folder) holds its locks but never a sidecar written here, so
    // nothing else ever swept an aside left there.
    const targetDir = path.dirname(target);
    await removeStaleTempFiles(targetDir, { targetPrefixes: [path.basename(target)] }).catch(() => undefined);
    for (const dir of new Set(keys.map((k) => path.dirname(k)))) {
      if (dir !== targetDir) await removeStaleTempFiles(dir, { targetPrefixes: [] }).catch(() => undefined);
    }
    // noFollow: a link planted at the target since we looked is refused, never written through;
    // beforeRename: the lock is still ours and the target still the file merged from (or still absent).
    const { written } = await writeFileAtomic(target, bytes, {
      noFollow: true,
      like: effective !== null && effective.path !== target ? permissionsOf(effective.path) : undefined,
      beforeRename: () => {
        assertLockHeld(signal, keys[0]);
        if (!isStillAsRead(target, readAs)) throw new ChangedMeanwhile(target);
      },
    });
    const result: SaveResult = { path: target, format, written, created: effective === null };
    if (encryptWith) result.encryptedKeyId = encryptWith.id;
    if (effective !== null && effective.path !== target) result.kept = effective.path;
    return result;
  }
}

/**
 * The base of a whole-document save's three-way merge, unless the document was plainly read from
 * the file saved into: its `sidecar_info.last_updated` is that file's and not the JSON copy's. A
 * caller that read the effective sidecar (the library's read) and set an entry back to the value
 * the kept JSON happens to hold (a detector run again giving the first result) changed it; taken
 * against the JSON, that change was dropped.
 */
function readFrom(data: JsonValue, existing: JsonObject, base: JsonObject | undefined): JsonObject | undefined {
  if (base === undefined || !isPlainObject(data)) return base;
  const stamp = (doc: JsonObject | JsonValue | undefined) => (isPlainObject(doc) && isPlainObject(doc.sidecar_info) && typeof doc.sidecar_info.last_updated === 'string' ? doc.sidecar_info.last_updated : undefined);
  const sent = stamp(data);
  return sent !== undefined && sent === stamp(existing) && sent !== stamp(base) ? undefined : base;
}

/** The caller's base when it names one, with the kept JSON copy beside it; else the kept copy as the base. */
function basesOf(named: JsonObject | undefined, keptCopy: JsonObject | undefined): { base?: JsonObject; keptCopy?: JsonObject } {
  if (named === undefined || !isPlainObject(named)) return { base: keptCopy };
  return keptCopy === undefined ? { base: named } : { base: named, keptCopy };
}

interface SaveTarget {
  target: string;
  format: SidecarFormat;
  /** The data merged into (the effective sidecar's, or {}). */
  existing: JsonObject;
  /** The file merged from, when the target is that file: checked again right before the rename. */
  readAs: FileIdentity | null;
  encryptWith: SidecarKey | undefined;
  effective: SidecarCandidate | null;
  base: JsonObject | undefined;
}

/**
 * Read order of a target-side candidate by name (pair.ts sidecarsOfImage): own files before shared
 * ones. For a name that holds a file, chooseTarget compares where the read order puts it
 * (readOrderOf: an unrecorded stem file after the image's own name-ext files, an ambiguous shared
 * file after the shared files recorded for the image); this rank is for names that hold none. An
 * ambiguous effective file is never saved into, and the file written, recorded for the image,
 * ranks before it (chooseTarget's `undecided`).
 */
function readRank(c: { naming: SidecarNaming; ext: SidecarExt; shared?: boolean }): number {
  return (c.shared ? 10 : 0) + sidecarRank(c);
}

/**
 * The file a save writes: the one reads will pick next (docs/PAIRING.md §9). The image's effective
 * sidecar (its first own file that decodes) is merged from; the save writes the requested format
 * in the image's own slot (stem form, or name-ext when other images share the stem, unless the
 * image owns a shared stem file: `keepsStemForm`) when that
 * file ranks before the effective one in read order, and into the effective file otherwise — never
 * into a shared one whose record does not name the image (ambiguous: a file of its own is written,
 * which reads then take first). A name holding a file that is not the image's is never written: the
 * next free one is (freeSlot). An own file ahead of the effective one that cannot be read stops the
 * save with its error, and so does a shared one the new file would be read after.
 */
function chooseTarget(located: SidecarLocation, imagePath: string, opts: SaveOptions, sentRecord: string | null): SaveTarget {
  const { location: loc, movedLater } = readOrderOf(located, opts);
  // The stem file the read order moved after name-ext file `c`, if any: it moves after every own
  // name-ext file of its side (pair.ts withUnrecordedStemLater).
  const movedAfter = (c: SidecarCandidate) => (movedLater === null || c.naming !== 'name-ext' || c.shared === true ? undefined : [...movedLater].find((m) => m.side === c.side));
  let effective: SidecarCandidate | null = null;
  let decoded: DecodedSidecar | undefined;
  let identity: FileIdentity | null = null;
  let jsonView: JsonObject | undefined;
  const document = opts.merge === 'document';
  // What a reader of JSON alone sees (the pipeline reads `<stem>.json`): a whole-document save is
  // built from it, so what it sends back unchanged from it is no change — unless it is another
  // image's file (below).
  let jsonViewPath: string | undefined;
  // Another tool's files in the image's sidecar names (Takeout's IMG_1.jpg.json): never merged from, never written.
  const foreign = new Set<string>();
  // The stem slot holds a file that is not this image's: an image added since the folder was listed
  // owns it, or another image left it behind. A new file of this image's is then name-ext.
  let stemNotOurs = false;
  const leftBehind = leftBehindOfImage(loc, opts);
  // A shared file whose record names another image ranks before the effective one (the loop reads
  // no further): only such a file could come first once the share ends.
  let othersFileFirst = false;
  // A corrupt shared file passed over (a read stops with its error when no file of this image's follows it).
  let corruptShared: unknown = null;
  for (const c of loc.candidates) {
    if (effective !== null && (!document || jsonView !== undefined)) break;
    let read: { decoded: DecodedSidecar; identity: FileIdentity };
    try {
      // Corrupt → CORRUPT, encrypted without a key → ENCRYPTED: nothing is touched (the earlier
      // tool overwrote a corrupt file with {}; we never replace encrypted data with plaintext).
      read = readSidecarFileWithIdentity(c.path, opts);
    } catch (e) {
      // A file after the effective one is not read.
      if (effective !== null) continue;
      // JSON that is not an object (an exiftool dump): another tool's file, as below.
      if (isOtherJson(e)) {
        foreign.add(nfc(c.path));
        continue;
      }
      // A corrupt shared file holds nothing to merge: passed over to a file of this image's (below).
      // Not one the key given cannot open: it holds data, and a read stops there (a save built on
      // the older copy after it would hide that data from every later read).
      if (c.shared && isSidecarError(e) && e.code === 'CORRUPT' && !isWrongKey(e)) {
        corruptShared ??= e;
        continue;
      }
      // One that cannot be decrypted or read may be this image's (its record says whose): a new own
      // file would hide that data from every later read, key or no key.
      const passed = movedAfter(c);
      if (passed !== undefined && isSidecarError(e)) {
        // Put ahead of the old JSON by the read order (docs/PAIRING.md §4): say why the save stops
        // on it (the error's own advice stands: a key, a limit; a corrupt copy is finished or moved away).
        const advice = e.code === 'CORRUPT' ? '; finish it or move it away to save' : '';
        throw new SidecarError(e.code, `${e.message} (nothing saved: it ranks before ${passed.path}, which records no image: docs/PAIRING.md §4${advice})`, { path: e.path, details: e.details, cause: e });
      }
      throw e;
    }
    if (isForeignData(read.decoded.data, path.basename(c.path))) {
      foreign.add(nfc(c.path));
      continue;
    }
    // Another image's file (shared and recorded for it, recorded for an image added since the folder
    // was listed, or left behind) is the base only when the document carries its record: the caller
    // read it (the pipeline reads `<stem>.json` for the RAW too), and what it echoes is no change.
    // Otherwise an entry equal to that image's would count as no change, and this image's own result
    // would be dropped.
    const recorded = recordedImageName(read.decoded.data);
    const addedImages = c.unverified === true && recordNamesAnotherImage(loc, recorded, { imageExtensions: opts.imageExtensions });
    const othersFile = (c.shared === true && ownerOf(read.decoded.data, loc) === 'other') || addedImages || leftBehind?.has(c.path) === true;
    const echoed = !othersFile || (sentRecord !== null && sentRecord === recorded);
    if (document && c.ext === 'json' && c.naming === 'stem' && c.side === 'target' && jsonView === undefined && echoed) {
      jsonView = cloneJson(read.decoded.data);
      jsonViewPath = c.path;
    }
    if (effective !== null) continue;
    if (c.shared && othersFile) {
      othersFileFirst = true;
      continue;
    }
    if (addedImages) {
      stemNotOurs = true; // another image, added since the folder was listed, owns this stem file
      continue;
    }
    if (leftBehind?.has(c.path)) {
      // Another image's file, left behind when it moved (docs/PAIRING.md §3): never merged into; it
      // holds the stem slot where a new file of this image's would go.
      if (c.side === 'target') stemNotOurs = true;
      continue;
    }
    effective = c;
    decoded = read.decoded;
    identity = read.identity;
  }
  // No file of this image's: a save stops where a read of it does (a corrupt shared file, a sidecar
  // name holding a folder, a FIFO or a link to nothing), never hiding what it cannot read behind a
  // new own file (docs/PAIRING.md §9).
  if (effective === null) {
    if (corruptShared !== null) throw corruptShared;
    const unreachable = unreadableNameError(loc);
    if (unreachable !== null) throw unreachable;
  }

  const configured = configuredDefaultFormat(loc.dir);
  const asked = opts.format ?? configured ?? opts.defaultFormat;
  const keyOf = decoded?.encryption?.key;
  const encryptWith = effective !== null ? keyOf : opts.encrypt === false ? undefined : encryptionKey(opts.keyring);
  // A new file is encrypted when a key is given, as a new sidecar is, even beside a plaintext one it
  // merges from (`write -f bin` beside a plaintext .json wrote the new embeddings to a plaintext .bin).
  const newFileKey = keyOf ?? (opts.encrypt === false ? undefined : encryptionKey(opts.keyring));
  // An encrypted sidecar is bin, and so is an encrypted new one.
  let format: SidecarFormat =
    asked !== undefined ? normalizeFormat(asked) : encryptWith ? 'bin' : decoded !== undefined ? decoded.format : (folderSidecarFormat(loc.dir) ?? 'bin');
  if (encryptWith && format !== 'bin') {
    if (asked !== undefined && effective !== null) format = 'bin';
    else throw errors.usage(`a key was given, so the new sidecar would be encrypted, and only the bin format can be (asked: ${format}); a plaintext file is written only without a key`);
  }
  // The images a stem-form file of this image would belong to: more than one (or one added since
  // the folder was listed owns a stem file), and the image's own file is name-ext. (The group, and
  // so the claimants, are the same for every sidecar extension.)
  const claimants = imagesClaiming(loc, sidecarPathFor(loc, 'bin', 'stem'), { imageExtensions: opts.imageExtensions });
  // Unless the image's results already sit in the stem form, in a shared file whose record names it
  // (saved before its RAW arrived, or by the earlier tool): saves then stay in that form — in the
  // asked format's stem file when that name is free, else into that file itself — never in a
  // name-ext copy, which is read first only while the share lasts: once it ends (the RAW deleted)
  // the stem file ranks first again and hides the newer results. Not when:
  // - an image claims the file by its whole name (`A.jpg` for `A.jpg.json`, the stem file of `A.jpg.png`): that is its slot;
  // - another image's stem file ranks before it (the RAW's IMG_1.bin beside the JPEG's IMG_1.json):
  //   only the JPEG's own name-ext file keeps that file out of its reads once the RAW is gone (left behind, §3).
  // (`naming` decides for a new sidecar only, as for an image alone: this one has its sidecar.)
  const keepsStemForm =
    !stemNotOurs &&
    !othersFileFirst &&
    effective?.side === 'target' &&
    effective.naming === 'stem' &&
    effective.shared === true &&
    decoded !== undefined &&
    ownerOf(decoded.data, loc) === 'mine' &&
    !claimants.some((p) => nfc(path.basename(p)) === nfc(loc.stem));
  // Whatever holds the asked format's stem name (a kept copy, a folder, another tool's file): the
  // file it owns is the safe place, where an unshared image's save would stop with CONFLICT.
  const keepsInEffective = keepsStemForm && effective !== null && !stemSlotFree(loc, effective, extFor(format)); // (null: for the type checker)
  const stemShared = !keepsStemForm && (stemNotOurs || claimants.length > 1);
  if (stemShared && opts.naming === 'stem') {
    // A stem file another image left behind is what takes the slot: say so, not "shared".
    const taken = leftBehind === null ? undefined : [...leftBehind].find(([p]) => path.dirname(p) === loc.dir);
    const why = taken !== undefined ? `the stem-form file ${taken[0]} is another image's (it records ${taken[1]}: left behind, docs/PAIRING.md §3)` : `a stem-form sidecar would belong to ${claimants.join(', ')} (same stem)`;
    throw new SidecarError('AMBIGUOUS', `${imagePath}: nothing saved, ${why}; save without naming "stem" to write ${loc.name}.${extFor(format)}, this image's own`, {
      path: sidecarPathFor(loc, extFor(format), 'stem'),
      details: { paths: claimants },
    });
  }
  const naming: SidecarNaming = stemShared ? 'name-ext' : keepsStemForm ? 'stem' : effective !== null && effective.side === 'target' && !effective.shared ? effective.naming : (opts.naming ?? 'stem');
  const baseFor = (target: string) => (jsonViewPath !== target ? jsonView : undefined);
  // A slot may be shared: `A.jpg.bin`, A.jpg's name-ext file, is the stem file of an image
  // `A.jpg.png` too (or will be once written, beside `A.jpg.png.mov`). It then ranks where reads
  // take it (after the image's unshared files), and the save must not land there unseen.
  const slotOf = (s: { naming: SidecarNaming; ext: SidecarExt }) => {
    const target = sidecarPathFor(loc, s.ext, s.naming);
    const at = loc.candidates.find((c) => c.side === 'target' && c.path === target);
    return { ...s, target, at, shared: at !== undefined ? at.shared === true : imagesClaiming(loc, target, { imageExtensions: opts.imageExtensions }).length > 1 };
  };
  // A shared effective file whose record does not name this image names none of the group's images
  // (another image's is passed over above): ambiguous, each image's until it saves its own (§3). It
  // is merged from, never written into (a save never claims it for this image), and once the image
  // has a file recorded for it, reads take that one first (§4, read.ts readOrderOf).
  const undecided = effective !== null && effective.shared === true && decoded !== undefined && ownerOf(decoded.data, loc) !== 'mine';
  // The requested file would not be read before the effective one (a file there is read where the
  // read order puts it: an unrecorded stem file may rank after a name-ext file, §4), or the effective
  // one lies beside the image's link (the target side has none of its files): save into it, as it
  // is — a shared one only when its record names this image (never claimed by a save).
  const readAfter = (s: { naming: SidecarNaming; ext: SidecarExt; shared?: boolean; at?: SidecarCandidate }, e: SidecarCandidate) =>
    s.at !== undefined ? loc.candidates.indexOf(s.at) > loc.candidates.indexOf(e) : readRank(s) >= readRank(e);
  const intoEffective = (s: { naming: SidecarNaming; ext: SidecarExt; shared?: boolean; at?: SidecarCandidate } | null) =>
    effective !== null && decoded !== undefined && (effective.side === 'link' || s === null || s.at === effective || readAfter(s, effective)) && !undecided;
  // Names that hold a file that is not this image's, never written: another tool's files (§7), and
  // the target side's shared files but the image's own effective one (recorded for another image,
  // for none, or not readable: writing one would take another image's, or an undecided, sidecar).
  const held = new Map<string, () => string>();
  for (const p of foreign) held.set(p, () => `${p} (another tool's file)`);
  // Names reads never take for an image's sidecar (Game_Detection.JPG's stem file is the folder's
  // report, .image-sidecar.jpg's JSON the folder's configuration): the image's file is name-ext.
  for (const naming of ['stem', 'name-ext'] as const) {
    for (const ext of ['bin', 'rkyv', 'json'] as const) {
      const p = sidecarPathFor(loc, ext, naming);
      if (isReservedSidecarName(path.basename(p))) held.set(nfc(p), () => `${p} (a folder report's or the configuration's name: docs/PAIRING.md §7)`);
    }
  }
  for (const c of loc.candidates) if (c.side === 'target' && c.shared === true && (c !== effective || undecided)) held.set(nfc(c.path), () => heldShared(loc, c, opts));
  let slot: (ReturnType<typeof slotOf> & { format: SidecarFormat }) | null = null;
  if (!keepsInEffective && !intoEffective(slotOf({ naming, ext: extFor(format) }))) {
    try {
      const free = freeSlot(loc, { naming, ext: extFor(format) }, format, { stemShared, encrypted: newFileKey !== undefined, held, imagePath });
      slot = { ...slotOf(free), format: free.format };
    } catch (e) {
      // Every free name held by a file not ours: only our own file is left, never an undecided one.
      if (effective === null || undecided) throw e;
    }
  }
  if (slot === null || intoEffective(slot)) {
    if (effective === null || decoded === undefined) throw errors.conflict(`${imagePath}: nothing saved, no name is free for its sidecar`, []);
    return { target: effective.path, format: decoded.format, existing: decoded.data, readAs: identity, encryptWith, effective, base: baseFor(effective.path) };
  }
  // (freeSlot never gives a name `held` holds: a shared file that is not this image's is not written.)
  const target = slot.target;
  // The file written must be the one the next read takes (§9). After an undecided effective file
  // (which then ranks after it, §4), a shared file between the two in name order that this reader
  // cannot decode would stop that read (a corrupt one is passed over, another image's too): it may
  // be this image's, and the new file would hide it. Such a file stops the save, as a read stops on it.
  if (undecided && effective !== null && effective.side === 'target' && slot.shared) {
    for (const c of loc.candidates.slice(loc.candidates.indexOf(effective) + 1)) {
      if (c.side !== 'target' || c.shared !== true || readRank(c) >= readRank(slot)) continue;
      try {
        readSidecarFileWithIdentity(c.path, opts);
      } catch (e) {
        if (isOtherJson(e) || (isSidecarError(e) && e.code === 'CORRUPT')) continue; // passed over by a read
        if (!isSidecarError(e)) throw e;
        throw new SidecarError(e.code, `${e.message} (nothing saved: it would be read before ${target}, this image's new sidecar, and may be this image's: docs/PAIRING.md §4, §9)`, { path: e.path, details: e.details, cause: e });
      }
    }
  }
  // A folder (or FIFO, socket, device) in the slot's name is no candidate: the write would find it
  // there each time and end as 'changed 3 times while it was saved'. Say what it is.
  const inTheWay = slot.at === undefined ? lstatSync(target, { throwIfNoEntry: false }) : undefined;
  if (inTheWay !== undefined && (inTheWay.isDirectory() || !(inTheWay.isFile() || inTheWay.isSymbolicLink()))) {
    throw errors.conflict(`${imagePath}: nothing saved, its sidecar ${target} is ${inTheWay.isDirectory() ? 'a directory' : 'not a regular file (a FIFO, socket or device)'}; move it away to save`, [target]);
  }
  if (newFileKey !== undefined && slot.format !== 'bin') {
    throw errors.usage(`a key was given, so ${target}, a new sidecar beside ${effective?.path ?? 'none'}, would be encrypted, and only the bin format can be (asked: ${slot.format}); a plaintext file is written only without a key`);
  }
  return { target, format: slot.format, existing: decoded?.data ?? {}, readAs: null, encryptWith: newFileKey, effective, base: baseFor(target) };
}

/**
 * Is the image's stem file in format `ext` the effective file, or a name nothing holds (no candidate
 * in any Unicode spelling, nothing on disk in this one)? Another file there — a kept copy, another
 * tool's, a corrupt one, a folder or a link — leaves the save in the effective file.
 */
function stemSlotFree(loc: SidecarLocation, effective: SidecarCandidate, ext: SidecarExt): boolean {
  const slot = sidecarPathFor(loc, ext, 'stem');
  if (nfc(effective.path) === nfc(slot)) return true;
  if (loc.candidates.some((c) => c.side === 'target' && nfc(c.path) === nfc(slot))) return false;
  return lstatSync(slot, { throwIfNoEntry: false }) === undefined;
}

/**
 * The image's slot for a save, when a file that is not this image's holds the one asked for
 * (docs/PAIRING.md §9): another tool's file, or a shared file recorded for another image or for none
 * (`held`). The same format in the other naming (`IMG_1.jpg.json` taken → `IMG_1.json`), else the
 * first free slot in read order (stem, then name-ext; bin, rkyv, json), in that slot's format. A
 * stem-form slot is never taken when another image shares the stem, nor a non-bin one for an
 * encrypted save. Every slot taken: CONFLICT, nothing saved, naming what holds each.
 */
function freeSlot(
  loc: SidecarLocation,
  asked: { naming: SidecarNaming; ext: SidecarExt },
  format: SidecarFormat,
  how: { stemShared: boolean; encrypted: boolean; held: ReadonlyMap<string, () => string>; imagePath: string },
): { naming: SidecarNaming; ext: SidecarExt; format: SidecarFormat } {
  const isFree = (naming: SidecarNaming, ext: SidecarExt) => !how.held.has(nfc(sidecarPathFor(loc, ext, naming)));
  if (isFree(asked.naming, asked.ext)) return { ...asked, format };
  const other: SidecarNaming = asked.naming === 'stem' ? 'name-ext' : 'stem';
  const tries: { naming: SidecarNaming; ext: SidecarExt }[] = [{ naming: other, ext: asked.ext }];
  for (const naming of ['stem', 'name-ext'] as const) for (const ext of ['bin', 'rkyv', 'json'] as const) tries.push({ naming, ext });
  for (const t of tries) {
    if ((t.naming === 'stem' && how.stemShared) || (how.encrypted && t.ext !== 'bin') || !isFree(t.naming, t.ext)) continue;
    return { ...t, format: t.ext === asked.ext ? format : t.ext };
  }
  const taken = [...how.held.keys()];
  const limits = [how.stemShared ? 'its stem-form names are shared with another image' : '', how.encrypted ? 'an encrypted save writes .bin names only' : ''].filter((x) => x !== '');
  throw new SidecarError(
    'CONFLICT',
    `${how.imagePath}: nothing saved, every name its sidecar could have holds a file that is not this image's: ${[...how.held.values()].map((why) => why()).join(', ')}${limits.length > 0 ? ` (${limits.join('; ')})` : ''}; move one of them aside, or rename an image, to save`,
    { path: taken[0], details: { paths: taken } },
  );
}

/** A shared file a save does not write, said for its CONFLICT: which images claim it and whose its record says it is. */
function heldShared(loc: SidecarLocation, c: SidecarCandidate, opts: SaveOptions): string {
  const others = imagesClaiming(loc, c.path, { imageExtensions: opts.imageExtensions }).filter((i) => i !== loc.targetPath);
  let whose: string;
  try {
    const named = recordedImageName(readSidecarFileWithIdentity(c.path, opts).decoded.data);
    whose = named === null ? 'its record names no image' : `its record names ${named}`;
  } catch (e) {
    whose = `it cannot be read here${isSidecarError(e) ? ` (${e.code})` : ''}`;
  }
  return `${c.path} (claimed by ${others.join(', ')} too; ${whose})`;
}

/** Reads and merges a save makes before it gives up (a writer without the lock kept replacing the file). */
const SAVE_ATTEMPTS = 3;

/** The target is no longer the file the merge was made from: read and merge again (a SidecarError: the atomic write passes it through). */
class ChangedMeanwhile extends SidecarError {
  constructor(path: string) {
    super('CONFLICT', `${path} changed since it was read`, { path });
  }
}
