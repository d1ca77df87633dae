/**
 * The incremental index as one scan uses it: load once, look up each sidecar before it goes to the
 * engine (a hit skips the engine; its stored result goes to the reducer as the engine's would),
 * record each new result, write once at the end (merged with whatever is on disk then, under a lock,
 * temp file + rename).
 *
 * A result is recorded only when it can be trusted later: the file was seen (stat) before it was
 * read, and the result's size matches; not unreadable (transient); not decrypted content (an
 * encrypted sidecar's summary never lands in a plaintext file; with keys, no corrupt verdict: it may
 * be a failed decryption); and the file's ctime is older than
 * the run's start by a margin ("racy" files: a same-size rewrite within the file system's timestamp
 * granularity after our read could keep every stat field).
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { relativeTo } from '../fs/rel-path.js';
import { serialize } from 'node:v8';
import { errors } from '../errors.js';
import { writeFileAtomicSync } from '../fs/atomic-write.js';
import { withSidecarLock } from '../fs/lock.js';
import type { FileInspection, InspectOptions } from '../tasks/inspect.js';
import { IDENTITY_BYTES, identityBytes, statIdentity, type FileIdentity } from './identity.js';
import { buildId, isCacheable, optionsKey } from './key.js';
import { resolveIndexLocation, type IndexLocation, type IndexLocationOptions } from './location.js';
import {
  decodeResult,
  emptyImage,
  encodeIndex,
  entryResults,
  IndexFormatError,
  lookupRaw,
  MAX_KEYS,
  readIndexFile,
  type EntryToWrite,
  type IndexHeader,
  type IndexImage,
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
}

export const DEFAULT_RACY_MARGIN_MS = 2000;
const LOCK_TIMEOUT_MS = 15_000;

/** What the scan keeps per sidecar sent to the engine: its identity as seen before the read. */
export interface Pending {
  rel: string;
  id: FileIdentity | null;
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

export class ScanIndex {
  readonly location: IndexLocation;
  private readonly key: string;
  private image: IndexImage;
  private keyNo = -1;
  private readonly started = Date.now();
  private readonly racyCutoffNs: bigint;
  private readonly recorded = new Map<string, EntryToWrite>();
  private readonly seen = new Set<string>();
  /** Paths served from the index: their entry is written back as loaded (no copy made per hit). */
  private readonly hitRels = new Set<string>();
  /** Entry paths are relative to the scanned root as given (resolved): a prefix cut, no realpath per file. */
  private readonly relOf: (path: string) => string;
  hits = 0;
  misses = 0;
  private readonly withKeys: boolean;

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
    this.image = this.load();
    this.keyNo = this.image.header.keys.findIndex((k) => k.key === this.key);
  }

  /** An index for this scan, or null when these inspections cannot be stored (decoded data kept). */
  static open(root: string, inspect: InspectOptions, opts: IndexOptions): ScanIndex | null {
    return isCacheable(inspect) ? new ScanIndex(root, inspect, opts) : null;
  }

  private warn(msg: string): void {
    this.opts.onWarning?.(msg);
  }

  private load(): IndexImage {
    const { path, rootReal } = this.location;
    try {
      const parsed = readIndexFile(path);
      if (!parsed) return emptyImage(rootReal);
      if (parsed.header.root !== rootReal) {
        this.warn(`index ${path} belongs to another library (${parsed.header.root}); ignoring it and building a new one`);
        return emptyImage(rootReal);
      }
      return { ...parsed, fileStamp: fileStamp(path) };
    } catch (e) {
      const why = e instanceof IndexFormatError ? e.message : errors.fromFs(e, path).message;
      this.warn(`index ${path} is unusable (${why}); ignoring it and building a new one`);
      return emptyImage(rootReal);
    }
  }


  /**
   * Look up one sidecar: its stored result (a fresh object, `path` set) or null, and what to
   * remember for recording its new result. Stats the file (the only stat it gets).
   */
  lookup(path: string): { hit: FileInspection | null; pending: Pending; size: number } {
    const rel = this.relOf(path);
    this.seen.add(rel);
    const id = statIdentity(path);
    const size = id ? Number(id.size) : 0;
    if (id && this.keyNo >= 0) {
      const raw = lookupRaw(this.image, rel, identityBytes(id), this.keyNo);
      if (raw) {
        const hit = decodeResult<FileInspection>(raw);
        if (hit) {
          hit.path = path;
          this.hits++;
          this.hitRels.add(rel);
          return { hit, pending: { rel, id }, size };
        }
      }
    }
    this.misses++;
    return { hit: null, pending: { rel, id }, size };
  }

  /** The engine's result for a sidecar looked up before; stored when it can be trusted later. */
  record(p: Pending, result: FileInspection): void {
    const id = p.id;
    // ctime alone decides: any change after our read moves it to "now"; mtime may be anything (utimes).
    if (!id || id.ctimeNs >= this.racyCutoffNs) return;
    if (result.status === 'unreadable' || result.status === 'unchecked' || result.status === 'encrypted') return;
    // With keys, a corrupt verdict may be a failed decryption (a passphrase is not in the key): retry it.
    if (this.withKeys && result.status === 'corrupt') return;
    if (result.encryptedKeyId !== undefined || result.data !== undefined || result.dataJson !== undefined) return;
    if (BigInt(result.size) !== id.size) return; // changed between our stat and the read
    const { path: _path, ...stored } = result;
    this.recorded.set(p.rel, { id: identityBytes(id), results: new Map([[this.key, serialize(stored)]]) });
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
    const unchanged = this.recorded.size === 0 && this.keyNo >= 0 && this.seen.size === this.image.offsets.size && this.image.fileStamp !== null;
    try {
      mkdirSync(dirname(path), { recursive: true });
      if (unchanged && fileStamp(path) === this.image.fileStamp) {
        // Every file a hit, none gone: the file on disk already says all this (no rewrite, no fsync).
        entries = this.image.offsets.size;
        bytes = this.image.buf.length;
      } else {
        const out = await withSidecarLock(path, async () => this.writeLocked(complete), { timeoutMs: LOCK_TIMEOUT_MS });
        written = true;
        entries = out.entries;
        bytes = out.bytes;
      }
      writeLastRun(path, { at: new Date(this.started).toISOString(), hits: this.hits, misses: this.misses, recorded: this.recorded.size, sidecars: this.seen.size });
    } catch (e) {
      this.warn(`index ${path} not written: ${errors.fromFs(e, path).message}`);
    }
    this.opts.onStats?.({ path, where: this.location.where, hits: this.hits, misses: this.misses, recorded: this.recorded.size, entries, bytes, written });
  }

  /** A hit of this run as an entry to write: identity and result as loaded. */
  private hitEntry(rel: string): EntryToWrite | undefined {
    if (!this.hitRels.has(rel)) return undefined;
    const off = this.image.offsets.get(rel)!;
    const raw = entryResults(this.image, off).get(this.keyNo)!;
    return { id: this.image.buf.subarray(off, off + IDENTITY_BYTES), results: new Map([[this.key, raw]]) };
  }

  private writeLocked(complete: boolean): { entries: number; bytes: number } {
    const { path, rootReal } = this.location;
    // Someone else may have written since we loaded: merge with what is there now.
    let disk: IndexImage = this.image;
    if (fileStamp(path) !== this.image.fileStamp) {
      try {
        const parsed = readIndexFile(path);
        disk = parsed && parsed.header.root === rootReal ? { ...parsed, fileStamp: null } : emptyImage(rootReal);
      } catch {
        disk = emptyImage(rootReal); // corrupt now: replaced by ours
      }
    }
    const now = Date.now();
    const build = buildId();
    const keys: KeyUse[] = [{ key: this.key, used: now, build }];
    // Results of other builds (an upgrade, a changed rule) can never hit again: dropped, not kept for LRU.
    for (const k of [...disk.header.keys].sort((a, b) => b.used - a.used)) {
      if (keys.length >= MAX_KEYS) break;
      if (k.key !== this.key && k.build === build) keys.push(k);
    }
    const keep = new Set(keys.map((k) => k.key));
    const diskKey = disk.header.keys.map((k) => k.key);
    const prune = complete && this.opts.prune !== false;
    const merged = new Map<string, EntryToWrite>();
    for (const [rel, off] of disk.offsets) {
      const mine = this.recorded.get(rel) ?? this.hitEntry(rel);
      if (!mine && prune && !this.seen.has(rel)) continue;
      const id = disk.buf.subarray(off, off + IDENTITY_BYTES);
      if (mine && !mine.id.equals(id)) continue; // ours describes the file as it is now
      const results = new Map<string, Buffer>();
      for (const [no, raw] of entryResults(disk, off)) if (keep.has(diskKey[no])) results.set(diskKey[no], raw);
      if (mine) for (const [k, raw] of mine.results) results.set(k, raw);
      merged.set(rel, { id: mine ? mine.id : id, results });
    }
    for (const [rel, mine] of this.recorded) if (!merged.has(rel)) merged.set(rel, mine);
    for (const rel of this.hitRels) if (!merged.has(rel)) merged.set(rel, this.hitEntry(rel)!);
    const header: IndexHeader = {
      format: 'image-sidecar-index',
      root: rootReal,
      keys,
      written: new Date(now).toISOString(),
      lastRun: { at: new Date(this.started).toISOString(), hits: this.hits, misses: this.misses, recorded: this.recorded.size, sidecars: this.seen.size },
      totalHits: (disk.header.totalHits ?? 0) + this.hits,
    };
    const bytes = encodeIndex(header, merged);
    writeFileAtomicSync(path, bytes, { skipIfSame: false });
    return { entries: merged.size, bytes: bytes.length };
  }
}
