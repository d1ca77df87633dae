/**
 * cleanup: remove orphaned sidecars — by default into a quarantine folder that `restore` can undo.
 *
 *   plan (findOrphans)  →  guard  →  act          (a dry run stops before act: same plan, same output)
 *
 * Guards (nothing is touched when one trips):
 *   - the scan hit read errors                       → INCOMPLETE_SCAN (from findOrphans; never overridable)
 *   - the tree holds sidecars to remove but no image → GUARD (an unmounted/missing image folder)
 *   - more than maxFraction (20 %) of sidecar files  → GUARD
 *   `force` overrides the two GUARDs.
 *
 * Quarantine layout:  <root>/.image-sidecar-quarantine/<UTC stamp>/<rel path> + manifest.json.
 * The folder is made once every file is hashed, and the manifest is written (atomically) right
 * after it, BEFORE the first move, with status "planned", and rewritten as "complete" afterwards,
 * so a crash mid-way leaves a manifest restore can work from (a crash between the folder and its
 * manifest leaves a folder with nothing to restore, which the next cleanup or restore removes:
 * quarantine-folder.ts). It is written an entry at a time (never one string), and a cleanup whose
 * manifest would be bigger than restore reads (MANIFEST_MAX_BYTES, ~2.5 million files) is refused
 * before anything is touched.
 * Every move re-checks the file right before it (regular file, same inode/size/times as when it
 * was hashed, parent directory still the real one inside the root) and never overwrites; check and
 * move hold the lock a save of any image claiming the file takes (lock-key.ts), as convert does.
 */
import { fsyncDirs } from '../fs/dir-sync.js';
import { makeFolders } from '../fs/make-folders.js';
import { readdirSync } from 'node:fs';
import { mkdir, realpath, unlink } from 'node:fs/promises';
import { hashRegularFile, sameFile, type FileSnapshot } from '../fs/file-hash.js';
import { lstatOrNull, moveNoOverwrite, pathExists } from '../fs/move.js';
import { isSafeRel, relJoin } from '../fs/rel-path.js';
import { mapLimit } from '../engine/map-limit.js';
import { basename, dirname, join, resolve } from 'node:path';
import { errors, isSidecarError, type ErrorCode } from '../errors.js';
import { QUARANTINE_DIR } from '../discovery/own-folders.js';
import { imageExtensionSet, nfc, splitName } from '../discovery/extensions.js';
import type { FolderNames } from '../discovery/folder-names.js';
import { imageNamedBy, isImageName } from '../discovery/pair.js';
import { readSidecarRecord } from '../analysis/image-identity.js';
import { lockKeysForLoneSidecar } from '../discovery/lock-key.js';
import { assertLockHeld, withSidecarLock } from '../fs/lock.js';
import type { Options } from '../types.js';
import { round } from './common.js';
import { findOrphans } from './orphans.js';
import { linkReading, sidecarLinksOrRefuse, type SidecarLinks } from './sidecar-links.js';
import { planRelink } from './relink.js';
import { isoTimestamp } from '../time.js';
import {
  MANIFEST_MAX_BYTES,
  MANIFEST_NAME,
  quarantinedAt,
  MANIFEST_VERSION,
  besideRecord,
  completeManifest,
  findAbandonedQuarantines,
  manifestBytes,
  quarantineBase,
  quarantineBaseRefusal,
  quarantineStamp,
  removeAbandonedQuarantines,
  removeEmptyQuarantine,
  ensureQuarantineBase,
  LibraryHold,
  withQuarantineLock,
  writeManifest,
  type BesideSidecar,
  type ManifestEntry,
  type QuarantineManifest,
} from './quarantine-folder.js';

export interface CleanupOptions extends Options {
  /** Plan and guard only; change nothing. */
  dryRun?: boolean;
  /** Unlink orphans for good instead of quarantining them. */
  delete?: boolean;
  /** Override the GUARD checks (never INCOMPLETE_SCAN). */
  force?: boolean;
  /** Largest share of sidecar files that may go without `force`. Default 0.2. */
  maxFraction?: number;
  /** Clock (the quarantine folder's name and the manifest's created_at). */
  now?: () => Date;
  /** Largest quarantine manifest to write (bytes); never above MANIFEST_MAX_BYTES, the default: what restore reads. */
  maxManifestBytes?: number;
}

export interface CleanupAction {
  path: string;
  rel: string;
  action: 'quarantine' | 'delete';
  /** Where the file goes (quarantine), null for delete. */
  destination: string | null;
}

export interface CleanupSkip {
  rel: string;
  path: string;
  code: ErrorCode;
  reason: string;
}

export interface CleanupReport {
  dryRun: boolean;
  mode: 'quarantine' | 'delete';
  orphans: number;
  /** Files actually moved or deleted (0 in a dry run). */
  removed: number;
  /** The plan, identical in a dry run and a real run. */
  actions: CleanupAction[];
  /** The quarantine folder used (or that would be used), null for delete or when nothing is to do. */
  quarantine: string | null;
  manifest: string | null;
  sidecarFiles: number;
  /** orphans / sidecarFiles (0 when there are no sidecar files). */
  fraction: number;
  /** Planned files left in place because they changed or could not be moved, or a sidecar link came to read them since the plan (real run only). */
  skipped: CleanupSkip[];
  /**
   * Why the guard refuses this cleanup (too many orphans, no images), null when it would go ahead.
   * A real run throws GUARD instead; a dry run reports it with the full plan, so the user can see
   * exactly the orphans that made it trip.
   */
  guard: string | null;
  /**
   * Quarantine folders removed by this run because a cleanup or relink stopped before it moved anything
   * (killed between making its folder and writing its manifest) left them holding nothing but
   * that unfinished manifest (quarantine-folder.ts); in a dry run, the ones a real run removes.
   */
  abandonedQuarantines: string[];
  /**
   * Orphans left in place because their image may be in the library under another name or folder:
   * `relink` puts them back, or lists them with their candidates when the evidence is ambiguous.
   * Never counted among the orphans to remove.
   */
  relinkable: number;
  /**
   * Of `relinkable`, those relink lists as ambiguous and does not re-attach (several images fit, the
   * one that fits has a sidecar of its own, ...): left for the user to decide, from
   * `relink --dry-run`'s reason for each (merge, keep or remove them).
   */
  relinkUndecided: number;
  /**
   * Sidecars without an image encrypted under a key not given: never orphans (whose they are, and
   * whether relink could put them back, is in their record), left in place; give the key to judge them.
   */
  encryptedLeft: number;
  /**
   * Files without an image that a sidecar link of the tree reads (x/M.json -> ../d1/Z.json): M's
   * sidecar, never an orphan to remove (gone, the link dangled and M's results were lost); left in
   * place, each with the link.
   */
  linkRead: { rel: string; link: string }[];
}

export const DEFAULT_MAX_FRACTION = 0.2;
export { MANIFEST_NAME, MANIFEST_VERSION, manifestBytes, manifestPieces, quarantineStamp, writeManifest, type QuarantineManifest } from './quarantine-folder.js';

interface PlannedOrphan {
  path: string;
  rel: string;
  size: number;
  /** The file as it was when its move was decided (resolve): one changed since is left in place. */
  decidedAs?: FileSnapshot;
  /** resolve: the file kept for its image, as decided; the others move only while it is still so. */
  keptBeside?: { path: string; snapshot: FileSnapshot };
  /** A stem file another image left behind (docs/PAIRING.md §3): images of its stem are there, claiming none of it. */
  leftBehind?: true;
}

/** A file `quarantineFiles` moves (resolve's: the copies beside the file it keeps). */
export type PlannedMove = PlannedOrphan;

/** Taking an orphan's lock took longer than this: it waited for another run (an `mv`, a save) working on its names. */
const LOCK_WAITED_MS = 2;
/** A folder's images are listed again for a claim check once their listing is this old. */
const FOLDER_IMAGES_MS = 50;

/**
 * Whether an image claims an orphan now (docs/PAIRING.md §2: an image of its stem, or the one named
 * exactly its base; a stem file another image left behind, §3: the image its record names), asked
 * under the orphan's lock right before it goes: an image moved or copied in since the scan (an `mv`
 * finishing, a pipeline's new photo) makes it that image's sidecar again. Folders are never images
 * (§1). A folder's images are listed again once their listing is FOLDER_IMAGES_MS old, and whenever
 * taking the lock had to wait (another run worked on these names: an `mv` holds them until its
 * image is in place). One listing per orphan (the folder changes with every lock taken in it) made
 * a cleanup of 5,000 orphans in a folder of 20,000 files 14× slower. An image that arrives without
 * our locks (a plain `cp`) within that margin before its orphan's turn is not seen, as one that
 * arrives right after the check.
 */
class OrphanClaims {
  /** Per folder: when listed, its image names (NFC), and each image by the bases that claim by it (its name, its stem). */
  private readonly folders = new Map<string, { at: number; images: string[]; byBase: Map<string, string> }>();
  constructor(
    private readonly exts: ReadonlySet<string>,
    private readonly readOpts: Pick<Options, 'keyring' | 'maxFileSize' | 'maxDepth'>,
  ) {}

  /** The image that claims `o` now, or null. */
  claimant(o: PlannedOrphan, waited: boolean): string | null {
    const { images, byBase } = this.imagesIn(dirname(o.path), waited);
    if (o.leftBehind === true) {
      const named = readSidecarRecord(o.path, this.readOpts.keyring, this.readOpts)?.name ?? null;
      return named === null ? null : (images[imageNamedBy(nfc(named), images)] ?? null);
    }
    const name = nfc(basename(o.path));
    return byBase.get(name.slice(0, name.lastIndexOf('.'))) ?? null;
  }

  private imagesIn(dir: string, fresh: boolean): { images: string[]; byBase: Map<string, string> } {
    const c = this.folders.get(dir);
    if (!fresh && c !== undefined && performance.now() - c.at < FOLDER_IMAGES_MS) return c;
    const at = performance.now();
    const images: string[] = [];
    const byBase = new Map<string, string>();
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      if (d.isDirectory()) continue;
      const n = nfc(d.name);
      if (!isImageName(n, this.exts)) continue;
      images.push(n);
      byBase.set(n, n);
      const stem = nfc(splitName(n).stem);
      if (!byBase.has(stem)) byBase.set(stem, n);
    }
    const listed = { at, images, byBase };
    this.folders.set(dir, listed);
    return listed;
  }
}

/** The file (`st`) is not the one planned: another size than the scan's, or changed since the move was decided on it. */
function changedSincePlan(st: { dev: number; ino: number; size: number; mtimeMs: number; ctimeMs: number }, o: PlannedOrphan): boolean {
  return st.size !== o.size || (o.decidedAs !== undefined && !sameFile(st, o.decidedAs));
}

/**
 * The checks a file passes right before it moves or is deleted, under its sidecar lock: still the
 * regular file planned (its size, and its whole identity when the move was decided on it), no image
 * claims it now (cleanup's orphans: `claims`), and the file kept beside it is still as kept (resolve).
 */
async function stillPlanned(o: PlannedOrphan, claims: OrphanClaims | null, waited: boolean, hashedAs?: FileSnapshot): Promise<void> {
  const st = await lstatOrNull(o.path);
  if (!st || !st.isFile()) throw errors.conflict('no longer a regular file; left alone', [o.path]);
  if (changedSincePlan(st, o)) throw errors.conflict('changed since the scan; left alone', [o.path]);
  if (hashedAs !== undefined && !sameFile(st, hashedAs)) throw errors.conflict('changed or replaced since it was hashed; left alone', [o.path]);
  const claimant = claims?.claimant(o, waited) ?? null;
  if (claimant !== null) throw errors.conflict(`${claimant} claims it now (moved or copied in since the scan); left alone`, [o.path, join(dirname(o.path), claimant)]);
  const kept = o.keptBeside;
  if (kept !== undefined) {
    const k = await lstatOrNull(kept.path);
    if (!k || !k.isFile() || !sameFile(k, kept.snapshot)) throw errors.conflict(`${kept.path}, the file kept for its image, is gone or changed since the decision; left in place`, [o.path, kept.path]);
  }
}

/** Run `fn` under the orphan's sidecar lock, telling it whether taking the lock had to wait. */
function underOrphanLock<T>(path: string, fn: (signal: AbortSignal, waited: boolean) => Promise<T>): Promise<T> {
  const asked = performance.now();
  return withSidecarLock(lockKeysForLoneSidecar(path), (signal) => fn(signal, performance.now() - asked > LOCK_WAITED_MS));
}

export async function cleanup(root: string, opts: CleanupOptions = {}): Promise<CleanupReport> {
  const { dryRun = false, delete: deleteMode = false, force = false, maxFraction = DEFAULT_MAX_FRACTION, now, maxManifestBytes, ...scanOpts } = opts;
  if (scanOpts.shard && !dryRun) throw errors.usage('cleanup of one shard only previews (--dry-run): the orphan guard and the quarantine need the whole tree');
  if (typeof maxFraction !== 'number' || !(maxFraction >= 0 && maxFraction <= 1)) {
    throw errors.usage(`maxFraction must be a number between 0 and 1, got ${String(maxFraction)}`);
  }
  const rootAbs = resolve(root);
  const clock = now ?? (() => new Date());

  // 1. plan
  const found = await findOrphans(rootAbs, scanOpts);
  // Orphans whose image may be in the library under another name or folder are results relink
  // re-attaches (or lists, when the evidence is ambiguous): left alone.
  const relinkable = new Set<string>();
  let relinkUndecided = 0;
  if (found.orphans.length > 0) {
    const plan = await planRelink(rootAbs, scanOpts, found);
    for (const m of plan.matches) for (const s of m.sidecars) relinkable.add(s.path);
    for (const a of plan.ambiguous) {
      for (const rel of a.sidecars) relinkable.add(relJoin(rootAbs, rel));
      relinkUndecided += a.sidecars.length;
    }
  }
  // A file a sidecar link of the tree reads (another image's sidecar: x/M.json -> ../d1/Z.json) is
  // no orphan: left in place by the plan (a dry run says so) whatever the mode; gone, the link
  // dangled and M's results were lost (deleted for good with --delete).
  const linkRead: CleanupReport['linkRead'] = [];
  let linked: SidecarLinks = new Map();
  if (found.orphans.length > relinkable.size) linked = await sidecarLinksOrRefuse(rootAbs, 'an orphan', 'no orphan can be declared');
  const orphans: PlannedOrphan[] = [];
  for (const o of found.orphans) {
    if (relinkable.has(o.path)) continue;
    const link = linkReading(linked, o.path);
    if (link !== undefined) linkRead.push({ rel: o.rel, link });
    else orphans.push({ path: o.path, rel: o.rel, size: o.size, ...(o.leftBehind ? { leftBehind: true as const } : {}) });
  }
  const sidecarFiles = found.sidecarFiles;
  const fraction = sidecarFiles > 0 ? orphans.length / sidecarFiles : 0;

  // 2. guard
  const refusal = force ? null : (guardRefusal(orphans.length, sidecarFiles, fraction, found.scan.images, maxFraction) ?? folderRefusal(foldersLeaving(found, relinkable)));
  if (refusal !== null && !dryRun) throw errors.guard(refusal);

  const mode = deleteMode ? 'delete' : 'quarantine';
  const created = clock();
  let quarantine: string | null = null;
  if (mode === 'quarantine' && orphans.length > 0) quarantine = await freeQuarantineFolder(rootAbs, quarantineStamp(created));
  const report: CleanupReport = {
    dryRun,
    mode,
    orphans: orphans.length,
    removed: 0,
    actions: planActions(orphans, mode, quarantine),
    quarantine,
    manifest: quarantine === null ? null : join(quarantine, MANIFEST_NAME),
    sidecarFiles,
    fraction: round(fraction),
    skipped: [],
    linkRead,
    guard: refusal,
    abandonedQuarantines: [],
    relinkable: relinkable.size,
    relinkUndecided,
    encryptedLeft: found.encryptedLeft,
  };
  // What a cleanup stopped before its first move left in the quarantine goes now (nothing to
  // restore there); a dry run names it.
  report.abandonedQuarantines = await abandonedQuarantines(rootAbs, dryRun);
  if (dryRun || orphans.length === 0) return report;

  // 3. act
  const rootReal = await realpath(rootAbs).catch((e) => {
    throw errors.fromFs(e, rootAbs);
  });
  const exts = imageExtensionSet(scanOpts.imageExtensions);
  const claims = new OrphanClaims(exts, scanOpts);
  if (mode === 'delete') await deleteOrphans(rootAbs, rootReal, orphans, report, claims);
  else await quarantineOrphans(rootAbs, rootReal, orphans, created, report, exts, maxManifestBytes, claims);
  return report;
}

/**
 * Move these files into a new quarantine folder exactly as cleanup moves orphans (same checks,
 * manifest and layout), so `restore` puts them back. For `resolve`, which decides what goes itself.
 */
export async function quarantineFiles(
  root: string,
  files: readonly PlannedMove[],
  opts: { now?: () => Date; maxManifestBytes?: number; imageExtensions?: readonly string[] } = {},
): Promise<CleanupReport> {
  const rootAbs = resolve(root);
  const created = (opts.now ?? (() => new Date()))();
  const report: CleanupReport = {
    dryRun: false,
    mode: 'quarantine',
    orphans: files.length,
    removed: 0,
    actions: [],
    quarantine: null,
    manifest: null,
    sidecarFiles: files.length,
    fraction: 0,
    skipped: [],
    guard: null,
    abandonedQuarantines: [],
    relinkable: 0,
    relinkUndecided: 0,
    encryptedLeft: 0,
    linkRead: [],
  };
  if (files.length === 0) return report;
  report.abandonedQuarantines = await abandonedQuarantines(rootAbs, false);
  const rootReal = await realpath(rootAbs).catch((e) => {
    throw errors.fromFs(e, rootAbs);
  });
  await quarantineOrphans(rootAbs, rootReal, files, created, report, imageExtensionSet(opts.imageExtensions), opts.maxManifestBytes, null);
  return report;
}

/** The guard's refusal message, or null when the cleanup may go ahead. */
function guardRefusal(orphans: number, sidecarFiles: number, fraction: number, images: number, maxFraction: number): string | null {
  if (orphans === 0) return null;
  if (images === 0) {
    // Reports and unrelated JSON count as sidecar files, so the fraction alone could miss this.
    return (
      `refusing to remove ${orphans} of ${sidecarFiles} sidecars: the tree holds no images at all ` +
      `(is the image folder missing or not mounted?); pass --force if this is really intended`
    );
  }
  if (fraction > maxFraction) {
    return (
      `refusing to remove ${orphans} of ${sidecarFiles} sidecars (${percent(fraction)} %) — ` +
      `more than ${percent(maxFraction)} %; pass --force if this is really intended`
    );
  }
  return null;
}

/** The per-folder counts of the orphans that would go (those relink can save stay). */
function foldersLeaving(found: Awaited<ReturnType<typeof findOrphans>>, relinkable: ReadonlySet<string>): typeof found.folders {
  if (relinkable.size === 0) return found.folders;
  const staying = new Map<string, number>();
  for (const o of found.orphans) {
    if (!relinkable.has(o.path)) continue;
    const dir = o.rel.includes('/') ? o.rel.slice(0, o.rel.lastIndexOf('/')) : '';
    staying.set(dir, (staying.get(dir) ?? 0) + 1);
  }
  return found.folders.map((f) => ({ ...f, orphans: f.orphans - (staying.get(f.dir) ?? 0) }));
}

/** Folders where at least this many sidecars would go and not one image is left trip the guard. */
export const FOLDER_GUARD_MIN_ORPHANS = 2;

/**
 * A folder whose every image is gone (a game folder unmounted, moved or emptied by mistake) is
 * the mass deletion the tree-wide share misses when the tree is big.
 */
function folderRefusal(folders: { dir: string; images: number; sidecarFiles: number; orphans: number }[]): string | null {
  const tripped = folders.filter((f) => f.images === 0 && f.orphans >= FOLDER_GUARD_MIN_ORPHANS);
  if (tripped.length === 0) return null;
  const list = tripped.slice(0, 5).map((f) => `${f.dir === '' ? '.' : f.dir} (${f.orphans} sidecars)`).join(', ');
  return (
    `refusing to remove the sidecars of ${tripped.length} folder(s) in which every image is gone: ${list}${tripped.length > 5 ? ', …' : ''} ` +
    `(were the images moved, or is a folder not mounted?); pass --force if this is really intended`
  );
}

function percent(f: number): string {
  return String(Number((f * 100).toFixed(1)));
}

function planActions(orphans: PlannedOrphan[], mode: 'quarantine' | 'delete', quarantine: string | null): CleanupAction[] {
  return orphans.map((o) => ({
    path: o.path,
    rel: o.rel,
    action: mode,
    destination: quarantine === null ? null : quarantinedAt(quarantine, o.rel),
  }));
}


/** The first of `<stamp>`, `<stamp>-1`, `<stamp>-2`... that does not exist yet (read only). */
async function freeQuarantineFolder(rootAbs: string, stamp: string): Promise<string> {
  const base = join(rootAbs, QUARANTINE_DIR);
  // Something else in its name (a file, a link): said as the real run says it, in the dry run too.
  const st = await lstatOrNull(base);
  const refusal = st === null ? null : quarantineBaseRefusal(base, rootAbs, st);
  if (refusal !== null) throw refusal;
  for (let n = 0; ; n++) {
    const p = join(base, n === 0 ? stamp : `${stamp}-${n}`);
    if (!(await pathExists(p))) return p;
  }
}

// ---------------------------------------------------------------------------------------------
// act: delete
// ---------------------------------------------------------------------------------------------

async function deleteOrphans(rootAbs: string, rootReal: string, orphans: PlannedOrphan[], report: CleanupReport, claims: OrphanClaims): Promise<void> {
  // The tree's sidecar links again, right before anything goes for good (one made since the plan).
  const linked = await sidecarLinksOrRefuse(rootAbs, 'a file to delete', 'nothing is deleted');
  const dirs = new Set<string>();
  for (const o of orphans) {
    try {
      await checkInsideRoot(rootAbs, rootReal, o); // before a lock is made in its folder
      const link = linkReading(linked, o.path);
      if (link !== undefined) throw errors.conflict(linkedReason(link), [o.path, link]);
      await underOrphanLock(o.path, async (signal, waited) => {
        await checkInsideRoot(rootAbs, rootReal, o);
        await stillPlanned(o, claims, waited);
        assertLockHeld(signal);
        await unlink(o.path).catch((e) => {
          throw errors.fromFs(e, o.path);
        });
      });
      dirs.add(dirname(o.path));
      report.removed++;
    } catch (e) {
      skip(report, o, e);
    }
  }
  await fsyncDirs(dirs);
}

// ---------------------------------------------------------------------------------------------
// act: quarantine
// ---------------------------------------------------------------------------------------------

interface Hashed extends PlannedOrphan {
  sha256: string;
  snapshot: FileSnapshot;
  destination: string;
}

const HASH_CONCURRENCY = 8;

async function quarantineOrphans(
  rootAbs: string,
  rootReal: string,
  orphans: readonly PlannedOrphan[],
  created: Date,
  report: CleanupReport,
  exts: ReadonlySet<string>,
  maxManifestBytes: number | undefined,
  /** cleanup's orphans: checked again that no image claims them (null: resolve's copies). */
  claims: OrphanClaims | null,
): Promise<void> {
  // The manifest's size is known before hashing (a digest is always 64 hex digits): one restore
  // could not read is refused now, before hours of hashing and before anything is created or moved.
  const limit = Math.min(maxManifestBytes ?? MANIFEST_MAX_BYTES, MANIFEST_MAX_BYTES);
  const planned = manifestBytes({
    version: MANIFEST_VERSION,
    status: 'planned',
    created_at: isoTimestamp(created),
    root: rootAbs,
    entries: orphans.map((o) => ({ rel: o.rel, size: o.size, sha256: PLACEHOLDER_SHA256 })),
  });
  if (planned > limit) throw errors.manifestTooLarge(orphans.length, planned, limit);

  // The quarantine itself first (a read-only file system or a planted symlink is found before hours
  // of hashing), the folder of this run only once every file is hashed, right before its manifest:
  // a run stopped while hashing leaves no folder, and one killed between the folder and the
  // manifest leaves one the next cleanup or restore knows for abandoned (quarantine-folder.ts).
  await ensureQuarantineBase(rootAbs, rootReal);
  // A file a sidecar link of the tree reads (another image's sidecar: x/M.json -> ../d1/Z.json)
  // stays: quarantined, the link dangled and M's results were gone from its reads.
  const linked = await sidecarLinksOrRefuse(rootAbs, 'a file to move', 'nothing is moved');

  // Hash first: the manifest must list every planned file before the first one moves.
  const hashed: Omit<Hashed, 'destination'>[] = [];
  const results = await mapLimit(orphans, HASH_CONCURRENCY, async (o) => {
    try {
      await checkInsideRoot(rootAbs, rootReal, o);
      const link = linkReading(linked, o.path);
      if (link !== undefined) throw errors.conflict(linkedReason(link), [o.path, link]);
      const h = await hashRegularFile(o.path);
      if (changedSincePlan(h.snapshot, o)) throw errors.conflict('changed since the scan; left alone', [o.path]);
      return { ...o, sha256: h.sha256, snapshot: h.snapshot };
    } catch (e) {
      return { failed: e };
    }
  });
  results.forEach((r, i) => {
    if ('failed' in r) skip(report, orphans[i], r.failed);
    else hashed.push(r);
  });

  // The folder, its manifest and the moves under the library's quarantine lock: no restore takes
  // this run's "planned" manifest for a killed run's, no other run moves files meanwhile. (A file
  // changed since it was hashed is left: each move checks it first.)
  await withQuarantineLock(rootAbs, rootReal, (signal, base) => quarantineUnder(rootAbs, rootReal, base, signal, hashed, created, report, exts, limit, claims));
}

async function quarantineUnder(
  rootAbs: string,
  rootReal: string,
  base: string,
  librarySignal: AbortSignal,
  hashed: Omit<Hashed, 'destination'>[],
  created: Date,
  report: CleanupReport,
  exts: ReadonlySet<string>,
  limit: number,
  claims: OrphanClaims | null,
): Promise<void> {
  const folder = await createQuarantineFolder(base, quarantineStamp(created), report);
  const folderReal = join(rootReal, QUARANTINE_DIR, basename(folder)); // createQuarantineFolder checked the base is real
  const manifestPath = join(folder, MANIFEST_NAME);
  const manifest: QuarantineManifest = {
    version: MANIFEST_VERSION,
    status: 'planned',
    created_at: isoTimestamp(created),
    root: rootAbs,
    entries: hashed.map((h) => ({ rel: h.rel, size: h.size, sha256: h.sha256 })),
  };
  await writeManifest(manifestPath, manifest);

  const moved: ManifestEntry[] = [];
  const dirs = new Set<string>();
  const folders = new Map<string, FolderNames>();
  // The library's lock, checked before each move: a cleanup that lost it stops there; its manifest
  // stays "planned", which restore undoes.
  const library = new LibraryHold(librarySignal, 'cleanup', () => `${report.removed} file(s) quarantined, listed in the manifest`, manifestPath);
  for (const hashedFile of hashed) {
    const h: Hashed = { ...hashedFile, destination: quarantinedAt(folder, hashedFile.rel) };
    let beside: BesideSidecar[] = [];
    try {
      await checkInsideRoot(rootAbs, rootReal, h); // before a lock is made in its folder
      // Under the lock a save of an image claiming this file takes: a save landing between the
      // check and the move (link, then unlink) had its new file unlinked — its result lost.
      await underOrphanLock(h.path, async (signal, waited) => {
        await checkInsideRoot(rootAbs, rootReal, h);
        await stillPlanned(h, claims, waited, h.snapshot);
        await makeFolders(dirname(h.destination)).catch((e) => {
          throw errors.fromFs(e, dirname(h.destination));
        });
        // The folders on the way are real ones of this quarantine: `mkdir -p` accepts a symlink
        // planted among them, and the move would follow it out of the library.
        const destReal = await realpath(dirname(h.destination)).catch((e) => {
          throw errors.fromFs(e, dirname(h.destination));
        });
        if (destReal !== dirname(quarantinedAt(folderReal, h.rel))) throw errors.outsideRoot(h.destination, rootAbs);
        // What stood beside it for its images, as the move leaves it: restore puts it back beside that only.
        beside = besideRecord(h.path, exts, folders);
        assertLockHeld(signal);
        library.check();
        await moveNoOverwrite(h.path, h.destination);
      });
      dirs.add(dirname(h.path));
      dirs.add(dirname(h.destination));
      moved.push({ rel: h.rel, size: h.size, sha256: h.sha256, beside });
      report.removed++;
    } catch (e) {
      if (library.lost) throw e;
      skip(report, h, e);
    }
  }
  await fsyncDirs(dirs);
  library.check();
  if (moved.length === 0) return removeEmptyQuarantine(folder, manifestPath, report); // nothing to restore
  await writeManifest(manifestPath, completeManifest(manifest, moved, limit));
}


/**
 * Create `<base>/<stamp>[-n]` exclusively (base: ensureQuarantineBase's, kept by the quarantine
 * lock inside it).
 */
async function createQuarantineFolder(base: string, stamp: string, report: CleanupReport): Promise<string> {
  for (let n = 0; ; n++) {
    const folder = join(base, n === 0 ? stamp : `${stamp}-${n}`);
    try {
      await mkdir(folder); // exclusive: a folder someone else made is never reused
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw errors.fromFs(e, folder);
    }
    if (folder !== report.quarantine) {
      // Taken between the plan and now (another cleanup in the same second): re-aim the plan.
      report.quarantine = folder;
      report.manifest = join(folder, MANIFEST_NAME);
      for (const a of report.actions) a.destination = quarantinedAt(folder, a.rel);
    }
    return folder;
  }
}

/** The quarantine folders a stopped cleanup left with nothing to restore: removed (a dry run: only found). */
async function abandonedQuarantines(rootAbs: string, dryRun: boolean): Promise<string[]> {
  // Anything but a real folder there (a planted symlink) is never read through; a run that needs
  // the quarantine refuses it when it makes its folder (OUTSIDE_ROOT), as before.
  const base = await quarantineBase(rootAbs).catch(() => null);
  if (base === null) return [];
  return dryRun ? (await findAbandonedQuarantines(base)).map((f) => f.path) : removeAbandonedQuarantines(base);
}

const PLACEHOLDER_SHA256 = '0'.repeat(64);


// ---------------------------------------------------------------------------------------------
// shared with restore
// ---------------------------------------------------------------------------------------------

/** The file's path must still lead through real directories inside the root (no swapped-in symlink). */
async function checkInsideRoot(rootAbs: string, rootReal: string, o: { path: string; rel: string }): Promise<void> {
  if (!isSafeRel(o.rel) || o.rel.split('/')[0] === QUARANTINE_DIR || relJoin(rootAbs, o.rel) !== o.path) {
    throw errors.outsideRoot(o.path, rootAbs);
  }
  const dir = dirname(o.path);
  let real: string;
  try {
    real = await realpath(dir);
  } catch (e) {
    throw errors.fromFs(e, dir);
  }
  if (real !== dirname(relJoin(rootReal, o.rel))) throw errors.outsideRoot(o.path, rootAbs);
}

function linkedReason(link: string): string {
  return `the sidecar link ${link} reads this file; left in place`;
}

function skip(report: CleanupReport, o: { path: string; rel: string }, e: unknown): void {
  const err = isSidecarError(e) ? e : errors.fromFs(e, o.path);
  report.skipped.push({ rel: o.rel, path: o.path, code: err.code, reason: err.message });
}
