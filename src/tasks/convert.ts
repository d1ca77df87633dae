/**
 * Conversion work, run by the engine in batches (in worker threads or in-process, same code).
 *
 * A unit is one target path and the decodable sidecars of one image that map to it (normally one
 * file; two or more when e.g. x.json and x.bin both exist). Under the image's sidecar lock:
 *   read + decode every source → (several: equal data → dedupe, else conflict: touch nothing)
 *   → encode → decode the encoded bytes in memory and compare (nothing on disk touched yet)
 *   → write the target atomically (temp, fsync, rename) → [batch: fsync each directory once]
 *   → read the target back from disk: the bytes written, byte for byte (the very bytes proven
 *     in memory to decode to the data)
 *   → only then remove the sources (unless keepSource) → [batch: fsync each directory once].
 * Any failure removes no source. A target we created that then failed to verify is removed again
 * (it would otherwise shadow the source: .bin is read before .json); a rewritten file that failed
 * to verify gets its original bytes back.
 */
import { existsSync, linkSync, lstatSync, renameSync, unlinkSync } from 'node:fs';
import { identityOf, isStillAsRead, sameIdentity, type FileIdentity } from '../fs/identity.js';
import { basename, dirname, join } from 'node:path';
import { errors, isSidecarError, type SidecarError } from '../errors.js';
import { decodeSidecar, deepEqualJson, encodeSidecar } from '../formats/codec.js';
import { sameKeyOrders } from '../formats/key-order.js';
import { writeFileAtomicSync, writeFilesAtomic } from '../fs/atomic-write.js';
import { fsyncDirsSettled } from '../fs/dir-sync.js';
import { acquireSidecarLockSync, type HeldLock } from '../fs/lock.js';
import { tempNameFor } from '../fs/temp-files.js';
import { DEFAULT_MAX_FILE_SIZE, readFileLimitedSync, readFileWithStatSync } from '../fs/read-file.js';
import type { JsonObject, SidecarExt, SidecarFormat, SidecarNaming, Keyring, SidecarKey } from '../types.js';
import { encryptionKey, keyringIds } from '../crypto/keys.js';

export type ConvertAction =
  | 'convert'
  | 'rewrite' // same path, other content format (e.g. legacy .bin → our .bin)
  | 'dedupe' // x.json equals x.bin: keep the target-format one, remove the other
  | 'skip-already'
  | 'conflict'
  | 'skip-corrupt'
  | 'skip-outside-root'
  | 'skip-symlink' // a symlinked sidecar: read, never written through, converted or removed
  | 'skip-not-sidecar'
  | 'skip-orphan' // a sidecar without its image (orphan, unknown image): never converted; with encryption, a finding unless already as asked
  | 'skip-encrypted'; // encrypted and no key given (or plaintext output not asked for with --decrypt)

export interface ConvertItem {
  source: string;
  target: string | null;
  action: ConvertAction;
  ok: boolean;
  error?: { code: string; message: string };
  sourceRemoved: boolean;
}

export interface ConvertUnit {
  /** Decodable sidecars of one image mapping to `target`, in read preference order. */
  sources: string[];
  target: string;
  /** The image's sidecar lock key (src/discovery/lock-key.ts), shared with saveSidecar: a save never lands between our read and the removal of the source. */
  lockKey?: string;
  /** Bytes of the sources as the scan saw them (bounds a batch by bytes). */
  bytes?: number;
  /** Sidecar names of the image the scan did not see: one there now is a save since, and the unit is a conflict. */
  watch?: readonly string[];
}

export interface ConvertTaskOptions {
  format: SidecarFormat;
  dryRun?: boolean;
  keepSource?: boolean;
  maxFileSize?: number;
  maxDepth?: number;
  /** How long a unit waits for a sidecar locked by a concurrent save. Default 10 s. */
  lockTimeoutMs?: number;
  /**
   * 'encrypt': write bin encrypted under the keyring's encryption key (files already under that
   * key are done; files under another key are re-encrypted: that is `rekey`). 'decrypt': write
   * plaintext. 'rekey': like 'encrypt' for encrypted sources; plaintext ones are left as they are.
   * Default: an encrypted source stays encrypted under its own key, plaintext stays plaintext.
   */
  encryption?: 'encrypt' | 'decrypt' | 'rekey';
  keyring?: Keyring;
}

/** File extension written for a content format (legacy is the earlier tool's .bin layout). */
export function extensionFor(format: SidecarFormat): SidecarExt {
  return format === 'legacy' ? 'bin' : format;
}

/** Where a sidecar goes in `format`: same directory, same naming form, new extension. */
export function targetPathFor(path: string, naming: SidecarNaming, format: SidecarFormat): string | null {
  const ext = extensionFor(format);
  const name = basename(path);
  const dot = name.lastIndexOf('.');
  const base = dot > 0 ? path.slice(0, path.length - (name.length - dot)) : path;
  return `${base}.${ext}`;
}

const errorOf = (e: SidecarError) => ({ code: e.code, message: e.message });

function asSidecarError(e: unknown, path: string): SidecarError {
  return isSidecarError(e) ? e : errors.fromFs(e, path);
}

interface Decoded {
  path: string;
  bytes: Buffer;
  data: JsonObject;
  format: SidecarFormat;
  /** The key an encrypted source was read with. */
  key?: SidecarKey;
  /** Its permissions: a new target takes them (mode; owner when we run as root). */
  like: { mode: number; uid: number; gid: number };
  /** The identity of exactly the bytes read: the source is removed or replaced only while it is still this file. */
  identity: FileIdentity;
}

/**
 * Throw CONFLICT unless the source is still the file that was read: a writer that does not take
 * our lock (a pipeline writing its sidecars itself) may have replaced or rewritten it since, and
 * removing it would lose that write (old code: 3 of 3,000 rewrites during a convert were lost).
 */
function assertSourceUnchanged(d: Decoded): void {
  if (isStillAsRead(d.path, d.identity) || holdsTheBytesRead(d)) return;
  throw errors.conflict('the source changed while it was converted (a writer without the sidecar lock); it is left as it is', [d.path]);
}

/**
 * Only the source's ctime moved, and it still holds exactly the bytes read. A sidecar hard-linked
 * to another one converted before it (one file under two names): that name's removal moved the
 * shared inode's ctime. A writer that rewrote it in place with the same size and its times put back
 * wrote other bytes, or nothing that is lost.
 */
function holdsTheBytesRead(d: Decoded): boolean {
  try {
    const st = lstatSync(d.path, { bigint: true });
    if (!st.isFile() || !sameIdentity({ ...identityOf(st), ctimeNs: d.identity.ctimeNs }, d.identity)) return false;
    return readFileLimitedSync(d.path, d.bytes.length).equals(d.bytes);
  } catch {
    return false;
  }
}

/**
 * The key a target is encrypted under, or undefined for plaintext. Throws USAGE when an encrypted
 * source would silently become plaintext in another format.
 */
export function targetKey(source: { format: SidecarFormat | null; key?: SidecarKey; encrypted?: boolean }, opts: Pick<ConvertTaskOptions, 'format' | 'encryption' | 'keyring'>): SidecarKey | undefined {
  if (opts.encryption === 'decrypt') return undefined;
  if (opts.encryption === 'encrypt' || (opts.encryption === 'rekey' && (source.key || source.encrypted))) {
    const k = encryptionKey(opts.keyring);
    if (!k) throw errors.usage('encrypting needs a key (--key-file, IMAGE_SIDECAR_KEY_FILE or IMAGE_SIDECAR_PASSPHRASE)');
    return k;
  }
  if (source.key || source.encrypted) {
    if (opts.format !== 'bin') throw errors.usage(`encrypted sidecars stay encrypted: converting to ${opts.format} needs --decrypt`);
    return source.key;
  }
  return undefined;
}

/** True when a source already is what the conversion would write. */
export function alreadyConverted(source: { format: SidecarFormat | null; keyId?: string }, opts: Pick<ConvertTaskOptions, 'format' | 'encryption' | 'keyring'>): boolean {
  // rekey touches encrypted sidecars only: a plaintext one, in any format, has nothing to do.
  if (opts.encryption === 'rekey' && source.keyId === undefined) return true;
  if (source.format !== opts.format) return false;
  return encryptedAsAsked(source.keyId, opts);
}

/**
 * Is a readable sidecar (its key id when encrypted) encrypted as the run asks? --decrypt: in
 * plaintext; --encrypt: under the key the run encrypts with; rekey: that, or in plaintext (rekey
 * leaves those); no encryption asked: whatever it is. A file read by the run's passphrase is under
 * it whatever its key id: a passphrase derives a key per file (its own salt), so the id differs from
 * the one this run would encrypt with (every `convert --encrypt` with a passphrase wrote every file again).
 */
export function encryptedAsAsked(
  keyId: string | undefined,
  opts: Pick<ConvertTaskOptions, 'encryption' | 'keyring'>,
  under: (ring: Keyring | undefined) => boolean = (ring) => underEncryptionKey(keyId!, ring),
): boolean {
  if (opts.encryption === undefined) return true;
  if (opts.encryption === 'decrypt') return keyId === undefined;
  if (keyId === undefined) return opts.encryption === 'rekey';
  return under(opts.keyring);
}

/** Is a file that was decrypted with `ring` (key id `keyId`) under the key the ring encrypts with? (A file only seen by its header: the caller's `under`.) */
function underEncryptionKey(keyId: string, ring: Keyring | undefined): boolean {
  const enc = encryptionKey(ring);
  if (enc === undefined) return false;
  if (keyId === enc.id) return true;
  // Decrypted, and by none of the ring's key files: by its passphrase, the one it encrypts with.
  return enc.descriptor.kind === 'scrypt' && !keyringIds(ring!).keys.includes(keyId);
}

function existsAsNonDirectory(path: string): boolean | null {
  try {
    return !lstatSync(path).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Bytes that decode back to exactly `data` in `format`, checked in memory before any write. */
function encodeChecked(data: JsonObject, format: SidecarFormat, target: string, opts: ConvertTaskOptions, key: SidecarKey | undefined): Buffer {
  // Encrypted targets are encrypted in memory: no plaintext byte of them ever reaches the disk.
  const bytes = encodeSidecar(data, format, { path: target, maxDepth: opts.maxDepth, encryptWith: key });
  // A target above the read limit could never be read back by anyone (e.g. bin → json grows).
  const limit = opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  if (bytes.length > limit) throw errors.tooLarge(bytes.length, limit, target);
  const back = decodeSidecar(bytes, { path: target, maxDepth: opts.maxDepth, maxFileSize: limit, keyring: key ? { keys: [key] } : undefined });
  if ((back.encryption?.keyId ?? null) !== (key?.id ?? null)) throw errors.verifyFailed(target, 'encryption of the encoded bytes is not the one asked for');
  if (back.format !== format) throw errors.verifyFailed(target, `encoder produced ${back.format}, not ${format}`);
  if (!deepEqualJson(back.data, data)) throw errors.verifyFailed(target, 'encoded bytes do not decode to the same data');
  if (!sameKeyOrders(back.data, data)) throw errors.verifyFailed(target, 'encoded bytes do not decode to the same key order');
  return bytes;
}

/**
 * Read the written target back from disk and prove it holds the bytes written. Those are the bytes
 * `encodeChecked` decoded and compared with the data (typed, bit-exact), and decoding is a function
 * of the bytes: the same bytes on disk decode to the same data, so decoding them again proved
 * nothing more and cost a decode and a comparison per file (a JSON parse for bin → json).
 */
function verifyOnDisk(target: string, bytes: Buffer, opts: ConvertTaskOptions): void {
  const disk = readFileLimitedSync(target, Math.max(opts.maxFileSize ?? 0, bytes.length));
  if (!disk.equals(bytes)) throw errors.verifyFailed(target, 'bytes on disk differ from the bytes written');
}


/** Does `target` hold a sidecar in the format (and encryption) asked? */
function convertedMeanwhile(target: string, opts: ConvertTaskOptions): boolean {
  try {
    const d = decodeSidecar(readFileLimitedSync(target, opts.maxFileSize), { path: target, maxDepth: opts.maxDepth, maxFileSize: opts.maxFileSize, keyring: opts.keyring });
    return alreadyConverted({ format: d.format, keyId: d.encryption?.keyId }, opts);
  } catch {
    return false;
  }
}

/** A unit whose target is written (file fsynced, rename not yet made durable) or needs no write. */
interface Staged {
  unit: ConvertUnit;
  decoded: Decoded[];
  action: ConvertAction;
  data: JsonObject;
  /** The bytes for the target (written by the batch), or null when the target already held the data. */
  written: Buffer | null;
  /** The key the target is encrypted under. */
  key?: SidecarKey;
  atTarget: Decoded | undefined;
  /** The unit's lock: checked (`check(true)`: touched only when its last verification is older than staleMs / 3) before the target's rename and before each source is renamed aside. */
  lock?: HeldLock;
}

/**
 * Steps 1–3 for one unit: read, decide, encode. Returns the final items when the unit ends here
 * (skip, conflict, failure), else what the later steps need.
 */
function stageUnit(unit: ConvertUnit, opts: ConvertTaskOptions): ConvertItem[] | Staged {
  const { target } = unit;
  const format = opts.format;
  const planned: ConvertAction = unit.sources.length > 1 ? 'dedupe' : unit.sources[0] === target ? 'rewrite' : 'convert';

  // 0. A save since the scan that wrote another of the image's names (another format): converting
  // the older file would hide its results, or make them look older than a copy of the old ones.
  for (const p of unit.watch ?? []) {
    if (lstatSync(p, { throwIfNoEntry: false }) !== undefined) {
      return allItems(unit, 'conflict', false, errors.conflict('a sidecar of this image appeared since the scan (a save meanwhile); not converted: run convert again', [...unit.sources, p]));
    }
  }
  // 1. Read and decode every source (the scan saw them decode; they may have changed since).
  const decoded: Decoded[] = [];
  for (const path of unit.sources) {
    try {
      // The mode and owner the target copies, and the identity a removal checks: of the very file read.
      const { bytes, stat: st } = readFileWithStatSync(path, opts.maxFileSize);
      const d = decodeSidecar(bytes, { path, maxDepth: opts.maxDepth, maxFileSize: opts.maxFileSize, keyring: opts.keyring });
      decoded.push({ path, bytes, data: d.data, format: d.format, key: d.encryption?.key, like: { mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid) }, identity: identityOf(st) });
    } catch (e) {
      const err = asSidecarError(e, path);
      // Gone since the scan, and its image's data is at the target in the format asked: another
      // convert of this tree did the work (under the same lock) — nothing failed.
      if (unit.sources.length === 1 && err.code === 'NOT_FOUND' && convertedMeanwhile(unit.target, opts)) {
        return [{ source: path, target: unit.target, action: 'skip-already', ok: true, sourceRemoved: false }];
      }
      return allItems(unit, planned, false, err);
    }
  }

  // 2. Decide from the current content.
  let action: ConvertAction;
  if (decoded.length > 1) {
    for (let i = 1; i < decoded.length; i++) {
      if (!deepEqualJson(decoded[0].data, decoded[i].data)) {
        return allItems(unit, 'conflict', false, errors.conflict(`candidate sidecars of one image hold different data${conflictConsequence(decoded, opts.encryption)}`, unit.sources));
      }
    }
    action = 'dedupe';
  } else if (alreadyConverted({ format: decoded[0].format, keyId: decoded[0].key?.id }, opts)) {
    return [{ source: decoded[0].path, target: decoded[0].path, action: 'skip-already', ok: true, sourceRemoved: false }];
  } else {
    action = decoded[0].path === target ? 'rewrite' : 'convert';
  }

  // Equal copies in another key order (a .bin an older tool wrote with index-like keys first):
  // the JSON's order is the one written, and the target is written again in it.
  const data = (decoded.length > 1 && decoded.some((d) => !sameKeyOrders(d.data, decoded[0].data)) ? decoded.find((d) => d.format === 'json') : undefined)?.data ?? decoded[0].data;
  const kept = decoded.find((d) => d.path === target && alreadyConverted({ format: d.format, keyId: d.key?.id }, opts) && sameKeyOrders(d.data, data));
  const atTarget = decoded.find((d) => d.path === target);
  let key: SidecarKey | undefined;
  try {
    key = targetKey(decoded.find((d) => d.key) ?? decoded[0], opts);
  } catch (e) {
    return allItems(unit, 'skip-encrypted', false, asSidecarError(e, target));
  }
  if (kept && (kept.key?.id ?? null) === (key?.id ?? null)) return { unit, decoded, action, data, written: null, atTarget };
  let bytes: Buffer;
  try {
    // 3. Encode and prove the bytes in memory before touching the disk.
    bytes = encodeChecked(data, format, target, opts, key);
    // Something the scan did not pair (a symlink, a file created since) may hold the target path.
    // A directory there is left to make the write fail (reported as a failure, not a conflict).
    if (!atTarget && existsAsNonDirectory(target) === true) {
      return allItems(unit, 'conflict', false, errors.conflict('the target path holds another file', [...unit.sources, target]));
    }
  } catch (e) {
    return allItems(unit, action, false, asSidecarError(e, target));
  }
  // 4. The atomic write itself is done for the whole batch (writeFilesAtomic).
  return { unit, decoded, action, data, written: bytes, atTarget, key };
}

/**
 * Steps 6–7 for one unit, after its target's directory was fsynced: read the target back from
 * disk and prove it, and only then remove the sources that are not the target.
 */
function finishUnit(st: Staged, opts: ConvertTaskOptions, removedIn: Set<string>): ConvertItem[] {
  const { unit, action } = st;
  const target = unit.target;
  if (st.written && !opts.dryRun) {
    try {
      verifyOnDisk(target, st.written, opts);
    } catch (e) {
      undoWrite(target, st.atTarget);
      return allItems(unit, action, false, asSidecarError(e, target));
    }
  }
  // The sources go in two steps: each is renamed aside (a writer's file landing at its name from then
  // on is not touched) and checked to be the file read, then all are removed. The lock is checked
  // right before each rename (`check(true)`: touched only when its last verification is older than a
  // third of staleMs). A lock found lost (a stalled holder's, taken over: a save may be changing the
  // source right now), or a source that is not the file read (a writer without the lock replaced it),
  // puts every source back and takes the target back: the source's content is the image's data now.
  const aside = new Map<string, string>();
  if (!opts.dryRun && !opts.keepSource) {
    try {
      for (const d of st.decoded) if (d.path !== target) assertSourceUnchanged(d);
      for (const d of st.decoded) {
        if (d.path === target) continue;
        st.lock?.check(true);
        const at = join(dirname(d.path), tempNameFor(basename(target)));
        try {
          renameSync(d.path, at);
        } catch (e) {
          throw asSidecarError(e, d.path); // the source's own error (an immutable or locked file), not the target's
        }
        aside.set(d.path, at);
        if (!sameFileMoved(at, d.identity)) throw errors.conflict('the source changed while it was converted (a writer without the sidecar lock); it is left as it is', [d.path]);
      }
    } catch (e) {
      for (const [path, at] of aside) putBack(at, path);
      if (st.written) undoWrite(target, st.atTarget, st.written);
      return allItems(unit, action, false, asSidecarError(e, target));
    }
  }
  const items: ConvertItem[] = [];
  for (const d of st.decoded) {
    // Of copies deduplicated, the one at the target is kept (already in the format asked, or
    // rewritten): not a removed copy, nor one more file converted.
    const own = action === 'dedupe' && d.path === target ? (st.written === null ? 'skip-already' : 'rewrite') : action;
    const item: ConvertItem = { source: d.path, target, action: own, ok: true, sourceRemoved: false };
    const at = aside.get(d.path);
    if (at !== undefined) {
      try {
        unlinkSync(at);
        item.sourceRemoved = true;
        removedIn.add(dirname(d.path));
      } catch (e) {
        // The target is verified; the source is left aside under a temp name (the next run sweeps it). Still a failure for the exit code.
        item.ok = false;
        item.error = errorOf(asSidecarError(e, d.path));
      }
    }
    items.push(item);
  }
  return items;
}

/** Is the file renamed to `at` the one read? Its identity, but for the ctime the rename itself changed. */
function sameFileMoved(at: string, read: FileIdentity): boolean {
  try {
    return sameIdentity({ ...identityOf(lstatSync(at, { bigint: true })), ctimeNs: read.ctimeNs }, read);
  } catch {
    return false;
  }
}

/**
 * A source taken aside goes back to its name, never over a file written there since (that one is
 * newer; ours then stays aside, a leftover the next run sweeps). Without hard links (some network
 * shares), a rename when the name is free.
 */
function putBack(at: string, path: string): void {
  try {
    linkSync(at, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return;
    try {
      if (!existsSync(path)) renameSync(at, path);
    } catch {
      /* it stays aside under a temp name: the item reports the failure */
    }
    return;
  }
  try {
    unlinkSync(at);
  } catch {
    /* a second name of the same file: harmless, swept as a leftover */
  }
}

function allItems(unit: ConvertUnit, action: ConvertAction, ok: boolean, error?: SidecarError): ConvertItem[] {
  return unit.sources.map((source) => ({ source, target: unit.target, action, ok, ...(error ? { error: errorOf(error) } : {}), sourceRemoved: false }));
}

/**
 * After a failed write or read-back: put the original bytes back (rewrite in place), or remove the
 * target (it did not exist before: a regular file there was reported as a conflict, and an
 * unverified .bin would shadow the intact source because .bin is read before .json).
 */
function undoWrite(target: string, original: Decoded | undefined, ours?: Buffer): void {
  try {
    // After a lost lock, someone else may have written the target since: only our own bytes go.
    if (ours && !readFileLimitedSync(target, Math.max(ours.length, 1)).equals(ours)) return;
    if (original) writeFileAtomicSync(target, original.bytes, { skipIfSame: true });
    else if (existsAsNonDirectory(target) === true) unlinkSync(target);
  } catch {
    /* the item already reports the failure; a leftover target is visible to the next scan */
  }
}

/**
 * Right before a unit's target is published: the lock is still ours (touched when its last
 * verification is older than a third of staleMs), and a source at the target path (rewritten in
 * place) is still the file read.
 */
function beforeTargetRename(st: Staged): void {
  st.lock?.check(true);
  if (st.atTarget) assertSourceUnchanged(st.atTarget);
}

const DEFAULT_UNIT_LOCK_TIMEOUT_MS = 10_000;

/**
 * Convert a batch of units. Each unit holds its image's sidecar lock (shared with saveSidecar)
 * from its read to the removal of its source, so no save lands in between. The durability steps
 * are batched (group commit): every target is written, all fsynced at once, renamed, then each
 * directory is fsynced once, all at once (the
 * renames are durable), then targets are read back and verified and the sources removed, then
 * each directory is fsynced once more (the removals are durable). Never throws.
 */
export async function convertUnits(units: readonly ConvertUnit[], opts: ConvertTaskOptions): Promise<ConvertItem[][]> {
  const results: ConvertItem[][] = new Array(units.length);
  const locks = new Map<number, HeldLock>();
  const heldByKey = new Map<string, HeldLock>();
  const staged: { index: number; st: Staged }[] = [];
  try {
    for (let i = 0; i < units.length; i++) {
      const unit = units[i];
      if (!opts.dryRun && unit.lockKey) {
        // Units of one image (IMG_1.json → .bin and IMG_1.jpg.json → .jpg.bin; a RAW+JPEG pair's
        // files) share its lock: taken once in the batch, held by each of them.
        const held = heldByKey.get(unit.lockKey);
        try {
          const lock = held ?? acquireSidecarLockSync(unit.lockKey, { timeoutMs: opts.lockTimeoutMs ?? DEFAULT_UNIT_LOCK_TIMEOUT_MS });
          heldByKey.set(unit.lockKey, lock);
          locks.set(i, lock);
        } catch (e) {
          results[i] = allItems(unit, 'convert', false, asSidecarError(e, unit.target));
          continue;
        }
      }
      const r = stageUnit(unit, opts);
      if (Array.isArray(r)) {
        results[i] = r;
        const lock = locks.get(i);
        locks.delete(i);
        // Nothing more to do under it: keep holds short (unless another unit holds it too).
        if (lock && ![...locks.values()].includes(lock)) {
          lock.release();
          heldByKey.delete(unit.lockKey!);
        }
      } else {
        r.lock = locks.get(i);
        staged.push({ index: i, st: r });
      }
    }
    // 4. Write every target atomically (temp, fsync, rename): all temp files first, then all their
    // fsyncs in flight together (group commit), then the renames.
    let ready = staged;
    if (!opts.dryRun) {
      const toWrite = staged.filter((x) => x.st.written);
      // noFollow: a link planted at a target is refused, never written through; beforeRename: the
      // unit's lock must still be ours when its target is published.
      const written = await writeFilesAtomic(
        toWrite.map((x) => ({ target: x.st.unit.target, bytes: x.st.written!, beforeRename: () => beforeTargetRename(x.st), like: x.st.decoded[0].like })),
        { skipIfSame: true, noFollow: true },
      );
      const failed = new Set<number>();
      written.forEach((r, k) => {
        if (!('error' in r)) return;
        const { index, st } = toWrite[k];
        // Not renamed (failed or the lock was lost before it): whatever is at the target is not ours.
        undoWrite(st.unit.target, st.atTarget, st.written!);
        results[index] = allItems(st.unit, st.action, false, asSidecarError(r.error, st.unit.target));
        failed.add(index);
      });
      ready = staged.filter((x) => !failed.has(x.index));
    }
    // 5. Make the renames durable before any source goes: one fsync per directory.
    const failedDirs = await fsyncDirsSettled(new Set(ready.filter((x) => x.st.written && !opts.dryRun).map((x) => dirname(x.st.unit.target))));
    const removedIn = new Set<string>();
    for (const { index, st } of ready) {
      const dirError = failedDirs.get(dirname(st.unit.target));
      if (dirError && st.written) {
        undoWrite(st.unit.target, st.atTarget);
        results[index] = allItems(st.unit, st.action, false, dirError);
      } else results[index] = finishUnit(st, opts, removedIn);
    }
    // 8. Make the removals durable. Not a data risk if this fails (a removed source may reappear
    // and the next run dedupes it), but say so.
    for (const [dir, err] of await fsyncDirsSettled(removedIn)) {
      for (const it of results.flat()) if (it.sourceRemoved && dirname(it.source) === dir) it.error = errorOf(err);
    }
  } finally {
    for (const l of new Set(locks.values())) l.release();
  }
  return results;
}

/**
 * What a conflict leaves undone under --encrypt and rekey, said plainly: a user retiring the old key
 * after "Re-encrypted 0" lost the file a read takes, still under it.
 */
function conflictConsequence(decoded: readonly { path: string; key?: { id: string } }[], encryption: string | undefined): string {
  if (encryption !== 'rekey' && encryption !== 'encrypt') return '';
  const left = decoded.map((d) => `${d.path} stays ${d.key !== undefined ? `under key ${d.key.id}` : 'plaintext'}`);
  return `: nothing ${encryption === 'rekey' ? 're-encrypted' : 'encrypted'} for this image${left.length > 0 ? `; ${left.join('; ')}` : ''} (keep one copy: \`image-sidecar resolve\`, then run again)`;
}
