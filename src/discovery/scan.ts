import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, type Dirent } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { errors } from '../errors.js';
import type { Runtime } from '../engine/runtime.js';
import { DEFAULT_BATCH_BYTES, DEFAULT_BATCH_FILES, mapJobs } from '../engine/pipeline.js';
import { createRuntime, type AdaptiveRuntime } from '../engine/select.js';
import { applyV8Tuning } from '../engine/v8-tuning.js';
import type { FileInspection, InspectItem, InspectOptions, LinkAt } from '../tasks/inspect.js';
import type { Category, Options, SidecarExt, SidecarNaming } from '../types.js';
import { CATEGORIES } from '../types.js';
import { DEFAULT_RACY_MARGIN_MS, noteMemoRun, ScanIndex, type IndexOptions, type IndexRunStats, type Pending } from '../incremental/scan-index.js';
import { encodeMemoRecords, groupEntriesOf, groupNamesOf, MemoRecordsView, type MemoRecordColumns } from './memo-records.js';
import { CheckLog, dropMemoDelta, fileCheckFinder, fileCheckFinderOf, filePathsOf, loadMemo, MEMO_MAX_FILES, MemoMovedError, memoPlace, MemoSpool, numbersKeptByJson, storeMemo, storeMemoDelta, type MemoHit } from '../incremental/tree-memo.js';
import { racyCutoffNs, racyCutoffOf } from '../incremental/entry.js';
import { identityBytes, statIdentityAny } from '../incremental/identity.js';
import { isCacheable, memoCodeDigest, optionsKey } from '../incremental/key.js';
import { resolveIndexLocation } from '../incremental/location.js';
import { availableParallelism } from 'node:os';
import { DirSnapshots } from '../incremental/dir-cache.js';
import { decodeRecords, FolderRecordsBuilder, restoreRecord, writeCompact, type CompactRecord, type FolderBlob } from '../incremental/folder-records.js';
import { LinkResolver, type LinkResolution, type ResolvedLink } from './resolve-link.js';
import { INDEX_DIR, QUARANTINE_DIR, SKIP_DIR_NAMES } from './own-folders.js';
import { imageExtensionSet, nfc } from './extensions.js';
import { isSidecarName, pairDirectory, type DirPairing, type PairGroup, type SidecarEntry } from './pair.js';
import { KeySetFilter, keyParts, nameRoot, shardFilter, shardKey, type ShardFilter } from './shard.js';
import { byName, folderPath, isPlainListing, kindOfDirent, listFolders, walkTree, type DirListing, type EntryKind, type WalkEntry, type WalkProblem } from './walk.js';
import { isSafeRel, relativeTo } from '../fs/rel-path.js';
import { watchThreadPool } from '../fs/thread-pool-watch.js';

export { INDEX_DIR, QUARANTINE_DIR, SKIP_DIR_NAMES };

export interface ScanImage {
  name: string;
  path: string;
  rel: string;
  isSymlink: boolean;
  /** Final target of a symlinked image (realpath). */
  target?: string;
  broken?: boolean;
  /** The target lies outside the scanned root: read it, never write or remove there. */
  outsideRoot?: boolean;
}

export interface ScanSidecar {
  name: string;
  path: string;
  /** POSIX path relative to the root (may start with ../ for a link target outside the root). */
  rel: string;
  ext: SidecarExt;
  naming: SidecarNaming;
  /** 'local': in the scanned directory; 'target': next to a symlinked image's target. */
  side: 'local' | 'target';
  /** The sidecar itself is a symlink: read through it, never written, converted or removed. */
  isLink?: boolean;
  inspection: FileInspection;
}

export interface Finding {
  code: 'fallback' | 'ambiguous' | 'kept' | 'bom' | 'broken-symlink' | 'unreadable' | 'corrupt' | 'outside-root' | 'unknown-image' | 'note' | 'encrypted' | 'foreign';
  message: string;
  paths: string[];
}

/** One unit of a scan: an image with its sidecars, or a file that pairs with nothing. */
export interface ScanRecord {
  category: Category;
  /** Directory relative to the root, POSIX ('' for the root). */
  dir: string;
  images: ScanImage[];
  /** Every candidate in preference order (target side first, then local). */
  sidecars: ScanSidecar[];
  /** The sidecar whose data counts for the image(s): the first candidate that decodes. */
  effective: ScanSidecar | null;
  findings: Finding[];
  /** Scanned files owned by this record (images and local sidecars): the counts add up. */
  files: number;
  /**
   * Position in tree order: [walk step of its folder, index among the folder's records]. Equal on
   * every shard of a tree, so shard outputs merge back into the order of an unsharded scan.
   */
  seq: TreeSeq;
}

/** [walk step, index in the folder] (a folder that could not be read: [its step, -1]). */
export type TreeSeq = readonly [number, number];

export interface ScanProblem {
  path: string;
  code: string;
  message: string;
}

export interface ScanSummary {
  root: string;
  /** False when any directory or file could not be read: no orphan is ever declared then. */
  complete: boolean;
  problems: ScanProblem[];
  problemCount: number;
  counts: Record<Category, number>;
  filesScanned: number;
  filesIgnored: number;
  tempFiles: number;
  directories: number;
  images: number;
  imageSymlinks: number;
  brokenSymlinks: number;
  /** Sidecar files (`sidecarFilesOf`): the one count every command reports. */
  sidecarFiles: number;
  engine: { kind: 'inline' | 'threads'; workers: number };
}

export interface ScanOptions extends Options {
  /** Per-file work done by the engine on every candidate sidecar. */
  inspect?: Omit<InspectOptions, 'maxFileSize' | 'maxDepth'>;
  /**
   * Inspect the sidecars of symlinked images again even when their target lies inside the root
   * (default false: the target's own record inspects them; the link's record marks them 'unchecked').
   */
  inspectLinkTargets?: boolean;
  /**
   * 'resolve': a record whose images are all symlinks into the root (or broken) is left to its
   * targets' own records: its links are resolved (broken or not, inside or not) but not paired
   * with their targets' sidecars, so it has no target candidates and its category says what its
   * own folder holds. For todo, which lists only images no other record stands for (a game
   * folder's links to the originals); pairing their target folders was a third of its main
   * thread. Default 'pair'.
   */
  inRootLinkRecords?: 'pair' | 'resolve';
  /** Share a runtime between several scans (the caller closes it). */
  runtime?: Runtime;
  /** Files per engine batch. */
  batchSize?: number;
  /**
   * Only the records of these partition keys (shard.ts), as a shard makes its own: a tree memo's
   * patch (the records that depend on changed sidecars), with the positions of the whole scan.
   */
  onlyKeys?: ReadonlySet<string>;
  /**
   * With `onlyKeys`: the folders those records are in, by walk step (folders numbered in walk
   * order), each with its path relative to the root when known. Known for every one (a memo's
   * patch: the tree's folders are as the walk that numbered them found them, so a folder's step
   * holds), only these folders are listed (walk.ts listFolders); else every folder is walked and
   * only these paired.
   */
  onlyFolders?: ReadonlyMap<number, string | null>;
  /**
   * Only these groups, each one record's names at its place in the tree (a tree memo's patch whose
   * records' folders are as its checks found them: the same listings, so the same groups, paired
   * again from their names alone: memo-records.ts groupNamesOf): nothing is walked or listed.
   * Each must pair as one group with an image (else a TypeError: names no run stored).
   */
  givenGroups?: readonly GivenGroup[];
}

/** A group of ScanOptions.givenGroups: its folder's walk step and path relative to the root, the record's position there, its names. */
export interface GivenGroup {
  step: number;
  position: number;
  rel: string;
  entries: WalkEntry[];
}

const MAX_PROBLEMS_KEPT = 200;

/** Scans started in this process: each one's number (DirContext.scanId). */
let scansStarted = 0;

/** A candidate's inspection until the engine's result is in. */
const NOT_YET = undefined as unknown as FileInspection;

/** A candidate as records carry it (the same keys in the same order for every candidate). */
function candidateOf(c: SidecarEntry, rel: string, side: 'local' | 'target'): ScanSidecar {
  const sc: ScanSidecar = c.isLink
    ? { name: c.name, path: c.path, ext: c.ext, naming: c.naming, isLink: true, rel, side, inspection: NOT_YET }
    : { name: c.name, path: c.path, ext: c.ext, naming: c.naming, rel, side, inspection: NOT_YET };
  return sc;
}

/** What the records of one walked folder share, computed once per folder. */
interface DirContext {
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

interface PendingRecord {
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
  sent?: Pending[];
  /** With the index: per item, its identity as looked up (null: not seen); all trusted (hits, or recorded). */
  ids?: (Buffer | null)[];
  trusted?: boolean;
  /** What the record's links relied on (lookups, target folders), when collected; false: not storable. */
  linkDeps?: LinkDeps | false;
  /** Folder records: the folder this record belongs to, and its group number there. */
  folder?: FolderRecordsBuilder;
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
  /** The stored entry it came from (a folder whose other records are made again). */
  stored?: FolderBlob;
  /**
   * Groups of symlinked images only (a game folder's links), their links resolved by the engine
   * (items with `resolveLink`); their records are built when the resolutions are back. Consecutive
   * groups of a folder travel as one job (up to LINKS_PER_JOB links): one pipeline job per link
   * cost this thread more than the thread's work on it.
   */
  linkGroups?: { groups: { group: PairGroup; seq: TreeSeq }[]; dir: DirContext };
}

/** What a record's links relied on: each resolution's lookups, the folders their targets were paired in, the link entries. */
interface LinkDeps {
  steps: (readonly [string, string, Uint8Array | null, Uint8Array?])[];
  dirs: [string, Buffer][];
  links: string[];
}

/**
 * What a command keeps in its tree memo: a row per record (JSON values only), the output made of
 * the rows, and where the rows are stored: with the output (read on every hit, `encodeRows`) or,
 * when the output is stored itself (`outputStored`), apart, one by one (a patch reads only the rows
 * it changes; `encodeRows` then encodes a delta's).
 */
export interface MemoCommand<Row, Out> {
  rowOf(rec: ScanRecord): Row;
  finish(rows: Row[], summary: ScanSummary): Out;
  outputStored: boolean;
  encodeRows(rows: Row[]): unknown;
  decodeRows(stored: unknown): Row[];
  /**
   * What `finish` of the stored rows gives, with the rows of `replaced` (by record number: a delta's,
   * a patch's) in place of theirs, made straight from the stored rows (validate's 34,000 rows were
   * sliced out of its 18,500 results only to be flattened again). Throws as decodeRows does on rows
   * no run writes, or not `count` of them when it is given, or without a row of a number replaced.
   */
  finishStored?(stored: unknown, summary: ScanSummary, replaced: ReadonlyMap<number, Row>, count?: number): Out;
  /**
   * The stored output with some records' rows taken out (`removed`) and their new rows put in
   * (`added`), the summary being the patched run's: what `finish` would make of every row, without
   * reading the others; null when the output cannot be patched so (then `finish` of every row).
   */
  patchOutput?(stored: Out, removed: readonly Row[], added: readonly Row[], summary: ScanSummary): Out | null;
  /** Is a stored output (a JSON object) shaped as this command stores it? (Else the memo is a miss.) */
  isOutput?(stored: Record<string, unknown>): boolean;
}

/** A command's tree memo over one scan (ScanSession.memo). */
export interface TreeMemoRun<Row, Out> {
  load(): Promise<{ output: Out } | null>;
  /** Each record's row, in order, while the scan runs. */
  row(rec: ScanRecord, row: Row): void;
  /** After the scan: keep the memo (the output, when the command stores it, else null: made of the rows). */
  store(output: Out | null): boolean;
  /** The output also depends on this path's identity (stat, following links): a check of the memo, taken now. */
  checkImage(path: string): void;
}

/** What a tree memo holds: the scan's summary and figures, and the command's output (or its rows). */
interface StoredScan {
  summary: ScanSummary;
  problemSeqs: TreeSeq[];
  progress: [number, number];
  index: IndexRunStats | null;
  output: unknown;
  rows: unknown;
}

/** How a memo answered a run: the output, the stored scan it came from, its progress figures, the records a patch made again. */
interface MemoAnswer<Out> {
  output: Out;
  stored: StoredScan;
  progress: [number, number];
  /** A patch's records made again and how their groups were found (null: answered whole). */
  patched: { made: number; byNames: number } | null;
}

const isPlainObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isNumberPair = (x: unknown): x is [number, number] => Array.isArray(x) && x.length === 2 && x.every((n) => typeof n === 'number');

/** The stored scan's parts as a run writes them (the rows and output are the command's to decode). */
function isStoredScan(x: unknown): x is StoredScan {
  if (!isPlainObject(x) || !isPlainObject(x.summary) || !isPlainObject(x.summary.counts) || !Array.isArray(x.summary.problems)) return false;
  return Array.isArray(x.problemSeqs) && x.problemSeqs.every(isNumberPair) && isNumberPair(x.progress) && (x.index === null || isPlainObject(x.index));
}

/** A record as a memo keeps it (deps: paths of the sidecars it read; depsAt: as check numbers, for one kept from a memo). */
interface MemoRecord {
  key: string;
  seq: TreeSeq;
  deps: string[];
  tally: number[];
  bytes: number;
  /** Its group's names (memo-records.ts groupNamesOf). */
  group: string;
  depsAt?: number[];
}

/** A record as a patch keeps it: its file checks by number (the memo's, or the ones a record made again was checked to read). */
type PatchedRecord = MemoRecord & { depsAt: number[] };

/**
 * A memo's delta (tree-memo.ts storeMemoDelta): the records patches made again since the memo was
 * written (`dirty`, by number, with their rows in the command's encoding and what a patch needs of
 * each), and the stored scan's parts as the last patch left them.
 */
interface MemoDelta {
  dirty: number[];
  rows: unknown;
  deps: number[][];
  tallies: number[][];
  bytes: number[];
  groups: string[];
  summary: ScanSummary;
  problemSeqs: TreeSeq[];
  progress: [number, number];
  index: IndexRunStats | null;
  output: unknown;
}

/** The memo's stored scan with the parts a delta replaces as the delta has them (none: as stored). */
function storedWith(base: StoredScan, d: MemoDelta | null): StoredScan {
  return d ? { ...base, summary: d.summary, problemSeqs: d.problemSeqs, progress: d.progress, index: d.index } : base;
}

const isIntList = (x: unknown): x is number[] => Array.isArray(x) && x.every((n) => Number.isInteger(n));
/**
 * A record's counts as tallyOf makes them (a category's number, then five counts). A patch takes a
 * stored tally out of the summary: one of another shape (a crafted memo or delta with a checksum to
 * match) put NaN or a key `undefined` in the counts, and the output differed from --no-index.
 */
const isTally = (x: unknown): x is number[] => isIntList(x) && x.length === 6 && x[0] >= 0 && x[0] < CATEGORIES.length && x.every((n) => n >= 0);

/** A delta's body as a patch writes it, of a memo of `n` records (else a TypeError: parts no run writes). */
function deltaOf(x: unknown, n: number): MemoDelta {
  const d = x as MemoDelta;
  const ok =
    isPlainObject(x) &&
    isIntList(d.dirty) &&
    d.dirty.every((i, k) => i >= 0 && i < n && (k === 0 || i > d.dirty[k - 1])) &&
    Array.isArray(d.deps) && d.deps.length === d.dirty.length && d.deps.every(isIntList) &&
    Array.isArray(d.tallies) && d.tallies.length === d.dirty.length && d.tallies.every(isTally) &&
    isIntList(d.bytes) && d.bytes.length === d.dirty.length &&
    Array.isArray(d.groups) && d.groups.length === d.dirty.length && d.groups.every((g) => typeof g === 'string') &&
    isStoredScan({ summary: d.summary, problemSeqs: d.problemSeqs, progress: d.progress, index: d.index });
  if (!ok) throw new TypeError('not a memo delta');
  return d;
}

/** Sidecars a patch makes records again for, at most; more, the run goes on without the memo. */
const MAX_PATCHED_FILES = 4096;
/** Records a patch makes again, at most this share of them. */
const MAX_PATCHED_SHARE = 0.1;
/** Folders a patch lists by reading them (readdir) instead of through the index, at most. */
const PATCH_FOLDERS_READ = 8;

/** The partition key of a record (shard.ts): its folder and the name root its names share. */
function recordKey(rec: ScanRecord, imageExts: ReadonlySet<string>): string {
  const local = rec.sidecars.find((s) => s.side === 'local');
  const name = rec.images[0]?.name ?? local?.name ?? '';
  return shardKey(rec.dir, name, imageExts);
}

/**
 * The folders a memo checked inside the root (real paths: the walk never enters a linked folder,
 * so a walked folder's real path is the root's and its path), by the folder part of the partition
 * keys of their records (NFC): the folder's path relative to the root, or null when two folders
 * have that key (names only NFC tells apart).
 */
function foldersByKeyDir(dirPaths: readonly string[], rootReal: string): Map<string, string | null> {
  const out = new Map<string, string | null>();
  const prefix = rootReal.endsWith('/') ? rootReal : `${rootReal}/`;
  for (const p of dirPaths) {
    const rel = p === rootReal ? '' : p.startsWith(prefix) ? p.slice(prefix.length) : null;
    if (rel === null || (rel !== '' && !isSafeRel(rel))) continue;
    const key = nfc(rel);
    out.set(key, out.has(key) && out.get(key) !== rel ? null : rel);
  }
  return out;
}

/** What `tally` adds to the summary for a record: category, files, images, image links, broken links, sidecar files. */
function tallyOf(rec: ScanRecord): number[] {
  let links = 0;
  let broken = 0;
  for (const img of rec.images) {
    if (img.isSymlink) links++;
    if (img.broken) broken++;
  }
  return [CATEGORIES.indexOf(rec.category), rec.files, rec.images.length, links, broken, sidecarFileCount(rec)];
}

function applyTally(s: ScanSummary, t: readonly number[], sign: 1 | -1): void {
  s.counts[CATEGORIES[t[0]]] += sign;
  s.filesScanned += sign * t[1];
  s.images += sign * t[2];
  s.imageSymlinks += sign * t[3];
  s.brokenSymlinks += sign * t[4];
  s.sidecarFiles += sign * t[5];
}

function memoRecordOf(rec: ScanRecord, imageExts: ReadonlySet<string>): MemoRecord {
  const deps: string[] = [];
  let bytes = 0;
  for (const sc of rec.sidecars) {
    if (sc.inspection.status !== 'unchecked') deps.push(sc.path);
    if (sc.side === 'local') bytes += sc.inspection.size;
  }
  const key = recordKey(rec, imageExts);
  return { key, seq: rec.seq, deps, tally: tallyOf(rec), bytes, group: groupNamesOf(rec, keyParts(key).root) };
}

function progressOf(p: [number, number]): [number, undefined, number] {
  return [p[0], undefined, p[1]];
}

/** A scan in progress: iterate it for records; `summary` is final once iteration ends. */
export class ScanSession implements AsyncIterable<ScanRecord> {
  readonly summary: ScanSummary;
  /** Tree position of each entry of `summary.problems` (merging shard outputs orders them by it). */
  readonly problemSeqs: TreeSeq[] = [];
  private started = false;
  private readonly shard: ShardFilter | null;
  /** The link-target folders of the running scan (pendingRecords sets it). */
  private targetDirs: TargetGroups | null = null;
  /** With the index: this run's checks when it can stand for a tree memo (set at its end), and its last progress figures. */
  private memoChecks: CheckLog | null = null;
  private lastProgress: [number, number] = [0, 0];
  private indexRun: IndexRunStats | null = null;
  /** The index of the running scan (a memo's rows are kept only while its checks can stand for one). */
  private runIndex: ScanIndex | null = null;
  /** Removes a tree memo's spool when the run throws or is abandoned (memo()). */
  private memoAbort: (() => void) | null = null;
  constructor(
    readonly root: string,
    private readonly opts: ScanOptions = {},
  ) {
    // A scan awaits the file system throughout (its walk, the index's files, the memo's): a lost
    // wake-up of libuv's pool must not hang it (fs/thread-pool-watch.ts).
    watchThreadPool();
    const imageExts = imageExtensionSet(opts.imageExtensions);
    this.shard = opts.onlyKeys ? new KeySetFilter(opts.onlyKeys, imageExts) : shardFilter(opts.shard, imageExts);
    this.summary = {
      root: resolve(root),
      complete: true,
      problems: [],
      problemCount: 0,
      counts: Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>,
      filesScanned: 0,
      filesIgnored: 0,
      tempFiles: 0,
      directories: 0,
      images: 0,
      imageSymlinks: 0,
      brokenSymlinks: 0,
      sidecarFiles: 0,
      engine: { kind: 'inline', workers: 1 },
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<ScanRecord> {
    return this.each(this.batches());
  }

  /**
   * The records in tree order, a batch at a time (a pipeline job's records: a run of a folder's
   * groups, a folder's served records, a job of links): what the hot commands iterate. One async
   * step per record cost the main thread more than building the record (a third of what it
   * allocated, profiled: the promises and results of four generators per record).
   */
  batches(): AsyncIterable<ScanRecord[]> {
    if (this.started) throw errors.usage('a scan can be iterated only once');
    this.started = true;
    // A walk of the tree is the long part of a run: from here on V8 optimises only what stays hot
    // (when an entry point allowed it). A run a tree memo answers never gets here (engine/v8-tuning.ts).
    applyV8Tuning();
    const run = this.run();
    return { [Symbol.asyncIterator]: () => run };
  }

  private async *each(batches: AsyncIterable<ScanRecord[]>): AsyncGenerator<ScanRecord> {
    for await (const batch of batches) for (let i = 0; i < batch.length; i++) yield batch[i];
  }

  /**
   * The tree memo of `command` with `commandKey` (what else shapes its output) for this scan's
   * options (incremental/tree-memo.ts), or null: no index, a shard, a shared runtime, folder
   * records off, or inspections the index does not store. `load()` before iterating: the output
   * when every check the memo lists holds, or when only a few sidecars changed, the stored output
   * with the records that depend on them made again (a patch: those records' partition keys
   * scanned as a shard scans its own); this session's summary is then the run's. Else null: iterate,
   * giving each record's row to `row()`, then `store(output)`: kept when this run can stand for one.
   */
  memo<Row, Out>(command: string, commandKey: unknown, def: MemoCommand<Row, Out>): TreeMemoRun<Row, Out> | null {
    const opts = this.opts;
    const inspectOpts = this.inspectOptions();
    if (!opts.index || opts.index.memo === false || this.shard || opts.runtime || opts.index.folderRecords === false || !isCacheable(inspectOpts) || this.started) return null;
    const indexOpts = opts.index;
    const location = resolveIndexLocation(this.root, indexOpts);
    const imageExts = imageExtensionSet(opts.imageExtensions);
    const keyParts = [
      command,
      commandKey,
      optionsKey(inspectOpts),
      memoCodeDigest(),
      scanShape(imageExts, opts.inspectLinkTargets === true, opts.inRootLinkRecords === 'resolve'),
      // The engine the summary reports: as asked, and the machine's default worker count.
      [opts.engine ?? null, opts.workers ?? null, availableParallelism(), opts.accel ?? null],
    ];
    const place = memoPlace(location, this.summary.root, keyParts);
    if (!place) return null;
    const racyMs = indexOpts.racyMarginMs ?? DEFAULT_RACY_MARGIN_MS;
    const cutoffNs = racyCutoffNs(racyCutoffOf(Date.now(), racyMs));
    // What this run keeps for its memo: the images compared, each record's row and what a patch needs of it.
    const images: [string, Buffer | null][] = [];
    // Each record's row and what a patch needs of it, as JSON text in a spool file (memory stays
    // flat); opened at the first record a memo can still be made of, given up past the bound.
    let spool: MemoSpool | null = null;
    let collecting = true;
    // Set while a patch makes records again: an image compared then is not among the memo's checks.
    let patching = false;
    let imageInPatch = false;
    const toStored = (output: Out | null, rowsNow: Row[], records: MemoRecord[], summary: ScanSummary, problemSeqs: TreeSeq[], progress: [number, number], index: IndexRunStats | null, checkOf: (path: string) => number | undefined) => {
      const lazy: MemoRecordColumns = { keys: [], seqs: [], deps: [], tallies: [], bytes: [], groups: [] };
      for (const r of records) {
        let deps = r.depsAt;
        if (!deps) {
          deps = [];
          for (const d of r.deps) {
            const i = checkOf(d);
            if (i === undefined) return null; // read, but not among the checks: no memo can stand for it
            deps.push(i);
          }
        }
        lazy.keys.push(r.key);
        lazy.seqs.push(r.seq[0], r.seq[1]);
        lazy.deps.push(deps);
        lazy.tallies.push(r.tally);
        lazy.bytes.push(r.bytes);
        lazy.groups.push(r.group);
      }
      const payload: StoredScan = { summary, problemSeqs, progress, index, output: def.outputStored ? output : null, rows: def.outputStored ? null : def.encodeRows(rowsNow) };
      let lazyBytes: Buffer;
      try {
        lazyBytes = encodeMemoRecords(lazy);
      } catch {
        return null; // a value its columns cannot hold (none a run makes)
      }
      return { payload, lazy: lazyBytes, rows: def.outputStored ? rowsNow : [] };
    };
    // The memo's answer: its stored output (every check held), or patched (some sidecars changed);
    // null when a patch cannot stand for the run. Throws on parts not shaped as a run writes them.
    // A stored output as the command stores it (a memo's or a delta's; else a TypeError: a miss).
    const isOutput = (x: unknown) => isPlainObject(x) && (def.isOutput?.(x) ?? true);
    const answerFrom = async (hit: MemoHit): Promise<MemoAnswer<Out> | null> => {
      const base = hit.payload as StoredScan;
      if (!isStoredScan(base) || (def.outputStored && !isOutput(base.output))) throw new TypeError('not a memo payload');
      // The delta's rows by record number (deltaOf checked the numbers against the memo's records).
      const rowsOfDelta = (delta: MemoDelta | null): Map<number, Row> => {
        const out = new Map<number, Row>();
        if (delta) {
          const mine = def.decodeRows(delta.rows);
          if (!Array.isArray(mine) || mine.length !== delta.dirty.length) throw new TypeError('not memo rows');
          delta.dirty.forEach((i, k) => out.set(i, mine[k]));
        }
        return out;
      };
      const deltaAt = (n: number) => (hit.delta === null ? null : deltaOf(hit.delta, n));
      if (hit.changed.at.length === 0) {
        let output: Out;
        let stored = base;
        if (def.outputStored) {
          // (Without the rows, the number of records is not known here: a delta's record numbers are checked by a patch.)
          const delta = deltaAt(Number.MAX_SAFE_INTEGER);
          if (delta) {
            if (!isOutput(delta.output)) throw new TypeError('not a memo delta');
            stored = { ...storedWith(base, delta), output: delta.output };
          }
          output = stored.output as Out;
          this.started = true; // answered: the scan is not run
          Object.assign(this.summary, stored.summary);
        } else if (def.finishStored) {
          // Straight from the stored rows, a delta's in place (its numbers checked by finishStored: a
          // row for each).
          const delta = deltaAt(Number.MAX_SAFE_INTEGER);
          const replaced = rowsOfDelta(delta);
          stored = storedWith(base, delta);
          this.started = true; // answered: the scan is not run
          Object.assign(this.summary, stored.summary);
          output = def.finishStored(base.rows, this.summary, replaced);
        } else {
          const rows = def.decodeRows(base.rows);
          if (!Array.isArray(rows)) throw new TypeError('not memo rows');
          const delta = deltaAt(rows.length);
          stored = storedWith(base, delta);
          for (const [i, row] of rowsOfDelta(delta)) rows[i] = row;
          this.started = true; // answered: the scan is not run
          Object.assign(this.summary, stored.summary);
          output = def.finish(rows, this.summary);
        }
        this.problemSeqs.push(...stored.problemSeqs);
        return { output, stored, progress: stored.progress, patched: null };
      }
      const patched = await this.patch(hit, place.rootReal, base, def, imageExts, deltaAt, rowsOfDelta, isOutput, () => (patching = true));
      patching = false;
      if (!patched) return null;
      this.started = true;
      // The patched memo: the same checks, the changed sidecars' identities now (taken before
      // they were read again), unless an image was compared that the memo does not check.
      if (!imageInPatch && !hit.anyRacyNow(cutoffNs) && this.summary.complete) {
        // Every record made again since the memo was written: a delta of them while they are few
        // (a patch then writes its own records, not the whole tree's), else the memo again.
        const dirty = [...new Set([...(patched.delta?.dirty ?? []), ...patched.madeAt])].sort((a, b) => a - b);
        let kept = false;
        if (dirty.length <= Math.max(1, patched.count * MAX_PATCHED_SHARE)) {
          // (A record made again reads the checks it read before: patch() checked it.)
          const records = dirty.map(patched.recordAt);
          const files = new Map(hit.deltaFiles);
          hit.changed.at.forEach((n, k) => files.set(n, hit.changed.ids[k]));
          const body: MemoDelta = {
            dirty,
            rows: def.encodeRows(dirty.map(patched.rowAt)),
            deps: records.map((r) => r.depsAt),
            tallies: records.map((r) => r.tally),
            bytes: records.map((r) => r.bytes),
            groups: records.map((r) => r.group),
            summary: this.summary,
            problemSeqs: this.problemSeqs,
            progress: patched.progress,
            index: base.index,
            output: def.outputStored ? patched.output : null,
          };
          kept = storeMemoDelta(place, hit.gen, files, body);
        }
        if (!kept) {
          const s = toStored(patched.output, patched.allRows(), patched.allRecords(), this.summary, this.problemSeqs, patched.progress, base.index, fileCheckFinder(hit.filePath, hit.fileChecks));
          if (s) storeMemo(place, hit.checksNow(), s.payload, s.lazy, s.rows);
        }
      }
      return { output: patched.output, stored: base, progress: patched.progress, patched: { made: patched.made, byNames: patched.byNames } };
    };
    return {
      checkImage: (path: string) => {
        if (patching) {
          imageInPatch = true;
          return;
        }
        // Only while this run can still stand for a memo (a stat more per image record, else).
        if (images.length > MEMO_MAX_FILES || this.runIndex?.memoLog.spoiled != null) return;
        const id = statIdentityAny(path);
        images.push([path, id ? identityBytes(id) : null]);
      },
      row: (rec: ScanRecord, row: Row) => {
        if (!collecting) return;
        // Not once this run can no longer stand for a memo (it read a file: a first run at its
        // first record), nor beyond the bound, nor for a row JSON does not give back exactly (-0:
        // the spool keeps JSON text).
        if (this.runIndex?.memoLog.spoiled != null || (spool !== null && (spool.count >= MEMO_MAX_FILES || spool.failed)) || !numbersKeptByJson(row)) {
          collecting = false;
          spool?.close();
          spool = null;
          return;
        }
        if (spool === null) {
          const opened = new MemoSpool(place.file);
          spool = opened;
          this.memoAbort = () => opened.close(); // a run that does not end normally leaves no spool
        }
        const m = memoRecordOf(rec, imageExts);
        spool.push(JSON.stringify([m.key, m.seq[0], m.seq[1], m.deps, m.tally, m.bytes, m.group, row]));
      },
      load: async () => {
        // A run already asked to stop throws as the walk would (walk.ts), memo or not: a caller that
        // aborted must not get an answer it would not get without the index.
        opts.signal?.throwIfAborted();
        const hit = loadMemo(place, MAX_PATCHED_FILES, { fastStat: this.indexFastStat() });
        if (!hit) return null;
        // A memo whose parts are not what a run wrote (bytes made by hand, with a checksum to
        // match) is a miss, never a crash: the session is put back as it was, the run goes on.
        const before = { summary: { ...this.summary, counts: { ...this.summary.counts }, problems: [...this.summary.problems] }, problemSeqs: this.problemSeqs.length };
        let answer: MemoAnswer<Out> | null;
        try {
          answer = await answerFrom(hit);
        } catch (e) {
          if (opts.signal?.aborted) throw e;
          // The next run reads the memo alone (and patches), unless the memo itself moved meanwhile
          // (its delta may be the new memo's).
          if (hit.delta !== null && !(e instanceof MemoMovedError)) dropMemoDelta(place);
          answer = null;
        }
        patching = false;
        if (!answer) {
          for (const k of Object.keys(this.summary)) delete (this.summary as unknown as Record<string, unknown>)[k];
          Object.assign(this.summary, before.summary);
          this.problemSeqs.length = before.problemSeqs;
          this.started = false;
          return null;
        }
        opts.signal?.throwIfAborted(); // aborted while a patch ran
        opts.onProgress?.(...progressOf(answer.progress));
        await noteMemoRun(location, indexOpts, answer.stored.index, hit.checks, answer.patched, hit.fastStat);
        return { output: answer.output };
      },
      store: (output: Out | null) => {
        const checks = this.memoChecks;
        this.memoChecks = null;
        const items = collecting && spool ? spool.readAll() : null;
        spool?.close();
        spool = null;
        if (!checks || !items || !this.summary.complete || images.length > MEMO_MAX_FILES) return false;
        for (const [path, id] of images) checks.image(path, id);
        const rows: Row[] = [];
        const recs: MemoRecord[] = [];
        for (const it of items as [string, number, number, string[], number[], number, string, Row][]) {
          recs.push({ key: it[0], seq: [it[1], it[2]], deps: it[3], tally: it[4], bytes: it[5], group: it[6] });
          rows.push(it[7]);
        }
        const s = toStored(output, rows, recs, this.summary, this.problemSeqs, this.lastProgress, this.indexRun, fileCheckFinderOf(filePathsOf(checks)));
        return s !== null && storeMemo(place, checks, s.payload, s.lazy, s.rows);
      },
    };
  }

  /**
   * Make again the records that depend on the changed sidecars of a memo (hit.changed), by their
   * partition keys, and put them in place of the stored ones (the memo's, with its delta's in
   * place: `deltaAt`, `rowsOfDelta`); null when the patch cannot stand for the run (records not made
   * again one for one, the memo's lazy part damaged, too many changed).
   */
  private async patch<Row, Out>(
    hit: MemoHit,
    rootReal: string,
    base: StoredScan,
    def: MemoCommand<Row, Out>,
    imageExts: ReadonlySet<string>,
    deltaAt: (n: number) => MemoDelta | null,
    rowsOfDelta: (delta: MemoDelta | null) => Map<number, Row>,
    isOutput: (x: unknown) => boolean,
    begin: () => void,
  ): Promise<{ output: Out; rowAt: (i: number) => Row; allRows: () => Row[]; recordAt: (i: number) => PatchedRecord; allRecords: () => PatchedRecord[]; count: number; progress: [number, number]; made: number; byNames: number; madeAt: number[]; delta: MemoDelta | null } | null> {
    // What a patch needs of each record (discovery/memo-records.ts), the delta's in place of the memo's.
    const lazy = new MemoRecordsView(hit.lazy(), hit.fileChecks);
    const n = lazy.n;
    const delta = deltaAt(n);
    const over = new Map<number, number>();
    delta?.dirty.forEach((i, k) => over.set(i, k));
    const depsOf = (i: number) => (over.has(i) ? delta!.deps[over.get(i)!] : lazy.deps(i));
    const tallyOf = (i: number) => (over.has(i) ? delta!.tallies[over.get(i)!] : lazy.tally(i));
    const bytesOf = (i: number) => (over.has(i) ? delta!.bytes[over.get(i)!] : lazy.bytes(i));
    const groupOf = (i: number) => (over.has(i) ? delta!.groups[over.get(i)!] : lazy.group(i));
    const stored = storedWith(base, delta);
    const changed = new Set(hit.changed.at);
    // The records to make again, in tree order (the memo's records are).
    const dirty: number[] = [];
    // (A record the delta made again reads the files of its own checks, not the memo's.)
    const reading = lazy.readingAny(changed, hit.fileChecks);
    for (let i = reading.indexOf(1); i !== -1; i = reading.indexOf(1, i + 1)) if (!over.has(i)) dirty.push(i);
    for (const i of over.keys()) if (depsOf(i).some((d) => changed.has(d))) dirty.push(i);
    dirty.sort((a, b) => a - b);
    if (dirty.length === 0 || dirty.length > Math.max(1, n * MAX_PATCHED_SHARE)) return null;
    // The rows as the memo and its delta have them: a command that keeps its output reads the
    // memo's one at a time, only those it needs (a patch then costs its own records).
    let fromDelta: Map<number, Row>;
    let rowStored: (i: number) => Row;
    if (def.outputStored) {
      fromDelta = rowsOfDelta(delta);
      if (hit.rowCount() !== n) return null; // a row per record, else not a memo a run wrote
      rowStored = (i) => hit.row(i) as Row;
    } else {
      // Decoded when a row stored is asked for (a command that makes its output straight from the
      // stored rows asks for none: finishStored).
      let rows: Row[] | null = null;
      fromDelta = rowsOfDelta(delta);
      rowStored = (i) => {
        if (rows === null) {
          const all = def.decodeRows(base.rows);
          if (!Array.isArray(all) || all.length !== n) throw new TypeError('not memo rows');
          rows = all;
        }
        return rows[i];
      };
    }
    const rowBefore = (i: number): Row => (fromDelta.has(i) ? fromDelta.get(i)! : rowStored(i));
    begin();
    const byKeyDir = foldersByKeyDir(hit.dirPaths(), rootReal);
    // Each record paired again from the names the memo keeps of it when it has them and its folder
    // is known (ScanOptions.givenGroups: its folder's identity held, so its listing and its group
    // did: nothing listed, nothing looked up in the index, its sidecars read again as the changed
    // ones are). The others (a lone sidecar, links) as a shard of just their keys makes them (same
    // tree positions): their folders by step, each listed alone when its key's folder (NFC) is the
    // NFC form of one folder the memo checked inside the root, by name on disk (KELVIN SIGN and K
    // are one key: two such folders, or none, and every folder is walked); the changed sidecars
    // read again without a look in the index (IndexOptions.knownChanged). The records made must
    // read the files they read before (below): a folder at another step than the memo's, another
    // folder's names, make none of them.
    const given: GivenGroup[] = [];
    const byNames: number[] = [];
    const byFolders: number[] = [];
    const keys = new Set<string>();
    const folders = new Map<number, string | null>();
    for (const i of dirty) {
      const { dir, root } = keyParts(lazy.key(i));
      const on = byKeyDir.get(dir) ?? null;
      const step = lazy.step(i);
      const entries = on === null ? null : groupEntriesOf(groupOf(i), root);
      if (entries !== null) {
        given.push({ step, position: lazy.position(i), rel: on!, entries });
        byNames.push(i);
        continue;
      }
      byFolders.push(i);
      keys.add(lazy.key(i));
      folders.set(step, folders.get(step) === null ? null : on);
    }
    const knownChanged = new Set(hit.changed.at.map((at) => hit.filePath(at)!));
    const subs: [ScanSession, number[]][] = [];
    if (byNames.length > 0) subs.push([new ScanSession(this.root, { ...this.opts, index: undefined, onProgress: undefined, givenGroups: given }), byNames]);
    if (byFolders.length > 0) {
      // A few known folders are read (readdir) rather than opening the index for their stored
      // listings: its open alone costs what ~16 folders' readdir do (the bench library: ~7 ms).
      const few = folders.size <= PATCH_FOLDERS_READ && [...folders.values()].every((rel) => rel !== null);
      const index: IndexOptions | undefined = few ? undefined : { ...(this.opts.index as IndexOptions), prune: false, lookupOnly: true, knownChanged, onStats: undefined, onWarning: undefined };
      subs.push([new ScanSession(this.root, { ...this.opts, index, onProgress: undefined, onlyKeys: keys, onlyFolders: folders }), byFolders]);
    }
    // One for one, in order: the same folder (walk step) and partition key. A shard numbers a
    // record's place in its folder its own way (by its names), so the memo's position is kept.
    const made = new Map<number, { row: Row; rec: MemoRecord }>();
    // The new records' problems (the stored run had none: a memo is only made of a complete run), at their places in the tree.
    const problems: { seq: TreeSeq; problem: ScanProblem }[] = [];
    let problemCount = 0;
    let complete = stored.summary.complete;
    for (const [sub, list] of subs) {
      const seqOfSub = new Map<string, TreeSeq>();
      let k = 0;
      for await (const rec of sub) {
        const i = list[k++];
        if (i === undefined || rec.seq[0] !== lazy.step(i)) return null;
        const mrec = memoRecordOf(rec, imageExts);
        if (mrec.key !== lazy.key(i)) return null;
        const seq: TreeSeq = [lazy.step(i), lazy.position(i)];
        seqOfSub.set(`${rec.seq[0]},${rec.seq[1]}`, seq);
        made.set(i, { row: def.rowOf(rec), rec: { ...mrec, seq } });
      }
      if (k !== list.length || sub.problemSeqs.length !== sub.summary.problems.length) return null;
      for (let p = 0; p < sub.summary.problems.length; p++) {
        const seq = seqOfSub.get(`${sub.problemSeqs[p][0]},${sub.problemSeqs[p][1]}`);
        if (!seq) return null; // a problem of no record made again (a folder): not a patch's to report
        problems.push({ seq, problem: sub.summary.problems[p] });
      }
      problemCount += sub.summary.problemCount;
      complete &&= sub.summary.complete;
    }
    if (made.size !== dirty.length) return null;
    // Each made again of the files it read before (a folder's listing held: the same groups, the
    // same sidecars), else not the memo's record (another folder under the same key): no patch.
    // Those checks are then its checks in a delta or a memo written again (`depsAt`).
    const checkOf = fileCheckFinder(hit.filePath, hit.fileChecks);
    for (const [i, m] of made) {
      const before = depsOf(i);
      const now = m.rec.deps;
      if (now.length !== before.length || now.some((path, k) => checkOf(path, before) !== before[k])) return null;
      m.rec.depsAt = before;
    }
    // A record made from its names must agree with what the memo counted of it (files, images,
    // image links, broken links: its folder held, so they did), and no two of them read one
    // sidecar (a group's sidecars are its own): names crafted into a memo (an image left out, a
    // record made twice) are a miss, as a record of another folder is above.
    const readByNames = new Set<number>();
    for (const i of byNames) {
      const was = tallyOf(i);
      const now = made.get(i)!.rec;
      if (!isTally(was) || [1, 2, 3, 4].some((k) => now.tally[k] !== was[k])) return null;
      for (const d of now.depsAt!) {
        if (readByNames.has(d)) return null;
        readByNames.add(d);
      }
    }
    // The summary: the stored one with the old records' counts taken out and the new ones' put in.
    const s = this.summary;
    Object.assign(s, stored.summary, { counts: { ...stored.summary.counts }, problems: [], problemCount: 0, complete: stored.summary.complete });
    let bytes = stored.progress[1];
    for (const [i, m] of made) {
      const before = tallyOf(i);
      if (!isTally(before)) throw new TypeError('not a memo tally'); // the memo's own, crafted (load() catches it: a miss)
      applyTally(s, before, -1);
      applyTally(s, m.rec.tally, 1);
      bytes += m.rec.bytes - bytesOf(i);
    }
    // Each record as a memo keeps it (made when asked: a delta needs the few made again, only a
    // memo written again all of them).
    const recordAt = (i: number): PatchedRecord => (made.get(i)?.rec as PatchedRecord | undefined) ?? { key: lazy.key(i), seq: [lazy.step(i), lazy.position(i)], deps: [], tally: tallyOf(i), bytes: bytesOf(i), group: groupOf(i), depsAt: depsOf(i) };
    const allRecords = () => Array.from({ length: n }, (_, i) => recordAt(i));
    // In tree order, as one scan reports them (a sort that keeps a record's own in their order), the first MAX_PROBLEMS_KEPT.
    problems.sort((a, b) => a.seq[0] - b.seq[0] || a.seq[1] - b.seq[1]);
    for (const { seq, problem } of problems.slice(0, MAX_PROBLEMS_KEPT)) {
      s.problems.push(problem);
      this.problemSeqs.push(seq);
    }
    s.problemCount = problemCount;
    s.complete = complete;
    const progress: [number, number] = [stored.progress[0], bytes];
    const rowAt = (i: number): Row => (made.has(i) ? made.get(i)!.row : rowBefore(i));
    const allRows = () => Array.from({ length: n }, (_, i) => rowAt(i));
    // The output: the stored one with the changed rows taken out and put in again, where the
    // command can (else made of every row).
    const storedOutput = def.outputStored ? ((delta ? delta.output : base.output) as Out) : null;
    if (def.outputStored && !isOutput(storedOutput)) throw new TypeError('not a memo output');
    let output: Out | null = null;
    if (def.patchOutput && storedOutput !== null) output = def.patchOutput(storedOutput, dirty.map(rowBefore), dirty.map((i) => made.get(i)!.row), s);
    if (output === null && def.finishStored && !def.outputStored) {
      const replaced = new Map(fromDelta);
      for (const [i, m] of made) replaced.set(i, m.row);
      output = def.finishStored(base.rows, s, replaced, n);
    }
    output ??= def.finish(allRows(), s);
    return { output, rowAt, allRows, recordAt, allRecords, count: n, progress, made: made.size, byNames: byNames.length, madeAt: [...made.keys()], delta };
  }

  /** The index's checks stat through Node's binding unless the scan's options or the index's turn it off. */
  private indexFastStat(): boolean {
    return this.opts.fastStat !== false && (this.opts.index || {}).fastStat !== false;
  }

  /** The inspect options every file of this scan gets (the index's options key is made of them). */
  private inspectOptions(): InspectOptions {
    const opts = this.opts;
    return { ...opts.inspect, maxFileSize: opts.maxFileSize, maxDepth: opts.maxDepth, keyring: opts.keyring, accel: opts.accel, fastStat: opts.fastStat };
  }

  /** Iterate to the end, discarding records; returns the summary. */
  async finish(): Promise<ScanSummary> {
    for await (const _ of this) void _;
    return this.summary;
  }

  /** The index's figures of this run, kept for a tree memo (then passed on to the caller's onStats). */
  private keepIndexRun(o: IndexOptions): (s: IndexRunStats) => void {
    return (s) => {
      this.indexRun = s;
      o.onStats?.(s);
    };
  }

  private problem(path: string, code: string, message: string, seq: TreeSeq): void {
    this.summary.complete = false;
    this.summary.problemCount++;
    if (this.summary.problems.length < MAX_PROBLEMS_KEPT) {
      this.summary.problems.push({ path, code, message });
      this.problemSeqs.push(seq);
    }
  }

  private async *run(): AsyncGenerator<ScanRecord[]> {
    const opts = this.opts;
    const root = this.summary.root;
    await assertDirectory(root);
    const inspectOpts = this.inspectOptions();
    const ownRuntime = !opts.runtime;
    const runtime: Runtime = opts.runtime ?? createRuntime(opts);
    // Only an inspection that keeps the decoded data holds memory in proportion to file sizes.
    const weigh = inspectOpts.keepData || inspectOpts.dataJson ? (item: InspectItem) => item.size ?? 0 : undefined;
    let emitted = 0;
    let bytesRead = 0;
    // A shard sees only its own files: it never drops the entries of the others (they merge).
    const indexOpts = opts.index ? { ...opts.index, fastStat: this.indexFastStat(), onStats: this.keepIndexRun(opts.index) } : null;
    const index = indexOpts ? ScanIndex.open(root, inspectOpts, this.shard ? { ...indexOpts, prune: false } : indexOpts) : null;
    this.runIndex = index;
    // Without the index (or with one that holds nothing yet) every candidate goes to the engine:
    // threads boot while the walk starts. Otherwise the first miss warms the runtime (a warm index
    // may need no thread at all).
    if (!index || index.holdsNothing) runtime.warm?.();
    let endedNormally = false;
    try {
      const source = this.pendingRecords(root, weigh !== undefined, index, runtime);
      // With the index, the threads that read the files make their entries (incremental/entry.ts).
      const engineOpts: InspectOptions = index ? { ...inspectOpts, indexEntries: index.entryOptions } : inspectOpts;
      const records = mapJobs(runtime, 'inspect', engineOpts, source, (rec) => rec.send ?? rec.items, {
        batchFiles: opts.batchSize,
        weigh,
        signal: opts.signal,
        // A folder served whole is one job holding all its records (the read-ahead bound counts records).
        jobWeight: (rec) => rec.readyMany?.length ?? rec.bundle?.length ?? 1,
        // A bundle of a folder's records queues as its records: the bound on what waits is in records.
        queueWeight: (rec) => rec.bundle?.length ?? 1,
      });
      // Progress in files, the unit of the CLI's pre-walk (cli/progress.ts countFiles): every file
      // of a record once it is emitted, plus the files the walk passed over (ignored, temp files)
      // once listed; the last call is every file of the tree.
      const passedOver = () => this.summary.filesIgnored + this.summary.tempFiles;
      const emitting = (rec: ScanRecord) => {
        emitted += rec.files;
        for (const sc of rec.sidecars) if (sc.side === 'local') bytesRead += sc.inspection.size;
        opts.onProgress?.(emitted + passedOver(), undefined, bytesRead);
      };
      for await (const { job, results } of records) {
        if (job.readyMany) {
          const many = job.readyMany;
          for (let k = 0; k < many.length; k++) {
            const rec = many[k];
            this.tally(rec);
            if (job.folder) keptRecordDone(job.folder, job.stored!, job.gis![k], rec, index!);
            emitting(rec);
          }
          yield many;
          continue;
        }
        if (job.bundle) {
          // A run of a folder's records, their items in one list: each takes its own results.
          const out: ScanRecord[] = new Array(job.bundle.length);
          let from = 0;
          for (let k = 0; k < job.bundle.length; k++) {
            const r = job.bundle[k];
            const n = (r.send ?? r.items).length;
            const rec = this.finalizeWith(index, r, results, from, n);
            from += n;
            if (r.folder) folderRecordDone(r, rec, index!);
            emitting(rec);
            out[k] = rec;
          }
          yield out;
          continue;
        }
        if (job.linkGroups) {
          // Built as pending() builds them, from the engine's resolutions; a link leaving the root
          // adds its target's sidecars, inspected now (rare: the engine is asked once more).
          const { groups, dir } = job.linkGroups;
          if (index) for (let i = 0; i < results.length; i++) index.dirs.resolvedElsewhere();
          const resolution = resolvedBy(results);
          let sends = 0;
          const built = groups.map(({ group, seq }) => {
            const b = this.pending(group, seq, dir, resolution, this.targetDirs!);
            if (index) lookUp(b, index, weigh !== undefined);
            else if (weigh) for (const it of b.items) it.size = sizeOf(it.path);
            sends += (b.send ?? b.items).length;
            return b;
          });
          // What the groups send (the sidecars of targets outside the root) goes through the
          // pipeline, in batches cut so that every worker gets a share: one engine round trip per
          // group made a tree of links leading out of it (a games folder validated alone) 2.5×
          // slower with threads than in-process.
          const shares = Math.max(2, runtime.workers * 2);
          const batchFiles = Math.max(1, Math.min(opts.batchSize ?? DEFAULT_BATCH_FILES, Math.ceil(sends / shares)));
          // (Groups that send nothing pass through the pipeline without a batch.)
          const out: ScanRecord[] = [];
          for await (const { job: b, results: more } of mapJobs(runtime, 'inspect', engineOpts, built, (b) => b.send ?? b.items, { batchFiles, weigh, signal: opts.signal })) {
            const rec = this.finalizeWith(index, b, more);
            if (job.folder) folderRecordDone(job, rec, index!); // a folder's stored records: one group per job
            emitting(rec);
            out.push(rec);
          }
          yield out;
          continue;
        }
        const rec = this.finalizeWith(index, job, results);
        if (job.folder) folderRecordDone(job, rec, index!);
        emitting(rec);
        yield [rec];
      }
      opts.onProgress?.(emitted + passedOver(), undefined, bytesRead);
      this.lastProgress = [emitted + passedOver(), bytesRead];
      if (index) {
        this.memoChecks = index.memoChecks(this.summary.complete);
        await index.save(this.summary.complete);
      }
      endedNormally = true;
    } finally {
      if (!endedNormally) this.memoAbort?.();
      index?.close(); // an abandoned run: its spool is removed, the index file left as it was
      this.summary.engine = { kind: runtime.kind, workers: runtime.workers };
      if (ownRuntime) await runtime.close();
    }
  }

  /** Walk → pair → one pending record per group, in tree order (the pipeline's source). */
  private async *pendingRecords(root: string, sized: boolean, index: ScanIndex | null, runtime: Runtime): AsyncGenerator<PendingRecord> {
    const opts = this.opts;
    const rootReal = await realpath(root);
    const imageExts = imageExtensionSet(opts.imageExtensions);
    const targetDirs = new TargetGroups(imageExts, this.shard !== null && this.shard.spec.count > 1, index?.dirs);
    this.targetDirs = targetDirs;
    // With the index: resolutions kept while every lookup they made still names the same inode (dir-cache.ts).
    const links: LinkResolution = index ? index.dirs : new LinkResolver(rootReal);
    const relOfReal = relativeTo(rootReal);
    const inspectLinkTargets = opts.inspectLinkTargets === true;
    const resolveOnlyInRootLinks = opts.inRootLinkRecords === 'resolve';
    // Items per bundle: no more than a batch holds (mapJobs' batchFiles).
    const bundleItems = Math.min(BUNDLE_ITEMS, Math.max(1, opts.batchSize ?? DEFAULT_BATCH_FILES));
    // Then a folder of links only (a game folder) costs this thread nothing but the walk: the
    // engine resolves them, in parallel and while earlier batches are read, and this thread pairs
    // their targets when the records come back (not with the index, whose folders keep
    // resolutions; not when link targets are inspected for this scan: each record would wait for
    // a second round trip).
    // With an index that holds nothing yet (a first run), the engine resolves them too, as without
    // the index, and none is stored: the run after it resolves them here, traced, and stores them
    // (docs/INDEX.md "The first run").
    const linksByEngine = (!index || index.holdsNothing) && !inspectLinkTargets;
    const scanId = ++scansStarted;
    const shard = this.shard;
    // Walk steps number folders (and folders that could not be read) in walk order: every shard
    // walks the whole tree, so a step means the same folder on every shard.
    let step = 0;
    let itemsTotal = 0;
    // Of those, the items that go to the engine (misses): the runtime starts threads by these.
    let itemsRun = 0;
    let warmed = false;
    // With the index: look a record up, and size the engine by the whole work, as without the index;
    // threads start by the work that runs (hits never start a thread; a few misses run in-process).
    const lookUpAndSize = (rec: PendingRecord) => {
      itemsTotal += rec.items.length;
      if (rec.linkGroups !== undefined) itemsRun += rec.items.length;
      else if (lookUp(rec, index!, sized)) itemsRun += (rec.send ?? rec.items).length;
      runtime.expect?.(itemsTotal, itemsRun);
      if (itemsRun > 0 && !warmed) {
        warmed = true;
        runtime.warm?.();
      }
    };
    const ready = (rec: PendingRecord) => {
      if (index) lookUpAndSize(rec);
      else if (sized) for (const it of rec.items) it.size = sizeOf(it.path);
      return rec;
    };
    const dirContextOf = (rel: string): DirContext => ({ rel, relPrefix: rel === '' ? '' : `${rel}/`, rootReal, scanId, relOfReal, inspectLinkTargets, resolveOnlyInRootLinks });
    // Given groups only (a tree memo's patch, ScanOptions.givenGroups): each paired again from its
    // names alone, at its place in the tree; nothing walked or listed, each name lstat'ed.
    if (opts.givenGroups) {
      for (const g of opts.givenGroups) {
        const path = folderPath(root, g.rel);
        if (!g.entries.every((e) => entryOnDisk(path, e))) throw new TypeError('names not in their folder');
        const pairing = pairDirectory({ path, entries: g.entries }, imageExts);
        const group = pairing.groups[0];
        if (pairing.groups.length !== 1 || pairing.ignored + pairing.tempFiles.length + pairing.unaddressable.length > 0 || group.images.length === 0 || group.images.some((img) => img.isLink)) {
          throw new TypeError('not the names of a group');
        }
        yield ready(this.pending(group, [g.step, g.position], dirContextOf(g.rel), links, targetDirs));
      }
      return;
    }
    // Folder records (folder-records.ts): not for a shard (it sees part of each folder).
    if (index !== null && !shard) index.useRecords(scanShape(imageExts, inspectLinkTargets, resolveOnlyInRootLinks));
    const records = index !== null && index.recordsOn;
    const dirs = index?.dirs;
    // Given folders only, at their steps (ScanOptions.onlyFolders), else the whole walk.
    const only = opts.onlyFolders;
    const given = only && [...only.values()].every((rel) => rel !== null) ? [...only].sort((a, b) => a[0] - b[0]).map(([at, rel]) => ({ step: at, rel: rel! })) : null;
    const walkOpts = {
      skipDirNames: SKIP_DIR_NAMES,
      listingCache: index?.dirs,
      // With the index too: a folder its links' targets were paired in was listed then (its identity
      // taken before, as the walk's own listing would), and is not read again.
      listedByRun: (path: string) => targetDirs.listingOf(path),
      onProblem: (p: WalkProblem) => {
        const at = p.step ?? step++;
        // Every shard is incomplete (its files may be in there); one shard reports the problem.
        if (shard && !shard.ownsKey(nfc(toPosix(relative(root, p.path))))) this.summary.complete = false;
        else this.problem(p.path, p.error.code, p.error.message, [at, -1]);
      },
      signal: opts.signal,
    };
    const walk: AsyncGenerator<DirListing & { step?: number }> = given ? listFolders(root, given, walkOpts) : walkTree(root, walkOpts);
    for await (const listing of walk) {
      const at = listing.step ?? step++;
      this.summary.directories++;
      if (only && !only.has(at)) continue;
      let builder: FolderRecordsBuilder | null = null;
      const real = records ? dirs!.realOf(listing.path) : '';
      if (records) {
        index.noteFolder(real);
        const stored = index.folderRecords(real);
        // Records made again need their groups: the names of each one's partition root paired again
        // from the folder's listing (unchanged: the same groups), else the whole folder (a count that
        // differs means the entry is not this folder's, never served).
        const whole = stored !== null && stored.valid.every(Boolean);
        // Records not served are decoded too (their names find their groups), then dropped.
        const recs = stored && decodeRecords<ScanRecord>(stored.blob, () => true);
        const regroup = stored && recs && !whole ? (groupsAgain(listing, imageExts, stored.valid, recs) ?? pairDirectory(listing, imageExts).groups) : null;
        if (stored && recs && (regroup === null || regroup.length === stored.blob.meta.n)) {
          const { blob, valid } = stored;
          index.served(stored, whole);
          const { meta } = blob;
          this.summary.filesIgnored += meta.ignored;
          this.summary.tempFiles += meta.temp;
          if (!whole) {
            builder = new FolderRecordsBuilder(real, listing.path, listing.rel, dirs!.dirIdentity(real)!.id, root, meta.ignored, meta.temp, meta.n, meta.pos);
            builder.replaces = { base: stored.offs[0], patch: stored.offs[1], gen: meta.gen, lens: meta.lens, patched: blob.patch?.meta.groups ?? [] };
          }
          const dir = dirContextOf(listing.rel);
          // Stored records served as they are go down the pipeline as one job per run of them (the
          // whole folder when nothing moved): each job costs a few promise hops through the
          // generators, more than serving a record.
          let run: PendingRecord | null = null;
          for (let gi = 0; gi < meta.n; gi++) {
            const seq: TreeSeq = [at, meta.pos[gi]];
            const ready = valid[gi] ? recs[gi] : undefined;
            if (ready !== undefined) {
              restoreRecord(ready as unknown as CompactRecord, listing.path, listing.rel);
              ready.seq = seq;
              // Size the engine by the whole work, as for a record made again (the report names
              // the engine sized for every file, served or not: the same as --no-index).
              for (const sc of ready.sidecars) if (sc.inspection.status !== 'unchecked') itemsTotal++;
              runtime.expect?.(itemsTotal, itemsRun);
              if (run === null) {
                run = { ...servedJob(seq, listing.rel), readyMany: [] };
                if (builder) {
                  run.folder = builder;
                  run.gis = [];
                  run.stored = blob;
                }
              }
              run.readyMany!.push(ready);
              run.gis?.push(gi);
              continue;
            }
            if (run !== null) {
              yield run;
              run = null;
            }
            const rec = this.pending(regroup![gi], seq, dir, index.dirs, targetDirs);
            rec.folder = builder!;
            rec.gi = gi;
            builder!.rebuilt.push(gi);
            lookUpAndSize(rec);
            yield rec;
          }
          if (run !== null) yield run;
          continue;
        }
      }
      // A shard pairs only its own names (a group's names share one partition root, shard.ts), so
      // other shards' files are never looked at again: no link resolved, no sidecar sized or read.
      let pairing;
      let position: Map<string, number> | null = null;
      if (shard) {
        const mine: WalkEntry[] = [];
        position = new Map();
        for (const i of shard.namesOf(listing.rel, listing.entries)) {
          const e = listing.entries[i];
          mine.push(e);
          position.set(e.name, i);
        }
        pairing = pairDirectory({ path: listing.path, entries: mine }, imageExts, { folderEntries: listing.entries });
      } else {
        pairing = targetDirs.pairingOf(listing.path, listing.entries) ?? pairDirectory(listing, imageExts);
      }
      this.summary.filesIgnored += pairing.ignored;
      this.summary.tempFiles += pairing.tempFiles.length;
      // Record positions in the folder, equal on every shard: unaddressable names (by entry index),
      // then groups with images (by their first image), then lone sidecars (by their first sidecar)
      // — the order pairDirectory gives the groups of the whole folder.
      const size = listing.entries.length;
      const firstOf = (xs: readonly { name: string }[]) => Math.min(...xs.map((x) => position!.get(x.name)!));
      const groupPosition = (g: PairGroup, gi: number) => (position === null ? size + gi : g.images.length > 0 ? size + firstOf(g.images) : 2 * size + firstOf(g.sidecars));
      for (const [ui, u] of pairing.unaddressable.entries()) {
        const seq: TreeSeq = [at, position === null ? ui : listing.entries.indexOf(u)];
        const p = join(listing.path, u.name);
        this.problem(p, 'UNADDRESSABLE', `${p}: file name is not valid UTF-8`, seq);
        yield { seq, dir: listing.rel, images: [], candidates: [], items: [], localSidecars: 0, extraFiles: 1, forced: 'unreadable',
          findings: [{ code: 'unreadable', message: 'file name is not valid UTF-8; it cannot be addressed', paths: [p] }] };
      }
      const groups = pairing.groups;
      // A folder's records are first stored by a repeat run, with its listing (dir-cache.ts
      // holdsListing): a first run, which cannot be served from them, does not pay for writing them.
      if (records && pairing.unaddressable.length === 0 && groups.length > 0 && dirs!.holdsListing(real)) {
        const now = dirs!.dirIdentity(real);
        if (now && !now.racy) builder = new FolderRecordsBuilder(real, listing.path, listing.rel, now.id, root, pairing.ignored, pairing.tempFiles.length, groups.length, groups.map((g, gi) => groupPosition(g, gi)));
      }
      const dir = dirContextOf(listing.rel);
      // Consecutive groups of links only, one job (not with the folder's stored records: one record per job there).
      let linkJob: PendingRecord | null = null;
      // Consecutive other records, one job (a bundle): one pipeline step for several records. A
      // job's items travel in one batch: a bundle holds no more than a batch may (batchSize, and
      // the bytes of an inspection that keeps the data), or a record alone.
      let bundle: PendingRecord | null = null;
      let bundleBytes = 0;
      const bundled = (): PendingRecord => {
        const b = bundle!;
        bundle = null;
        bundleBytes = 0;
        return b;
      };
      for (let gi = 0; gi < groups.length; gi++) {
        const seq: TreeSeq = [at, groupPosition(groups[gi], gi)];
        const group = groups[gi];
        const linkOnly = linksByEngine && isLinkGroup(group);
        if (linkOnly && !builder) {
          if (bundle !== null) yield bundled();
          if (linkJob !== null && linkJob.items.length + group.images.length > LINKS_PER_JOB) {
            yield ready(linkJob);
            linkJob = null;
          }
          linkJob ??= linksJob(seq, dir);
          addLinkGroup(linkJob, group, seq, dir);
          continue;
        }
        if (linkJob !== null) {
          yield ready(linkJob);
          linkJob = null;
        }
        if (linkOnly) {
          // A folder's stored records: one group per job.
          if (bundle !== null) yield bundled();
          const rec = linksJob(seq, dir);
          addLinkGroup(rec, group, seq, dir);
          rec.folder = builder!;
          rec.gi = gi;
          yield ready(rec);
          continue;
        }
        const rec = this.pending(group, seq, dir, links, targetDirs);
        if (builder) {
          rec.folder = builder;
          rec.gi = gi;
        }
        ready(rec);
        const its = rec.send ?? rec.items;
        let bytes = 0;
        if (sized) for (let k = 0; k < its.length; k++) bytes += its[k].size ?? 0;
        if (bundle !== null && (bundle.items.length + its.length > bundleItems || bundleBytes + bytes > DEFAULT_BATCH_BYTES)) yield bundled();
        bundle ??= bundleJob(seq, listing.rel);
        bundle.bundle!.push(rec);
        for (let k = 0; k < its.length; k++) bundle.items.push(its[k]);
        bundleBytes += bytes;
        if (bundle.items.length >= bundleItems || bundle.bundle!.length >= BUNDLE_RECORDS || bundleBytes >= DEFAULT_BATCH_BYTES) yield bundled();
      }
      if (bundle !== null) yield bundled();
      if (linkJob !== null) yield ready(linkJob);
    }
  }

  /** One record's images and candidates (sync: link targets and their folders are read with sync calls). */
  private pending(group: PairGroup, seq: TreeSeq, dir: DirContext, links: LinkResolution, targetDirs: TargetGroups): PendingRecord {
    // Sized up front (one image is the usual group): an array grown by push starts at 17 slots.
    const images: ScanImage[] = new Array(group.images.length);
    const candidates: ScanSidecar[] = [];
    const findings: Finding[] = [];
    // Per candidate: 1 = not inspected (unchecked), 2 = reported by its own record (a link target inside the root).
    let flags: number[] | undefined;
    let shared = false;
    const relPrefix = dir.relPrefix;
    // inRootLinkRecords 'resolve': links only, all into the root (or broken): no target pairing.
    let resolved: ResolvedLink[] | null = null;
    let leaveTargets = false;
    // With the index's folders: what the links relied on, for the folder's stored records.
    const snapshots = links instanceof DirSnapshots ? links : null;
    let linkDeps: LinkDeps | false | undefined;
    const resolveLink = (img: { path: string; name: string }): ResolvedLink => {
      const r = links.resolve(img.path, dir.rel, img.name);
      if (snapshots && linkDeps !== false && !snapshots.lastComplete) linkDeps = false;
      if (snapshots && linkDeps !== false) {
        // Every lookup is kept, even in a folder changed just now (racy): that one is checked by an
        // lstat on every run instead of by its folder's identity (folderRecordDone).
        linkDeps ??= { steps: [], dirs: [], links: [] };
        linkDeps.steps.push(...snapshots.lastSteps);
        linkDeps.links.push(`${dir.rel === '' ? dir.rootReal : `${dir.rootReal}/${dir.rel}`}/${img.name}`);
      }
      return r;
    };
    const targetGroup = (target: string): PairGroup => {
      const g = targetDirs.groupFor(target);
      if (snapshots && linkDeps !== false) {
        const cut = target.lastIndexOf(sep);
        const folder = cut <= 0 ? dirname(target) : target.slice(0, cut);
        const now = snapshots.dirIdentity(folder);
        if (!now || now.racy) linkDeps = false;
        else {
          linkDeps ??= { steps: [], dirs: [], links: [] };
          linkDeps.dirs.push([folder, now.id]);
        }
      }
      return g;
    };
    if (dir.resolveOnlyInRootLinks && group.images.length > 0 && group.images.every((i) => i.isLink)) {
      resolved = group.images.map((i) => resolveLink(i));
      leaveTargets = resolved.every((r) => r.broken || isInside(r.target!, dir.rootReal));
    }
    for (let k = 0; k < group.images.length; k++) {
      const img = group.images[k];
      const si: ScanImage = { name: img.name, path: img.path, rel: relPrefix + img.name, isSymlink: img.isLink };
      if (img.isLink) {
        const r = resolved !== null ? resolved[k] : resolveLink(img);
        if (r.broken) {
          si.broken = true;
          findings.push({ code: 'broken-symlink', message: `symlink target is missing: ${r.reason}`, paths: [img.path] });
        } else {
          const target = r.target!;
          si.target = target;
          const outside = !isInside(target, dir.rootReal);
          si.outsideRoot = outside;
          if (outside) findings.push({ code: 'outside-root', message: 'symlink target is outside the root (read only)', paths: [img.path, target] });
          const tg = leaveTargets ? NO_GROUP : targetGroup(target);
          if (tg.images.length > 1 && tg.sidecars.length > 0) {
            shared = true;
            findings.push({ code: 'ambiguous', message: 'the link target shares its sidecar with other images', paths: [img.path, ...tg.images.map((i) => i.path)] });
          }
          for (let t = 0; t < tg.sidecars.length; t++) {
            const c = tg.sidecars[t];
            // A record's candidates are a few: looked up in place (no Set per link record).
            if (flags !== undefined && hasCandidate(candidates, c.path)) continue;
            flags ??= candidates.map(() => 0);
            candidates.push(candidateOf(c, dir.relOfReal(c.path), 'target'));
            flags.push(outside ? 0 : dir.inspectLinkTargets ? 2 : 3);
          }
        }
      }
      images[k] = si;
    }
    for (let t = 0; t < group.sidecars.length; t++) {
      const c = group.sidecars[t];
      // Only link targets' sidecars are candidates yet (flags set): a local one of those is not added twice.
      if (flags !== undefined && hasCandidate(candidates, c.path)) continue;
      candidates.push(candidateOf(c, relPrefix + c.name, 'local'));
      flags?.push(0);
    }
    let sent = 0;
    for (let i = 0; i < candidates.length; i++) if (!flags || (flags[i] & 1) === 0) sent++;
    const items: InspectItem[] = new Array(sent);
    for (let i = 0, k = 0; i < candidates.length; i++) if (!flags || (flags[i] & 1) === 0) items[k++] = { path: candidates[i].path, name: candidates[i].name };
    const rec: PendingRecord = { seq, dir: dir.rel, images, candidates, flags, items, localSidecars: group.sidecars.length, extraFiles: 0, findings };
    if (linkDeps !== undefined) rec.linkDeps = linkDeps;
    if (shared) rec.forced = 'ambiguous';
    if (group.lookalikes) rec.lookalikes = group.lookalikes;
    return rec;
  }

  /**
   * `finalize` with the index: a record's results (its own `n` from `from`) recorded (a first run,
   * nothing looked up) or merged with its hits.
   */
  private finalizeWith(index: ScanIndex | null, p: PendingRecord, results: readonly FileInspection[], from = 0, n = results.length - from): ScanRecord {
    if (index === null) return this.finalize(p, results, from);
    if (p.hits === undefined) {
      if (index.holdsNothing) index.recordFirst(results, from, n);
      return this.finalize(p, results, from);
    }
    return this.finalize(p, mergeHits(p, from === 0 && n === results.length ? results : results.slice(from, from + n), index));
  }

  /** The record of `p` with its inspections: `results` from `from` on (a bundle's records share one list). */
  private finalize(p: PendingRecord, results: readonly FileInspection[], from = 0): ScanRecord {
    const flags = p.flags;
    const sidecars = p.candidates;
    // Categories never depend on whether link targets were inspected for this scan (stats
    // --operation-type inspects them): those candidates are judged as unchecked, as their own
    // record judges them. A view of its own only when some was inspected (else: the candidates).
    let categoryView = sidecars;
    if (flags === undefined) {
      for (let i = 0; i < sidecars.length; i++) sidecars[i].inspection = results[from + i];
    } else {
      let next = from;
      for (let i = 0; i < sidecars.length; i++) {
        const f = flags[i];
        sidecars[i].inspection = (f & 1) !== 0 ? uncheckedInspection(sidecars[i].path) : results[next++];
        if ((f & 3) === 2) {
          if (categoryView === sidecars) categoryView = sidecars.slice();
          categoryView[i] = { ...sidecars[i], inspection: uncheckedInspection(sidecars[i].path) };
        }
      }
    }
    /** A link target's sidecar inside the root, which its own record reports on. */
    const own = (i: number) => flags !== undefined && (flags[i] & 2) !== 0;
    const findings = p.findings;
    let effective: ScanSidecar | null = null;
    let effectiveForCategory: ScanSidecar | null = null;
    // Another tool's files beside an image (Takeout's IMG_1.jpg.json) are not its sidecars (docs/PAIRING.md §7).
    const withImages = p.images.length > 0;
    if (withImages && categoryView.some(isForeign)) categoryView = categoryView.filter((sc) => !isForeign(sc));
    for (const sc of categoryView) if (!effectiveForCategory && (sc.inspection.status === 'ok' || sc.inspection.status === 'unchecked')) effectiveForCategory = sc;
    for (let i = 0; i < sidecars.length; i++) {
      const sc = sidecars[i];
      const ins = sc.inspection;
      if (own(i) && (ins.status === 'corrupt' || ins.status === 'unreadable')) continue; // reported by its own record
      if (withImages && isForeign(sc)) {
        if (!own(i)) findings.push({ code: 'foreign', message: `another tool's file (it decodes but holds no sidecar_info and no operation): not the image's sidecar; never written, converted or moved`, paths: [sc.path] });
        continue;
      }
      if (ins.status === 'unchecked') {
        if (!effective) effective = sc;
      } else if (ins.status === 'ok') {
        if (!effective) effective = sc;
        if (ins.notes.length > 0) findings.push({ code: ins.notes.some((n) => /BOM/i.test(n)) ? 'bom' : 'note', message: ins.notes.join('; '), paths: [sc.path] });
      } else if (ins.status === 'unreadable') {
        this.problem(sc.path, ins.error?.code ?? 'IO', ins.error?.message ?? 'unreadable', p.seq);
        findings.push({ code: 'unreadable', message: ins.error?.message ?? 'unreadable', paths: [sc.path] });
      } else if (ins.status === 'encrypted') {
        findings.push({ code: 'encrypted', message: ins.error?.message ?? 'encrypted', paths: [sc.path] });
      } else {
        findings.push({ code: 'corrupt', message: ins.error?.message ?? 'corrupt', paths: [sc.path] });
      }
    }
    if (effective && sidecars[0] !== effective && !own(0) && !(withImages && isForeign(sidecars[0]))) {
      findings.push({ code: 'fallback', message: `preferred sidecar unusable; read ${effective.name} instead`, paths: [sidecars[0].path, effective.path] });
    }
    let category = p.forced ?? categorize(p.images, categoryView, effectiveForCategory);
    if (category === 'orphan' && p.lookalikes) {
      category = 'unknown-image';
      findings.push({ code: 'unknown-image', message: `pairs with no known image, but ${p.lookalikes.join(', ')} has its name: an image type not in the extension list? (add it with --image-ext); never an orphan`, paths: [sidecars[0].path] });
    }
    if (category === 'ok' && sidecars.length > 1) {
      const kept = sidecars.filter((sc, i) => sc !== effective && !own(i) && sc.inspection.status === 'ok' && !isForeign(sc));
      if (kept.length > 0) findings.push({ code: 'kept', message: `older copies kept beside ${effective?.name ?? sidecars[0].name}, not read: ${kept.map((k) => k.name).join(', ')}`, paths: kept.map((k) => k.path) });
    }
    if (category === 'ambiguous' && !findings.some((f) => f.code === 'ambiguous')) {
      findings.push({ code: 'ambiguous', message: 'several candidate sidecars or images', paths: [...p.images.map((i) => i.path), ...sidecars.filter((x) => !isForeign(x)).map((x) => x.path)] });
    }
    const files = p.images.length + p.localSidecars + p.extraFiles;
    const rec: ScanRecord = { category, dir: p.dir, images: p.images, sidecars, effective, findings, files, seq: p.seq };
    this.tally(rec);
    return rec;
  }

  /** A finished record's part of the summary. */
  private tally(rec: ScanRecord): void {
    const s = this.summary;
    s.counts[rec.category]++;
    s.filesScanned += rec.files;
    s.images += rec.images.length;
    for (const img of rec.images) {
      if (img.isSymlink) s.imageSymlinks++;
      if (img.broken) s.brokenSymlinks++;
    }
    s.sidecarFiles += sidecarFileCount(rec);
  }
}

/**
 * THE definition of a "sidecar file" (README "Categories"), used by every count: the
 * sidecar-named files of a record (pair.ts) in its own folder, except when the record is
 * `unrelated` (reports and other JSON are not sidecars), and except another tool's files beside an
 * image (`isForeign`); a symlinked image whose target lies
 * outside the root adds its target's sidecars (no record of this tree counts them otherwise).
 */
export function sidecarFilesOf(rec: ScanRecord): ScanSidecar[] {
  const scope = sidecarFileScope(rec);
  return scope === 'none' ? [] : rec.sidecars.filter((s) => (scope === 'all' || s.side === 'local') && !isForeign(s));
}

/** `sidecarFilesOf(rec).length`, without the array (every record is counted). */
function sidecarFileCount(rec: ScanRecord): number {
  const scope = sidecarFileScope(rec);
  if (scope === 'none') return 0;
  let n = 0;
  for (let i = 0; i < rec.sidecars.length; i++) if ((scope === 'all' || rec.sidecars[i].side === 'local') && !isForeign(rec.sidecars[i])) n++;
  return n;
}

/**
 * Another tool's file in a sidecar's name (docs/PAIRING.md §7): it decodes, and is not
 * sidecar-shaped (analysis/operations.ts shapeOf; a report too). Beside an image it is not the
 * image's sidecar, nor a sidecar file; every command leaves it as it is.
 */
export function isForeign(sc: ScanSidecar): boolean {
  const ins = sc.inspection;
  return ins.status === 'ok' && ins.shape !== null && ins.shape !== 'sidecar';
}

/** Which of a record's sidecars are sidecar files (the definition above): none, all, or the local ones. */
function sidecarFileScope(rec: ScanRecord): 'none' | 'all' | 'local' {
  if (rec.category === 'unrelated') return 'none';
  for (let i = 0; i < rec.images.length; i++) if (rec.images[i].outsideRoot) return 'all';
  return 'local';
}

/** Is `path` one of `candidates`' paths? */
function hasCandidate(candidates: readonly ScanSidecar[], path: string): boolean {
  for (let i = 0; i < candidates.length; i++) if (candidates[i].path === path) return true;
  return false;
}

/** Symlinked images only, no sidecar of their own (a game folder's links to the originals). */
function isLinkGroup(group: PairGroup): boolean {
  if (group.images.length === 0 || group.sidecars.length > 0) return false;
  for (const img of group.images) if (!img.isLink) return false;
  return true;
}

/** Links per job of link groups (a folder of 10^4 links is several jobs, so that several threads resolve them). */
const LINKS_PER_JOB = 256;
/** A bundle of a folder's records (one pipeline job) holds up to this many items and records. */
const BUNDLE_ITEMS = 32;
const BUNDLE_RECORDS = 64;

/** A job of link groups (see PendingRecord.linkGroups), starting empty: its items are their links, for the engine to resolve. */
function linksJob(seq: TreeSeq, dir: DirContext): PendingRecord {
  return { seq, dir: dir.rel, images: [], candidates: [], items: [], localSidecars: 0, extraFiles: 0, findings: [], linkGroups: { groups: [], dir } };
}

function addLinkGroup(job: PendingRecord, group: PairGroup, seq: TreeSeq, dir: DirContext): void {
  dir.linkAt ??= { scan: dir.scanId, rootReal: dir.rootReal, dirRel: dir.rel };
  for (const img of group.images) job.items.push({ path: img.path, name: img.name, resolveLink: dir.linkAt });
  job.linkGroups!.groups.push({ group, seq });
}

/**
 * The groups of a folder's records to make again (`valid[gi]` false), as the folder's pairing has
 * them: each one's names share a partition root (shard.ts), so pairing the names of that root (the
 * folder's other names for the unknown-image rule) gives the same group. The stored record (not
 * served) names them; it must agree with the group found. Sparse, indexed by group; null when some
 * record was not stored or does not agree (the caller pairs the whole folder).
 */
function groupsAgain(listing: { path: string; entries: readonly WalkEntry[] }, imageExts: ReadonlySet<string>, valid: readonly boolean[], recs: readonly (ScanRecord | undefined)[]): PairGroup[] | null {
  const wanted: { gi: number; name: string; rec: ScanRecord }[] = [];
  const roots = new Set<string>();
  for (let gi = 0; gi < valid.length; gi++) {
    if (valid[gi]) continue;
    const rec = recs[gi];
    const name = rec?.images[0]?.name ?? rec?.sidecars.find((sc) => sc.side === 'local')?.name;
    if (rec === undefined || name === undefined) return null;
    wanted.push({ gi, name, rec });
    roots.add(nameRoot(name, imageExts));
  }
  const mine: WalkEntry[] = [];
  for (const e of listing.entries) {
    const n = nfc(e.name);
    for (const r of roots) {
      if (n.startsWith(r) && nameRoot(e.name, imageExts) === r) {
        mine.push(e);
        break;
      }
    }
  }
  const pairing = pairDirectory({ path: listing.path, entries: mine }, imageExts, { folderEntries: listing.entries });
  const out: PairGroup[] = new Array(valid.length);
  for (const { gi, name, rec } of wanted) {
    const g = pairing.groups.find((x) => x.images.some((i) => i.name === name) || x.sidecars.some((sc) => sc.name === name));
    if (g === undefined || g.images.length !== rec.images.length || g.images.some((img, k) => img.name !== rec.images[k].name)) return null;
    const names = new Set(rec.sidecars.map((sc) => sc.name));
    if (g.sidecars.some((sc) => !names.has(sc.name))) return null;
    for (const sc of rec.sidecars) if (sc.side === 'local' && !g.sidecars.some((x) => x.name === sc.name)) return null;
    out[gi] = g;
  }
  return out;
}

/**
 * Is `e` (a given group's name: ScanOptions.givenGroups) in folder `dir` as the walk would list
 * it: there, a symlink exactly when its kind says so, and a folder only in a sidecar's name (the
 * pairing skips a folder in an image's name; one in a sidecar's is a candidate that reads as
 * unreadable)? One lstat: a memo's names are its own claims, the disk is not.
 */
function entryOnDisk(dir: string, e: WalkEntry): boolean {
  const st = lstatSync(join(dir, e.name), { throwIfNoEntry: false });
  if (st === undefined || st.isSymbolicLink() !== (e.kind === 'symlink')) return false;
  return !st.isDirectory() || isSidecarName(e.name);
}

/** A bundle of a folder's records (PendingRecord.bundle), empty: records are pushed into it. */
function bundleJob(seq: TreeSeq, dir: string): PendingRecord {
  const job = servedJob(seq, dir);
  job.bundle = [];
  return job;
}

/** A job of stored records served as they are: nothing to inspect, nothing to pair. */
function servedJob(seq: TreeSeq, dir: string): PendingRecord {
  return { seq, dir, images: [], candidates: [], items: [], localSidecars: 0, extraFiles: 0, findings: [] };
}

/** The engine's resolutions of a link group's items, as a LinkResolution for pending(). */
function resolvedBy(results: readonly FileInspection[]): LinkResolution {
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
function lookUp(rec: PendingRecord, index: ScanIndex, sized: boolean): boolean {
  if (index.holdsNothing) {
    if (sized) for (const it of rec.items) it.size = sizeOf(it.path);
    return rec.items.length > 0;
  }
  const hits: (FileInspection | undefined)[] = [];
  const send: InspectItem[] = [];
  const sent: Pending[] = [];
  const ids: (Buffer | null)[] = [];
  for (const it of rec.items) {
    const r = index.lookup(it.path);
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
function mergeHits(rec: PendingRecord, results: readonly FileInspection[], index: ScanIndex): FileInspection[] {
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

/** What shapes a folder's records besides the inspect options: pairing and link options. */
function scanShape(imageExts: ReadonlySet<string>, inspectLinkTargets: boolean, resolveOnly: boolean): string {
  return createHash('sha256').update(JSON.stringify([[...imageExts].sort(), inspectLinkTargets, resolveOnly])).digest('hex').slice(0, 16);
}

/**
 * A finished record of a folder whose records are being stored: its value (taken now, before any
 * caller sees the record) and what it depended on; the folder's entry is written with its last record.
 */
function folderRecordDone(job: PendingRecord, rec: ScanRecord, index: ScanIndex): void {
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
  writeCompact(b, gi, storable ? rec : null);
  finishFolder(b, index);
}

function finishFolder(b: FolderRecordsBuilder, index: ScanIndex): void {
  if (b.left === 0) index.addFolder(b);
}

/** Matches no folder's identity (dev and inode 0): the lookup is checked by lstat. */
const NO_DIR_ID = Buffer.alloc(40);

/** A stored record served as it is, kept in the folder's next entry as it was (folder-records.ts). */
function keptRecordDone(b: FolderRecordsBuilder, blob: FolderBlob, gi: number, rec: ScanRecord, index: ScanIndex): void {
  b.keep(gi, blob, rec as unknown as CompactRecord);
  finishFolder(b, index);
}

/** A file's size for the pipeline's byte bound (0 when it cannot be seen: the task reports why). */
function sizeOf(path: string): number {
  try {
    return lstatSync(path).size;
  } catch {
    return 0;
  }
}

function uncheckedInspection(path: string): FileInspection {
  return { path, size: 0, status: 'unchecked', format: null, notes: [], shape: 'sidecar', elapsedMs: 0 };
}

/** The one place that decides a record's category. */
export function categorize(images: readonly ScanImage[], sidecars: readonly ScanSidecar[], effective: ScanSidecar | null): Category {
  if (images.length === 0) {
    const ins = sidecars[0].inspection;
    if (ins.status === 'unreadable') return 'unreadable';
    if (ins.status === 'corrupt') return 'corrupt';
    // An encrypted file is one of ours (shape 'sidecar'): without an image it is an orphan.
    return ins.shape === 'sidecar' ? 'orphan' : 'unrelated';
  }
  if (images.length === 1 && images[0].broken) return 'broken-symlink';
  if (sidecars.length === 0) return 'missing';
  if (images.length > 1) return 'ambiguous';
  // Several files of one image: the first that decodes is its sidecar, the rest are kept older
  // copies (docs/PAIRING.md §4), as a read and a save take them.
  if (effective) return 'ok';
  const st = sidecars[0].inspection.status;
  return st === 'unreadable' ? 'unreadable' : st === 'encrypted' ? 'encrypted' : 'corrupt';
}

/** Start a scan of `root`. Iterate the result for records; read `.summary` afterwards. */
export function scan(root: string, opts: ScanOptions = {}): ScanSession {
  return new ScanSession(root, opts);
}

export async function assertDirectory(root: string): Promise<void> {
  let st;
  try {
    st = await stat(root);
  } catch (e) {
    const err = errors.fromFs(e, root);
    if (err.code === 'NOT_FOUND') throw errors.notFound(root, 'input directory');
    throw err;
  }
  if (!st.isDirectory()) throw errors.notADirectory(root);
}

/** The groups of one folder of link targets, by image name; a shard pairs them root by root. */
interface TargetFolder {
  groups: Map<string, PairGroup>;
  /** A shard's folder: entries by partition root, each paired when a link first needs it. */
  unpaired: Map<string, { name: string; kind: EntryKind }[]> | null;
  /** Not a shard's: the folder's entries in the walk's order, and their pairing (`pairingOf`). */
  listing?: readonly WalkEntry[];
  pairing?: DirPairing;
  /** The listing is one the walk may use as its own (`listingOf`). */
  walkable?: boolean;
}

const NO_GROUP: PairGroup = { images: [], sidecars: [] };

/**
 * Pairing of the folders that symlink targets live in (LRU-bounded), by the same rule as every
 * folder of the walk (pair.ts), so a link sees exactly the group its target's own record has.
 * A shard resolves only its own links, a few per target folder: it pairs only the names of the
 * target's partition root (shard.ts: every claim joins names of one root, so the group is the same).
 */
class TargetGroups {
  private readonly cache = new Map<string, TargetFolder>();
  private lastDir = '';
  private last: TargetFolder | null = null;
  constructor(
    private readonly imageExts: ReadonlySet<string>,
    private readonly byRoot: boolean,
    /** The index's folders: a target folder known unchanged is not listed again. */
    private readonly listings?: DirSnapshots,
    private readonly limit = 64,
  ) {}

  groupFor(target: string): PairGroup {
    const cut = target.lastIndexOf(sep);
    const dir = cut <= 0 ? dirname(target) : target.slice(0, cut);
    let folder: TargetFolder | undefined;
    if (this.last !== null && dir === this.lastDir) {
      folder = this.last; // links of a folder mostly point into one folder: no LRU shuffle
    } else {
      folder = this.cache.get(dir);
      if (folder) {
        this.cache.delete(dir); // refresh LRU position
      } else {
        folder = this.load(dir);
        if (this.cache.size >= this.limit) this.cache.delete(this.cache.keys().next().value!);
      }
      this.cache.set(dir, folder);
      this.lastDir = dir;
      this.last = folder;
    }
    const name = target.slice(cut + 1);
    const g = folder.groups.get(name);
    if (g !== undefined || folder.unpaired === null) return g ?? NO_GROUP;
    const root = nameRoot(name, this.imageExts);
    const entries = folder.unpaired.get(root);
    if (entries === undefined) return NO_GROUP;
    folder.unpaired.delete(root);
    this.pairInto(folder.groups, dir, entries);
    return folder.groups.get(name) ?? NO_GROUP;
  }

  private pairInto(groups: Map<string, PairGroup>, dir: string, entries: { name: string; kind: EntryKind }[]): DirPairing {
    const pairing = pairDirectory({ path: dir, entries: entries as WalkEntry[] }, this.imageExts);
    for (const g of pairing.groups) for (const i of g.images) groups.set(i.name, g);
    return pairing;
  }

  /**
   * The pairing of the walked folder `path` when its listing is the one this paired for links
   * (same names, kinds, order): the walk does not pair the folder again. Game folders are walked
   * before the folders their links point into, which were paired here for the links.
   */
  pairingOf(path: string, entries: readonly WalkEntry[]): DirPairing | null {
    const folder = this.cache.get(path);
    const mine = folder?.listing;
    if (mine === undefined || mine.length !== entries.length) return null;
    for (let i = 0; i < mine.length; i++) {
      const a = mine[i];
      const b = entries[i];
      if (a.name !== b.name || a.kind !== b.kind || a.unaddressable || b.unaddressable) return null;
    }
    return folder!.pairing!;
  }

  /**
   * The listing of folder `path` when this read it for links and it is a listing as the walk makes
   * one (walk.ts listedByRun): the walk does not read the folder again.
   */
  listingOf(path: string): readonly WalkEntry[] | null {
    const folder = this.cache.get(path);
    return folder?.walkable ? folder.listing! : null;
  }

  private load(dir: string): TargetFolder {
    const folder: TargetFolder = { groups: new Map(), unpaired: null };
    let entries: { name: string; kind: EntryKind }[];
    if (this.listings) {
      const listed = this.listings.listingSync(dir);
      if (!listed) return folder; // unreadable target dir: the link simply shows no sidecar there
      entries = listed.slice();
    } else {
      let dirents: Dirent[];
      try {
        dirents = readdirSync(dir, { withFileTypes: true });
      } catch {
        return folder; // unreadable target dir: the link simply shows no sidecar there
      }
      entries = dirents.map((d) => ({ name: d.name, kind: kindOfDirent(d) }));
    }
    // In the walk's order, so that a group lists its images as the folder's own record does (and as
    // with the index's listings, which are in that order), and the walk can reuse the pairing.
    entries.sort(byName);
    if (this.byRoot) {
      const unpaired = new Map<string, { name: string; kind: EntryKind }[]>();
      for (const e of entries) {
        const root = nameRoot(e.name, this.imageExts);
        const list = unpaired.get(root);
        if (list) list.push(e);
        else unpaired.set(root, [e]);
      }
      folder.unpaired = unpaired;
    } else {
      folder.pairing = this.pairInto(folder.groups, dir, entries);
      folder.listing = entries;
      folder.walkable = isPlainListing(entries);
    }
    return folder;
  }
}

function isInside(p: string, rootReal: string): boolean {
  return p === rootReal || p.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep);
}

function toPosix(p: string): string {
  return sep === '/' ? p : p.split(sep).join('/');
}

export type { AdaptiveRuntime };
