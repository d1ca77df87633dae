/**
 * saveSidecar: merge one operation's result into an image's sidecar, the way callers of the
 * earlier tool's save_data expect (other operations kept, sidecar_info maintained), but without
 * its data loss: under a per-sidecar lock, refusing whenever the current state is unclear
 * (corrupt or several candidates), and writing atomically.
 */
import * as path from 'node:path';
import { errors } from '../errors.js';
import { encodeSidecar, normalizeFormat } from '../formats/codec.js';
import type { JsonObject, JsonValue, Options, SidecarExt, SidecarFormat } from '../types.js';
import { locateSidecar, sidecarPathFor, type SidecarLocation } from '../discovery/locate.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { assertLockHeld, withSidecarLock } from '../fs/lock.js';
import { removeStaleTempFiles } from '../fs/temp-files.js';
import { readSidecarFile } from './read.js';
import { encryptionKey, type SidecarKey } from '../crypto/keys.js';

export interface SaveOptions extends Options {
  /** Format of a NEW sidecar (an existing one keeps its format). Default 'bin'. */
  format?: 'json' | 'bin' | 'rkyv' | 'legacy';
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
 * an existing key is overwritten where it stands, new keys go last).
 */
function setKey(obj: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__') {
    // Plain assignment would call the prototype setter instead of creating the key.
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

function mergeOperation(existing: JsonObject, imagePath: string, loc: SidecarLocation, operation: string, value: JsonValue, now: string, document = false): JsonObject {
  const prior = existing.sidecar_info;
  const info: JsonObject = isPlainObject(prior) ? prior : {};
  if (document && isPlainObject(value)) {
    for (const key of Object.keys(value)) if (key !== 'sidecar_info') setKey(existing, key, value[key]);
    const given = value.sidecar_info;
    if (isPlainObject(given)) {
      for (const key of Object.keys(given)) {
        if ((key === 'operation_type' || key === 'created_at') && typeof info[key] === 'string') continue;
        setKey(info, key, given[key]);
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
    throw errors.notFound(loc.targetPath, `target of the symlinked image ${imagePath} (broken link; nothing saved)`);
  }
}

export async function saveSidecar(imagePath: string, operation: string, data: JsonValue, opts: SaveOptions = {}): Promise<SaveResult> {
  checkArguments(operation, data, opts);
  const first = await locateSidecar(imagePath);
  refuseBroken(first, imagePath);
  // One lock for every form (stem.json/.bin/.rkyv, name-ext) of the sidecars beside the target.
  const keyPath = path.join(first.dir, first.stem);

  return withSidecarLock(
    keyPath,
    async (signal) => {
      // Look again under the lock: another writer may have created or replaced files meanwhile.
      const loc = await locateSidecar(imagePath);
      refuseBroken(loc, imagePath);
      if (path.join(loc.dir, loc.stem) !== keyPath) {
        throw errors.conflict('the image symlink was re-pointed while saving; nothing saved', [loc.imagePath, keyPath]);
      }
      if (loc.candidates.length > 1) throw errors.ambiguous(loc.candidates.map((c) => c.path));

      let target: string;
      let format: SidecarFormat;
      let existing: JsonObject;
      let encryptWith: SidecarKey | undefined;
      const current = loc.candidates[0];
      if (current !== undefined) {
        // Corrupt → CORRUPT propagates and nothing is touched (the earlier tool overwrote it with {}).
        // Encrypted without a key → ENCRYPTED propagates: we never replace it with plaintext.
        const decoded = await readSidecarFile(current.path, opts);
        target = current.path;
        existing = decoded.data;
        // An encrypted sidecar stays encrypted under the key it was read with (a fresh nonce).
        encryptWith = decoded.encryption?.key;
        // The same file keeps its format. The earlier tool's layout is read-only for us: a legacy
        // file is rewritten in place as our own container of the same extension (.bin / .rkyv),
        // since we never write the legacy layout unless a new sidecar is asked for in it.
        format = decoded.format === 'legacy' ? (current.ext === 'rkyv' ? 'rkyv' : 'bin') : decoded.format;
      } else {
        format = normalizeFormat(opts.format ?? 'bin'); // also accepts the earlier tool's 'binary'
        target = sidecarPathFor(loc, extFor(format), opts.naming ?? 'stem');
        existing = {};
        encryptWith = opts.encrypt === false ? undefined : encryptionKey(opts.keyring);
        if (encryptWith && format !== 'bin') {
          throw errors.usage(`a key was given, so the new sidecar would be encrypted, and only the bin format can be (asked: ${format}; pass encrypt: false for plaintext)`);
        }
      }

      const now = (opts.now ?? (() => new Date()))().toISOString();
      const merged = mergeOperation(existing, imagePath, loc, operation, data, now, opts.merge === 'document');
      // UNREPRESENTABLE / TOO_DEEP are thrown here, before anything is written.
      const bytes = encodeSidecar(merged, format, { path: target, maxDepth: opts.maxDepth, encryptWith });

      assertLockHeld(signal, keyPath);
      // Leftovers of writers that died mid-write on this sidecar; only its names are stat'ed.
      await removeStaleTempFiles(path.dirname(target), { targetPrefixes: [path.basename(target)] }).catch(() => undefined);
      const { written } = await writeFileAtomic(target, bytes);
      const result: SaveResult = { path: target, format, written, created: current === undefined };
      if (encryptWith) result.encryptedKeyId = encryptWith.id;
      return result;
    },
    { timeoutMs: opts.lockTimeoutMs, staleMs: opts.lockStaleMs },
  );
}
