/** The incremental index's library options and the figures of one run (`Options.index`, incremental/scan-index.ts). */

/** Library options of the index (`ScanOptions.index`). */
export interface IndexOptions extends IndexLocationOptions {
  /**
   * Drop entries of files this run did not see (default true; the scan also requires a complete
   * walk). A run that sees only part of the tree on purpose (a shard) passes false.
   */
  prune?: boolean;
  /**
   * Files whose ctime is this close to the run's start (or later) are not recorded: a same-size
   * rewrite within the file system's timestamp granularity could keep every stat field.
   * Default 2000 ms; 0 records every file (tests).
   */
  racyMarginMs?: number;
  /** Warnings (corrupt or foreign index, index not writable): the run goes on without it. */
  onWarning?: (message: string) => void;
  /**
   * Folder records (incremental/folder-records.ts): a warm run serves unchanged folders' finished records, so it
   * neither pairs nor resolves links nor decodes one result per file. On by default; false turns them
   * off. Output is the same either way (a parity test).
   */
  folderRecords?: boolean;
  /** Called after the index is written (or not) with this run's figures. */
  onStats?: (stats: IndexRunStats) => void;
  /**
   * The stat of every file a warm run checks through Node's own stat binding (fs/identity.ts
   * IdentityScratch), trusted after it agreed with fs.statSync in this process. True, or
   * Options.fastStat true (the CLI's unless IMAGE_SIDECAR_FAST_STAT=off), asks for it; false turns it off. Results are the same.
   */
  fastStat?: boolean;
  /**
   * A warm run's sidecar stats many at once where a folder's first two took a round trip (a file
   * server: IdentityScratch.statAhead), and the links it resolves read many at once where a
   * folder's first took one (LinkEntries.readAhead); false makes every call one at a time, as on a
   * local disk. The CLI's unless IMAGE_SIDECAR_STAT_AHEAD=off. Results are the same.
   */
  statAhead?: boolean;
}

export interface IndexRunStats {
  path: string;
  where: IndexLocation['where'];
  hits: number;
  misses: number;
  recorded: number;
  /** File entries of this run's option set in the index it leaves (`index status` counts every option set's). */
  entries: number;
  bytes: number;
  written: boolean;
  /** Folders whose listing came from the index (unchanged) / was read; link resolutions reused / made. */
  dirsReused: number;
  dirsRead: number;
  linksReused: number;
  linksResolved: number;
  /** Folders whose stored records were all served / records served without pairing or per-file lookups. */
  foldersServed: number;
  recordsServed: number;
  /**
   * The rewrite dropped entries this run did not meet (removed files), finding the ones it keeps by
   * key; false: every stored entry was met or replaced, and the file was copied in one pass.
   */
  pruned: boolean;
  /**
   * The rewrite continued the loaded file (its entries copied in one pass, this run's new ones
   * appended after them) instead of writing every entry again.
   */
  extended: boolean;
  /** This run's new entries went to the delta file over the loaded file (which was not copied). */
  delta?: boolean;
  /** The warm checks' stats went the fast path (fs/identity.ts IdentityScratch; off: `fastStat: false`). */
  fastStat?: boolean;
  /**
   * Sidecar stats taken ahead, many at once, and used, because a folder's first two stats each took
   * a round trip (a file server: IdentityScratch.statAhead); 0 where stats take microseconds (a
   * local disk), as they are then taken one at a time.
   */
  statsAhead?: number;
  /**
   * Link texts and link targets' lstats read ahead, many at once, and used, because reading a
   * folder's first link took a round trip (a file server: DirSnapshots.linksAhead); 0 on a local disk.
   */
  linksAhead?: number;
}

export interface IndexLocationOptions {
  /** An explicit index file (`--index PATH`). */
  path?: string;
  /** The user's cache directory ($XDG_CACHE_HOME, else ~/.cache), for read-only roots. */
  cacheDir?: string;
}

export interface IndexLocation {
  path: string;
  /**
   * 'root': under the library; 'cache': the cache directory (read-only root, or `.image-sidecar`
   * not a folder of the root); 'explicit': --index; 'none': no place that is safe (no index).
   */
  where: 'root' | 'cache' | 'explicit' | 'none';
  rootReal: string;
  /** Why the root's own place was not used, when that is not simply a read-only root. */
  note?: string;
}
