/**
 * `mv` and `cp` of images together with their sidecars (docs/REORGANISE.md).
 *
 *   plan (every source → a unit: an image and the files that go with it)  →  journal  →  act, a unit at a time
 *
 * A unit is an image with its own sidecars (docs/PAIRING.md: both forms; a stem file shared with
 * another image only when its record names this one), or a lone sidecar given on its own.
 *
 * The order within a unit keeps every image with its sidecars at every instant, so a kill at any
 * point leaves no image apart from its results:
 *   1. each sidecar appears at the destination (link(2), or a verified copy), never replacing a name;
 *   2. then the image (a symlinked image: a new link to the same target);
 *   3. a move then removes the image at the source, and its sidecars last.
 * A kill between 1 and 2 leaves extra sidecar names at the destination, between 2 and 3 the image
 * in both places, after 3 began extra sidecar names at the source: each is a second name of the
 * same file (or an equal copy), never a missing one. The journal (`.isc-move-<host>-<pid>-<n>` in the
 * destination folder, written before the first change) names every unit, so the next `mv` or `cp`
 * into that folder finishes what a dead run started (rolls a unit forward once its image is at the
 * destination, back before that) and removes the journal.
 *
 * Each unit holds the sidecar locks of its source and destination (lock-key.ts), so a save of the
 * image never lands between a sidecar's link and its unlink. Same file system: hard links (the data
 * never moves). Across file systems, or where links are not supported: copies made by the system's
 * `cp --preserve=mode,timestamps` into a staging folder (Node cannot set a nanosecond mtime, and the
 * identity a sidecar records is size + mtime_ns), fsynced and compared with the source byte for byte.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { errors, isSidecarError, isWrongKey, type ErrorCode } from '../errors.js';
import { decodeSidecar } from '../formats/codec.js';
import { isEncryptedBin } from '../formats/encrypted-bin.js';
import { DEFAULT_MAX_FILE_SIZE, readFileLimitedSync } from '../fs/read-file.js';
import { acquireSidecarLockSync, type HeldLock } from '../fs/lock.js';
import { hostMark, processState, removeStaleTempFiles } from '../fs/temp-files.js';
import { fsyncDirs } from '../fs/dir-sync.js';
import { physicalPath } from '../fs/physical-path.js';
import { writeFileAtomicSync } from '../fs/atomic-write.js';
import { imageExtensionSet, isAscii, nfc, splitName } from '../discovery/extensions.js';
import { candidateNames, imageNamedBy, isImageName, isSidecarName, sidecarExtOf } from '../discovery/pair.js';
import { leftBehindOfImage } from './read.js';
import { locateSidecarSync } from '../discovery/locate.js';
import { addFolderName, readFolderNames, stemClaimants, type FolderNames } from '../discovery/folder-names.js';
import { lockKeyForImage, lockKeysForLoneSidecar } from '../discovery/lock-key.js';
import { readSidecarRecord } from '../analysis/image-identity.js';
import { isReservedSidecarName } from '../analysis/operations.js';
import { linkReading, sidecarLinksIn, type SidecarLinks } from './sidecar-links.js';
import type { Keyring, SidecarExt, SidecarNaming } from '../types.js';

export type TransferMode = 'move' | 'copy';

export interface TransferOptions {
  /** Plan and check only; change nothing. */
  dryRun?: boolean;
  /** The image extensions (docs/PAIRING.md §6); default the built-in set. */
  imageExtensions?: readonly string[];
  /** Keys to read encrypted stem files shared by several images (whose record says whose they are). */
  keyring?: Keyring;
  /** Give up on a unit whose lock stays taken this long (default 60 s). */
  lockTimeoutMs?: number;
}

export interface TransferFile {
  from: string;
  to: string;
  role: 'image' | 'sidecar';
}

export interface TransferUnit {
  /** The source as given (resolved). */
  source: string;
  /** Sidecars first, then the image: the order they appear at the destination. */
  files: TransferFile[];
  /** A stem-form sidecar renamed to the name-ext form, because another image at the destination has the same stem. */
  renamedForm?: true;
}

export interface TransferProblem {
  path: string;
  code: ErrorCode;
  message: string;
}

export interface TransferReport {
  mode: TransferMode;
  dryRun: boolean;
  destination: string;
  /** The plan (every unit that goes ahead); in a real run the ones done are counted in `done`. */
  units: TransferUnit[];
  /** Units moved or copied (0 in a dry run). */
  done: number;
  /** Files moved or copied (images and sidecars; 0 in a dry run). */
  files: number;
  /** Sources left alone, one finding each. */
  problems: TransferProblem[];
  /** Units of earlier runs killed mid-way that this run finished or undid (their journals are gone). */
  recovered: number;
}

/** Move images with their sidecars (`SRC… DEST`: DEST a folder, or a new name for one source). */
export function moveImages(sources: readonly string[], destination: string, opts: TransferOptions = {}): Promise<TransferReport> {
  return transferImages('move', sources, destination, opts);
}

/** Copy images with their sidecars; the copies keep mode and times (the identity a sidecar records). */
export function copyImages(sources: readonly string[], destination: string, opts: TransferOptions = {}): Promise<TransferReport> {
  return transferImages('copy', sources, destination, opts);
}

export async function transferImages(mode: TransferMode, sources: readonly string[], destination: string, opts: TransferOptions = {}): Promise<TransferReport> {
  if (sources.length === 0) throw errors.usage('nothing to ' + mode + ': give one or more images and a destination');
  // The destination's folder first finishes what a dead run left there: a killed rename (`mv
  // a/IMG_1.jpg a/IMG_2.jpg`) left its destination existing, which the same command, run again to
  // finish it, then refused for good.
  const destPath = physicalPath(destination);
  const destDir = statOrNull(destPath)?.isDirectory() ? destPath : path.dirname(destPath);
  const recovered: { units: number; problems: TransferProblem[]; finished: ReadonlyMap<string, string> } = { units: 0, problems: [], finished: new Map() };
  if (opts.dryRun !== true && statOrNull(destDir)?.isDirectory()) {
    await removeStaleTempFiles(destDir).catch(() => undefined); // a journal a killed run was writing
    Object.assign(recovered, recoverJournals(destDir, opts));
  }
  // A source a dead run had moved or copied (its journal just finished the job) to where this run
  // would put it is done, not missing (or a conflict with its own copy).
  const destIsFolder = statOrNull(destPath)?.isDirectory() === true;
  const done = (s: string) => recovered.finished.get(s) === (destIsFolder ? path.join(destPath, path.basename(s)) : destPath) && (mode === 'copy' || !exists(s));
  if (sources.length === 1 && done(physicalPath(sources[0]))) {
    return { mode, dryRun: false, destination: destPath, units: [], done: 0, files: 0, problems: recovered.problems, recovered: recovered.units };
  }
  const dest = resolveDestination(destination, sources.length);
  const report: TransferReport = { mode, dryRun: opts.dryRun === true, destination: dest.path, units: [], done: 0, files: 0, problems: [...recovered.problems], recovered: recovered.units };
  // Each source as the kernel names it (a `..` after a symlinked folder is not collapsed as text:
  // that would move another image); one whose folder is missing is a finding.
  const given: string[] = [];
  for (const s of sources) {
    try {
      given.push(physicalPath(s));
    } catch (e) {
      report.problems.push(problemOf(s, e));
    }
  }
  const plan = planUnits(mode, given.filter((s) => !done(s)), dest, opts, report.problems);
  report.units = plan;
  if (report.dryRun || plan.length === 0) return report;

  const journal = writeJournal(dest.dir, mode, plan);
  let journalTouched = Date.now();
  const touched = new Set<string>([dest.dir]);
  let deviceCopy = false;
  /** Images this run has moved or copied: source → destination (a link to one leads there). */
  const landedAt = new Map<string, string>();
  // Symlinked images last: a link whose target this run moves too leads to where it landed.
  const isLinkUnit = (u: TransferUnit) => u.files.some((f) => f.role === 'image' && fs.lstatSync(f.from, { throwIfNoEntry: false })?.isSymbolicLink() === true);
  const linkUnits = new Set(plan.filter(isLinkUnit));
  for (const unit of [...plan.filter((u) => !linkUnits.has(u)), ...linksAfterTheirTargets([...linkUnits])]) {
    try {
      const r = actUnit(mode, unit, deviceCopy, opts, landedAt, () => saveJournal(journal, mode, plan));
      // By the path as given and by its real one (a link's text names it through its real folders).
      for (const f of unit.files) if (f.role === 'image') landedAt.set(f.from, f.to).set(realFolderOf(f.from), f.to);
      deviceCopy ||= r.copied;
      report.done++;
      report.problems.push(...r.leftAtSource);
      if (Date.now() - journalTouched > JOURNAL_REFRESH_MS) {
        fs.utimesSync(journal, new Date(), new Date()); // alive: a journal this old is not abandoned
        journalTouched = Date.now();
      }
      report.files += unit.files.length;
      for (const f of unit.files) touched.add(path.dirname(f.from));
    } catch (e) {
      report.problems.push(problemOf(unit.source, e));
    }
  }
  await fsyncDirs(touched);
  fs.rmSync(journal, { force: true });
  return report;
}

// ---------------------------------------------------------------------------------------------
// plan
// ---------------------------------------------------------------------------------------------

interface Destination {
  /** As resolved. */
  path: string;
  /** The folder the files land in. */
  dir: string;
  /** A new name for the one source (`mv a.jpg b.jpg`), null when DEST is a folder. */
  rename: string | null;
}

function resolveDestination(destination: string, count: number): Destination {
  const p = physicalPath(destination);
  const st = statOrNull(p);
  if (st?.isDirectory()) return { path: p, dir: p, rename: null };
  if (count > 1) throw errors.usage(`the destination of several sources must be an existing folder: ${p}`);
  if (st !== null) throw errors.conflict('the destination exists; not overwritten', [p]);
  const dir = path.dirname(p);
  if (!statOrNull(dir)?.isDirectory()) throw errors.notFound(dir, 'destination folder');
  return { path: p, dir, rename: path.basename(p) };
}

function planUnits(mode: TransferMode, sources: string[], dest: Destination, opts: TransferOptions, problems: TransferProblem[]): TransferUnit[] {
  const exts = imageExtensionSet(opts.imageExtensions);
  const folder = readFolderNames(dest.dir, exts);
  const units: TransferUnit[] = [];
  const inUnits = new Set<string>();
  const lone: string[] = [];
  // One image given twice (a/IMG.jpg and alink/IMG.jpg, alink a link to a): once.
  const seen = new Set<string>();
  const once = sources.filter((s) => {
    let key = s;
    try {
      key = path.join(fs.realpathSync(path.dirname(s)), path.basename(s));
    } catch {
      // a missing folder: the source's own finding says so
    }
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  for (const source of once) {
    try {
      const st = fs.lstatSync(source, { throwIfNoEntry: false });
      if (st === undefined) throw errors.notFound(source, 'source');
      if (st.isDirectory()) throw errors.usage(`${source} is a folder: move or copy whole folders with mv or rsync (the sidecars in them go along)`);
      if (!st.isFile() && !st.isSymbolicLink()) throw errors.conflict(NOT_REGULAR, [source]);
      const name = path.basename(source);
      if (isSidecarName(name)) {
        lone.push(source);
        continue;
      }
      if (!isImageName(name, exts) && !st.isSymbolicLink()) {
        throw errors.usage(`${source} is not an image (add its extension with --image-ext): only images and their sidecars are moved`);
      }
      const unit = imageUnit(mode, source, dest, folder, exts, opts);
      for (const f of unit.files) inUnits.add(f.from);
      units.push(unit);
    } catch (e) {
      problems.push(problemOf(source, e));
    }
  }
  for (const source of lone) {
    if (inUnits.has(source)) continue; // it goes with its image
    try {
      units.push(loneUnit(source, dest, folder, exts, inUnits, opts));
    } catch (e) {
      problems.push(problemOf(source, e));
    }
  }
  // A sidecar another image's sidecar link in its folder reads (M.json -> Z.json) stays, as convert,
  // cleanup, resolve and relink leave it: moved, the link read nothing. Links elsewhere are not seen.
  const linksIn = new Map<string, SidecarLinks>();
  return units.filter((u) => {
    for (const f of u.files) {
      if (f.role !== 'sidecar') continue;
      const dir = path.dirname(f.from);
      let links = linksIn.get(dir);
      if (links === undefined) linksIn.set(dir, (links = sidecarLinksIn(dir)));
      const link = linkReading(links, f.from);
      if (link !== undefined && !inUnits.has(link)) {
        problems.push({ path: u.source, code: 'CONFLICT', message: `the sidecar link ${link} reads ${f.from}: moved, the link would read nothing; left in place` });
        return false;
      }
    }
    return true;
  });
}

function imageUnit(mode: TransferMode, source: string, dest: Destination, folder: FolderNames, exts: ReadonlySet<string>, opts: TransferOptions): TransferUnit {
  const loc = locateSidecarSync(source, { imageExtensions: opts.imageExtensions });
  const name = path.basename(source);
  const newName = dest.rename ?? name;
  const newStem = nfc(splitName(newName).stem);
  if (dest.rename !== null && !isImageName(newName, exts)) throw errors.usage(`the new name ${newName} is not an image name (its sidecars would pair with nothing)`);
  if (path.dirname(source) === dest.dir && nfc(name) === nfc(newName)) throw errors.usage(`${source} is already there`);
  // A symlinked image goes as a link; its target's sidecars stay with the target (link-side ones go with it).
  const own = loc.candidates.filter((c) => (loc.isSymlink ? c.side === 'link' : c.side === 'target'));
  const files: TransferFile[] = [];
  let renamedForm = false;
  // Images of the destination with the new stem share its stem-form files.
  // (An image named exactly the new stem, `IMG_1.jpg` for `IMG_1.jpg.png`, claims those files by its name-ext form.)
  // The image itself, renamed in its folder, leaves; copied there (`cp IMG_1.jpg IMG_1.png`) it stays, and
  // shares them: the copy takes its results in the name-ext form, its own.
  const sharers = stemClaimants(folder, newStem, exts).filter(
    (n) => n !== nfc(newName) && !(mode === 'move' && path.dirname(source) === dest.dir && n === nfc(name)),
  );
  const ownPaths = new Set(own.map((c) => c.path));
  const siblings = loc.siblings.map((s) => nfc(path.basename(s)));
  const leftBehind = leftBehindOfImage(loc, opts);
  for (const c of own) {
    if (leftBehind?.has(c.path)) continue; // another image's file, left behind (docs/PAIRING.md §3): it stays
    if (c.isLink) throw errors.usage(`its sidecar ${c.path} is a symlink: move it yourself (its target may be anyone's)`);
    if (c.shared) {
      const whose = recordNames(c.path, opts, [nfc(path.basename(loc.targetPath)), ...siblings]);
      if (whose > 0) continue; // another image's file: it stays
      if (whose < 0) {
        // Whose it is cannot be read without its key: said so, not that it names no image.
        if (lockedWithoutKey(c.path, opts)) throw errors.conflict(`${path.basename(c.path)} is shared with ${siblings.join(', ')} and encrypted under a key not given (or a wrong one): give its key (--key-file) to tell whose it is`, [c.path]);
        throw errors.conflict(`${path.basename(c.path)} is shared with ${siblings.join(', ')} and names none of them: save this image's own sidecar first`, [c.path]);
      }
    }
    let target = c.naming === 'stem' ? `${newStem}.${c.ext}` : `${newName}.${c.ext}`;
    // The name-ext form is this image's alone, as a save would choose. A stem file would be shared
    // there even when its record names this image: the pair is then one ambiguous record to every
    // tree command, and the other image's stem file may hold that name. Unless the image has its own
    // name-ext file of that extension already: then a stem file naming it keeps its form (as before).
    const nameExtTaken = own.some((o) => o !== c && o.naming !== 'stem' && o.ext === c.ext);
    // A stem name reads never take for a sidecar (Game_Detection.bin, .image-sidecar.json): name-ext, as a save writes.
    if (c.naming === 'stem' && ((sharers.length > 0 && !(nameExtTaken && recordOf(c.path, opts) === nfc(newName))) || isReservedSidecarName(target))) {
      target = `${newName}.${c.ext}`;
      renamedForm = true;
    }
    const to = path.join(dest.dir, target);
    if (to === c.path) continue; // `mv a.jpg a.png`: its stem files stay as they are
    // Two of its files to one name: a stem file that takes the name-ext form there, and the image's
    // own name-ext file already (one of them a kept copy). The dry run said nothing and the run then
    // failed on a name "existing" at the destination.
    const same = files.find((f) => f.to === to);
    if (same) throw errors.conflict(`${path.basename(same.from)} and ${path.basename(c.path)} would both be ${target} there${renamedForm ? ` (beside ${sharers.join(', ')} a stem file takes the name-ext form)` : ''}: keep one of them first (image-sidecar resolve)`, [same.from, c.path]);
    files.push({ from: c.path, to, role: 'sidecar' });
  }
  // Its own name taken there (another image of this run, or a file): said as such, before any
  // sidecar there is blamed for it.
  if (folder.names.has(nfc(newName))) throw errors.conflict('exists at the destination; not overwritten', [path.join(dest.dir, newName)]);
  // Files at the destination that would claim the image there: stem files must name another image
  // there (else this image would share them), and a name-ext one would become its own.
  for (const s of folder.sidecarsByBase.get(newStem) ?? []) {
    const p = path.join(dest.dir, s);
    if (ownPaths.has(p)) continue;
    // A name an earlier unit of this run will put there is read where it is now.
    const now = plannedFrom.get(folder)?.get(p) ?? p;
    if (recordNames(now, opts, [nfc(newName), ...sharers]) <= 0) {
      const named = recordOf(now, opts);
      const why = named === nfc(newName) ? `it records an image of that name that is not this one` : `it names ${named ?? 'no image'}`;
      throw errors.conflict(`${newName} would pair there with ${s}, which is not its sidecar (${why})`, [p]);
    }
  }
  for (const s of folder.sidecarsByBase.get(nfc(newName)) ?? []) {
    const p = path.join(dest.dir, s);
    if (!ownPaths.has(p)) throw errors.conflict(`${newName} would pair there with ${s}, which is not its sidecar`, [p]);
  }
  files.push({ from: loc.imagePath, to: path.join(dest.dir, newName), role: 'image' });
  claimNames(files, folder, exts);
  const unit: TransferUnit = { source, files };
  if (renamedForm) unit.renamedForm = true;
  planSiblings.set(unit, siblings);
  return unit;
}

/** A sidecar given on its own: it moves alone only when no image of its folder claims it. */
function loneUnit(source: string, dest: Destination, folder: FolderNames, exts: ReadonlySet<string>, moving: ReadonlySet<string>, opts: TransferOptions): TransferUnit {
  const name = nfc(path.basename(source));
  const base = name.slice(0, name.lastIndexOf('.'));
  const [owner] = stemClaimants(readFolderNames(path.dirname(source), exts), base, exts);
  if (owner !== undefined) throw errors.usage(`${source} belongs to ${path.join(path.dirname(source), owner)}: move the image (its sidecars go with it)`);
  // The unknown-image rule (docs/PAIRING.md §7): a file of the folder whose name or stem is the
  // sidecar's base, case folded (scan_7.xyz, an image type not in the set; IMG_2.JPG for
  // IMG_2.jpg.json) — it is that file's, never an orphan. Moved without it, it became one.
  const lookalike = lookalikeOf(path.dirname(source), base, moving);
  if (lookalike !== null) throw errors.usage(`${source} is the sidecar of ${lookalike} (not an image type here: add its extension with --image-ext), which stays: left with it`);
  const newName = dest.rename ?? path.basename(source);
  if (dest.rename !== null && sidecarExtOf(newName) === null) throw errors.usage(`the new name ${newName} is not a sidecar name`);
  // An image at the destination that would take it as its sidecar: it goes there only to reunite it
  // with an image that has no sidecar there and that its record does not say is another one's. Else
  // it became one of that image's candidates (a .bin read before the image's own .json: another
  // camera's IMG_5 results under this IMG_5's name, its own file then a "kept" copy resolve removes).
  const newBase = nfc(newName.slice(0, newName.lastIndexOf('.')));
  const claimants = stemClaimants(folder, newBase, exts);
  if (claimants.length > 0) {
    // Whose it would be there: the image its record names among them (a RAW+JPEG pair's shared file
    // recording the JPEG), else every one of them. A record not read may be one locked from us.
    const named = recordOf(source, opts);
    if (named === undefined && lockedWithoutKey(source, opts)) throw errors.conflict(`${newName} would pair there with ${claimants.join(', ')}, and it is encrypted under a key not given (or a wrong one): give its key (--key-file) to tell whose it is`, [source]);
    const at = named != null ? imageNamedBy(named, claimants) : -1;
    if (named != null && at < 0) throw errors.conflict(`${newName} would pair there with ${claimants.join(', ')}, but it records ${named}`, [path.join(dest.dir, claimants[0])]);
    for (const image of at >= 0 ? [claimants[at]] : claimants) {
      const own = [...(folder.sidecarsByBase.get(nfc(splitName(image).stem)) ?? []), ...(folder.sidecarsByBase.get(image) ?? [])];
      if (own.length > 0) throw errors.conflict(`${newName} would pair there with ${image}, which has a sidecar of its own (${own.join(', ')})`, [path.join(dest.dir, own[0])]);
    }
  }
  const files: TransferFile[] = [{ from: source, to: path.join(dest.dir, newName), role: 'sidecar' }];
  claimNames(files, folder, exts);
  return { source, files };
}

/** A file of `dir` that is not a sidecar nor moved by this run, whose name or stem is `base` (NFC, case folded), or null. */
function lookalikeOf(dir: string, base: string, moving: ReadonlySet<string>): string | null {
  const want = base.toLowerCase();
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory() || isSidecarName(e.name) || e.name.startsWith('.') || moving.has(path.join(dir, e.name))) continue;
    const n = nfc(e.name);
    const lower = n.toLowerCase();
    if (lower === want || splitName(lower).stem === want) return path.join(dir, e.name);
  }
  return null;
}

/** The destination names of a unit must be free; once planned they are taken for the next units (and pair as files there). */
function claimNames(files: TransferFile[], folder: FolderNames, exts: ReadonlySet<string>): void {
  for (const f of files) {
    if (folder.names.has(nfc(path.basename(f.to)))) throw errors.conflict('exists at the destination; not overwritten', [f.to]);
  }
  let planned = plannedFrom.get(folder);
  if (planned === undefined) plannedFrom.set(folder, (planned = new Map()));
  for (const f of files) {
    addFolderName(folder, nfc(path.basename(f.to)), exts);
    planned.set(f.to, f.from);
  }
}

/** Per destination listing, the names this run's plan put there → where those files are now. */
const plannedFrom = new WeakMap<FolderNames, Map<string, string>>();

/** The NFC file name a sidecar's record names, null when it names none, undefined when it cannot be read. */
function recordOf(p: string, opts: TransferOptions): string | null | undefined {
  return readSidecarRecord(p, opts.keyring)?.name;
}

/** An encrypted sidecar the run has no key for (a wrong key included). */
function lockedWithoutKey(p: string, opts: TransferOptions): boolean {
  try {
    const bytes = readFileLimitedSync(p, DEFAULT_MAX_FILE_SIZE);
    if (!isEncryptedBin(bytes)) return false;
    decodeSidecar(bytes, { path: p, keyring: opts.keyring });
    return false;
  } catch (e) {
    return isSidecarError(e) && (e.code === 'ENCRYPTED' || isWrongKey(e));
  }
}

/** Which of `names` a sidecar's record names (discovery/pair.ts imageNamedBy); -1: none, or unreadable. */
function recordNames(p: string, opts: TransferOptions, names: readonly string[]): number {
  const named = recordOf(p, opts);
  return named === undefined || named === null ? -1 : imageNamedBy(named, names);
}



// ---------------------------------------------------------------------------------------------
// act
// ---------------------------------------------------------------------------------------------

function lockKeysOf(unit: TransferUnit): string[] {
  const keys = new Set<string>();
  const image = unit.files.find((f) => f.role === 'image');
  if (image) {
    keys.add(lockKeyForImage(path.dirname(image.from), path.basename(image.from)));
    keys.add(lockKeyForImage(path.dirname(image.to), path.basename(image.to)));
  } else {
    for (const f of unit.files) for (const k of [...lockKeysForLoneSidecar(f.from), ...lockKeysForLoneSidecar(f.to)]) keys.add(k);
  }
  return [...keys].sort();
}

function withLocks<T>(keys: string[], opts: TransferOptions, fn: (held: HeldLock[]) => T): T {
  const held: HeldLock[] = [];
  try {
    for (const k of keys) held.push(acquireSidecarLockSync(k, { timeoutMs: opts.lockTimeoutMs }));
    return fn(held);
  } finally {
    for (const l of held.reverse()) l.release();
  }
}

/** Move or copy one unit (see the header for the order). Undoes its own links when a step fails before the image lands. */
function actUnit(mode: TransferMode, unit: TransferUnit, copyAlready: boolean, opts: TransferOptions, landed: ReadonlyMap<string, string>, unitGrew?: () => void): { copied: boolean; leftAtSource: TransferProblem[] } {
  return withLocks(lockKeysOf(unit), opts, (held) => {
    const check = () => held.forEach((l) => l.check(true)); // on disk only when not verified a moment ago
    const before = new Map<string, fs.Stats>();
    for (const f of unit.files) {
      const st = fs.lstatSync(f.from, { throwIfNoEntry: false });
      if (st === undefined) throw errors.notFound(f.from, 'source');
      if (f.role === 'sidecar' && !st.isFile()) throw errors.conflict('no longer a regular file; left alone', [f.from]);
      if (f.role === 'image' && !st.isFile() && !st.isSymbolicLink()) throw errors.conflict(NOT_REGULAR, [f.from]);
      before.set(f.from, st);
    }
    // The plan was made before the lock: a save since may have added a sidecar. It goes along too.
    const filesPlanned = unit.files.length;
    for (const c of newSidecarsOf(unit, opts)) {
      const image = unit.files[unit.files.length - 1];
      const newName = path.basename(image.to);
      const target = path.join(path.dirname(image.to), c.naming === 'stem' && !unit.renamedForm ? `${nfc(splitName(newName).stem)}.${c.ext}` : `${newName}.${c.ext}`);
      if (unit.files.some((f) => f.to === target)) throw errors.conflict('a sidecar appeared since the plan whose name is taken at the destination; left in place', [c.path]);
      unit.files.splice(unit.files.length - 1, 0, { from: c.path, to: target, role: 'sidecar' });
      const st = fs.lstatSync(c.path, { throwIfNoEntry: false });
      if (st === undefined || !st.isFile()) throw errors.conflict('no longer a regular file; left alone', [c.path]);
      before.set(c.path, st);
    }
    // The journal names them before anything is placed: a kill then leaves files the recovery
    // knows as the unit's, not as a save at the source made since (which makes it stop: "saved to both").
    if (unit.files.length > filesPlanned) unitGrew?.();
    let copied = copyAlready || mode === 'copy';
    const made: Placed[] = [];
    const presentBefore = new Set(mode === 'move' ? sourceNamesOf(unit).filter(exists) : []);
    try {
      check();
      if (!copied) {
        try {
          for (const f of unit.files) placeLinked(f, made, landed);
        } catch (e) {
          if (!needsCopy(e)) throw e;
          undo(made);
          copied = true;
        }
      }
      if (copied) {
        // The files the copies are made of (an undone link attempt changed their ctime).
        for (const f of unit.files) before.set(f.from, fs.lstatSync(f.from));
        placeCopies(unit, made, landed);
      }
    } catch (e) {
      undo(made);
      throw e;
    }
    const leftAtSource: TransferProblem[] = [];
    if (mode === 'move') {
      try {
        if (copied) fsyncDir(path.dirname(unit.files[0].to)); // the copies are durable before a source goes
        check();
      } catch (e) {
        // Nothing left the source yet: the destination's new names go again (a lock lost during a
        // long copy across file systems left a whole copy there, said to be "not moved").
        undo(made);
        throw e;
      }
      // The image first, its sidecars last: a kill in between leaves extra sidecar names, never an image without them.
      const [first, ...rest] = [...unit.files].reverse();
      try {
        if (removeSource(first, copied, before) !== null) throw errors.conflict('changed at the source during the move; left there', [first.from]);
      } catch (e) {
        undo(made); // nothing left the source: the destination's new names go again
        throw e;
      }
      for (const f of rest) {
        try {
          const left = removeSource(f, copied, before);
          if (left !== null) leftAtSource.push(left);
        } catch {
          // The image has it at the destination; this is a second name.
          leftAtSource.push({ path: f.from, code: 'IO', message: `moved with its image, but this second name of it could not be removed at the source: ${f.from}` });
        }
      }
      // A sidecar a writer without the lock made at the source meanwhile, under a name the unit did
      // not list (its other form): left there, said (it was an orphan nobody named).
      // (Names there before the move — another image's, a left-behind file — are not new.)
      const appeared = sourceNamesOf(unit).filter((p) => exists(p) && (!presentBefore.has(p) || unit.files.some((f) => f.from === p)) && !leftAtSource.some((l) => l.path === p));
      for (const c of appeared.map((p) => ({ path: p }))) {
        leftAtSource.push({ path: c.path, code: 'CONFLICT', message: `a sidecar of the image appeared at the source during the move (a writer without the lock); left there, the image is at ${unit.files[unit.files.length - 1].to}: ${c.path}` });
      }
    }
    return { copied, leftAtSource };
  });
}

/**
 * Sidecars of the unit's image now that the plan does not list (its own side only; another image's
 * shared files, and stem files that stay where they are in a same-folder rename, aside).
 */
function newSidecarsOf(unit: TransferUnit, opts: TransferOptions): { path: string; ext: SidecarExt; naming: SidecarNaming }[] {
  const image = unit.files.find((f) => f.role === 'image');
  if (!image) return [];
  const planned = new Set(unit.files.map((f) => f.from));
  const stays = path.dirname(image.from) === path.dirname(image.to) && nfc(splitName(path.basename(image.from)).stem) === nfc(splitName(path.basename(image.to)).stem);
  const name = path.basename(image.from);
  const dir = path.dirname(image.from);
  const siblings = planSiblings.get(unit) ?? [];
  let found: { path: string; ext: SidecarExt; naming: SidecarNaming; shared: boolean }[];
  if (isAscii(name)) {
    // A stat per name this image's sidecars can have: the folder changes with every unit moved out
    // of it, and a locate would list it again each time.
    found = candidateNames(name)
      .filter((c) => fs.lstatSync(path.join(dir, c.name), { throwIfNoEntry: false })?.isFile())
      .map((c) => ({ path: path.join(dir, c.name), ext: c.ext, naming: c.naming, shared: c.naming === 'stem' && siblings.length > 0 }));
  } else {
    const loc = locateSidecarSync(image.from, { imageExtensions: opts.imageExtensions });
    found = loc.candidates.filter((c) => (loc.isSymlink ? c.side === 'link' : c.side === 'target')).map((c) => ({ ...c, shared: c.shared === true }));
  }
  // Another image's files left behind (docs/PAIRING.md §3) stay: looked for only where the image has files in both namings.
  const leftBehind = found.some((c) => c.naming === 'stem') && found.some((c) => c.naming === 'name-ext') ? leftBehindOfImage(locateSidecarSync(image.from, { imageExtensions: opts.imageExtensions }), opts) : null;
  return found.filter((c) => {
    if (planned.has(c.path) || (stays && c.naming === 'stem') || leftBehind?.has(c.path)) return false;
    if (!c.shared) return true;
    return recordNames(c.path, opts, [nfc(name), ...siblings]) <= 0; // not another image's
  });
}

/** The sidecar names an image can have beside it (both forms). */
function sidecarNamesBeside(image: string): string[] {
  return candidateNames(path.basename(image)).map((c) => path.join(path.dirname(image), c.name));
}

/** The sidecar names the unit's image can have at its source. */
function sourceNamesOf(unit: TransferUnit): string[] {
  const image = unit.files.find((f) => f.role === 'image');
  return image ? sidecarNamesBeside(image.from) : [];
}

/** The other images of each planned image's group (IMG_1.CR2 for IMG_1.jpg): whose stem files are not this image's. */
const planSiblings = new WeakMap<TransferUnit, string[]>();

function needsCopy(e: unknown): boolean {
  const c = (e as NodeJS.ErrnoException).code;
  return c === 'EXDEV' || c === 'EPERM' || c === 'ENOTSUP' || c === 'EOPNOTSUPP' || c === 'ENOSYS' || c === 'EMLINK';
}

/**
 * Remove a source name once its file is at the destination (null), unless the name no longer holds
 * that file: a writer that takes no lock (a pipeline saving its JSON by temp file and rename) may
 * have put a newer one there since it was placed, and unlinking the name deleted its results. A
 * newer file at the source follows its image when the destination's name still holds the file
 * placed there (renamed over it: what a save just before the move would have left); when that one
 * changed too, or across file systems, it stays where it is, said (the problem returned). A newer
 * file at the destination (the writer found the image there) is kept, the source's older one goes.
 * The check and the unlink are two calls: a write landing between them (microseconds, where it was
 * the whole unit's move) is not seen.
 */
function removeSource(f: TransferFile, copied: boolean, before: ReadonlyMap<string, fs.Stats>): TransferProblem | null {
  const now = fs.lstatSync(f.from, { throwIfNoEntry: false });
  if (now === undefined) return null; // removed by someone else since: nothing to remove
  const was = before.get(f.from);
  // Still the file (or link) placed: the same inode; a copy's source also unmodified (a copy does
  // not change its ctime; a link does, so a linked one is not compared by times).
  const same = (st: fs.Stats | undefined) => st !== undefined && was !== undefined && st.dev === was.dev && st.ino === was.ino;
  const unchanged = same(now) && (!copied || now.isSymbolicLink() || (now.size === was!.size && now.mtimeMs === was!.mtimeMs && now.ctimeMs === was!.ctimeMs));
  if (unchanged) {
    fs.unlinkSync(f.from);
    return null;
  }
  if (!copied && now.isFile() && same(fs.lstatSync(f.to, { throwIfNoEntry: false }))) {
    fs.renameSync(f.from, f.to);
    return null;
  }
  return { path: f.from, code: 'CONFLICT', message: `changed at the source during the move (a writer without the lock): the newer file is left there; ${f.to} has the one it had before or a newer one` };
}

const NOT_REGULAR = 'not a regular file or a symlink (a FIFO, socket or device); left alone';

/** A name a unit placed at the destination, and the entry it was (undone only while it still is: lstat). */
interface Placed {
  path: string;
  dev: number;
  ino: number;
}

function placed(made: Placed[], p: string): void {
  const st = fs.lstatSync(p);
  made.push({ path: p, dev: st.dev, ino: st.ino });
}

/**
 * Take back the names a unit placed. Only those still the entries it made: once its lock was lost,
 * the new holder may have saved over one (a new file under that name), which is not ours to remove.
 */
function undo(made: Placed[]): void {
  for (const m of made.reverse()) {
    const st = fs.lstatSync(m.path, { throwIfNoEntry: false });
    if (st !== undefined && st.dev === m.dev && st.ino === m.ino) fs.rmSync(m.path, { force: true });
  }
  made.length = 0;
}

/** A second name for the file at the destination (or, for a symlinked image, a link to the same target). */
function placeLinked(f: TransferFile, made: Placed[], landed: ReadonlyMap<string, string>): void {
  try {
    if (fs.lstatSync(f.from).isSymbolicLink()) fs.symlinkSync(linkTextFor(f, landed), f.to);
    else fs.linkSync(f.from, f.to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw errors.conflict('exists at the destination; not overwritten', [f.to]);
    throw e;
  }
  placed(made, f.to);
}

/** A relative link text is rewritten so the moved link leads to the same file; an absolute one stays. */
function linkTextFor(f: TransferFile, landed: ReadonlyMap<string, string>): string {
  const text = fs.readlinkSync(f.from);
  const lexical = path.resolve(path.dirname(f.from), text);
  const physical = linkTarget(f.from, text);
  // A target this run moved (or copied) already: the link leads to it there, as a moved pair of
  // files would keep its link working (it led to the old place, which the target had left).
  const moved = landed.get(lexical) ?? (physical === null ? undefined : landed.get(physical));
  const now = moved !== undefined && exists(moved) ? moved : undefined;
  if (path.isAbsolute(text) && now === undefined) return text;
  if (now !== undefined && path.isAbsolute(text)) return now;
  // A `..` after a name is taken as the kernel takes it (after a symlinked folder: its target's
  // parent): `sym/../IMG.jpg` moved to another folder became `../g/IMG.jpg` (collapsed as text),
  // another image. Without one, the text's folder links stay in it (`../sym/D.jpg` follows `sym`
  // when it is re-pointed, as the links not moved do).
  const to = now ?? (dotDotAfterName(text) ? (physical ?? lexical) : lexical);
  const text2 = path.relative(path.dirname(f.to), to) || '.';
  // Where it must lead; a target whose folder is missing (a broken link): as its text reads from where it was.
  const must = now !== undefined ? realFolderOf(now) : physical;
  if (must === null || linkTarget(f.to, text2) === must) return text2;
  // The text read from where the new link really is (a destination given through a folder link:
  // its `..` climb from there) leads elsewhere: from the real folder to the real target.
  return path.relative(realOrSelf(path.dirname(f.to)), must) || '.';
}

/** Does a link text hold a `..` after a name (`sym/../x`, where the kernel's answer and the text's differ)? */
function dotDotAfterName(text: string): boolean {
  let named = false;
  for (const part of text.split('/')) {
    if (part === '..' && named) return true;
    if (part !== '' && part !== '.' && part !== '..') named = true;
  }
  return false;
}

function realOrSelf(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return p;
  }
}

/** Where the link at `from` with `text` leads, its folder real (`..` taken physically); null when that folder cannot be reached. */
function linkTarget(from: string, text: string): string | null {
  try {
    const named = physicalPath(path.isAbsolute(text) ? text : `${path.dirname(from)}${path.sep}${text}`);
    return path.join(fs.realpathSync.native(path.dirname(named)), path.basename(named));
  } catch {
    return null;
  }
}

/** `p` with its folder real (its last name as it is: a link's own name), or `p` when that folder cannot be reached. */
function realFolderOf(p: string): string {
  try {
    return path.join(fs.realpathSync.native(path.dirname(p)), path.basename(p));
  } catch {
    return p;
  }
}

/** Links whose target is another of these links after it (L2 → L1 → IMG: L1 first), so each finds where its target landed. */
function linksAfterTheirTargets(units: TransferUnit[]): TransferUnit[] {
  const imageOf = (u: TransferUnit) => u.files[u.files.length - 1].from;
  // Its target by its text as given and as the kernel follows it (the paths of the plan are as given).
  const targetsOf = (u: TransferUnit): string[] => {
    try {
      const text = fs.readlinkSync(imageOf(u));
      return [path.resolve(path.dirname(imageOf(u)), text), linkTarget(imageOf(u), text) ?? ''];
    } catch {
      return [];
    }
  };
  const out: TransferUnit[] = [];
  let pending = units;
  while (pending.length > 0) {
    const waiting = new Set(pending.flatMap((u) => [imageOf(u), realFolderOf(imageOf(u))]));
    const ready = pending.filter((u) => !targetsOf(u).some((t) => waiting.has(t)));
    if (ready.length === 0) return [...out, ...pending]; // a loop of links: as given
    out.push(...ready);
    const done = new Set(ready);
    pending = pending.filter((u) => !done.has(u));
  }
  return out;
}


/**
 * Copies through a staging folder in the destination: `cp` keeps mode and nanosecond times; each copy
 * is fsynced and compared with its source byte for byte, then given its name (never replacing one).
 */
function placeCopies(unit: TransferUnit, made: Placed[], landed: ReadonlyMap<string, string>): void {
  const destDir = path.dirname(unit.files[0].to);
  const stage = path.join(destDir, `${STAGE_MARK}${hostMark()}-${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(stage);
  try {
    const plain = unit.files.filter((f) => !fs.lstatSync(f.from).isSymbolicLink());
    if (plain.length > 0) {
      const r = spawnSync('cp', ['--preserve=mode,timestamps', '--reflink=auto', '--no-dereference', '-t', stage, '--', ...plain.map((f) => f.from)], { encoding: 'utf8' });
      if (r.error || r.status !== 0) throw errors.fromFs(r.error ?? Object.assign(new Error(`cp failed: ${(r.stderr ?? '').trim()}`), { code: 'EIO' }), unit.source);
    }
    for (const f of unit.files) {
      if (fs.lstatSync(f.from).isSymbolicLink()) {
        placeLinked(f, made, landed);
        continue;
      }
      const staged = path.join(stage, path.basename(f.from));
      syncFile(staged);
      if (!sameBytes(f.from, staged)) throw errors.verifyFailed(f.to, 'the copy differs from its source');
      try {
        fs.linkSync(staged, f.to);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw errors.conflict('exists at the destination; not overwritten', [f.to]);
        throw e;
      }
      placed(made, f.to);
    }
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

const STAGE_MARK = '.isc-stage-';
const STAGE_RE = /^\.isc-stage-([0-9a-f]{8})-(\d+)-[0-9a-f]+$/;

function syncFile(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    syncFile(dir);
  } catch {
    /* a file system that cannot fsync a folder: the copies are fsynced themselves */
  }
}

const CHUNK = 1 << 20;

function sameBytes(a: string, b: string): boolean {
  const fa = fs.openSync(a, 'r');
  const fb = fs.openSync(b, 'r');
  try {
    if (fs.fstatSync(fa).size !== fs.fstatSync(fb).size) return false;
    const ba = Buffer.allocUnsafe(CHUNK);
    const bb = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const na = fs.readSync(fa, ba, 0, CHUNK, null);
      const nb = fs.readSync(fb, bb, 0, CHUNK, null);
      if (na !== nb || !ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
      if (na === 0) return true;
    }
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
}

function problemOf(p: string, e: unknown): TransferProblem {
  const err = isSidecarError(e) ? e : errors.fromFs(e, p);
  return { path: p, code: err.code, message: err.message };
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// journal
// ---------------------------------------------------------------------------------------------

const JOURNAL_PREFIX = '.isc-move-';
const JOURNAL_RE = /^\.isc-move-([0-9a-f]{8})-(\d+)-[0-9a-f]+$/;
/**
 * A journal (or staging folder) is abandoned when its writer is dead, or when it has not been
 * refreshed for this long whoever its writer is (another host's cannot be asked, and a pid can be
 * reused by another process); a running move refreshes its journal every JOURNAL_REFRESH_MS.
 */
const JOURNAL_STALE_MS = 10 * 60 * 1000;
const JOURNAL_REFRESH_MS = 60 * 1000;

function abandoned(host: string, pid: number, mtimeMs: number): boolean {
  return processState(host, pid) === 'dead' || Date.now() - mtimeMs > JOURNAL_STALE_MS;
}

/** Only what this user wrote is acted on: a journal planted by another user names files to remove. */
function ownedByUs(st: { uid: number | bigint }): boolean {
  return typeof process.getuid !== 'function' || Number(st.uid) === process.getuid();
}

interface Journal {
  version: 1;
  mode: TransferMode;
  units: { files: TransferFile[] }[];
}

function writeJournal(dir: string, mode: TransferMode, units: TransferUnit[]): string {
  const p = path.join(dir, `${JOURNAL_PREFIX}${hostMark()}-${process.pid}-${randomBytes(4).toString('hex')}`);
  saveJournal(p, mode, units);
  return p;
}

/** The journal at `p` naming `units` as they are now (written again when a unit took a sidecar saved since the plan). */
function saveJournal(p: string, mode: TransferMode, units: TransferUnit[]): void {
  const j: Journal = { version: 1, mode, units: units.map((u) => ({ files: u.files })) };
  writeFileAtomicSync(p, Buffer.from(JSON.stringify(j)), { skipIfSame: false, noFollow: true });
}

/** Is `name` a journal of a run that is gone (`abandoned`: its writer dead on this host, or not refreshed for JOURNAL_STALE_MS)? */
function isAbandonedJournal(name: string, mtimeMs: number): boolean {
  const m = JOURNAL_RE.exec(name);
  return m !== null && abandoned(m[1], Number(m[2]), mtimeMs);
}

/** A journal's units, when every one lands in `dir` and names images and sidecars only (null: not a journal to act on). */
function journalUnits(j: unknown, dir: string): { mode: TransferMode; units: TransferUnit[] } | null {
  const o = j as Partial<Journal> | null;
  if (o === null || typeof o !== 'object' || o.version !== 1 || (o.mode !== 'move' && o.mode !== 'copy') || !Array.isArray(o.units)) return null;
  const units: TransferUnit[] = [];
  for (const u of o.units) {
    if (!u || !Array.isArray(u.files) || u.files.length === 0) return null;
    for (const f of u.files) {
      if (!f || typeof f.from !== 'string' || typeof f.to !== 'string' || !path.isAbsolute(f.from) || path.dirname(f.to) !== dir) return null;
      if (f.role !== 'image' && !(f.role === 'sidecar' && isSidecarName(path.basename(f.from)) && isSidecarName(path.basename(f.to)))) return null;
    }
    units.push({ source: u.files[u.files.length - 1].from, files: u.files });
  }
  return { mode: o.mode, units };
}

/**
 * Finish or undo the units of dead runs' journals in `dir`, then remove the journals (and their
 * staging folders). Returns the units recovered. A unit is rolled forward once its image is at the
 * destination, back before that; only names that are the same file (or an equal copy) are removed.
 */
export function recoverJournals(dir: string, opts: TransferOptions = {}): { units: number; finished: Map<string, string>; problems: TransferProblem[] } {
  let names: string[];
  const finished = new Map<string, string>();
  const problems: TransferProblem[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return { units: 0, finished, problems };
  }
  let recovered = 0;
  for (const name of names) {
    const p = path.join(dir, name);
    const stage = STAGE_RE.exec(name);
    if (stage !== null) {
      const st = fs.lstatSync(p, { throwIfNoEntry: false });
      if (st?.isDirectory() && ownedByUs(st) && abandoned(stage[1], Number(stage[2]), st.mtimeMs)) fs.rmSync(p, { recursive: true, force: true });
      continue;
    }
    const st = fs.lstatSync(p, { throwIfNoEntry: false, bigint: true });
    if (!st?.isFile() || !ownedByUs(st) || !isAbandonedJournal(name, Number(st.mtimeMs))) continue;
    const writtenNs = st.mtimeNs; // its last refresh: before the dead run's last change
    let j: { mode: TransferMode; units: TransferUnit[] } | null = null;
    try {
      j = journalUnits(JSON.parse(fs.readFileSync(p, 'utf8')), dir);
    } catch {
      /* unreadable */
    }
    if (j === null) continue; // not one of ours to act on: left for a person to look at
    const dirs = new Set<string>();
    for (const unit of j.units) {
      const u = unit;
      try {
        if (withLocks(lockKeysOf(unit), opts, () => recoverUnit(j!.mode, unit, opts, writtenNs))) recovered++;
        const image = unit.files.find((f) => f.role === 'image');
        // Done: moved (at the destination only), or copied (an equal copy there, its sidecars' copies with it).
        if (image && (j.mode === 'move' ? exists(image.to) && !exists(image.from) : unit.files.every((f) => sameEntry(f.from, f.to)))) finished.set(image.from, image.to);
        for (const f of u.files) dirs.add(path.dirname(f.from)).add(path.dirname(f.to));
      } catch (e) {
        problems.push(problemOf(u.source, e)); // left as it is: every image still has its sidecars (see the header)
      }
    }
    for (const d of dirs) fsyncDir(d);
    fs.rmSync(p, { force: true });
  }
  return { units: recovered, finished, problems };
}

/** One unit of a dead run: true when something had to be finished or undone. */
function recoverUnit(mode: TransferMode, unit: TransferUnit, opts: TransferOptions, journalNs: bigint): boolean {
  const image = unit.files.find((f) => f.role === 'image') ?? unit.files[unit.files.length - 1];
  // A symlinked image landed as a new link, whose text may have been rewritten (its target moved
  // too): a link at both names is the image at both.
  const isLink = (p: string) => fs.lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink() === true;
  const linkPair = (f: TransferFile) => f.role === 'image' && isLink(f.from) && isLink(f.to);
  const landed = sameEntry(image.from, image.to) || linkPair(image) || (!exists(image.from) && exists(image.to));
  let changed = false;
  // Saved to since the crash, and where: a save writes a new file (temp and rename), modified
  // after the dead run last touched its journal, while the file the move placed is as old as it
  // was before the move (a link or a copy keeps mtime). A new sidecar name at the source is a save
  // there too. A split with no side newer than the journal (a save within its clock tick, or a
  // writer that set an old mtime) goes back, as a save at the source: both files are kept.
  const split = mode === 'move' && landed && exists(image.from) ? unit.files.filter((f) => f.role === 'sidecar' && exists(f.from) && exists(f.to) && !sameEntry(f.from, f.to)) : [];
  // A save at the destination may also have written a name the move did not place (a bin save
  // beside the JSON moved): the image's sidecar names there, newer than the journal.
  const placed = new Set(unit.files.map((f) => f.to));
  const newAtDestination =
    mode === 'move' && landed && exists(image.from)
      ? sidecarNamesBeside(image.to).some((p) => !placed.has(p) && exists(p) && mtimeNs(p) > journalNs)
      : false;
  const savedAtDestination = split.some((f) => mtimeNs(f.to) > journalNs) || newAtDestination;
  const savedAtSource =
    mode === 'move' && landed && exists(image.from) && (split.some((f) => mtimeNs(f.from) > journalNs) || newSidecarsOf(unit, opts).length > 0 || (split.length > 0 && !savedAtDestination));
  if (savedAtSource && savedAtDestination) {
    throw errors.conflict('saved to both at the source and at the destination since an interrupted move; both left as they are: keep one', [image.from, image.to]);
  }
  if (savedAtSource) {
    // Saved to through the source since the crash: the newest results are there, so the unit goes
    // back. The destination's second names go; an older copy of a sidecar there stays (and is said).
    const older: string[] = [];
    for (const f of unit.files) {
      if (!exists(f.to)) continue;
      if (exists(f.from) && (sameEntry(f.from, f.to) || linkPair(f))) fs.unlinkSync(f.to);
      else older.push(f.to);
    }
    if (older.length > 0) throw errors.conflict('saved to at the source since an interrupted move; moved back, but an older copy of its sidecar is left at the destination', older);
    return true;
  }
  if (mode === 'move' && landed) {
    // Forward: remove the source names the destination holds, and the older files of the ones
    // saved to at the destination since (that save merged into the same file).
    const older = new Set(split);
    for (const f of [...unit.files].reverse()) {
      if (exists(f.from) && (sameEntry(f.from, f.to) || older.has(f) || linkPair(f))) {
        fs.unlinkSync(f.from);
        changed = true;
      }
    }
  } else if (!landed) {
    // Back: the sidecar names the run added before its image arrived. One that is no longer a
    // second name of the source's file (saved to at the source since: a new file there) is an older
    // copy: left, and said (the next mv into the folder takes it for another image's).
    const older: string[] = [];
    for (const f of unit.files) {
      if (f.role !== 'sidecar' || !exists(f.to)) continue;
      if (exists(f.from) && sameEntry(f.from, f.to)) {
        fs.unlinkSync(f.to);
        changed = true;
      } else if (exists(f.from)) older.push(f.to);
    }
    if (older.length > 0) throw errors.conflict('saved to at the source since an interrupted move; moved back, but an older copy of its sidecar is left at the destination', older);
  }
  return changed;
}

function mtimeNs(p: string): bigint {
  return fs.lstatSync(p, { bigint: true }).mtimeNs;
}

function exists(p: string): boolean {
  return fs.lstatSync(p, { throwIfNoEntry: false }) !== undefined;
}

/** The same file under two names, a link to the same target, or an equal copy. */
function sameEntry(a: string, b: string): boolean {
  const sa = fs.lstatSync(a, { throwIfNoEntry: false });
  const sb = fs.lstatSync(b, { throwIfNoEntry: false });
  if (sa === undefined || sb === undefined) return false;
  if (sa.isSymbolicLink() || sb.isSymbolicLink()) {
    if (!sa.isSymbolicLink() || !sb.isSymbolicLink()) return false;
    return path.resolve(path.dirname(a), fs.readlinkSync(a)) === path.resolve(path.dirname(b), fs.readlinkSync(b));
  }
  if (sa.dev === sb.dev && sa.ino === sb.ino) return true;
  return sa.isFile() && sb.isFile() && sa.size === sb.size && sa.mtimeMs === sb.mtimeMs && sameBytes(a, b);
}
