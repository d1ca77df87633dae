/**
 * THE pairing rule (docs/PAIRING.md states it for other implementations, e.g. clients/python).
 * scan (pairDirectory), read/save (locate: pairGroupOf) and convert (through the scan) all decide
 * "which sidecar belongs to which image" here and nowhere else.
 *
 *   sidecar name  `<base>.<ext>`, ext exactly `bin` | `rkyv` | `json` (lower case), base non-empty,
 *                 not one of our temp or lock names, not `.image-sidecar.json` (the configuration)
 *   image name    `<stem>.<ext>`, ext in the image-extension set compared case-insensitively
 *   claims        a sidecar with base B belongs to every image in the SAME directory with
 *                 NFC(stem) == NFC(B)                     (stem form:     IMG_1.jpg ↔ IMG_1.json)
 *                 NFC(name) == NFC(B), B's ext an image ext (name-ext form: IMG_1.jpg ↔ IMG_1.jpg.json)
 *   groups        images and sidecars connected through claims; a group with more than one image
 *                 or more than one sidecar is ambiguous (read: preference order; write: refused)
 *   order         stem .bin, .rkyv, .json, then name-ext .bin, .rkyv, .json; equal ranks (NFC twins)
 *                 by on-disk name in code-unit order
 *   lone sidecar  pairs with no image: `unknown-image` when any non-sidecar file of the folder has
 *                 the same stem or name (compared after NFC and case folding), else orphan/unrelated
 */
import { isAbsolute, join, normalize, sep } from 'node:path';
import type { SidecarExt, SidecarNaming } from '../types.js';
import { extensionDot, nfc, splitName } from './extensions.js';
import type { DirListing, EntryKind, WalkEntry } from './walk.js';
import { isLockName, isTempName } from '../fs/temp-files.js';
import { CONFIG_FILE_NAME } from './config.js';

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
  /** A directory, FIFO, socket or device in a sidecar's name (reads as unreadable). */
  notFile?: boolean;
}

/** Images and sidecars connected by name claims; a lone sidecar has no images. */
export interface PairGroup {
  images: ImageEntry[];
  /** In read preference order: stem .bin, .rkyv, .json, then name-ext .bin, .rkyv, .json. */
  sidecars: SidecarEntry[];
  /** For a lone sidecar: non-sidecar files of the folder with its stem or name (an image type we do not know). */
  lookalikes?: string[];
}

export interface DirPairing {
  groups: PairGroup[];
  /** Entries we cannot address by name (invalid UTF-8). */
  unaddressable: WalkEntry[];
  /** Files that are neither images nor sidecars, or are directory links. */
  ignored: number;
  /** Our own leftover temp files (lock entries are skipped silently). */
  tempFiles: string[];
}

/** Sidecar extensions in read preference order (the earlier tool's: .bin, .rkyv, .json). */
export const SIDECAR_EXTS: readonly SidecarExt[] = ['bin', 'rkyv', 'json'];
const EXT_RANK: Record<SidecarExt, number> = { bin: 0, rkyv: 1, json: 2 };

/** Exactly `bin`, `rkyv` or `json`: sidecar extensions are case-sensitive (IMG_1.JSON is not a sidecar). */
export function sidecarExtOf(name: string): SidecarExt | null {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return null;
  const ext = name.slice(dot + 1);
  return ext === 'bin' || ext === 'rkyv' || ext === 'json' ? ext : null;
}

/** Is this a sidecar's name (and not one of our temp or lock names, or the configuration file)? */
export function isSidecarName(name: string): boolean {
  return sidecarExtOf(name) !== null && !isTempName(name) && !isLockName(name) && name !== CONFIG_FILE_NAME;
}

/** Rank for preference order: stem form first, then name-ext, each bin > rkyv > json. */
export function sidecarRank(s: { ext: SidecarExt; naming: SidecarNaming }): number {
  return (s.naming === 'stem' ? 0 : 3) + EXT_RANK[s.ext];
}

export function compareSidecars(a: { ext: SidecarExt; naming: SidecarNaming; name: string }, b: { ext: SidecarExt; naming: SidecarNaming; name: string }): number {
  return sidecarRank(a) - sidecarRank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

export function isImageName(name: string, imageExts: ReadonlySet<string>): boolean {
  const dot = extensionDot(name); // splitName's rule, without its object
  return dot !== -1 && imageExts.has(name.slice(dot + 1).toLowerCase());
}

/**
 * The names an image's sidecars may have, in preference order, without duplicates
 * (IMG_1.JPG → IMG_1.bin, IMG_1.rkyv, IMG_1.json, IMG_1.JPG.bin, IMG_1.JPG.rkyv, IMG_1.JPG.json).
 */
export function candidateNames(imageName: string): { name: string; ext: SidecarExt; naming: SidecarNaming }[] {
  const { stem, ext } = splitName(imageName);
  const out: { name: string; ext: SidecarExt; naming: SidecarNaming }[] = [];
  for (const e of SIDECAR_EXTS) out.push({ name: `${stem}.${e}`, ext: e, naming: 'stem' });
  if (ext !== '') for (const e of SIDECAR_EXTS) out.push({ name: `${imageName}.${e}`, ext: e, naming: 'name-ext' });
  return out.filter((c) => c.name !== imageName);
}

/** Case-folded NFC keys of a non-sidecar file, for the unknown-image rule. */
function lookalikeKeys(name: string): string[] {
  const n = nfc(name).toLowerCase();
  const { stem } = splitName(n);
  return stem === n ? [n] : [n, stem];
}

/** Files whose names the unknown-image rule compares a lone sidecar with (non-sidecar, non-directory). */
function isLookalikeSource(e: WalkEntry): boolean {
  return !e.unaddressable && !isLockName(e.name) && !isTempName(e.name) && e.name !== CONFIG_FILE_NAME && e.kind !== 'dir' && sidecarExtOf(e.name) === null;
}

export interface PairOptions {
  /**
   * The whole folder, when `entries` is a part of it whose groups are complete (a shard's names):
   * the unknown-image rule still compares lone sidecars with every file of the folder.
   */
  folderEntries?: readonly WalkEntry[];
}

/** The path pairing gives a name in folder `dir` (a normalised absolute folder, every walked one, by concatenation: join() per file normalises the whole path again). */
export function pathsIn(dir: string): (name: string) => string {
  const prefix = isAbsolute(dir) && normalize(dir) === dir ? (dir.endsWith(sep) ? dir : dir + sep) : null;
  return (name) => (prefix === null ? join(dir, name) : prefix + name);
}

/** The paths of the entries pairing takes as sidecars and reads (files and links in a sidecar's name, ours excluded): what a warm run stats in `dir`; the first `most` of them. */
export function sidecarPathsOf(dir: string, entries: readonly WalkEntry[], most = Infinity): string[] {
  const pathOf = pathsIn(dir);
  const out: string[] = [];
  for (let i = 0; i < entries.length && out.length < most; i++) {
    const e = entries[i];
    if (!e.unaddressable && (e.kind === 'file' || e.kind === 'symlink') && isSidecarName(e.name)) out.push(pathOf(e.name));
  }
  return out;
}

/**
 * Pair one directory's entries by name. Pure (no I/O): symlink targets are resolved by the scan.
 * `entries` may be a subset of a folder (locate passes the names around one image).
 */
export function pairDirectory(listing: Pick<DirListing, 'path' | 'entries'>, imageExts: ReadonlySet<string>, opts: PairOptions = {}): DirPairing {
  const images: ImageEntry[] = [];
  const sidecars: SidecarEntry[] = [];
  // Per sidecar: its NFC base (the stem claim's key) and whether it makes the name-ext claim too.
  const bases: string[] = [];
  const nameExt: boolean[] = [];
  const unaddressable: WalkEntry[] = [];
  const tempFiles: string[] = [];
  let ignored = 0;
  const dir = listing.path;
  const pathOf = pathsIn(dir);

  // The claim keys as two maps (stem claims: image NFC stem; name-ext claims: image NFC name), each
  // key's images chained through `sameKey` (-1 ends a chain): no key strings built, no list per key.
  const byStem = new Map<string, number>();
  const byName = new Map<string, number>();
  const sameStem: number[] = [];
  const sameName: number[] = [];
  for (const e of listing.entries) {
    if (e.unaddressable) {
      if (e.kind !== 'dir') unaddressable.push(e); // the walk reports such directories itself
      continue;
    }
    const name = e.name;
    if (isLockName(name)) continue; // a live or stale lock of ours: not a file of the library
    if (isTempName(name)) {
      tempFiles.push(pathOf(name));
      continue;
    }
    if (name === CONFIG_FILE_NAME) {
      ignored++; // the library's configuration file, not a sidecar
      continue;
    }
    const ext = sidecarExtOf(name);
    if (ext !== null) {
      // A directory/FIFO in a sidecar's name is a candidate that reads as unreadable, so the image
      // is reported and the scan is not called complete. A symlinked sidecar is read through the link.
      const entry: SidecarEntry = { name, path: pathOf(name), ext, naming: 'stem' };
      if (e.kind === 'symlink') entry.isLink = true;
      if (e.kind === 'dir' || e.kind === 'other') entry.notFile = true;
      const base = nfc(name.slice(0, name.length - ext.length - 1));
      sidecars.push(entry);
      bases.push(base);
      nameExt.push(isImageName(base, imageExts)); // IMG_1.jpg.json claims IMG_1.jpg by its name too
      continue;
    }
    if (e.kind === 'dir') continue;
    if (isImageName(name, imageExts)) {
      const i = images.length;
      images.push({ name, path: pathOf(name), isLink: e.kind === 'symlink' });
      // The keys under which an image can be claimed: its NFC stem and its NFC full name.
      const n = nfc(name);
      const nd = extensionDot(n);
      const stem = nd === -1 ? n : n.slice(0, nd);
      sameStem.push(byStem.get(stem) ?? -1);
      byStem.set(stem, i);
      sameName.push(byName.get(n) ?? -1);
      byName.set(n, i);
      continue;
    }
    ignored++;
  }

  // Union-find over images (0..n-1) and sidecars (n..n+m-1).
  const n = images.length;
  const m = sidecars.length;
  const parent = new Int32Array(n + m);
  for (let i = 0; i < n + m; i++) parent[i] = i;
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  for (let j = 0; j < m; j++) {
    for (let i = byStem.get(bases[j]) ?? -1; i !== -1; i = sameStem[i]) parent[find(n + j)] = find(i);
    if (!nameExt[j]) continue;
    let i = byName.get(bases[j]) ?? -1;
    if (i !== -1) sidecars[j].naming = 'name-ext';
    for (; i !== -1; i = sameName[i]) parent[find(n + j)] = find(i);
  }

  // Groups in order of their first member: images in listing order, then lone sidecars.
  const groupAt: (PairGroup | undefined)[] = new Array(n + m);
  const order: PairGroup[] = [];
  const groupOf = (i: number): PairGroup => {
    const r = find(i);
    let g = groupAt[r];
    if (g === undefined) {
      g = { images: [], sidecars: [] };
      groupAt[r] = g;
      order.push(g);
    }
    return g;
  };
  for (let i = 0; i < n; i++) groupOf(i).images.push(images[i]);
  let lone = false;
  for (let j = 0; j < m; j++) {
    const g = groupOf(n + j);
    g.sidecars.push(sidecars[j]);
    if (g.images.length === 0) lone = true;
  }
  // Only lone sidecars need the folder's other names (in listing order, first name wins): looked at
  // only when the folder has one (most have none).
  const others = new Map<string, string>(); // lookalike key -> first non-sidecar file (images included) with it
  if (lone) {
    for (const e of opts.folderEntries ?? listing.entries) {
      if (!isLookalikeSource(e)) continue;
      for (const k of lookalikeKeys(e.name)) if (!others.has(k)) others.set(k, e.name);
    }
  }
  for (const g of order) {
    if (g.sidecars.length > 1) g.sidecars.sort(compareSidecars);
    if (g.images.length === 0 && others.size > 0) {
      const seen = new Set<string>();
      for (const s of g.sidecars) {
        const base = nfc(s.name.slice(0, s.name.length - s.ext.length - 1)).toLowerCase();
        const hit = others.get(base);
        if (hit !== undefined) seen.add(hit);
      }
      if (seen.size > 0) g.lookalikes = [...seen].sort();
    }
  }
  return { groups: order, unaddressable, ignored, tempFiles };
}

/**
 * The group of `imageName` among `entries` (a folder's entries, or the ones around that name):
 * the same computation scan makes, so read/save and scan cannot disagree.
 */
/** The image extensions with a named image's own added (an image given explicitly counts as one, whatever its extension). */
export function withOwnExtension(imageName: string, imageExts: ReadonlySet<string>): ReadonlySet<string> {
  return isImageName(imageName, imageExts) ? imageExts : new Set([...imageExts, splitName(imageName).ext]);
}

export function pairGroupOf(dir: string, imageName: string, entries: readonly { name: string; kind: EntryKind }[], imageExts: ReadonlySet<string>): PairGroup {
  // The named image counts as an image even when its extension is not in the set (given explicitly).
  const exts = withOwnExtension(imageName, imageExts);
  const all = entries.some((e) => e.name === imageName) ? entries : [...entries, { name: imageName, kind: 'file' as EntryKind }];
  const { groups } = pairDirectory({ path: dir, entries: all as WalkEntry[] }, exts);
  // A name no rule makes an image (no extension, a dotfile, `x.`, a sidecar's own name: a link's
  // target can be any file): it pairs nothing, as a scan's link target of that name does.
  return groups.find((g) => g.images.some((i) => i.name === imageName)) ?? { images: [], sidecars: [] };
}

/** One image's sidecar: a file of its group that claims it, and whether another image claims the same file. */
export interface ImageSidecar extends SidecarEntry {
  /** Claimed by another image of the group too (a stem-form file of a shared stem: IMG_1.json for IMG_1.jpg and IMG_1.CR2). */
  shared: boolean;
}

/**
 * Which of `names` (image file names, NFC) a recorded name `named` (recordedImageName) is: the one
 * equal to it, else the one it equals but for the case of the extension (a rename that changed the
 * extension's case: IMG_1.jpg → IMG_1.JPG, docs/PAIRING.md §3),
 * else none (-1; also when several match so).
 */
export function imageNamedBy(named: string, names: readonly string[]): number {
  const exact = names.indexOf(named);
  if (exact >= 0) return exact;
  const dot = named.lastIndexOf('.');
  if (dot <= 0) return -1;
  const stem = named.slice(0, dot + 1);
  const ext = named.slice(dot + 1).toLowerCase();
  let found = -1;
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    if (n.length !== named.length || !n.startsWith(stem) || n.slice(dot + 1).toLowerCase() !== ext) continue;
    if (found >= 0) return -1;
    found = i;
  }
  return found;
}

/**
 * Does a stem file of the image record another image that claims the file (`named`: the file name
 * its record holds, analysis/image-identity.ts recordedImageName)? One of the same stem, or one named
 * as the file's base (`A.jpg` claims `A.jpg.bin`, the stem file of `A.jpg.png`). `imageNames`: the
 * image's name on the file's side first (its stem is the file's), then any other name a save of this
 * image records (a link's target: a save through a link records the target). A name that differs
 * from one of these only in case is this image's (a rename that changed the extension's case).
 */
export function namesAnotherClaimant(imageNames: readonly string[], named: string | null, imageExts: ReadonlySet<string>): boolean {
  if (named === null || named.includes('/') || named.includes('\\')) return false;
  const n = nfc(named);
  const lower = n.toLowerCase();
  if (imageNames.some((name) => nfc(name).toLowerCase() === lower)) return false;
  const stem = nfc(splitName(imageNames[0]).stem);
  if (nfc(splitName(n).stem) !== stem && n !== stem) return false;
  return isImageName(n, imageExts);
}

/**
 * THE "left behind" rule (docs/PAIRING.md §3), for one image's own files on one side: the stem files
 * it does not share whose record names another image that claims them (`namesAnotherClaimant`),
 * when a name-ext file of the image's own is there too (`isOwnFile`: a file of ours, not a folder,
 * a link to nothing or another tool's file; a corrupt one counts). A RAW+JPEG pair whose JPEG was
 * moved by hand leaves IMG_1.bin, recorded for IMG_1.jpg, beside IMG_1.CR2 and IMG_1.CR2.bin.
 * Returns each such file with the name it records, or null (the usual case: nothing is read). Read,
 * save, mv/cp (ops/read.ts leftBehindOfImage), the scan (scan/finalize.ts) and relink apply it.
 */
export function leftBehindAmong<F extends { naming: SidecarNaming; shared?: boolean }>(
  files: readonly F[],
  imageNames: readonly string[],
  imageExts: ReadonlySet<string>,
  isOwnFile: (f: F) => boolean,
  recordedName: (f: F) => string | null,
): Map<F, string> | null {
  if (!files.some((f) => f.naming === 'stem' && f.shared !== true)) return null;
  if (!files.some((f) => f.naming === 'name-ext' && f.shared !== true && isOwnFile(f))) return null;
  let out: Map<F, string> | null = null;
  for (const f of files) {
    if (f.naming !== 'stem' || f.shared === true) continue;
    const named = recordedName(f);
    if (named !== null && namesAnotherClaimant(imageNames, named, imageExts)) (out ??= new Map()).set(f, named);
  }
  return out;
}

/**
 * What a file tells the read-order rule (unrecordedStemFiles): it records an image (any name), it
 * decodes and records none, this reader cannot decode it (`unreadable`: corrupt, encrypted without
 * the key, over the size or depth limit, no permission: it may record one, or be a copy still being
 * written), or it says nothing (`no-say`: another tool's file, not a regular file, or not inspected
 * for this record).
 */
export type FileRecordSeen = 'records' | 'no-record' | 'unreadable' | 'no-say';

/**
 * THE "unrecorded stem file" rule of read order (docs/PAIRING.md §4), for one image's own files on
 * one side: the stem files it does not share that decode and record no image rank after its own
 * name-ext files, when one of those records an image or cannot be decoded by this reader. A shared
 * name-ext file is its own when its record names this image (§3): `see` answers `records` for such a
 * one, and `no-say` for any other shared file (IMG_1.HEIC.json, recorded for IMG_1.HEIC and the stem
 * file of a converted IMG_1.HEIC.jpg, once the Live Photo's MOV is culled and the pipeline's
 * IMG_1.json is the HEIC's alone). The
 * pipeline's oldest `IMG_1.json` records no image, and nothing writes that shape any more: a file
 * that records an image is newer (whatever the times say: a plain copy does not keep them). While
 * a RAW shared the JSON, the JPEG saved `IMG_1.JPG.bin`; once the RAW is culled the JSON is the
 * JPEG's alone and, by name, would hide the newer results (after a rename too: the record then
 * names the old name). One this reader cannot decode ranks first as well: a save stops with its
 * error rather than record the image in the older file (which would then rank first for good), and
 * a read falls back past a corrupt one or stops with any other error, as for any first file.
 * Returns the files that rank later, or null (the usual case: nothing is read).
 */
export function unrecordedStemFiles<F extends { naming: SidecarNaming; shared?: boolean }>(files: readonly F[], see: (f: F) => FileRecordSeen): Set<F> | null {
  const own = files.filter((f) => f.shared !== true);
  const nameExt = files.filter((f) => f.naming === 'name-ext');
  if (!own.some((f) => f.naming === 'stem') || nameExt.length === 0) return null;
  // Each file is looked at once (a read decodes it).
  const known = new Map<F, FileRecordSeen>();
  const seen = (f: F) => {
    let k = known.get(f);
    if (k === undefined) known.set(f, (k = see(f)));
    return k;
  };
  // (Unshared ones first, as they rank: the usual case reads no shared file.)
  if (!nameExt.some((f) => seen(f) === 'records' || (f.shared !== true && seen(f) === 'unreadable'))) return null;
  let out: Set<F> | null = null;
  for (const f of own) if (f.naming === 'stem' && seen(f) === 'no-record') (out ??= new Set()).add(f);
  return out;
}

/**
 * `files` in read order once `later` (unrecordedStemFiles: the stem files of one side) rank after
 * the image's own name-ext files of their side: each moves to just after the last of those (and of
 * the ones moved before it), the rest keep their order. `ownShared`: whether a shared name-ext file
 * is the image's own (its record names the image), as `see` told unrecordedStemFiles.
 */
export function withUnrecordedStemLater<F extends { naming: SidecarNaming; shared?: boolean; side?: string }>(files: readonly F[], later: ReadonlySet<F>, ownShared: (f: F) => boolean = () => false): F[] {
  // (unrecordedStemFiles moves a file only beside a name-ext file of its side.)
  return movedAfter(files, later, (f) => f.naming === 'name-ext' && (f.shared !== true || ownShared(f)));
}

/**
 * `files` with each of `later` moved to just after the last file of its side that `anchor` holds
 * (or that was moved before it), the rest in their order: the read-order exceptions' one move.
 * Each moved file has an anchor on its side (its rule moves it only beside one).
 */
function movedAfter<F extends { side?: string }>(files: readonly F[], later: ReadonlySet<F>, anchor: (f: F) => boolean): F[] {
  const out = files.filter((f) => !later.has(f));
  for (const f of files) {
    if (!later.has(f)) continue;
    let at = -1;
    for (let i = 0; i < out.length; i++) if (out[i].side === f.side && (anchor(out[i]) || later.has(out[i]))) at = i;
    if (at < 0) throw new Error('read order: no file of its side to rank a file after');
    out.splice(at + 1, 0, f);
  }
  return out;
}

/**
 * What a shared file tells the read-order rule (withAmbiguousSharedLater): its record names this
 * image (`mine`), it is a sidecar of ours whose record names none of the group's images
 * (`ambiguous`, docs/PAIRING.md §3), or anything else (`no-say`: another image's, another tool's,
 * or a file this reader cannot decode, which keeps its place).
 */
export type SharedFileSeen = 'mine' | 'ambiguous' | 'no-say';

/**
 * THE "ambiguous after its own" rule of read order (docs/PAIRING.md §4), for one image's files: on
 * each side, the shared files whose record names none of the group's images rank after the last
 * shared file recorded for this image, when it has one there (their order among themselves kept).
 * An image may share every name its sidecar could have (IMG_1.HEIC beside IMG_1.MOV and a converted
 * IMG_1.HEIC.jpg: the stem files are the MOV's too, IMG_1.HEIC.json is IMG_1.HEIC.jpg's stem file):
 * the file it saves is then shared, and by name the pipeline's IMG_1.json (recording none of them)
 * came first: the saved results were never read, and the next save was refused. An ambiguous file is
 * each image's only until it saves its own (§3). Returns `files` in read order, or null when nothing
 * moves (the usual case; `see` is asked only on a side with two shared files or more).
 */
export function withAmbiguousSharedLater<F extends { shared?: boolean; side?: string }>(files: readonly F[], see: (f: F) => SharedFileSeen): F[] | null {
  let later: Set<F> | null = null;
  const anchors = new Set<F>();
  for (const side of new Set(files.map((f) => f.side))) {
    const shared = files.filter((f) => f.shared === true && f.side === side);
    if (shared.length < 2) continue;
    const seen = shared.map(see);
    const last = seen.lastIndexOf('mine');
    if (last < 0) continue;
    for (let i = 0; i < last; i++) {
      if (seen[i] !== 'ambiguous') continue;
      (later ??= new Set()).add(shared[i]);
      anchors.add(shared[last]);
    }
  }
  return later === null ? null : movedAfter(files, later, (f) => anchors.has(f));
}

/** The NFC names under which a sidecar named `name` claims images: its base (stem form) and, when that is an image name, the same base (name-ext form). */
function sidecarBase(s: SidecarEntry): string {
  return nfc(s.name.slice(0, s.name.length - s.ext.length - 1));
}

/**
 * The sidecars of `group` that belong to the image `imageName`, in the image's read order (§4 of
 * docs/PAIRING.md): files claimed by this image alone first (stem .bin, .rkyv, .json, then
 * name-ext .bin, .rkyv, .json), then files it shares with other images of its group. Another
 * image's name-ext file (IMG_1.CR2.bin beside IMG_1.jpg) is never one of them.
 */
export function sidecarsOfImage(group: PairGroup, imageName: string, imageSet: ReadonlySet<string>): ImageSidecar[] {
  // As pairGroupOf paired it: the image counts as one whatever its extension (its name-ext file,
  // `frame.ppm.json`, was passed over: a save wrote it, the read gave {} and the next save a CONFLICT).
  const imageExts = withOwnExtension(imageName, imageSet);
  const name = nfc(imageName);
  const stem = nfc(splitName(imageName).stem);
  const others = group.images.filter((i) => i.name !== imageName).map((i) => ({ name: nfc(i.name), stem: nfc(splitName(i.name).stem) }));
  const out: ImageSidecar[] = [];
  for (const s of group.sidecars) {
    const base = sidecarBase(s);
    const nameClaim = base === name && isImageName(base, imageExts);
    if (base !== stem && !nameClaim) continue;
    const shared = others.some((o) => o.stem === base || (o.name === base && isImageName(base, imageExts)));
    out.push({ ...s, naming: nameClaim ? 'name-ext' : 'stem', shared });
  }
  return out.sort((a, b) => Number(a.shared) - Number(b.shared) || compareSidecars(a, b));
}

