/**
 * Directories in the incremental index: what discovery found in each, kept while the directory is
 * unchanged, so a warm run neither lists nor pairs nor resolves links again where nothing moved.
 *
 * A directory is unchanged when its identity (dev, ino, size, mtime and ctime in ns, `stat` of its
 * real path) equals the stored one: creating, removing or renaming an entry, or a permission
 * change, moves mtime or ctime. Stored per directory (by real absolute path):
 * - its listing (names and kinds, the walk's `ListingCache`);
 * - for each symlink in it, an entry of its own (tasks/link-entry.ts: its text and the identity of
 *   the folder its target is in), served while the link's own directory is unchanged (the same
 *   link: a symlink's text never changes) and the folder its text names, resolved again in the
 *   run, has that identity. A link re-pointed (rm + ln, or rename over it) changes its directory;
 *   a target replaced, removed or renamed changes the target's directory.
 *
 * As for files, a directory whose ctime is within the racy margin of the run's start is not
 * stored (a change in the same timestamp tick after our read could keep every field), and its
 * identity is taken before it is read.
 */
import { readdirSync } from 'node:fs';
import { serialize } from 'node:v8';
import { byName, kindOfDirent, type EntryKind, type ListingCache, type WalkEntry } from '../discovery/walk.js';
import { isImageName } from '../discovery/pair.js';
import { isUnderProc, lookupEntry, LOOKUP_MEMO_ENTRIES, LookupMemo, realLinkPath, realUnder, unpooled, type LinkResolution } from '../discovery/resolve-link.js';
import { identityEquals } from '../fs/identity.js';
import { decodeLinkPayload, FolderIdentities, LinkEntries, type FolderIdentity, type LinkStep } from '../tasks/link-entry.js';
import { entryIdentity, entryPayload, TABLE_DIRS, TABLE_LINKS, type IndexReader } from './store.js';
import { decodeResult } from '../tasks/entry-format.js';
import type { ResolvedLink } from '../model/inspection.js';

/** Where this run's entries go (ScanIndex): a reference to an unchanged stored one, or a new one. */
export interface EntrySink {
  ref(table: number, off: number): void;
  add(table: number, key: string, id: Uint8Array, payload: readonly Uint8Array[]): boolean;
}

/** A folder's payload (v8; short keys: it is stored for every folder). No `n`: a folder links pass through. */
interface DirPayload {
  /** Entry names, in name order. */
  n?: string[];
  /** One kind letter per name: f(ile) d(ir) s(ymlink) o(ther). */
  k?: string;
}

const KIND_LETTER: Record<EntryKind, string> = { file: 'f', dir: 'd', symlink: 's', other: 'o' };
const LETTER_KIND: Record<string, EntryKind> = { f: 'file', d: 'dir', s: 'symlink', o: 'other' };
/** Listings of this run kept for reuse (a link target's folder, then walked): a few, memory stays flat. */
const RECENT_LISTINGS = 4;
/** Folders listed ahead whose links are read ahead at most, until their turns (the walk lists 4 ahead at each depth). */
const LINKS_LISTED_AHEAD = 8;

function listingPayload(entries: readonly WalkEntry[] | null): Buffer {
  if (!entries) return serialize({});
  return serialize({ n: entries.map((e) => e.name), k: entries.map((e) => KIND_LETTER[e.kind]).join('') } satisfies DirPayload);
}

function decodeListing(raw: Uint8Array): WalkEntry[] | null | undefined {
  const p = decodeResult<DirPayload>(raw);
  if (!p || typeof p !== 'object') return undefined; // unreadable: treated as absent
  if (!p.n) return null;
  if (!Array.isArray(p.n) || typeof p.k !== 'string' || p.k.length !== p.n.length) return undefined;
  const entries: WalkEntry[] = new Array(p.n.length);
  for (let i = 0; i < p.n.length; i++) {
    const kind = LETTER_KIND[p.k[i]];
    if (!kind || typeof p.n[i] !== 'string') return undefined;
    entries[i] = { name: p.n[i], kind };
  }
  return entries;
}

/**
 * The folders of one run: stored ones checked (one `stat` each), new ones recorded. Memory: per
 * folder met, its identity now and whether it is unchanged; a bounded number of listings.
 */
export class DirSnapshots implements ListingCache, LinkResolution {
  /** Identity of each folder now (taken once per run, before it is read); null: not a folder. */
  private readonly now: FolderIdentities;
  /** Folders checked against the stored index: unchanged or not. */
  private readonly valid = new Map<string, boolean>();
  /** Folders this run wrote an entry for: 'full' its listing as stored before, 'put' its listing stored now, 'dep' identity only. */
  private readonly added = new Map<string, 'full' | 'put' | 'dep'>();
  private readonly recent = new Map<string, readonly WalkEntry[]>();
  private readonly memo = new LookupMemo();
  /** This run's link resolutions: folders a link text names resolved once, traced (their lookups go to folder records). */
  private readonly links: LinkEntries;
  /** Names looked up again in changed folders this run (folders and links on the way only; the most recent). */
  private readonly entries = new Map<string, Uint8Array | null>();
  hits = 0;
  misses = 0;
  linksReused = 0;
  linksResolved = 0;
  /**
   * What the last `resolve` relied on after the link's own name (folder-records.ts): each lookup
   * [folder, name, inode stamp], and whether those are all of them (the first lookup was the link
   * itself in its own folder).
   */
  lastSteps: readonly LinkStep[] = [];
  lastComplete = false;

  constructor(
    private reader: IndexReader | null,
    private readonly rootAbs: string,
    private readonly rootReal: string,
    racyCutoffNs: bigint,
    private readonly sink: EntrySink,
    /**
     * Listings are stored (and folders' identities taken for them) only when the index held results
     * of the run's option set as it began. A first run stores none, nor a command's first run on an
     * index other commands filled: like links and folder records, a folder's listing is stored by
     * the next run, which lists the folder and can be served from everything else (what it saves a
     * first run, and costs the second: docs/INDEX.md "Folders and links").
     */
    private readonly storesListings: boolean = reader !== null,
  ) {
    this.now = new FolderIdentities(racyCutoffNs);
    this.links = new LinkEntries(this.now, this.memo);
  }

  /**
   * The folder's listing was served from the index, as an earlier run stored it: what a folder's
   * records are stored under (scan.ts). Not a listing this run stored: the run that stores the
   * listings and links (the second) stores no records; the runs after it do (folder-records.ts
   * RECORDS_PER_RUN_SHARE).
   */
  holdsListing(real: string): boolean {
    return this.storesListings && this.added.get(real) === 'full';
  }

  /** Did this run reference or write the folder's entry? */
  metThisRun(real: string): boolean {
    return this.added.has(real);
  }

  /** The stored index turned out corrupt: nothing of it is used from here on. */
  forgetStored(): void {
    this.reader = null;
    for (const [k, v] of this.valid) if (v) this.valid.set(k, false);
  }

  /** The real path of a folder of the walk (the root as given, plus real subfolders). */
  realOf(path: string): string {
    if (path === this.rootAbs) return this.rootReal;
    // (A root whose real path is `/`: its folders are `/sub`, never `//sub`.)
    if (this.rootAbs !== this.rootReal && path.startsWith(this.rootAbs) && path[this.rootAbs.length] === '/') return (this.rootReal === '/' ? '' : this.rootReal) + path.slice(this.rootAbs.length);
    return path;
  }

  /** A folder's identity in this run (taken once, before it is read or looked in); null: not a folder. */
  dirIdentity(real: string): FolderIdentity | null {
    return this.now.of(real);
  }

  /** Did the stat of walked folder `path`, if this run has taken it, take a round trip (a file server)? Undefined: not taken yet. */
  statTookRoundTrip(path: string): boolean | undefined {
    return this.now.taken(this.realOf(path))?.roundTrip;
  }

  /**
   * Does `name` in `dir` still name the inode `stamp`, as it did when `dir` had the identity
   * `dirId`? Free when the folder is as it was; one lstat (shared by the run) otherwise.
   */
  stepHolds(dir: string, dirId: Uint8Array, name: string, stamp: Uint8Array | null): boolean {
    // (An index written before such lookups were left unstored may hold some: they never hold.)
    if (isUnderProc(dir)) return false;
    const now = this.dirIdentity(dir);
    if (now !== null && Buffer.compare(now.id, dirId) === 0) return true;
    return this.namesNow(dir, name, stamp);
  }

  /** Guarded read of the stored index (a corrupt entry: the sink is told through a throw → treated as absent). */
  private stored(table: number, key: string) {
    if (!this.reader) return null;
    try {
      return this.reader.find(table, key);
    } catch {
      this.forgetStored();
      return null;
    }
  }

  /**
   * Is the folder as stored? When it is, its stored entry is this run's (referenced once). The
   * listing is returned when asked (`withListing`) and stored.
   */
  private unchanged(real: string, withListing = false): { ok: boolean; entries?: WalkEntry[] | null } {
    const known = this.valid.get(real);
    if (known === false) return { ok: false };
    if (known === true && !withListing) return { ok: true };
    const v = this.stored(TABLE_DIRS, real);
    if (!v) {
      this.valid.set(real, false);
      return { ok: false };
    }
    if (known === undefined) {
      const now = this.dirIdentity(real);
      const ok = now !== null && now.id.equals(entryIdentity(v));
      this.valid.set(real, ok);
      if (!ok) return { ok: false };
    }
    const entries = withListing ? decodeListing(entryPayload(v)) : undefined;
    if (!this.added.has(real)) {
      this.sink.ref(TABLE_DIRS, v.off);
      this.added.set(real, 'dep');
    }
    if (entries === undefined && withListing) return { ok: true, entries: null };
    if (entries) {
      this.added.set(real, 'full');
      this.hits++;
    }
    return { ok: true, entries };
  }

  private remember(real: string, entries: readonly WalkEntry[]): void {
    this.recent.delete(real);
    this.recent.set(real, entries);
    if (this.recent.size > RECENT_LISTINGS) this.recent.delete(this.recent.keys().next().value!);
  }

  get(path: string): readonly WalkEntry[] | null {
    const real = this.realOf(path);
    const mine = this.recent.get(real);
    if (mine) return mine; // listed or checked earlier in this run (a link target's folder, then walked)
    const u = this.unchanged(real, true);
    if (u.ok && u.entries) {
      this.remember(real, u.entries);
      return u.entries;
    }
    if (this.storesListings) this.dirIdentity(real); // before the caller reads it
    this.misses++;
    return null;
  }

  put(path: string, entries: readonly WalkEntry[]): void {
    const real = this.realOf(path);
    this.remember(real, entries);
    if (!this.storesListings) return;
    const now = this.dirIdentity(real);
    const held = this.added.get(real);
    if (!now || now.racy || held === 'full' || held === 'put') return;
    if (this.sink.add(TABLE_DIRS, real, now.id, [listingPayload(entries)])) this.added.set(real, 'put');
  }

  /** A folder's listing for pairing a link target's folder (read when not known unchanged). */
  listingSync(dir: string): readonly WalkEntry[] | null {
    const cached = this.get(dir);
    if (cached) return cached;
    let dirents;
    try {
      dirents = readdirSync(dir, { withFileTypes: true });
    } catch {
      return null;
    }
    const entries: WalkEntry[] = dirents.map((d) => ({ name: d.name, kind: kindOfDirent(d) }));
    entries.sort(byName);
    if (!entries.some((e) => e.name.includes('\uFFFD'))) this.put(dir, entries);
    return entries;
  }

  private namesNow(dir: string, name: string, stamp: Uint8Array | null): boolean {
    if (stamp === null) return false; // it named nothing; the folder changed: look again
    const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
    let now = this.entries.get(path);
    if (now === undefined) {
      const r = lookupEntry(path);
      now = 'code' in r ? null : r.stamp;
      // Folders and links on the way are shared by many links: kept while recent (bounded, as LookupMemo).
      if ('kind' in r && (r.kind === 'dir' || r.kind === 'link')) {
        if (this.entries.size >= LOOKUP_MEMO_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
        this.entries.set(path, now && unpooled(now));
      }
    }
    return now !== null && Buffer.compare(now, stamp) === 0;
  }

  /** No link entry was stored when the run began (a first run, a rebuilt index, a tree that had no link). */
  get noLinkStored(): boolean {
    if (!this.reader) return true;
    try {
      return this.reader.count(TABLE_LINKS) === 0;
    } catch {
      return false;
    }
  }

  /** Links the engine resolved (a run that stores none: scan.ts). */
  resolvedElsewhere(n: number): void {
    this.linksResolved += n;
  }

  /** The stored entry of the link `key` while its own folder's identity now (`own`) is the one stored with it: the same link. */
  private storedLink(key: string, own: FolderIdentity | null) {
    const v = own !== null && !own.racy ? this.stored(TABLE_LINKS, key) : null;
    return v && identityEquals(own!.id, v.buf, v.idAt) ? v : null;
  }

  /**
   * The image links of the walked folder `dirRel` (`entries`, its listing) read ahead many at once
   * when reading one took a round trip (a file server: LinkEntries.readAhead), before the folder is
   * paired (a folder its records serve resolves none). A folder whose first image link is served
   * from its stored entry (its folder and its target's folder as stored) is taken to be stored (a
   * later run: nothing is read); otherwise that link is read and timed, and on a round trip the
   * others that are not served are read ahead. Null when nothing is read ahead.
   */
  linksAhead(dirRel: string, entries: readonly WalkEntry[], imageExts: ReadonlySet<string>, signal?: AbortSignal): Promise<void> | null {
    const real = realUnder(this.rootReal, dirRel);
    this.links.turn(real);
    const listed = this.linksListed.get(real);
    if (listed !== undefined) {
      this.linksListed.delete(real);
      return listed;
    }
    return this.readLinksAhead(real, dirRel, entries, imageExts, false, signal);
  }

  /**
   * The walk listed folder `dirRel` ahead (read ahead, or served by the index then): on a file server
   * (its own stat took a round trip) its image links are read ahead now, as `linksAhead` would at
   * its turn, while the folders before it are handled; its `linksAhead` gets what was started.
   */
  linksListedAhead(dirRel: string, entries: readonly WalkEntry[], imageExts: ReadonlySet<string>, signal?: AbortSignal): void {
    // Full: the folders listed ahead have their turns to come (the walk lists ahead at each depth); this one reads its links at its own.
    if (this.linksListed.size >= LINKS_LISTED_AHEAD || signal?.aborted) return;
    const real = realUnder(this.rootReal, dirRel);
    if (this.linksListed.has(real)) return;
    const ahead = this.readLinksAhead(real, dirRel, entries, imageExts, true, signal);
    if (ahead !== null) this.linksListed.set(real, ahead);
  }

  /** Folder `real` had its turn without resolving its links (its records served it): what was read ahead for it is let go. */
  turnWithoutLinks(real: string): void {
    this.linksListed.delete(real);
    this.links.letGo(real);
  }

  /** Folders whose links were read ahead when the walk listed them, until their turn. */
  private readonly linksListed = new Map<string, Promise<void>>();

  private readLinksAhead(real: string, dirRel: string, entries: readonly WalkEntry[], imageExts: ReadonlySet<string>, listed: boolean, signal?: AbortSignal): Promise<void> | null {
    const names: string[] = [];
    for (const e of entries) if (e.kind === 'symlink' && !e.unaddressable && isImageName(e.name, imageExts)) names.push(e.name);
    if (names.length < 2) return null;
    const own = this.dirIdentity(real); // before a link is read
    // (Its target folder's identity too, as `resolve` serves it: resolved once per run and text folder.)
    const held = (name: string) => {
      const v = this.storedLink(realLinkPath(this.rootReal, dirRel, name), own);
      const stored = v && decodeLinkPayload(entryPayload(v));
      return stored != null && this.links.served(real, stored) !== null;
    };
    if (held(names[0])) return null;
    // A folder whose own stat took a round trip is on a file server: its first link is not timed to
    // find out. One listed ahead is read only so (a probe is the folder at its turn's).
    const onServer = own?.roundTrip === true;
    if (!onServer && (listed || !this.links.readTakesRoundTrip(real, names[0]))) return null;
    return this.links.readAhead(real, names.slice(onServer ? 0 : 1).filter((n) => !held(n)), signal);
  }

  /** Link texts and targets read ahead (linksAhead) that a resolution used. */
  get linksAheadUsed(): number {
    return this.links.aheadUsed;
  }

  /**
   * The resolution of the symlink `name` in the walked folder `dirRel` (`linkPath`, the scan's
   * LinkResolution): served while its entry holds (its own folder as stored: the same link and
   * text; the folder its text names, resolved again once per run, with the identity stored), else
   * resolved (tasks/link-entry.ts) and recorded.
   */
  resolve(_linkPath: string, dirRel: string, name: string): ResolvedLink {
    const real = realUnder(this.rootReal, dirRel);
    const key = realLinkPath(this.rootReal, dirRel, name);
    const v = this.storedLink(key, this.dirIdentity(real));
    if (v) {
      const off = v.off; // the view may be overwritten by the checks below
      const stored = decodeLinkPayload(entryPayload(v));
      const served = stored && this.links.served(real, stored);
      if (served) {
        this.sink.ref(TABLE_LINKS, off);
        this.linksReused++;
        this.lastSteps = served.steps;
        this.lastComplete = served.complete;
        return served.link;
      }
    }
    const made = this.links.resolve(real, name);
    this.linksResolved++;
    this.lastSteps = made.steps;
    this.lastComplete = made.complete;
    if (made.entry !== null) this.sink.add(TABLE_LINKS, key, made.entry.id, [made.entry.payload]);
    return made.link;
  }
}
