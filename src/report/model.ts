/**
 * What the HTML report shows, built from the library's own aggregates (`stats`, `formatStats`,
 * `validate`) and nothing else. Every list is bounded here — rows, strings, problems per file —
 * so the page stays small (≤ 2 MB) whatever the library holds: 10^6 images, 10^5 distinct
 * operation names, 4 KiB paths.
 */
import { sep } from 'node:path';
import type { ScanProblem } from '../scan/records.js';
import type { FormatStats } from '../ops/format-stats.js';
import type { FolderCoverageTable, TreeStats } from '../ops/stats.js';
import type { ValidationResult } from '../ops/validate.js';
import { CATEGORIES, type Category } from '../types.js';
import type { Problem } from '../model/inspection.js';

export interface ReportLimits {
  /** Folder rows in the coverage table (the rest summed as "others"). */
  folders: number;
  /** Invalid files listed (the rest counted). */
  invalidFiles: number;
  /** Problems listed per invalid file. */
  problemsPerFile: number;
  /** Rows of the open-ended charts (operations, quality grades, extensions). */
  chartRows: number;
  /** Scan problems (unreadable paths) listed. */
  scanProblems: number;
  /** Longest label or message kept, in UTF-16 code units (longer ones are cut in the middle). */
  text: number;
}

export const DEFAULT_LIMITS: ReportLimits = { folders: 200, invalidFiles: 100, problemsPerFile: 3, chartRows: 40, scanProblems: 20, text: 240 };

/** The page's size limit (the issue: at most 2 MB, whatever the library). */
export const MAX_REPORT_BYTES = 2_000_000;

/** When, where and with what the report was made. */
export interface ReportMeta {
  generatedAt: string;
  host: string;
  directory: string;
  version: string;
  node: string;
  platform: string;
  engine: string;
  durationMs: number;
  operationType: string | null;
  schema: string | null;
}

/** What `validate` found, reduced as it streams: counts plus the first invalid files. */
export interface ValidationDigest {
  totalFiles: number;
  validFiles: number;
  invalidFiles: number;
  /** The first invalid results in tree order (at most the invalid-file limit are kept). */
  firstInvalid: ValidationResult[];
  scanProblems: ScanProblem[];
  scanProblemCount: number;
}

export interface ReportInputs {
  stats: TreeStats;
  formats: FormatStats;
  validation: ValidationDigest;
  meta: ReportMeta;
}

export interface Row {
  label: string;
  value: number;
}

/** A chart's data: rows in display order, plus what did not fit summed in one row. */
export interface Series {
  id: string;
  title: string;
  /** What one unit is ("images", "files", "sidecars"). */
  unit: string;
  rows: Row[];
  others: { keys: number; value: number } | null;
  note?: string;
}

export interface OperationRow {
  operation: string;
  images: number;
  avgProcessingTime: number | null;
  successRate: number | null;
  avgDataSize: number | null;
}

export interface InvalidFile {
  path: string;
  category: string;
  format: string | null;
  error: string | null;
  problems: Problem[];
  moreProblems: number;
}

export interface ReportModel {
  meta: ReportMeta;
  overview: {
    images: number;
    sidecars: number;
    imagesWithSidecar: number;
    coverage: number;
    symlinks: number;
    brokenSymlinks: number;
    faces: number;
    facesWithEmbedding: number;
    objects: number;
    sidecarFiles: number;
    invalidFiles: number;
    scanComplete: boolean;
    scanProblems: number;
  };
  folders: FolderCoverageTable | null;
  operations: { rows: OperationRow[]; others: { keys: number; value: number } | null };
  charts: {
    operations: Series;
    faces: Series;
    objects: Series;
    grades: Series;
    categories: Series;
    formats: Series;
    extensions: Series;
    effectiveFormats: Series;
    /** Sidecars by freshness against their image, when `stats` reports it (`image_identity`). */
    freshness: Series | null;
  };
  invalid: { total: number; checked: number; valid: number; shown: InvalidFile[]; more: number };
  scanProblems: { total: number; shown: ScanProblem[] };
  limits: ReportLimits;
  /** The limits were lowered to keep the page within its byte budget. */
  shrunk: boolean;
}

/** Cut a string to `max` code units, keeping both ends (paths differ at their ends). */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  const keep = Math.max(2, max - 1);
  const head = Math.ceil(keep / 2);
  // Never split a surrogate pair at either cut.
  let a = head;
  if (a > 0 && isHighSurrogate(s.charCodeAt(a - 1))) a--;
  let b = s.length - (keep - head);
  if (b < s.length && isLowSurrogate(s.charCodeAt(b))) b++;
  return `${s.slice(0, a)}…${s.slice(b)}`;
}
const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/** A path under the report's directory without the directory (the page names it once). */
function relativeTo(dir: string, p: string): string {
  const base = dir.endsWith(sep) ? dir : dir + sep;
  return p.startsWith(base) ? p.slice(base.length) : p;
}

const byValueThenLabel = (a: Row, b: Row) => b.value - a.value || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0);

/** The `limit` largest entries (then by key), the rest summed. */
export function topRows(record: Record<string, number>, limit: number, textMax: number): { rows: Row[]; others: Series['others'] } {
  const all = Object.entries(record).map(([label, value]) => ({ label, value }));
  all.sort(byValueThenLabel);
  const kept = all.slice(0, limit).map((r) => ({ label: clip(r.label, textMax), value: r.value }));
  const rest = all.slice(limit);
  return { rows: kept, others: rest.length === 0 ? null : { keys: rest.length, value: rest.reduce((n, r) => n + r.value, 0) } };
}

const BUCKETS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10+'];

/** Histogram buckets of `stats` ('0' … '9', '10+'), every one shown in order; any other key summed. */
export function histogramRows(hist: Record<string, number>): { rows: Row[]; others: Series['others'] } {
  const rows = BUCKETS.map((label) => ({ label, value: hist[label] ?? 0 }));
  const extra = Object.keys(hist).filter((k) => !BUCKETS.includes(k));
  return { rows, others: extra.length === 0 ? null : { keys: extra.length, value: extra.reduce((n, k) => n + hist[k], 0) } };
}

/** `stats.image_identity` (current / stale / unknown) when this version of `stats` has it. */
function freshnessSeries(s: TreeStats): Series | null {
  const identity = (s as TreeStats & { image_identity?: Record<string, number> }).image_identity;
  if (!identity || typeof identity !== 'object') return null;
  const known = ['current', 'stale', 'unknown'];
  const keys = [...known, ...Object.keys(identity).filter((k) => !known.includes(k)).sort()].slice(0, 10);
  return {
    id: 'freshness',
    title: 'Sidecars by freshness',
    unit: 'sidecars',
    rows: keys.map((label) => ({ label, value: typeof identity[label] === 'number' ? identity[label] : 0 })),
    others: null,
    note: 'Stale: the image changed after its sidecar was written. Unknown: the sidecar does not record its image.',
  };
}

/** Earlier tool's content-format names, in a fixed order. */
const FORMAT_ORDER = ['Json', 'Binary', 'Rkyv', 'Legacy', 'Encrypted', 'Corrupt', 'Unreadable'];

export function buildReportModel(inputs: ReportInputs, limits: ReportLimits = DEFAULT_LIMITS): ReportModel {
  const { stats: s, formats: f, validation: v } = inputs;
  const T = limits.text;
  const meta = { ...inputs.meta, directory: clip(inputs.meta.directory, T * 4), host: clip(inputs.meta.host, T), schema: inputs.meta.schema === null ? null : clip(inputs.meta.schema, T) };

  const ops = topRows(s.operation_counts, limits.chartRows, T);
  const opKeys = Object.entries(s.operation_counts)
    .map(([label, value]) => ({ label, value }))
    .sort(byValueThenLabel)
    .slice(0, limits.chartRows);
  const num = (o: Record<string, number>, k: string) => (typeof o[k] === 'number' ? o[k] : null);
  const operationRows: OperationRow[] = opKeys.map(({ label }) => ({
    operation: clip(label, T),
    images: s.operation_counts[label],
    avgProcessingTime: num(s.avg_processing_times, label),
    successRate: num(s.success_rate_percentages, label),
    avgDataSize: num(s.avg_data_sizes, label),
  }));

  const grades = Object.entries(s.quality_grades)
    .map(([label, value]) => ({ label, value }))
    .sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  const gradeRows = grades.length <= limits.chartRows ? { rows: grades.map((r) => ({ ...r, label: clip(r.label, T) })), others: null } : topRows(s.quality_grades, limits.chartRows, T);

  const cats = CATEGORIES.map((c: Category) => ({ label: c, value: s.categories[c] ?? 0 }));
  // Known names in their fixed order, then any name a newer format-stats adds.
  const dist = f.format_distribution as Record<string, number>;
  const fmtKeys = [...FORMAT_ORDER, ...Object.keys(dist).filter((k) => !FORMAT_ORDER.includes(k)).sort()].slice(0, limits.chartRows);
  const fmt = fmtKeys.map((label) => ({ label: clip(label, T), value: dist[label] ?? 0 }));
  const ext = topRows(f.extension_distribution, limits.chartRows, T);
  const eff = topRows(s.format_distribution, limits.chartRows, T);

  let folders: FolderCoverageTable | null = null;
  if (s.folder_coverage) {
    const fc = s.folder_coverage;
    // The library already bounds the rows; bound again in case a caller asked for more.
    const kept = fc.folders.slice(0, limits.folders);
    const dropped = fc.folders.slice(limits.folders);
    folders = {
      total_folders: fc.total_folders,
      folders: kept.map((r) => ({ ...r, dir: clip(r.dir, T) })),
      others: {
        folders: fc.others.folders + dropped.length,
        images: fc.others.images + dropped.reduce((n, r) => n + r.images, 0),
        images_with_sidecar: fc.others.images_with_sidecar + dropped.reduce((n, r) => n + r.images_with_sidecar, 0),
      },
    };
  }

  const shown: InvalidFile[] = v.firstInvalid.slice(0, limits.invalidFiles).map((r) => ({
    path: clip(relativeTo(s.directory, r.file_path), T),
    category: r.category,
    format: r.format,
    // Decoder messages start with the file's path, which the list already shows.
    error: r.error === null ? null : clip(r.error.startsWith(`${r.file_path}: `) ? r.error.slice(r.file_path.length + 2) : r.error, T),
    problems: r.problems.slice(0, limits.problemsPerFile).map((p) => ({ pointer: clip(p.pointer, T), message: clip(p.message, T), severity: p.severity })),
    moreProblems: Math.max(0, r.problems.length - limits.problemsPerFile),
  }));

  return {
    meta,
    overview: {
      images: s.total_images,
      sidecars: s.total_sidecars,
      imagesWithSidecar: s.images_with_sidecar,
      coverage: s.coverage_percentage,
      symlinks: s.symlink_count,
      brokenSymlinks: s.broken_symlinks,
      faces: s.faces.total,
      facesWithEmbedding: s.faces.with_embedding,
      objects: s.objects.total,
      sidecarFiles: f.total_files,
      invalidFiles: v.invalidFiles,
      scanComplete: s.scan_complete && f.scan_complete,
      scanProblems: Math.max(s.scan_problems, v.scanProblemCount),
    },
    folders,
    operations: { rows: operationRows, others: ops.others },
    charts: {
      operations: { id: 'operations', title: 'Images per operation', unit: 'images', ...ops },
      faces: { id: 'faces', title: 'Faces per image', unit: 'images', ...histogramRows(s.faces.per_image_histogram), note: 'Images (with a sidecar) by the number of faces detected in them.' },
      objects: { id: 'objects', title: 'Objects per image', unit: 'images', ...histogramRows(s.objects.per_image_histogram), note: 'Images (with a sidecar) by the number of objects detected in them.' },
      grades: { id: 'grades', title: 'Quality grades', unit: 'images', ...gradeRows },
      categories: { id: 'categories', title: 'Scan categories', unit: 'records', rows: cats, others: null, note: 'Each image, or file that pairs with nothing, is one record in exactly one category.' },
      formats: { id: 'formats', title: 'Sidecar files by content format', unit: 'files', rows: fmt, others: null, note: 'What the bytes are, whatever the extension says.' },
      extensions: { id: 'extensions', title: 'Sidecar files by extension', unit: 'files', ...ext },
      freshness: freshnessSeries(s),
      effectiveFormats: { id: 'effective-formats', title: 'Counted sidecars by format', unit: 'sidecars', ...eff, note: 'The one sidecar whose data counts for each image.' },
    },
    invalid: { total: v.invalidFiles, checked: v.totalFiles, valid: v.validFiles, shown, more: Math.max(0, v.invalidFiles - shown.length) },
    scanProblems: {
      total: v.scanProblemCount,
      shown: v.scanProblems.slice(0, limits.scanProblems).map((p) => ({ path: clip(p.path, T), code: clip(p.code, 40), message: clip(p.message, T) })),
    },
    limits,
    shrunk: false,
  };
}
