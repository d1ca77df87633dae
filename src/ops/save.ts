/**
 * saveSidecar: merge one operation's result into an image's sidecar, the way callers of the
 * earlier tool's save_data expect (other operations kept, sidecar_info maintained), but without
 * its data loss: under a per-sidecar lock, refusing whenever the current state is unclear
 * (corrupt or several candidates), and writing atomically.
 */
import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import { errors, SidecarError } from '../errors.js';
import { encodeSidecar, normalizeFormat } from '../formats/codec.js';
import { carryNote } from '../formats/numbers.js';
import type { FormatName, JsonObject, JsonValue, Options, SidecarExt, SidecarFormat } from '../types.js';
import { folderSidecarFormat, imagesClaiming, locateSidecar, sidecarLockKeys, sidecarPathFor, type SidecarLocation } from '../discovery/locate.js';
import { inQuarantine, QUARANTINE_DIR } from '../discovery/own-folders.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { DEFAULT_MAX_FILE_SIZE } from '../fs/read-file.js';
import { assertLockHeld, withSidecarLock } from '../fs/lock.js';
import { removeStaleTempFiles } from '../fs/temp-files.js';
import { readSidecarFileWithIdentity } from './read.js';
import { isStillAsRead, type FileIdentity } from '../incremental/identity.js';
import { encryptionKey, type SidecarKey } from '../crypto/keys.js';
import { isoTimestamp } from '../time.js';
import { IMAGE_IDENTITY_KEY, recordImageIdentity, tryCurrentImageIdentity } from '../analysis/image-identity.js';

export interface SaveOptions extends Options {
  /**
   * Format of a NEW sidecar (an existing one keeps its format, the earlier tool's legacy layout
   * included). Default: the format of the sidecars already in the folder (by extension: .json →
   * json, .rkyv → rkyv, .bin → bin; the most common one), else 'bin'.
   */
  format?: FormatName;
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
}

/** File extension for a new sidecar of this format. The earlier tool kept its layout in `.bin` files. */
function extFor(format: SidecarFormat): SidecarExt {
  return format === 'json' ? 'json' : format === 'rkyv' ? 'rkyv' : 'bin';
}

function isPlainObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Set data[operation] and maintain sidecar_info in place (key order of everything else kept:
 * an existing key is overwritten where it stands, new keys go last). `from`: the container the
 * value comes from, whose number note (25.0, an exact big int) goes with it (formats/numbers.ts);
 * without it the value has none, and a note `obj` held for the old value is dropped.
 */
function setKey(obj: JsonObject, key: string, value: JsonValue, from?: JsonObject): void {
  if (key === '__proto__') {
    // Plain assignment would call the prototype setter instead of creating the key.
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
  carryNote(from, key, obj, key);
}

function mergeOperation(existing: JsonObject, imagePath: string, loc: SidecarLocation, operation: string, value: JsonValue, now: string, document = false): JsonObject {
  const prior = existing.sidecar_info;
  const info: JsonObject = isPlainObject(prior) ? prior : {};
  if (document && isPlainObject(value)) {
    for (const key of Object.keys(value)) if (key !== 'sidecar_info') setKey(existing, key, value[key], value);
    const given = value.sidecar_info;
    if (isPlainObject(given)) {
      for (const key of Object.keys(given)) {
        if ((key === 'operation_type' || key === 'created_at') && typeof info[key] === 'string') continue;
        // The image record is the library's (recordImageIdentity, below): a document read before
        // another save carries an older copy, which would drop that save's operation or mark it stale.
        if (key === IMAGE_IDENTITY_KEY) continue;
        setKey(info, key, given[key], given);
      }
    }
  } else {
    setKey(existing, operation, value);
  }
  if (typeof info.operation_type !== 'string') info.operation_type = operation;
  if (typeof info.created_at !== 'string') info.created_at = now;
  info.last_updated = now;
  info.last_operation = operation;
  info.image_path = imagePath;
  // The earlier tool wrote the link path here, or the image path for a plain file.
  info.symlink_path = imagePath;
  info.symlink_info = {
    symlink_path: imagePath,
    target_path: loc.targetPath,
    is_symlink: loc.isSymlink,
    broken: loc.broken,
  };
  existing.sidecar_info = info;
  return existing;
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
}

/** The group is ambiguous (pair.ts): refuse, and say what would make it unambiguous. */
function refuseAmbiguous(loc: SidecarLocation, imagePath: string): void {
  if (!loc.ambiguous) return;
  const files = [...loc.candidates.map((c) => c.path), ...loc.siblings];
  const hint =
    loc.siblings.length > 0
      ? `${[loc.targetPath, ...loc.siblings].join(', ')} share the stem "${loc.stem}", so a ${loc.stem}.<ext> sidecar belongs to all of them; ` +
        `rename one image, or keep per-image sidecars in the name-ext form (${loc.name}.json)`
      : `keep one of ${loc.candidates.map((c) => c.path).join(', ')} (image-sidecar convert --format <fmt> merges equal copies) and move the others away`;
  throw new SidecarError('AMBIGUOUS', `${imagePath}: nothing saved, its sidecar is ambiguous: ${hint}`, { path: files[0], details: { paths: files } });
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
    refuseAmbiguous(loc, imagePath);
    refuseLinkedSidecar(loc, imagePath);

    let target: string;
    let format: SidecarFormat;
    let existing: JsonObject;
    let encryptWith: SidecarKey | undefined;
    const current = loc.candidates[0];
    // The file the merge is made from (null: none there), checked again right before the rename.
    let readAs: FileIdentity | null = null;
    if (current !== undefined) {
      // Corrupt → CORRUPT propagates and nothing is touched (the earlier tool overwrote it with {}).
      // Encrypted without a key → ENCRYPTED propagates: we never replace it with plaintext.
      const { decoded, identity } = readSidecarFileWithIdentity(current.path, opts);
      readAs = identity;
      target = current.path;
      existing = decoded.data;
      // An encrypted sidecar stays encrypted under the key it was read with (a fresh nonce).
      encryptWith = decoded.encryption?.key;
      // The same file keeps its format, the earlier tool's legacy layout included (as --help says).
      format = decoded.format;
    } else {
      encryptWith = opts.encrypt === false ? undefined : encryptionKey(opts.keyring);
      // An encrypted new sidecar is bin; otherwise it follows its folder's sidecars.
      format = opts.format !== undefined ? normalizeFormat(opts.format) : encryptWith ? 'bin' : (folderSidecarFormat(loc.dir) ?? 'bin');
      target = sidecarPathFor(loc, extFor(format), opts.naming ?? 'stem');
      existing = {};
      const claimants = imagesClaiming(loc, target, locateOpts);
      if (claimants.length > 1) {
        throw new SidecarError(
          'AMBIGUOUS',
          `${imagePath}: nothing saved, a new ${target} would belong to ${claimants.join(', ')} (same stem); ` +
            `rename one image, or save with naming "name-ext" (${loc.name}.${extFor(format)})`,
          { path: target, details: { paths: claimants } },
        );
      }
      if (encryptWith && format !== 'bin') {
        throw errors.usage(`a key was given, so the new sidecar would be encrypted, and only the bin format can be (asked: ${format}; pass encrypt: false for plaintext)`);
      }
    }

    const now = isoTimestamp((opts.now ?? (() => new Date()))());
    const merged = mergeOperation(existing, imagePath, loc, operation, data, now, opts.merge === 'document');
    // What the result was computed from: stale detection compares it with the image later.
    recordImageIdentity(merged, operation, tryCurrentImageIdentity(loc.targetPath, { hash: opts.hashImage }));
    // UNREPRESENTABLE / TOO_DEEP are thrown here, before anything is written.
    const bytes = encodeSidecar(merged, format, { path: target, maxDepth: opts.maxDepth, encryptWith });
    // A sidecar above the read limit could never be read back: refuse it before writing anything.
    const limit = opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
    if (bytes.length > limit) throw errors.tooLarge(bytes.length, limit, target);

    refuseQuarantine(target, imagePath);
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
      beforeRename: () => {
        assertLockHeld(signal, keys[0]);
        if (!isStillAsRead(target, readAs)) throw new ChangedMeanwhile(target);
      },
    });
    const result: SaveResult = { path: target, format, written, created: current === undefined };
    if (encryptWith) result.encryptedKeyId = encryptWith.id;
    return result;
  }
}

/** Reads and merges a save makes before it gives up (a writer without the lock kept replacing the file). */
const SAVE_ATTEMPTS = 3;

/** The target is no longer the file the merge was made from: read and merge again (a SidecarError: the atomic write passes it through). */
class ChangedMeanwhile extends SidecarError {
  constructor(path: string) {
    super('CONFLICT', `${path} changed since it was read`, { path });
  }
}
