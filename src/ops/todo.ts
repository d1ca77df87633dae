/**
 * todo and stale: what a pipeline has left to do.
 *
 * `todo(root, {operation})` lists, in tree order, every image that needs the operation run:
 *   no-sidecar  the image has no sidecar at all
 *   no-result   its sidecar has no result for the operation
 *   failed      the result says `success: false` (any backend failed)
 *   stale       the image changed since the result was saved (see analysis/image-identity.ts)
 * Each image file is listed once: a symlinked image whose target lies inside the root is left to
 * the target's own record (the game-folder links of a library point at its originals); a link to
 * a target outside the root is listed (nothing else would list it). Images whose state cannot be
 * decided — a corrupt or unreadable sidecar, several candidate sidecars — are NOT listed (a save
 * would be refused: they need a person) but reported as problems; broken links are counted.
 *
 * `staleSidecars(root)` lists the sidecars whose image changed since they were written.
 *
 * Both read each sidecar with the engine's `probe` inspection: a skim decode (JSON arrays are
 * validated, never built) and only the operation outcomes and `sidecar_info.image` come back.
 */
import { basename, dirname, relative, sep } from 'node:path';
import { imageExtensionSet } from '../discovery/extensions.js';
import { isImageName } from '../discovery/pair.js';
import { inQuarantine } from '../discovery/own-folders.js';
import { errors, isSidecarError } from '../errors.js';
import { scan } from './scan.js';
import { type ScanImage, type ScanRecord, type ScanSummary } from '../scan/records.js';
import { normalizeOperationName } from '../analysis/operations.js';
import { checkImageIdentity, identityJson, type IdentityCheck } from '../analysis/image-identity.js';
import type { JsonObject, Options } from '../types.js';
import { ListProblems, recordedImageOf, type ListProblem } from './common.js';
import { readSidecarDetailed } from './read.js';
import { probeSidecar } from '../analysis/summary.js';
import type { ImageRecord, SidecarProbe } from '../model/summary.js';

export const TODO_REASONS = ['no-sidecar', 'no-result', 'failed', 'stale'] as const;
export type TodoReason = (typeof TODO_REASONS)[number];

export interface TodoEntry {
  /** Image path (absolute: the scan's). */
  path: string;
  /** Image path relative to the root, POSIX. */
  rel: string;
  reason: TodoReason;
  /** The sidecar read, relative to the root (null for no-sidecar). */
  sidecar: string | null;
  /** For stale: what differs ('size', 'mtime', 'sha256', 'stale-operation'). */
  changes?: string[];
}

export type TodoProblem = ListProblem;

export interface TodoOptions extends Options {
  /** The operation the pipeline is about to run (any spelling: yolov8, Face_detector...). */
  operation: string;
  /** Re-hash images whose record has a sha256 (catches changes that kept size and mtime). */
  verifyHash?: boolean;
  /** Called per entry in tree order (then `entries` is not collected). */
  onEntry?: (e: TodoEntry) => void | Promise<void>;
}

export interface TodoReport {
  operation: string;
  entries?: TodoEntry[];
  /** Per reason, plus `done` (images whose result is there, succeeded and is not stale). */
  counts: Record<TodoReason | 'done', number>;
  /** Images whose result exists but whose freshness cannot be told (no identity record). */
  identityUnknown: number;
  /** Images left to another record (in-root symlinks) or impossible to process (broken links). */
  skipped: { links: number; brokenLinks: number };
  problems: TodoProblem[];
  problemCount: number;
  /**
   * The scan's facts. Records whose images are all links into the root are not paired with their
   * targets' sidecars here (ScanOptions.inRootLinkRecords): their categories say what their own
   * folder holds.
   */
  scan: ScanSummary;
}

/**
 * The image files a record stands for in todo/stale: plain files and links leaving the root. A link
 * whose target no save pairs with (`unpairable`) is none of those: its save is refused, so it is a
 * problem, not a list entry nor a link left to a target no record lists.
 */
function ownImages(rec: ScanRecord, exts: ReadonlySet<string>): { own: ScanImage[]; links: number; broken: number; unpairable: { image: ScanImage; why: string }[] } {
  const own: ScanImage[] = [];
  const unpairable: { image: ScanImage; why: string }[] = [];
  let links = 0;
  let broken = 0;
  // (Files of ours beside the link itself: the record is judged by them, as a read takes them.)
  const besideLink = rec.sidecars.some((s) => s.side === 'local');
  for (const img of rec.images) {
    const why = img.isSymlink && !img.broken && !besideLink ? unpairableLink(img, exts) : null;
    if (why !== null) unpairable.push({ image: img, why });
    else if (img.broken) broken++;
    else if (img.isSymlink && !img.outsideRoot) links++;
    else own.push(img);
  }
  return { own, links, broken, unpairable };
}

/**
 * Why a symlinked image has no sidecar a save would write, or null: its target is not named like an
 * image (a content-addressed store: git-annex's `SHA256-s500--…`; a save refuses, as save.ts says),
 * or lies in a quarantine folder (a save never writes there).
 */
function unpairableLink(img: ScanImage, exts: ReadonlySet<string>): string | null {
  const target = img.target;
  if (target === undefined) return null;
  if (!isImageName(basename(target), exts)) return `its target ${target} is not named like an image (no extension, a hidden name, or a sidecar's name), so no sidecar pairs with it: a save is refused`;
  // In a quarantine (this library's or another's): a save never writes there, and no record lists it.
  if (inQuarantine(dirname(target))) return `its target ${target} is in a quarantine folder, where a save never writes: a save is refused`;
  return null;
}

/** The file whose identity counts: the link's target for a symlinked image. */
export function identityPathOf(img: ScanImage): string {
  return img.target ?? img.path;
}

function posixRel(root: string, p: string): string {
  const r = relative(root, p);
  return sep === '/' ? r : r.split(sep).join('/');
}

export async function todo(root: string, opts: TodoOptions): Promise<TodoReport> {
  if (typeof opts.operation !== 'string' || opts.operation.trim() === '') throw errors.usage('todo needs an operation (e.g. --operation yolov8)');
  const op = normalizeOperationName(opts.operation.trim());
  const { operation: _op, verifyHash, onEntry, ...scanOpts } = opts;
  // Images that are links into the root are listed under their targets: their records need no pairing.
  const session = scan(root, { ...scanOpts, inspect: { probe: true }, inRootLinkRecords: 'resolve' });
  const report: TodoReport = {
    operation: op,
    counts: { 'no-sidecar': 0, 'no-result': 0, failed: 0, stale: 0, done: 0 },
    identityUnknown: 0,
    skipped: { links: 0, brokenLinks: 0 },
    problems: [],
    problemCount: 0,
    scan: session.summary,
  };
  if (!onEntry) report.entries = [];
  const emit = async (e: TodoEntry) => {
    report.counts[e.reason]++;
    if (onEntry) await onEntry(e);
    else report.entries!.push(e);
  };
  const problems = new ListProblems();
  report.problems = problems.problems;
  const problem = (rel: string, category: string, message: string) => problems.add(rel, category, message);

  const exts = imageExtensionSet(scanOpts.imageExtensions);
  for await (const rec of session) {
    if (rec.images.length === 0) continue;
    const root = session.summary.root;
    const { own, links, broken, unpairable } = ownImages(rec, exts);
    report.skipped.links += links;
    report.skipped.brokenLinks += broken;
    for (const u of unpairable) problem(u.image.rel, 'unpairable', u.why);
    if (own.length === 0) continue;
    // Several images in one group (RAW+JPEG sharing IMG_1.json): each image's own sidecar is the
    // one a read and a save take (docs/PAIRING.md §3: a shared file is the image's its record
    // names), so each is decided by that rule, not by the group's first file.
    if (rec.images.length > 1 && rec.category === 'ambiguous') {
      for (const img of own) await decideImage(img, await ownSidecar(img.path, scanOpts, root));
      continue;
    }
    switch (rec.category) {
      case 'missing':
        for (const img of own) await emit({ path: img.path, rel: img.rel, reason: 'no-sidecar', sidecar: null });
        break;
      case 'ok': {
        const eff = rec.effective!;
        const sidecar = eff.side === 'local' ? eff.rel : posixRel(root, eff.path);
        for (const img of own) await decideImage(img, { sidecar, probe: eff.inspection.probe });
        break;
      }
      case 'broken-symlink':
        break; // counted above
      default: {
        // corrupt, unreadable, encrypted: the state cannot be told and a save would be refused.
        const why = rec.findings.find((f) => f.code === 'ambiguous' || f.code === 'encrypted' || f.code === 'corrupt' || f.code === 'unreadable')?.message ?? rec.category;
        for (const img of own) problem(img.rel, rec.category, why);
      }
    }
  }
  report.problemCount = problems.count;
  return report;

  /** One image's entry from its sidecar's probe (undefined: none; a problem: the reason it cannot be told). */
  async function decideImage(img: { path: string; rel: string }, own: { sidecar: string | null; probe?: SidecarProbe } | { problem: string; category: string }): Promise<void> {
    if ('problem' in own) return problem(img.rel, own.category, own.problem);
    if (own.sidecar === null) return emit({ path: img.path, rel: img.rel, reason: 'no-sidecar', sidecar: null });
    const { sidecar, probe } = own;
    const outcome = probe && Object.hasOwn(probe.outcomes, op) ? probe.outcomes[op] : undefined;
    if (outcome === undefined) return emit({ path: img.path, rel: img.rel, reason: 'no-result', sidecar });
    if (outcome === false) return emit({ path: img.path, rel: img.rel, reason: 'failed', sidecar });
    const check = checkImageIdentity(identityPathOf(img as ScanImage), probe!.image, { operation: op, verifyHash });
    if (check.state === 'stale') return emit({ path: img.path, rel: img.rel, reason: 'stale', sidecar, changes: check.reasons });
    report.counts.done++;
    if (check.state === 'unknown') report.identityUnknown++;
  }
}

/** An image of a group of several, by the read rule (ops/read.ts): its own sidecar and that file's probe. */
async function ownSidecar(image: string, opts: Options, root: string): Promise<{ sidecar: string | null; probe?: SidecarProbe } | { problem: string; category: string }> {
  try {
    const r = await readSidecarDetailed(image, opts);
    if (r.path === null) return { sidecar: null };
    // The shared file records none of the group's images: whose results these are cannot be told.
    const amb = r.findings.find((f) => f.code === 'ambiguous');
    if (amb) return { problem: amb.message, category: 'ambiguous' };
    return { sidecar: posixRel(root, r.path), probe: probeSidecar(r.data) };
  } catch (e) {
    if (!isSidecarError(e)) throw e;
    return { problem: e.message, category: e.code === 'CORRUPT' ? 'corrupt' : 'unreadable' };
  }
}

export interface StaleEntry {
  /** Image path (absolute). */
  path: string;
  rel: string;
  sidecar: string;
  /** What differs: 'size', 'mtime', 'sha256', or 'stale-operations' (results from an earlier version). */
  changes: string[];
  /** Operations whose results were computed on an earlier version of the image. */
  operations: string[];
  recorded: JsonObject | null;
  current: JsonObject | null;
}

export interface StaleOptions extends Options {
  verifyHash?: boolean;
  onEntry?: (e: StaleEntry) => void | Promise<void>;
}

export interface StaleReport {
  entries?: StaleEntry[];
  /** Sidecars of images by freshness: stale, current, unknown (no record or image unreadable). */
  counts: { stale: number; current: number; unknown: number };
  /** Images whose sidecar cannot be read (corrupt, unreadable, encrypted under a key not given): not judged (the first 1,000). */
  problems: ListProblem[];
  problemCount: number;
  scan: ScanSummary;
}

/**
 * The identity check of a record's sidecar against its image; null when it has none. `named`: the
 * image name the sidecar records (asked only of a record with several images). `of`: the image the
 * sidecar is taken for (a pair judged image by image, common.ts imageSidecars), else the one it records.
 */
export function checkRecordIdentity(rec: ScanRecord, image: ImageRecord | null, named: () => string | null, verifyHash?: boolean, of?: ScanImage): { img: ScanImage; check: IdentityCheck } | null {
  const img = of ?? recordImage(rec, named);
  if (!img) return null;
  return { img, check: checkImageIdentity(identityPathOf(img), image, { verifyHash }) };
}

/**
 * The image a record's sidecar is of: its only one not broken; of several (a RAW+JPEG pair whose
 * shared stem file holds the JPEG's results), the one the sidecar records, else the first. Compared
 * with the first, the JPEG's record was checked against the RAW's file.
 */
export function recordImage(rec: ScanRecord, named: () => string | null): ScanImage | undefined {
  const image = recordedImageOf(rec, named);
  return image?.broken === true ? undefined : image;
}

/** Sidecars whose image changed since they were saved (see image-identity.ts for the record). */
export async function staleSidecars(root: string, opts: StaleOptions = {}): Promise<StaleReport> {
  const { verifyHash, onEntry, ...scanOpts } = opts;
  const session = scan(root, { ...scanOpts, inspect: { probe: true } });
  const problems = new ListProblems();
  const report: StaleReport = { counts: { stale: 0, current: 0, unknown: 0 }, problems: problems.problems, problemCount: 0, scan: session.summary };
  if (!onEntry) report.entries = [];
  for await (const rec of session) {
    if (rec.images.length === 0) continue;
    // Each image by the sidecar its read takes (a RAW+JPEG pair's own files: common.ts imageSidecars),
    // else the record's sidecar by the image it records.
    const entries = await problems.judged(rec, scanOpts);
    if (entries === null) continue;
    for (const { image, sidecar: eff } of entries) {
      if (eff.inspection.shape !== 'sidecar') continue;
      const probe = eff.inspection.probe;
      const found = checkRecordIdentity(rec, probe?.image ?? null, () => probe?.imageName ?? null, verifyHash, image);
      if (!found) continue;
      const { img, check } = found;
      report.counts[check.state]++;
      if (check.state !== 'stale') continue;
      const rel = posixRel(session.summary.root, eff.path);
      const allOps = Object.keys(probe?.outcomes ?? {});
      const ops = check.reasons.includes('stale-operations') ? check.recorded!.staleOperations : allOps;
      const entry: StaleEntry = {
        path: img.path,
        rel: img.rel,
        sidecar: rel,
        changes: check.reasons,
        operations: ops,
        recorded: identityJson(check.recorded),
        current: identityJson(check.current),
      };
      if (onEntry) await onEntry(entry);
      else report.entries!.push(entry);
    }
  }
  report.problemCount = problems.count;
  return report;
}
