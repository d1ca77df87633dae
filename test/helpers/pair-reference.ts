/**
 * The pairing as src/discovery/pair.ts computed it before its allocation-free rewrite:
 * key strings per claim, a list per key, a Map of groups by root. Kept here only as the oracle of
 * the property test in test/pair.test.ts; the rule itself lives in pair.ts alone.
 */
import { isAbsolute, join, normalize, sep } from 'node:path';
import type { SidecarExt, SidecarNaming } from '../../src/types.js';
import { nfc, splitName } from '../../src/discovery/extensions.js';
import type { DirListing, WalkEntry } from '../../src/discovery/walk.js';
import { isLockName, isTempName } from '../../src/fs/temp-files.js';
import { CONFIG_FILE_NAME } from '../../src/discovery/config.js';
import { compareSidecars, sidecarExtOf, type DirPairing, type ImageEntry, type PairGroup, type PairOptions, type SidecarEntry } from '../../src/discovery/pair.js';

function sidecarClaims(name: string, imageExts: ReadonlySet<string>): { ext: SidecarExt; claims: { key: string; naming: SidecarNaming }[] } | null {
  const ext = sidecarExtOf(name);
  if (ext === null) return null;
  const base = nfc(name.slice(0, name.length - ext.length - 1));
  const claims: { key: string; naming: SidecarNaming }[] = [{ key: `s:${base}`, naming: 'stem' }];
  const inner = splitName(base);
  if (inner.ext !== '' && imageExts.has(inner.ext)) claims.push({ key: `n:${base}`, naming: 'name-ext' });
  return { ext, claims };
}

/** The keys under which an image can be claimed: its NFC stem and its NFC full name. */
function imageKeys(name: string): [string, string] {
  const n = nfc(name);
  return [`s:${splitName(n).stem}`, `n:${n}`];
}

function isImageName(name: string, imageExts: ReadonlySet<string>): boolean {
  const { stem, ext } = splitName(name);
  return ext !== '' && stem !== '' && imageExts.has(ext);
}

/** Case-folded NFC keys of a non-sidecar file, for the unknown-image rule. */
function lookalikeKeys(name: string): string[] {
  const n = nfc(name).toLowerCase();
  const { stem } = splitName(n);
  return stem === n ? [n] : [n, stem];
}

/** Files whose names the unknown-image rule compares a lone sidecar with (non-sidecar, non-directory). */
function isLookalikeSource(e: WalkEntry, imageExts: ReadonlySet<string>): boolean {
  return !e.unaddressable && !isLockName(e.name) && !isTempName(e.name) && e.name !== CONFIG_FILE_NAME && e.kind !== 'dir' && sidecarClaims(e.name, imageExts) === null;
}

export function referencePairDirectory(listing: Pick<DirListing, 'path' | 'entries'>, imageExts: ReadonlySet<string>, opts: PairOptions = {}): DirPairing {
  const images: ImageEntry[] = [];
  const sidecars: { entry: SidecarEntry; claims: { key: string; naming: SidecarNaming }[] }[] = [];
  const unaddressable: WalkEntry[] = [];
  const tempFiles: string[] = [];
  let ignored = 0;
  // A normalised absolute folder (every walked one) joins a name by concatenation: join() per file
  // normalises the whole path again.
  const dir = listing.path;
  const prefix = isAbsolute(dir) && normalize(dir) === dir ? (dir.endsWith(sep) ? dir : dir + sep) : null;
  const pathOf = (name: string) => (prefix === null ? join(dir, name) : prefix + name);

  for (const e of listing.entries) {
    if (e.unaddressable) {
      if (e.kind !== 'dir') unaddressable.push(e); // the walk reports such directories itself
      continue;
    }
    if (isLockName(e.name)) continue; // a live or stale lock of ours: not a file of the library
    if (isTempName(e.name)) {
      tempFiles.push(pathOf(e.name));
      continue;
    }
    if (e.name === CONFIG_FILE_NAME) {
      ignored++; // the library's configuration file, not a sidecar
      continue;
    }
    const sc = sidecarClaims(e.name, imageExts);
    if (sc) {
      // A directory/FIFO in a sidecar's name is a candidate that reads as unreadable, so the image
      // is reported and the scan is not called complete. A symlinked sidecar is read through the link.
      const entry: SidecarEntry = { name: e.name, path: pathOf(e.name), ext: sc.ext, naming: 'stem' };
      if (e.kind === 'symlink') entry.isLink = true;
      if (e.kind === 'dir' || e.kind === 'other') entry.notFile = true;
      sidecars.push({ entry, claims: sc.claims });
      continue;
    }
    if (e.kind === 'dir') continue;
    if (isImageName(e.name, imageExts)) {
      images.push({ name: e.name, path: pathOf(e.name), isLink: e.kind === 'symlink' });
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
  const byKey = new Map<string, number[]>();
  images.forEach((img, i) => {
    for (const k of imageKeys(img.name)) {
      const list = byKey.get(k);
      if (list) list.push(i);
      else byKey.set(k, [i]);
    }
  });
  sidecars.forEach((s, j) => {
    for (const c of s.claims) {
      const hits = byKey.get(c.key);
      if (!hits) continue;
      if (c.naming === 'name-ext') s.entry.naming = 'name-ext';
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
  // The unknown-image rule stated directly (not pair.ts's key map): a lone sidecar's lookalikes are,
  // per sidecar, the first file of the folder in listing order whose case-folded NFC name or stem
  // is the sidecar's case-folded NFC base.
  const sources = (opts.folderEntries ?? listing.entries).filter((e) => isLookalikeSource(e, imageExts));
  for (const g of order) {
    if (g.sidecars.length > 1) g.sidecars.sort(compareSidecars);
    if (g.images.length > 0) continue;
    const seen = new Set<string>();
    for (const s of g.sidecars) {
      const base = nfc(s.name.slice(0, s.name.length - s.ext.length - 1)).toLowerCase();
      const hit = sources.find((e) => lookalikeKeys(e.name).includes(base));
      if (hit !== undefined) seen.add(hit.name);
    }
    if (seen.size > 0) g.lookalikes = [...seen].sort();
  }
  return { groups: order, unaddressable, ignored, tempFiles };
}

