/** The pairing of the folders symlink targets live in, by the rule every walked folder is paired by. */
import { readdirSync, type Dirent } from 'node:fs';
import { dirname, sep } from 'node:path';
import { pairDirectory, type DirPairing, type PairGroup } from '../discovery/pair.js';
import { nameRoot } from '../discovery/shard.js';
import { byName, isPlainListing, kindOfDirent, type EntryKind, type WalkEntry } from '../discovery/walk.js';
import type { CacheFolders } from './port.js';

/** The groups of one folder of link targets, by image name; a shard pairs them root by root. */
interface TargetFolder {
  groups: Map<string, PairGroup>;
  /** A shard's folder: entries by partition root, each paired when a link first needs it. */
  unpaired: Map<string, { name: string; kind: EntryKind }[]> | null;
  /** Not a shard's: the folder's entries in the walk's order, and their pairing (`pairingOf`). */
  listing?: readonly WalkEntry[];
  pairing?: DirPairing;
  /** The listing is one the walk may use as its own (`listingOf`). */
  walkable?: boolean;
}

export const NO_GROUP: PairGroup = { images: [], sidecars: [] };

/**
 * Pairing of the folders that symlink targets live in (LRU-bounded), by the same rule as every
 * folder of the walk (pair.ts), so a link sees exactly the group its target's own record has.
 * A shard resolves only its own links, a few per target folder: it pairs only the names of the
 * target's partition root (shard.ts: every claim joins names of one root, so the group is the same).
 */
export class TargetGroups {
  private readonly cache = new Map<string, TargetFolder>();
  private lastDir = '';
  private last: TargetFolder | null = null;
  constructor(
    private readonly imageExts: ReadonlySet<string>,
    private readonly byRoot: boolean,
    /** The index's folders: a target folder known unchanged is not listed again. */
    private readonly listings?: CacheFolders,
    private readonly limit = 64,
  ) {}

  groupFor(target: string): PairGroup {
    const cut = target.lastIndexOf(sep);
    const dir = cut <= 0 ? dirname(target) : target.slice(0, cut);
    let folder: TargetFolder | undefined;
    if (this.last !== null && dir === this.lastDir) {
      folder = this.last; // links of a folder mostly point into one folder: no LRU shuffle
    } else {
      folder = this.cache.get(dir);
      if (folder) {
        this.cache.delete(dir); // refresh LRU position
      } else {
        folder = this.load(dir);
        if (this.cache.size >= this.limit) this.cache.delete(this.cache.keys().next().value!);
      }
      this.cache.set(dir, folder);
      this.lastDir = dir;
      this.last = folder;
    }
    const name = target.slice(cut + 1);
    const g = folder.groups.get(name);
    if (g !== undefined || folder.unpaired === null) return g ?? NO_GROUP;
    const root = nameRoot(name, this.imageExts);
    const entries = folder.unpaired.get(root);
    if (entries === undefined) return NO_GROUP;
    folder.unpaired.delete(root);
    this.pairInto(folder.groups, dir, entries);
    return folder.groups.get(name) ?? NO_GROUP;
  }

  private pairInto(groups: Map<string, PairGroup>, dir: string, entries: { name: string; kind: EntryKind }[]): DirPairing {
    const pairing = pairDirectory({ path: dir, entries: entries as WalkEntry[] }, this.imageExts);
    for (const g of pairing.groups) for (const i of g.images) groups.set(i.name, g);
    return pairing;
  }

  /**
   * The pairing of the walked folder `path` when its listing is the one this paired for links
   * (same names, kinds, order): the walk does not pair the folder again. Game folders are walked
   * before the folders their links point into, which were paired here for the links.
   */
  pairingOf(path: string, entries: readonly WalkEntry[]): DirPairing | null {
    const folder = this.cache.get(path);
    const mine = folder?.listing;
    if (mine === undefined || mine.length !== entries.length) return null;
    for (let i = 0; i < mine.length; i++) {
      const a = mine[i];
      const b = entries[i];
      if (a.name !== b.name || a.kind !== b.kind || a.unaddressable || b.unaddressable) return null;
    }
    return folder!.pairing!;
  }

  /**
   * The listing of folder `path` when this read it for links and it is a listing as the walk makes
   * one (walk.ts listedByRun): the walk does not read the folder again.
   */
  listingOf(path: string): readonly WalkEntry[] | null {
    const folder = this.cache.get(path);
    return folder?.walkable ? folder.listing! : null;
  }

  private load(dir: string): TargetFolder {
    const folder: TargetFolder = { groups: new Map(), unpaired: null };
    let entries: { name: string; kind: EntryKind }[];
    if (this.listings) {
      const listed = this.listings.listingSync(dir);
      if (!listed) return folder; // unreadable target dir: the link simply shows no sidecar there
      entries = listed.slice();
    } else {
      let dirents: Dirent[];
      try {
        dirents = readdirSync(dir, { withFileTypes: true });
      } catch {
        return folder; // unreadable target dir: the link simply shows no sidecar there
      }
      entries = dirents.map((d) => ({ name: d.name, kind: kindOfDirent(d) }));
    }
    // In the walk's order, so that a group lists its images as the folder's own record does (and as
    // with the index's listings, which are in that order), and the walk can reuse the pairing.
    entries.sort(byName);
    if (this.byRoot) {
      const unpaired = new Map<string, { name: string; kind: EntryKind }[]>();
      for (const e of entries) {
        const root = nameRoot(e.name, this.imageExts);
        const list = unpaired.get(root);
        if (list) list.push(e);
        else unpaired.set(root, [e]);
      }
      folder.unpaired = unpaired;
    } else {
      folder.pairing = this.pairInto(folder.groups, dir, entries);
      folder.listing = entries;
      folder.walkable = isPlainListing(entries);
    }
    return folder;
  }
}

