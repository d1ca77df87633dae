/**
 * One image path → its symlink chain, the file it finally is, and the sidecar files that exist
 * for it, decided by the one pairing rule (pair.ts: pairGroupOf, the computation scan makes).
 * Sidecars live next to the link's TARGET (the earlier tool's rule); files next to the link are
 * reported too, after the target's, so nothing written by other tools goes unseen.
 *
 * Sidecar candidates are always looked up fresh (a stat per candidate name for ASCII names, a
 * listing for others, where NFD twins exist). The other images of the folder (which make a
 * stem-form sidecar ambiguous) come from a listing that is re-read whenever the folder changed
 * (its inode, mtime or ctime: the mtime alone can be put back — `touch -r`, rsync -t — after
 * another process added a file; the ctime cannot), except in folders of more than BIG_FOLDER
 * entries, where a listing up to LISTING_TTL_MS old is reused (a save loop would otherwise list
 * the folder once per save). An image added since may share a stem file with this one (IMG_1.CR2
 * and the IMG_1.json recorded for it): such a listing's stem-form candidates are `unverified`, and
 * read and save check the image their record names on disk (recordNamesAnotherImage).
 *
 * File-system calls are synchronous: a few µs each, where the promise API costs a thread-pool
 * round trip each (per-image latency matters for the stdio server and for save loops).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isUtf8 } from 'node:buffer';
import { errors } from '../errors.js';
import { assertUtf8Path, notUtf8Target } from '../fs/byte-names.js';
import { physicalPath } from '../fs/physical-path.js';
import { leadsToRegularFile } from '../fs/regular-file.js';
import type { SidecarExt, SidecarNaming } from '../types.js';
import { cachedImageExtensionSet, isAscii, nfc, sidecarNameFor, splitName } from './extensions.js';
import { candidateNames, imageNamedBy, isSidecarName, pairGroupOf, sidecarsOfImage, type PairGroup } from './pair.js';
import { lockKeyForImage } from './lock-key.js';
import type { EntryKind } from './walk.js';

export interface SidecarCandidate {
  path: string;
  ext: SidecarExt;
  naming: SidecarNaming;
  side: 'target' | 'link';
  /** The candidate is itself a symlink: read through it, never written. */
  isLink?: boolean;
  /**
   * Claimed by other images too (IMG_1.json beside IMG_1.jpg and IMG_1.CR2): it is this image's only
   * when its record names this image, or names none of them (then the answer is ambiguous).
   */
  shared?: true;
  /**
   * Found while the folder's other images came from a listing older than the folder (a big folder's
   * reused listing, see the header): an image added since may share this stem file. A reader takes
   * it only after its record is checked against the disk (`recordNamesAnotherImage`).
   */
  unverified?: true;
}

export interface SidecarLocation {
  /** As given, resolved to an absolute path. */
  imagePath: string;
  isSymlink: boolean;
  /** Each symlink of the chain in order, starting with imagePath; empty when not a link. */
  chain: string[];
  /** Final target (realpath); equals imagePath when not a link. For a broken link, where it points. */
  targetPath: string;
  /** The link chain ends at a missing file, or loops (ELOOP). */
  broken: boolean;
  /** Broken because the chain loops or passes 40 links (ELOOP), not because its end is missing. */
  loops?: true;
  /** Directory, file name and stem of the TARGET: where sidecars live. */
  dir: string;
  name: string;
  stem: string;
  /**
   * Existing sidecar files in name order: target side (bin, rkyv, json, name.bin, name.json), then
   * link side. Read and save take them in read order (ops/read.ts readOrderOf, docs/PAIRING.md §4).
   */
  candidates: SidecarCandidate[];
  /**
   * This image's sidecar names that hold no readable file (a folder, a FIFO, a link to nothing):
   * not candidates, but a read that finds no sidecar says it cannot read them (docs/PAIRING.md §1).
   */
  notFiles?: string[];
  /**
   * The other images of the target's group (IMG_1.CR2 beside IMG_1.jpg): a shared candidate whose
   * record names one of them is that image's, not this one's.
   */
  siblings: string[];
  /**
   * Another file of the folder with the target's name in another Unicode form (é.jpg in NFC and in
   * NFD, copied from a Mac): names pair as NFC, so the image's sidecars are that file's too.
   */
  unicodeTwin?: string;
  /** Folders this image's sidecars may be in, with the image name there (target side first): see sidecarLockKeys. */
  sidecarFolders: { dir: string; name: string }[];
  /**
   * A symlinked image whose target is not named like an image (`blob`, `x.json`, `.hidden`): no
   * sidecar pairs with it there, so a save refuses (a scan would never find what it wrote).
   */
  unpairable?: boolean;
  /** Broken because the target exists but is not a regular file (a folder, a device). */
  targetNotAFile?: boolean;
}

/** Lock keys (lock-key.ts) of every folder the image's sidecars may be in: what a save must hold. */
export function sidecarLockKeys(loc: SidecarLocation): string[] {
  const keys: string[] = [];
  for (const f of loc.sidecarFolders) {
    const k = lockKeyForImage(f.dir, f.name);
    if (!keys.includes(k)) keys.push(k);
  }
  return keys;
}

export interface LocateOptions {
  imageExtensions?: readonly string[];
}

/** Linux gives up after 40 links; so do we when recording a chain. */
const MAX_LINKS = 40;
const BIG_FOLDER = 4096;
const LISTING_TTL_MS = 2000;
const LISTING_CACHE_DIRS = 16;

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

/** What `p` is without following it: null when missing. */
function kindOf(p: string): EntryKind | null {
  try {
    // Most candidate names do not exist: no Error object (and stack) for each of them.
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (st === undefined) return null;
    return st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'other';
  } catch (e) {
    const c = code(e);
    // ENAMETOOLONG: a candidate name longer than the file system allows (IMG.jpg.bin for a 252-byte image name) cannot exist.
    if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'ENAMETOOLONG') return null;
    throw errors.fromFs(e, p);
  }
}

interface Listing {
  ino: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  at: number;
  entries: { name: string; kind: EntryKind }[];
  /** Non-sidecar entries by every NFC prefix that ends before a dot (`IMG_1.jpg.png` → `IMG_1`, `IMG_1.jpg`), built on first use. */
  byStem?: Map<string, { name: string; kind: EntryKind }[]>;
  /** Sidecar names that are not ASCII by their ASCII NFC name (nfcTwinSidecars), made on first use. */
  asciiTwins?: Map<string, string[]>;
}
const listings = new Map<string, Listing>();
/** Set by folderListing when it returned a listing of a folder that has changed since (synchronous callers read it right after). */
let reusedChanged = false;

function direntKind(d: fs.Dirent): EntryKind {
  return d.isFile() ? 'file' : d.isSymbolicLink() ? 'symlink' : d.isDirectory() ? 'dir' : 'other';
}

/**
 * The folder's entries whose names are valid UTF-8. readdir decodes a name that is not (`IMG_\xff.json`)
 * to one with U+FFFD in it: another file's name (`IMG_\uFFFD.json`), which would pair as a sidecar
 * or a sibling of an image named so. Such names are left out (fs/byte-names.ts): no string path
 * reaches them, and they belong to no image a string can name. Only a listing with U+FFFD in it is
 * read again as bytes to tell the two apart.
 */
function listUtf8Names(dir: string): { name: string; kind: EntryKind }[] {
  const dirents = fs.readdirSync(dir, { withFileTypes: true });
  if (!dirents.some((d) => d.name.includes('\uFFFD'))) return dirents.map((d) => ({ name: d.name, kind: direntKind(d) }));
  const raw = fs.readdirSync(dir, { withFileTypes: true, encoding: 'buffer' }) as unknown as (fs.Dirent & { name: Buffer })[];
  return raw.filter((d) => isUtf8(d.name)).map((d) => ({ name: d.name.toString('utf8'), kind: direntKind(d) }));
}

/** Non-sidecar entries whose NFC name starts with `stem.` (the images that may share a sidecar with `stem`). */
function entriesWithStem(dir: string, stem: string): { name: string; kind: EntryKind }[] {
  const l = folderListing(dir, false);
  if (!l.byStem) {
    const m = new Map<string, { name: string; kind: EntryKind }[]>();
    for (const e of l.entries) {
      if (isSidecarName(e.name)) continue;
      const n = nfc(e.name);
      for (let i = n.indexOf('.', 1); i > 0; i = n.indexOf('.', i + 1)) {
        const k = n.slice(0, i);
        const list = m.get(k);
        if (list) list.push(e);
        else m.set(k, [e]);
      }
    }
    l.byStem = m;
  }
  return l.byStem.get(stem) ?? [];
}

/** The folder's entries (see the header for when a cached listing is reused). Missing folder → []. */
function folderEntries(dir: string, fresh: boolean): { name: string; kind: EntryKind }[] {
  return folderListing(dir, fresh).entries;
}

function folderListing(dir: string, fresh: boolean): Listing {
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(dir, { bigint: true });
  } catch (e) {
    if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return { ino: 0n, mtimeNs: 0n, ctimeNs: 0n, at: 0, entries: [] };
    throw errors.fromFs(e, dir);
  }
  const cached = listings.get(dir);
  if (!fresh && cached && cached.ino === st.ino) {
    if (cached.mtimeNs === st.mtimeNs && cached.ctimeNs === st.ctimeNs && Date.now() - cached.at < 60_000) return cached;
    if (cached.entries.length > BIG_FOLDER && Date.now() - cached.at < LISTING_TTL_MS) {
      reusedChanged = true; // the folder changed since: its images may not all be in it
      return cached;
    }
  }
  let entries: { name: string; kind: EntryKind }[];
  try {
    entries = listUtf8Names(dir);
  } catch (e) {
    if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return { ino: 0n, mtimeNs: 0n, ctimeNs: 0n, at: 0, entries: [] };
    throw errors.fromFs(e, dir);
  }
  const listing: Listing = { ino: st.ino, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, at: Date.now(), entries };
  // A change in the same clock tick as the listing would leave the ctime unchanged: such a listing
  // is not reused. (Every change of the folder moves its ctime to now, a put-back mtime included.)
  const changedNs = st.ctimeNs > st.mtimeNs ? st.ctimeNs : st.mtimeNs;
  const racy = Date.now() - Number(changedNs / 1_000_000n) < RACY_LISTING_MS;
  listings.delete(dir);
  if (!racy) {
    if (listings.size >= LISTING_CACHE_DIRS) listings.delete(listings.keys().next().value!);
    listings.set(dir, listing);
  }
  return listing;
}

/** The folder's sidecar names that are not ASCII, by their NFC name when that is ASCII (U+212A for K...). */
function nfcTwinSidecars(dir: string): Map<string, string[]> {
  const before = reusedChanged;
  reusedChanged = false;
  let l = folderListing(dir, false);
  // A big folder's listing reused although the folder changed (up to LISTING_TTL_MS): listed again
  // for these rare names (a twin written since was missed, and a save wrote a second file beside it).
  if (reusedChanged) l = folderListing(dir, true);
  reusedChanged = before;
  if (!l.asciiTwins) {
    const m = new Map<string, string[]>();
    for (const e of l.entries) {
      if (isAscii(e.name)) continue;
      const n = nfc(e.name);
      if (!isAscii(n) || !isSidecarName(n)) continue;
      const list = m.get(n);
      if (list) list.push(e.name);
      else m.set(n, [e.name]);
    }
    l.asciiTwins = m;
  }
  return l.asciiTwins;
}

/**
 * How long after its folder's last change a listing is not kept: 2 s, the index's racy margin. It
 * covers a clock tick of the file system (times kept to the second on ext2/3 and HFS+, to two on
 * FAT: a RAW added in the same second as a listing taken 50 ms after the last change was never seen
 * by a long-lived server) and the skew between this machine's clock and a file server's, whose
 * clock stamps a NAS folder's times.
 */
export const RACY_LISTING_MS = 2000;

/**
 * May another spelling of `name` equal it after NFC? Any non-ASCII name; an ASCII one only through
 * the three characters whose NFC is ASCII: U+212A KELVIN SIGN (K), U+037E GREEK QUESTION MARK (;),
 * U+1FEF GREEK VARIA (`). Only such a name needs the folder listed to find its files (an
 * `IMG_\u212A.json` pairs with `IMG_K.jpg` in a scan, and was not read for it).
 */
function mayHaveNfcTwin(name: string): boolean {
  return !isAscii(name) || /[K;`]/.test(name);
}

/**
 * Existing sidecar files for `imageName` in `dir`, looked up fresh, plus the images that may claim
 * them (from the folder listing), paired by the one rule. ASCII names: a stat per candidate name
 * (and its other spellings NFC makes it, from the kept listing: nfcTwinSidecars). Other names: a fresh listing compared in NFC (a file copied from macOS may carry its name in NFD).
 */
function groupIn(dir: string, imageName: string, imageExts: ReadonlySet<string>): PairGroup & { unverified?: true; twin?: string } {
  const entries: { name: string; kind: EntryKind }[] = [];
  let unverified = false;
  let twin: string | undefined;
  const stem = nfc(splitName(imageName).stem);
  const prefix = stem + '.';
  // The image whose whole name is this image's stem (`A.jpg` for `A.jpg.png`) claims this image's
  // stem files by its name-ext form (`A.jpg.bin`): it shares them, so it is part of the group.
  if (isAscii(imageName)) {
    for (const c of candidateNames(imageName)) {
      const k = kindOf(path.join(dir, c.name));
      if (k !== null) entries.push({ name: c.name, kind: k });
      // Another spelling that NFC makes this name (mayHaveNfcTwin): from the folder's listing as
      // kept (a fresh listing on every read cost 30× in a folder of 50,000 files), looked at fresh.
      if (mayHaveNfcTwin(c.name)) {
        for (const twinName of nfcTwinSidecars(dir).get(c.name) ?? []) {
          const tk = kindOf(path.join(dir, twinName));
          if (tk !== null) entries.push({ name: twinName, kind: tk });
        }
      }
    }
    reusedChanged = false;
    for (const e of entriesWithStem(dir, stem)) entries.push(e);
    if (reusedChanged) unverified = true;
    if (stem !== '' && stem !== imageName && !isSidecarName(stem)) {
      const k = kindOf(path.join(dir, stem));
      if (k !== null) entries.push({ name: stem, kind: k });
    }
  } else {
    const want = nfc(imageName);
    for (const e of folderEntries(dir, true)) {
      const n = nfc(e.name);
      if (n === want && e.name !== imageName && e.kind !== 'dir') twin = e.name;
      if (n.startsWith(prefix) || (n === stem && stem !== '')) entries.push(e);
    }
  }
  const g = pairGroupOf(dir, imageName, entries, imageExts);
  return { ...g, ...(unverified ? { unverified: true as const } : {}), ...(twin !== undefined ? { twin: path.join(dir, twin) } : {}) };
}

/** The group's files that belong to `imageName`, in its read order (pair.ts sidecarsOfImage). */
function candidatesOf(group: PairGroup & { unverified?: true }, imageName: string, imageExts: ReadonlySet<string>, side: 'target' | 'link', out: SidecarCandidate[], notFiles: string[]): void {
  for (const s of sidecarsOfImage(group, imageName, imageExts)) {
    // A directory or FIFO in a sidecar's name, or a symlink to nothing: not a readable candidate.
    if (s.notFile || (s.isLink && !leadsToRegularFile(s.path))) {
      notFiles.push(s.path);
      continue;
    }
    const c: SidecarCandidate = { path: s.path, ext: s.ext, naming: s.naming, side };
    if (s.isLink) c.isLink = true;
    if (s.shared) c.shared = true;
    else if (group.unverified && s.naming === 'stem') c.unverified = true;
    out.push(c);
  }
}

/** The image name an image's candidates on `side` are named after: its target's, or the link's own beside the link. */
export function imageNameOnSide(loc: SidecarLocation, side: 'target' | 'link'): string {
  return side === 'target' ? loc.name : path.basename(loc.imagePath);
}

/** lstat `p`; if it is missing and another spelling may equal its name (mayHaveNfcTwin), look for the same name in another normalisation. */
function lstatImage(p: string): { path: string; isLink: boolean } {
  try {
    const st = fs.lstatSync(p);
    if (st.isDirectory()) throw errors.usage(`not an image file but a directory: ${p}`);
    return { path: p, isLink: st.isSymbolicLink() };
  } catch (e) {
    if (code(e) !== 'ENOENT') throw errors.fromFs(e, p);
    const name = path.basename(p);
    if (mayHaveNfcTwin(name)) {
      const dir = path.dirname(p);
      const want = nfc(name);
      let names: string[] = [];
      try {
        names = listUtf8Names(dir).map((e) => e.name);
      } catch {
        /* the directory itself is missing: not found */
      }
      const match = names.find((n) => n !== name && nfc(n) === want);
      if (match !== undefined) return lstatImage(path.join(dir, match));
    }
    throw errors.notFound(p, 'image');
  }
}

/** Follow the chain link by link (for the record); the kernel's answer (realpath) decides the target. */
function followChain(first: string): { chain: string[]; last: string; loops: boolean } {
  const chain: string[] = [];
  let cur = first;
  for (let hops = 0; hops < MAX_LINKS; hops++) {
    let isLink = false;
    try {
      isLink = fs.lstatSync(cur).isSymbolicLink();
    } catch (e) {
      const c = code(e);
      if (c === 'ENOENT' || c === 'ENOTDIR') return { chain, last: cur, loops: false };
      throw errors.fromFs(e, cur);
    }
    if (!isLink) return { chain, last: cur, loops: false };
    chain.push(cur);
    let raw: Buffer;
    try {
      raw = fs.readlinkSync(cur, { encoding: 'buffer' });
    } catch (e) {
      throw errors.fromFs(e, cur);
    }
    // A link text that is not UTF-8 would be followed as another name (U+FFFD): refused (fs/byte-names.ts).
    if (!isUtf8(raw)) throw notUtf8Target(first, Buffer.concat([Buffer.from(`${cur} -> `), raw]));
    const text = raw.toString('utf8');
    cur = path.resolve(path.dirname(cur), text);
  }
  return { chain, last: cur, loops: true };
}

/** A sidecar's path given where an image's is expected: a usage error, never a new `<sidecar>.bin`. */
export function assertNotSidecarPath(p: string): void {
  const name = path.basename(p);
  if (isSidecarName(name)) {
    // A name-ext file's image is its stem (IMG_1.CR2 for IMG_1.CR2.json), not "IMG_1.CR2.jpg".
    const stem = splitName(name).stem;
    const image = stem.includes('.', 1) ? stem : `${stem}.jpg`;
    throw errors.usage(`${p} is a sidecar file, not an image: give the path of the image it belongs to (e.g. ${image})`);
  }
}

export async function locateSidecar(imagePath: string, opts: LocateOptions = {}): Promise<SidecarLocation> {
  return locateSidecarSync(imagePath, opts);
}

export function locateSidecarSync(imagePath: string, opts: LocateOptions = {}): SidecarLocation {
  // A name that is not UTF-8 (a lone surrogate): the file system would be given another file's name.
  assertUtf8Path(imagePath, 'the image path');
  // A `..` is taken as the kernel takes it, never collapsed as text (fs/physical-path.ts).
  const given = physicalPath(imagePath);
  assertNotSidecarPath(given);
  const imageExts = cachedImageExtensionSet(opts.imageExtensions);
  const image = lstatImage(given);

  let chain: string[] = [];
  let targetPath = image.path;
  let broken = false;
  let notAFile = false;
  let loops = false;
  if (image.isLink) {
    const followed = followChain(image.path);
    chain = followed.chain; // the record: the lexical walk; the kernel's answer decides the target
    try {
      // realpath(3), the rule a scan resolves links by (resolve-link.ts): the file the kernel opens.
      // The JS realpath collapses `..` in a link's text before resolving the folder before it, so
      // `../alias/../b.jpg` (alias a symlinked folder) would pair another image's sidecars.
      const real = fs.realpathSync.native(image.path, { encoding: 'buffer' });
      // A folder on the way (a link text that is UTF-8 may pass a symlinked folder) or the target
      // named with bytes that are not UTF-8: as a string it would name another file.
      if (!isUtf8(real)) throw notUtf8Target(image.path, real);
      targetPath = real.toString('utf8');
      // As a scan resolves links (resolve-link.ts): a target that is not a regular file (a folder,
      // a device) is a broken link, not an image.
      if (!fs.statSync(targetPath).isFile()) broken = notAFile = true;
    } catch (e) {
      const c = code(e);
      if (c !== 'ENOENT' && c !== 'ELOOP' && c !== 'ENOTDIR') throw errors.fromFs(e, image.path);
      broken = true;
      loops = followed.loops || c === 'ELOOP';
      targetPath = followed.last;
    }
  }

  const dir = path.dirname(targetPath);
  const name = path.basename(targetPath);
  const candidates: SidecarCandidate[] = [];
  const sidecarFolders: { dir: string; name: string }[] = [];
  let siblings: string[] = [];
  let unicodeTwin: string | undefined;
  // A looping chain has no target, so no target side; a missing target may still have sidecars beside it.
  let unpairable = false;
  const notFiles: string[] = [];
  if (!loops) {
    const g = groupIn(dir, name, imageExts);
    // The target's name is no image's (a link may lead to any file): it pairs nothing (pair.ts).
    unpairable = g.images.length === 0;
    candidatesOf(g, name, imageExts, 'target', candidates, notFiles);
    siblings = g.images.filter((i) => i.name !== name).map((i) => path.join(dir, i.name));
    if (g.twin !== undefined) unicodeTwin = g.twin;
    sidecarFolders.push({ dir, name });
  }
  if (image.isLink) {
    const linkDir = path.dirname(image.path);
    const linkName = path.basename(image.path);
    if (loops || linkDir !== dir || linkName !== name) {
      const g = groupIn(linkDir, linkName, imageExts);
      if (g.twin !== undefined) unicodeTwin ??= g.twin; // the link's own name has a twin beside it
      const linkSide: SidecarCandidate[] = [];
      candidatesOf(g, linkName, imageExts, 'link', linkSide, notFiles);
      for (const c of linkSide) if (!candidates.some((t) => t.path === c.path)) candidates.push(c);
      sidecarFolders.push({ dir: linkDir, name: linkName });
    }
  }

  return {
    imagePath: given,
    isSymlink: image.isLink,
    chain,
    targetPath,
    broken,
    dir,
    name,
    stem: splitName(name).stem,
    candidates,
    siblings,
    sidecarFolders,
    ...(unpairable ? { unpairable } : {}),
    ...(notFiles.length > 0 ? { notFiles } : {}),
    ...(notAFile ? { targetNotAFile: true } : {}),
    ...(unicodeTwin !== undefined ? { unicodeTwin } : {}),
    ...(broken && loops ? { loops: true as const } : {}),
  };
}

/** Where a sidecar of this extension and naming goes: next to the target. */
export function sidecarPathFor(loc: SidecarLocation, ext: SidecarExt, naming: SidecarNaming): string {
  return path.join(loc.dir, sidecarNameFor(loc.name, ext, naming));
}

/**
 * Would a new sidecar at `sidecarPath` (not yet on disk) be claimed by other images too?
 * Returns the images of its group: more than one means the write would create an ambiguous group.
 */
export function imagesClaiming(loc: SidecarLocation, sidecarPath: string, opts: LocateOptions = {}): string[] {
  const imageExts = cachedImageExtensionSet(opts.imageExtensions);
  const dir = path.dirname(sidecarPath);
  const entries = folderEntries(dir, false).filter((e) => !isSidecarName(e.name));
  entries.push({ name: path.basename(sidecarPath), kind: 'file' });
  const g = pairGroupOf(dir, loc.name, entries, imageExts);
  return g.images.map((i) => path.join(dir, i.name));
}

/**
 * The format new sidecars in `dir` follow: the most common sidecar extension among the folder's
 * files (.json → json, .rkyv → rkyv, .bin → bin; ties in that order), or null when it has none.
 */
export function folderSidecarFormat(dir: string): 'json' | 'bin' | 'rkyv' | null {
  const counts = { json: 0, bin: 0, rkyv: 0 };
  for (const e of folderEntries(dir, false)) {
    if (e.kind === 'dir' || !isSidecarName(e.name)) continue;
    const ext = e.name.slice(e.name.lastIndexOf('.') + 1) as keyof typeof counts;
    counts[ext]++;
  }
  let best: 'json' | 'bin' | 'rkyv' | null = null;
  for (const f of ['json', 'bin', 'rkyv'] as const) if (counts[f] > 0 && (best === null || counts[f] > counts[best])) best = f;
  return best;
}

/**
 * Does a stem file's record name another image of `dir` with this image's stem that exists now (an
 * image a reused listing has not seen yet: IMG_1.CR2 beside IMG_1.jpg)? Then the file is that
 * image's (docs/PAIRING.md §3). Up to three lstats (the recorded spelling of the extension, its lower
 * and its upper case), only for `unverified` candidates whose record names one.
 */
export function recordNamesAnotherImage(loc: SidecarLocation, named: string | null, opts: LocateOptions = {}): boolean {
  if (named === null || named.includes('/') || named.includes('\\')) return false;
  if (imageNamedBy(named, [nfc(loc.name)]) === 0) return false; // this image, or its name but for the extension's case
  const { stem, ext } = splitName(named);
  if (nfc(stem) !== nfc(loc.stem)) return false;
  if (!cachedImageExtensionSet(opts.imageExtensions).has(ext.toLowerCase())) return false;
  // The name as recorded, or with the extension's case changed since (imageNamedBy): IMG_1.cr2 → IMG_1.CR2.
  for (const e of new Set([ext, ext.toLowerCase(), ext.toUpperCase()])) {
    const k = kindOf(path.join(loc.dir, `${stem}.${e}`));
    if (k === 'file' || k === 'symlink') return true;
  }
  return false;
}
