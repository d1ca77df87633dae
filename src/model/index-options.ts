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
   * off (the CLI: IMAGE_SIDECAR_INDEX_FOLDER_RECORDS=off). Output is the same either way (a parity test).
   */
  folderRecords?: boolean;
  /** Called after the index is written (or not) with this run's figures. */
  onStats?: (stats: IndexRunStats) => void;
  /**
   * Tree memos (incremental/tree-memo.ts): a repeat run over an unchanged tree answered from the command's
   * stored output, a run after a few sidecars changed by making their records again. On by default
   * (with folder records); false turns them off (the CLI: IMAGE_SIDECAR_INDEX_MEMO=off). Output is
   * the same either way.
   */
  memo?: boolean;
  /**
   * The stat of every file a warm run checks through Node's own stat binding (fs/identity.ts
   * IdentityScratch), trusted after it agreed with fs.statSync in this process. On by default;
   * false: fs.statSync only (the CLI: IMAGE_SIDECAR_FAST_STAT=off; Options.fastStat: false too). Results are the same.
   */
  fastStat?: boolean;
  /**
   * Look things up only: nothing recorded, the index not written (a tree memo's patch: the records
   * it makes again are kept in the memo's delta, and the changed sidecars' entries are made by the
   * next run that reads them). Not a CLI option.
   */
  lookupOnly?: boolean;
  /**
   * Sidecars (paths as the scan names them) a tree memo just found changed, for its patch: looked
   * up as misses, without a find in the index or a stat. A patch writes no entries (lookupOnly), so
   * the index holds none of their identities now but by another run's write, and reading such a
   * file again gives what that entry holds: the output is the same. Not a CLI option.
   */
  knownChanged?: ReadonlySet<string>;
}

export interface IndexRunStats {
  path: string;
  where: IndexLocation['where'];
  hits: number;
  misses: number;
  recorded: number;
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
  /** A tree memo answered the run (incremental/tree-memo.ts): the other figures are those of the run that made it. */
  memo?: boolean;
  /** Records a tree memo's patch made again (the sidecars they read changed); absent: answered whole. */
  memoPatched?: number;
  /**
   * With memoPatched: of those records, the ones paired again from the names the memo keeps of
   * them (no folder listed, nothing looked up in the index); the others' folders were listed (read,
   * or the index's listings) and their keys' names paired, as a shard does.
   */
  memoPatchedByNames?: number;
  /** The warm checks' stats went the fast path (fs/identity.ts IdentityScratch; off: `fastStat: false`). */
  fastStat?: boolean;
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
