import { normalizeOperationName } from '../analysis/operations.js';
import { compileQuery } from '../analysis/query.js';
import { readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { readAsOurs, sidecarFilesOf, type ScanImage, type ScanRecord, type ScanSidecar } from '../scan/records.js';
import { imageRecordedAmong } from '../analysis/image-identity.js';
import { setOwn } from '../analysis/own-record.js';
import type { Options } from '../types.js';
import { readSidecarPath } from './read.js';

/**
 * The sidecars a tree operation should look at once each: every candidate sidecar that lives in
 * the scanned tree ('local'), plus targets of symlinked images outside the root (seen nowhere else).
 * Files that are not sidecars (directory reports, unrelated JSON) are left out.
 */
export function sidecarsOf(rec: ScanRecord): ScanSidecar[] {
  return sidecarFilesOf(rec);
}

/** The effective sidecar when it is counted by this record (not by the link target's own record). */
export function ownEffective(rec: ScanRecord): ScanSidecar | null {
  const e = rec.effective;
  if (!e || rec.category === 'unrelated') return null;
  if (e.side === 'local') return e;
  return rec.images.some((i) => i.outsideRoot) ? e : null;
}

/**
 * The image a record's sidecar is of, a broken link included (its sidecar is never checked against,
 * or listed for, the other image of the pair): the only one, or the one the sidecar records, else
 * the first not broken.
 */
export function recordedImageOf(rec: ScanRecord, named: () => string | null): ScanImage | undefined {
  if (rec.images.length > 1) {
    // A broken link's target is where it points (read here: such records are rare).
    const images = rec.images.map((i) => (i.broken === true && i.target === undefined ? { name: i.name, target: brokenLinkTarget(i.path) } : i));
    const recorded = imageRecordedAmong(named(), images);
    if (recorded !== undefined) return rec.images[images.indexOf(recorded)];
  }
  return rec.images.find((i) => !i.broken) ?? rec.images[0];
}

function brokenLinkTarget(p: string): string | undefined {
  try {
    return resolve(dirname(p), readlinkSync(p));
  } catch {
    return undefined;
  }
}

/** What a record gives per image: its entries (an image named when it reads a sidecar of its own), and the readable sidecars no image takes alone. */
export interface ImageSidecars {
  entries: { image?: ScanImage; sidecar: ScanSidecar }[];
  leftOut: ScanSidecar[];
  /** Judged image by image: each entry names its image, and an image without one has no sidecar here. */
  perImage: boolean;
  /**
   * Judged image by image: the links whose read takes their target's file inside the root, which
   * the target's own record counts (found through it; each with that file, for coverage).
   */
  viaTarget?: { image: ScanImage; sidecar: ScanSidecar }[];
  /** Judged image by image: the images whose read fails (its own file corrupt, unreadable, encrypted under a key not given), with the read's error. */
  unread?: { image: ScanImage; code: string; message: string }[];
}

/**
 * What a record gives per image: its own effective sidecar (`ownEffective`; for all its images, the
 * image then the caller's to name), or nothing. A RAW+JPEG pair whose images each have a sidecar of
 * their own (`IMG_1.jpg.bin` and `IMG_1.CR2.bin` beside the pipeline's shared `IMG_1.json`) is one
 * ambiguous record with one effective sidecar: taking only that one gave both images the shared
 * file's results (find matched neither image's faces, stale compared neither image's own record,
 * stats counted neither). There, each image with the sidecar a read of it takes (docs/PAIRING.md
 * §3), as soon as one image's read takes a file of its own; a readable sidecar no image takes alone
 * (a shared stem file recording none of the images, beside the JPEG's own `IMG_1.JPG.bin`) is in
 * `leftOut`: given to the other image, it gave the JPEG's name another file's results. A symlinked
 * image's own file may be beside its target (outside the root): it is one of the record's sidecars
 * too. Reads only records of several images and several files of ours (`readsPerImage`): a record
 * whose effective file is a link's target's inside the root (`IMG_1.png -> ../other/X.jpg` in a
 * RAW+JPEG pair, a file its target's record counts) still gives the pair's images their own files.
 * export, datasets, find, stale and stats take a record's sidecars through this; todo reads every
 * image of such a group the same way (todo.ts ownSidecar).
 */
export async function imageSidecars(rec: ScanRecord, opts: Options): Promise<ImageSidecars> {
  const perImage = readsPerImage(rec) ? await imagesWithOwnSidecars(rec, opts) : null;
  if (perImage !== null) return perImage;
  const effective = ownEffective(rec);
  return { entries: effective ? [{ sidecar: effective }] : [], leftOut: [], perImage: false };
}

/**
 * Several images, or one symlinked image whose target shares its folder's files with other images
 * (a JPEG linked from a RAW+JPEG pair elsewhere: the record holds that whole group's files), and
 * among local files and a symlinked image's target's, a readable sidecar and another file of ours
 * (readable, corrupt or encrypted: the JPEG's own file this reader has no key for, beside the RAW's
 * readable one, was taken to be the JPEG's), or any file of ours where the effective file is a
 * link's target's inside the root: only then may the images read different files. Sync, and no
 * file read: every other record costs nothing more.
 */
export function readsPerImage(rec: ScanRecord): boolean {
  if (rec.category !== 'ambiguous' || (rec.images.length < 2 && !rec.images.some((i) => i.isSymlink))) return false;
  const outside = rec.images.some((i) => i.outsideRoot);
  let readable = false;
  let ours = 0;
  for (const s of rec.sidecars) {
    if (s.side !== 'local' && !outside) continue;
    if (isCountedHere(s, outside)) readable = true;
    if (readAsOurs(s.inspection)) ours++;
  }
  // The effective file a link's target's (counted by its own record): the group's own images read
  // their local files, readable or not, and each link its own target's.
  if (rec.effective !== null && ownEffective(rec) === null) return ours >= 1;
  return readable && ours >= 2;
}

/** A readable sidecar this record counts: a local one, or one beside a link's target outside the root (a target inside is its own record's, as for ownEffective). */
function isCountedHere(s: ScanSidecar, outside: boolean): boolean {
  return s.inspection.status === 'ok' && s.inspection.shape === 'sidecar' && (s.side === 'local' || outside);
}

/** A record `readsPerImage` holds, judged image by image; null when the folder changed under the command (the record's own view then stands). */
export async function imagesWithOwnSidecars(rec: ScanRecord, opts: Options, readAsItIs = false): Promise<ImageSidecars | null> {
  const outside = rec.images.some((i) => i.outsideRoot);
  const readable = rec.sidecars.filter((s) => isCountedHere(s, outside));
  // What the scan decoded is not decoded again: only which file each image's read takes is asked.
  const vouched = (path: string) => readable.find((s) => s.path === path)?.inspection.format ?? null;
  const entries: { image: ScanImage; sidecar: ScanSidecar }[] = [];
  const viaTarget: { image: ScanImage; sidecar: ScanSidecar }[] = [];
  const unread: { image: ScanImage; code: string; message: string }[] = [];
  for (const image of rec.images) {
    if (image.broken === true || ownGroupTargetOf(rec, image) !== undefined) continue;
    let path: string | null = null;
    try {
      const r = await readSidecarPath(image.path, opts, vouched);
      // A shared file recording none of the images: whose results these are cannot be told (a
      // digest of what each read gives takes it as it is: `readAsItIs`).
      if (readAsItIs || !r.findings.some((f) => f.code === 'ambiguous')) path = r.path;
    } catch (e) {
      // Corrupt, unreadable, locked: the image's data is not known (a list command names it).
      const err = e as { code?: string; message?: string };
      unread.push({ image, code: typeof err.code === 'string' ? err.code : 'IO', message: String(err.message ?? e) });
      continue;
    }
    if (path === null) continue;
    const sidecar = readable.find((s) => s.path === path);
    if (sidecar === undefined) {
      // A file the scan did not see, or did not see readable, in the record's folder (saved or
      // replaced since): the folder changed under the command, and the record's view is the only
      // one it has (an image whose save landed just now was dropped). A link's target's file inside
      // the root is its target's record's: the link is covered through it when the scan saw it.
      const seen = rec.sidecars.find((s) => s.path === path);
      const here = seen !== undefined ? seen.side === 'local' : dirname(path) === dirname(image.path);
      if (here || outside) return null;
      if (image.isSymlink && seen !== undefined) viaTarget.push({ image, sidecar: seen });
      continue;
    }
    // (Once per file for export and find; per image when read as it is: each image keys its digest.)
    if (readAsItIs || !entries.some((t) => t.sidecar === sidecar)) entries.push({ image, sidecar });
  }
  // No image reads a file of its own (each read fails, or finds a shared file recording none of
  // them): none is given one; the readable files are left out, as export and datasets say.
  return { entries, leftOut: readable.filter((s) => !entries.some((t) => t.sidecar === s)), perImage: true, viaTarget, unread };
}

/**
 * The image of its own record a symlinked image inside the root points to (`IMG_1.png -> IMG_1.jpg`
 * beside it), else undefined. Such a link is found once, through its target (docs/QUERY.md), and
 * covered when its target is. A realpath of the record's folder, for such links only (rare).
 */
export function ownGroupTargetOf(rec: ScanRecord, image: ScanImage): ScanImage | undefined {
  const target = image.target;
  if (!image.isSymlink || target === undefined || image.outsideRoot === true) return undefined;
  const name = basename(target);
  const other = rec.images.find((o) => o !== image && !o.isSymlink && o.name === name);
  if (other === undefined) return undefined;
  try {
    return join(realpathSync(dirname(other.path)), name) === target ? other : undefined;
  } catch {
    return undefined;
  }
}

/** `--operation-type` filter: does this sidecar contain the operation (any spelling)? */
export function operationFilter(op: string | undefined): ((s: ScanSidecar) => boolean) | null {
  if (!op) return null;
  const want = normalizeOperationName(op);
  return (s) => s.inspection.summary?.operations.includes(want) ?? false;
}

/** `--where EXPR` filter (docs/QUERY.md): compiled once; false for a sidecar without a summary. */
export function whereFilter(expr: string | undefined): ((s: ScanSidecar) => boolean) | null {
  if (expr === undefined) return null;
  const predicate = compileQuery(expr);
  return (s) => {
    const ins = s.inspection;
    return ins.summary !== undefined && predicate({ summary: ins.summary, format: ins.format, size: ins.size });
  };
}

/** Both filters (either may be absent). */
export function sidecarFilter(operationType: string | undefined, where: string | undefined): ((s: ScanSidecar) => boolean) | null {
  const a = operationFilter(operationType);
  const b = whereFilter(where);
  if (a && b) return (s) => a(s) && b(s);
  return a ?? b;
}

/** Sort object keys recursively, so JSON output is byte-identical across runs. */
export function sortKeysDeep<T>(v: T): T {
  if (Array.isArray(v)) return v.map(sortKeysDeep) as T;
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) setOwn(out, k, sortKeysDeep((v as Record<string, unknown>)[k]));
    return out as T;
  }
  return v;
}

/** Round for output so that tiny float noise never changes bytes. */
export function round(n: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** An image a list command cannot decide (its data cannot be read): named, not listed. */
export interface ListProblem {
  /** Image path relative to the root. */
  rel: string;
  category: string;
  message: string;
}

const MAX_PROBLEMS_KEPT = 1000;

/** The problems of a list command: all counted, the first MAX_PROBLEMS_KEPT kept. */
export class ListProblems {
  readonly problems: ListProblem[] = [];
  count = 0;
  add(rel: string, category: string, message: string): void {
    this.count++;
    if (this.problems.length < MAX_PROBLEMS_KEPT) this.problems.push({ rel, category, message });
  }

  /**
   * A record whose images' data cannot be read (a corrupt or unreadable sidecar, one encrypted
   * under a key not given): each of its own images (a link into the root is its target's record's)
   * is a problem, as todo says. `stale` and `find` passed them over: "0 stale", exit 0, for a library
   * whose every image had changed, when the key was not given.
   */
  /**
   * The images of a record with the sidecar each reads (imageSidecars), for stale and find; null when
   * the record's data cannot be read (`addUndecided`). An image whose own read fails is named too.
   */
  async judged(rec: ScanRecord, opts: Options): Promise<ImageSidecars['entries'] | null> {
    if (this.addUndecided(rec)) return null;
    const taken = await imageSidecars(rec, opts);
    for (const u of taken.unread ?? []) this.add(u.image.rel, u.code === 'ENCRYPTED' ? 'encrypted' : u.code === 'CORRUPT' ? 'corrupt' : 'unreadable', u.message);
    return taken.entries;
  }

  addUndecided(rec: ScanRecord): boolean {
    if (rec.category !== 'corrupt' && rec.category !== 'unreadable' && rec.category !== 'encrypted') return false;
    const why = rec.findings.find((f) => f.code === 'encrypted' || f.code === 'corrupt' || f.code === 'unreadable')?.message ?? rec.category;
    for (const img of rec.images) if (!img.broken && (!img.isSymlink || img.outsideRoot)) this.add(img.rel, rec.category, why);
    return true;
  }
}
