/** `index status` and `index clear`: what an index holds, and removing it (library side of the CLI). */
import { closeSync, fstatSync, openSync, readdirSync, readSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { readFileLimitedSync } from '../fs/read-file.js';
import { basename, dirname, join } from 'node:path';
import { READ_NOFOLLOW_FLAGS } from '../fs/regular-file.js';
import { errors } from '../errors.js';
import { INDEX_DIR } from '../discovery/own-folders.js';
import { cacheIndexPath, holdsIndexOrNothing, resolveIndexLocation } from './location.js';
import { lastRunPath, type LastRun } from './scan-index.js';
import { deltaPath, IndexFormatError, IndexReader, TABLE_FILES } from './store.js';
import { accessIdentity } from './key.js';
import type { IndexLocation, IndexLocationOptions } from '../model/index-options.js';

export interface IndexStatus {
  path: string;
  where: IndexLocation['where'];
  exists: boolean;
  /** False when the file is corrupt or belongs to another library (the next run rebuilds it), or to another user or group set (never used by this user's runs). */
  valid: boolean;
  problem: string | null;
  entries: number;
  bytes: number;
  bytes_per_entry: number | null;
  /** Option sets with stored results (validate, stats, ... each have their own). */
  option_sets: number;
  written: string | null;
  last_run: LastRun | null;
  total_hits: number;
}

export function indexStatus(root: string, opts: IndexLocationOptions = {}): IndexStatus {
  const loc = resolveIndexLocation(root, opts);
  const out: IndexStatus = {
    path: loc.path,
    where: loc.where,
    exists: false,
    valid: false,
    problem: null,
    entries: 0,
    bytes: 0,
    bytes_per_entry: null,
    option_sets: 0,
    written: null,
    last_run: null,
    total_hits: 0,
  };
  if (loc.where === 'none') {
    out.problem = loc.note ?? null; // nothing there is ours to read
    return out;
  }
  if (loc.note !== undefined) out.problem = loc.note;
  try {
    out.bytes = statSync(loc.path).size;
    out.exists = true;
  } catch {
    return out;
  }
  let deltaBytes = 0;
  try {
    deltaBytes = statSync(deltaPath(loc.path)).size;
  } catch {
    /* no delta */
  }
  try {
    const img = IndexReader.open(loc.path);
    if (img) {
      try {
        // Every entry's checksum, in one sequential pass (bounded memory).
        for (const _ of img.entries()) void _;
      } finally {
        img.close();
      }
      if (img.hasDelta) out.bytes += deltaBytes; // a delta over another file is not part of it
      const access = img.header.access;
      if (access !== undefined && access !== accessIdentity()) out.problem = `written by another user or group set (${access}): its runs use it, this user's read the library itself`;
      else if (img.header.root !== loc.rootReal) out.problem = `belongs to another library (${img.header.root})`;
      else out.valid = true;
      out.entries = img.count(TABLE_FILES);
      out.option_sets = img.header.keys.length;
      out.written = img.header.written;
      out.total_hits = img.header.totalHits ?? 0;
      out.bytes_per_entry = out.entries > 0 ? Math.round((out.bytes / out.entries) * 10) / 10 : null;
    }
  } catch (e) {
    out.problem = e instanceof IndexFormatError ? e.message : errors.fromFs(e, loc.path).message;
  }
  try {
    out.last_run = JSON.parse(readFileLimitedSync(lastRunPath(loc.path), 1 << 20).toString('utf8')) as LastRun;
  } catch {
    /* no run recorded */
  }
  return out;
}

/** Remove the index (and its last-run file; the `.image-sidecar` folder too when it is left empty). */
export function clearIndex(root: string, opts: IndexLocationOptions = {}): { path: string; removed: boolean } {
  const loc = resolveIndexLocation(root, opts);
  let removed = false;
  // Not through a symlink planted as `.image-sidecar`: what it leads to is not the library's. An
  // --index path that holds something else than an index: said, never removed.
  if (loc.where === 'none') {
    if (opts.path !== undefined && loc.note !== undefined) throw errors.usage(loc.note);
    return { path: loc.path, removed };
  }
  removed = removeIndexFiles(loc.path);
  if (loc.where === 'root' && basename(dirname(loc.path)) === INDEX_DIR) {
    try {
      rmdirSync(dirname(loc.path)); // only when empty
    } catch {
      /* other files (locks of a running writer): keep the folder */
    }
  }
  return { path: loc.path, removed };
}

/**
 * Every index of the library at `root` wherever runs kept one: in its folder, and in the cache
 * folder (runs keep it there while the root is not writable, so a run's choice today may not be
 * where an earlier run wrote). Removed as `clearIndex` removes one (a file there that is not an
 * index stays); the paths removed.
 */
export function clearIndexEverywhere(root: string, cacheDir: string | undefined): string[] {
  const removed: string[] = [];
  const own = clearIndex(root); // the library's folder (never through a symlink planted there)
  if (own.removed) removed.push(own.path);
  if (cacheDir !== undefined) {
    const cached = cacheIndexPath(cacheDir, resolveIndexLocation(root).rootReal);
    if (cached !== own.path && holdsIndexOrNothing(cached) && holdsIndexOrNothing(deltaPath(cached)) && removeIndexFiles(cached)) removed.push(cached);
  }
  return removed;
}

/** The index at `path`, with its delta, last-run file and retired memos, removed; whether something was there. */
function removeIndexFiles(path: string): boolean {
  let there = false;
  try {
    statSync(path);
    there = true;
  } catch {
    /* nothing there */
  }
  try {
    rmSync(path, { force: true });
    rmSync(deltaPath(path), { force: true });
    rmSync(lastRunPath(path), { force: true });
    removeRetiredMemos(path);
  } catch (e) {
    throw errors.fromFs(e, path);
  }
  return there;
}

/** The first bytes of every file the retired tree memo wrote beside an index (`<index>.memo-<16 hex>`, and its `.delta`). */
const RETIRED_MEMO_HEAD = Buffer.from('image-sidecar tree memo ', 'latin1');

/**
 * Earlier versions kept tree memos beside the index; none reads them now. `index clear` removes
 * those it finds (so an emptied `.image-sidecar` folder goes too), and only files that begin as a
 * memo did: anything else at such a name is someone else's and stays.
 */
function removeRetiredMemos(indexPath: string): void {
  const prefix = `${basename(indexPath)}.memo-`;
  let names: string[];
  try {
    names = readdirSync(dirname(indexPath));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !/^[0-9a-f]{16}(\.delta)?$/.test(name.slice(prefix.length))) continue;
    const file = join(dirname(indexPath), name);
    if (beginsAsMemo(file)) rmSync(file, { force: true });
  }
}

function beginsAsMemo(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, READ_NOFOLLOW_FLAGS); // no symlink followed; a FIFO opens at once and is not a file
  } catch {
    return false;
  }
  try {
    if (!fstatSync(fd).isFile()) return false;
    const head = Buffer.alloc(RETIRED_MEMO_HEAD.length);
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(RETIRED_MEMO_HEAD);
  } catch {
    return false; // unreadable: not known to be a memo, so it stays (as location.ts holdsIndexOrNothing decides)
  } finally {
    closeSync(fd);
  }
}
