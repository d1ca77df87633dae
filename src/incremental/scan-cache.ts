/**
 * The incremental index as a scan's cache (scan/port.ts ScanCache): ScanIndex for the per-file
 * results, folders and links, folder-records.ts for the folders' finished records.
 */
import type { CacheMiss, CacheOptions, FolderRecordsSink, OpenScanCache, ScanCache, ScanRecord, StoredFolder } from '../scan/port.js';
import type { FileInspection, InspectOptions } from '../model/inspection.js';
import { decodeRecords, FolderRecordsBuilder, restoreRecord, writeCompact, type CompactRecord, type FolderBlob } from './folder-records.js';
import { ScanIndex, type Pending } from './scan-index.js';
import type { WalkEntry } from '../discovery/walk.js';

/** A folder's stored records: the entry's blob, its offsets, and which records hold. */
class Stored implements StoredFolder {
  constructor(readonly hit: { blob: FolderBlob; valid: boolean[]; offs: number[] }) {}
  get n(): number {
    return this.hit.blob.meta.n;
  }
  get ignored(): number {
    return this.hit.blob.meta.ignored;
  }
  get temp(): number {
    return this.hit.blob.meta.temp;
  }
  get pos(): readonly number[] {
    return this.hit.blob.meta.pos;
  }
  get valid(): readonly boolean[] {
    return this.hit.valid;
  }
}

/** A folder's records being made, and the stored folder whose records it keeps (if any). */
class Sink extends FolderRecordsBuilder implements FolderRecordsSink {
  blob: FolderBlob | null = null;
}

class IndexCache implements ScanCache {
  constructor(private readonly index: ScanIndex) {}
  get noResultsStored() {
    return this.index.noResultsStored;
  }
  get entryOptions() {
    return this.index.entryOptions;
  }
  get dirs() {
    return this.index.dirs;
  }
  get recordsOn() {
    return this.index.recordsOn;
  }
  lookup(path: string, viaLink?: boolean) {
    return this.index.lookup(path, viaLink);
  }
  statAhead(dir: string, entries: readonly WalkEntry[], signal?: AbortSignal): Promise<void> | null {
    return this.index.statAhead(dir, entries, signal);
  }
  statListedAhead(dir: string, entries: readonly WalkEntry[], signal?: AbortSignal): void {
    this.index.statListedAhead(dir, entries, signal);
  }
  linksListedAhead(dir: string, entries: readonly WalkEntry[], imageExts: ReadonlySet<string>, signal?: AbortSignal): void {
    this.index.linksListedAhead(dir, entries, imageExts, signal);
  }
  linksAhead(dirRel: string, entries: readonly WalkEntry[], imageExts: ReadonlySet<string>, signal?: AbortSignal): Promise<void> | null {
    return this.index.linksAhead(dirRel, entries, imageExts, signal);
  }
  record(miss: CacheMiss, result: FileInspection): boolean {
    return this.index.record(miss as Pending, result);
  }
  recordFirst(results: readonly FileInspection[], from: number, n: number): void {
    this.index.recordFirst(results, from, n);
  }
  useRecords(scanShape: string): void {
    this.index.useRecords(scanShape);
  }
  mayStoreRecords(n: number): boolean {
    return this.index.mayStoreRecords(n);
  }
  noteFolder(real: string): void {
    this.index.noteFolder(real);
  }
  folderRecords(real: string): StoredFolder | null {
    const hit = this.index.folderRecords(real);
    return hit === null ? null : new Stored(hit);
  }
  storedRecords(stored: StoredFolder, folderAbs: string, rel: string): (ScanRecord | undefined)[] | null {
    const recs = decodeRecords<ScanRecord>((stored as Stored).hit.blob, () => true);
    if (recs !== null) for (const r of recs) if (r !== undefined) restoreRecord(r as unknown as CompactRecord, folderAbs, rel);
    return recs;
  }
  served(stored: StoredFolder, whole: boolean, folderAbs: string): void {
    this.index.served((stored as Stored).hit, whole, folderAbs);
  }
  folderSink(real: string, folderAbs: string, rel: string, dirId: Uint8Array, ignored: number, temp: number, n: number, pos: number[], replacing?: StoredFolder): FolderRecordsSink {
    const b = new Sink(real, folderAbs, rel, dirId, this.index.rootAbs, ignored, temp, n, pos);
    if (replacing !== undefined) {
      const { blob, offs } = (replacing as Stored).hit;
      b.blob = blob;
      b.replaces = { base: offs[0], patch: offs[1], gen: blob.meta.gen, lens: blob.meta.lens, patched: blob.patch?.meta.groups ?? [] };
    }
    return b;
  }
  recordDone(sink: FolderRecordsSink, gi: number, rec: ScanRecord | null): void {
    writeCompact(sink as Sink, gi, rec as unknown as CompactRecord | null);
    this.finish(sink as Sink);
  }
  recordKept(sink: FolderRecordsSink, gi: number, rec: ScanRecord): void {
    const b = sink as Sink;
    b.keep(gi, b.blob!, rec as unknown as CompactRecord);
    this.finish(b);
  }
  private finish(b: Sink): void {
    if (b.left === 0) this.index.addFolder(b);
  }
  save(complete: boolean): Promise<void> {
    return this.index.save(complete);
  }
  close(): void {
    this.index.close();
  }
}

/** The index as a scan's cache (null: these inspections are not stored, or no index where it would live). */
export const openScanCache: OpenScanCache = (root: string, inspect: InspectOptions, opts: CacheOptions): ScanCache | null => {
  const index = ScanIndex.open(root, inspect, opts);
  return index === null ? null : new IndexCache(index);
};
