import { errors } from '../errors.js';
import { isKnownOperationKey } from '../analysis/operations.js';
import { scan } from './scan.js';
import { isLeftBehind, isMovableOrphan, leftBehindFilesOf, sidecarFilesOf, type ScanImage, type ScanRecord, type ScanSidecar, type ScanSummary } from '../scan/records.js';
import { ExactSum } from './exact-sum.js';
import { CATEGORIES, type Category, type Options } from '../types.js';
import { imagesWithOwnSidecars, ownEffective, ownGroupTargetOf, readsPerImage, recordedImageOf, round, sidecarFilter, sortKeysDeep, type ImageSidecars } from './common.js';
import { checkRecordIdentity } from './todo.js';
import { readSidecarRecord } from '../analysis/image-identity.js';
import { addOwn, getOwn, setOwn } from '../analysis/own-record.js';

export interface StatsOptions extends Options {
  operationType?: string;
  /** Include the per-sidecar list (never by default: 10^6 entries). */
  list?: boolean;
  /** Add `folder_coverage` with at most this many folder rows (the rest summed as `others`). */
  folders?: number;
  /** Only sidecars matching this filter expression (docs/QUERY.md). */
  where?: string;
  /** Called with each orphan the scan meets (the CLI asks relink about them without a second scan). */
  onOrphan?: (o: { path: string; rel: string; format: string | null; size: number; leftBehind?: true }) => void;
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
  /**
   * Sidecars the aggregates are made of (the earlier tool's key): one per image record that has a
   * readable one; of a pair judged image by image, one per image that reads a file of its own
   * (common.ts imageSidecars). Records without an image (orphans, unknown-image) are in `categories` and
   * `sidecar_files` only: their operations, faces and flags feed no statistic.
   */
  total_sidecars: number;
  /** Sidecar files (README "Categories", the count format-stats, cleanup and sample report; with --operation-type: those holding it). */
  sidecar_files: number;
  /** Of sidecar_files, the older copies kept beside an image's sidecar (the JSON a migration to .bin left; docs/PAIRING.md §4). */
  kept_copies: number;
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

/** The mergeable counts behind TreeStats (a shard output's summary; docs/SCALE.md). */
export interface StatsRaw {
  root: string;
  opCounts: Record<string, number>;
  /** Exact sums (ExactSum partials): the average does not depend on the order of the sidecars. */
  timeSum: Record<string, number[]>;
  timeN: Record<string, number>;
  succ: Record<string, number>;
  succN: Record<string, number>;
  sizeSum: Record<string, number>;
  grades: Record<string, number>;
  formats: Record<string, number>;
  facesHist: Record<string, number>;
  objectsHist: Record<string, number>;
  faces: number;
  withEmbedding: number;
  objects: number;
  sidecarsCounted: number;
  imagesWithSidecar: number;
  sidecarFiles: number;
  /** Older copies kept beside an image's sidecar (docs/PAIRING.md §4); absent in shards written before they were counted. */
  keptCopies?: number;
  identity: { current: number; stale: number; unknown: number };
  images: number;
  imageSymlinks: number;
  brokenSymlinks: number;
  counts: Record<Category, number>;
  complete: boolean;
  problemCount: number;
}

/**
 * Images of a record judged image by image that have a sidecar (passing the filter): each entry's,
 * a link to an entry's image beside it (common.ts ownGroupTargetOf), and a link whose read takes its
 * target's file elsewhere in the root (`viaTarget`).
 */
function coveredImages(rec: ScanRecord, taken: ImageSidecars, filter: ((s: ScanSidecar) => boolean) | null): number {
  const passes = (e: { sidecar: ScanSidecar }) => !filter || filter(e.sidecar);
  let n = 0;
  for (const img of rec.images) {
    const via = ownGroupTargetOf(rec, img) ?? img;
    if (taken.entries.some((e) => e.image === via && passes(e)) || taken.viaTarget?.some((e) => e.image === img && passes(e))) n++;
  }
  return n;
}

/**
 * Images a record's effective file covers (passing the filter): every image; or, when that file is
 * beside a link's target inside the root (its own record's), the links only: the group's own images
 * read their own, unreadable, files.
 */
function effectiveCoverage(rec: ScanRecord, filter: ((s: ScanSidecar) => boolean) | null): number {
  if (rec.images.length === 0 || rec.effective === null || (filter && !filter(rec.effective))) return 0;
  return ownEffective(rec) !== null ? rec.images.length : rec.images.filter((i) => i.isSymlink).length;
}

// Keys are operation names, grades, formats from files: own keys only (analysis/own-record.ts).
const add = addOwn;

/**
 * A processing time beyond this (seconds, ~3·10^7 years) is not a duration: not averaged, as a
 * non-number is not. Two of 1.7e308 overflowed the exact sum (the average printed null, and shard
 * outputs wrote null partials, merged as 0); 10^7 times of at most this sum to 10^22.
 */
const MAX_PROCESSING_TIME_S = 1e15;

/** Counts of one scan, record by record; `raw()` is what a shard writes and `merge` adds up. */
class StatsAccumulator {
  private readonly timeSums = new Map<string, ExactSum>();
  readonly r: StatsRaw;
  readonly list: SidecarListEntry[] | undefined;
  readonly folders: FolderTable | undefined;
  /** How a sidecar's record is read here (the image a pair's shared file records). */
  private readonly reading: { keyring?: Options['keyring']; maxFileSize?: number; maxDepth?: number };

  constructor(
    root: string,
    private readonly filter: ((s: ScanSidecar) => boolean) | null,
    opts: StatsOptions,
  ) {
    this.r = {
      root, opCounts: {}, timeSum: {}, timeN: {}, succ: {}, succN: {}, sizeSum: {}, grades: {}, formats: {}, facesHist: {}, objectsHist: {},
      faces: 0, withEmbedding: 0, objects: 0, sidecarsCounted: 0, imagesWithSidecar: 0, sidecarFiles: 0, keptCopies: 0,
      identity: { current: 0, stale: 0, unknown: 0 },
      images: 0, imageSymlinks: 0, brokenSymlinks: 0, counts: Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>, complete: true, problemCount: 0,
    };
    this.list = opts.list ? [] : undefined;
    this.folders = opts.folders !== undefined ? new FolderTable(opts.folders) : undefined;
    this.onOrphan = opts.onOrphan;
    this.reading = { keyring: opts.keyring, maxFileSize: opts.maxFileSize, maxDepth: opts.maxDepth };
  }

  private readonly onOrphan: StatsOptions['onOrphan'];

  /** A record's counts; `perImage`: its images each with the sidecar their read takes (common.ts imageSidecars), when they may differ. */
  add(rec: ScanRecord, perImage: ImageSidecars | null = null): void {
    const r = this.r;
    const filter = this.filter;
    // sidecar_files: the one definition of a sidecar file (README "Categories"), as every command counts it.
    for (const sc of sidecarFilesOf(rec)) {
      if (filter && !filter(sc)) continue;
      r.sidecarFiles++;
      if (rec.category === 'ok' && rec.effective !== null && sc !== rec.effective && !isLeftBehind(rec, sc)) r.keptCopies = (r.keptCopies ?? 0) + 1;
    }
    const images = rec.images.length;
    // A RAW+JPEG pair whose images each read a sidecar of their own: each image by its own.
    const own = perImage?.perImage === true ? perImage.entries : null;
    const covered = own !== null ? coveredImages(rec, perImage!, filter) : effectiveCoverage(rec, filter);
    r.imagesWithSidecar += covered;
    this.folders?.add(rec.dir, images, covered);
    // A stem file another image left behind is that image's orphan (the relink note counts it, as cleanup does).
    if (this.onOrphan) for (const sc of leftBehindFilesOf(rec)) this.onOrphan({ path: sc.path, rel: sc.rel, format: sc.inspection.format, size: sc.inspection.size, leftBehind: true });
    // Statistics are per image: a record without an image (an orphan, an unknown image type's
    // sidecar, lone twins) gives its files to sidecar_files and its category, nothing else.
    if (images === 0) {
      const sc = rec.sidecars[0];
      if (this.onOrphan && isMovableOrphan(rec.category, sc)) this.onOrphan({ path: sc.path, rel: sc.rel, format: sc.inspection.format, size: sc.inspection.size });
      return;
    }
    if (own !== null) {
      for (const { image, sidecar } of own) if (!filter || filter(sidecar)) this.count(rec, sidecar, image);
      return;
    }
    const eff = ownEffective(rec);
    if (!eff || (filter && !filter(eff))) return;
    this.count(rec, eff);
  }

  /** One sidecar's results, of the image given or else of the image it records among the record's. */
  private count(rec: ScanRecord, eff: ScanSidecar, image?: ScanImage): void {
    const r = this.r;
    const sum = eff.inspection.summary!;
    r.sidecarsCounted++;
    add(r.formats, eff.inspection.format ?? 'unknown');
    for (const op of sum.operations) {
      add(r.opCounts, op);
      add(r.sizeSum, op, getOwn(sum.dataSizes, op) ?? 0);
      const t = getOwn(sum.processingTimes, op);
      if (typeof t === 'number' && Math.abs(t) <= MAX_PROCESSING_TIME_S) {
        let ts = this.timeSums.get(op);
        if (!ts) this.timeSums.set(op, (ts = new ExactSum()));
        ts.add(t);
        add(r.timeN, op);
      }
      const ok = getOwn(sum.success, op);
      if (typeof ok === 'boolean') {
        add(r.succN, op);
        if (ok) add(r.succ, op);
      }
    }
    r.faces += sum.faces;
    r.withEmbedding += sum.embeddings;
    r.objects += sum.objects;
    add(r.facesHist, bucket(sum.faces));
    add(r.objectsHist, bucket(sum.objects));
    if (sum.qualityGrade) add(r.grades, sum.qualityGrade);
    // Freshness against the image.
    // The image the sidecar records, of a pair sharing it: read here, for such records only.
    let recorded: string | null | undefined;
    const named = () => (recorded ??= readSidecarRecord(eff.path, this.reading.keyring, this.reading)?.name ?? null);
    r.identity[checkRecordIdentity(rec, sum.image, named, undefined, image)?.check.state ?? 'unknown']++;
    this.list?.push({ path: eff.rel, image: (image ?? recordedImageOf(rec, named))?.rel ?? null, format: eff.inspection.format, operations: sum.operations, faces: sum.faces, objects: sum.objects, size: eff.inspection.size });
  }

  /** Close with the scan's summary. */
  raw(s: ScanSummary): StatsRaw {
    const r = this.r;
    for (const [op, ts] of this.timeSums) setOwn(r.timeSum, op, ts.toJSON());
    Object.assign(r, { images: s.images, imageSymlinks: s.imageSymlinks, brokenSymlinks: s.brokenSymlinks, complete: s.complete, problemCount: s.problemCount });
    r.counts = Object.fromEntries(CATEGORIES.map((c) => [c, s.counts[c]])) as Record<Category, number>;
    return r;
  }
}

function scanStats(root: string, opts: StatsOptions) {
  // Under an operation filter a symlinked image counts only if its target's sidecar has the
  // operation, so those sidecars must be inspected for the link's record too.
  const filter = sidecarFilter(opts.operationType, opts.where); // a bad expression fails before the scan
  const session = scan(root, { ...opts, inspect: { summarize: true }, inspectLinkTargets: filter !== null });
  return { session, acc: new StatsAccumulator(session.summary.root, filter, opts) };
}

/** Aggregates only: memory does not grow with the number of files (unless `list`). */
export async function stats(root: string, opts: StatsOptions = {}): Promise<TreeStats> {
  const { session, acc } = scanStats(root, opts);
  for await (const batch of session.batches()) for (const rec of batch) acc.add(rec, readsPerImage(rec) ? await imagesWithOwnSidecars(rec, opts) : null);
  return treeStatsOf(acc, session.summary, opts);
}

/** The report of one scan's counts. */
function treeStatsOf(acc: StatsAccumulator, summary: ScanSummary, opts: StatsOptions): TreeStats {
  const result = finishStats(acc.raw(summary), opts);
  if (acc.list) result.sidecars = acc.list;
  if (acc.folders) result.folder_coverage = acc.folders.finish();
  return sortKeysDeep(result);
}

/** One shard's counts (`opts.shard`): what `mergeStats` adds up. No list, no folder table. */
export async function statsRaw(root: string, opts: StatsOptions = {}): Promise<StatsRaw> {
  if (opts.list || opts.folders !== undefined) throw errors.usage('stats of a shard cannot list sidecars or folders (--list): run stats --list unsharded');
  const { session, acc } = scanStats(root, opts);
  for await (const batch of session.batches()) for (const rec of batch) acc.add(rec, readsPerImage(rec) ? await imagesWithOwnSidecars(rec, opts) : null);
  return acc.raw(session.summary);
}

/** Add up shard counts (all of one root and options). */
export function mergeStatsRaw(raws: readonly StatsRaw[]): StatsRaw {
  const sumInto = (a: Record<string, number>, b: Record<string, number>) => {
    for (const [k, v] of Object.entries(b)) add(a, k, v);
  };
  const out: StatsRaw = JSON.parse(JSON.stringify(raws[0])) as StatsRaw;
  const times = new Map<string, ExactSum>(Object.entries(out.timeSum).map(([k, v]) => [k, new ExactSum(v)]));
  for (const r of raws.slice(1)) {
    for (const key of ['opCounts', 'timeN', 'succ', 'succN', 'sizeSum', 'grades', 'formats', 'facesHist', 'objectsHist', 'counts'] as const) sumInto(out[key], r[key]);
    for (const key of ['faces', 'withEmbedding', 'objects', 'sidecarsCounted', 'imagesWithSidecar', 'sidecarFiles', 'images', 'imageSymlinks', 'brokenSymlinks', 'problemCount'] as const) out[key] += r[key];
    for (const k of ['current', 'stale', 'unknown'] as const) out.identity[k] += r.identity[k];
    out.keptCopies = (out.keptCopies ?? 0) + (r.keptCopies ?? 0);
    out.complete &&= r.complete;
    for (const [op, partials] of Object.entries(r.timeSum)) {
      let ts = times.get(op);
      if (!ts) times.set(op, (ts = new ExactSum()));
      ts.merge(partials);
    }
  }
  for (const [op, ts] of times) setOwn(out.timeSum, op, ts.toJSON());
  return out;
}

/** The report of (merged) counts: the same function for a whole tree and for merged shards. */
export function finishStats(r: StatsRaw, opts: Pick<StatsOptions, 'operationType' | 'where'>): TreeStats {
  // A typo (--operation-type face_detecton) would otherwise print an all-zero report. (A --where
  // alone that matches nothing is such a report: there is no operation name to check, and asking
  // isKnownOperationKey of none threw a TypeError.)
  if (opts.operationType && r.sidecarsCounted === 0 && !isKnownOperationKey(opts.operationType)) {
    throw errors.usage(`unknown operation "${opts.operationType}": not a known operation, and no sidecar in ${r.root} holds it`);
  }
  const avg = (sumO: Record<string, number>, nO: Record<string, number>, scale = 1) =>
    Object.fromEntries(Object.keys(nO).map((k) => [k, round((getOwn(sumO, k) ?? 0) / nO[k] * scale, 6)]));
  const timeSum = Object.fromEntries(Object.entries(r.timeSum).map(([k, v]) => [k, new ExactSum(v).value()]));
  const result: TreeStats = {
    directory: r.root,
    total_images: r.images,
    symlink_count: r.imageSymlinks,
    broken_symlinks: r.brokenSymlinks,
    total_sidecars: r.sidecarsCounted,
    sidecar_files: r.sidecarFiles,
    kept_copies: r.keptCopies ?? 0,
    coverage_percentage: r.images === 0 ? 0 : round(Math.min(100, (r.imagesWithSidecar / r.images) * 100), 2),
    operation_counts: r.opCounts,
    avg_processing_times: avg(timeSum, r.timeN),
    success_rate_percentages: avg(r.succ, r.succN, 100),
    avg_data_sizes: avg(r.sizeSum, r.opCounts),
    filter_applied: opts.operationType ?? null,
    ...(opts.where !== undefined ? { where: opts.where } : {}),
    images_with_sidecar: r.imagesWithSidecar,
    faces: { total: r.faces, with_embedding: r.withEmbedding, per_image_histogram: r.facesHist },
    objects: { total: r.objects, per_image_histogram: r.objectsHist },
    quality_grades: r.grades,
    format_distribution: r.formats,
    categories: r.counts,
    scan_complete: r.complete,
    scan_problems: r.problemCount,
    image_identity: r.identity,
  };
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
