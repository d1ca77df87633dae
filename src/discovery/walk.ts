import { opendir, readdir, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { errors, type SidecarError } from '../errors.js';
import { isLockName } from '../fs/temp-files.js';
import { showBytes } from '../fs/byte-names.js';

export type EntryKind = 'file' | 'dir' | 'symlink' | 'other';

export interface WalkEntry {
  name: string;
  kind: EntryKind;
  /** The on-disk name is not valid UTF-8: we cannot address this file by a string path. */
  unaddressable?: boolean;
  /** An unaddressable entry's name as messages show it: each byte that is not UTF-8 as `\xHH` (`name` has U+FFFD there). */
  shown?: string;
}

/** The path of an entry of `dir` as messages show it (docs/BYTE-NAMES.md: never U+FFFD for a byte name). */
export function shownPath(dir: string, e: WalkEntry): string {
  return join(dir, e.shown ?? e.name);
}

export interface DirListing {
  /** Absolute path of the directory. */
  path: string;
  /** POSIX path relative to the root ('' for the root). */
  rel: string;
  /** Every entry, sorted by name (subdirectories too: pairing reports one that sits in a sidecar's name). */
  entries: WalkEntry[];
}

export interface WalkProblem {
  path: string;
  rel: string;
  error: SidecarError;
  /** `path` as messages show it, when its name is not UTF-8 (`\xHH` bytes). */
  shown?: string;
}

/**
 * A store of directory listings (the incremental index's, src/incremental/dir-cache.ts): `get`
 * returns a listing that is known to be current (the directory is unchanged since it was stored) or
 * null, after noting the directory's identity; the walk then reads the directory and `put`s it. A
 * listing is entries of every kind, in name order, before `skipDirNames`.
 */
export interface ListingCache {
  get(path: string): readonly WalkEntry[] | null;
  put(path: string, entries: readonly WalkEntry[]): void;
}

export interface WalkOptions {
  /** Directory names never entered, at any depth (the quarantine folder: `cleanup photos/` puts one inside the tree). */
  skipDirNames?: ReadonlySet<string>;
  /** Called for every directory that could not be read; the walk goes on. */
  onProblem?: (p: WalkProblem) => void;
  signal?: AbortSignal;
  /** Listings of unchanged directories come from here instead of readdir. */
  listingCache?: ListingCache;
  /**
   * Without a listing cache: a listing this run has already read (a link target's folder, listed
   * when its links were paired, scan.ts TargetGroups), used instead of reading the folder again.
   * Only listings as `readListing` makes them (sorted by name; no entry of unknown kind, no name
   * that is not UTF-8).
   */
  listedByRun?: (path: string) => readonly WalkEntry[] | null;
  /**
   * A folder's listing known before the walk reaches the folder (read ahead, or from the listing
   * cache then): its entries as listed, before `skipDirNames`. At most once per folder; never for
   * one the walk has reached by the time its read comes back, nor once the walk has ended, nor for
   * one it lists only at its turn. What it throws is ignored: it may only prepare the folder's turn.
   */
  onListedAhead?: (path: string, entries: readonly WalkEntry[]) => void;
}

/** The walk's order of a folder's entries (UTF-16 code units), which pairing results follow. */
export const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** What a listing says a name is (a `Dirent`'s type; 'other' also where the file system gave none: the walk then asks lstat). */
export function kindOfDirent(d: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): EntryKind {
  return d.isFile() ? 'file' : d.isDirectory() ? 'dir' : d.isSymbolicLink() ? 'symlink' : 'other';
}

/**
 * Folders read ahead of the walk: the next few folders' readdir calls are in flight while this one
 * is handled, so a tree of many small folders (game folders of links) does not wait on one
 * file-system round trip per folder. Problems are still reported in walk order. With a listing
 * cache, each folder is asked of it before its read starts (its identity noted before the readdir).
 */
const READ_AHEAD = 4;

interface Listed {
  entries: WalkEntry[] | null;
  problems: WalkProblem[];
}

/**
 * Depth-first walk in sorted order, one directory in memory at a time (plus the stack of
 * pending sibling directories and the few read ahead). Directory symlinks are reported as
 * `symlink` entries and never entered, so links and loops cannot cause endless walks.
 */
export async function* walkTree(root: string, opts: WalkOptions = {}): AsyncGenerator<DirListing> {
  const stack: { path: string; rel: string; ahead?: Promise<Listed>; cached?: readonly WalkEntry[] | null; reached?: boolean }[] = [{ path: root, rel: '' }];
  let ended = false;
  const listedAhead = (next: { path: string; reached?: boolean }, entries: readonly WalkEntry[]) => {
    if (next.reached || ended) return;
    try {
      opts.onListedAhead!(next.path, entries);
    } catch {
      // its folder's turn does the work again
    }
  };
  const cache = opts.listingCache;
  // Reads started ahead and not yet back: a walk that ends early (aborted, or its caller stops)
  // waits for them, so that no `put` reaches the listing cache after the walk (the index's is
  // closed by then: a put would make a new spool).
  const inFlight = new Set<Promise<Listed>>();
  const readAhead = (path: string, rel: string): Promise<Listed> => {
    const p = readListing(path, rel, opts);
    inFlight.add(p);
    // then(done, done), not finally: a read that fails is the walk's error where it is awaited,
    // and must not also reject a second promise nobody awaits (an unhandled rejection ends the process).
    const done = () => inFlight.delete(p);
    p.then(done, done);
    return p;
  };
  try {
    while (stack.length > 0) {
      opts.signal?.throwIfAborted();
      const top = stack.pop()!;
      top.reached = true;
      const { path, rel } = top;
      for (let i = stack.length - 1, n = 0; i >= 0 && n < READ_AHEAD; i--, n++) {
        const next = stack[i];
        if (next.ahead !== undefined || next.cached !== undefined) continue;
        // A listing cache is asked first (it notes the folder's identity before the readdir: ListingCache).
        if (cache !== undefined) next.cached = cache.get(next.path);
        if (next.cached != null) {
          if (opts.onListedAhead) listedAhead(next, next.cached);
        } else if (!opts.listedByRun?.(next.path)) {
          const ahead = (next.ahead = readAhead(next.path, next.rel));
          // (A read that fails is the walk's error where it is awaited.)
          if (opts.onListedAhead) ahead.then((l) => void (l.entries !== null && listedAhead(next, l.entries)), () => undefined);
        }
      }
      const listed = await listingOf(path, rel, opts, top.ahead, top.cached);
      if (listed === null) continue;
      const entries = walkedEntries(listed, opts);
      yield { path, rel, entries };
      for (let i = entries.length - 1; i >= 0; i--) {
        const e = entries[i];
        // Our lock directories hold nothing to walk; a name that is not UTF-8 cannot be entered.
        if (e.kind !== 'dir' || isLockName(e.name) || e.unaddressable) continue;
        stack.push({ path: join(path, e.name), rel: rel === '' ? e.name : `${rel}/${e.name}` });
      }
    }
  } finally {
    ended = true;
    if (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  }
}

/**
 * A folder's listing: the cache's, this run's, or read (its problems reported); null when it cannot
 * be read. `cached`: the cache's answer when it was asked already (at read-ahead), once per folder.
 */
async function listingOf(path: string, rel: string, opts: WalkOptions, ahead?: Promise<Listed>, cached?: readonly WalkEntry[] | null): Promise<readonly WalkEntry[] | null> {
  const listed = (cached !== undefined ? cached : opts.listingCache?.get(path)) ?? opts.listedByRun?.(path) ?? null;
  if (listed !== null) return listed;
  const got = await (ahead ?? readListing(path, rel, opts));
  for (const p of got.problems) opts.onProblem?.(p);
  return got.entries;
}

/** A listing's entries as the walk yields them: folders never entered (`skipDirNames`) left out. */
function walkedEntries(listed: readonly WalkEntry[], opts: WalkOptions): WalkEntry[] {
  const skip = opts.skipDirNames;
  let first = -1;
  if (skip) for (let i = 0; i < listed.length && first < 0; i++) if (listed[i].kind === 'dir' && skip.has(listed[i].name)) first = i;
  // Nothing to leave out (most folders): the listing as it is, copied (a listing cache keeps its own).
  if (first < 0) return listed.slice();
  const entries = listed.slice(0, first);
  for (let i = first + 1; i < listed.length; i++) if (listed[i].kind !== 'dir' || !skip!.has(listed[i].name)) entries.push(listed[i]);
  return entries;
}

/** A name `readListing` checks against the raw bytes (it may not be valid UTF-8: unaddressable). */
const mayBeUnaddressable = (name: string) => name.includes('\uFFFD');

/**
 * Entries as `readListing` gives them without asking anything more: no entry of kind 'other' (an
 * unknown kind it lstats; FIFOs and the like are refused too, rarely worth it) and no name it
 * checks for being unaddressable (`WalkOptions.listedByRun`).
 */
export function isPlainListing(entries: readonly WalkEntry[]): boolean {
  for (const e of entries) if (e.kind === 'other' || mayBeUnaddressable(e.name)) return false;
  return true;
}

/** One directory's entries, sorted by name (null when it cannot be read), and its problems. */
async function readListing(path: string, rel: string, opts: WalkOptions): Promise<Listed> {
  const problems: WalkProblem[] = [];
  let dirents;
  try {
    dirents = await readdir(path, { withFileTypes: true });
  } catch (e) {
    problems.push({ path, rel, error: errors.fromFs(e, path) });
    return { entries: null, problems };
  }
  const entries: WalkEntry[] = [];
  let suspicious = false;
  for (const d of dirents) {
    let kind = kindOfDirent(d);
    if (kind === 'other' && !d.isFIFO() && !d.isSocket() && !d.isBlockDevice() && !d.isCharacterDevice()) {
      // d_type unknown (some network file systems): ask lstat.
      kind = await lstatKind(join(path, d.name));
    }
    if (mayBeUnaddressable(d.name)) suspicious = true;
    entries.push({ name: d.name, kind });
  }
  entries.sort(byName);
  if (suspicious) await markUnaddressable(path, entries, problems, opts, rel);
  else opts.listingCache?.put(path, entries); // a listing with unaddressable names is never stored: its problems are reported on every walk
  return { entries, problems };
}

async function lstatKind(p: string): Promise<EntryKind> {
  try {
    const st = await lstat(p);
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  } catch {
    return 'other';
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Names that are not valid UTF-8 come back from readdir with U+FFFD in them and cannot be
 * opened by that string. Re-read the directory as bytes to tell them from names that really
 * contain U+FFFD; mark files as unaddressable and report directories as unreadable.
 */
async function markUnaddressable(path: string, entries: WalkEntry[], problems: WalkProblem[], opts: WalkOptions, rel: string): Promise<void> {
  // Per decoded name, in listing order: whether each file listed under it is named by bytes that are
  // not UTF-8. A real `IMG_\uFFFD.jpg` and a byte name `IMG_\xff.jpg` decode alike: only the
  // latter is unaddressable (the real one is the file that string opens).
  const flags = new Map<string, { bad: boolean; raw: Buffer }[]>();
  let anyBad = false;
  const raw: Buffer[] = [];
  try {
    const dir = await opendir(path, { encoding: 'buffer' } as never);
    for await (const d of dir as unknown as AsyncIterable<{ name: Buffer }>) if (d.name.some((b) => b >= 0x80)) raw.push(d.name);
  } catch (e) {
    problems.push({ path, rel, error: errors.fromFs(e, path) });
    return;
  }
  // readdir (libuv's scandir) lists names in byte order; opendir in the directory's own: as readdir.
  raw.sort(Buffer.compare);
  for (const b of raw) {
    let isBad = false;
    try {
      strictUtf8.decode(b);
    } catch {
      isBad = anyBad = true;
    }
    const name = b.toString('utf8');
    if (!name.includes('\uFFFD')) continue;
    const list = flags.get(name);
    if (list) list.push({ bad: isBad, raw: b });
    else flags.set(name, [{ bad: isBad, raw: b }]);
  }
  if (!anyBad) return;
  // Entries are sorted by name (a stable sort): those of one name keep the listing's order.
  const seen = new Map<string, number>();
  for (const e of entries) {
    const list = flags.get(e.name);
    if (!list || !list.some((f) => f.bad)) continue;
    const i = seen.get(e.name) ?? 0;
    seen.set(e.name, i + 1);
    // Listings that disagree (the folder changed between them): every file of the name is
    // unaddressable, and which bytes each has is not known (shown as decoded).
    const agree = list.length === entries.filter((x) => x.name === e.name).length;
    if (agree && !list[i].bad) continue;
    e.unaddressable = true;
    if (agree) e.shown = showBytes(list[i].raw);
    if (e.kind === 'dir' && !opts.skipDirNames?.has(e.name) && !isLockName(e.name)) {
      const p = join(path, e.name);
      const shown = shownPath(path, e);
      problems.push({ path: p, rel, error: errors.nameNotUtf8(p, shown, 'directory name is not valid UTF-8'), shown });
    }
  }
}
