import { errors } from '../errors.js';
import { scan } from './scan.js';
import { isMovableOrphan, leftBehindFilesOf, sidecarFilesOf, type ScanSidecar, type ScanSummary } from '../scan/records.js';
import type { Options } from '../types.js';

export interface OrphanList {
  orphans: { path: string; rel: string; format: string | null; size: number }[];
  /** Sidecar files in the tree (the guard's denominator). */
  sidecarFiles: number;
  /** Per folder holding orphans: its images and sidecar files (the per-folder guard). */
  folders: { dir: string; images: number; sidecarFiles: number; orphans: number }[];
  scan: ScanSummary;
}

/**
 * Orphans: sidecar-shaped files whose directory holds no image they belong to, and stem files
 * another image of the stem left behind beside an image's own file (docs/PAIRING.md §3).
 * Reports and unrelated JSON are never orphans; corrupt and unreadable files are never orphans;
 * and a scan that hit read errors declares no orphan at all (INCOMPLETE_SCAN).
 */
export async function findOrphans(root: string, opts: Options = {}): Promise<OrphanList> {
  const session = scan(root, opts);
  const orphans: OrphanList['orphans'] = [];
  const folders = new Map<string, { dir: string; images: number; sidecarFiles: number; orphans: number }>();
  for await (const rec of session) {
    let f = folders.get(rec.dir);
    if (!f) folders.set(rec.dir, (f = { dir: rec.dir, images: 0, sidecarFiles: 0, orphans: 0 }));
    f.images += rec.images.length;
    f.sidecarFiles += sidecarFilesOf(rec).length;
    if (isMovableOrphan(rec.category, rec.sidecars[0])) {
      orphans.push(orphanEntry(rec.sidecars[0]));
      f.orphans++;
    }
    // A stem file another image left behind beside this one's own file is that image's orphan (docs/PAIRING.md §3).
    for (const sc of leftBehindFilesOf(rec)) {
      orphans.push(orphanEntry(sc));
      f.orphans++;
    }
  }
  const s = session.summary;
  if (!s.complete) {
    throw errors.incompleteScan(
      `${s.problemCount} path(s) could not be read (first: ${s.problems[0]?.message ?? 'unknown'}); no orphan can be declared`,
    );
  }
  return { orphans, sidecarFiles: s.sidecarFiles, folders: [...folders.values()].filter((f) => f.orphans > 0), scan: s };
}

function orphanEntry(sc: ScanSidecar) {
  return { path: sc.path, rel: sc.rel, format: sc.inspection.format, size: sc.inspection.size };
}
