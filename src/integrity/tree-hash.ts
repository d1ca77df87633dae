/**
 * Tree hashes: one digest for a whole library, independent of worker count and readdir order.
 *
 * bytes mode (isc-tree-v1): every sidecar-candidate file (.json/.bin/.rkyv, any case — reports and
 *   corrupt files included, it is a byte hash) or, with `allFiles`, every regular file. Symlinks
 *   are skipped (images are links, sidecars are not); directory links are never entered; our temp
 *   and lock files and the root's quarantine folder are left out.
 * canonical mode (isc-canon-v1): the decoded data of each image's effective sidecar, keyed by the
 *   image, so the same data stored as json, bin, rkyv or legacy gives the same digest.
 *
 * A hash that silently skipped a file would vouch for data it never saw: a tree with a file that
 * cannot be read (an unreadable file or folder, a name that is not UTF-8, a FIFO or device named like
 * a sidecar) or, in canonical mode, decoded gets no digest. The run still goes through the whole
 * tree so that every such path is named (`TreeListing.undecodable` / `unreadable`; hashTree throws
 * errors.notDigested listing them).
 */
import { realpathSync } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { errorFromJSON, errors, firstUnreadable, UNREADABLE_NAMED, type ErrorCode, type SidecarError, type UnreadablePath } from '../errors.js';
import { openScanCache } from '../incremental/scan-cache.js';
import { assertDirectory, ScanSession } from '../scan/session.js';
import { lockedFile, type ScanImage, type ScanRecord, type ScanSidecar } from '../scan/records.js';
import { SKIP_DIR_NAMES } from '../discovery/own-folders.js';
import { shownPath, walkTree } from '../discovery/walk.js';
import { imageExtensionSet, isSidecarExt, nfc, splitName } from '../discovery/extensions.js';
import { shardFilter } from '../discovery/shard.js';
import { isLockName, isTempName } from '../fs/temp-files.js';
import { createRuntime } from '../engine/select.js';
import type { HashItem, HashTaskOptions } from '../tasks/hash.js';
import type { Options } from '../types.js';
import { mapOrdered } from '../engine/pipeline.js';
import type { Runtime } from '../engine/runtime.js';
import { CANON_VERSION, compareUtf8, sortByKey, tagOf, TREE_VERSION, treeDigest, type TreeVersion } from '../formats/digest.js';
import { assertManifestFile, writeManifest } from './manifest.js';
import { assertOutputNotManaged } from '../analysis/output-guard.js';

export interface HashOptions extends Options {
  /** Digest decoded data keyed by image (isc-canon-v1) instead of file bytes (isc-tree-v1). */
  canonical?: boolean;
  /** Write per-file digests here: `.jsonl` → one {"path","digest"} per line, else one JSON object. */
  manifest?: string;
  /** bytes mode: hash every regular file, not only sidecar candidates. */
  allFiles?: boolean;
}

export interface TreeHash {
  version: TreeVersion;
  /** hex */
  digest: string;
  /** e.g. "isc-tree-v1:<hex>" */
  tag: string;
  files: number;
  bytes: number;
}

export interface TreeEntry {
  /** bytes mode: file rel path; canonical mode: image rel path. */
  key: string;
  /** The keyed digest that enters the tree digest (hex). */
  hex: string;
  /** canonical mode: sha256 of the canonical JSON alone (same for equal data anywhere). */
  canonical?: string;
}

export interface TreeListing {
  version: TreeVersion;
  allFiles: boolean;
  /** Sorted by the UTF-8 bytes of `key`. */
  entries: TreeEntry[];
  files: number;
  bytes: number;
  /** canonical mode: sidecars that cannot be decoded (root-relative); none with `strict: false`. */
  undecodable: string[];
  /** Paths that could not be read, the first UNREADABLE_NAMED in UTF-8 order; canonical mode with `strict: false`: none. */
  unreadable: UnreadablePath[];
  /** All of them (`unreadable` names the first). */
  unreadableCount: number;
  /**
   * With `unknownKeys`: the keys whose digest is unknown, and folders (all keys under them are):
   * bytes mode every path not read; canonical mode the images of a sidecar not read or decoded.
   */
  unknownKeys?: Set<string>;
}

export interface ListOptions extends HashOptions {
  /** Absolute paths left out (the manifest being written or checked, when it lies in the tree). */
  exclude?: readonly string[];
  /** canonical mode: also key images whose effective sidecar is next to their symlink target. */
  includeTargetSide?: boolean;
  /**
   * canonical mode: false = list nothing that cannot be read or decoded, only what can (convert
   * --verify compares before/after maps, and a tree with one unreadable folder is still compared).
   * Default true.
   */
  strict?: boolean;
  /** Use this runtime (the caller closes it). */
  runtime?: Runtime;
  /** Fill `TreeListing.unknownKeys` (verify: such keys are neither missing nor changed). */
  unknownKeys?: boolean;
  /**
   * canonical mode: the sidecar each image of a record reads, where the images of one record read
   * different files (a RAW+JPEG pair whose JPEG has its own `IMG_1.JPG.json` beside the shared
   * `IMG_1.json`); null: every image its record's effective sidecar. The read's own rule, from the
   * floor above (ops/hash.ts `perImageSidecarsFor`, which the library's `hashTree` and `verifyTree`
   * pass): without it both images were digested from the one effective file, and a change to the
   * JPEG's own file went unseen by `verify`.
   */
  perImageSidecars?: (rec: ScanRecord) => Promise<{ image: ScanImage; sidecar: ScanSidecar }[] | null>;
}

const READ_CODES: ReadonlySet<string> = new Set<ErrorCode>(['PERMISSION', 'IO', 'NOT_FOUND', 'NOT_A_DIRECTORY', 'READ_ONLY']);

/**
 * The paths a listing could not read: all counted, the first UNREADABLE_NAMED in UTF-8 order named
 * (the same ones whatever order threads and the walk meet them in, so shards merge to them too),
 * and with `keys` the keys whose digest they leave unknown (verify). The root itself not read is no
 * finding: there is no tree to digest (`rootError`, thrown).
 */
class UnreadablePaths {
  private kept: UnreadablePath[] = [];
  count = 0;
  rootError: Error | null = null;
  constructor(
    private readonly root: string,
    readonly keys: Set<string> | undefined,
  ) {}
  add(abs: string, e: { code: string; message: string }): void {
    const rel = relPosix(this.root, abs);
    const code = (READ_CODES.has(e.code) ? e.code : 'IO') as ErrorCode;
    if (rel === '') {
      this.rootError ??= errorFromJSON({ code, message: e.message, path: abs });
      return;
    }
    this.count++;
    this.kept.push({ path: rel, code, message: e.message });
    if (this.kept.length >= 2 * UNREADABLE_NAMED) this.kept = firstUnreadable(this.kept);
    // A name that is not UTF-8 is no manifest's key (no digest was ever taken of it), and its
    // lossy spelling may be another, real file's: that one's change stays seen.
    if (!notUtf8(e)) this.keys?.add(rel);
  }
  get named(): UnreadablePath[] {
    return firstUnreadable(this.kept);
  }
}

/** An error of a name that is not valid UTF-8 (the walk's and the scan's: EILSEQ, UNADDRESSABLE). */
function notUtf8(e: { code: string; message: string }): boolean {
  return e.code === 'UNADDRESSABLE' || e.message.endsWith('(EILSEQ)');
}

function relPosix(root: string, abs: string): string {
  return relative(root, abs).split(sep).join('/');
}

/** Hash a tree. With `manifest`, also write the per-file (or per-image) digests there. */
export async function hashTree(root: string, opts: HashOptions & Pick<ListOptions, 'perImageSidecars'> = {}): Promise<TreeHash> {
  if (opts.manifest) assertManifestFile(opts.manifest);
  const manifestPath = opts.manifest ? resolve(opts.manifest) : undefined;
  if (manifestPath) assertOutputNotManaged(manifestPath, 'manifest', opts.imageExtensions);
  const listing = await listTree(root, { ...opts, exclude: manifestPath ? [manifestPath] : undefined });
  if (listing.undecodable.length > 0 || listing.unreadableCount > 0) throw errors.notDigested(listing.undecodable, listing.unreadable, listing.unreadableCount);
  const digest = treeDigest(listing.entries);
  if (manifestPath) await writeManifest(manifestPath, { version: listing.version, rootDigest: digest, allFiles: listing.allFiles, entries: listing.entries });
  return { version: listing.version, digest, tag: tagOf(listing.version, digest), files: listing.files, bytes: listing.bytes };
}

/** Every entry of the tree with its digest, sorted; the basis of hashTree, manifests and verifyTree. */
export async function listTree(root: string, opts: ListOptions = {}): Promise<TreeListing> {
  // Canonical digests are per image, of its data: there are no other files to include.
  if (opts.canonical && opts.allFiles) throw errors.usage('the all-files option is for byte digests; canonical digests are of each image\'s data (give one of the two)');
  const abs = resolve(root);
  await assertDirectory(abs);
  // A root that cannot be listed is no tree to digest, in every shard (each owns only part of the
  // problems the walk meets: the root's went to one, the others digested an empty tree).
  await opendir(abs).then(
    (d) => d.close(),
    (e: unknown) => {
      throw errors.fromFs(e, abs);
    },
  );
  const runtime = opts.runtime ?? createRuntime(opts);
  runtime.warm?.(); // every file is hashed: threads boot while the walk starts
  try {
    if (opts.canonical) {
      const c = await canonicalEntries(abs, { ...opts, runtime });
      return { version: CANON_VERSION, allFiles: false, files: c.entries.length, ...c };
    }
    return await bytesEntries(abs, { ...opts, runtime });
  } finally {
    if (!opts.runtime) await runtime.close();
  }
}

function wantsFile(name: string, allFiles: boolean): boolean {
  if (isTempName(name) || isLockName(name)) return false;
  return allFiles || isSidecarExt(splitName(name).ext);
}

/**
 * `p` as the walk of `root` names it when it lies in the tree by another path (`hash link --manifest
 * lib/m.json`, `link` → `lib`: the walk lists `link/m.json`), else `p`. The manifest being written
 * was hashed into the tree otherwise: a new digest on every run of an unchanged tree.
 */
function asWalked(root: string, p: string): string {
  const rel = relInTree(root, p);
  return rel === null ? p : join(root, rel);
}

/**
 * `p` relative to the tree at `root` (platform separators), both taken by their real folders (a
 * folder link or `..` names the same place another way); null when it lies outside, is the root,
 * or a folder on the way cannot be reached.
 */
export function relInTree(root: string, p: string): string | null {
  try {
    const abs = resolve(p);
    const rel = relative(realpathSync.native(root), join(realpathSync.native(dirname(abs)), basename(abs)));
    return rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? null : rel;
  } catch {
    return null;
  }
}

async function bytesEntries(root: string, opts: ListOptions & { runtime: Runtime }): Promise<TreeListing> {
  const allFiles = opts.allFiles === true;
  const exclude = new Set((opts.exclude ?? []).flatMap((p) => [p, asWalked(root, p)]));
  const entries: TreeEntry[] = [];
  let bytes = 0;
  const unreadable = new UnreadablePaths(root, opts.unknownKeys ? new Set<string>() : undefined);
  const notRead = (abs: string, e: { code: string; message: string }) => unreadable.add(abs, e);
  const taskOpts: HashTaskOptions = { mode: 'bytes' };
  // A shard hashes the files of its own groups (pair.ts; a file of no group by its own stem).
  const shard = shardFilter(opts.shard, imageExtensionSet(opts.imageExtensions));
  // Progress counts every file the walk lists (the unit of the CLI's pre-walk total), so the bar
  // ends at 100 % although only sidecars are hashed.
  let seen = 0;
  async function* files(): AsyncGenerator<HashItem> {
    const walk = walkTree(root, {
      skipDirNames: SKIP_DIR_NAMES,
      // An unreadable directory would silently drop its files from the hash: named (by the shard
      // that owns its name, as the scan does: every shard walks every folder).
      onProblem: (p) => {
        if (!shard || shard.ownsKey(nfc(relPosix(root, p.path)))) notRead(p.path, p.error);
      },
      signal: opts.signal,
    });
    for await (const listing of walk) {
      const owns = shard?.folder(listing.rel);
      for (const e of listing.entries) {
        if (e.kind !== 'dir') seen++;
        if (e.kind === 'symlink' || e.kind === 'dir' || !wantsFile(e.name, allFiles)) continue;
        if (owns && !owns(e.name)) continue;
        const path = join(listing.path, e.name);
        if (exclude.has(path)) continue;
        if (e.unaddressable) notRead(path, errors.nameNotUtf8(path, shownPath(listing.path, e), 'file name is not valid UTF-8; it cannot be read by name'));
        else if (e.kind !== 'file') notRead(path, errors.notRegularFile(path));
        else yield { path, rel: listing.rel === '' ? e.name : `${listing.rel}/${e.name}` };
      }
    }
  }
  // Files are streamed through the hash in the worker: memory does not grow with their size.
  for await (const { item, result: r } of mapOrdered(opts.runtime, 'hash', taskOpts, files(), { signal: opts.signal })) {
    if (r.error) {
      notRead(item.path, r.error);
      continue;
    }
    entries.push({ key: item.rel!, hex: r.digest! });
    bytes += r.size;
    if ((entries.length & 63) === 0) opts.onProgress?.(seen);
  }
  opts.onProgress?.(seen);
  sortByKey(entries);
  if (unreadable.rootError) throw unreadable.rootError;
  return { version: TREE_VERSION, allFiles, entries, files: entries.length, bytes, undecodable: [], unreadable: unreadable.named, unreadableCount: unreadable.count, unknownKeys: unreadable.keys };
}

/** The image keys of a record whose effective sidecar counts for it, or null. */
function imageKeysOf(rec: ScanRecord, includeTargetSide: boolean): string[] | null {
  const eff = rec.effective;
  if (!eff || rec.images.length === 0) return null;
  if (eff.side !== 'local' && !includeTargetSide) return null;
  return rec.images.map((i) => i.rel);
}

/**
 * Canonical entries: scan the tree, then digest each effective sidecar's canonical JSON in the
 * engine (decode + canonicalJson + sha256 stay in the worker; only hex digests come back).
 */
export async function canonicalEntries(
  root: string,
  opts: ListOptions & { runtime: Runtime },
): Promise<Pick<TreeListing, 'entries' | 'bytes' | 'undecodable' | 'unreadable' | 'unreadableCount' | 'unknownKeys'>> {
  const entries: TreeEntry[] = [];
  const strict = opts.strict !== false;
  let bytes = 0;
  const unreadable = new UnreadablePaths(root, opts.unknownKeys ? new Set<string>() : undefined);
  const unknownKeys = unreadable.keys;
  const taskOpts: HashTaskOptions = { mode: 'canonical', maxFileSize: opts.maxFileSize, maxDepth: opts.maxDepth, keyring: opts.keyring, fastStat: opts.fastStat };
  const undecodable: string[] = [];
  // Progress is the scan's: every file of the tree, the unit of the CLI's pre-walk total.
  // Every problem of the scan (its summary keeps the first 200 in tree order, not the UTF-8 order
  // every listing names them in): a folder not read makes every image under it unknown.
  const onProblem = (p: { path: string; code: string; message: string }) => unreadable.add(p.path, p);
  const session = new ScanSession(root, { ...opts, runtime: opts.runtime, onProblem: strict ? onProblem : undefined }, openScanCache);
  async function* effective(): AsyncGenerator<HashItem> {
    for await (const rec of session) {
      // Without a key the data of an encrypted sidecar is unknown: no digest rather than a wrong
      // one (nor one of an older plaintext candidate's data).
      const locked = strict ? lockedDataError(rec) : null;
      if (locked) throw locked;
      if (strict) {
        for (const sc of rec.sidecars) {
          if (sc.side !== 'local') continue;
          const status = sc.inspection.status;
          if (status === 'corrupt') undecodable.push(sc.rel);
          // An image whose sidecar could not be read or decoded: its data is not known.
          if (unknownKeys && (status === 'corrupt' || status === 'unreadable')) for (const i of rec.images) unknownKeys.add(i.rel);
        }
      }
      const perImage = opts.perImageSidecars ? await opts.perImageSidecars(rec) : null;
      if (perImage !== null) {
        // Each file with the images that read it (an image with none is not digested: its data is not known to be any file's).
        const keysOf = new Map<ScanSidecar, string[]>();
        for (const { image, sidecar } of perImage) {
          if (sidecar.side !== 'local' && opts.includeTargetSide !== true) continue;
          const keys = keysOf.get(sidecar);
          if (keys) keys.push(image.rel);
          else keysOf.set(sidecar, [image.rel]);
        }
        for (const [sidecar, keys] of keysOf) yield { path: sidecar.path, keys, size: sidecar.inspection.size };
        continue;
      }
      const keys = imageKeysOf(rec, opts.includeTargetSide === true);
      if (keys) yield { path: rec.effective!.path, keys, size: rec.effective!.inspection.size };
    }
  }
  for await (const { item, result: r } of mapOrdered(opts.runtime, 'hash', taskOpts, effective(), { signal: opts.signal, weigh: (i) => i.size ?? 0 })) {
    if (r.error) {
      // (Read since the scan: it changed or went in between, or does not decode after all.)
      if (strict) {
        if (READ_CODES.has(r.error.code)) unreadable.add(item.path, r.error);
        else undecodable.push(relPosix(root, item.path));
        for (const k of item.keys!) unknownKeys?.add(k);
      }
      continue;
    }
    const keys = item.keys!;
    for (let k = 0; k < keys.length; k++) entries.push({ key: keys[k], hex: r.keyed![k], canonical: r.canonical });
    bytes += r.size;
  }
  if (unreadable.rootError) throw unreadable.rootError;
  sortByKey(entries);
  return { entries, bytes, undecodable: strict ? undecodable.sort(compareUtf8) : [], unreadable: unreadable.named, unreadableCount: unreadable.count, unknownKeys };
}

/**
 * Why an image record's data is unknown to this reader, as its read would say: a sidecar encrypted
 * under a key not given (`lockedFile`: ENCRYPTED without a key, CORRUPT "authentication failed"
 * with a wrong one) that a read stops at (docs/PAIRING.md §4) — for one image, one before its
 * effective sidecar or any when none is; in a group of several images, which each read their own
 * file, any of the group's. Export, datasets and hash --canonical refuse then, rather than give an
 * older candidate's data or leave the image out. Null when there is none.
 */
export function lockedDataError(rec: ScanRecord): SidecarError | null {
  if (rec.images.length === 0) return null;
  const several = rec.images.length > 1;
  const outside = rec.images.some((i) => i.outsideRoot === true);
  for (const sc of rec.sidecars) {
    if (!several && sc === rec.effective) return null;
    if (several && sc.side !== 'local' && !outside) continue; // a link target's inside the root: its own record's
    if (!lockedFile(sc.inspection)) continue;
    const ins = sc.inspection;
    return ins.status === 'encrypted' ? errors.encrypted(String(ins.encryptedKeyId ?? '?'), sc.path) : errorFromJSON({ code: 'CORRUPT', message: ins.error?.message ?? 'authentication failed', path: sc.path });
  }
  return null;
}
