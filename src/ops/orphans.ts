import { basename, dirname } from 'node:path';
import { errors } from '../errors.js';
import { nfc, SIDECAR_EXTS, splitName } from '../discovery/extensions.js';
import { readSidecarRecord } from '../analysis/image-identity.js';
import { scan } from './scan.js';
import { isMovableOrphan, leftBehindFilesOf, sidecarFilesOf, type ScanSidecar, type ScanSummary } from '../scan/records.js';
import type { Options } from '../types.js';

export interface OrphanList {
  /** `leftBehind`: a stem file another image left behind beside an image's own file (docs/PAIRING.md §3), not a lone one. */
  orphans: { path: string; rel: string; format: string | null; size: number; leftBehind?: true }[];
  /** Lone sidecars encrypted under a key not given: whose they are cannot be read, so they are not orphans (left in place). */
  encryptedLeft: number;
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
  // Each found with its record's folder: counted there once the older copies are set aside.
  const found: { orphan: OrphanList['orphans'][number]; f: { orphans: number } }[] = [];
  const folders = new Map<string, { dir: string; images: number; sidecarFiles: number; orphans: number }>();
  let encryptedLeft = 0;
  for await (const rec of session) {
    if (rec.images.length === 0 && rec.category === 'encrypted') encryptedLeft++;
    let f = folders.get(rec.dir);
    if (!f) folders.set(rec.dir, (f = { dir: rec.dir, images: 0, sidecarFiles: 0, orphans: 0 }));
    f.images += rec.images.length;
    f.sidecarFiles += sidecarFilesOf(rec).length;
    if (isMovableOrphan(rec.category, rec.sidecars[0])) found.push({ orphan: orphanEntry(rec.sidecars[0]), f });
    // A stem file another image left behind beside this one's own file is that image's orphan (docs/PAIRING.md §3).
    for (const sc of leftBehindFilesOf(rec)) found.push({ orphan: { ...orphanEntry(sc), leftBehind: true }, f });
  }
  // Older copies of another orphan beside them are no orphans to remove or return (staleStemCopies).
  const stale = staleStemCopies(
    found.map((x) => x.orphan),
    (p) => readSidecarRecord(p, opts.keyring, opts)?.name ?? null,
  );
  const orphans: OrphanList['orphans'] = [];
  for (const { orphan, f } of found) {
    if (stale.has(orphan.path)) continue;
    orphans.push(orphan);
    f.orphans++;
  }
  const s = session.summary;
  if (!s.complete) {
    throw errors.incompleteScan(
      `${s.problemCount} path(s) could not be read (first: ${s.problems[0]?.message ?? 'unknown'}); no orphan can be declared`,
    );
  }
  return { orphans, encryptedLeft, sidecarFiles: s.sidecarFiles, folders: [...folders.values()].filter((f) => f.orphans > 0), scan: s };
}

function orphanEntry(sc: ScanSidecar) {
  return { path: sc.path, rel: sc.rel, format: sc.inspection.format, size: sc.inspection.size };
}

/**
 * Left-behind orphans that are older copies of another orphan beside them: a stem file (`IMG_1.bin`)
 * left behind beside the RAW, recorded for an image whose own name-ext file (`IMG_1.JPG.bin`) is an
 * orphan of the same folder. That is what a RAW+JPEG share leaves once the JPEG moves away without
 * its files: while the stem was shared the JPEG read and saved its name-ext file, which took the
 * stem file's results when it was written (docs/PAIRING.md §3). Returned alone, the name-ext file is
 * the image's sidecar again; returned together, the stem file, no longer shared, would rank first
 * (§4) and hide the newer results. So relink returns the name-ext file only, and cleanup removes
 * neither: the stem file stays, an older copy. (Lone orphans of one image move together as ever:
 * their order was the image's before it moved.)
 * `recordedName` is asked only where the names leave the question open.
 */
export function staleStemCopies(orphans: readonly { path: string; leftBehind?: true }[], recordedName: (path: string) => string | null): Set<string> {
  const byDir = new Map<string, Set<string>>();
  for (const o of orphans) {
    const d = dirname(o.path);
    let names = byDir.get(d);
    if (!names) byDir.set(d, (names = new Set()));
    names.add(nfc(basename(o.path)));
  }
  const out = new Set<string>();
  for (const o of orphans) {
    if (o.leftBehind !== true) continue;
    const name = nfc(basename(o.path));
    const stem = name.slice(0, name.lastIndexOf('.'));
    const names = byDir.get(dirname(o.path))!;
    // By names first: another orphan here named `<stem>.<x>.<ext>` (a name-ext file of an image of this stem).
    let nameExtBeside = false;
    for (const n of names) if (n !== name && n.startsWith(`${stem}.`) && n.indexOf('.', stem.length + 1) > 0) nameExtBeside = true;
    if (!nameExtBeside) continue;
    const named = recordedName(o.path);
    if (named === null || nfc(splitName(named).stem) !== stem) continue;
    if (SIDECAR_EXTS.some((ext) => names.has(`${nfc(named)}.${ext}`))) out.add(o.path);
  }
  return out;
}
