import { join } from 'node:path';
import type { SidecarExt, SidecarNaming } from '../types.js';
import { isSidecarExt, nfc, splitName } from './extensions.js';
import type { DirListing, WalkEntry } from './walk.js';
import { isLockName, isTempName } from '../fs/temp-files.js';

export interface ImageEntry {
  name: string;
  path: string;
  isLink: boolean;
}

export interface SidecarEntry {
  name: string;
  path: string;
  ext: SidecarExt;
  naming: SidecarNaming;
  /** A symlinked sidecar: read through the link, never written, converted or removed. */
  isLink?: boolean;
}

/** Images and sidecars connected by name claims; a lone sidecar has no images. */
export interface PairGroup {
  images: ImageEntry[];
  /** In read preference order: stem .bin, .rkyv, .json, then name-ext .bin, .rkyv, .json. */
  sidecars: SidecarEntry[];
}

export interface DirPairing {
  groups: PairGroup[];
  /** Entries we cannot address by name (invalid UTF-8). */
  unaddressable: WalkEntry[];
  /** Files that are neither images nor sidecar candidates, or are directory links. */
  ignored: number;
  /** Our own leftover temp files (lock entries are skipped silently). */
  tempFiles: string[];
}

const EXT_RANK: Record<SidecarExt, number> = { bin: 0, rkyv: 1, json: 2 };

/** Rank for preference order: stem form first, then name-ext, each bin > rkyv > json. */
export function sidecarRank(s: { ext: SidecarExt; naming: SidecarNaming }): number {
  return (s.naming === 'stem' ? 0 : 3) + EXT_RANK[s.ext];
}

/** The image-name keys a sidecar file name claims (NFC, extension lower-cased). */
export function sidecarClaims(name: string, imageExts: ReadonlySet<string>): { ext: SidecarExt; claims: { key: string; naming: SidecarNaming }[] } | null {
  const { stem, ext } = splitName(name);
  if (!isSidecarExt(ext) || stem === '') return null;
  const claims: { key: string; naming: SidecarNaming }[] = [{ key: `s:${nfc(stem)}`, naming: 'stem' }];
  const inner = splitName(stem);
  if (inner.ext !== '' && imageExts.has(inner.ext)) claims.push({ key: `n:${nfc(inner.stem)}.${inner.ext}`, naming: 'name-ext' });
  return { ext, claims };
}

/** The keys under which an image can be claimed. */
export function imageKeys(name: string): [string, string] {
  const { stem, ext } = splitName(name);
  const s = nfc(stem);
  return [`s:${s}`, `n:${s}.${ext}`];
}

export function isImageName(name: string, imageExts: ReadonlySet<string>): boolean {
  const { ext } = splitName(name);
  return ext !== '' && imageExts.has(ext);
}

/**
 * Pair one directory's files by name. Pure (no I/O): symlink targets are resolved by the scan.
 * Name rule: a sidecar belongs to the images in the same directory whose stem (or full name, for
 * `IMG_1.jpg.json`) equals its own, compared after NFC with the image extension case-insensitive.
 * Anything connected through shared claims is one group, so `IMG_1.jpg` + `IMG_1.png` + `IMG_1.json`
 * is a single (ambiguous) group rather than a guess.
 */
export function pairDirectory(listing: DirListing, imageExts: ReadonlySet<string>): DirPairing {
  const images: ImageEntry[] = [];
  const sidecars: { entry: SidecarEntry; claims: { key: string; naming: SidecarNaming }[] }[] = [];
  const unaddressable: WalkEntry[] = [];
  const tempFiles: string[] = [];
  let ignored = 0;

  for (const e of listing.entries) {
    if (e.unaddressable) {
      if (e.kind !== 'dir') unaddressable.push(e); // the walk reports such directories itself
      continue;
    }
    if (isLockName(e.name)) continue; // a live or stale lock of ours: not a file of the library
    if (isTempName(e.name)) {
      tempFiles.push(join(listing.path, e.name));
      continue;
    }
    if (e.kind === 'dir' || e.kind === 'other') {
      // A directory, FIFO, socket or device in a sidecar's name: a candidate that will read as
      // unreadable, so the image is reported and the scan is not called complete.
      const sc = sidecarClaims(e.name, imageExts);
      if (sc) sidecars.push({ entry: { name: e.name, path: join(listing.path, e.name), ext: sc.ext, naming: 'stem' }, claims: sc.claims });
      else if (e.kind === 'other') ignored++;
      continue;
    }
    if (isImageName(e.name, imageExts)) {
      images.push({ name: e.name, path: join(listing.path, e.name), isLink: e.kind === 'symlink' });
      continue;
    }
    // A symlinked sidecar counts, as it does for readSidecar (locate); it is read through the link.
    const sc = sidecarClaims(e.name, imageExts);
    if (sc) {
      const entry: SidecarEntry = { name: e.name, path: join(listing.path, e.name), ext: sc.ext, naming: 'stem' };
      if (e.kind === 'symlink') entry.isLink = true;
      sidecars.push({ entry, claims: sc.claims });
      continue;
    }
    ignored++;
  }

  // Union-find over images (0..n-1) and sidecars (n..n+m-1).
  const n = images.length;
  const parent = Array.from({ length: n + sidecars.length }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  const keyToImage = new Map<string, number>();
  const ambiguousKeys = new Map<string, number[]>();
  images.forEach((img, i) => {
    for (const k of imageKeys(img.name)) {
      const prev = keyToImage.get(k);
      if (prev === undefined) keyToImage.set(k, i);
      else {
        const list = ambiguousKeys.get(k) ?? [prev];
        list.push(i);
        ambiguousKeys.set(k, list);
      }
    }
  });
  sidecars.forEach((s, j) => {
    for (const c of s.claims) {
      const hits = ambiguousKeys.get(c.key) ?? (keyToImage.has(c.key) ? [keyToImage.get(c.key)!] : []);
      if (hits.length > 0 && c.naming === 'name-ext') s.entry.naming = 'name-ext';
      for (const i of hits) parent[find(n + j)] = find(i);
    }
  });

  const byRoot = new Map<number, PairGroup>();
  const order: PairGroup[] = [];
  const groupOf = (i: number): PairGroup => {
    const r = find(i);
    let g = byRoot.get(r);
    if (!g) {
      g = { images: [], sidecars: [] };
      byRoot.set(r, g);
      order.push(g);
    }
    return g;
  };
  images.forEach((img, i) => groupOf(i).images.push(img));
  sidecars.forEach((s, j) => groupOf(n + j).sidecars.push(s.entry));
  for (const g of order) if (g.sidecars.length > 1) g.sidecars.sort((a, b) => sidecarRank(a) - sidecarRank(b) || (a.name < b.name ? -1 : 1));
  return { groups: order, unaddressable, ignored, tempFiles };
}
