/** What a scan yields: records and their summary, and the rules on records every command shares (categories, sidecar files). */
import type { FileInspection } from '../model/inspection.js';
import type { Category, SidecarExt, SidecarNaming } from '../types.js';

export interface ScanImage {
  name: string;
  path: string;
  rel: string;
  isSymlink: boolean;
  /** Final target of a symlinked image (realpath). */
  target?: string;
  broken?: boolean;
  /** The target lies outside the scanned root: read it, never write or remove there. */
  outsideRoot?: boolean;
}

export interface ScanSidecar {
  name: string;
  path: string;
  /** POSIX path relative to the root (may start with ../ for a link target outside the root). */
  rel: string;
  ext: SidecarExt;
  naming: SidecarNaming;
  /** 'local': in the scanned directory; 'target': next to a symlinked image's target. */
  side: 'local' | 'target';
  /** The sidecar itself is a symlink: read through it, never written, converted or removed. */
  isLink?: boolean;
  inspection: FileInspection;
}

export interface Finding {
  code: 'fallback' | 'ambiguous' | 'kept' | 'kept-newer' | 'bom' | 'broken-symlink' | 'unreadable' | 'corrupt' | 'outside-root' | 'unknown-image' | 'note' | 'encrypted' | 'foreign' | 'left-behind';
  message: string;
  paths: string[];
}

/** One unit of a scan: an image with its sidecars, or a file that pairs with nothing. */
export interface ScanRecord {
  category: Category;
  /** Directory relative to the root, POSIX ('' for the root). */
  dir: string;
  images: ScanImage[];
  /** Every candidate in preference order (target side first, then local). */
  sidecars: ScanSidecar[];
  /** The sidecar whose data counts for the image(s): the first candidate that decodes. */
  effective: ScanSidecar | null;
  findings: Finding[];
  /** Scanned files owned by this record (images and local sidecars): the counts add up. */
  files: number;
  /**
   * Position in tree order: [walk step of its folder, index among the folder's records]. Equal on
   * every shard of a tree, so shard outputs merge back into the order of an unsharded scan.
   */
  seq: TreeSeq;
}

/** [walk step, index in the folder] (a folder that could not be read: [its step, -1]). */
export type TreeSeq = readonly [number, number];

/** Tree order of two positions. */
export function compareSeq(a: TreeSeq, b: TreeSeq): number {
  return a[0] - b[0] || a[1] - b[1];
}

export interface ScanProblem {
  path: string;
  code: string;
  message: string;
}

export interface ScanSummary {
  root: string;
  /** False when any directory or file could not be read: no orphan is ever declared then. */
  complete: boolean;
  problems: ScanProblem[];
  problemCount: number;
  counts: Record<Category, number>;
  filesScanned: number;
  filesIgnored: number;
  tempFiles: number;
  directories: number;
  images: number;
  imageSymlinks: number;
  brokenSymlinks: number;
  /** Sidecar files (`sidecarFilesOf`): the one count every command reports. */
  sidecarFiles: number;
  engine: { kind: 'inline' | 'threads'; workers: number };
}

/**
 * THE definition of a "sidecar file" (README "Categories"), used by every count: the
 * sidecar-named files of a record (pair.ts) in its own folder, except when the record is
 * `unrelated` (reports and other JSON are not sidecars), and except another tool's files beside an
 * image (`isForeign`); a symlinked image whose target lies
 * outside the root adds its target's sidecars (no record of this tree counts them otherwise).
 */
export function sidecarFilesOf(rec: ScanRecord): ScanSidecar[] {
  const scope = sidecarFileScope(rec);
  return scope === 'none' ? [] : rec.sidecars.filter((s) => (scope === 'all' || s.side === 'local') && !isForeign(s));
}

/** `sidecarFilesOf(rec).length`, without the array (every record is counted). */
export function sidecarFileCount(rec: ScanRecord): number {
  const scope = sidecarFileScope(rec);
  if (scope === 'none') return 0;
  let n = 0;
  for (let i = 0; i < rec.sidecars.length; i++) if ((scope === 'all' || rec.sidecars[i].side === 'local') && !isForeign(rec.sidecars[i])) n++;
  return n;
}

/**
 * Another tool's file in a sidecar's name (docs/PAIRING.md §7): it decodes, and is not
 * sidecar-shaped (analysis/operations.ts shapeOf; a report too). Beside an image it is not the
 * image's sidecar, nor a sidecar file; every command leaves it as it is.
 */
export function isForeign(sc: ScanSidecar): boolean {
  const ins = sc.inspection;
  return ins.status === 'ok' && ins.shape !== null && ins.shape !== 'sidecar';
}

/**
 * A file read as one of ours: decoded and not another tool's, or corrupt or encrypted (a file of
 * ours that says what is wrong with it when read); not one that could not be read at all. What makes
 * a name-ext file the image's own for the left-behind rule (pair.ts leftBehindAmong): the scan and
 * relink judge it by the inspection, as a read does by decoding (ops/read.ts).
 */
export function readAsOurs(ins: FileInspection): boolean {
  return (ins.status === 'ok' && (ins.shape === null || ins.shape === 'sidecar')) || ins.status === 'corrupt' || ins.status === 'encrypted';
}

/**
 * A file of ours encrypted under a key that was not given: none (`encrypted`), or a wrong key or
 * passphrase (`corrupt`, its key id kept: never decrypted). Its data is unknown, and likely the
 * image's newest: a read stops there (docs/PAIRING.md §4), where a damaged file is passed over.
 */
export function lockedFile(ins: FileInspection): boolean {
  return ins.status === 'encrypted' || (ins.status === 'corrupt' && ins.encryptedKeyId !== undefined);
}

/** A stem file another image of its stem left behind (finalize.ts, docs/PAIRING.md §3): named by the record's `left-behind` finding. */
export function isLeftBehind(rec: ScanRecord, sc: { path: string }): boolean {
  for (const f of rec.findings) if (f.code === 'left-behind' && f.paths[0] === sc.path) return true;
  return false;
}

/** The record's local stem files another image left behind that cleanup and relink may move (not links: isMovableOrphan). */
export function leftBehindFilesOf(rec: ScanRecord): ScanSidecar[] {
  const out: ScanSidecar[] = [];
  for (const sc of rec.sidecars) if (sc.side === 'local' && sc.isLink !== true && isLeftBehind(rec, sc)) out.push(sc);
  return out;
}

/** Which of a record's sidecars are sidecar files (the definition above): none, all, or the local ones. */
function sidecarFileScope(rec: ScanRecord): 'none' | 'all' | 'local' {
  if (rec.category === 'unrelated') return 'none';
  for (let i = 0; i < rec.images.length; i++) if (rec.images[i].outsideRoot) return 'all';
  return 'local';
}

/**
 * A lone sidecar's category refined by its folder: a file with its stem or name whose type is not in
 * the image list (a look-alike) makes an orphan 'unknown-image', never one to remove or move.
 */
export function unlessLookalike(category: Category, lookalikes: readonly string[] | undefined): Category {
  return category === 'orphan' && lookalikes !== undefined && lookalikes.length > 0 ? 'unknown-image' : category;
}

/** An orphan cleanup and relink may move: a symlinked sidecar is read, never moved (its file may be anyone's). */
export function isMovableOrphan(category: Category, sidecar: { isLink?: boolean }): boolean {
  return category === 'orphan' && sidecar.isLink !== true;
}

/** The one place that decides a record's category. */
export function categorize(images: readonly ScanImage[], sidecars: readonly ScanSidecar[], effective: ScanSidecar | null): Category {
  if (images.length === 0) {
    const ins = sidecars[0].inspection;
    if (ins.status === 'unreadable') return 'unreadable';
    if (ins.status === 'corrupt') return 'corrupt';
    // One encrypted under a key not given is ours, but whose it is cannot be read (its record names
    // its image: relink's evidence): never an orphan to remove (docs/PAIRING.md §7). With its key it
    // decodes, and is an orphan or not by its content as any other.
    if (ins.status === 'encrypted') return 'encrypted';
    return ins.shape === 'sidecar' ? 'orphan' : 'unrelated';
  }
  if (images.length === 1 && images[0].broken) return 'broken-symlink';
  if (sidecars.length === 0) return 'missing';
  if (images.length > 1) return 'ambiguous';
  // Several files of one image: the first that decodes is its sidecar, the rest are kept older
  // copies (docs/PAIRING.md §4), as a read and a save take them.
  if (effective) return 'ok';
  const st = sidecars[0].inspection.status;
  return st === 'unreadable' ? 'unreadable' : st === 'encrypted' ? 'encrypted' : 'corrupt';
}
