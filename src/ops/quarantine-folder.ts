/**
 * What a folder of the quarantine (`<root>/.image-sidecar-quarantine/<stamp>`) holds, and the
 * removal of the ones a stopped cleanup or relink left with nothing in them.
 *
 * cleanup (and relink) creates its folder, then writes the manifest (a temp file renamed to
 * manifest.json) before the first file moves. A run killed between the two (SIGKILL, a node lost)
 * leaves a folder without a manifest that holds nothing but that temp file (or nothing, killed
 * before it). Nothing was moved from it, so there is nothing to restore: `restore --list` reports
 * it as abandoned, not as a quarantine, and the next `cleanup`, `relink` or `restore` removes it
 * (the temp file by the temp-file rule, then the empty folder by rmdir: never a recursive delete).
 * A folder without a manifest that holds anything else is never removed: it may hold files
 * someone wants back.
 *
 * "Abandoned" follows the one rule of temp files (fs/temp-files.ts): the temp manifest's writer is
 * dead (this host), or it is over an hour old (another host's). An empty folder is abandoned when
 * it is over an hour old: cleanup and relink create their folder only once every file is hashed,
 * right before the manifest, so a running one's folder is empty for an instant, never for an hour.
 */
import { lstat, mkdir, readdir, realpath, rmdir, unlink } from 'node:fs/promises';
import { lstatSync, type BigIntStats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { nfc } from '../discovery/extensions.js';
import { readFolderNames, stemClaimants, type FolderNames } from '../discovery/folder-names.js';
import { candidateNames, sidecarExtOf } from '../discovery/pair.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { QUARANTINE_DIR } from '../discovery/own-folders.js';
import { lstatOrNull } from '../fs/move.js';
import { errors, isSidecarError, SidecarError } from '../errors.js';
import { assertLockHeld, DEFAULT_LOCK_STALE_MS, lockPathFor, withSidecarLock } from '../fs/lock.js';
import { DEFAULT_STALE_TEMP_MS, isAbandonedTempFile, isLockName, removeStaleTempFiles } from '../fs/temp-files.js';
import { tempTargetName } from '../temp-name.js';
import { relJoin } from '../fs/rel-path.js';

export const MANIFEST_NAME = 'manifest.json';
export const MANIFEST_VERSION = 1;
/** A relink's manifest (relink.ts): files moved inside the library, which restore moves back. */
export const RELINK_MANIFEST_VERSION = 2;
/**
 * A manifest lists ~100 bytes per quarantined file: 256 MiB is ~2.5 million files. restore reads
 * a manifest whole (and refuses a bigger one: a clear TOO_LARGE instead of reading an arbitrary,
 * perhaps sparse, file), so cleanup never writes a bigger one.
 */
export const MANIFEST_MAX_BYTES = 256 * 1024 * 1024;

/**
 * The quarantine folders of `base` (the names of its folders; the quarantine lock's folder is not one),
 * or null when `base` is gone.
 */
export async function quarantineFolderNames(base: string): Promise<string[] | null> {
  try {
    return (await readdir(base, { withFileTypes: true })).filter((d) => d.isDirectory() && !isLockName(d.name)).map((d) => d.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw errors.fromFs(e, base);
  }
}

/**
 * The key of the library's quarantine lock (fs/lock.ts): one `cleanup`, `resolve`, `relink` or
 * `restore` of a library moves files at a time, from its manifest to its last move (restore: for its
 * whole run), so a "planned" manifest restore reads is always a killed run's, never a running one's.
 * Inside the quarantine folder, where no image has a sidecar (a key beside it, named like the folder,
 * would be the lock of a root image `.image-sidecar-quarantine.jpg`'s sidecar).
 */
export function quarantineLockKey(base: string): string {
  return join(base, 'moves');
}

/**
 * How long a cleanup or relink waits for the quarantine lock: long enough to take over the lock of
 * a run killed just before (a dead holder's goes stale after DEFAULT_LOCK_STALE_MS), short enough
 * to say at once that another run is going on. restore waits only for a dead holder's (restore.ts).
 */
export const QUARANTINE_LOCK_WAIT_MS = 2 * DEFAULT_LOCK_STALE_MS;

/** How often `withQuarantineLock` makes the quarantine folder a restore removed under it before giving up. */
const MAKE_BASE_TRIES = 3;

/**
 * Run `fn` holding the library's quarantine lock (made in `<root>/.image-sidecar-quarantine`,
 * made if missing); another cleanup, relink or restore holding it: LOCK_TIMEOUT within seconds, `fn`
 * not run. A holder cut off long enough for its lock to be taken over is told by `assertLockHeld(signal)`.
 */
export async function withQuarantineLock<T>(rootAbs: string, rootReal: string, fn: (signal: AbortSignal, base: string) => Promise<T>): Promise<T> {
  let started = false;
  const base = join(rootAbs, QUARANTINE_DIR);
  const key = resolve(quarantineLockKey(base));
  for (let tries = 1; ; tries++) {
    try {
      await ensureQuarantineBase(rootAbs, rootReal);
      return await withSidecarLock(
        key,
        (signal) => {
          started = true;
          return fn(signal, base);
        },
        { timeoutMs: QUARANTINE_LOCK_WAIT_MS },
      );
    } catch (e) {
      if (started || !isSidecarError(e)) throw e;
      if (e.code === 'LOCK_TIMEOUT' && e.path === key) throw errors.quarantineBusy(base, rootAbs);
      // The quarantine folder removed (a restore that emptied it) between making it and the lock in it: made again.
      if (e.code === 'NOT_FOUND' && (e.path === base || e.path === lockPathFor(key)) && tries < MAKE_BASE_TRIES) continue;
      throw e;
    }
  }
}

/**
 * A run's hold on the library's quarantine lock (`withQuarantineLock`'s signal; none: a read-only
 * dry run without it). `check()`, right before each move and before the complete manifest, verifies
 * it on disk (refreshing it); once another run has taken it over (this one stopped long enough for
 * it to go stale) it throws the run's "stopped" error, and `lost` stays true so the run's per-file
 * error handling passes that error on instead of skipping one file.
 */
export class LibraryHold {
  lost = false;

  /** `done`: what the run did so far, for the message (read when the lock is found lost). */
  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly command: string,
    private readonly done: () => string,
    private readonly path: string,
  ) {}

  check(): void {
    if (this.signal === undefined) return;
    try {
      assertLockHeld(this.signal);
    } catch {
      this.lost = true;
      throw this.stopped();
    }
  }

  stopped(): SidecarError {
    return errors.conflict(`${this.command} stopped: another run took the library's quarantine lock over (this one was stopped or cut off long enough for its lock to go stale); ${this.done()}`, [this.path]);
  }
}

/** Added to the name of a quarantined file that would be stored as the manifest (`quarantinedAt`). */
const BESIDE_MANIFEST_SUFFIX = '.quarantined';

/**
 * Where cleanup keeps the file at `rel` in the quarantine folder `folder`: at its own path, except
 * under a root file or folder named like the manifest (in any case or compatibility form: a NAS
 * share or a Mac may not tell them apart), kept as `<name>.quarantined` (no sidecar has that
 * extension; a root folder of that very name beside it would share the place: cleanup's move then
 * refuses, CONFLICT, and the file stays).
 */
export function quarantinedAt(folder: string, rel: string): string {
  const slash = rel.indexOf('/');
  const first = slash < 0 ? rel : rel.slice(0, slash);
  // NFKC, then upper and lower case: near enough the case folding of a case-insensitive share (ſ, K).
  const named = first.normalize('NFKC').toUpperCase().toLowerCase() === MANIFEST_NAME;
  return relJoin(folder, named ? first + BESIDE_MANIFEST_SUFFIX + rel.slice(first.length) : rel);
}

/**
 * Where restore finds the file at `rel` in `folder`: where `quarantinedAt` keeps it, or, in a
 * quarantine an earlier version made (it kept `MANIFEST.json` at its own path, and refused only
 * `manifest.json`), at its own path when that is another file than the manifest.
 */
export async function quarantinedFile(folder: string, rel: string): Promise<string> {
  const at = quarantinedAt(folder, rel);
  const plain = relJoin(folder, rel);
  try {
    if (at === plain || (await lstatOrNull(at)) !== null) return at;
    const [p, m] = await Promise.all([lstatOrNull(plain), lstatOrNull(join(folder, MANIFEST_NAME))]);
    return p !== null && !(m !== null && p.dev === m.dev && p.ino === m.ino) ? plain : at;
  } catch {
    return at; // (restore's own checks of it name what is wrong)
  }
}

export interface ManifestEntry {
  rel: string;
  size: number;
  sha256: string;
  /** A relink's entry: where the file went (next to its image); restore moves it back from there to `rel`. */
  moved_to?: string;
  /**
   * The sidecars that stood beside the file, for the images it would pair with at `rel`, as they
   * were when it moved (`sidecarsBeside`). restore puts the file back only beside these, unchanged
   * (name, size, modification time: a copy of the library, `cp -a` or `rsync -a`, keeps them):
   * any other is a result written since (saved, or brought back with its photo by `mv` or `rsync -a`
   * with an old time), which the file would hide or be hidden by. Absent in a manifest written
   * before the file moved (a run killed mid-way) or by an earlier version: restore then takes "since"
   * as a modification time past the manifest's.
   */
  beside?: BesideSidecar[];
}

/** A sidecar beside a quarantined file: its name (NFC), size and modification time when the file moved. */
export interface BesideSidecar {
  name: string;
  size: number;
  /** Modification time in ns since the epoch, as decimal text. */
  mtime_ns: string;
}

/** A folder's names as pairing sees them, read once per run (`folders`); null when the folder is not there. */
function folderNamesOf(dir: string, exts: ReadonlySet<string>, folders: Map<string, FolderNames>): FolderNames | null {
  let f = folders.get(dir);
  if (f === undefined) {
    try {
      f = readFolderNames(dir, exts);
    } catch {
      return null;
    }
    folders.set(dir, f);
  }
  return f;
}

/**
 * The spellings on disk a name (NFC) may have: itself, NFD (a file copied from a Mac), and any other
 * the folder's listing holds (U+212A for K). Each is looked up as it is now by the caller.
 */
function spellingsOf(f: FolderNames, name: string): Set<string> {
  return new Set([name, name.normalize('NFD'), ...(f.spellings.get(name) ?? [])]);
}

/**
 * The sidecars, as they are now (lstat), of the images a sidecar at `path` would pair with, other
 * than `path` itself (docs/PAIRING.md: the images its stem claims, each with every sidecar name it
 * reads, in every spelling). `folders` keeps each folder's names for a run: the images in it, which
 * a move of sidecars does not change.
 */
export function sidecarsBeside(path: string, exts: ReadonlySet<string>, folders: Map<string, FolderNames>): { path: string; name: string; st: BigIntStats }[] {
  const dir = dirname(path);
  const name = nfc(basename(path));
  const ext = sidecarExtOf(name);
  if (ext === null) return [];
  const f = folderNamesOf(dir, exts, folders);
  if (f === null) return []; // no folder (yet): no image there
  const out: { path: string; name: string; st: BigIntStats }[] = [];
  const seen = new Set<string>([name]);
  for (const image of stemClaimants(f, name.slice(0, -ext.length - 1), exts)) {
    for (const c of candidateNames(image)) {
      if (seen.has(c.name)) continue;
      seen.add(c.name);
      for (const spelling of spellingsOf(f, c.name)) {
        const p = join(dir, spelling);
        const st = lstatSync(p, { throwIfNoEntry: false, bigint: true });
        if (st !== undefined) out.push({ path: p, name: c.name, st });
      }
    }
  }
  return out;
}

/** Another spelling of `path`'s name that is there now (NFC-equal: `Café.json` for `Cafe\u0301.json`), or null. */
export function otherSpellingThere(path: string, exts: ReadonlySet<string>, folders: Map<string, FolderNames>): string | null {
  const dir = dirname(path);
  const own = basename(path);
  const f = folderNamesOf(dir, exts, folders);
  if (f === null) return null;
  for (const spelling of spellingsOf(f, nfc(own))) {
    if (spelling === own) continue;
    const p = join(dir, spelling);
    if (lstatSync(p, { throwIfNoEntry: false }) !== undefined) return p;
  }
  return null;
}

/** `sidecarsBeside` as a manifest records it. */
export function besideRecord(path: string, exts: ReadonlySet<string>, folders: Map<string, FolderNames>): BesideSidecar[] {
  return sidecarsBeside(path, exts, folders).map((b) => ({ name: b.name, size: Number(b.st.size), mtime_ns: String(b.st.mtimeNs) }));
}

/**
 * The manifest a run writes once its files moved: `entries` as moved, without their `beside`
 * lists when those would take it past `limit` (restore then judges by time, as for a manifest
 * without them).
 */
export function completeManifest(planned: QuarantineManifest, entries: ManifestEntry[], limit: number): QuarantineManifest {
  const complete: QuarantineManifest = { ...planned, status: 'complete', entries };
  if (manifestBytes(complete) <= limit) return complete;
  return { ...complete, entries: entries.map(({ beside: _, ...e }) => e) };
}

/** The precisions a copy of a file may keep its time at: NTFS's 100 ns, µs, ms, exFAT's 10 ms, seconds, FAT's two. */
const TIME_UNITS_NS = [100n, 1_000n, 1_000_000n, 10_000_000n, 1_000_000_000n, 2_000_000_000n];

/**
 * Is the sidecar `st` (named `name`) one the record lists, unchanged? Same size and modification
 * time, or that time as a copy keeps it at a coarser precision: rounded down or up to one of
 * TIME_UNITS_NS (Windows rounds FAT times up), within a microsecond (seconds carried as a float).
 * A save writes another time; a file with another time that no such rounding gives is a rival.
 */
export function besideAsRecorded(recorded: readonly BesideSidecar[], name: string, st: BigIntStats): boolean {
  const now = st.mtimeNs;
  const near = (a: bigint) => (a > now ? a - now : now - a) <= 1_000n;
  const sameTime = (ns: string) => {
    const was = BigInt(ns);
    if (near(was)) return true;
    for (const u of TIME_UNITS_NS) {
      const down = was - (was % u);
      if (near(down) || near(down === was ? was : down + u)) return true;
    }
    return false;
  };
  return recorded.some((r) => r.name === name && r.size === Number(st.size) && sameTime(r.mtime_ns));
}

/** A manifest's `beside` member is well formed (undefined: absent). */
export function isBesideRecord(v: unknown): boolean {
  return v === undefined || (Array.isArray(v) && v.every((b) => b !== null && typeof b === 'object' && typeof b.name === 'string' && typeof b.size === 'number' && typeof b.mtime_ns === 'string' && /^\d+$/.test(b.mtime_ns)));
}

/**
 * Version 1: a cleanup's (or resolve's) files, moved into the quarantine folder under `rel`.
 * Version 2, `kind: "relink"`: files moved inside the library, from `rel` to `moved_to`; the
 * folder holds only the manifest. (A reader of version 1 refuses it rather than misread it.)
 */
export interface QuarantineManifest {
  version: 1 | 2;
  kind?: 'relink';
  /** "planned": written before the moves (some entries may still be at their original path). */
  status: 'planned' | 'complete';
  created_at: string;
  root: string;
  entries: ManifestEntry[];
}

/** `20261121T113300Z`: sorts chronologically as a string. */
export function quarantineStamp(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
}

/** `<root>/.image-sidecar-quarantine`, made if missing; it must be a real directory inside the root. */
/**
 * Why the entry at the quarantine folder's place (`st`: its lstat) cannot be that folder, or null: a
 * symlink (planted: the moved files would go outside the root), or a file, FIFO or device, said as
 * what it is (a name inside it failed with ENOTDIR). Asked by dry runs too.
 */
export function quarantineBaseRefusal(base: string, rootAbs: string, st: { isDirectory(): boolean; isSymbolicLink(): boolean; isFile(): boolean }): SidecarError | null {
  if (st.isDirectory()) return null;
  if (st.isSymbolicLink()) return errors.outsideRoot(base, rootAbs);
  return new SidecarError('NOT_A_DIRECTORY', `${base} is ${st.isFile() ? 'a file' : 'not a folder (a FIFO, socket or device)'}, not the quarantine folder orphans and copies are moved into: move it away`, { path: base });
}

export async function ensureQuarantineBase(rootAbs: string, rootReal: string): Promise<string> {
  const base = join(rootAbs, QUARANTINE_DIR);
  // Not `recursive`: the root exists, and a recursive mkdir reports ENOENT instead of EROFS on a read-only file system.
  await mkdir(base).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw errors.fromFs(e, base);
  });
  const baseSt = await lstat(base).catch((e) => {
    throw errors.fromFs(e, base);
  });
  const refusal = quarantineBaseRefusal(base, rootAbs, baseSt);
  if (refusal !== null) throw refusal;
  const real = await realpath(base).catch((e) => {
    throw errors.fromFs(e, base);
  });
  if (real !== join(rootReal, QUARANTINE_DIR)) throw errors.outsideRoot(base, rootAbs);
  return base;
}

/**
 * The bytes of `JSON.stringify(manifest, null, 2) + '\n'`, an entry at a time: a manifest of
 * millions of files is never one string. Members other than `entries` (a manifest read back by
 * restore may carry members of a later version) are written as JSON.stringify writes them.
 */
export function* manifestPieces(manifest: QuarantineManifest): Generator<string> {
  const m = manifest as unknown as Record<string, unknown>;
  let first = true;
  yield '{';
  for (const key of Object.keys(m)) {
    const value = m[key];
    const lead = `${first ? '' : ','}\n  ${JSON.stringify(key)}: `;
    if (key === 'entries' && Array.isArray(value)) {
      first = false;
      yield `${lead}[`;
      for (let i = 0; i < value.length; i++) yield `${i === 0 ? '' : ','}\n    ${(JSON.stringify(value[i], null, 2) ?? 'null').replaceAll('\n', '\n    ')}`;
      yield value.length === 0 ? ']' : '\n  ]';
      continue;
    }
    const text = JSON.stringify(value, null, 2);
    if (text === undefined) continue; // JSON.stringify leaves such members out
    first = false;
    yield `${lead}${text.replaceAll('\n', '\n  ')}`;
  }
  yield first ? '}\n' : '\n}\n';
}

/** The size in bytes of the manifest as written. */
export function manifestBytes(manifest: QuarantineManifest): number {
  let n = 0;
  for (const piece of manifestPieces(manifest)) n += Buffer.byteLength(piece, 'utf8');
  return n;
}

/**
 * Written as a stream (temp file, fsync, rename, directory fsync). Never through a symlink planted
 * as the manifest (noFollow: CONFLICT): following it would have replaced the file it points to,
 * outside the library.
 */
export async function writeManifest(path: string, manifest: QuarantineManifest): Promise<void> {
  await writeFileAtomic(path, manifestPieces(manifest), { skipIfSame: false, noFollow: true });
}

export type QuarantineFolderState =
  /** manifest.json is there (restore reads it; it may still be unreadable). */
  | { kind: 'manifest' }
  /** No manifest and nothing but a stopped cleanup's unfinished one (`leftovers`), or nothing at all for over an hour. */
  | { kind: 'abandoned'; leftovers: string[] }
  /** No manifest yet: a cleanup that is alive is writing it (or the folder was made a moment ago). */
  | { kind: 'being-written' }
  /** No manifest, and other things inside: never removed, restore cannot put them back. */
  | { kind: 'no-manifest'; entries: number }
  /** No longer there: removed while it was looked at (by a restore that emptied it, or a sweep). */
  | { kind: 'gone' };

/** The state of one quarantine folder (`folder`: a real directory inside the quarantine). */
export async function quarantineFolderState(folder: string, now: number = Date.now()): Promise<QuarantineFolderState> {
  if (await lstat(join(folder, MANIFEST_NAME)).then(() => true, () => false)) return { kind: 'manifest' };
  const gone = (e: unknown): QuarantineFolderState => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'gone' };
    throw errors.fromFs(e, folder);
  };
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (e) {
    return gone(e);
  }
  if (names.length === 0) {
    let st;
    try {
      st = await lstat(folder);
    } catch (e) {
      return gone(e);
    }
    return now - st.mtimeMs > DEFAULT_STALE_TEMP_MS ? { kind: 'abandoned', leftovers: [] } : { kind: 'being-written' };
  }
  const leftovers: string[] = [];
  let live = false;
  for (const name of names) {
    if (tempTargetName(name) !== MANIFEST_NAME) return { kind: 'no-manifest', entries: names.length };
    const p = join(folder, name);
    const st = await lstat(p).catch(() => null);
    if (st === null) continue; // renamed or removed meanwhile
    if (!st.isFile()) return { kind: 'no-manifest', entries: names.length };
    if (isAbandonedTempFile(name, st.mtimeMs, now)) leftovers.push(p);
    else live = true;
  }
  if (live) return { kind: 'being-written' };
  // Every temp manifest vanished meanwhile: its writer renamed it (a manifest now) or another sweep took it.
  if (leftovers.length === 0) return (await lstat(join(folder, MANIFEST_NAME)).then(() => true, () => false)) ? { kind: 'manifest' } : { kind: 'being-written' };
  return { kind: 'abandoned', leftovers };
}

/** An abandoned folder of the quarantine: nothing to restore there, removed by the next cleanup or restore. */
export interface AbandonedQuarantine {
  name: string;
  path: string;
  /** The unfinished manifests (temp files) in it; none when the folder is empty. */
  leftovers: string[];
}

/** Why a folder is abandoned, for listings and messages. */
export const ABANDONED_REASON = 'a cleanup or relink stopped before it moved anything (killed between making this folder and writing its manifest)';

/** The abandoned folders of the quarantine `base` (a real directory: quarantineBase), by name. */
export async function findAbandonedQuarantines(base: string): Promise<AbandonedQuarantine[]> {
  const names = (await quarantineFolderNames(base)) ?? [];
  const out: AbandonedQuarantine[] = [];
  const now = Date.now();
  for (const name of names.sort()) {
    const path = join(base, name);
    const state = await quarantineFolderState(path, now);
    if (state.kind === 'abandoned') out.push({ name, path, leftovers: state.leftovers });
  }
  return out;
}

/**
 * Remove the abandoned folders of the quarantine `base`: each one's unfinished manifests, then the
 * folder by rmdir; returns the folders removed (and `base` itself goes when that leaves it empty,
 * as restore leaves no empty quarantine). What cannot be removed (something appeared meanwhile:
 * rmdir refuses a folder that is not empty) is left alone: it is no longer abandoned.
 */
export async function removeAbandonedQuarantines(base: string): Promise<string[]> {
  const removed: string[] = [];
  for (const f of await findAbandonedQuarantines(base)) {
    for (const p of f.leftovers) {
      await unlink(p).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw errors.fromFs(e, p);
      });
    }
    const gone = await rmdir(f.path).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' || e.code === 'ENOTEMPTY' || e.code === 'EEXIST') return false;
        throw errors.fromFs(e, f.path);
      },
    );
    if (gone) removed.push(f.path);
  }
  // A quarantine lock taken over from a dead or stopped run leaves its aside here (fs/lock.ts):
  // swept once due, so the empty quarantine folder goes too.
  const swept = await removeStaleTempFiles(base).catch(() => []);
  if (removed.length + swept.length > 0) await rmdir(base).catch(() => undefined); // only succeeds when nothing else is left
  return removed;
}

/**
 * The root's quarantine folder, or null when there is none. Anything but a real folder there (a
 * planted symlink) is OUTSIDE_ROOT: restore would pull files from, and `restore --list` read
 * manifests of, the folder it points to, outside the library. One check for both.
 */
export async function quarantineBase(rootAbs: string): Promise<string | null> {
  const base = join(rootAbs, QUARANTINE_DIR);
  const st = await lstatOrNull(base);
  if (!st) return null;
  if (!st.isDirectory()) throw errors.outsideRoot(base, rootAbs);
  return base;
}

/**
 * A run's own quarantine folder when nothing moved into it (each file changed since the plan, or
 * could not move): nothing to restore, so it goes — only while it holds nothing but its manifest
 * and the empty folders made for the moves (anything else there stays, the manifest with it, and
 * the report names it). The run's report names no quarantine when it went.
 */
export async function removeEmptyQuarantine(folder: string, manifestPath: string, report: { quarantine: string | null; manifest: string | null }): Promise<void> {
  const onlyFolders = async (dir: string): Promise<boolean> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (p === manifestPath) continue;
      if (!e.isDirectory() || !(await onlyFolders(p))) return false;
    }
    return true;
  };
  if (!(await onlyFolders(folder).catch(() => false))) return;
  report.quarantine = null;
  report.manifest = null;
  await unlink(manifestPath).catch(() => undefined);
  const removeAll = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) await removeAll(join(dir, e.name));
    await rmdir(dir).catch(() => undefined); // rmdir: never a file that arrived meanwhile
  };
  await removeAll(folder);
}
