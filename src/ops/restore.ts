/**
 * restore: undo a cleanup by moving the files of a quarantine folder back to their original paths,
 * or a relink by moving the sidecars it re-attached back to where it found them (its manifest
 * lists both places; the quarantine folder holds only that manifest).
 *
 * Never overwrites: when something now exists at an original path, or the image the file would
 * pair with has a sidecar modified since the quarantine (the restored file would hide its newer
 * results, or be hidden), that entry stays in the quarantine and is reported. Each file's SHA-256 is checked against the manifest before it moves.
 * Afterwards the manifest is rewritten to list only what is still in the quarantine; when nothing
 * is left, the folder (and an empty `.image-sidecar-quarantine`) is removed — by rmdir only, never
 * by a recursive delete.
 */
import { access, readdir, readFile, realpath, rmdir, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { constants as fsConstants, existsSync } from 'node:fs';
import { READ_NOFOLLOW_FLAGS, readRegularFile } from '../fs/regular-file.js';
import { makeFolders } from '../fs/make-folders.js';
import { tempTargetName } from '../temp-name.js';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { errors, isSidecarError } from '../errors.js';
import { QUARANTINE_DIR } from '../discovery/own-folders.js';
import { lockKeysForLoneSidecar } from '../discovery/lock-key.js';
import { imageExtensionSet, nfc } from '../discovery/extensions.js';
import { type FolderNames } from '../discovery/folder-names.js';
import { assertLockHeld, lockHolderDead, lockPathFor, withSidecarLock } from '../fs/lock.js';
import { fsyncDirs } from '../fs/dir-sync.js';
import { hashRegularFile } from '../fs/file-hash.js';
import { lstatOrNull, moveNoOverwrite } from '../fs/move.js';
import { isSafeRel, relJoin } from '../fs/rel-path.js';
import {
  ABANDONED_REASON,
  MANIFEST_MAX_BYTES,
  MANIFEST_NAME,
  quarantinedFile,
  MANIFEST_VERSION,
  RELINK_MANIFEST_VERSION,
  findAbandonedQuarantines,
  quarantineBase,
  quarantineFolderState,
  removeAbandonedQuarantines,
  besideAsRecorded,
  isBesideRecord,
  LibraryHold,
  otherSpellingThere,
  quarantineFolderNames,
  QUARANTINE_LOCK_WAIT_MS,
  quarantineLockKey,
  sidecarsBeside,
  writeManifest,
  type ManifestEntry,
  type QuarantineManifest,
} from './quarantine-folder.js';

export interface RestoreOptions {
  /** A quarantine folder: its name (`20261121T113300Z`) or its path. Default: the newest. */
  from?: string;
  /** Check everything, move nothing. */
  dryRun?: boolean;
  /** The image extensions (docs/PAIRING.md §6): which images a restored file would pair with. */
  imageExtensions?: readonly string[];
}

export interface RestoreReport {
  quarantine: string;
  /** Files moved back (in a dry run: that would be moved back). */
  restored: number;
  /**
   * Files already at their original path as the manifest has them (same bytes): put back by a
   * restore killed before it rewrote the manifest, or never moved by a crashed cleanup or relink.
   * Nothing to do, nothing wrong.
   */
  alreadyBack: number;
  skipped: { rel: string; reason: string }[];
  /**
   * Quarantine folders removed (in a dry run: that would be removed) because a cleanup or relink stopped
   * before it moved anything left them holding nothing but its unfinished manifest
   * (quarantine-folder.ts): nothing to restore there.
   */
  abandonedQuarantines: string[];
}

export async function restore(root: string, opts: RestoreOptions = {}): Promise<RestoreReport> {
  const rootAbs = resolve(root);
  const base = await quarantineBase(rootAbs);
  if (base === null) throw errors.notFound(join(rootAbs, QUARANTINE_DIR), 'nothing to restore: the quarantine folder');
  // The library's quarantine lock (one cleanup, resolve, relink or restore at a time), never after
  // waiting for a live holder: two restores at once would split the files between them, and one
  // that waited for another would then undo the quarantine before (the newest is gone by then). A
  // dry run takes it too (a quarantine being emptied reads as files "not in the quarantine"), unless
  // the library is read-only.
  const key = resolve(quarantineLockKey(base));
  const lockDir = lockPathFor(key);
  // The lock a killed cleanup, relink or restore of this host left goes stale within seconds:
  // waited for while its holder is that dead process (a restore right after a killed run is what a
  // user does), or tried again when it was released meanwhile; never while a live one holds it.
  const deadline = Date.now() + QUARANTINE_LOCK_WAIT_MS;
  const holding = async (): Promise<RestoreReport> => {
    for (;;) {
      try {
        return await withSidecarLock(key, (signal) => restoreHolding(rootAbs, base, opts, signal), { timeoutMs: 0 });
      } catch (e) {
        // The quarantine folder removed before the lock was made in it (a cleanup's sweep of an abandoned one).
        if (isSidecarError(e) && e.code === 'NOT_FOUND' && e.path === lockDir) throw errors.notFound(base, 'nothing to restore: the quarantine folder');
        if (!isSidecarError(e) || e.code !== 'LOCK_TIMEOUT' || e.path !== key || Date.now() > deadline) throw e;
        if (existsSync(lockDir) && !lockHolderDead(key)) throw e;
        await sleep(100);
      }
    }
  };
  try {
    return await holding();
  } catch (e) {
    // A dry run where the lock cannot be made, nor a dead holder's taken over (a read-only
    // mount), looks without it: no restore can run through this mount either.
    const readOnly = opts.dryRun === true && !(await access(base, fsConstants.W_OK).then(() => true, () => false));
    if (isSidecarError(e) && e.code === 'LOCK_TIMEOUT' && e.path === key) {
      if (readOnly) return restoreHolding(rootAbs, base, opts);
      throw errors.quarantineBusy(base, rootAbs);
    }
    if (readOnly && isSidecarError(e) && (e.code === 'READ_ONLY' || e.code === 'PERMISSION') && e.path === lockDir) return restoreHolding(rootAbs, base, opts);
    throw e;
  } finally {
    // The lock's folder kept it: gone once the lock is released if nothing else is left (rmdir
    // removes nothing else; a lock taken over from a killed run leaves its aside, swept ten minutes
    // on by any restore, cleanup or relink). A cleanup or relink that made it just now, and finds it
    // gone when it makes its lock inside, makes it again (withQuarantineLock).
    if (opts.dryRun !== true) await rmdir(base).catch(() => undefined);
  }
}

async function restoreHolding(rootAbs: string, base: string, opts: RestoreOptions, librarySignal?: AbortSignal): Promise<RestoreReport> {
  const dryRun = opts.dryRun ?? false;
  // The library's lock, checked on disk right before each move: a restore stopped (Ctrl-Z, a
  // starved machine) until another one took the lock over stops here, writing nothing more.
  const library = new LibraryHold(librarySignal, 'restore', () => `${report.restored} file(s) put back so far; run restore again`, base);
  // A folder a cleanup killed before its manifest left (only that unfinished manifest in it) is
  // not a quarantine: it goes first (a dry run only names it), and is never the one restored.
  const chosen = opts.from !== undefined ? await chosenFolder(rootAbs, base, opts.from) : null;
  const chosenState = chosen === null ? null : await quarantineFolderState(chosen);
  const abandoned = dryRun ? (await findAbandonedQuarantines(base)).map((f) => f.path) : await removeAbandonedQuarantines(base);
  if (chosen !== null && chosenState?.kind === 'abandoned') throw errors.nothingToRestore(chosen, `${ABANDONED_REASON}${dryRun ? '; restore without --dry-run removes it' : '; removed'}`);
  if (chosen !== null && chosenState?.kind === 'being-written') throw errors.nothingToRestore(chosen, 'it has no manifest yet: a cleanup running now is writing it (nothing has moved yet)');
  let folder: string;
  try {
    folder = chosen ?? (await newestFolder(base));
  } catch (e) {
    if (abandoned.length === 0 || !isSidecarError(e) || e.code !== 'NOT_FOUND') throw e;
    const what = `${abandoned.length} folder(s) ${dryRun ? 'to remove' : 'removed'}: ${ABANDONED_REASON} (${abandoned.map((p) => basename(p)).join(', ')})`;
    throw errors.nothingToRestore(base, `no quarantine folder with a manifest; ${what}`);
  }
  const manifestPath = join(folder, MANIFEST_NAME);
  const { manifest, createdAtNs: quarantinedAtNs, createdAtDamage } = await readManifest(manifestPath);
  const rootReal = await realpath(rootAbs).catch((e) => {
    throw errors.fromFs(e, rootAbs);
  });
  const report: RestoreReport = { quarantine: folder, restored: 0, alreadyBack: 0, skipped: [], abandonedQuarantines: abandoned };
  const remaining: ManifestEntry[] = [];
  const dirs = new Set<string>();
  const exts = imageExtensionSet(opts.imageExtensions);
  const folders = new Map<string, FolderNames>();
  const restoredNow = new Set<string>();
  /**
   * A sidecar an image the file would pair with has, written since the file left (not one this
   * run put back), or null. One that stood beside it then, unchanged (the file `resolve` kept), is
   * what an undo goes back to; any other holds newer results: saved since, or brought back with
   * its photo (`mv`, `rsync -a`) with an older time. The manifest lists those beside each file
   * (`beside`: name, size, mtime; chmod or a hard link change none of them). An entry without
   * that list (a manifest of an earlier version, or a run killed before it finished) goes by time:
   * modified after the manifest's; with no time to go by (a damaged created_at), any sidecar there
   * is one the rule cannot clear (`undated`): the file stays, never put back blindly.
   */
  // The manifest's own files by their original path (NFC): one back there already (this run, or a
  // run killed before it rewrote the manifest) is no rival of the others, while its content is the
  // manifest's (a file saved there since is).
  const entryAt = new Map(manifest.entries.map((e) => [nfcPath(relJoin(rootAbs, e.rel)), e]));
  // A regular file at `path` holding the bytes entry `e` lists.
  const sameAsEntry = async (path: string, e: ManifestEntry) => {
    try {
      const h = await hashRegularFile(path);
      return h.sha256 === e.sha256 && h.snapshot.size === e.size;
    } catch {
      return false;
    }
  };
  const putBackAlready = async (b: { path: string }) => {
    const p = nfcPath(b.path);
    if (restoredNow.has(p)) return true;
    const e = entryAt.get(p);
    return e !== undefined && (await sameAsEntry(b.path, e));
  };
  const rivalOf = async (dest: string, entry: ManifestEntry): Promise<{ path: string; undated: boolean } | null> => {
    for (const b of sidecarsBeside(dest, exts, folders)) {
      if (entry.beside !== undefined ? besideAsRecorded(entry.beside, b.name, b.st) : quarantinedAtNs !== null && b.st.mtimeNs <= quarantinedAtNs) continue;
      if (await putBackAlready(b)) continue;
      return { path: b.path, undated: entry.beside === undefined && quarantinedAtNs === null };
    }
    return null;
  };

  /** Where the manifest's files are kept (whatever became of them in this run). */
  const listedFiles = new Set<string>();
  for (const entry of manifest.entries) {
    // A relink's entry moved inside the library (to `moved_to`); a cleanup's into this folder.
    const movedTo = manifest.kind === 'relink' ? entry.moved_to! : null;
    const src = movedTo !== null ? relJoin(rootAbs, movedTo) : await quarantinedFile(folder, entry.rel);
    listedFiles.add(src);
    const dest = relJoin(rootAbs, entry.rel);
    const skip = (reason: string, keep: boolean) => {
      report.skipped.push({ rel: entry.rel, reason });
      if (keep) remaining.push(entry);
    };
    try {
      // Every folder between the root and the quarantined file must be a real directory inside the
      // root: a symlink planted in the quarantine would make us move a file from elsewhere.
      // (Where the file is, as the quarantine keeps it: `quarantinedFile`, not always `rel` there.)
      const srcRel = movedTo ?? relative(rootAbs, src).split(sep).join('/');
      const where = movedTo !== null ? `at ${movedTo}` : 'in the quarantine';
      // Under the lock a save of an image claiming the file takes (and, undoing a relink, of the
      // image it was moved beside).
      const keys = movedTo !== null ? [...lockKeysForLoneSidecar(dest), ...lockKeysForLoneSidecar(src)] : lockKeysForLoneSidecar(dest);
      const rivalReason = (rival: { path: string; undated: boolean }) =>
        rival.undated
          ? `its image has a sidecar (${rival.path}) that may have been saved since it left: the manifest lists no sidecars beside this file and its ${createdAtDamage}, so that cannot be told; left ${where}`
          : `its image has a sidecar saved since it left (${rival.path}), or brought back with it: put back beside it, this file would hide it or be hidden; left ${where}`;
      if (!(await realDirsInside(rootAbs, rootReal, srcRel, true))) {
        skip(`not ${where}`, false);
        continue;
      }
      const srcSt = await lstatOrNull(src);
      const destSt = await lstatOrNull(dest);
      if (!srcSt) {
        // Back at its original path as the manifest has it: a restore killed after putting it back
        // (or a crashed cleanup or relink that never moved it). Nothing is wrong: it counts as back.
        if (destSt?.isFile() && (await sameAsEntry(dest, entry))) {
          restoredNow.add(nfcPath(dest));
          report.alreadyBack++;
          continue;
        }
        // A "planned" manifest lists files a crashed cleanup (or relink) never moved: they are still in place.
        skip(destSt ? `not ${where} (it is at its original path)` : `not ${where}`, false);
        continue;
      }
      if (!srcSt.isFile()) {
        skip('not a regular file in the quarantine', true);
        continue;
      }
      // Two directory entries, not one reached by two paths (a folder replaced by a link to where
      // relink moved the file: unlinking "the moved name" removed the only copy).
      const twoEntries = async () => {
        try {
          if (!(await realDirsInside(rootAbs, rootReal, entry.rel, false))) return false;
          return join(await realpath(dirname(src)), basename(src)) !== join(await realpath(dirname(dest)), basename(dest));
        } catch {
          return false; // a folder on the way is a link, or gone: not this case
        }
      };
      if (destSt && destSt.dev === srcSt.dev && destSt.ino === srcSt.ino && (await twoEntries())) {
        // The same file at both names: a cleanup (or relink) killed between its link of the file
        // and the unlink of the original. It is back already; the name it was moved to goes.
        if (!dryRun) {
          await withSidecarLock(keys, async (signal) => {
            const [s2, d2] = await Promise.all([lstatOrNull(src), lstatOrNull(dest)]);
            if (!s2 || !d2 || s2.dev !== d2.dev || s2.ino !== d2.ino) throw errors.conflict('changed while it was restored; left in the quarantine', [src, dest]);
            assertLockHeld(signal);
            library.check();
            await unlink(src);
          });
          dirs.add(dirname(src));
        }
        restoredNow.add(nfcPath(dest));
        report.restored++;
        continue;
      }
      if (destSt) {
        skip('a file now exists at the original path; not overwritten', true);
        continue;
      }
      // The same name in another Unicode spelling (a newer Café.json beside the quarantined
      // Cafe\u0301.json): put back, one of the two would hide the other.
      const spelled = otherSpellingThere(dest, exts, folders);
      if (spelled !== null) {
        skip(`a file now exists at the original path, spelled another way (${basename(spelled)}); not put back beside it`, true);
        continue;
      }
      const rival = await rivalOf(dest, entry);
      if (rival !== null) {
        skip(rivalReason(rival), true);
        continue;
      }
      const { sha256, snapshot } = await hashRegularFile(src);
      if (sha256 !== entry.sha256 || snapshot.size !== entry.size) {
        skip('content differs from the manifest (sha256 mismatch); left in the quarantine', true);
        continue;
      }
      await checkDestInsideRoot(rootAbs, rootReal, entry.rel, true);
      if (!dryRun) {
        await makeFolders(dirname(dest)).catch((e) => {
          throw errors.fromFs(e, dirname(dest));
        });
        await checkDestInsideRoot(rootAbs, rootReal, entry.rel, false); // the dirs just made are real ones
        // Under the lock a save of an image claiming the file takes: a save that found no sidecar
        // and renamed its new one in right after the move replaced the restored file (and the
        // quarantine's copy was gone): the save now either lands first (we skip) or reads ours.
        await withSidecarLock(keys, async (signal) => {
          if (await lstatOrNull(dest)) throw errors.conflict('a file now exists at the original path; not overwritten', [dest, src]);
          const spelledNow = otherSpellingThere(dest, exts, folders);
          if (spelledNow !== null) throw errors.conflict(`a file now exists at the original path, spelled another way (${basename(spelledNow)}); not put back beside it`, [dest, spelledNow]);
          const late = await rivalOf(dest, entry);
          if (late !== null) throw errors.conflict(rivalReason(late), [dest, src]);
          await realDirsInside(rootAbs, rootReal, srcRel, false); // and the source's still are
          assertLockHeld(signal);
          library.check();
          await moveNoOverwrite(src, dest);
        });
        dirs.add(dirname(src));
        dirs.add(dirname(dest));
      }
      restoredNow.add(nfcPath(dest));
      report.restored++;
    } catch (e) {
      if (library.lost) throw library.stopped();
      const err = isSidecarError(e) ? e : errors.fromFs(e, src);
      skip(err.message, true);
    }
  }
  // Files in the folder its manifest does not list (an edited or cut manifest): nowhere known to go
  // back to, but still restorable by hand from there: the manifest stays, so the folder stays a
  // quarantine (listed, never taken for abandoned), and each is a finding.
  const strays = (await unlistedFiles(folder)).filter((rel) => !listedFiles.has(join(folder, rel)));
  for (const rel of strays) report.skipped.push({ rel: relative(rootAbs, join(folder, rel)).split(sep).join('/'), reason: `in the quarantine folder ${folder} but not in its manifest: left there (where it came from is not recorded; restore goes on to the older quarantines)` });
  if (dryRun) return report;

  await fsyncDirs(dirs);
  library.check();
  if (remaining.length > 0 || strays.length > 0) {
    await writeManifest(manifestPath, { ...manifest, entries: remaining });
  } else {
    await unlink(manifestPath).catch((e) => {
      throw errors.fromFs(e, manifestPath);
    });
    for (const name of await readdir(folder).catch(() => [] as string[])) if (isManifestTemp(name)) await unlink(join(folder, name)).catch(() => undefined);
    await removeEmptyDirs(folder);
  }
  return report;
}

/** A path with its file name in NFC (how pairing names it). */
function nfcPath(p: string): string {
  return join(dirname(p), nfc(basename(p)));
}

/** Folder names sort as (stamp, collision suffix): `X` < `X-1` < `X-2` < `X-10`. */
export function folderKey(name: string): [string, number] {
  const m = /^(.*?)(?:-(\d+))?$/.exec(name)!;
  return [m[1], m[2] === undefined ? 0 : Number(m[2])];
}

async function newestFolder(base: string): Promise<string> {
  const names = await quarantineFolderNames(base);
  if (names === null) throw errors.notFound(base, 'nothing to restore: the quarantine folder');
  names.sort((a, b) => {
    const [sa, na] = folderKey(a);
    const [sb, nb] = folderKey(b);
    return sa < sb ? -1 : sa > sb ? 1 : na - nb;
  });
  // A folder without a manifest moved nothing (the manifest is written before the first move); one
  // whose manifest lists nothing is left to hold files it does not list (restore says so: below),
  // and is passed over, so that the quarantines before it are still restored without --from.
  let listingNothing: string | null = null;
  for (let i = names.length - 1; i >= 0; i--) {
    const folder = join(base, names[i]);
    const st = await lstatOrNull(join(folder, MANIFEST_NAME));
    if (st === null) continue;
    if (!(await listsNothing(join(folder, MANIFEST_NAME), st.size))) return folder;
    listingNothing ??= names[i];
  }
  if (listingNothing !== null) {
    throw errors.notFound(base, `nothing to restore: a quarantine folder whose manifest lists something (the manifest of ${listingNothing} lists nothing: restore --from ${listingNothing} names what it still holds)`);
  }
  throw errors.notFound(base, 'nothing to restore: a quarantine folder with a manifest');
}

/** A small manifest whose entries are an empty list (one a damaged file is not: restore reads it and says what is wrong). */
async function listsNothing(manifest: string, size: number): Promise<boolean> {
  if (size > 64 * 1024) return false;
  try {
    const m = JSON.parse(await readFile(manifest, 'utf8')) as { entries?: unknown };
    return Array.isArray(m.entries) && m.entries.length === 0;
  } catch {
    return false;
  }
}

async function chosenFolder(rootAbs: string, base: string, from: string): Promise<string> {
  // A name with the slash a shell's completion adds (`--from 20261121T113300Z/`) is that name.
  const bare = from.replace(sep === '/' ? /\/+$/ : /[/\\]+$/, '');
  if (bare !== '' && !bare.includes('/') && !bare.includes(sep) && !isAbsolute(from)) from = bare;
  const folder = isAbsolute(from) || from.includes('/') || from.includes(sep) ? resolve(from) : join(base, from);
  const rel = relative(base, folder);
  // Only a folder directly inside this root's quarantine: restore never moves files from elsewhere.
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.includes(sep)) throw errors.outsideRoot(folder, join(rootAbs, QUARANTINE_DIR));
  const st = await lstatOrNull(folder);
  if (!st) throw errors.notFound(folder, 'quarantine folder');
  if (!st.isDirectory()) throw errors.notADirectory(folder);
  return folder;
}

/** A manifest as restore reads it: its members as written, and the time its `created_at` names. */
export interface ReadManifest {
  manifest: QuarantineManifest;
  /**
   * `created_at` in ns since the epoch, or null when it names no time (missing, not a string, or
   * not an ISO 8601 date-time with its offset: Date.parse alone reads "garbage 2099" as the year
   * 2099). Not a reason to refuse the manifest: only an entry without `beside` needs it.
   */
  createdAtNs: bigint | null;
  /** What is wrong with `created_at`, as the end of a sentence ("created_at is missing"), or null. */
  createdAtDamage: string | null;
}

/** An ISO 8601 date-time with its offset: what isoTimestamp writes, and toISOString (earlier versions). */
const MANIFEST_TIME_RE = /^[+-]?\d{4,6}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

/** The time a manifest's `created_at` names, or why it names none. */
function manifestTime(createdAt: unknown): { ns: bigint | null; damage: string | null } {
  if (createdAt === undefined) return { ns: null, damage: 'created_at is missing' };
  const ms = typeof createdAt === 'string' && MANIFEST_TIME_RE.test(createdAt) ? Date.parse(createdAt) : NaN;
  if (Number.isFinite(ms)) return { ns: BigInt(ms) * 1_000_000n, damage: null };
  const text = JSON.stringify(createdAt);
  return { ns: null, damage: `created_at (${text.length > 40 ? `${text.slice(0, 40)}…` : text}) is not a time` };
}

export async function readManifest(path: string): Promise<ReadManifest> {
  let text: string;
  try {
    // A FIFO planted there is refused, never waited on; a symlink is not followed (the manifest is
    // rewritten in place: fs/regular-file.ts); a manifest is at most MANIFEST_MAX_BYTES (cleanup
    // never writes a bigger one), so its text is one string well below V8's limit.
    text = (await readRegularFile(path, READ_NOFOLLOW_FLAGS, MANIFEST_MAX_BYTES)).toString('utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw errors.notFound(path, 'quarantine manifest');
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw errors.conflict('the quarantine manifest is a symlink; it is neither followed nor rewritten', [path]);
    throw errors.fromFs(e, path);
  }
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw errors.corrupt(`manifest is not valid JSON: ${(e as Error).message}`, path, e);
  }
  const o = m as Partial<QuarantineManifest> | null;
  const relinked = o?.version === RELINK_MANIFEST_VERSION && o.kind === 'relink';
  if (!o || typeof o !== 'object' || !(o.version === MANIFEST_VERSION || relinked) || !Array.isArray(o.entries)) {
    throw errors.corrupt(`not a version ${MANIFEST_VERSION} quarantine manifest (nor a version ${RELINK_MANIFEST_VERSION} relink manifest)`, path);
  }
  const safe = (rel: unknown) => typeof rel === 'string' && isSafeRel(rel) && rel.split('/')[0] !== QUARANTINE_DIR;
  for (const e of o.entries) {
    // A tampered rel could point outside the root: refuse the whole manifest.
    if (!e || typeof e !== 'object' || !safe(e.rel) || typeof e.sha256 !== 'string' || typeof e.size !== 'number' || (relinked && !safe(e.moved_to)) || !isBesideRecord(e.beside)) {
      throw errors.corrupt(`invalid manifest entry ${JSON.stringify(e)}`, path);
    }
  }
  const time = manifestTime(o.created_at);
  return { manifest: o as QuarantineManifest, createdAtNs: time.ns, createdAtDamage: time.damage };
}

/** The destination's existing ancestors must be real directories inside the root (no symlink escape). */
async function checkDestInsideRoot(rootAbs: string, rootReal: string, rel: string, allowMissing: boolean): Promise<void> {
  await realDirsInside(rootAbs, rootReal, rel, allowMissing);
}

/**
 * Walk the folders of `rel` (a file's POSIX path relative to the root) component by component:
 * each must be a real directory (lstat: not a symlink), and the deepest one must resolve to the
 * same place under the root's realpath. Returns false when a component is missing (allowed only
 * with allowMissing); throws OUTSIDE_ROOT for a symlink or anything else in the way.
 */
async function realDirsInside(rootAbs: string, rootReal: string, rel: string, allowMissing: boolean): Promise<boolean> {
  const parts = rel.split('/');
  let dir = rootAbs;
  let real = rootReal;
  for (let i = 0; i < parts.length - 1; i++) {
    dir = join(dir, parts[i]);
    real = join(real, parts[i]);
    const st = await lstatOrNull(dir);
    if (!st) {
      if (allowMissing) return false;
      throw errors.notFound(dir, 'directory');
    }
    if (!st.isDirectory()) throw errors.outsideRoot(relJoin(rootAbs, rel), rootAbs);
  }
  const dirReal = await realpath(dir).catch((e) => {
    throw errors.fromFs(e, dir);
  });
  if (dirReal !== real) throw errors.outsideRoot(relJoin(rootAbs, rel), rootAbs);
  return true;
}

/** The regular files the quarantine folder holds besides its manifest (paths relative to it, `/`-separated; links are never followed, nor counted). */
async function unlistedFiles(folder: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(rel === '' ? folder : join(folder, rel), { withFileTypes: true }).catch(() => []);
  for (const d of entries) {
    const r = rel === '' ? d.name : `${rel}/${d.name}`;
    if (d.isDirectory()) out.push(...(await unlistedFiles(folder, r)));
    else if (d.isFile() && r !== MANIFEST_NAME && !isManifestTemp(r)) out.push(r);
  }
  return out;
}

/**
 * A temp file of the folder's manifest (`.manifest.json.isc-tmp-…`): a cleanup or relink killed
 * while it rewrote the manifest left it. Under the library's quarantine lock, which every writer of
 * a manifest holds, nobody is writing it: it is no quarantined file, and goes with the manifest.
 */
function isManifestTemp(rel: string): boolean {
  return !rel.includes('/') && tempTargetName(rel) === MANIFEST_NAME;
}

/** rmdir every empty directory under `dir`, bottom-up, then `dir` itself; non-empty ones stay. */
async function removeEmptyDirs(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const d of entries) if (d.isDirectory()) await removeEmptyDirs(join(dir, d.name));
  await rmdir(dir).catch(() => undefined);
}
