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
 * A result is recorded only when it can be trusted later: the file was seen (stat) before it was
 * read, and the result's size matches; not unreadable (transient); not decrypted content (an
 * encrypted sidecar's summary never lands in a plaintext file; with keys, no corrupt verdict: it may
 * be a failed decryption); and the file's ctime is older than the run's start by a margin ("racy"
 * files: a same-size rewrite within the file system's timestamp granularity after our read could
 * keep every stat field).
 */
import { mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { serialize } from 'node:v8';
import { errors } from '../errors.js';
import { relativeTo } from '../fs/rel-path.js';
import { writeFileAtomicSync } from '../fs/atomic-write.js';
import { fsyncDir } from '../fs/dir-sync.js';
import { withSidecarLock } from '../fs/lock.js';
import { removeStaleTempFiles, tempNameFor } from '../fs/temp-files.js';
import type { FileInspection, InspectOptions } from '../tasks/inspect.js';
import { identityBytes, identityEquals, statIdentity, type FileIdentity } from './identity.js';
import { buildId, isCacheable, optionsKey } from './key.js';
import { DirSnapshots, type EntrySink } from './dir-cache.js';
import { resolveIndexLocation, type IndexLocation, type IndexLocationOptions } from './location.js';
import {
  decodeResult,
  entryIdentity,
  entryKey,
  entryPayload,
  entryResult,
  entryResults,
  filePayload,
  IndexFormatError,
  IndexReader,
  IndexWriter,
  MAX_KEYS,
  TABLE_FILES,
  type EntryView,
  type IndexHeader,
  type KeyUse,
} from './store.js';

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
  /** Called after the index is written (or not) with this run's figures. */
  onStats?: (stats: IndexRunStats) => void;
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
}

export const DEFAULT_RACY_MARGIN_MS = 2000;
const LOCK_TIMEOUT_MS = 15_000;

/** What the scan keeps per sidecar sent to the engine: its identity as seen before the read. */
export interface Pending {
  rel: string;
  id: FileIdentity | null;
  idBytes?: Buffer;
  /** The stored entry of this file when its identity still matched (other option sets' results), else 0. */
  oldOff: number;
}

function fileStamp(path: string): string | null {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return null;
  }
}

export interface LastRun {
  at: string;
  hits: number;
  misses: number;
  /** New results recorded (misses that could be trusted later). */
  recorded: number;
  sidecars: number;
}

/** The figures of the last run next to the index (`index status`); written even when the index is not. */
export function lastRunPath(indexPath: string): string {
  return `${indexPath}.last-run.json`;
}

function writeLastRun(indexPath: string, run: LastRun): void {
  writeFileAtomicSync(lastRunPath(indexPath), Buffer.from(JSON.stringify(run) + '\n'), { skipIfSame: false, syncDir: false });
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

export class ScanIndex implements EntrySink {
  readonly location: IndexLocation;
  private readonly key: string;
  private reader: IndexReader | null;
  /** Option sets as numbered in this run's entries: the loaded file's, then ours when it had none. */
  private readonly runKeys: KeyUse[];
  private readonly keyNo: number;
  /** Our option set in the loaded file (-1: none). */
  private readonly loadedKeyNo: number;
  private readonly loadedStamp: string | null;
  private readonly started = Date.now();
  private readonly racyCutoffNs: bigint;
  private readonly refs = new RefList();
  /** References per table (files, folders, links): all of the loaded file's, once each, and no spool = nothing to write. */
  private readonly refCounts = [0, 0, 0];
  private spool: IndexWriter | null = null;
  private spoolFailed = false;
  /** Entry paths are relative to the scanned root as given (resolved): a prefix cut, no realpath per file. */
  private readonly relOf: (path: string) => string;
  private readonly withKeys: boolean;
  /** The directories: listings and link resolutions of unchanged folders (dir-cache.ts). */
  readonly dirs: DirSnapshots;
  hits = 0;
  misses = 0;
  private recordedCount = 0;
  private seenCount = 0;

  private constructor(
    root: string,
    inspect: InspectOptions,
    private readonly opts: IndexOptions,
  ) {
    this.location = resolveIndexLocation(root, opts);
    this.relOf = relativeTo(resolve(root));
    this.key = optionsKey(inspect);
    this.withKeys = inspect.keyring !== undefined;
    const margin = opts.racyMarginMs ?? DEFAULT_RACY_MARGIN_MS;
    // 0 turns the check off (tests that change files milliseconds before a run).
    this.racyCutoffNs = margin > 0 ? BigInt(this.started - margin) * 1_000_000n : 1n << 64n;
    this.loadedStamp = fileStamp(this.location.path);
    this.reader = this.load();
    const keys = this.reader?.header.keys ?? [];
    this.loadedKeyNo = keys.findIndex((k) => k.key === this.key);
    this.runKeys = this.loadedKeyNo >= 0 ? keys : [...keys, { key: this.key, used: 0 }];
    this.keyNo = this.loadedKeyNo >= 0 ? this.loadedKeyNo : keys.length;
    this.dirs = new DirSnapshots(this.reader, resolve(root), this.location.rootReal, this.racyCutoffNs, this);
  }

  /** An index for this scan, or null when these inspections cannot be stored (decoded data kept). */
  static open(root: string, inspect: InspectOptions, opts: IndexOptions): ScanIndex | null {
    return isCacheable(inspect) ? new ScanIndex(root, inspect, opts) : null;
  }

  private warn(msg: string): void {
    this.opts.onWarning?.(msg);
  }

  private load(): IndexReader | null {
    const { path, rootReal } = this.location;
    let reader: IndexReader | null = null;
    try {
      reader = IndexReader.open(path);
      if (reader && reader.header.root !== rootReal) {
        this.warn(`index ${path} belongs to another library (${reader.header.root}); ignoring it and building a new one`);
        reader.close();
        return null;
      }
      return reader;
    } catch (e) {
      reader?.close();
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
    if (this.spoolFailed) return false;
    try {
      if (!this.spool) {
        mkdirSync(dirname(this.location.path), { recursive: true });
        this.spool = IndexWriter.create(join(dirname(this.location.path), tempNameFor(`${basename(this.location.path)}.spool`)));
      }
      const off = this.spool.size;
      this.spool.add(table, key, id, payload);
      this.refs.push(-off);
      return true;
    } catch (e) {
      this.spoolFailed = true;
      this.warn(`index ${this.location.path}: new results not kept (${errors.fromFs(e, this.location.path).message})`);
      return false;
    }
  }

  /** Guarded read of the loaded file: null (and the file distrusted) when an entry is corrupt. */
  private find(rel: string): EntryView | null {
    if (!this.reader) return null;
    try {
      return this.reader.find(TABLE_FILES, rel);
    } catch (e) {
      this.distrust(e);
      return null;
    }
  }

  /**
   * Look up one sidecar: its stored result (a fresh object, `path` set) or null, and what to
   * remember for recording its new result. Stats the file (the only stat it gets).
   */
  lookup(path: string): { hit: FileInspection | null; pending: Pending; size: number } {
    const rel = this.relOf(path);
    this.seenCount++;
    const id = statIdentity(path);
    if (!id) {
      this.misses++;
      return { hit: null, pending: { rel, id: null, oldOff: 0 }, size: 0 };
    }
    const size = Number(id.size);
    const idBytes = identityBytes(id);
    let oldOff = 0;
    const v = this.find(rel);
    if (v && identityEquals(idBytes, v.buf, v.idAt)) {
      oldOff = v.off;
      const raw = this.loadedKeyNo >= 0 ? entryResult(v, this.loadedKeyNo) : null;
      const hit = raw ? decodeResult<FileInspection>(raw) : null;
      if (hit) {
        hit.path = path;
        this.hits++;
        this.ref(TABLE_FILES, v.off);
        return { hit, pending: { rel, id, idBytes, oldOff }, size };
      }
    }
    this.misses++;
    return { hit: null, pending: { rel, id, idBytes, oldOff }, size };
  }

  /** The engine's result for a sidecar looked up before; stored when it can be trusted later. */
  record(p: Pending, result: FileInspection): void {
    const id = p.id;
    if (!id || !p.idBytes) return;
    let trusted = true;
    // ctime alone decides: any change after our read moves it to "now"; mtime may be anything (utimes).
    if (id.ctimeNs >= this.racyCutoffNs) trusted = false;
    else if (result.status === 'unreadable' || result.status === 'unchecked' || result.status === 'encrypted') trusted = false;
    // With keys, a corrupt verdict may be a failed decryption (a passphrase is not in the key): retry it.
    else if (this.withKeys && result.status === 'corrupt') trusted = false;
    else if (result.encryptedKeyId !== undefined || result.data !== undefined || result.dataJson !== undefined) trusted = false;
    else if (BigInt(result.size) !== id.size) trusted = false; // changed between our stat and the read
    // The stored entry of an unchanged file keeps the other option sets' results.
    let old: EntryView | null = null;
    if (p.oldOff > 0 && this.reader) {
      try {
        old = this.reader.entryAt(p.oldOff);
      } catch (e) {
        this.distrust(e);
      }
    }
    if (!trusted) {
      if (old) this.ref(TABLE_FILES, old.off);
      return;
    }
    const { path: _path, ...stored } = result;
    const results: [number, Buffer][] = [[this.keyNo, serialize(stored)]];
    if (old) for (const [no, raw] of entryResults(old)) if (no !== this.keyNo) results.push([no, raw]);
    if (this.add(TABLE_FILES, p.rel, p.idBytes, filePayload(results))) this.recordedCount++;
  }

  /**
   * Write the index: the on-disk file as it is now, with this run's entries over it; entries of
   * files this run did not see are dropped when `complete` (the whole tree was walked). Never throws:
   * an index that cannot be written is a warning.
   */
  async save(complete: boolean): Promise<void> {
    const { path } = this.location;
    let written = false;
    let entries = 0;
    let bytes = 0;
    const prune = complete && this.opts.prune !== false;
    try {
      mkdirSync(dirname(path), { recursive: true });
      if (this.unchanged(prune) && fileStamp(path) === this.loadedStamp) {
        // Every entry a hit, none gone, nothing new: the file on disk already says all this.
        entries = this.reader!.count(TABLE_FILES);
        bytes = statSync(path).size;
      } else {
        await removeStaleTempFiles(dirname(path)).catch(() => undefined);
        const out = await withSidecarLock(path, async () => this.writeLocked(prune), { timeoutMs: LOCK_TIMEOUT_MS });
        await fsyncDir(dirname(path));
        written = true;
        entries = out.entries;
        bytes = out.bytes;
      }
      writeLastRun(path, { at: new Date(this.started).toISOString(), hits: this.hits, misses: this.misses, recorded: this.recordedCount, sidecars: this.seenCount });
    } catch (e) {
      this.warn(`index ${path} not written: ${errors.fromFs(e, path).message}`);
    } finally {
      this.close();
    }
    const d = this.dirs;
    this.opts.onStats?.({ path, where: this.location.where, hits: this.hits, misses: this.misses, recorded: this.recordedCount, entries, bytes, written, dirsReused: d.hits, dirsRead: d.misses, linksReused: d.linksReused, linksResolved: d.linksResolved });
  }

  /** Release the files (the spool is removed). Safe to call twice. */
  close(): void {
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
    return !prune || this.refCounts.every((n, t) => n >= r.count(t));
  }

  private writeLocked(prune: boolean): { entries: number; bytes: number } {
    const { path, rootReal } = this.location;
    // Someone else may have written since we loaded: merge with what is there now.
    let disk: IndexReader | null = this.reader;
    let diskIsLoaded = true;
    if (fileStamp(path) !== this.loadedStamp) {
      diskIsLoaded = false;
      try {
        disk = IndexReader.open(path);
        if (disk && disk.header.root !== rootReal) {
          disk.close();
          disk = null;
        }
      } catch {
        disk = null; // corrupt now: replaced by ours
      }
    }
    const now = Date.now();
    const build = buildId();
    const keys: KeyUse[] = [{ key: this.key, used: now, build }];
    // Results of other builds (an upgrade, a changed rule) can never hit again: dropped, not kept for LRU.
    const diskKeys = disk?.header.keys ?? [];
    for (const k of [...diskKeys].sort((a, b) => b.used - a.used)) {
      if (keys.length >= MAX_KEYS) break;
      if (k.key !== this.key && k.build === build) keys.push(k);
    }
    const lastRun = { at: new Date(this.started).toISOString(), hits: this.hits, misses: this.misses, recorded: this.recordedCount, sidecars: this.seenCount };
    if (disk === null && this.reader === null && this.spool && this.runKeys.length === 1) {
      // Nothing stored before (a first run, or a rebuild): the spool holds every entry, numbered
      // as the new file numbers them; it becomes the index as it stands (no copy).
      const spool = this.spool;
      this.spool = null;
      try {
        const entries = spool.count(TABLE_FILES);
        const bytes = spool.finish({ format: 'image-sidecar-index', root: rootReal, keys, written: new Date(now).toISOString(), lastRun, totalHits: this.hits });
        renameSync(spool.path, path);
        return { entries, bytes };
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
    const tmp = join(dirname(path), tempNameFor(basename(path)));
    const out = IndexWriter.create(tmp);
    try {
      const fileEntry = (v: EntryView, remap: number[], extra: EntryView | null, extraRemap: number[]) => {
        const results: [number, Buffer][] = [];
        const have = new Set<number>();
        for (const [no, raw] of entryResults(v)) {
          const f = remap[no] ?? -1;
          if (f < 0 || have.has(f)) continue;
          have.add(f);
          results.push([f, raw]);
        }
        if (extra) {
          for (const [no, raw] of entryResults(extra)) {
            const f = extraRemap[no] ?? -1;
            if (f < 0 || have.has(f)) continue;
            have.add(f);
            results.push([f, raw]);
          }
        }
        if (results.length > 0) out.add(TABLE_FILES, entryKey(v), entryIdentity(v), filePayload(results));
      };
      // 1. This run's entries, in the order it met them (the next run asks in that order).
      const loaded = this.reader;
      for (let i = 0; i < this.refs.length; i++) {
        const ref = this.refs.at(i);
        let v: EntryView;
        try {
          if (ref > 0) {
            if (!loaded) continue; // distrusted meanwhile
            v = loaded.entryAt(ref);
          } else v = this.spool!.entryAt(-ref);
        } catch {
          continue;
        }
        if (v.table !== TABLE_FILES) {
          out.add(v.table, entryKey(v), entryIdentity(v), [entryPayload(v)]);
          continue;
        }
        // Copy what a view holds before the next read from the same file.
        const key = entryKey(v);
        let extra: EntryView | null = null;
        if (!diskIsLoaded && disk) {
          const id = Buffer.from(entryIdentity(v));
          const mine = Buffer.from(v.buf.subarray(v.at, v.end));
          try {
            const d = disk.find(TABLE_FILES, key);
            if (d && identityEquals(id, d.buf, d.idAt)) extra = d;
          } catch {
            disk = null;
          }
          const copy: EntryView = { ...v, buf: mine, at: 0, idAt: v.idAt - v.at, end: v.end - v.at };
          fileEntry(copy, runRemap, extra, diskRemap);
        } else fileEntry(v, runRemap, null, diskRemap);
      }
      // 2. The entries on disk this run did not write: kept when the walk saw only part of the tree.
      if (disk && !prune) {
        try {
          for (const v of disk.entries()) {
            const key = entryKey(v);
            if (out.has(v.table, key)) continue;
            if (v.table === TABLE_FILES) fileEntry(v, diskRemap, null, diskRemap);
            else out.add(v.table, key, entryIdentity(v), [entryPayload(v)]);
          }
        } catch {
          /* the rest of a corrupt file is dropped */
        }
      }
      const header: IndexHeader = {
        format: 'image-sidecar-index',
        root: rootReal,
        keys,
        written: new Date(now).toISOString(),
        lastRun,
        totalHits: (disk?.header.totalHits ?? 0) + this.hits,
      };
      const entries = out.count(TABLE_FILES);
      const bytes = out.finish(header);
      renameSync(tmp, path);
      return { entries, bytes };
    } catch (e) {
      out.abort();
      rmSync(tmp, { force: true });
      throw e;
    } finally {
      if (!diskIsLoaded) disk?.close();
    }
  }
}
