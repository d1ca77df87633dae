/**
 * The scan: walk → pair → engine → categorised records in tree order, and their summary. With a
 * cache (port.ts: the incremental index, opened by the caller) stored results skip the engine and
 * unchanged folders' records are served as stored.
 */
import { createHash } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { errors } from '../errors.js';
import type { Runtime } from '../engine/runtime.js';
import { mapJobs } from '../engine/pipeline.js';
import { DEFAULT_BATCH_BYTES, DEFAULT_BATCH_FILES } from '../tuning.js';
import { createRuntime } from '../engine/select.js';
import type { FileInspection, InspectItem, InspectOptions, ResolvedLink } from '../model/inspection.js';
import type { Category, Options } from '../types.js';
import { CATEGORIES } from '../types.js';
import { LinkResolver, realLinkPath, type LinkResolution } from '../discovery/resolve-link.js';
import { SKIP_DIR_NAMES } from '../discovery/own-folders.js';
import { imageExtensionSet, nfc } from '../discovery/extensions.js';
import { pairDirectory, type PairGroup } from '../discovery/pair.js';
import { nameRoot, shardFilter, type ShardFilter } from '../discovery/shard.js';
import { shownPath, walkTree, type WalkEntry, type WalkProblem } from '../discovery/walk.js';
import { relativeTo } from '../fs/rel-path.js';
import { watchThreadPool } from '../fs/thread-pool-watch.js';
import { finalizeRecord } from './finalize.js';
import { readSidecarRecord } from '../analysis/image-identity.js';
import {
  addLinkGroup,
  BUNDLE_ITEMS,
  BUNDLE_RECORDS,
  bundleJob,
  candidateOf,
  folderRecordDone,
  hasCandidate,
  isLinkGroup,
  keptRecordDone,
  LINKS_PER_JOB,
  linksJob,
  lookUp,
  mergeHits,
  resolvedBy,
  servedJob,
  sizeOf,
  type DirContext,
  type LinkDeps,
  type PendingRecord,
} from './pending.js';
import type { CacheFolders, FolderRecordsSink, OpenScanCache, ScanCache } from './port.js';
import { compareSeq, sidecarFileCount, type Finding, type ScanImage, type ScanRecord, type ScanProblem, type ScanSidecar, type ScanSummary, type TreeSeq } from './records.js';
import { NO_GROUP, TargetGroups } from './target-groups.js';


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
  /** Every problem (`summary.problems` keeps the first MAX_PROBLEMS_KEPT in tree order), as it comes. */
  onProblem?: (p: ScanProblem) => void;
  /** A walked folder (as walked) holds temp-file names (a writer's, live or killed: fs/temp-files.ts), as the walk meets it. */
  onTempFiles?: (dir: string) => void;
}

const MAX_PROBLEMS_KEPT = 200;

/** A record's part of the work the engine is sized by: its items, and the symlinked images it resolved itself (a job of link groups has its links as its items). */
function workOf(rec: PendingRecord): number {
  let n = rec.items.length;
  if (rec.linkGroups === undefined) for (let i = 0; i < rec.images.length; i++) if (rec.images[i].isSymlink) n++;
  return n;
}

/** Scans started in this process: each one's number (DirContext.scanId). */
let scansStarted = 0;

/** A scan in progress: iterate it for records; `summary` is final once iteration ends. */
export class ScanSession implements AsyncIterable<ScanRecord> {
  readonly summary: ScanSummary;
  /** Tree position of each entry of `summary.problems` (merging shard outputs orders them by it). */
  readonly problemSeqs: TreeSeq[] = [];
  private started = false;
  private readonly shard: ShardFilter | null;
  /**
   * The work the engine is sized by (what the report's `engine` names, the same with the index as
   * without): every candidate sidecar inspected and every symlinked image resolved; `run`, with the
   * index, the part that goes to the engine (its misses): threads start by it.
   */
  private readonly work = { total: 0, run: 0 };
  /** The link-target folders of the running scan (pendingRecords sets it). */
  private targetDirs: TargetGroups | null = null;
  /** The cache's folders in the running scan (pendingRecords sets them): link resolutions made with them are recorded for the folder's records. */
  private cacheDirs: CacheFolders | null = null;
  constructor(
    readonly root: string,
    private readonly opts: ScanOptions = {},
    /** Opens the cache when `opts.index` asks for one (none: the scan runs without). */
    private readonly openCache: OpenScanCache | null = null,
  ) {
    // A scan awaits the file system throughout (its walk, the index's files): a lost
    // wake-up of libuv's pool must not hang it (fs/thread-pool-watch.ts).
    watchThreadPool();
    this.imageExts = imageExtensionSet(opts.imageExtensions);
    this.shard = shardFilter(opts.shard, this.imageExts);
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
    const run = this.run();
    return { [Symbol.asyncIterator]: () => run };
  }

  private async *each(batches: AsyncIterable<ScanRecord[]>): AsyncGenerator<ScanRecord> {
    for await (const batch of batches) for (let i = 0; i < batch.length; i++) yield batch[i];
  }

  /** The index's checks stat through Node's binding when the scan's options or the index's ask for it and neither turns it off. */
  private indexFastStat(): boolean {
    const index = (this.opts.index || {}).fastStat;
    return this.opts.fastStat !== false && index !== false && (this.opts.fastStat === true || index === true);
  }

  /** The inspect options every file of this scan gets (the index's options key is made of them). */
  private inspectOptions(): InspectOptions {
    const opts = this.opts;
    return { ...opts.inspect, maxFileSize: opts.maxFileSize, maxDepth: opts.maxDepth, keyring: opts.keyring, accel: opts.accel, fastStat: opts.fastStat, readAhead: opts.readAhead };
  }

  /** Iterate to the end, discarding records; returns the summary. */
  async finish(): Promise<ScanSummary> {
    for await (const _ of this) void _;
    return this.summary;
  }

  private readonly onProblem = (path: string, code: string, message: string, seq: TreeSeq): void => this.problem(path, code, message, seq);

  /** The image extensions of this scan (pairing, shards, the left-behind rule). */
  private readonly imageExts: ReadonlySet<string>;

  /** The image a stem file records (finalize.ts: only for a record whose image has files in both namings), read under the scan's limits and keys. */
  private readonly recordedNameOf = (path: string): string | null => readSidecarRecord(path, this.opts.keyring, this.opts)?.name ?? null;

  /**
   * Problems are kept in tree order, the first MAX_PROBLEMS_KEPT of it: they come as the walk meets
   * them (a name that is not UTF-8) or as records are finished (an unreadable file), and which comes
   * first depends on how far the walk runs ahead — and on what the index serves.
   */
  private problem(path: string, code: string, message: string, seq: TreeSeq): void {
    this.summary.complete = false;
    this.summary.problemCount++;
    this.opts.onProblem?.({ path, code, message });
    const seqs = this.problemSeqs;
    let at = seqs.length;
    while (at > 0 && compareSeq(seqs[at - 1], seq) > 0) at--;
    if (at >= MAX_PROBLEMS_KEPT) return;
    seqs.splice(at, 0, seq);
    this.summary.problems.splice(at, 0, { path, code, message });
    if (seqs.length > MAX_PROBLEMS_KEPT) {
      seqs.pop();
      this.summary.problems.pop();
    }
  }

  private async *run(): AsyncGenerator<ScanRecord[]> {
    const opts = this.opts;
    const root = this.summary.root;
    await assertDirectory(root);
    const inspectOpts = this.inspectOptions();
    const ownRuntime = !opts.runtime;
    const runtime: Runtime = opts.runtime ?? createRuntime(opts);
    let closed = false;
    // Only an inspection that keeps the decoded data holds memory in proportion to file sizes.
    const weigh = inspectOpts.keepData || inspectOpts.dataJson ? (item: InspectItem) => item.size ?? 0 : undefined;
    let emitted = 0;
    let bytesRead = 0;
    // A shard sees only its own files: it never drops the entries of the others (they merge).
    const indexOpts = opts.index ? { ...opts.index, fastStat: this.indexFastStat() } : null;
    const index = indexOpts && this.openCache ? this.openCache(root, inspectOpts, this.shard ? { ...indexOpts, prune: false } : indexOpts) : null;
    // Without the index (or with one that holds nothing yet) every candidate goes to the engine:
    // threads boot while the walk starts. Otherwise the first miss warms the runtime (a warm index
    // may need no thread at all).
    if (!index || index.noResultsStored) runtime.warm?.();
    try {
      const source = this.pendingRecords(root, weigh !== undefined, index, runtime);
      // With the index, the threads that read the files make their entries (tasks/index-entry.ts).
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
            if (job.folder) keptRecordDone(job.folder, job.gis![k], rec, index!);
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
          if (index) index.dirs.resolvedElsewhere(results.length);
          const resolution = resolvedBy(results);
          let sends = 0;
          let items = 0;
          const built = groups.map(({ group, seq }) => {
            const b = this.pending(group, seq, dir, resolution, this.targetDirs!);
            if (index) lookUp(b, index, weigh !== undefined);
            else if (weigh) for (const it of b.items) it.size = sizeOf(it.path);
            sends += (b.send ?? b.items).length;
            items += b.items.length;
            return b;
          });
          // Their links were the job's items; their targets' sidecars are work too (as for a record pending() resolved itself).
          this.work.total += items;
          if (index) this.work.run += sends;
          runtime.expect?.(this.work.total, index ? this.work.run : 0);
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
      // The threads are done: closed before the index is written, so that their memory is given
      // back before the writer builds its tables (the end of a run is its peak).
      if (ownRuntime && index) {
        closed = true;
        await runtime.close();
      }
      if (index) await index.save(this.summary.complete);
    } finally {
      index?.close(); // an abandoned run: its spool is removed, the index file left as it was
      this.summary.engine = { kind: runtime.kind, workers: runtime.workers };
      if (ownRuntime && !closed) await runtime.close();
    }
  }

  /** Walk → pair → one pending record per group, in tree order (the pipeline's source). */
  private async *pendingRecords(root: string, sized: boolean, index: ScanCache | null, runtime: Runtime): AsyncGenerator<PendingRecord> {
    const opts = this.opts;
    const rootReal = await realpath(root);
    const imageExts = this.imageExts;
    const targetDirs = new TargetGroups(imageExts, this.shard !== null && this.shard.spec.count > 1, index?.dirs);
    this.targetDirs = targetDirs;
    // With the index: resolutions kept while every lookup they made still names the same inode (dir-cache.ts).
    this.cacheDirs = index?.dirs ?? null;
    const links: LinkResolution = index ? index.dirs : new LinkResolver(rootReal);
    const relOfReal = relativeTo(rootReal);
    const inspectLinkTargets = opts.inspectLinkTargets === true;
    const resolveOnlyInRootLinks = opts.inRootLinkRecords === 'resolve';
    // Items per bundle: no more than a batch holds (mapJobs' batchFiles).
    const bundleItems = Math.min(BUNDLE_ITEMS, Math.max(1, opts.batchSize ?? DEFAULT_BATCH_FILES));
    // Then a folder of links only (a game folder) costs this thread nothing but the walk: the
    // engine resolves them, in parallel and while earlier batches are read, and this thread pairs
    // their targets when the records come back (not when link targets are inspected for this
    // scan: each record would wait for a second round trip). With the index, only in a run that
    // stores no link: one that looks nothing up and found no link stored (a first run, or a
    // command's first run on an index other commands' first runs filled). The run after it
    // resolves them here and stores them (tasks/link-entry.ts; docs/INDEX.md "Folders and links").
    const linksByEngine = !inspectLinkTargets && (!index || (index.noResultsStored && index.dirs.noLinkStored));
    const scanId = ++scansStarted;
    const shard = this.shard;
    // Walk steps number folders (and folders that could not be read) in walk order: every shard
    // walks the whole tree, so a step means the same folder on every shard.
    let step = 0;
    const work = this.work;
    let warmed = false;
    // With the index: look a record up, and size the engine by the whole work, as without the index;
    // threads start by the work that runs (hits never start a thread; a few misses run in-process).
    const lookUpAndSize = (rec: PendingRecord) => {
      work.total += workOf(rec);
      if (rec.linkGroups !== undefined) work.run += rec.items.length;
      else if (lookUp(rec, index!, sized)) work.run += (rec.send ?? rec.items).length;
      runtime.expect?.(work.total, work.run);
      if (work.run > 0 && !warmed) {
        warmed = true;
        runtime.warm?.();
      }
    };
    const ready = (rec: PendingRecord) => {
      if (index) lookUpAndSize(rec);
      else {
        if (sized) for (const it of rec.items) it.size = sizeOf(it.path);
        // The report's engine is sized by the same work as with the index (threads start by what the pipeline runs).
        work.total += workOf(rec);
        runtime.expect?.(work.total, 0);
      }
      return rec;
    };
    const dirContextOf = (rel: string): DirContext => ({ rel, relPrefix: rel === '' ? '' : `${rel}/`, rootReal, scanId, relOfReal, inspectLinkTargets, resolveOnlyInRootLinks });
    // Folder records (folder-records.ts): not for a shard (it sees part of each folder).
    if (index !== null && !shard) index.useRecords(scanShape(imageExts, inspectLinkTargets, resolveOnlyInRootLinks));
    const records = index !== null && index.recordsOn;
    const dirs = index?.dirs;
    const walkOpts = {
      skipDirNames: SKIP_DIR_NAMES,
      listingCache: index?.dirs,
      // A folder read ahead has its sidecar stats taken then, on a file server: several folders'
      // round trips overlap (its turn, below, takes them). A shard looks up its own names only.
      onListedAhead:
        index && !shard
          ? (path: string, entries: readonly WalkEntry[]) => {
              index.statListedAhead(path, entries, listedAhead.signal);
              index.linksListedAhead(path, entries, imageExts, listedAhead.signal);
            }
          : undefined,
      // With the index too: a folder its links' targets were paired in was listed then (its identity
      // taken before, as the walk's own listing would), and is not read again.
      listedByRun: (path: string) => targetDirs.listingOf(path),
      onProblem: (p: WalkProblem) => {
        const at = step++;
        // Every shard is incomplete (its files may be in there); one shard reports the problem.
        if (shard && !shard.ownsKey(nfc(toPosix(relative(root, p.path))))) this.summary.complete = false;
        else this.problem(p.path, p.error.code, p.error.message, [at, -1]);
      },
      signal: opts.signal,
    };
    // Stats taken for folders listed ahead stop with the walk (a scan ended early leaves none in
    // flight behind it), or with the scan's signal.
    const listedAhead = new AbortController();
    const stopListedAhead = () => listedAhead.abort();
    opts.signal?.addEventListener('abort', stopListedAhead, { once: true });
    const listings = endingWith(walkTree(root, walkOpts), () => {
      stopListedAhead();
      opts.signal?.removeEventListener('abort', stopListedAhead);
    });
    for await (const listing of listings) {
      const at = step++;
      this.summary.directories++;
      // The folder's sidecar stats, many at once where each is a round trip (a file server), before
      // its records are checked or its files looked up. A shard looks up its own names only, one at a time.
      const ahead = index && !shard ? index.statAhead(listing.path, listing.entries, listedAhead.signal) : null;
      if (ahead !== null) {
        await ahead;
        opts.signal?.throwIfAborted();
      }
      let builder: FolderRecordsSink | null = null;
      const real = records ? dirs!.realOf(listing.path) : '';
      if (records) {
        index.noteFolder(real);
        const stored = index.folderRecords(real);
        // Records made again need their groups: the names of each one's partition root paired again
        // from the folder's listing (unchanged: the same groups), else the whole folder (a count that
        // differs means the entry is not this folder's, never served).
        const whole = stored !== null && stored.valid.every(Boolean);
        // Records not served are decoded too (their names find their groups), then dropped.
        const recs = stored && index.storedRecords(stored, listing.path, listing.rel);
        const regroup = stored && recs && !whole ? (groupsAgain(listing, imageExts, stored.valid, recs) ?? pairDirectory(listing, imageExts).groups) : null;
        if (stored && recs && (regroup === null || regroup.length === stored.n)) {
          const { valid } = stored;
          index.served(stored, whole, listing.path);
          this.summary.filesIgnored += stored.ignored;
          this.summary.tempFiles += stored.temp;
          if (stored.temp > 0) opts.onTempFiles?.(listing.path);
          if (!whole) builder = index.folderSink(real, listing.path, listing.rel, dirs!.dirIdentity(real)!.id, stored.ignored, stored.temp, stored.n, [...stored.pos], stored);
          const dir = dirContextOf(listing.rel);
          // Stored records served as they are go down the pipeline as one job per run of them (the
          // whole folder when nothing moved): each job costs a few promise hops through the
          // generators, more than serving a record.
          let run: PendingRecord | null = null;
          for (let gi = 0; gi < stored.n; gi++) {
            const seq: TreeSeq = [at, stored.pos[gi]];
            const ready = valid[gi] ? recs[gi] : undefined;
            if (ready !== undefined) {
              ready.seq = seq;
              // Size the engine by the whole work, as for a record made again (the report names
              // the engine sized for every file, served or not: the same as --no-index).
              for (const sc of ready.sidecars) if (sc.inspection.status !== 'unchecked') work.total++;
              for (const img of ready.images) if (img.isSymlink) work.total++;
              runtime.expect?.(work.total, work.run);
              if (run === null) {
                run = { ...servedJob(seq, listing.rel), readyMany: [] };
                if (builder) {
                  run.folder = builder;
                  run.gis = [];
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
      // The folder's image links, read ahead many at once where each read is a round trip (a file
      // server), before they are resolved one by one below. Not for a folder its records serve.
      const linksAhead = index && !shard ? index.linksAhead(listing.rel, listing.entries, imageExts, opts.signal) : null;
      if (linksAhead !== null) {
        await linksAhead;
        opts.signal?.throwIfAborted();
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
      if (pairing.tempFiles.length > 0) opts.onTempFiles?.(listing.path);
      // Record positions in the folder, equal on every shard: unaddressable names (by entry index),
      // then groups with images (by their first image), then lone sidecars (by their first sidecar)
      // — the order pairDirectory gives the groups of the whole folder.
      const size = listing.entries.length;
      const firstOf = (xs: readonly { name: string }[]) => Math.min(...xs.map((x) => position!.get(x.name)!));
      const groupPosition = (g: PairGroup, gi: number) => (position === null ? size + gi : g.images.length > 0 ? size + firstOf(g.images) : 2 * size + firstOf(g.sidecars));
      for (const [ui, u] of pairing.unaddressable.entries()) {
        const seq: TreeSeq = [at, position === null ? ui : listing.entries.indexOf(u)];
        const p = join(listing.path, u.name);
        const shown = shownPath(listing.path, u);
        this.problem(p, 'UNADDRESSABLE', `${shown}: file name is not valid UTF-8`, seq);
        yield { seq, dir: listing.rel, images: [], candidates: [], items: [], localSidecars: 0, extraFiles: 1, forced: 'unreadable',
          findings: [{ code: 'unreadable', message: `${shown}: file name is not valid UTF-8; it cannot be addressed`, paths: [p] }] };
      }
      const groups = pairing.groups;
      // A folder's records are stored over a listing an earlier run stored (dir-cache.ts
      // holdsListing): neither the first run nor the second (which stores listings and links) pays
      // for writing them; the runs after it store them, a share of the tree each (mayStoreRecords).
      if (records && pairing.unaddressable.length === 0 && groups.length > 0 && dirs!.holdsListing(real)) {
        const now = dirs!.dirIdentity(real);
        if (now && !now.racy && index.mayStoreRecords(groups.length)) builder = index.folderSink(real, listing.path, listing.rel, now.id, pairing.ignored, pairing.tempFiles.length, groups.length, groups.map((g, gi) => groupPosition(g, gi)));
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
    let viaLink: string[] | undefined;
    let shared = false;
    const relPrefix = dir.relPrefix;
    // inRootLinkRecords 'resolve': links only, all into the root (or broken): no target pairing.
    let resolved: ResolvedLink[] | null = null;
    let leaveTargets = false;
    // With the index's folders: what the links relied on, for the folder's stored records.
    const snapshots = this.cacheDirs !== null && links === this.cacheDirs ? this.cacheDirs : null;
    let linkDeps: LinkDeps | false | undefined;
    const resolveLink = (img: { path: string; name: string }): ResolvedLink => {
      const r = links.resolve(img.path, dir.rel, img.name);
      if (snapshots && linkDeps !== false && !snapshots.lastComplete) linkDeps = false;
      if (snapshots && linkDeps !== false) {
        // Every lookup is kept, even in a folder changed just now (racy): that one is checked by an
        // lstat on every run instead of by its folder's identity (folderRecordDone).
        linkDeps ??= { steps: [], dirs: [], links: [] };
        linkDeps.steps.push(...snapshots.lastSteps);
        linkDeps.links.push(realLinkPath(dir.rootReal, dir.rel, img.name));
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
            const rel = dir.relOfReal(c.path);
            // A sidecar of the target that is one of this group's own files in this folder (the
            // target is an image of this very group: IMG_1.png -> IMG_1.jpg beside it) is taken
            // below, as local. Taken as the target's, it was left to "the target's own record",
            // which is this one: never inspected, missing from every command's output.
            if (rel === relPrefix + c.name && groupHasSidecar(group, c.name)) continue;
            flags ??= candidates.map(() => 0);
            candidates.push(candidateOf(c, rel, 'target'));
            flags.push(outside ? 0 : dir.inspectLinkTargets ? 2 : 3);
            if (outside || dir.inspectLinkTargets) (viaLink ??= []).push(c.path);
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
    // What the engine inspects: the candidates not 'unchecked' (flags bit 1), in order.
    const namesImage = images.length > 1;
    const items: InspectItem[] = [];
    for (let i = 0; i < candidates.length; i++) {
      if (flags && (flags[i] & 1) !== 0) continue;
      const item: InspectItem = { path: candidates[i].path, name: candidates[i].name };
      if (namesImage) item.namesImage = true;
      items.push(item);
    }
    const rec: PendingRecord = { seq, dir: dir.rel, images, candidates, flags, items, localSidecars: group.sidecars.length, extraFiles: 0, findings };
    if (linkDeps !== undefined) rec.linkDeps = linkDeps;
    if (viaLink !== undefined) rec.viaLink = viaLink;
    if (shared) rec.forced = 'ambiguous';
    if (group.lookalikes) rec.lookalikes = group.lookalikes;
    return rec;
  }

  /**
   * `finalize` with the index: a record's results (its own `n` from `from`) recorded (a first run,
   * nothing looked up) or merged with its hits.
   */
  private finalizeWith(index: ScanCache | null, p: PendingRecord, results: readonly FileInspection[], from = 0, n = results.length - from): ScanRecord {
    if (index === null) return this.finalize(p, results, from);
    if (p.hits === undefined) {
      if (index.noResultsStored) index.recordFirst(results, from, n);
      return this.finalize(p, results, from);
    }
    return this.finalize(p, mergeHits(p, from === 0 && n === results.length ? results : results.slice(from, from + n), index));
  }

  /** The record of `p` with its inspections (finalize.ts), counted. */
  private finalize(p: PendingRecord, results: readonly FileInspection[], from = 0): ScanRecord {
    const rec = finalizeRecord(p, results, from, this.onProblem, this.recordedNameOf, this.imageExts);
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

/** `name` is one of the group's own sidecars (in the walked folder). */
function groupHasSidecar(group: PairGroup, name: string): boolean {
  for (let i = 0; i < group.sidecars.length; i++) if (group.sidecars[i].name === name) return true;
  return false;
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

/** What shapes a folder's records besides the inspect options: pairing and link options. */
function scanShape(imageExts: ReadonlySet<string>, inspectLinkTargets: boolean, resolveOnly: boolean): string {
  return createHash('sha256').update(JSON.stringify([[...imageExts].sort(), inspectLinkTargets, resolveOnly])).digest('hex').slice(0, 16);
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

function isInside(p: string, rootReal: string): boolean {
  return p === rootReal || p.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep);
}

function toPosix(p: string): string {
  return sep === '/' ? p : p.split(sep).join('/');
}

/** `it`'s values, then `end()` once it is done or left (a loop that breaks, a throw). */
async function* endingWith<T>(it: AsyncIterable<T>, end: () => void): AsyncGenerator<T> {
  try {
    yield* it;
  } finally {
    end();
  }
}
