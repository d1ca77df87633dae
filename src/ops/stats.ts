import { errors } from '../errors.js';
import { isKnownOperationKey } from '../analysis/operations.js';
import { scan, sidecarFilesOf } from '../discovery/scan.js';
import { CATEGORIES, type Category, type Options } from '../types.js';
import { ownEffective, round, sidecarFilter, sortKeysDeep } from './common.js';
import { checkRecordIdentity } from './todo.js';

export interface StatsOptions extends Options {
  operationType?: string;
  /** Include the per-sidecar list (never by default: 10^6 entries). */
  list?: boolean;
  /** Add `folder_coverage` with at most this many folder rows (the rest summed as `others`). */
  folders?: number;
  /** Only sidecars matching this filter expression (docs/QUERY.md). */
  where?: string;
}

/** Coverage of one folder's own images (not its subfolders'). */
export interface FolderCoverage {
  dir: string;
  images: number;
  images_with_sidecar: number;
  coverage_percentage: number;
}

/**
 * Per-folder coverage, bounded: the folders with the most images lacking a sidecar (then the
 * biggest, then by path), in path order; every other folder summed in `others`.
 */
export interface FolderCoverageTable {
  total_folders: number;
  folders: FolderCoverage[];
  others: { folders: number; images: number; images_with_sidecar: number };
}

export interface SidecarListEntry {
  path: string;
  image: string | null;
  format: string | null;
  operations: string[];
  faces: number;
  objects: number;
  size: number;
}

/**
 * Deterministic statistics: the same tree gives byte-identical JSON (sorted keys, no "now").
 * The earlier tool's keys come first in meaning; everything else is added beside them.
 */
export interface TreeStats {
  directory: string;
  total_images: number;
  symlink_count: number;
  broken_symlinks: number;
  /** Effective sidecars the aggregates are made of: one per record that has a readable one (the earlier tool's key). */
  total_sidecars: number;
  /** Sidecar files (README "Categories", the count format-stats, cleanup and sample report; with --operation-type: those holding it). */
  sidecar_files: number;
  coverage_percentage: number;
  operation_counts: Record<string, number>;
  avg_processing_times: Record<string, number>;
  success_rate_percentages: Record<string, number>;
  avg_data_sizes: Record<string, number>;
  filter_applied: string | null;
  /** The --where expression, when one was given. */
  where?: string;
  images_with_sidecar: number;
  faces: { total: number; with_embedding: number; per_image_histogram: Record<string, number> };
  objects: { total: number; per_image_histogram: Record<string, number> };
  quality_grades: Record<string, number>;
  format_distribution: Record<string, number>;
  categories: Record<Category, number>;
  scan_complete: boolean;
  scan_problems: number;
  /** Counted sidecars of images by freshness (sidecar_info.image against the image now; docs/QUERY.md). */
  image_identity?: { current: number; stale: number; unknown: number };
  sidecars?: SidecarListEntry[];
  folder_coverage?: FolderCoverageTable;
}

const HIST_MAX = 10;
const bucket = (n: number) => (n >= HIST_MAX ? `${HIST_MAX}+` : String(n));

/** Aggregates only: memory does not grow with the number of files (unless `list`). */
export async function stats(root: string, opts: StatsOptions = {}): Promise<TreeStats> {
  // Under an operation filter a symlinked image counts only if its target's sidecar has the
  // operation, so those sidecars must be inspected for the link's record too.
  const filter = sidecarFilter(opts.operationType, opts.where); // a bad expression fails before the scan
  const session = scan(root, { ...opts, inspect: { summarize: true }, inspectLinkTargets: filter !== null });
  const opCounts: Record<string, number> = {};
  const timeSum: Record<string, number> = {};
  const timeN: Record<string, number> = {};
  const succ: Record<string, number> = {};
  const succN: Record<string, number> = {};
  const sizeSum: Record<string, number> = {};
  const grades: Record<string, number> = {};
  const formats: Record<string, number> = {};
  const facesHist: Record<string, number> = {};
  const objectsHist: Record<string, number> = {};
  let faces = 0;
  let withEmbedding = 0;
  let objects = 0;
  let sidecarsCounted = 0;
  let imagesWithSidecar = 0;
  const identity = { current: 0, stale: 0, unknown: 0 };
  const list: SidecarListEntry[] | undefined = opts.list ? [] : undefined;
  const add = (o: Record<string, number>, k: string, v = 1) => (o[k] = (o[k] ?? 0) + v);

  const folders = opts.folders !== undefined ? new FolderTable(opts.folders) : undefined;

  let sidecarFiles = 0;
  for await (const rec of session) {
    // sidecar_files: the one definition of a sidecar file (README "Categories"), as every command counts it.
    for (const sc of sidecarFilesOf(rec)) if (!filter || filter(sc)) sidecarFiles++;
    const covered = rec.images.length > 0 && rec.effective !== null && (!filter || filter(rec.effective));
    if (covered) imagesWithSidecar += rec.images.length;
    folders?.add(rec.dir, rec.images.length, covered ? rec.images.length : 0);
    const eff = ownEffective(rec);
    if (!eff || (filter && !filter(eff))) continue;
    const sum = eff.inspection.summary!;
    sidecarsCounted++;
    add(formats, eff.inspection.format ?? 'unknown');
    for (const op of sum.operations) {
      add(opCounts, op);
      add(sizeSum, op, sum.dataSizes[op] ?? 0);
      const t = sum.processingTimes[op];
      if (typeof t === 'number' && Number.isFinite(t)) {
        add(timeSum, op, t);
        add(timeN, op);
      }
      const ok = sum.success[op];
      if (typeof ok === 'boolean') {
        add(succN, op);
        if (ok) add(succ, op);
      }
    }
    faces += sum.faces;
    withEmbedding += sum.embeddings;
    objects += sum.objects;
    add(facesHist, bucket(sum.faces));
    add(objectsHist, bucket(sum.objects));
    if (sum.qualityGrade) add(grades, sum.qualityGrade);
    if (rec.images.length > 0) identity[checkRecordIdentity(rec, sum.image)?.check.state ?? 'unknown']++;
    list?.push({
      path: eff.rel,
      image: rec.images[0]?.rel ?? null,
      format: eff.inspection.format,
      operations: sum.operations,
      faces: sum.faces,
      objects: sum.objects,
      size: eff.inspection.size,
    });
  }
  const s = session.summary;
  if (filter && sidecarsCounted === 0 && !isKnownOperationKey(opts.operationType!)) {
    // A typo (--operation-type face_detecton) would otherwise print an all-zero report.
    throw errors.usage(`unknown operation "${opts.operationType}": not a known operation, and no sidecar in ${s.root} holds it`);
  }
  const avg = (sumO: Record<string, number>, nO: Record<string, number>, scale = 1) =>
    Object.fromEntries(Object.keys(nO).map((k) => [k, round((sumO[k] ?? 0) / nO[k] * scale, 6)]));
  const result: TreeStats = {
    directory: s.root,
    total_images: s.images,
    symlink_count: s.imageSymlinks,
    broken_symlinks: s.brokenSymlinks,
    total_sidecars: sidecarsCounted,
    sidecar_files: sidecarFiles,
    coverage_percentage: s.images === 0 ? 0 : round(Math.min(100, (imagesWithSidecar / s.images) * 100), 2),
    operation_counts: opCounts,
    avg_processing_times: avg(timeSum, timeN),
    success_rate_percentages: avg(succ, succN, 100),
    avg_data_sizes: avg(sizeSum, opCounts),
    filter_applied: opts.operationType ?? null,
    ...(opts.where !== undefined ? { where: opts.where } : {}),
    images_with_sidecar: imagesWithSidecar,
    faces: { total: faces, with_embedding: withEmbedding, per_image_histogram: facesHist },
    objects: { total: objects, per_image_histogram: objectsHist },
    quality_grades: grades,
    format_distribution: formats,
    categories: Object.fromEntries(CATEGORIES.map((c) => [c, s.counts[c]])) as Record<Category, number>,
    scan_complete: s.complete,
    scan_problems: s.problemCount,
    image_identity: identity,
  };
  if (list) result.sidecars = list;
  if (folders) result.folder_coverage = folders.finish();
  return sortKeysDeep(result);
}

const coveragePct = (covered: number, images: number) => (images === 0 ? 0 : round(Math.min(100, (covered / images) * 100), 2));

/**
 * Bounded per-folder counts. Records arrive in tree order, so a folder's records are contiguous:
 * one open folder, flushed into a kept set that is trimmed to `limit` rows whenever it doubles.
 */
class FolderTable {
  private current: { dir: string; images: number; covered: number } | null = null;
  private kept: { dir: string; images: number; covered: number }[] = [];
  private readonly others = { folders: 0, images: 0, images_with_sidecar: 0 };
  private total = 0;

  constructor(private readonly limit: number) {}

  add(dir: string, images: number, covered: number): void {
    if (images === 0) return;
    if (this.current?.dir !== dir) {
      this.flush();
      this.current = { dir, images: 0, covered: 0 };
    }
    this.current.images += images;
    this.current.covered += covered;
  }

  finish(): FolderCoverageTable {
    this.flush();
    this.trim();
    const folders = this.kept
      .sort((a, b) => (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0))
      .map((f) => ({ dir: f.dir, images: f.images, images_with_sidecar: f.covered, coverage_percentage: coveragePct(f.covered, f.images) }));
    return { total_folders: this.total, folders, others: this.others };
  }

  private flush(): void {
    if (!this.current) return;
    this.total++;
    this.kept.push(this.current);
    this.current = null;
    if (this.kept.length >= 2 * Math.max(1, this.limit)) this.trim();
  }

  /** Keep the folders with the most uncovered images (then most images, then path order). */
  private trim(): void {
    if (this.kept.length <= this.limit) return;
    this.kept.sort((a, b) => b.images - b.covered - (a.images - a.covered) || b.images - a.images || (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0));
    for (const f of this.kept.splice(Math.max(0, this.limit))) {
      this.others.folders++;
      this.others.images += f.images;
      this.others.images_with_sidecar += f.covered;
    }
  }
}
