/**
 * relink: put orphaned sidecars back next to the images they belong to, when those images moved or
 * were renamed inside the library (docs/REORGANISE.md).
 *
 *   plan (orphans → evidence → one image each, or ambiguous)  →  manifest  →  act  (a dry run stops before the manifest)
 *
 * Evidence is what the sidecar recorded at its last save: `sidecar_info.image` (size, mtime_ns, and
 * a sha256 when hashing was asked for) and `sidecar_info.image_path`. An orphan goes to an image only
 * when exactly one image of the library has the recorded size and mtime (a move or a rename keeps
 * both), that image has no sidecar of its own, and no other orphan claims it. A file name is never
 * evidence (cameras reuse them). With `hashImages`, the candidates' bytes must also match a recorded
 * sha256 (which settles a tie with a same-size, same-time decoy, and rules out one whose original is gone). Everything else is listed: ambiguous ones with their
 * candidates, the rest with the reason nothing was found. A sidecar is never given to two images.
 *
 * The orphans of one image (its `.json` kept beside a `.bin`) move together. A stem-form file keeps
 * its form unless another image with the new stem sits in that folder: then it takes the name-ext
 * form, as a save would. The moves are written first into a manifest in the quarantine folder
 * (`kind: "relink"`, each entry's old and new place), so `restore` moves them back, byte for byte.
 */
import * as fs from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { mkdir, realpath } from 'node:fs/promises';
import { errors, isSidecarError, type ErrorCode } from '../errors.js';
import { hashRegularFileSync, sameFile, type FileSnapshot } from '../fs/file-hash.js';
import { fsyncDirs } from '../fs/dir-sync.js';
import { relJoin } from '../fs/rel-path.js';
import { acquireSidecarLockSync, DEFAULT_LOCK_STALE_MS, DEFAULT_LOCK_TIMEOUT_MS, type HeldLock } from '../fs/lock.js';
import { imageExtensionSet, nfc, splitName } from '../discovery/extensions.js';
import { candidateNames, imageNamedBy, isImageName, leftBehindAmong, pairDirectory, sidecarsOfImage, type PairGroup } from '../discovery/pair.js';
import { shownPath, walkTree, type DirListing } from '../discovery/walk.js';
import { shardFilter } from '../discovery/shard.js';
import { assertDirectory } from '../scan/session.js';
import { SKIP_DIR_NAMES, QUARANTINE_DIR } from '../discovery/own-folders.js';
import { locateSidecarSync } from '../discovery/locate.js';
import { addFolderName, readFolderNames, stemClaimants, type FolderNames } from '../discovery/folder-names.js';
import { lockKeyForImage, lockKeysForLoneSidecar } from '../discovery/lock-key.js';
import { hashFileSync, readSidecarRecord, type SidecarRecord } from '../analysis/image-identity.js';
import type { ImageRecord } from '../model/summary.js';
import type { Options } from '../types.js';
import { isoTimestamp } from '../time.js';
import { staleStemCopies, type OrphanList } from './orphans.js';
import { inspectFile } from '../tasks/inspect.js';
import type { InspectOptions } from '../model/inspection.js';
import { categorize, isMovableOrphan, readAsOurs, unlessLookalike } from '../scan/records.js';
import { linkReading, sidecarLinksOrRefuse } from './sidecar-links.js';
import { MANIFEST_MAX_BYTES, MANIFEST_NAME, RELINK_MANIFEST_VERSION, besideRecord, completeManifest, LibraryHold, removeAbandonedQuarantines, removeEmptyQuarantine, quarantineStamp, withQuarantineLock, writeManifest, type ManifestEntry, type QuarantineManifest } from './quarantine-folder.js';

export interface RelinkOptions extends Options {
  /** Plan only; change nothing. */
  dryRun?: boolean;
  /** Read the candidate images and compare their sha256 with the one a sidecar recorded. */
  hashImages?: boolean;
  /** Clock (the manifest's folder name and created_at). */
  now?: () => Date;
}

export interface RelinkMove {
  path: string;
  rel: string;
  /** Where it goes, next to its image. */
  to: string;
  toRel: string;
}

export interface RelinkMatch {
  image: string;
  imageRel: string;
  sidecars: RelinkMove[];
  /** What matched: always 'size' and 'mtime'; 'sha256' when hashed, 'name' when the image still has the recorded name. */
  evidence: string[];
}

export interface RelinkAmbiguous {
  /** The orphans (rel paths) of one image. */
  sidecars: string[];
  reason: string;
  /** Images that fit the evidence (rel paths). */
  candidates: string[];
}

export interface RelinkUnmatched {
  sidecars: string[];
  reason: string;
  /** The file could not be read (a finding: relink cannot say whose it is). */
  unreadable?: true;
}

export interface RelinkPlan {
  /** Orphans found, and orphan-named files that could not be read (each is in one of the lists below). */
  orphans: number;
  matches: RelinkMatch[];
  ambiguous: RelinkAmbiguous[];
  unmatched: RelinkUnmatched[];
}

export interface RelinkReport extends RelinkPlan {
  dryRun: boolean;
  /** Sidecar files moved next to their images (0 in a dry run). */
  relinked: number;
  /** The manifest `restore` undoes this with (null in a dry run or when nothing moved). */
  manifest: string | null;
  quarantine: string | null;
  /** Planned moves left undone (the file or the image changed meanwhile), one each. */
  skipped: { rel: string; code: ErrorCode; reason: string }[];
}

export async function relink(root: string, opts: RelinkOptions = {}): Promise<RelinkReport> {
  const { dryRun = false, now, ...planOpts } = opts;
  const rootAbs = resolve(root);
  const plan = await planRelink(rootAbs, planOpts);
  const report: RelinkReport = { ...plan, dryRun, relinked: 0, manifest: null, quarantine: null, skipped: [] };
  if (dryRun || plan.matches.length === 0) return report;
  await act(rootAbs, plan.matches, (now ?? (() => new Date()))(), report, imageExtensionSet(planOpts.imageExtensions), planOpts);
  return report;
}

/**
 * The image's own files (its sidecar names, docs/PAIRING.md §2, but a shared stem file recorded for
 * another image: the RAW's IMG_1.json beside IMG_1.CR2, §3) as the plan found them, NFC path → inode:
 * one there now that was not is a save made since the plan, which the move checks for again under
 * the image's lock (the plan's rule: never a second sidecar). The other image's files may change.
 */
const besideAtPlan = new WeakMap<RelinkMatch, Map<string, number>>();

type OwnFilesOptions = Pick<RelinkOptions, 'keyring' | 'maxFileSize' | 'maxDepth' | 'imageExtensions'>;

/** NFC path → inode of the files at `paths` that are there. */
function inodesOf(paths: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of paths) {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (st) out.set(nfc(p), st.ino);
  }
  return out;
}

/**
 * A file in one of the image's sidecar names (pair.ts candidateNames, as the image is spelled) that
 * was not there at the plan (by inode), nor put there by this run, nor a second name of the orphan
 * (`orphanIno`), nor a shared stem file recorded for another image: a save made since the plan.
 * Looked up by name, not by listing the folder (once per move, that made a relink of 3,000 images
 * into a folder of 17,000 files 2.8× slower).
 */
function newOwnFile(image: string, atPlan: ReadonlyMap<string, number>, placed: ReadonlySet<string>, orphanIno: number, opts: OwnFilesOptions): string | null {
  const dir = dirname(image);
  const name = image.slice(dir.length + 1);
  for (const c of candidateNames(name)) {
    const p = join(dir, c.name);
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!st?.isFile() || st.ino === orphanIno || placed.has(nfc(p)) || atPlan.get(nfc(p)) === st.ino) continue;
    if (c.naming === 'stem' && namesAnotherImage(readSidecarRecord(p, opts.keyring, opts)?.name ?? null, name)) continue;
    return p;
  }
  return null;
}

/** A record naming an image other than `imageName` (NFC; an extension's case aside, as reads compare). */
function namesAnotherImage(named: string | null, imageName: string): boolean {
  return named !== null && imageNamedBy(named, [nfc(imageName)]) !== 0;
}

/**
 * Where relinks that did not finish (their manifest still `planned`: killed mid-way) moved files
 * to, root-relative. Read only when an image's own sidecar records the image its orphans do.
 */
function unfinishedRelinkMoves(rootAbs: string): Set<string> {
  const out = new Set<string>();
  const base = join(rootAbs, QUARANTINE_DIR);
  let names: string[];
  try {
    if (!fs.lstatSync(base).isDirectory()) return out;
    names = fs.readdirSync(base);
  } catch {
    return out;
  }
  for (const n of names) {
    const m = join(base, n, MANIFEST_NAME);
    try {
      const st = fs.lstatSync(m);
      if (!st.isFile() || st.size > MANIFEST_MAX_BYTES) continue;
      const j = JSON.parse(fs.readFileSync(m, 'utf8')) as Partial<QuarantineManifest> | null;
      if (j?.kind !== 'relink' || j.status !== 'planned' || !Array.isArray(j.entries)) continue;
      for (const e of j.entries) if (typeof e?.moved_to === 'string') out.add(e.moved_to);
    } catch {
      // not a manifest to go by
    }
  }
  return out;
}

/** The plan alone (what a dry run reports; cleanup and stats count its matches). */
export async function planRelink(root: string, opts: Omit<RelinkOptions, 'dryRun' | 'now'> = {}, found?: Pick<OrphanList, 'orphans'>): Promise<RelinkPlan> {
  if (found !== undefined && found.orphans.length === 0) return { orphans: 0, matches: [], ambiguous: [], unmatched: [] };
  const rootAbs = resolve(root);
  const exts = imageExtensionSet(opts.imageExtensions);
  // Without the orphans, one walk of names finds them and the images, and reads only the lone
  // sidecars. Given them (cleanup and stats scanned the tree already), their records come first:
  // the library is walked only when one of them recorded its image, and that walk keeps no name.
  const library = found === undefined ? await walkLibrary(rootAbs, opts, exts) : null;
  const given = found ?? library!;
  const limits = { maxFileSize: opts.maxFileSize, maxDepth: opts.maxDepth };
  const recordOf = (p: string) => (library !== null ? (library.records.get(p) ?? null) : readSidecarRecord(p, opts.keyring, limits));
  // An older copy of another orphan beside it goes nowhere: returned with it, it would hide it (orphans.ts staleStemCopies).
  const stale = staleStemCopies(given.orphans, (p) => recordOf(p)?.name ?? null);
  const list = stale.size === 0 ? given : { orphans: given.orphans.filter((o) => !stale.has(o.path)) };
  const unreadable = library?.unreadable ?? [];
  const plan: RelinkPlan = { orphans: list.orphans.length + unreadable.length, matches: [], ambiguous: [], unmatched: [...unreadable] };
  if (list.orphans.length === 0) return plan;

  // 1. The orphans of one image (same folder, same record) are one unit. A record is read under the
  // options' limits, as the scan that found the orphan read it.
  const units = new Map<string, Unit>();
  for (const o of list.orphans) {
    const rec = recordOf(o.path);
    if (rec === null || rec.identity === null) {
      plan.unmatched.push({ sidecars: [o.rel], reason: rec === null ? ENCRYPTED_RECORD : 'no image identity recorded (saved before identity records, or by another tool)' });
      continue;
    }
    const key = `${dirname(o.rel)}\0${identityKey(rec.identity)}\0${rec.name ?? ''}`;
    const u = units.get(key);
    if (u) u.orphans.push(o);
    else units.set(key, { orphans: [o], identity: rec.identity, name: rec.name });
  }
  if (units.size === 0) return plan;

  // 2. Every image of the library with a recorded size and time: an lstat per image, of the names
  // relink's walk kept, or in a walk of its own (given the orphans).
  const wanted = new Map<number, Set<string>>();
  for (const u of units.values()) {
    const keys = wanted.get(u.identity.size);
    if (keys) keys.add(identityKey(u.identity));
    else wanted.set(u.identity.size, new Set([identityKey(u.identity)]));
  }
  const byIdentity = library !== null ? imagesByIdentity(library.folders, wanted) : await walkImagesByIdentity(rootAbs, opts, exts, wanted);

  // 3. One image each, or ambiguous.
  const claims = new Map<string, Unit[]>();
  let unfinished: Set<string> | undefined;
  const hashes = new Map<string, string | null>();
  for (const u of units.values()) {
    const rels = u.orphans.map((o) => o.rel);
    let candidates = byIdentity.get(identityKey(u.identity)) ?? [];
    const evidence = ['size', 'mtime'];
    if (opts.hashImages && u.identity.sha256 !== undefined && candidates.length > 0) {
      candidates = candidates.filter((c) => hashOf(c.path, hashes) === u.identity.sha256);
      evidence.push('sha256');
    }
    if (candidates.length > 0 && !evidence.includes('sha256')) {
      // An image whose inode has not changed since the save (its ctime is before it) was not moved
      // or renamed since: likely not the one these results went with. A burst of uncompressed RAWs
      // copied from a card shares size and whole-second times: a culled shot's results went to a
      // sibling that never moved. (A rename, a move or a copy sets the ctime; clocks may differ by a
      // margin. A file system that keeps no ctime, FAT, reads as unchanged: listed, never guessed.)
      const savedAt = savedAtOf(u.orphans, opts.keyring, limits);
      if (savedAt !== null) {
        const moved = candidates.filter((c) => c.ctimeMs >= savedAt - SAVE_CLOCK_MARGIN_MS);
        if (moved.length === 0) {
          const hint = !opts.hashImages && u.identity.sha256 !== undefined ? '; --hash-images compares the bytes with the recorded sha256' : '';
          plan.ambiguous.push({ sidecars: rels, reason: `the image${candidates.length === 1 ? '' : 's'} with the recorded size and time ${candidates.length === 1 ? 'has' : 'have'} not changed since the save (ctime before it): not moved or renamed since, so likely another image (a burst shot of the same size and time)${hint}`, candidates: candidates.map((c) => c.rel) });
          continue;
        }
        candidates = moved;
      }
    }
    if (candidates.length === 0) {
      plan.unmatched.push({ sidecars: rels, reason: evidence.includes('sha256') ? 'no image with the recorded size, time and sha256' : 'no image with the recorded size and time' });
      continue;
    }
    if (candidates.length > 1) {
      const hint = !opts.hashImages && u.identity.sha256 !== undefined ? ' (--hash-images compares their bytes with the recorded sha256)' : '';
      plan.ambiguous.push({ sidecars: rels, reason: `${candidates.length} images have the recorded size and time${hint}`, candidates: candidates.map((c) => c.rel) });
      continue;
    }
    const image = candidates[0];
    // A sidecar of its own, other than a second name of one of these orphans (a relink killed between
    // its link and its unlink) or a sibling of theirs: a file recording the same image (identity and
    // name) that a relink killed between two files of one image had moved there already (its
    // unfinished manifest says so). A save where the image now is records the same image too: the
    // orphans put beside it would hide (or be hidden by) its newest results.
    const orphanFiles = u.orphans.map((o) => fs.lstatSync(o.path, { throwIfNoEntry: false }));
    // A stem file shared with the image's RAW (IMG_1.json beside IMG_1.CR2 and IMG_1.JPG) that
    // records the RAW is the RAW's, not this image's own (reads pass it over).
    const located = locateSidecarSync(image.path, { imageExtensions: opts.imageExtensions });
    // An image of the same name in another Unicode form beside it: every sidecar name is both
    // images' (docs/PAIRING.md §1), so an orphan put there would be the other photo's results too.
    if (located.unicodeTwin !== undefined) {
      const twinRel = join(dirname(image.rel), basename(located.unicodeTwin));
      plan.ambiguous.push({ sidecars: rels, reason: `${twinRel} has the same name in another Unicode form: a sidecar there would be both images' (rename one of them)`, candidates: [image.rel, twinRel] });
      continue;
    }
    const own = located.candidates.filter(
      (c) => c.side === 'target' && !(c.shared === true && namesAnotherImage(readSidecarRecord(c.path, opts.keyring, limits)?.name ?? null, image.name)),
    );
    const sibling = (p: string) => {
      if (!(unfinished ??= unfinishedRelinkMoves(rootAbs)).has(p.slice(rootAbs.length + 1))) return false;
      const r = readSidecarRecord(p, opts.keyring, limits);
      return r !== null && r.identity !== null && identityKey(r.identity) === identityKey(u.identity) && r.name === u.name;
    };
    if (own.some((c) => !orphanFiles.some((st) => st !== undefined && sameInode(st, c.path)) && !sibling(c.path))) {
      plan.ambiguous.push({ sidecars: rels, reason: 'the one image with the recorded size and time has a sidecar of its own', candidates: [image.rel] });
      continue;
    }
    if (u.name !== null && nfc(image.name) === u.name) evidence.push('name');
    u.image = image;
    u.evidence = evidence;
    u.ownAtPlan = inodesOf(own.map((c) => c.path));
    const list2 = claims.get(image.path);
    if (list2) list2.push(u);
    else claims.set(image.path, [u]);
  }

  // 4. An image claimed by orphans of two folders (or two records) is nobody's to decide.
  const listings = new Map<string, FolderNames>();
  for (const [, us] of claims) {
    if (us.length > 1) {
      for (const u of us) plan.ambiguous.push({ sidecars: u.orphans.map((o) => o.rel), reason: `${us.length} orphans of different origin claim this image`, candidates: [u.image!.rel] });
      continue;
    }
    const u = us[0];
    const moves = destinations(rootAbs, u, exts, listings);
    if (typeof moves === 'string') plan.ambiguous.push({ sidecars: u.orphans.map((o) => o.rel), reason: moves, candidates: [u.image!.rel] });
    else if ('gone' in moves) plan.unmatched.push({ sidecars: u.orphans.map((o) => o.rel), reason: moves.gone });
    else {
      const match: RelinkMatch = { image: u.image!.path, imageRel: u.image!.rel, sidecars: moves, evidence: u.evidence! };
      besideAtPlan.set(match, u.ownAtPlan!);
      plan.matches.push(match);
    }
  }
  plan.matches.sort((a, b) => (a.imageRel < b.imageRel ? -1 : a.imageRel > b.imageRel ? 1 : 0));
  return plan;
}

/** The recorded images looked for: by size (a first, cheaper filter), their "size:mtime_ns" keys. */
type Wanted = ReadonlyMap<number, ReadonlySet<string>>;

interface Candidate {
  path: string;
  rel: string;
  name: string;
  /** Its inode's last change (ms): a move, a rename or a copy sets it. */
  ctimeMs: number;
}

const ENCRYPTED_RECORD = 'its record cannot be read (an encrypted file needs its key)';

/** How far the clock of the host that saved may be from the file system's (its ctimes). */
const SAVE_CLOCK_MARGIN_MS = 10 * 60_000;

/** The earliest save time the orphans record (`sidecar_info.last_updated`), or null when one does not say. */
function savedAtOf(orphans: readonly { path: string }[], keyring: RelinkOptions['keyring'], limits: { maxFileSize?: number; maxDepth?: number }): number | null {
  let min: number | null = null;
  for (const o of orphans) {
    const at = readSidecarRecord(o.path, keyring, limits)?.savedAt ?? null;
    if (at === null) return null;
    min = min === null ? at : Math.min(min, at);
  }
  return min;
}

interface Unit {
  orphans: OrphanList['orphans'];
  identity: ImageRecord;
  name: string | null;
  image?: Candidate;
  evidence?: string[];
  /** The image's own files when planned (`own` above), NFC path → inode: what the move's check lets pass. */
  ownAtPlan?: Map<string, number>;
}

function identityKey(id: { size: number; mtimeNs: bigint }): string {
  return `${id.size}:${id.mtimeNs}`;
}

function hashOf(p: string, cache: Map<string, string | null>): string | null {
  let h = cache.get(p);
  if (h === undefined) {
    try {
      h = hashFileSync(p);
    } catch {
      h = null;
    }
    cache.set(p, h);
  }
  return h;
}

type Orphan = OrphanList['orphans'][number];

/**
 * One walk of the library's names: its image files, and its orphans as the
 * scan defines them (a lone sidecar that inspects as one of ours, with no look-alike, not a link:
 * scan/records.ts categorize, unlessLookalike, isMovableOrphan), and the stem files another image
 * left behind (`leftBehindOf`). Only those lone files, and the files of an image with files in both
 * namings, are read: relink asks nothing of the others, and reading every sidecar was most of its
 * run. A folder that cannot be listed or a name that is not UTF-8 could hide an orphan or a second
 * candidate image: the walk is incomplete and no orphan is declared (as findOrphans). A lone file
 * that cannot be read is listed (`unreadable`) and the run goes on; any other sidecar of an image is
 * never opened (whatever it holds, the image has one). With a shard, the shard's names only (as the
 * scan's).
 */
async function walkLibrary(rootAbs: string, opts: Options, exts: ReadonlySet<string>): Promise<WalkedLibrary> {
  const out: WalkedLibrary = { orphans: [], folders: [], records: new Map(), unreadable: [] };
  // The probe reads what relink asks of an orphan (its recorded image) without decoding the rest.
  const inspectOpts = { maxFileSize: opts.maxFileSize, maxDepth: opts.maxDepth, keyring: opts.keyring, accel: opts.accel, probe: true };
  const shard = shardFilter(opts.shard, exts);
  let files = 0;
  await walkFolders(rootAbs, opts, 'no orphan can be declared', (dir, problem) => {
    const relOf = (name: string) => (dir.rel === '' ? name : `${dir.rel}/${name}`);
    const images: string[] = [];
    for (const e of dir.entries) if (isImageEntry(e, exts)) images.push(e.name);
    // Names only, per folder: a library of 10^6 images keeps no path per image.
    if (images.length > 0) out.folders.push({ path: dir.path, rel: dir.rel, images });
    files += dir.entries.length;
    opts.onProgress?.(files);
    const pairing = shard ? pairDirectory({ path: dir.path, entries: shard.namesOf(dir.rel, dir.entries).map((i) => dir.entries[i]) }, exts, { folderEntries: dir.entries }) : pairDirectory(dir, exts);
    for (const u of pairing.unaddressable) problem(`${shownPath(dir.path, u)}: file name is not valid UTF-8`);
    for (const g of pairing.groups) {
      const sc = g.sidecars[0];
      if (g.images.length === 1 && g.sidecars.length > 1) leftBehindOf(g, relOf, exts, inspectOpts, out);
      if (g.images.length > 0 || sc.isLink) continue; // paired, or a link (never moved: records.ts isMovableOrphan)
      const inspection = inspectFile({ path: sc.path, name: sc.name }, inspectOpts);
      const rel = relOf(sc.name);
      const category = unlessLookalike(categorize([], [{ ...sc, rel, side: 'local', inspection }], null), g.lookalikes);
      if (category === 'unreadable') out.unreadable.push({ sidecars: [rel], reason: `cannot be read (${inspection.error?.code ?? 'IO'})`, unreadable: true });
      // Encrypted under a key not given: whose it is cannot be read (never an orphan: records.ts categorize).
      else if (category === 'encrypted') out.unreadable.push({ sidecars: [rel], reason: ENCRYPTED_RECORD });
      else if (isMovableOrphan(category, sc)) {
        out.orphans.push({ path: sc.path, rel, format: inspection.format, size: inspection.size });
        if (inspection.probe) out.records.set(sc.path, { identity: inspection.probe.image, name: inspection.probe.imageName });
      }
    }
  });
  return out;
}

/**
 * The stem files of a one-image group that another image of the stem left behind (docs/PAIRING.md
 * §3: beside the image's own name-ext file, recording another image): orphans of that image, as
 * every command but a names-only walk sees them. Only such a group's files (both namings) are read.
 */
function leftBehindOf(g: PairGroup, relOf: (name: string) => string, exts: ReadonlySet<string>, inspectOpts: InspectOptions, out: WalkedLibrary): void {
  // (For an image symlink, these are the files beside the link itself, its link side.)
  const img = g.images[0];
  const files = sidecarsOfImage(g, img.name, exts);
  if (!files.some((s) => s.naming === 'stem') || !files.some((s) => s.naming === 'name-ext')) return;
  const inspections = new Map(files.map((s) => [s, inspectFile({ path: s.path, name: s.name }, inspectOpts)]));
  // Beside a link, a save through it recorded the target's name: that name is the image's too.
  const names = [img.name];
  if (img.isLink) {
    try {
      names.push(basename(fs.realpathSync.native(img.path)));
    } catch {
      /* a broken link: only its own name */
    }
  }
  const found = leftBehindAmong(
    files,
    names,
    exts,
    // As the scan counts a name-ext file the image's own (scan/finalize.ts leftBehindFiles).
    (s) => readAsOurs(inspections.get(s)!),
    (s) => {
      const ins = inspections.get(s)!;
      return ins.status === 'ok' && ins.shape === 'sidecar' ? (ins.probe?.imageName ?? null) : null;
    },
  );
  if (found === null) return;
  for (const [s] of found) {
    if (s.isLink) continue; // read through, never moved (records.ts isMovableOrphan)
    const ins = inspections.get(s)!;
    out.orphans.push({ path: s.path, rel: relOf(s.name), format: ins.format, size: ins.size, leftBehind: true });
    out.records.set(s.path, { identity: ins.probe!.image, name: ins.probe!.imageName });
  }
}

/**
 * Both walks of names: every folder of the library (our own folders skipped) to `visit`; a folder
 * that cannot be listed, or a `problem` the visit reports, makes the walk incomplete: INCOMPLETE_SCAN
 * once it ends, saying `why` nothing can be answered. A missing root or a file: the scan's error.
 */
async function walkFolders(rootAbs: string, opts: Options, why: string, visit: (dir: DirListing, problem: (message: string) => void) => void): Promise<void> {
  await assertDirectory(rootAbs);
  const problems: string[] = [];
  const problem = (message: string) => void problems.push(message);
  for await (const dir of walkTree(rootAbs, { skipDirNames: SKIP_DIR_NAMES, onProblem: (p) => problem(p.error.message), signal: opts.signal })) visit(dir, problem);
  if (problems.length > 0) throw errors.incompleteScan(`${problems.length} path(s) could not be read (first: ${problems[0]}); ${why}`);
}

interface WalkedLibrary {
  orphans: Orphan[];
  /** Each folder with images: their names. */
  folders: { path: string; rel: string; images: string[] }[];
  /** The recorded image of each orphan the walk's inspection could read. */
  records: Map<string, SidecarRecord>;
  /** Lone files that could not be read (unmatched: nobody can say whose they are). */
  unreadable: RelinkUnmatched[];
}

/** The library's images (regular files, not links) whose size and mtime are among `wanted`, from the walk's names. */
function imagesByIdentity(folders: WalkedLibrary['folders'], wanted: Wanted): Map<string, Candidate[]> {
  const out = new Map<string, Candidate[]>();
  for (const f of folders) for (const name of f.images) addIfWanted(out, f, name, wanted);
  return out;
}

/**
 * The same from a walk of its own, folder by folder (no name kept). A folder it cannot list could
 * hide a second candidate: INCOMPLETE_SCAN. (An image name that is not UTF-8 is passed over, as in
 * relink's own walk: the scan that found the orphans reported it.)
 */
async function walkImagesByIdentity(rootAbs: string, opts: Options, exts: ReadonlySet<string>, wanted: Wanted): Promise<Map<string, Candidate[]>> {
  const out = new Map<string, Candidate[]>();
  await walkFolders(rootAbs, opts, 'no orphan can be matched', (dir) => {
    for (const e of dir.entries) if (isImageEntry(e, exts)) addIfWanted(out, dir, e.name, wanted);
  });
  return out;
}

/** An image file of a folder as both walks take them: a name of an image, not a link, a folder or an unaddressable name. */
function isImageEntry(e: { name: string; kind: string; unaddressable?: boolean }, exts: ReadonlySet<string>): boolean {
  return !e.unaddressable && (e.kind === 'file' || e.kind === 'other') && isImageName(e.name, exts);
}

/**
 * The image `name` of folder `f` into `out` when its size and mtime are wanted: one lstat, a second
 * one with ns times only when the size is wanted (a bigint stat per image was most of a 10^6-image
 * walk's garbage).
 */
function addIfWanted(out: Map<string, Candidate[]>, f: { path: string; rel: string }, name: string, wanted: Wanted): void {
  const path = join(f.path, name);
  const quick = fs.lstatSync(path, { throwIfNoEntry: false });
  if (!quick?.isFile() || !wanted.has(quick.size)) return;
  const st = fs.lstatSync(path, { bigint: true, throwIfNoEntry: false });
  if (!st?.isFile()) return;
  const size = Number(st.size);
  const key = identityKey({ size, mtimeNs: st.mtimeNs });
  if (!wanted.get(size)?.has(key)) return;
  const c = { path, rel: f.rel === '' ? name : `${f.rel}/${name}`, name, ctimeMs: quick.ctimeMs };
  const l = out.get(key);
  if (l) l.push(c);
  else out.set(key, [c]);
}

/** Each orphan's name next to its image; a string says why none can be given (ambiguous), `gone` that an orphan is no longer there (unmatched). */
function destinations(rootAbs: string, u: Unit, exts: ReadonlySet<string>, listings: Map<string, FolderNames>): RelinkMove[] | string | { gone: string } {
  const image = u.image!;
  const dir = dirname(image.path);
  let listing = listings.get(dir);
  if (listing === undefined) listings.set(dir, (listing = readFolderNames(dir, exts)));
  const names = listing.names;
  const stem = nfc(splitName(image.name).stem);
  // Another image that would claim a stem file too (`IMG_1.jpg` beside `IMG_1.jpg.png` as well).
  const shareStem = stemClaimants(listing, stem, exts).some((n) => n !== nfc(image.name));
  const moves: RelinkMove[] = [];
  const taken = new Set<string>();
  for (const o of u.orphans) {
    const name = o.path.slice(o.path.lastIndexOf('/') + 1);
    const ext = name.slice(name.lastIndexOf('.') + 1);
    const base = nfc(name.slice(0, name.lastIndexOf('.')));
    const nameExt = isImageName(base, exts) && (u.name === null || base === u.name);
    const target = nameExt || shareStem ? `${nfc(image.name)}.${ext}` : `${stem}.${ext}`;
    if (taken.has(target)) return `${target} exists next to the image`;
    // The name-ext form `X.jpg.json` is also the stem file of an image `X.jpg.png` there: it would
    // be that image's sidecar too (docs/PAIRING.md §3: the name-ext form is the image's alone).
    if (target !== `${stem}.${ext}`) {
      const other = stemClaimants(listing, nfc(image.name), exts).find((n) => n !== nfc(image.name));
      if (other !== undefined) return `${target} would also be the stem file of ${other} there`;
    }
    if (names.has(target)) {
      // Gone since the walk: another cleanup or relink moved it meanwhile.
      const st = fs.lstatSync(o.path, { throwIfNoEntry: false });
      if (st === undefined) return { gone: `${o.rel} was moved or removed since the walk (another run?); run relink again` };
      if (!sameInode(st, join(dir, target))) return `${target} exists next to the image`;
    }
    taken.add(target);
    addFolderName(listing, target, exts); // the next unit into this folder sees it taken
    const to = join(dir, target);
    moves.push({ path: o.path, rel: o.rel, to, toRel: to.slice(rootAbs.length + 1) });
  }
  return moves;
}

// ---------------------------------------------------------------------------------------------
// act
// ---------------------------------------------------------------------------------------------

async function act(rootAbs: string, matches: RelinkMatch[], created: Date, report: RelinkReport, exts: ReadonlySet<string>, ownOpts: OwnFilesOptions): Promise<void> {
  const rootReal = await realpath(rootAbs).catch((e) => {
    throw errors.fromFs(e, rootAbs);
  });
  const moves = matches.flatMap((m) => m.sidecars.map((s) => ({ ...s, image: m.image, atPlan: besideAtPlan.get(m) ?? new Map<string, number>() })));
  // A file a sidecar link of the tree reads stays (another image's sidecar through the link: moved,
  // the link dangled), as convert, cleanup and resolve leave it.
  // A folder that cannot be listed now may hold a sidecar link reading an orphan: nothing moves (as the plan's walk would refuse).
  const linked = await sidecarLinksOrRefuse(rootAbs, 'an orphan', 'nothing is moved');
  const hashes = moves.map((m) => {
    try {
      const link = linkReading(linked, m.path);
      if (link !== undefined) throw errors.conflict(`the sidecar link ${link} reads this file; left in place`, [m.path, link]);
      const h = hashRegularFileSync(m.path);
      return { ...m, hashedAs: h.snapshot, entry: { rel: m.rel, size: h.size, sha256: h.sha256, moved_to: m.toRel } as ManifestEntry };
    } catch (e) {
      skip(report, m.rel, e);
      return null;
    }
  });
  const hashed = hashes.filter((h) => h !== null);
  if (hashed.length === 0) return;
  // The manifest and the moves under the library's quarantine lock: no restore takes this run's
  // "planned" manifest for a killed run's, no other run moves files meanwhile.
  await withQuarantineLock(rootAbs, rootReal, (signal, base) => moveUnder(rootAbs, rootReal, base, signal, hashed, created, report, exts, ownOpts));
}

/** How old a destination folder's listing may be before relink's claimant check lists it again. */
const DESTINATION_LISTING_MS = 1000;
/** A wait for an image's lock longer than this lists the destination folder again before the move. */
const LOCK_WAIT_NOTICED_MS = 20;

/** How long relink's synchronous loop waits for an image's lock before it refreshes the library's (a third of its stale age). */
const LIBRARY_REFRESH_MS = Math.floor(DEFAULT_LOCK_STALE_MS / 3);

async function moveUnder(
  rootAbs: string,
  rootReal: string,
  base: string,
  librarySignal: AbortSignal,
  hashed: (RelinkMove & { image: string; atPlan: ReadonlyMap<string, number>; hashedAs: FileSnapshot; entry: ManifestEntry })[],
  created: Date,
  report: RelinkReport,
  exts: ReadonlySet<string>,
  ownOpts: OwnFilesOptions,
): Promise<void> {
  // What a run killed before its manifest left goes first.
  await removeAbandonedQuarantines(base);
  const stamp = quarantineStamp(created);
  let folder = '';
  for (let n = 0; ; n++) {
    folder = join(base, n === 0 ? stamp : `${stamp}-${n}`);
    try {
      await mkdir(folder);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw errors.fromFs(e, folder);
    }
  }
  const manifestPath = join(folder, MANIFEST_NAME);
  const manifest: QuarantineManifest = {
    version: RELINK_MANIFEST_VERSION,
    kind: 'relink',
    status: 'planned',
    created_at: isoTimestamp(created),
    root: rootAbs,
    entries: hashed.map((h) => h.entry),
  };
  // Before the first move: a run killed mid-way leaves what restore needs to undo it.
  await writeManifest(manifestPath, manifest);
  report.quarantine = folder;
  report.manifest = manifestPath;

  const dirs = new Set<string>();
  const folders = new Map<string, FolderNames>();
  // The files this run put beside each image (NFC): the next orphan of the same image finds them there.
  const placed = new Set<string>();
  // The files this run moved ("dev:ino"), with their ctime after the move (which a link and an
  // unlink change): another name of one of them may still move.
  const movedHere = new Map<string, number>();
  // Each destination folder's names, listed before a move, with the names this run added since:
  // listed again after a wait for a lock (when another program had time to add an image) or once
  // the listing is older than DESTINATION_LISTING_MS (listing a folder of 20,000 files before each
  // of 1,000 moves took 75 s instead of 13; the folder's mtime cannot tell, the locks move it).
  const destinations = new Map<string, { names: FolderNames; at: number }>();
  const destinationNames = (dir: string, waited: boolean): { names: FolderNames; listedNow: boolean } => {
    const known = destinations.get(dir);
    if (known !== undefined && !waited && performance.now() - known.at < DESTINATION_LISTING_MS) return { names: known.names, listedNow: false };
    const names = readFolderNames(dir, exts);
    destinations.set(dir, { names, at: performance.now() });
    return { names, listedNow: true };
  };
  // After a move into `dir`: the name it added.
  const keptNames = (dir: string, added: string) => {
    const known = destinations.get(dir);
    if (known !== undefined) addFolderName(known.names, nfc(added), exts);
  };
  // The library's lock, checked (and refreshed: the loop below is synchronous) before each move: a
  // relink that lost it stops there; its manifest stays "planned", which restore undoes.
  const library = new LibraryHold(librarySignal, 'relink', () => `${report.relinked} file(s) moved, listed in the manifest restore undoes them with`, manifestPath);
  // An image's lock, waited for as long as any writer waits (DEFAULT_LOCK_TIMEOUT_MS) in steps short
  // enough to keep the library's lock refreshed meanwhile (nothing else refreshes it in this
  // synchronous loop: another host would take it over once stale).
  const imageLock = (k: string): HeldLock => {
    const deadline = Date.now() + DEFAULT_LOCK_TIMEOUT_MS;
    for (;;) {
      library.check();
      try {
        return acquireSidecarLockSync(k, { timeoutMs: Math.min(LIBRARY_REFRESH_MS, Math.max(0, deadline - Date.now())) });
      } catch (e) {
        // (A lock held by an async caller on this thread fails at once, with a cause: waiting cannot free it.)
        if (!isSidecarError(e) || e.code !== 'LOCK_TIMEOUT' || e.cause !== undefined || Date.now() >= deadline) throw e;
      }
    }
  };
  // One at a time, synchronously: each is a few metadata calls under two locks, cheaper without
  // the thread pool's round trips (as mv's units).
  const moved = hashed.map((h): ManifestEntry | null => {
    try {
      if (relJoin(rootAbs, h.rel) !== h.path || relJoin(rootAbs, h.toRel) !== h.to || h.rel.split('/')[0] === QUARANTINE_DIR) throw errors.outsideRoot(h.path, rootAbs);
      const keys = [...new Set([...lockKeysForLoneSidecar(h.path), lockKeyForImage(dirname(h.image), h.image.slice(h.image.lastIndexOf('/') + 1))])].sort();
      const held: HeldLock[] = [];
      let entry = h.entry;
      try {
        const lockedAt = performance.now();
        for (const k of keys) held.push(imageLock(k));
        const waited = performance.now() - lockedAt > LOCK_WAIT_NOTICED_MS;
        const st = fs.lstatSync(h.path, { throwIfNoEntry: false });
        // The file hashed into the manifest, still (a same-size rewrite would be moved with the
        // manifest's sha256 of the file it replaced: restore would then refuse to undo it). Its
        // ctime too (a rewrite in place that puts the mtime back), unless this run moved another
        // name of the same file (a hard link) and nothing changed it since.
        const ours = st === undefined ? undefined : movedHere.get(`${st.dev}:${st.ino}`);
        const asHashed = ours !== undefined && st!.ctimeMs === ours ? { ...h.hashedAs, ctimeMs: ours } : h.hashedAs;
        if (!st?.isFile() || !sameFile(st, asHashed)) throw errors.conflict('changed or replaced since it was hashed; left alone', [h.path]);
        // Another image come since the plan that would claim the name it takes (Y.png beside Y.jpg
        // for Y.json, Y.jpg.png for Y.jpg.json), or a neighbour of the image's name in another
        // Unicode form: it would read these results too (the plan chose the name when no other
        // image claimed it). Looked for whenever the destination is listed again (destinationNames).
        const toName = basename(h.to);
        const dest = destinationNames(dirname(h.to), waited);
        const rival = stemClaimants(dest.names, nfc(toName.slice(0, toName.lastIndexOf('.'))), exts).find((n) => n !== nfc(basename(h.image)));
        if (rival !== undefined) throw errors.conflict(`${rival} has come beside ${h.image} since the plan: ${toName} would be its sidecar too; left in place`, [h.path, join(dirname(h.to), rival)]);
        const twin = dest.listedNow ? locateSidecarSync(h.image, { imageExtensions: ownOpts.imageExtensions }).unicodeTwin : undefined;
        if (twin !== undefined) throw errors.conflict(`${twin} has the same name as ${h.image} in another Unicode form since the plan: a sidecar there would be both images'; left in place`, [h.path, twin]);
        if (!fs.lstatSync(h.image, { throwIfNoEntry: false })) throw errors.notFound(h.image, 'image');
        // A sidecar of its own saved since the plan: the orphan beside it would hide that newer
        // result, or be hidden by it (the file as it was, a second name of this orphan, and the files
        // this run put there pass).
        const own = newOwnFile(h.image, h.atPlan, placed, st.ino, ownOpts);
        if (own !== null) throw errors.conflict(`${h.image} has a sidecar of its own since the plan (${own}); left in place`, [h.path, own]);
        // Both folders are real ones inside the root (no symlink swapped in since the plan).
        for (const d of [dirname(h.path), dirname(h.to)]) {
          if (realFolder(d) !== join(rootReal, d.slice(rootAbs.length))) throw errors.outsideRoot(d, rootAbs);
        }
        // What stood beside it where it was, for images there: restore puts it back beside that only.
        const beside = besideRecord(h.path, exts, folders);
        for (const l of held) l.check();
        library.check();
        // Already linked there by a relink killed before its unlink: only the old name goes.
        if (sameInode(st, h.to)) fs.unlinkSync(h.path);
        else moveNoOverwriteSync(h.path, h.to);
        const moved = fs.lstatSync(h.to, { throwIfNoEntry: false });
        if (moved !== undefined) movedHere.set(`${moved.dev}:${moved.ino}`, moved.ctimeMs);
        keptNames(dirname(h.to), toName);
        entry = { ...h.entry, beside };
        placed.add(nfc(h.to));
      } finally {
        for (const l of held.reverse()) l.release();
      }
      dirs.add(dirname(h.path)).add(dirname(h.to));
      report.relinked++;
      return entry;
    } catch (e) {
      if (library.lost) throw e;
      skip(report, h.rel, e);
      return null;
    }
  });
  const done = moved.filter((e) => e !== null);
  report.skipped.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0)); // finished out of order
  await fsyncDirs(dirs);
  library.check();
  if (done.length === 0) return removeEmptyQuarantine(folder, manifestPath, report); // nothing to restore
  await writeManifest(manifestPath, completeManifest(manifest, done, MANIFEST_MAX_BYTES));
}

/** link(2) then unlink: never replaces what is at `dest` (a file system without hard links: check, then rename). */
function moveNoOverwriteSync(src: string, dest: string): void {
  try {
    fs.linkSync(src, dest);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw errors.conflict('destination already exists; not overwritten', [dest, src]);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EMLINK') throw errors.fromFs(e, dest);
    if (fs.lstatSync(dest, { throwIfNoEntry: false })) throw errors.conflict('destination already exists; not overwritten', [dest, src]);
    fs.renameSync(src, dest);
    return;
  }
  try {
    fs.unlinkSync(src);
  } catch (e) {
    fs.rmSync(dest, { force: true }); // not in two places
    throw errors.fromFs(e, src);
  }
}

function realFolder(d: string): string {
  try {
    return fs.realpathSync.native(d);
  } catch (e) {
    throw errors.fromFs(e, d);
  }
}

/** Is `p` another name of the file `st` describes? */
function sameInode(st: { dev: number | bigint; ino: number | bigint }, p: string): boolean {
  const other = fs.lstatSync(p, { throwIfNoEntry: false });
  return other !== undefined && other.dev === st.dev && other.ino === st.ino;
}

function skip(report: RelinkReport, rel: string, e: unknown): void {
  const err = isSidecarError(e) ? e : errors.fromFs(e, rel);
  report.skipped.push({ rel, code: err.code, reason: err.message });
}


