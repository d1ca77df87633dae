/** Pending records: a group's images and candidates before the engine's results, the jobs they travel in, and what the cache keeps of them. */
import { lstatSync } from 'node:fs';
import { errors } from '../errors.js';
import type { LinkResolution } from '../discovery/resolve-link.js';
import type { PairGroup, SidecarEntry } from '../discovery/pair.js';
import type { FileInspection, InspectItem, LinkAt, ResolvedLink } from '../model/inspection.js';
import type { Category } from '../types.js';
import type { CacheMiss, FolderRecordsSink, ScanCache } from './port.js';
import type { Finding, ScanImage, ScanRecord, ScanSidecar, TreeSeq } from './records.js';

/** A candidate's inspection until the engine's result is in. */
export const NOT_YET = undefined as unknown as FileInspection;

/** A candidate as records carry it (the same keys in the same order for every candidate). */
export function candidateOf(c: SidecarEntry, rel: string, side: 'local' | 'target'): ScanSidecar {
  const sc: ScanSidecar = c.isLink
    ? { name: c.name, path: c.path, ext: c.ext, naming: c.naming, isLink: true, rel, side, inspection: NOT_YET }
    : { name: c.name, path: c.path, ext: c.ext, naming: c.naming, rel, side, inspection: NOT_YET };
  return sc;
}

/** What the records of one walked folder share, computed once per folder. */
export interface DirContext {
  rel: string;
  /** `rel/` ('' at the root): a file's rel is this plus its name. */
  relPrefix: string;
  rootReal: string;
  /** This scan's number in the process (the engine keeps link resolutions per scan: LinkAt). */
  scanId: number;
  relOfReal: (p: string) => string;
  inspectLinkTargets: boolean;
  /** ScanOptions.inRootLinkRecords === 'resolve'. */
  resolveOnlyInRootLinks: boolean;
  /** Where this folder's links sit, for the engine: one per folder (a batch carries it once, not once per link). */
  linkAt?: LinkAt;
}

export interface PendingRecord {
  seq: TreeSeq;
  dir: string;
  images: ScanImage[];
  /** Every candidate in preference order; `inspection` is set when the results are in. */
  candidates: ScanSidecar[];
  /**
   * Per candidate, when the record has link targets: bit 1 = not sent to the engine ('unchecked'),
   * bit 2 = a link target's sidecar inside the root, which its own record reports on.
   */
  flags?: number[];
  /** What the engine inspects: the candidates that are not 'unchecked', in order. */
  items: InspectItem[];
  localSidecars: number;
  extraFiles: number;
  forced?: Category;
  /** A lone sidecar whose stem or name another (non-image) file of its folder has: never an orphan. */
  lookalikes?: string[];
  findings: Finding[];
  /** With the index: per item, its stored result (a hit) or undefined; `send` the misses, `sent` their identities. */
  hits?: (FileInspection | undefined)[];
  send?: InspectItem[];
  sent?: CacheMiss[];
  /** With the index: per item, its identity as looked up (null: not seen); all trusted (hits, or recorded). */
  ids?: (Buffer | null)[];
  trusted?: boolean;
  /** What the record's links relied on (lookups, target folders), when collected; false: not storable. */
  linkDeps?: LinkDeps | false;
  /** Its link targets' sidecars it inspects (outside the root, or all with inspectLinkTargets): met through a link (`ScanCache.lookup`). */
  viaLink?: string[];
  /** Folder records: the folder this record belongs to, and its group number there. */
  folder?: FolderRecordsSink;
  gi?: number;
  /** Stored records served as they are, in order: one job for a run of them (a whole folder, when nothing moved in it). */
  readyMany?: ScanRecord[];
  /**
   * A run of a folder's records as one pipeline job (up to BUNDLE_ITEMS items, BUNDLE_RECORDS
   * records): `items` are theirs in order (each record's `send ?? items`).
   */
  bundle?: PendingRecord[];
  /** With `folder` (a folder whose other records are made again): the group number of each of `readyMany`. */
  gis?: number[];
  /**
   * Groups of symlinked images only (a game folder's links), their links resolved by the engine
   * (items with `resolveLink`); their records are built when the resolutions are back. Consecutive
   * groups of a folder travel as one job (up to LINKS_PER_JOB links): one pipeline job per link
   * cost this thread more than the thread's work on it.
   */
  linkGroups?: { groups: { group: PairGroup; seq: TreeSeq }[]; dir: DirContext };
}

/** What a record's links relied on: each resolution's lookups, the folders their targets were paired in, the link entries. */
export interface LinkDeps {
  steps: (readonly [string, string, Uint8Array | null, Uint8Array?])[];
  dirs: [string, Buffer][];
  links: string[];
}


/** Is `path` one of `candidates`' paths? */
export function hasCandidate(candidates: readonly ScanSidecar[], path: string): boolean {
  for (let i = 0; i < candidates.length; i++) if (candidates[i].path === path) return true;
  return false;
}

/** Symlinked images only, no sidecar of their own (a game folder's links to the originals). */
export function isLinkGroup(group: PairGroup): boolean {
  if (group.images.length === 0 || group.sidecars.length > 0) return false;
  for (const img of group.images) if (!img.isLink) return false;
  return true;
}

/** Links per job of link groups (a folder of 10^4 links is several jobs, so that several threads resolve them). */
export const LINKS_PER_JOB = 256;
/** A bundle of a folder's records (one pipeline job) holds up to this many items and records. */
export const BUNDLE_ITEMS = 32;
export const BUNDLE_RECORDS = 64;

/** A job of link groups (see PendingRecord.linkGroups), starting empty: its items are their links, for the engine to resolve. */
export function linksJob(seq: TreeSeq, dir: DirContext): PendingRecord {
  return { seq, dir: dir.rel, images: [], candidates: [], items: [], localSidecars: 0, extraFiles: 0, findings: [], linkGroups: { groups: [], dir } };
}

export function addLinkGroup(job: PendingRecord, group: PairGroup, seq: TreeSeq, dir: DirContext): void {
  dir.linkAt ??= { scan: dir.scanId, rootReal: dir.rootReal, dirRel: dir.rel };
  for (const img of group.images) job.items.push({ path: img.path, name: img.name, resolveLink: dir.linkAt });
  job.linkGroups!.groups.push({ group, seq });
}

/** A bundle of a folder's records (PendingRecord.bundle), empty: records are pushed into it. */
export function bundleJob(seq: TreeSeq, dir: string): PendingRecord {
  const job = servedJob(seq, dir);
  job.bundle = [];
  return job;
}

/** A job of stored records served as they are: nothing to inspect, nothing to pair. */
export function servedJob(seq: TreeSeq, dir: string): PendingRecord {
  return { seq, dir, images: [], candidates: [], items: [], localSidecars: 0, extraFiles: 0, findings: [] };
}

/** The engine's resolutions of a link group's items, as a LinkResolution for pending(). */
export function resolvedBy(results: readonly FileInspection[]): LinkResolution {
  const byPath = new Map<string, ResolvedLink>();
  for (const r of results) if (r.link) byPath.set(r.path, r.link);
  return {
    resolve(linkPath: string): ResolvedLink {
      const r = byPath.get(linkPath);
      if (r === undefined) throw errors.internal(`no resolution came back for ${linkPath}`);
      return r;
    },
  };
}

/**
 * Look every item of a record up in the index: hits are kept, misses go to the engine (one stat each). True when some missed.
 * An index that holds nothing (a first run) is not asked: every item goes to the engine, and
 * `mergeHits` records each result as it comes.
 */
export function lookUp(rec: PendingRecord, index: ScanCache, sized: boolean): boolean {
  if (index.noResultsStored) {
    if (sized) for (const it of rec.items) it.size = sizeOf(it.path);
    return rec.items.length > 0;
  }
  const hits: (FileInspection | undefined)[] = [];
  const send: InspectItem[] = [];
  const sent: CacheMiss[] = [];
  const ids: (Buffer | null)[] = [];
  const viaLink = rec.viaLink;
  for (const it of rec.items) {
    const r = index.lookup(it.path, viaLink !== undefined && viaLink.includes(it.path));
    if (sized) it.size = sizeOf(it.path); // never with the index (data-keeping inspections are not stored); kept true to the flag
    hits.push(r.hit ?? undefined);
    ids.push(r.pending.idBytes ?? null);
    if (!r.hit) {
      send.push(it);
      sent.push(r.pending);
    }
  }
  rec.hits = hits;
  rec.send = send;
  rec.sent = sent;
  rec.ids = ids;
  rec.trusted = true;
  return send.length > 0;
}

/** The engine's results for a record's misses (a record looked up: `hits`), recorded, merged with its hits in item order. */
export function mergeHits(rec: PendingRecord, results: readonly FileInspection[], index: ScanCache): FileInspection[] {
  const hits = rec.hits!;
  const ids = rec.ids!;
  let j = 0;
  for (let i = 0; i < hits.length; i++) {
    if (hits[i] !== undefined) continue;
    const p = rec.sent![j];
    if (index.record(p, results[j])) ids[i] = p.idBytes!; // the identity stored (a file not stat'ed before has none yet)
    else rec.trusted = false;
    j++;
  }
  let next = 0;
  return hits.map((h) => h ?? results[next++]);
}

/**
 * A finished record of a folder whose records are being stored: its value (taken now, before any
 * caller sees the record) and what it depended on; the folder's entry is written with its last record.
 */
export function folderRecordDone(job: PendingRecord, rec: ScanRecord, index: ScanCache): void {
  const b = job.folder!;
  const gi = job.gi!;
  let storable = job.trusted === true && job.linkDeps !== false && job.linkGroups === undefined;
  if (storable && job.ids) for (const id of job.ids) if (id === null) storable = false;
  if (storable) {
    for (let i = 0; i < job.items.length; i++) b.file(gi, job.items[i].path, job.ids![i]!);
    const deps = job.linkDeps;
    if (deps) {
      for (const [d, name, stamp] of deps.steps) {
        // The folder's identity (taken before the lookup) vouches for the answer next time, unless
        // it changed within the racy margin: then no identity will match, and the name is lstat'ed.
        const now = index.dirs.dirIdentity(d);
        b.step(gi, d, now && !now.racy ? now.id : NO_DIR_ID, name, stamp);
      }
      for (const [d, id] of deps.dirs) b.dir(gi, d, id);
      for (const l of deps.links) b.link(gi, l);
    }
  }
  index.recordDone(b, gi, storable ? rec : null);
}

/** Matches no folder's identity (dev and inode 0): the lookup is checked by lstat. */
const NO_DIR_ID = Buffer.alloc(40);

/** A stored record served as it is, kept in the folder's next entry as it was. */
export function keptRecordDone(b: FolderRecordsSink, gi: number, rec: ScanRecord, index: ScanCache): void {
  index.recordKept(b, gi, rec);
}

/** A file's size for the pipeline's byte bound (0 when it cannot be seen: the task reports why). */
export function sizeOf(path: string): number {
  try {
    return lstatSync(path).size;
  } catch {
    return 0;
  }
}

