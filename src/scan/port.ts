/**
 * The scan's port to its cache: what a scan asks of the incremental index, and nothing more. The
 * scan never imports the index; incremental/scan-cache.ts implements this port, and the caller
 * (ops/scan.ts) opens it and hands it to the scan.
 */
import type { LinkResolution } from '../discovery/resolve-link.js';
import type { ListingCache, WalkEntry } from '../discovery/walk.js';
import type { FileInspection, InspectOptions, ResolvedLink } from '../model/inspection.js';
import type { Options } from '../types.js';
import type { ScanRecord } from './records.js';
import type { FolderIdentity, LinkStep } from '../tasks/link-entry.js';

export type { ScanRecord };

/** The index options a scan is given (`ScanOptions.index`). */
export type CacheOptions = Exclude<NonNullable<Options['index']>, false>;

/** The cache's folders: listings of unchanged folders, link resolutions, folder identities. */
export interface CacheFolders extends ListingCache, LinkResolution {
  /** The lookups of the last resolution, and whether it completed (what a folder's records rely on). */
  readonly lastSteps: readonly LinkStep[];
  readonly lastComplete: boolean;
  /** The folder's listing is the stored one (a repeat run: its records can be stored with it). */
  holdsListing(real: string): boolean;
  /** A walked folder's real path. */
  realOf(path: string): string;
  dirIdentity(real: string): FolderIdentity | null;
  /** A link target's folder listing, sync (null: it cannot be read). */
  listingSync(dir: string): readonly WalkEntry[] | null;
  /** No link was stored when the run began (a first run, a rebuilt index, a tree that had none). */
  readonly noLinkStored: boolean;
  /** Links the engine resolved (counted: a run that stores none). */
  resolvedElsewhere(n: number): void;
  resolve(linkPath: string, dirRel: string, name: string): ResolvedLink;
}

/** A file looked up and missed: what recording its new result needs (its identity as stat'ed before the read, when it was). */
export interface CacheMiss {
  readonly idBytes?: Buffer;
}

/** A folder's stored records as the cache holds them. */
export interface StoredFolder {
  /** Records, ignored files and temp files of the folder, and each record's position in it. */
  readonly n: number;
  readonly ignored: number;
  readonly temp: number;
  readonly pos: readonly number[];
  /** Per record: still as stored (every file and folder it depended on unchanged). */
  readonly valid: readonly boolean[];
}

/** A folder's records being made for the cache, by group number; stored when the last one is done. */
export interface FolderRecordsSink {
  readonly left: number;
  /** The groups made again (the others kept from the stored folder). */
  readonly rebuilt: number[];
  file(gi: number, path: string, id: Uint8Array): void;
  step(gi: number, dir: string, dirId: Uint8Array, name: string, stamp: Uint8Array | null): void;
  dir(gi: number, real: string, id: Uint8Array): void;
  link(gi: number, path: string): void;
}

/** What a scan asks of its cache. */
export interface ScanCache {
  /**
   * No result of this run's option set was stored when the run began (a first run, or a command's
   * first run on an index others filled): no file to look up; every file goes to the engine and its
   * result is recorded as it comes (`recordFirst`).
   */
  readonly noResultsStored: boolean;
  /** What the inspecting threads need to make this run's entries. */
  readonly entryOptions: InspectOptions['indexEntries'];
  readonly dirs: CacheFolders;
  /**
   * A sidecar's stored result (a hit), or what recording its new one needs. `viaLink`: a link
   * target's sidecar, inspected for the link's record (the cache counts it as met once, however many
   * links reach it, or leaves it to its own folder's walk).
   */
  lookup(path: string, viaLink?: boolean): { hit: FileInspection | null; pending: CacheMiss };
  /**
   * The sidecars of folder `dir` (its listing's `entries`) are about to be looked up, or its stored
   * records checked: their stats are taken now, many at once (on a file server each is a round
   * trip), and each answers one later stat of its path. Resolves when all are in; null when none
   * is taken ahead (a local disk). Once `signal` fires no more is taken, and it resolves when the
   * calls in flight are back.
   */
  statAhead(dir: string, entries: readonly WalkEntry[], signal?: AbortSignal): Promise<void> | null;
  /**
   * The walk has folder `dir`'s listing before it reaches the folder: its stats may be taken now,
   * and its `statAhead` at its turn then returns what was started. `signal`: as for statAhead.
   */
  statListedAhead(dir: string, entries: readonly WalkEntry[], signal?: AbortSignal): void;
  /** The same for its image links: read now where `linksAhead` would read them at its turn, which then gets them. */
  linksListedAhead(dir: string, entries: readonly WalkEntry[], imageExts: ReadonlySet<string>, signal?: AbortSignal): void;
  /**
   * The walked folder `dirRel` (its listing's `entries`) is about to be paired and its image links
   * resolved: the links the run resolves are read now, many at once where each read is a round trip
   * (a file server), and each answer serves one resolution. Null when none is read ahead. `signal`:
   * as for statAhead.
   */
  linksAhead(dirRel: string, entries: readonly WalkEntry[], imageExts: ReadonlySet<string>, signal?: AbortSignal): Promise<void> | null;
  /** A missed sidecar's new result; true when stored. */
  record(miss: CacheMiss, result: FileInspection): boolean;
  /** The results of a run that looks nothing up (`noResultsStored`), `n` from `from`. */
  recordFirst(results: readonly FileInspection[], from: number, n: number): void;
  /** Folder records for this scan shape (pairing and link options): on when the cache keeps them. */
  useRecords(scanShape: string): void;
  readonly recordsOn: boolean;
  /** May this run store a new folder's `n` records (a budget per run)? */
  mayStoreRecords(n: number): boolean;
  /** A walked folder (its other option sets' records are kept). */
  noteFolder(real: string): void;
  folderRecords(real: string): StoredFolder | null;
  /** The stored records of a folder (undefined: one that cannot be read back), placed in the folder as walked; null: none. */
  storedRecords(stored: StoredFolder, folderAbs: string, rel: string): (ScanRecord | undefined)[] | null;
  /** Records of `stored`, the folder walked at `folderAbs`, served (all of them: `whole`). */
  served(stored: StoredFolder, whole: boolean, folderAbs: string): void;
  /** Records of a folder to store; `replacing`: the stored folder whose valid records are kept. */
  folderSink(real: string, folderAbs: string, rel: string, dirId: Uint8Array, ignored: number, temp: number, n: number, pos: number[], replacing?: StoredFolder): FolderRecordsSink;
  /** A record made (null: not storable) or kept as stored. */
  recordDone(sink: FolderRecordsSink, gi: number, rec: ScanRecord | null): void;
  recordKept(sink: FolderRecordsSink, gi: number, rec: ScanRecord): void;
  /** Write what the run found (`complete`: the whole tree was walked). */
  save(complete: boolean): Promise<void>;
  close(): void;
}

/** Opens a scan's cache (null: none for these inspections, or none where it would live). */
export type OpenScanCache = (root: string, inspect: InspectOptions, opts: CacheOptions) => ScanCache | null;
