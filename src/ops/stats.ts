import { scan } from '../discovery/scan.js';
import { CATEGORIES, type Category, type Options } from '../types.js';
import { operationFilter, ownEffective, round, sortKeysDeep } from './common.js';

export interface StatsOptions extends Options {
  operationType?: string;
  /** Include the per-sidecar list (never by default: 10^6 entries). */
  list?: boolean;
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
  total_sidecars: number;
  coverage_percentage: number;
  operation_counts: Record<string, number>;
  avg_processing_times: Record<string, number>;
  success_rate_percentages: Record<string, number>;
  avg_data_sizes: Record<string, number>;
  filter_applied: string | null;
  images_with_sidecar: number;
  faces: { total: number; with_embedding: number; per_image_histogram: Record<string, number> };
  objects: { total: number; per_image_histogram: Record<string, number> };
  quality_grades: Record<string, number>;
  format_distribution: Record<string, number>;
  categories: Record<Category, number>;
  scan_complete: boolean;
  scan_problems: number;
  sidecars?: SidecarListEntry[];
}

const HIST_MAX = 10;
const bucket = (n: number) => (n >= HIST_MAX ? `${HIST_MAX}+` : String(n));

/** Aggregates only: memory does not grow with the number of files (unless `list`). */
export async function stats(root: string, opts: StatsOptions = {}): Promise<TreeStats> {
  // Under an operation filter a symlinked image counts only if its target's sidecar has the
  // operation, so those sidecars must be inspected for the link's record too.
  const session = scan(root, { ...opts, inspect: { summarize: true }, inspectLinkTargets: opts.operationType !== undefined });
  const filter = operationFilter(opts.operationType);
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
  const list: SidecarListEntry[] | undefined = opts.list ? [] : undefined;
  const add = (o: Record<string, number>, k: string, v = 1) => (o[k] = (o[k] ?? 0) + v);

  for await (const rec of session) {
    if (rec.images.length > 0 && rec.effective && (!filter || filter(rec.effective))) imagesWithSidecar += rec.images.length;
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
  const avg = (sumO: Record<string, number>, nO: Record<string, number>, scale = 1) =>
    Object.fromEntries(Object.keys(nO).map((k) => [k, round((sumO[k] ?? 0) / nO[k] * scale, 6)]));
  const result: TreeStats = {
    directory: s.root,
    total_images: s.images,
    symlink_count: s.imageSymlinks,
    broken_symlinks: s.brokenSymlinks,
    total_sidecars: sidecarsCounted,
    coverage_percentage: s.images === 0 ? 0 : round(Math.min(100, (imagesWithSidecar / s.images) * 100), 2),
    operation_counts: opCounts,
    avg_processing_times: avg(timeSum, timeN),
    success_rate_percentages: avg(succ, succN, 100),
    avg_data_sizes: avg(sizeSum, opCounts),
    filter_applied: opts.operationType ?? null,
    images_with_sidecar: imagesWithSidecar,
    faces: { total: faces, with_embedding: withEmbedding, per_image_histogram: facesHist },
    objects: { total: objects, per_image_histogram: objectsHist },
    quality_grades: grades,
    format_distribution: formats,
    categories: Object.fromEntries(CATEGORIES.map((c) => [c, s.counts[c]])) as Record<Category, number>,
    scan_complete: s.complete,
    scan_problems: s.problemCount,
  };
  if (list) result.sidecars = list;
  return sortKeysDeep(result);
}
