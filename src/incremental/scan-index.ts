/**
 * The incremental index as one scan uses it: open once, look up each sidecar before it goes to the
 * engine (a hit skips the engine; its stored result goes to the reducer as the engine's would),
 * record each new result, write once at the end (merged with whatever is on disk then, under a lock,
 * temp file + rename).
 *
 * Memory stays bounded whatever the library's size: the index file is read by positional reads
 * (store.ts); a hit costs 8 bytes (a reference to its entry, copied at the end if the file is
 * rewritten), a new result is appended to a spool file as it comes. The file is rewritten only when
 * something changed, as one stream: this run's entries in the order it met them, then (for a run
 * that saw only part of the tree) the other entries of the file on disk.
 *
 * A result is recorded only when it can be trusted later (tasks/index-entry.ts: the rule, and the entry made
 * by the thread that read the file, from the stat of the descriptor it read through).
 */
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { inWalkedFolder } from '../discovery/own-folders.js';
import { sidecarPathsOf } from '../discovery/pair.js';
import type { WalkEntry } from '../discovery/walk.js';
import { errors } from '../errors.js';
import { relativeTo } from '../fs/rel-path.js';
import { withSidecarLock } from '../fs/lock.js';
import { removeStaleTempFiles, tempNameFor } from '../fs/temp-files.js';
import { fileStamp, IDENTITY_BYTES, identityEquals, IdentityScratch, STAT_AHEAD_PER_FOLDER, STAT_FILE, STAT_LISTED_AHEAD } from '../fs/identity.js';
import { accessIdentity, buildId, isCacheable, optionsKey } from './key.js';
import { PATH_MARK, racyCutoffNs, racyCutoffOf, storedResult, takeEntry, takeEntryBlock } from '../tasks/index-entry.js';
import { DirSnapshots, type EntrySink } from './dir-cache.js';
import { decodeFolder, DEP_DIR, DEP_FILE, DEP_LINK, DEP_STEP, eachRecord, folderKey, folderOf, groupOf, RECORDS_PER_RUN_FLOOR, RECORDS_PER_RUN_SHARE, type FolderBlob, type FolderChunk, type FolderRecordsBuilder } from './folder-records.js';
import { resolveIndexLocation } from './location.js';
import {
  entryIdentity,
  entryKey,
  entryPayload,
  entryKeyNo,
  entryResult,
  deltaPath,
  fileSlotKey,
  IndexFormatError,
  IndexReader,
  IndexWriter,
  madeIdentity,
  MAX_KEYS,
  TABLE_DIRS,
  TABLE_FILES,
  TABLE_LINKS,
  TABLE_RECORDS,
  tableKeyOf,
  type EntryView,
  type IndexHeader,
  type KeyUse,
} from './store.js';
import type { EntryBlock, EntryOptions, IndexEntryOut } from '../model/index-entry.js';
import type { FileInspection, InspectOptions } from '../model/inspection.js';
import type { IndexOptions, IndexLocation } from '../model/index-options.js';
import { makeFoldersSync } from '../fs/make-folders.js';

export const DEFAULT_RACY_MARGIN_MS = 2000;
const LOCK_TIMEOUT_MS = 15_000;
/** A rewrite extends the loaded file while its dead entries are at most this share of its entry bytes. */
const MAX_GARBAGE_SHARE = 0.25;
/**
 * A run that would extend the loaded file writes its new entries to a delta file next to it instead
 * (no copy of the base) while the delta's entries are at most this share of the base's entry bytes;
 * beyond, the base is continued (`IndexWriter.extend`) with the delta's live entries and the run's,
 * and the delta removed.
 */
const MAX_DELTA_SHARE = 0.125;
/** A first run's entries appended to the spool together (recordFirst): about a batch's worth. */
const FIRST_ENTRIES_PER_APPEND = 256;

/** What the scan keeps per sidecar sent to the engine: its identity as seen before the read. */
export interface Pending {
  rel: string;
  /** The identity looked up (stat'ed before the read), or after `record` the identity stored. */
  idBytes?: Buffer;
  /**
   * The stored entry of this file when its identity still matched (other option sets' results), else 0.
   * Without `idBytes` (a run whose option set the index holds no result of: nothing was stat'ed),
   * the entry under the file's key: kept only while the identity the reading thread took equals its own.
   */
  oldOff: number;
  /** The loaded file holds an entry under this key (a new one replaces it). */
  stored?: boolean;
  /**
   * A link target's sidecar counted as met elsewhere (`countsThroughLink`): by an earlier meeting
   * through a link, or by its own folder's walk. Not counted as met, nor referenced, again.
   */
  again?: boolean;
}

/** The index as on disk: its file and the delta over it (another writer changes one or the other). */
function indexStamp(path: string): string {
  return `${fileStamp(path)}|${fileStamp(deltaPath(path))}`;
}

/** A new file's identity (a delta names its base by it). */
function newFileId(): string {
  return randomBytes(8).toString('hex');
}

export interface LastRun {
  at: string;
  hits: number;
  misses: number;
  /** New results recorded (misses that could be trusted later). */
  recorded: number;
  sidecars: number;
  /** Scan records served from folder records (no pairing, no per-file decode; docs/INDEX.md). */
  records_served?: number;
}

/** The figures of the last run next to the index (`index status`); written even when the index is not. */
export function lastRunPath(indexPath: string): string {
  return `${indexPath}.last-run.json`;
}

/**
 * Replaced whole (temp file + rename: a reader or a killed run never sees half of it), not fsynced:
 * it is a report, not data (a crash may lose it; `index status` then shows no last run), and an
 * fsync costs every run milliseconds on a quiet disk, up to a second on a busy one.
 */
function writeLastRun(indexPath: string, run: LastRun): void {
  const target = lastRunPath(indexPath);
  const tmp = join(dirname(target), tempNameFor(basename(target)));
  try {
    writeFileSync(tmp, JSON.stringify(run) + '\n', { flag: 'wx' });
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** A growable list of entry references: > 0 an offset in the loaded file, < 0 minus an offset in the spool. */
class RefList {
  private a = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.length++] = v;
  }
  at(i: number): number {
    return this.a[i];
  }
}

/** Why the index is not where it would be, said once per run. */
function warnLocation(location: IndexLocation, opts: IndexOptions): void {
  if (location.note !== undefined) opts.onWarning?.(location.where === 'none' ? `${location.note}; this run keeps no index` : `${location.note}; the index is kept in ${location.path}`);
}

/** A folder listed ahead whose stats are taken one at a time (a local disk, or too few sidecars to time). */
const ONE_AT_A_TIME = { ready: null, timed: -1, answers: 0 } as const;

export class ScanIndex implements EntrySink {
  readonly location: IndexLocation;
  private readonly key: string;
  private reader: IndexReader | null;
  /** Option sets as numbered in this run's entries: the loaded file's, then ours when it had none. */
  private readonly runKeys: KeyUse[];
  private readonly keyNo: number;
  /** Our option set in the loaded file (-1: none). */
  private readonly loadedKeyNo: number;
  private readonly loadedStamp: string;
  private readonly started = Date.now();
  private readonly racyCutoffMs: number;
  private readonly racyCutoffNs: bigint;
  private readonly refs = new RefList();
  /** References per table (files, folders, links): all of the loaded file's, once each, and no spool = nothing to write. */
  private readonly refCounts = [0, 0, 0, 0];
  /** Entries added to the spool, per table. */
  private readonly addCounts = [0, 0, 0, 0];
  /** Entries of the loaded file that a new entry of this run replaces (same key), per table: met too. */
  private readonly supersededCounts = [0, 0, 0, 0];
  private spool: IndexWriter | null = null;
  private spoolFailed = false;
  /** Entry paths are relative to the scanned root as given (resolved): a prefix cut, no realpath per file. */
  private readonly relOf: (path: string) => string;
  /** The directories: listings and link resolutions of unchanged folders (dir-cache.ts). */
  readonly dirs: DirSnapshots;
  hits = 0;
  misses = 0;
  private recordedCount = 0;
  /** A first run's entries waiting for the spool (recordFirst): views of the threads' batches. */
  private firstEntries: IndexEntryOut[] = [];
  private seenCount = 0;
  /** Folder records: the key prefix of this run ("<options key>:<scan shape>", set by the scan). */
  private recordPrefix: string | null = null;
  /**
   * The folders this run served records from, two offsets each (the base entry and its patch, 0 when
   * none): what their served records depend on is kept on a rewrite (step 1b).
   */
  private readonly servedBlobs = new RefList();
  /** A folder served in part: its groups served, by its first offset's place in `servedBlobs`. */
  private readonly servedInPart = new Map<number, boolean[]>();
  /** Entries those records stand for without being looked up (so `unchanged` can tell nothing was dropped). */
  private filesServed = 0;
  /**
   * Link targets' sidecars counted as met this run (`countsThroughLink`). Each link to a target
   * inspects its sidecars, so one can be met through several links: it counts as met once, else the
   * run finds as many met as stored while a removed sidecar's entry is never met, and never prunes it.
   */
  private readonly metThroughLinks = new Set<string>();
  private linksServed = 0;
  private readonly dirsServed = new Set<string>();
  /** Set by `close`: no spool is made or written after it. */
  private closed = false;
  /** Walked folders (real paths): other option sets' folder records of these are kept on a rewrite. */
  private readonly walked: string[] = [];
  foldersServed = 0;
  recordsServed = 0;
  /**
   * No result of this run's option set was stored when the run began (a first run, a rebuild, or a
   * command's first run on an index other commands filled): nothing to look up before the engine,
   * whose threads make every file's entry as a first run's (a block per batch, recordFirst). Each
   * option set's results are entries of their own (store.ts fileSlotKey): such a run adds its
   * entries beside the others', never into them.
   */
  readonly noResultsStored: boolean;
  /** Root as given, resolved: folder records hold paths under it. */
  readonly rootAbs: string;
  private readonly idScratch: IdentityScratch;

  private constructor(
    root: string,
    inspect: InspectOptions,
    private readonly opts: IndexOptions,
    location: IndexLocation,
  ) {
    this.location = location;
    this.idScratch = new IdentityScratch({ fast: opts.fastStat });
    this.rootAbs = resolve(root);
    this.relOf = relativeTo(this.rootAbs);
    this.key = optionsKey(inspect);
    const margin = opts.racyMarginMs ?? DEFAULT_RACY_MARGIN_MS;
    // 0 turns the check off (tests that change files milliseconds before a run).
    this.racyCutoffMs = racyCutoffOf(this.started, margin);
    this.racyCutoffNs = racyCutoffNs(this.racyCutoffMs);
    this.loadedStamp = indexStamp(this.location.path);
    this.reader = this.load();
    const keys = this.reader?.header.keys ?? [];
    this.loadedKeyNo = keys.findIndex((k) => k.key === this.key);
    this.noResultsStored = this.reader === null || this.loadedKeyNo < 0;
    this.runKeys = this.loadedKeyNo >= 0 ? keys : [...keys, { key: this.key, used: 0 }];
    this.keyNo = this.loadedKeyNo >= 0 ? this.loadedKeyNo : keys.length;
    this.dirs = new DirSnapshots(this.reader, resolve(root), this.location.rootReal, this.racyCutoffNs, this, !this.noResultsStored);
  }

  /** An index for this scan, or null when these inspections cannot be stored (decoded data kept). */
  static open(root: string, inspect: InspectOptions, opts: IndexOptions): ScanIndex | null {
    if (!isCacheable(inspect)) return null;
    const location = resolveIndexLocation(root, opts);
    warnLocation(location, opts);
    if (location.where === 'none') return null;
    const index = new ScanIndex(root, inspect, opts, location);
    if (!index.othersIndex) return index;
    // Another identity's index: this run reads the library itself, and leaves the file as it is.
    index.close();
    return null;
  }

  /** The loaded file was written by a run of another read access (accessIdentity): not used, not written. */
  private othersIndex = false;

  private warn(msg: string): void {
    this.opts.onWarning?.(msg);
  }

  private load(): IndexReader | null {
    const { path, rootReal } = this.location;
    let reader: IndexReader | null = null;
    try {
      reader = IndexReader.open(path);
      if (reader && isOthersAccess(reader.header.access)) {
        // What it holds was read with another user's or group set's access: a file or folder this
        // run may not read served its result or its names (wrong answers, and a leak). First: even
        // of another library, it is never this run's to replace.
        this.warn(`index ${path} was written by another user or group set (${reader.header.access}): results depend on read access, so this run does not use it and leaves it as it is (give --index a path of your own, or clear it)`);
        reader.close();
        this.othersIndex = true;
        return null;
      }
      if (reader && reader.header.root !== rootReal) {
        this.warn(`index ${path} belongs to another library (${reader.header.root}); ignoring it and building a new one`);
        reader.close();
        return null;
      }
      return reader;
    } catch (e) {
      reader?.close();
      if (ownedByAnother(path)) {
        // Unreadable as an index, and another user's file: never this run's to replace.
        this.warn(`index ${path} cannot be read (${e instanceof IndexFormatError ? e.message : errors.fromFs(e, path).message}) and is another user's file: this run does not use it and leaves it as it is (give --index a path of your own)`);
        this.othersIndex = true;
        return null;
      }
      this.unusable(e);
      return null;
    }
  }

  private unusable(e: unknown): void {
    const { path } = this.location;
    const why = e instanceof IndexFormatError ? e.message : errors.fromFs(e, path).message;
    this.warn(`index ${path} is unusable (${why}); ignoring it and building a new one`);
  }

  /** A part of the loaded file turned out corrupt: trust none of it from here on. */
  private distrust(e: unknown): void {
    if (!this.reader) return;
    this.unusable(e);
    this.reader.close();
    this.reader = null;
    this.dirs.forgetStored();
  }

  // EntrySink: where the folders' entries go.
  ref(table: number, off: number): void {
    this.refs.push(off);
    this.refCounts[table]++;
  }

  add(table: number, key: string, id: Uint8Array, payload: readonly Uint8Array[]): boolean {
    return this.counted(
      table,
      key,
      this.spoolWith(table, (spool) => {
        spool.add(table, key, id, payload);
        return 1;
      }) > 0,
    );
  }

  /** A new entry added under a key the loaded file holds replaces that entry: count it (the rewrite's sizing). */
  private counted(table: number, key: string, added: boolean): boolean {
    if (added && table !== TABLE_RECORDS && this.reader) {
      try {
        if (this.reader.find(table, key) !== null) this.supersededCounts[table]++;
      } catch (e) {
        this.distrust(e);
      }
    }
    return added;
  }

  /** Append new entries to the spool (created at the first): `write` returns how many; 0 when the spool cannot be written. */
  private spoolWith(table: number, write: (spool: IndexWriter) => number): number {
    // After close nothing is written: a late caller (a read still in flight) would make a new spool.
    if (this.closed || this.spoolFailed) return 0;
    try {
      if (!this.spool) {
        makeFoldersSync(dirname(this.location.path));
        // A run that looks nothing up (noResultsStored) keeps its spool's entries in order, as a list
        // (14 B per entry): with nothing stored before (a first run) the spool becomes the index and
        // its tables are built from the list at the end; over other option sets' entries it is
        // appended to the file it continues (`appendAll`), or read through once (`entries`) by a
        // rewrite. A run that looks files up reads its spool back by offset while the index is
        // rewritten, and keeps no tables.
        this.spool = IndexWriter.create(join(dirname(this.location.path), tempNameFor(`${basename(this.location.path)}.spool`)), { tables: this.noResultsStored ? 'list' : 'none' });
      }
      const off = this.spool.size;
      const n = write(this.spool);
      this.addCounts[table] += n;
      // A spool with lists holds all of this run's entries in the order met: no reference to each
      // is kept (8 B per entry).
      if (!this.spool.indexed) {
        if (n !== 1) throw errors.internal('entries appended together to a spool without tables');
        this.refs.push(-off);
      }
      return n;
    } catch (e) {
      this.spoolFailed = true;
      this.warn(`index ${this.location.path}: new results not kept (${errors.fromFs(e, this.location.path).message})`);
      return 0;
    }
  }

  /** Guarded read of the loaded file: our option set's entry of `rel`, or null (and the file distrusted) when an entry is corrupt. */
  private find(rel: string): EntryView | null {
    if (!this.reader || this.loadedKeyNo < 0) return null;
    try {
      return this.reader.find(TABLE_FILES, fileSlotKey(rel, this.loadedKeyNo));
    } catch (e) {
      this.distrust(e);
      return null;
    }
  }

  /**
   * The stats of folder `dir`'s sidecars taken ahead of their lookups and its records' checks
   * (ScanCache.statAhead), many at once, on a file server: when the folder's own stat (its
   * identity, taken before it was listed) took a round trip, or else when its first two sidecars'
   * stats each did. On a local disk, where each takes microseconds and the async calls cost the main
   * thread more, one at a time, and nothing more is done per folder than those two stats. Only the
   * files the index holds a result of (a new file is not stat'ed by its lookup), at most
   * STAT_AHEAD_PER_FOLDER answers of a folder (the rest one at a time). None when nothing is looked
   * up (a first run) or `statAhead` is off. A folder the walk listed ahead (`statListedAhead`)
   * gets what was started then.
   */
  statAhead(dir: string, entries: readonly WalkEntry[], signal?: AbortSignal): Promise<void> | null {
    if (this.nothingAhead()) return null;
    const soon = this.listedAhead.get(dir);
    if (soon !== undefined) {
      this.listedAhead.delete(dir);
      this.answersListedAhead -= soon.answers;
      // Timed on a server then, but too many to take then: taken now.
      if (soon.ready === null && soon.timed >= 0) return this.idScratch.statAhead(this.aheadPaths(dir, entries, soon.timed), signal);
      return soon.ready;
    }
    const timed = this.timedOnServer(dir, entries);
    return timed < 0 ? null : this.idScratch.statAhead(this.aheadPaths(dir, entries, timed), signal);
  }

  /**
   * The walk has folder `dir`'s listing before it reaches the folder (read ahead, or served by the
   * index then): its stats, as `statAhead` would take them, are taken now, while the folders before
   * it are handled, so that a file server's round trips of several folders overlap; the folder's
   * `statAhead` at its turn gets them. Folders listed ahead hold at most STAT_LISTED_AHEAD answers
   * together (a folder that would pass it is taken at its turn): with the folder at its turn's own,
   * no answer is waiting that could be dropped before its use (identity.ts STAT_AHEAD_KEPT).
   */
  statListedAhead(dir: string, entries: readonly WalkEntry[], signal?: AbortSignal): void {
    if (this.nothingAhead() || signal?.aborted || this.listedAhead.has(dir) || this.answersListedAhead >= STAT_LISTED_AHEAD) return;
    const timed = this.timedOnServer(dir, entries);
    if (timed < 0) return void this.listedAhead.set(dir, ONE_AT_A_TIME);
    const paths = this.aheadPaths(dir, entries, timed);
    // Too many now: its timed answers are kept (and counted) for its turn, which takes the rest.
    const now = this.answersListedAhead + timed + paths.length <= STAT_LISTED_AHEAD;
    const answers = now ? timed + paths.length : timed;
    this.listedAhead.set(dir, { ready: now ? this.idScratch.statAhead(paths, signal) : null, timed, answers });
    this.answersListedAhead += answers;
  }

  /**
   * Is folder `dir` on a file server? 0: its own stat took a round trip; 2: its first two sidecars'
   * stats each did (their answers kept for their lookups); -1: no (a local disk), one at a time.
   */
  private timedOnServer(dir: string, entries: readonly WalkEntry[]): number {
    // A folder's stat a client's cache answered says nothing: its sidecars are timed then.
    if (this.dirs.statTookRoundTrip(dir) === true) return 0;
    const first = sidecarPathsOf(dir, entries, 2);
    return first.length === 2 && this.idScratch.takesRoundTrip(first[0]) && this.idScratch.takesRoundTrip(first[1]) ? 2 : -1;
  }

  /** The sidecars of `dir` the index holds, after the `timed` first ones: at most STAT_AHEAD_PER_FOLDER answers with those. */
  private aheadPaths(dir: string, entries: readonly WalkEntry[], timed: number): string[] {
    const paths: string[] = [];
    for (const p of sidecarPathsOf(dir, entries).slice(timed)) {
      if (paths.length + timed >= STAT_AHEAD_PER_FOLDER) break;
      if (this.find(this.relOf(p)) !== null) paths.push(p);
    }
    return paths;
  }

  /** Folders whose stats were decided when the walk listed them ahead, until their turn: what was started (null: nothing), how many sidecars were timed (-1: one at a time), the answers kept for it. */
  private readonly listedAhead = new Map<string, { ready: Promise<void> | null; timed: number; answers: number }>();
  private answersListedAhead = 0;

  /** Nothing is taken ahead: nothing is looked up (a first run), the index is closed, or `statAhead` is off. */
  private nothingAhead(): boolean {
    return this.noResultsStored || this.closed || this.opts.statAhead === false;
  }

  /**
   * The image links of the walked folder `dirRel` read ahead, many at once, where reading one takes
   * a round trip (ScanCache.linksAhead, DirSnapshots.linksAhead). None when nothing is looked up (a
   * first run: the engine's threads resolve its links) or `statAhead` is off.
   */
  linksAhead(dirRel: string, entries: readonly WalkEntry[], imageExts: ReadonlySet<string>, signal?: AbortSignal): Promise<void> | null {
    if (this.nothingAhead()) return null;
    return this.dirs.linksAhead(dirRel, entries, imageExts, signal);
  }

  /** Those of a folder the walk listed ahead, read now on a file server (DirSnapshots.linksListedAhead): its `linksAhead` gets them. */
  linksListedAhead(dir: string, entries: readonly WalkEntry[], imageExts: ReadonlySet<string>, signal?: AbortSignal): void {
    if (this.nothingAhead() || signal?.aborted || this.recordsStoredFor(this.dirs.realOf(dir))) return;
    this.dirs.linksListedAhead(this.relOf(dir), entries, imageExts, signal);
  }

  /** Records of folder `real` are stored for its identity now: its records will likely serve it (no link of it is resolved then). */
  private recordsStoredFor(real: string): boolean {
    if (!this.reader || this.recordPrefix === null || !this.recordsListed) return false;
    const now = this.dirs.dirIdentity(real);
    if (!now || now.racy) return false;
    try {
      const v = this.reader.find(TABLE_RECORDS, folderKey(this.recordPrefix, real, false));
      return v !== null && identityEquals(now.id, v.buf, v.idAt);
    } catch {
      return false;
    }
  }

  /**
   * Look up one sidecar: its stored result (a fresh object, `path` set) or null, and what to
   * remember for recording its new result. A file the index holds a result of this run's option set
   * for is stat'ed (the only stat it gets here); one it does not (a first run, a new file, a command's
   * first run on an index other commands filled) is not: the thread that reads it takes its identity
   * from the descriptor (tasks/index-entry.ts), and `record` compares that with the stored entry's.
   */
  lookup(path: string, viaLink = false): { hit: FileInspection | null; pending: Pending } {
    const rel = this.relOf(path);
    this.seenCount++;
    const again = viaLink && !this.countsThroughLink(path, rel);
    const v0 = this.find(rel);
    if (!v0) {
      this.misses++;
      return { hit: null, pending: { rel, oldOff: 0, again } };
    }
    // The scratch's stat (the binding's numbers where trusted: no BigIntStats per file), copied out:
    // the pending lookup keeps it (a folder record's file identity, `record`'s check).
    if (this.idScratch.stat(path) !== STAT_FILE) {
      this.misses++;
      return { hit: null, pending: { rel, oldOff: 0, stored: true, again } };
    }
    const idBytes = Buffer.from(this.idScratch.bytes);
    let oldOff = 0;
    const v = v0; // still valid: a stat reads nothing of the index
    if (identityEquals(idBytes, v.buf, v.idAt)) {
      oldOff = v.off;
      const hit = storedResult(entryResult(v)[1]);
      if (hit) {
        hit.path = path;
        if (hit.error && hit.error.message.includes(PATH_MARK)) hit.error.message = hit.error.message.split(PATH_MARK).join(path);
        this.hits++;
        if (!again) this.ref(TABLE_FILES, v.off);
        return { hit, pending: { rel, idBytes, oldOff, again } };
      }
    }
    this.misses++;
    return { hit: null, pending: { rel, idBytes, oldOff, stored: true, again } };
  }

  /**
   * Is a link target's sidecar, met through a link, counted as met here? Not when its own folder's
   * walk counts it (under the root as given, keyed as that walk keys it, in a folder the walk
   * enters); else at its first meeting through a link only (`metThroughLinks`).
   */
  private countsThroughLink(path: string, rel: string): boolean {
    if (!rel.startsWith('../') && inWalkedFolder(path, this.rootAbs)) return false;
    if (this.metThroughLinks.has(rel)) return false;
    this.metThroughLinks.add(rel);
    return true;
  }

  /**
   * The engine's result for a sidecar looked up before: stored when the thread that read it made
   * its entry (tasks/index-entry.ts: identity by fstat of the descriptor it read through, trust rules, bytes).
   * True when stored; `p.idBytes` is then the identity stored.
   */
  record(p: Pending, result: FileInspection): boolean {
    // (A block comes with a first run's batches only, recorded by recordFirst; never left on a result.)
    const block = takeEntryBlock(result);
    if (block !== null) this.appendBlock(block);
    const entry = takeEntry(result);
    const id = entry === null ? null : madeIdentity(entry, TABLE_FILES);
    if (entry === null || id === null) {
      // Not storable this time (a read error, a racy file): the stored entry of a file that did not
      // change (the one looked up, stat'ed then) stays.
      if (p.oldOff > 0 && p.again !== true) this.ref(TABLE_FILES, p.oldOff);
      return false;
    }
    p.idBytes = id;
    // The entry as the reading thread made it (our result alone, numbered this.keyNo), copied as it
    // is: the other option sets' results of the file are entries of their own.
    if (this.spoolWith(TABLE_FILES, (spool) => spool.addMade(TABLE_FILES, [entry])) > 0) {
      this.recordedCount++;
      if (p.stored === true && p.again !== true) this.supersededCounts[TABLE_FILES]++; // its old entry (not referenced) is replaced
    }
    return true;
  }

  /**
   * The results of a run that looks nothing up (noResultsStored: a first run, or a command's first
   * on others' index), a record's at a time (its `n` from `from`; scan/pending.ts lookUp): each stored when the thread that read the file made its
   * entry, as `record` stores a miss. The entries go to the spool a few hundred at a time
   * (`appendFirst`): a first run's busiest thread then makes one call per few hundred entries, not
   * a few calls of cold code per entry.
   */
  recordFirst(results: readonly FileInspection[], from = 0, n = results.length - from): void {
    if (n === 0) return;
    this.seenCount += n;
    this.misses += n;
    for (let i = from; i < from + n; i++) {
      const r = results[i];
      // A batch's entries at once, on one of its results (tasks/index-entry.ts EntryBlock: a first run's, from the writer).
      const block = takeEntryBlock(r);
      if (block !== null) this.appendBlock(block);
      const entry = takeEntry(r);
      if (entry !== null) this.firstEntries.push(entry);
    }
    if (this.firstEntries.length >= FIRST_ENTRIES_PER_APPEND) this.appendFirst();
  }

  /** A batch's block of entries into the spool (the entries waiting before it first: the order they came in). */
  private appendBlock(block: EntryBlock): void {
    this.appendFirst();
    this.recordedCount += this.spoolWith(TABLE_FILES, (spool) => spool.addMadeBlock(TABLE_FILES, block.raw, block.ends));
  }

  /** The first run's entries not in the spool yet, appended (before anything reads the spool or its counts). */
  private appendFirst(): void {
    const entries = this.firstEntries;
    if (entries.length === 0) return;
    this.firstEntries = [];
    this.recordedCount += this.spoolWith(TABLE_FILES, (spool) => spool.addMade(TABLE_FILES, entries));
  }

  /** What the inspecting threads need to make this run's entries (InspectOptions.indexEntries). */
  get entryOptions(): EntryOptions | undefined {
    const opts: EntryOptions = { racyCutoffMs: this.racyCutoffMs, root: this.rootAbs, keyNo: this.keyNo };
    if (this.noResultsStored) opts.first = true; // every entry is stored as it comes (recordFirst): a block per batch
    return opts;
  }

  /** The scan's shape besides the inspect options (image extensions, link options): part of a folder-records key. */
  useRecords(scanShape: string): void {
    if (this.opts.folderRecords === false) return;
    this.recordPrefix = `${this.key}:${scanShape}`;
  }

  /** Records of new folders this run may still store (folder-records.ts RECORDS_PER_RUN_SHARE); null until first asked. */
  private recordBudget: number | null = null;

  /**
   * May this run store a new folder's records (`n` of them)? Counts them against the run's budget.
   * Not when no result of this option set was loaded: such a run inspects every file (another
   * command's index) and is as slow as a first run already; the next run stores them, over the
   * entries this one stores.
   */
  mayStoreRecords(n: number): boolean {
    if (this.loadedKeyNo < 0) return false;
    if (this.recordBudget === null) {
      let stands = 0;
      try {
        if (this.reader) stands = this.reader.fileCount(this.loadedKeyNo) + this.reader.count(TABLE_LINKS);
      } catch {
        // tables already released: the floor
      }
      this.recordBudget = Math.max(RECORDS_PER_RUN_FLOOR, Math.ceil(stands * RECORDS_PER_RUN_SHARE));
    }
    if (this.recordBudget <= 0) return false;
    this.recordBudget -= n;
    return true;
  }

  /** Folder records are on for this run (`useRecords` was called and they are not turned off). */
  get recordsOn(): boolean {
    return this.recordPrefix !== null;
  }

  private get recordsListed(): boolean {
    return this.loadedKeyNo >= 0 && (this.reader?.header.recordKeys ?? []).includes(this.recordPrefix!);
  }

  /** A walked folder (real path): other option sets' records of it survive a rewrite. */
  noteFolder(real: string): void {
    this.walked.push(real);
  }

  /**
   * The stored records of the folder `real`, whose identity now is `dirId` (taken before it was
   * listed), and which of them still hold: every file, folder and lookup they depend on as it was.
   * Null when there are none for this run's options, the folder changed, or they do not decode.
   */
  folderRecords(real: string): { blob: FolderBlob; valid: boolean[]; offs: number[] } | null {
    // Only under an option set the loaded file lists (as its file results are): the key holds the build.
    if (!this.reader || this.recordPrefix === null || !this.recordsListed) return null;
    const now = this.dirs.dirIdentity(real);
    if (!now || now.racy) return null;
    // Its base entry and the patch over it, if any (folder-records.ts).
    const found: [FolderChunk | null, number][] = [];
    try {
      for (const patch of [false, true]) {
        const v = this.reader.find(TABLE_RECORDS, folderKey(this.recordPrefix, real, patch));
        const c = v && identityEquals(now.id, v.buf, v.idAt) ? decodeFolder(entryPayload(v)) : null;
        found.push([c, c ? v!.off : 0]);
      }
    } catch (e) {
      this.distrust(e);
      return null;
    }
    const [[base, baseOff], [patch, patchOff]] = found;
    if (!base || base.meta.root !== this.rootAbs) return null;
    const blob = folderOf(base, patch);
    if (!blob) return null;
    const valid: boolean[] = new Array(blob.meta.n).fill(false);
    this.chunkValid(blob, base, valid);
    if (blob.patch) this.chunkValid(blob, blob.patch, valid);
    return { blob, valid, offs: [baseOff, blob.patch ? patchOff : 0] };
  }

  /** Which records of one stored entry still hold (into `valid`, by the folder's group numbers; a base record the patch stands in for is not looked at). */
  private chunkValid(blob: FolderBlob, chunk: FolderChunk, valid: boolean[]): void {
    const { meta, ids } = chunk;
    const nFiles = meta.files.length;
    // Per dependency: 0 not checked yet, 1 holds, 2 moved.
    const files = new Uint8Array(nFiles);
    const dirs = new Uint8Array(meta.dirs.length);
    const steps = new Uint8Array(meta.steps.length);
    const fileHolds = (i: number): boolean => {
      if (files[i] === 0) {
        const ok = this.idScratch.stat(meta.files[i]) === STAT_FILE && this.idScratch.equals(ids, i * IDENTITY_BYTES);
        files[i] = ok ? 1 : 2;
      }
      return files[i] === 1;
    };
    const dirId = (i: number) => ids.subarray((nFiles + i) * IDENTITY_BYTES, (nFiles + i + 1) * IDENTITY_BYTES);
    const dirHolds = (i: number): boolean => {
      if (dirs[i] === 0) {
        const d = this.dirs.dirIdentity(meta.dirs[i]);
        dirs[i] = d !== null && d.id.equals(dirId(i)) ? 1 : 2;
      }
      return dirs[i] === 1;
    };
    // A lookup holds while its folder is as it was (the folder's identity is taken once per run: a
    // game folder's links make thousands of lookups in a few photo folders); else its name is
    // checked (one lstat). dir-cache.ts stepHolds: the one rule.
    const stepHolds = (i: number): boolean => {
      if (steps[i] === 0) {
        const [d, name, stamp] = meta.steps[i];
        steps[i] = this.dirs.stepHolds(meta.dirs[d], dirId(d), name, stamp === null ? null : Buffer.from(stamp, 'latin1')) ? 1 : 2;
      }
      return steps[i] === 1;
    };
    const isPatch = chunk === blob.patch;
    groups: for (let j = 0; j < meta.lens.length; j++) {
      if (meta.lens[j] === 0) continue;
      const gi = groupOf(chunk, j);
      if (!isPatch && blob.over[gi] >= 0) continue;
      for (let d = meta.depAt[j]; d < meta.depAt[j + 1]; d++) {
        const ref = meta.deps[d];
        const kind = ref & 3;
        const i = ref >>> 2;
        if (kind === DEP_FILE ? !fileHolds(i) : kind === DEP_DIR ? !dirHolds(i) : kind === DEP_STEP ? !stepHolds(i) : false) continue groups;
      }
      valid[gi] = true;
    }
  }

  /** Records of a folder's stored entries were served: `whole` when all of them (the entries are this run's as they are). */
  served(hit: { blob: FolderBlob; valid: boolean[]; offs: number[] }, whole: boolean, folderAbs: string): void {
    const folderPrefix = folderAbs.endsWith('/') ? folderAbs : `${folderAbs}/`;
    // (A folder served in part resolves the links of the records made again: its answers stay.)
    if (whole) this.dirs.turnWithoutLinks(this.dirs.realOf(folderAbs));
    else this.servedInPart.set(this.servedBlobs.length, hit.valid.slice());
    this.servedBlobs.push(hit.offs[0]);
    this.servedBlobs.push(hit.offs[1] ?? 0);
    if (whole) {
      for (const off of hit.offs) if (off > 0) this.ref(TABLE_RECORDS, off);
      this.foldersServed++;
    }
    // A sidecar two records inspected (links to one target outside the root) is one hit.
    // Per entry by its file numbers (the base's and the patch's own), and by path across the two.
    const seen = new Set<number>();
    const patchFiles = new Set<string>();
    eachRecord(hit.blob, (c, j, gi) => {
      if (!hit.valid[gi]) return;
      const { meta } = c;
      const inPatch = c === hit.blob.patch;
      this.recordsServed++;
      for (let d = meta.depAt[j]; d < meta.depAt[j + 1]; d++) {
        const ref = meta.deps[d];
        const kind = ref & 3;
        if (kind === DEP_FILE) {
          const key = inPatch ? -1 - ref : ref;
          if (seen.has(key)) continue;
          seen.add(key);
          const file = meta.files[ref >>> 2];
          // (Hits count meetings, as `lookup` does; `filesServed`, the met count, each sidecar once.)
          this.hits++;
          this.seenCount++;
          // Not the folder's own: a link target's, counted as a lookup through a link counts it.
          if (!(file.startsWith(folderPrefix) && file.indexOf('/', folderPrefix.length) < 0) && !this.countsThroughLink(file, this.relOf(file))) continue;
          if (inPatch) patchFiles.add(file);
          this.filesServed++;
        } else if (kind === DEP_DIR || kind === DEP_STEP) {
          const dir = kind === DEP_DIR ? meta.dirs[ref >>> 2] : meta.dirs[meta.steps[ref >>> 2][0]];
          this.dirsServed.add(dir);
        } else {
          this.linksServed++;
          this.dirs.linksReused++;
        }
      }
    });
    // A file a served patch record and a served base record both inspected counts once.
    if (patchFiles.size > 0) {
      const base = hit.blob.base.meta;
      for (const ref of seen) if (ref >= 0 && patchFiles.has(base.files[ref >>> 2])) {
        this.filesServed--;
        this.hits--;
        this.seenCount--;
      }
    }
  }

  /** A folder's records, finished: stored for the next run (not when none of them could be). */
  addFolder(b: FolderRecordsBuilder): void {
    if (this.recordPrefix === null || !b.ok || !b.storesAny) return;
    // Per chunk: one whose records are as stored keeps its entry (no rewrite for a file that stays
    // unreadable, nor for the other chunks of a folder where one sidecar changed).
    for (const c of b.chunks()) {
      if (c.keep !== undefined) this.ref(TABLE_RECORDS, c.keep);
      else this.add(TABLE_RECORDS, folderKey(this.recordPrefix, b.real, c.patch), b.id, c.payload!);
    }
  }

  /**
   * Write the index: the on-disk file as it is now, with this run's entries over it; entries of
   * files this run did not see are dropped when `complete` (the whole tree was walked). Never throws:
   * an index that cannot be written is a warning.
   */
  async save(complete: boolean): Promise<void> {
    this.appendFirst();
    const { path } = this.location;
    let written = false;
    let entries = 0;
    let bytes = 0;
    let extended = false;
    let delta = false;
    const prune = complete && this.opts.prune !== false && !(this.reader !== null && this.allMet(this.reader));
    const pruneLoaded = prune && this.reader !== null;
    try {
      makeFoldersSync(dirname(path));
      // Killed or interrupted runs' spools and temp files go on every run, not only on one that
      // writes: after a Ctrl-C'd run with many misses, repeat runs where nothing changed kept its
      // spool (up to the size of the index) for good. One readdir of the index folder.
      await removeStaleTempFiles(dirname(path)).catch(() => undefined);
      if (this.unchanged(prune) && indexStamp(path) === this.loadedStamp) {
        // Every entry a hit, none gone, nothing new: the file on disk already says all this.
        entries = this.reader!.fileCount(this.loadedKeyNo);
        bytes = statSync(path).size + (this.reader!.hasDelta ? statSync(deltaPath(path)).size : 0);
      } else {
        // Renamed into place, not fsynced (store.ts IndexWriter.finish: a cache).
        const out = await withSidecarLock(
          path,
          async () => {
            try {
              return this.writeLocked(prune);
            } catch (e) {
              if (e instanceof OthersIndexMeanwhile) return null;
              throw e;
            }
          },
          { timeoutMs: LOCK_TIMEOUT_MS },
        );
        if (out === null) {
          this.warn(`index ${path} was written by another user or group set meanwhile: left as it is, this run's results not stored`);
          return; // (the finally below closes)
        }
        written = true;
        entries = out.entries;
        bytes = out.bytes;
        extended = out.extended;
        delta = out.delta === true;
      }
      writeLastRun(path, this.lastRun());
    } catch (e) {
      this.warn(`index ${path} not written: ${errors.fromFs(e, path).message}`);
    } finally {
      this.close();
    }
    const d = this.dirs;
    this.opts.onStats?.({ path, where: this.location.where, hits: this.hits, misses: this.misses, recorded: this.recordedCount, entries, bytes, written, dirsReused: d.hits, dirsRead: d.misses, linksReused: d.linksReused, linksResolved: d.linksResolved, foldersServed: this.foldersServed, recordsServed: this.recordsServed, pruned: written && pruneLoaded, extended, delta, fastStat: this.idScratch.fastUsed, statsAhead: this.idScratch.aheadUsed, linksAhead: d.linksAheadUsed });
  }

  /** This run's figures (`index status`, the index header). */
  private lastRun(): LastRun {
    return { at: new Date(this.started).toISOString(), hits: this.hits, misses: this.misses, recorded: this.recordedCount, sidecars: this.seenCount, records_served: this.recordsServed };
  }

  /** Release the files (the spool is removed). Safe to call twice. */
  close(): void {
    this.closed = true;
    this.firstEntries = [];
    this.reader?.close();
    this.reader = null;
    if (this.spool) {
      this.spool.abort();
      rmSync(this.spool.path, { force: true });
      this.spool = null;
    }
  }

  /** Nothing to write: no new entry, our option set already there and no other build's, and (pruning) every stored entry met. */
  private unchanged(prune: boolean): boolean {
    const r = this.reader;
    if (!r || this.spool || this.spoolFailed || this.loadedKeyNo < 0) return false;
    const build = buildId();
    if (r.header.keys.some((k) => k.build !== build)) return false;
    if (this.recordPrefix !== null && this.foldersServed > 0 && !(r.header.recordKeys ?? []).includes(this.recordPrefix)) return false;
    return !prune || this.allMet(r);
  }

  /**
   * Every stored entry was met (looked up, or stood for by served records; of the file entries, this
   * option set's): nothing to prune, so a
   * rewrite copies the loaded file's other entries in one sequential pass instead of finding each
   * one that served records stand for. Folder records of other option sets do not count: they are
   * kept while their folders are walked (a removed folder changes its parent: a rewrite).
   */
  private allMet(r: IndexReader): boolean {
    const sup = this.supersededCounts;
    let dirs = this.refCounts[TABLE_DIRS] + sup[TABLE_DIRS];
    for (const d of this.dirsServed) if (!this.dirs.metThisRun(d)) dirs++;
    const met = [this.refCounts[TABLE_FILES] + this.filesServed + sup[TABLE_FILES], dirs, this.refCounts[TABLE_LINKS] + this.linksServed + sup[TABLE_LINKS]];
    // Of the file entries, only this option set's: the others' are not this run's to prune.
    const stored = [this.loadedKeyNo < 0 ? 0 : r.fileCount(this.loadedKeyNo), r.count(TABLE_DIRS), r.count(TABLE_LINKS)];
    return met.every((n, t) => n >= stored[t]);
  }

  /** Folder-record prefixes of the written file: ours, and the others kept (of option sets kept). */
  private recordKeysOut(disk: IndexReader | null, finalNo: Map<string, number>, _prune: boolean): string[] {
    const out = this.recordPrefix !== null ? [this.recordPrefix] : [];
    for (const p of [...(disk?.header.recordKeys ?? []), ...(this.reader?.header.recordKeys ?? [])]) {
      if (!out.includes(p) && finalNo.has(p.slice(0, p.indexOf(':')))) out.push(p);
    }
    return out;
  }

  private writeLocked(prune: boolean): { entries: number; bytes: number; extended: boolean; delta?: boolean } {
    const { path, rootReal } = this.location;
    // Someone else may have written since we loaded: merge with what is there now.
    let disk: IndexReader | null = this.reader;
    let diskIsLoaded = true;
    if (indexStamp(path) !== this.loadedStamp) {
      diskIsLoaded = false;
      try {
        disk = IndexReader.open(path);
        // Written meanwhile by a run of another access: its file, left as it is (nothing merged into it).
        if (disk && isOthersAccess(disk.header.access)) {
          disk.close();
          throw new OthersIndexMeanwhile();
        }
        if (disk && disk.header.root !== rootReal) {
          disk.close();
          disk = null;
        }
      } catch (e) {
        if (e instanceof OthersIndexMeanwhile || ownedByAnother(path)) throw new OthersIndexMeanwhile();
        disk = null; // corrupt now: replaced by ours
      }
    }
    const now = Date.now();
    const build = buildId();
    // The option sets in the order the file lists them (a file entry's key number is its place
    // there: the same numbers let a rewrite copy entries as they are, or extend the file), ours appended
    // when new. Results of other builds (an upgrade, a changed rule) can never hit again: dropped,
    // not kept for LRU; beyond MAX_KEYS the least recently used go.
    const diskKeys = disk?.header.keys ?? [];
    const keys: KeyUse[] = [];
    for (const k of diskKeys) {
      if (k.key === this.key) keys.push({ key: this.key, used: now, build });
      else if (k.build === build) keys.push(k);
    }
    if (!keys.some((k) => k.key === this.key)) keys.push({ key: this.key, used: now, build });
    while (keys.length > MAX_KEYS) {
      let lru = -1;
      for (let i = 0; i < keys.length; i++) if (keys[i].key !== this.key && (lru < 0 || keys[i].used < keys[lru].used)) lru = i;
      keys.splice(lru, 1);
    }
    const lastRun = this.lastRun();
    if (disk === null && this.reader === null && this.spool?.indexed && this.runKeys.length === 1) {
      // Nothing stored before (a first run, or a rebuild): the spool holds every entry, numbered
      // as the new file numbers them; it becomes the index as it stands (no copy).
      const spool = this.spool;
      this.spool = null;
      try {
        const bytes = spool.finish({ format: 'image-sidecar-index', root: rootReal, access: accessIdentity(), keys, written: new Date(now).toISOString(), lastRun, totalHits: this.hits, recordKeys: this.recordPrefix !== null ? [this.recordPrefix] : [], id: newFileId() });
        renameSync(spool.path, path);
        rmSync(deltaPath(path), { force: true }); // of an earlier file (a new id: ignored already)
        return { entries: spool.fileCounts[0] ?? 0, bytes, extended: false }; // ours, the only option set
      } catch (e) {
        spool.abort();
        rmSync(spool.path, { force: true });
        throw e;
      }
    }
    const finalNo = new Map(keys.map((k, i) => [k.key, i]));
    const remapOf = (ks: readonly KeyUse[]) => ks.map((k) => (k.build === build || k.key === this.key ? (finalNo.get(k.key) ?? -1) : -1));
    const runRemap = remapOf(this.runKeys);
    const diskRemap = remapOf(diskKeys);
    const ourNo = finalNo.get(this.key)!;
    // The loaded file is read by offset from here on (this run's references), except where a step
    // below finds entries in it by key: its tables go before the new file's are built (at 10^6
    // sidecars each set is ~50 MB).
    const loadedFinds = prune && this.servedBlobs.length > 0;
    const recordsFound = prune && (disk ?? this.reader) === this.reader;
    const diskWalked = disk !== null && !prune;
    // A run that met (or replaced) every entry of the file it loaded, which is still the file on
    // disk, and numbers the option sets as it does, continues that file: its entries copied in one
    // pass, its tables taken over, this run's new entries appended. The entries they replace stay
    // as dead bytes (`garbage`) until they are a quarter of the file: then a full rewrite drops them.
    const loaded = this.reader;
    const extending =
      !prune &&
      diskIsLoaded &&
      loaded !== null &&
      disk === loaded &&
      runRemap.every((f, i) => f === i) &&
      diskRemap.every((f, i) => f === i) &&
      (loaded.header.garbage ?? 0) <= loaded.entriesBytes * MAX_GARBAGE_SHARE;
    // Rather than copy the loaded file, its delta takes this run's new entries (and the old delta's
    // that they do not replace), while it stays small beside the base.
    const asDelta = extending && loaded.baseId !== undefined && loaded.deltaBytes + (this.spool?.size ?? 0) <= loaded.entriesBytes * MAX_DELTA_SHARE;
    // The file on disk, as this run found it at the end (the loaded one when nobody wrote meanwhile),
    // and whether a whole walk keeps other option sets' file entries from it (read through: its tables stay).
    const source = disk ?? this.reader;
    const sourceRemap = disk ? diskRemap : runRemap;
    const othersKept = prune && source !== null && source.header.keys.some((k, no) => k.key !== this.key && (sourceRemap[no] ?? -1) >= 0);
    if (loaded && !extending && !loadedFinds && !(diskIsLoaded && diskWalked) && !(othersKept && source === loaded)) loaded.releaseTables(recordsFound ? [TABLE_RECORDS] : []);
    const target = asDelta ? deltaPath(path) : path;
    const tmp = join(dirname(path), tempNameFor(basename(target)));
    // A new file is sized for this run's entries (met and new); entries kept from the file on disk
    // beyond those (a partial walk's) grow it.
    const extended = extending && !asDelta ? IndexWriter.extend(tmp, loaded) : null;
    const expect = this.refCounts.map((n, t) => n + this.addCounts[t]);
    // The other option sets' file entries a rewrite copies from the file on disk (step 2).
    if (source !== null && ((disk !== null && !prune) || othersKept)) {
      source.header.keys.forEach((k, no) => {
        if (k.key !== this.key && (sourceRemap[no] ?? -1) >= 0) expect[TABLE_FILES] += source.fileCount(no);
      });
    }
    const out = asDelta ? IndexWriter.create(tmp) : (extended ?? IndexWriter.create(tmp, { expect }));
    try {
      // A file entry as the new file numbers its option set (dropped with its option set).
      const fileEntry = (v: EntryView, remap: readonly number[]) => {
        const [no, raw] = entryResult(v);
        const f = remap[no] ?? -1;
        if (f < 0) return;
        if (f === no) out.addRaw(v);
        else out.addFile(entryKey(v), entryIdentity(v), f, raw);
      };
      // One entry of the loaded file or the spool, as this run keeps it.
      const keep = (v: EntryView) => (v.table === TABLE_FILES ? fileEntry(v, runRemap) : out.addRaw(v));
      // 1. This run's entries, in the order it met them (the next run asks in that order); when
      // extending, only the new ones (the loaded file's are in the copy).
      for (let i = 0; i < this.refs.length; i++) {
        const ref = this.refs.at(i);
        let v: EntryView;
        try {
          if (ref > 0) {
            if (!loaded || extended || asDelta) continue; // distrusted meanwhile, or copied (or in the base under the delta)
            v = loaded.entryAt(ref);
          } else v = this.spool!.entryAt(-ref);
        } catch {
          continue;
        }
        keep(v);
      }
      if (this.spool?.indexed) {
        // A run that looked nothing up (noResultsStored) keeps every entry of its own in the spool, in
        // order. Continuing the file (its option sets numbered as this run numbers them) it appends
        // them as they are, in one pass; else each is taken as the new file numbers it.
        // (A failed copy fails the write: half an entry must not end the file's entries.)
        if (extended || asDelta) out.appendAll(this.spool);
        else {
          try {
            for (const v of this.spool.entries()) keep(v);
          } catch {
            /* the spool is ours: an unreadable one drops this run's entries, as a failed ref read does */
          }
        }
      }
      // 1b. The entries that served records stood for (files, links, folders they depend on), when
      // pruning (else step 2 copies them with the rest): the records served only (a folder served in
      // part names a removed file in a record made again; a patch stands in for base records).
      if (loaded && prune) {
        try {
          for (let i = 0; i < this.servedBlobs.length; i += 2) {
            if (this.servedBlobs.at(i) <= 0) continue;
            const base = decodeFolder(entryPayload(loaded.entryAt(this.servedBlobs.at(i))));
            const patchOff = this.servedBlobs.at(i + 1);
            const patch = patchOff > 0 ? decodeFolder(entryPayload(loaded.entryAt(patchOff))) : null;
            const blob = base && folderOf(base, patch);
            if (!blob) continue;
            const served = this.servedInPart.get(i);
            // [table, key in the new file, key in the loaded one] (a file's under its option set's number in each).
            const wanted: [number, string, string][] = [];
            eachRecord(blob, (c, j, gi) => {
              if (served !== undefined && !served[gi]) return;
              const { meta } = c;
              for (let d = meta.depAt[j]; d < meta.depAt[j + 1]; d++) {
                const ref = meta.deps[d];
                const kind = ref & 3;
                const at = ref >>> 2;
                if (kind === DEP_FILE) {
                  const rel = this.relOf(meta.files[at]);
                  wanted.push([TABLE_FILES, fileSlotKey(rel, ourNo), fileSlotKey(rel, this.loadedKeyNo)]);
                } else if (kind === DEP_LINK) wanted.push([TABLE_LINKS, meta.links[at], meta.links[at]]);
                else {
                  const dir = kind === DEP_DIR ? meta.dirs[at] : meta.dirs[meta.steps[at][0]];
                  wanted.push([TABLE_DIRS, dir, dir]);
                }
              }
            });
            for (const [t, key, loadedKey] of wanted) {
              if (out.has(t, key)) continue;
              const v = loaded.find(t, loadedKey);
              if (v) keep(v);
            }
          }
        } catch {
          /* a corrupt part: those entries are dropped (made again when needed) */
        }
      }
      // 1c. Other option sets' folder records of the folders walked (validate, stats and
      // format-stats each keep theirs); those of other builds are dropped.
      const otherPrefixes = (source?.header.recordKeys ?? []).filter((p) => p !== this.recordPrefix && finalNo.has(p.slice(0, p.indexOf(':'))));
      if (source && prune && otherPrefixes.length > 0) {
        try {
          for (const real of this.walked) {
            for (const prefix of otherPrefixes) {
              // Its base entry and its patch.
              for (const patch of [false, true]) {
                const key = folderKey(prefix, real, patch);
                if (out.has(TABLE_RECORDS, key)) continue;
                const v = source.find(TABLE_RECORDS, key);
                if (v) out.addRaw(v);
              }
            }
          }
        } catch {
          /* dropped */
        }
      }
      // 1d. A delta: the old delta's entries that this run's do not replace.
      if (asDelta) for (const v of loaded.deltaEntries()) if (!out.has(v.table, tableKeyOf(v))) out.addRaw(v);
      // 2. The entries on disk this run did not write: all of them when the walk saw only part of
      // the tree; after a whole walk (pruning), the other option sets' file entries (each command
      // prunes its own).
      if (source && ((disk && !prune) || othersKept) && !extended && !asDelta) {
        // (Pruning: files only, the other option sets'.)
        try {
          for (const v of source.entries()) {
            if (v.table === TABLE_FILES) {
              const f = sourceRemap[entryKeyNo(v)] ?? -1;
              if (f < 0 || (prune && f === ourNo) || out.has(TABLE_FILES, fileSlotKey(entryKey(v), f))) continue;
              fileEntry(v, sourceRemap);
            } else if (!prune && !out.has(v.table, entryKey(v))) out.addRaw(v);
          }
        } catch {
          /* the rest of a corrupt file is dropped */
        }
      }
      const header: IndexHeader = {
        format: 'image-sidecar-index',
        root: rootReal,
        access: accessIdentity(),
        keys,
        written: new Date(now).toISOString(),
        lastRun,
        totalHits: (disk?.header.totalHits ?? 0) + this.hits,
        recordKeys: this.recordKeysOut(disk, finalNo, prune),
        garbage: (extended || asDelta ? (loaded!.baseHeader.garbage ?? 0) : 0) + out.garbage,
        id: newFileId(),
      };
      if (asDelta) {
        // Live entries of base and delta together: the base's, and the delta's under a key the base lacks.
        const counts = [0, 1, 2, 3].map((t) => loaded.baseCount(t));
        const files = keys.map((_, no) => loaded.baseHeader.keys[no]?.files ?? 0);
        for (const v of out.entries()) {
          // (Taken from the view before anything else is read: the reads below may reuse its window.)
          const { table, off } = v;
          const key = tableKeyOf(v);
          const no = table === TABLE_FILES ? entryKeyNo(v) : -1;
          // An entry a later one of the same key replaced is not live (a file two records inspected, stored twice).
          if (!out.isLive(table, key, off) || loaded.baseHas(table, key)) continue;
          counts[table]++;
          if (no >= 0) files[no]++;
        }
        header.base = loaded.baseId;
        header.counts = counts;
        header.keys = keys.map((k, no) => ({ ...k, files: files[no] }));
        const bytes = out.finish(header);
        renameSync(tmp, target);
        return { entries: files[ourNo], bytes: statSync(path).size + bytes, extended: true, delta: true };
      }
      const bytes = out.finish(header);
      const entries = out.fileCounts[ourNo] ?? 0;
      renameSync(tmp, path);
      rmSync(deltaPath(path), { force: true }); // its entries are in this file now (a kill before this: the delta names the old file, ignored)
      return { entries, bytes, extended: extended !== null };
    } catch (e) {
      out.abort();
      rmSync(tmp, { force: true });
      throw e;
    } finally {
      if (!diskIsLoaded) disk?.close();
    }
  }
}

/** A file of another read access, written between this run's load and its save: left as it is. */
class OthersIndexMeanwhile extends Error {}

/** Results of another identity's access (an index written before identities were recorded: none to compare, taken as ours). */
function isOthersAccess(access: string | undefined): boolean {
  return access !== undefined && access !== accessIdentity();
}

/** The file at `path` belongs to another user than this process's effective one (false where there are no users, or nothing is there). */
function ownedByAnother(path: string): boolean {
  if (typeof process.geteuid !== 'function') return false;
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    return st !== undefined && st.uid !== process.geteuid();
  } catch {
    return false;
  }
}
