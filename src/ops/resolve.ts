/**
 * resolve: end the "several sidecars for one image" state (a stale `.json` next to a newer `.bin`,
 * every image after `convert --keep-source`, leftovers of other tools). Per image, one file that
 * decodes is kept — chosen by `prefer` — and every other candidate next to it goes to the
 * quarantine exactly as cleanup moves orphans, so `restore` undoes it.
 *
 *   newest  the most recently modified valid file (ties: the file reads pick, then the read order)
 *   current the file reads pick (docs/PAIRING.md §4); another file moves only when every result it
 *           holds (each operation, each backend of a backend map) is in the kept one, so a JSON copy
 *           a migration to .bin left behind goes once the .bin holds all it had; a copy modified
 *           after the kept file (written to since, by a tool without the library) goes only when
 *           each of its results is in the kept file as it is (equal, number types included)
 *   bin | rkyv | json   the valid file in that format (by content); images without one are left alone
 *
 * A group of several images (IMG_1.jpg and IMG_1.CR2 sharing IMG_1.json) is left alone: which file
 * is whose is each image's own question (docs/PAIRING.md §3), and moving a shared file could leave
 * an image without its only sidecar.
 *
 * The kept file is read and decoded again right before the others move (it must still be valid).
 * Each copy moves only while it and the kept file are as the decision saw them (their lstat then:
 * a copy saved into since, or a kept file another resolve moved, leaves the copy in place), and a
 * candidate that changed or went between the scan and the decision leaves its image alone. Images whose files
 * cannot all be read (unreadable, encrypted without a key, above the size or depth limit) are left alone:
 * we never hide a file we could not look at.
 */
import type { Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { errors, isSidecarError } from '../errors.js';
import { isForeign, isLeftBehind, lockedFile, type ScanRecord, type ScanSidecar } from '../scan/records.js';
import { scan } from './scan.js';
import type { JsonObject, Options, SidecarFormat } from '../types.js';
import { isBackendMap, sameEntry } from './save.js';
import { isPlainObject } from '../analysis/operations.js';
import { quarantineFiles, type CleanupSkip, type PlannedMove } from './cleanup.js';
import { readSidecarFile } from './read.js';
import { compareSidecars } from '../discovery/pair.js';
import { isOneOf, RESOLVE_PREFERENCES } from '../vocabulary.js';

/** How to choose the file to keep. */
export type ResolvePreference = (typeof RESOLVE_PREFERENCES)[number];

export interface ResolveOptions extends Options {
  prefer?: ResolvePreference;
  /** Plan only: change nothing. */
  dryRun?: boolean;
  /** Clock for the quarantine folder's name. */
  now?: () => Date;
}

export interface ResolveDecision {
  /** The image (first image of the record), relative to the root. */
  image: string;
  /** The file kept, or null when the image is left alone. */
  keep: string | null;
  /** Files that go to the quarantine (absolute paths). */
  quarantine: string[];
  /** Why this file was kept, or why nothing was done. */
  reason: string;
}

export interface ResolveReport {
  dryRun: boolean;
  prefer: ResolvePreference;
  /** Images that had several candidate sidecars. */
  images: number;
  /** Images resolved (planned in a dry run). */
  resolved: number;
  /** Images left alone (no valid file to keep, unreadable files, nothing in the preferred format). */
  unresolved: number;
  /** Files moved to the quarantine (0 in a dry run). */
  quarantined: number;
  decisions: ResolveDecision[];
  quarantine: string | null;
  /** Files that were planned but left in place (changed since the scan, could not move). */
  skipped: CleanupSkip[];
  scanComplete: boolean;
}

/** Errors of our limits, not of the file: such a candidate was never decoded, so it is not the worse copy. */
const LIMIT_REASON: Record<string, string | undefined> = { TOO_LARGE: 'above the size limit: never read', TOO_DEEP: 'nested beyond the depth limit: never decoded' };

interface Candidate {
  sc: ScanSidecar;
  mtimeMs: number;
}

export async function resolveConflicts(root: string, opts: ResolveOptions = {}): Promise<ResolveReport> {
  const { prefer = 'newest', dryRun = false, now, ...scanOpts } = opts;
  if (!isOneOf(RESOLVE_PREFERENCES, prefer)) {
    throw errors.usage(`unknown preference "${String(prefer)}" (${RESOLVE_PREFERENCES.join(', ')})`);
  }
  const session = scan(root, scanOpts);
  const report: ResolveReport = {
    dryRun,
    prefer,
    images: 0,
    resolved: 0,
    unresolved: 0,
    quarantined: 0,
    decisions: [],
    quarantine: null,
    skipped: [],
    scanComplete: true,
  };
  const losers: PlannedMove[] = [];
  const kept: string[] = [];
  for await (const rec of session) {
    // Another tool's files beside the image (docs/PAIRING.md §7) are none of its copies: never moved.
    // Nor is a stem file another image left behind (§3): relink returns it to that image.
    const local = rec.images.length > 0 ? rec.sidecars.filter((s) => s.side === 'local' && !s.isLink && !isForeign(s) && !isLeftBehind(rec, s)) : [];
    if (local.length < 2) continue;
    report.images++;
    if (rec.images.length > 1) {
      report.unresolved++;
      report.decisions.push({ image: rec.images[0]!.rel, keep: null, quarantine: [], reason: `left alone: ${rec.images.map((i) => i.rel).join(', ')} share these files; each image's own file is decided when it is read or saved` });
      continue;
    }
    // Each candidate as the decision sees it: what moves is checked against it right before it goes
    // (a save landing in a copy after the decision, of the same size, made it the newest: moved, the
    // image read the older file), and so is the file kept (another resolve may have moved it).
    const seen = await seenNow(local.filter((s) => !notReadByScan(s)));
    const d = seen === null ? changedSinceScan(rec) : await decide(rec, local, prefer, scanOpts, seen);
    report.decisions.push(d);
    if (d.keep === null) {
      report.unresolved++;
      continue;
    }
    report.resolved++;
    kept.push(d.keep);
    const keptBeside = { path: d.keep, snapshot: seen!.get(d.keep)! };
    for (const p of d.quarantine) {
      const sc = local.find((s) => s.path === p)!;
      losers.push({ path: sc.path, rel: sc.rel, size: sc.inspection.size, decidedAs: seen!.get(sc.path)!, keptBeside });
    }
  }
  report.scanComplete = session.summary.complete;
  // A folder the scan could not list may hold a sidecar link reading one of the copies (docs/PAIRING.md
  // §5): nothing moves, as in cleanup and relink (it was quarantined, the link left dangling); the
  // dry run says so as the run would.
  const s = session.summary;
  if (!s.complete && losers.length > 0) throw errors.incompleteScan(`${s.problemCount} path(s) could not be read (first: ${s.problems[0]?.message ?? 'unknown'}); a sidecar link there may read a copy: nothing ${dryRun ? 'would be' : 'is'} moved`);
  if (dryRun || losers.length === 0) return report;

  // The kept files must still decode now, right before their siblings go.
  const stillValid = new Set<string>();
  for (const p of kept) {
    try {
      await readSidecarFile(p, scanOpts);
      stillValid.add(p);
    } catch (e) {
      if (!isSidecarError(e)) throw e;
    }
  }
  const moving: typeof losers = [];
  for (const d of report.decisions) {
    if (d.keep === null) continue;
    if (!stillValid.has(d.keep)) {
      d.reason = `left alone: ${d.keep} no longer decodes`;
      d.keep = null;
      d.quarantine = [];
      report.resolved--;
      report.unresolved++;
      continue;
    }
    for (const p of d.quarantine) moving.push(losers.find((l) => l.path === p)!);
  }
  const q = await quarantineFiles(root, moving, { now, imageExtensions: opts.imageExtensions });
  report.quarantine = q.quarantine;
  report.quarantined = q.removed;
  report.skipped = q.skipped;
  // An image none of whose copies moved (each changed since the scan, or could not move) is not
  // resolved: it still has them all ("Resolved 20 images: 0 files moved" said otherwise).
  const left = new Set(q.skipped.map((k) => k.path));
  for (const d of report.decisions) {
    if (d.keep !== null && d.quarantine.length > 0 && d.quarantine.every((p) => left.has(p))) {
      d.reason = `left alone: none of its other copies could move (skipped: changed since the decision, or could not be moved)`;
      d.keep = null;
      d.quarantine = [];
      report.resolved--;
      report.unresolved++;
    }
  }
  return report;
}

/**
 * Is every result of `older` in `current`: each operation key (sidecar_info aside) present, and for
 * a map of backend results, each backend present? A later save replaces a result, so presence, not
 * equality, says the older copy has nothing the current file lacks.
 */
export function resultsCovered(older: JsonObject, current: JsonObject, olderIsNewer = false): boolean {
  for (const key of Object.keys(older)) {
    if (key === 'sidecar_info') continue;
    if (!Object.hasOwn(current, key)) return false;
    const o = older[key];
    const c = current[key];
    if (isBackendMap(o) && isPlainObject(c)) {
      for (const b of Object.keys(o)) if (!Object.hasOwn(c, b) || (olderIsNewer && !sameEntry(o, b, c, b))) return false;
    } else if (olderIsNewer && !sameEntry(older, key, current, key)) {
      return false;
    }
  }
  return true;
}

/**
 * A candidate the scan did not read whole (unreadable, over a limit, encrypted without its key):
 * nothing says it is the worse copy, so its image is left alone (`decide`, with why).
 */
function notReadByScan(s: ScanSidecar): boolean {
  return (s.inspection.status !== 'ok' && s.inspection.status !== 'corrupt') || LIMIT_REASON[s.inspection.error?.code ?? ''] !== undefined || lockedFile(s.inspection);
}

/** Each candidate's lstat now, or null when one is gone or no longer has the size the scan read. */
async function seenNow(local: readonly ScanSidecar[]): Promise<Map<string, Stats> | null> {
  const seen = new Map<string, Stats>();
  for (const sc of local) {
    const st = await lstat(sc.path).catch(() => null);
    if (st === null || !st.isFile() || st.size !== sc.inspection.size) return null;
    seen.set(sc.path, st);
  }
  return seen;
}

function changedSinceScan(rec: ScanRecord): ResolveDecision {
  return { image: rec.images[0]!.rel, keep: null, quarantine: [], reason: 'left alone: a candidate changed or went since the scan read it' };
}

async function decide(rec: ScanRecord, local: ScanSidecar[], prefer: ResolvePreference, readOpts: Options, seen: ReadonlyMap<string, Stats>): Promise<ResolveDecision> {
  const image = rec.images[0]!.rel;
  // A file above the size or depth limit was never decoded (inspect calls it corrupt: it cannot be
  // under the limits), so nothing says it is the worse copy: like an unreadable one, it blocks.
  // So is a file encrypted under a key that was not given: never decrypted, nothing known of it.
  const blocked = local.filter(notReadByScan);
  if (blocked.length > 0) {
    const b = blocked[0]!;
    const why = LIMIT_REASON[b.inspection.error?.code ?? ''] ?? (lockedFile(b.inspection) ? `no key for it: key id ${b.inspection.encryptedKeyId}` : b.inspection.status);
    return { image, keep: null, quarantine: [], reason: `left alone: ${blocked.map((b) => b.rel).join(', ')} could not be read (${why})` };
  }
  // A stem file the read order put after a name-ext file of its side (docs/PAIRING.md §4): that
  // file records an image or does not decode. (The scan orders a record's files by name but for
  // this rule: a stem file after a name-ext file of its side was moved there.)
  const movedLater = (sc: ScanSidecar) => sc.naming === 'stem' && rec.sidecars.some((s, i) => s.side === sc.side && s.naming === 'name-ext' && i < rec.sidecars.indexOf(sc));
  // A corrupt name-ext file ahead of such a stem file, and of the file reads take, may be a copy still
  // being written (the image's newest results): nothing says which file to keep.
  const at = (sc: ScanSidecar | null) => (sc === null ? Infinity : rec.sidecars.indexOf(sc));
  const unsure = local.filter((s) => s.naming === 'name-ext' && s.inspection.status === 'corrupt' && at(s) < at(rec.effective) && local.some((t) => t.side === s.side && movedLater(t)));
  if (unsure.length > 0) {
    return { image, keep: null, quarantine: [], reason: `left alone: ${unsure.map((s) => s.rel).join(', ')} does not decode and ranks before the stem file that records no image (docs/PAIRING.md §4): a copy still being written, or damaged; put it back whole or remove it` };
  }
  const valid: Candidate[] = [];
  for (const sc of local) {
    if (sc.inspection.status !== 'ok' || sc.inspection.shape === 'report') continue;
    valid.push({ sc, mtimeMs: seen.get(sc.path)!.mtimeMs });
  }
  if (valid.length === 0) return { image, keep: null, quarantine: [], reason: 'left alone: no candidate decodes (nothing verified to keep)' };
  let keep: Candidate | undefined;
  let reason: string;
  if (prefer === 'newest') {
    // A tie (FAT's 2-second times, files restored from an archive) goes to the file reads pick, then
    // by the read order (stem form first): by format alone, an older name-ext .bin beat the current JSON.
    const readsFirst = (c: Candidate) => (c.sc === rec.effective ? 0 : 1);
    // Such a stem file records no image and the name-ext file does: it is the older whatever the
    // times say (a copy or a restore sets them), never kept over the others.
    const older = (c: Candidate) => (movedLater(c.sc) ? 1 : 0);
    keep = [...valid].sort((a, b) => older(a) - older(b) || b.mtimeMs - a.mtimeMs || readsFirst(a) - readsFirst(b) || compareSidecars(a.sc, b.sc))[0]!;
    reason = 'newest valid file';
  } else if (prefer === 'current') {
    keep = valid.find((c) => c.sc === rec.effective);
    if (!keep) return { image, keep: null, quarantine: [], reason: 'left alone: the file reads pick is not among the valid ones' };
    const kept = (await readSidecarFile(keep.sc.path, readOpts)).data;
    const moving: string[] = [];
    const staying: string[] = [];
    for (const s of local) {
      if (s === keep.sc) continue;
      const older = s.inspection.status === 'ok' ? await readSidecarFile(s.path, readOpts).then((d) => d.data, () => null) : null;
      // A copy modified after the file reads pick was written to since (a pipeline writing its
      // JSON itself, without the library): a result there is covered only by an equal one.
      const newer = (valid.find((c) => c.sc === s)?.mtimeMs ?? Infinity) > keep.mtimeMs;
      (older !== null && resultsCovered(older, kept, newer) ? moving : staying).push(s.path);
    }
    const left = staying.length > 0 ? `; ${staying.join(', ')} left: it holds results ${keep.sc.name} does not` : '';
    return { image, keep: keep.sc.path, quarantine: moving, reason: `the file reads pick${left}` };
  } else {
    keep = valid.find((c) => (c.sc.inspection.format as SidecarFormat | null) === prefer || (prefer !== 'json' && c.sc.inspection.format === 'legacy' && c.sc.ext === prefer));
    reason = `valid ${prefer} file`;
    if (!keep) return { image, keep: null, quarantine: [], reason: `left alone: no valid ${prefer} file among ${local.map((s) => s.rel).join(', ')}` };
  }
  return { image, keep: keep.sc.path, quarantine: local.filter((s) => s !== keep!.sc).map((s) => s.path), reason };
}
