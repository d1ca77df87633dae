/** A pending record finished with the engine's results: its sidecars' inspections, findings and category. */
import type { FileInspection } from '../model/inspection.js';
import type { PendingRecord } from './pending.js';
import { basename } from 'node:path';
import { newerKeptCopies } from './kept-copies.js';
import { leftBehindAmong, unrecordedStemFiles, withUnrecordedStemLater, type FileRecordSeen } from '../discovery/pair.js';
import { leadsToRegularFile } from '../fs/regular-file.js';
import { categorize, isForeign, lockedFile, readAsOurs, unlessLookalike, type ScanRecord, type ScanSidecar, type TreeSeq } from './records.js';

/**
 * What a stem-form file records of its image (its file name, NFC), read for the rare record whose
 * image has files in both namings (`leftBehindFiles`); null when it records none or cannot be read.
 */
export type RecordedNameOf = (path: string) => string | null;

/**
 * The record of `p` with its inspections: `results` from `from` on (a bundle's records share one
 * list); an unreadable sidecar is a problem of the scan (`problem`).
 */
export function finalizeRecord(
  p: PendingRecord,
  results: readonly FileInspection[],
  from: number,
  problem: (path: string, code: string, message: string, seq: TreeSeq) => void,
  recordedNameOf?: RecordedNameOf,
  imageExts?: ReadonlySet<string>,
): ScanRecord {
  let flags = p.flags;
  let sidecars = p.candidates;
  // Categories never depend on whether link targets were inspected for this scan (stats
  // --operation-type inspects them): those candidates are judged as unchecked, as their own
  // record judges them. A view of its own only when some was inspected (else: the candidates).
  let categoryView = sidecars;
  if (flags === undefined) {
    for (let i = 0; i < sidecars.length; i++) sidecars[i].inspection = results[from + i];
  } else {
    let next = from;
    for (let i = 0; i < sidecars.length; i++) {
      const f = flags[i];
      sidecars[i].inspection = (f & 1) !== 0 ? uncheckedInspection(sidecars[i].path) : results[next++];
      if ((f & 3) === 2) {
        if (categoryView === sidecars) categoryView = sidecars.slice();
        categoryView[i] = { ...sidecars[i], inspection: uncheckedInspection(sidecars[i].path) };
      }
    }
  }
  // Stem files that record no image rank after the image's name-ext file that records one (docs/PAIRING.md §4).
  const order = recordedNameOf !== undefined ? readOrder(p, recordedNameOf) : null;
  if (order !== null) {
    const view = categoryView;
    const was = sidecars;
    const wasFlags = flags;
    sidecars = order.map((i) => was[i]);
    categoryView = view === was ? sidecars : order.map((i) => view[i]);
    if (wasFlags !== undefined) flags = order.map((i) => wasFlags[i]);
  }
  /** A link target's sidecar inside the root, which its own record reports on. */
  const own = (i: number) => flags !== undefined && (flags[i] & 2) !== 0;
  const findings = p.findings;
  // Stem files another image of the stem left behind (docs/PAIRING.md §3): by path, with the name they record.
  const leftBehind = recordedNameOf !== undefined && imageExts !== undefined ? leftBehindFiles(p, recordedNameOf, imageExts) : null;
  if (leftBehind !== null) {
    categoryView = categoryView.filter((sc) => !leftBehind.has(sc.path));
    for (const [path, named] of leftBehind) {
      findings.push({ code: 'left-behind', message: `records ${named}, another image of this stem that is not here (moved or removed): not this image's sidecar, never read or saved into for it (image-sidecar relink returns it to its image)`, paths: [path] });
    }
  }
  const isLeftBehind = (sc: ScanSidecar) => leftBehind !== null && leftBehind.has(sc.path);
  let effective: ScanSidecar | null = null;
  let effectiveForCategory: ScanSidecar | null = null;
  // Another tool's files beside an image (Takeout's IMG_1.jpg.json) are not its sidecars (docs/PAIRING.md §7).
  const withImages = p.images.length > 0;
  if (withImages && categoryView.some(isForeign)) categoryView = categoryView.filter((sc) => !isForeign(sc));
  // One image's read stops at a file encrypted under a key not given (docs/PAIRING.md §4): no file
  // after it is its data. (Several images' reads are judged one by one: ops/common.ts.)
  const stopsAtLocked = p.images.length === 1 && p.images[0].broken !== true;
  let locked: ScanSidecar | null = null;
  for (const sc of categoryView) {
    if (effectiveForCategory || locked) break;
    if (stopsAtLocked && lockedFile(sc.inspection) && !isLeftBehind(sc)) locked = sc;
    else if (sc.inspection.status === 'ok' || sc.inspection.status === 'unchecked') effectiveForCategory = sc;
  }
  let stopped = false;
  for (let i = 0; i < sidecars.length; i++) {
    const sc = sidecars[i];
    const ins = sc.inspection;
    if (stopsAtLocked && !effective && lockedFile(ins) && !isLeftBehind(sc)) stopped = true;
    if (own(i) && (ins.status === 'corrupt' || ins.status === 'unreadable')) continue; // reported by its own record
    if (isLeftBehind(sc)) continue;
    if (withImages && isForeign(sc)) {
      if (!own(i)) findings.push({ code: 'foreign', message: `another tool's file (it decodes but holds no sidecar_info and no operation): not the image's sidecar; never written, converted or moved`, paths: [sc.path] });
      continue;
    }
    if (ins.status === 'unchecked') {
      if (!effective && !stopped) effective = sc;
    } else if (ins.status === 'ok') {
      if (!effective && !stopped) effective = sc;
      if (ins.notes.length > 0) findings.push({ code: ins.notes.some((n) => /BOM/i.test(n)) ? 'bom' : 'note', message: ins.notes.join('; '), paths: [sc.path] });
    } else if (ins.status === 'unreadable') {
      problem(sc.path, ins.error?.code ?? 'IO', ins.error?.message ?? 'unreadable', p.seq);
      findings.push({ code: 'unreadable', message: ins.error?.message ?? 'unreadable', paths: [sc.path] });
    } else if (ins.status === 'encrypted') {
      findings.push({ code: 'encrypted', message: ins.error?.message ?? 'encrypted', paths: [sc.path] });
    } else {
      findings.push({ code: 'corrupt', message: ins.error?.message ?? 'corrupt', paths: [sc.path] });
    }
  }
  const firstAt = leftBehind === null ? 0 : sidecars.findIndex((sc) => !isLeftBehind(sc));
  if (effective && firstAt >= 0 && sidecars[firstAt] !== effective && !own(firstAt) && !(withImages && isForeign(sidecars[firstAt]))) {
    findings.push({ code: 'fallback', message: `preferred sidecar unusable; read ${effective.name} instead`, paths: [sidecars[firstAt].path, effective.path] });
  }
  const category = p.forced ?? (locked !== null ? (locked.inspection.status === 'encrypted' ? 'encrypted' : 'corrupt') : unlessLookalike(categorize(p.images, categoryView, effectiveForCategory), p.lookalikes));
  if (category === 'unknown-image' && p.lookalikes) {
    findings.push({ code: 'unknown-image', message: `pairs with no known image, but ${p.lookalikes.join(', ')} has its name: an image type not in the extension list? (add it with --image-ext); never an orphan`, paths: [sidecars[0].path] });
  }
  if (category === 'ok' && sidecars.length > 1) {
    const kept = sidecars.filter((sc, i) => sc !== effective && !own(i) && sc.inspection.status === 'ok' && !isForeign(sc) && !isLeftBehind(sc));
    if (kept.length > 0) {
      findings.push({ code: 'kept', message: `copies kept beside ${effective?.name ?? sidecars[0].name}, not read: ${kept.map((k) => k.name).join(', ')}`, paths: kept.map((k) => k.path) });
      // A copy written after the file reads take (a tool writing <stem>.json itself after a
      // migration to .bin): its newer results are out of every read's view (docs/PAIRING.md §4).
      // Only between files this record inspected (what its stored form depends on: a link
      // target's sidecar left to its own record is not, and its edits would not reach this one).
      if (effective !== null && effective.inspection.status === 'ok') {
        const newer = new Set(newerKeptCopies(effective.path, kept.map((k) => k.path)));
        for (const k of kept) {
          if (newer.has(k.path)) findings.push({ code: 'kept-newer', message: `${k.name} modified after ${effective.name}, which reads take: what it holds now is not what reads give (image-sidecar resolve quarantines it once its content is in ${effective.name})`, paths: [k.path, effective.path] });
        }
      }
    }
  }
  if (category === 'ambiguous' && !findings.some((f) => f.code === 'ambiguous')) {
    findings.push({ code: 'ambiguous', message: 'several candidate sidecars or images', paths: [...p.images.map((i) => i.path), ...sidecars.filter((x) => !isForeign(x)).map((x) => x.path)] });
  }
  const files = p.images.length + p.localSidecars + p.extraFiles;
  const rec: ScanRecord = { category, dir: p.dir, images: p.images, sidecars, effective, findings, files, seq: p.seq };
  return rec;
}

function uncheckedInspection(path: string): FileInspection {
  return { path, size: 0, status: 'unchecked', format: null, notes: [], shape: 'sidecar', elapsedMs: 0 };
}


/**
 * A candidate this record inspected for itself: not a link target's sidecar, which its own record
 * reports on (flags; inspected for this scan or not). Only such files decide a record's read order
 * and its left-behind files: the record then depends on their identities alone (the index's folder
 * records), and the answer never depends on the scan's options.
 */
function inspectedHere(p: PendingRecord, i: number): boolean {
  return p.flags === undefined || p.flags[i] === 0;
}

/**
 * The read order of a one-image record's candidates (pair.ts unrecordedStemFiles, on each side), as
 * their indices; null when it is their order (nothing is read: the usual case).
 */
function readOrder(p: PendingRecord, recordedNameOf: RecordedNameOf): number[] | null {
  const cs = p.candidates;
  if (p.images.length !== 1 || cs.length < 2 || p.forced !== undefined) return null;
  if (!cs.some((sc) => sc.naming === 'stem') || !cs.some((sc) => sc.naming === 'name-ext')) return null;
  // What the read sees of each file (ops/read.ts readOrderOf).
  const seen = (sc: ScanSidecar, i: number): FileRecordSeen => {
    if (!inspectedHere(p, i)) return 'no-say';
    const ins = sc.inspection;
    if (ins.status === 'ok') return isForeign(sc) ? 'no-say' : recordedNameOf(sc.path) !== null ? 'records' : 'no-record';
    if (ins.status === 'encrypted' || ins.status === 'corrupt') return 'unreadable';
    // A folder, a FIFO or a link to nothing in a sidecar's name is no candidate of a read: it says nothing.
    if (ins.status === 'unreadable') return leadsToRegularFile(sc.path) ? 'unreadable' : 'no-say';
    return 'no-say';
  };
  const rows = cs.map((sc, i) => ({ sc, i, naming: sc.naming, side: sc.side }));
  let later: Set<(typeof rows)[number]> | null = null;
  for (const side of ['target', 'local'] as const) {
    const found = unrecordedStemFiles(
      rows.filter((r) => r.side === side),
      (r) => seen(r.sc, r.i),
    );
    if (found !== null) for (const r of found) (later ??= new Set()).add(r);
  }
  return later === null ? null : withUnrecordedStemLater(rows, later).map((r) => r.i);
}

/**
 * The stem files of a one-image record that another image left behind (pair.ts leftBehindAmong), on
 * each side, by path with the name each records. A name-ext file counts as the image's own when it
 * was read as ours (corrupt and encrypted ones too), not when it is another tool's or could not be
 * read as a file (a folder, a link to nothing). Null when there are none (nothing is read).
 */
function leftBehindFiles(p: PendingRecord, recordedNameOf: RecordedNameOf, imageExts: ReadonlySet<string>): Map<string, string> | null {
  if (p.images.length !== 1 || p.candidates.length < 2 || p.forced !== undefined) return null;
  const img = p.images[0];
  // The image each side's files are named after: the link's target there, the image itself here.
  // Beside a link, a save through it recorded the target's name: that name is this image's too.
  const target = img.target === undefined ? null : basename(img.target);
  const ownInspection = (sc: ScanSidecar) => inspectedHere(p, p.candidates.indexOf(sc));
  let out: Map<string, string> | null = null;
  for (const side of ['target', 'local'] as const) {
    const names = side === 'target' ? (target === null ? null : [target]) : target === null ? [img.name] : [img.name, target];
    if (names === null) continue;
    const found = leftBehindAmong(
      p.candidates.filter((sc) => sc.side === side),
      names,
      imageExts,
      (sc) => ownInspection(sc) && readAsOurs(sc.inspection),
      (sc) => (ownInspection(sc) && sc.inspection.status === 'ok' ? recordedNameOf(sc.path) : null),
    );
    if (found !== null) for (const [sc, named] of found) (out ??= new Map()).set(sc.path, named);
  }
  return out;
}
