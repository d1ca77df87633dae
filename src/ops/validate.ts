import { scan } from './scan.js';
import { isLeftBehind, type ScanRecord, type ScanSummary, type TreeSeq } from '../scan/records.js';
import { loadSchema } from '../analysis/schema.js';
import type { Category, Options, SidecarFormat } from '../types.js';
import { round, sidecarFilter, sidecarsOf } from './common.js';
import type { Problem, FileInspection, InspectOptions } from '../model/inspection.js';

export interface ValidateOptions extends Options {
  /** Only sidecars containing this operation (corrupt files are always reported). */
  operationType?: string;
  /** Only sidecars matching this filter expression (docs/QUERY.md); corrupt files are always reported. */
  where?: string;
  /** Path of a JSON Schema file, or the schema object itself. */
  schema?: string | object;
  /** Called with each result as soon as it is known (then `results` is not collected). */
  onResult?: (r: ValidationResult, rec: ScanRecord) => void | Promise<void>;
}

/** One sidecar file's result; the first eight keys are the earlier tool's. */
export interface ValidationResult {
  file_path: string;
  is_valid: boolean;
  error: string | null;
  processing_time: number;
  file_size: number;
  detection_count: number;
  tool_name: string | null;
  operation_type: string | null;
  format: SidecarFormat | null;
  /** The record's category; `kept` for an older copy beside an image's sidecar. */
  category: Category | 'kept' | 'left-behind';
  problems: Problem[];
}

export interface ValidationReport {
  total_files: number;
  valid_files: number;
  invalid_files: number;
  results?: ValidationResult[];
  /** Kept copies written after the file reads take (each has a warning: docs/PAIRING.md §4). */
  keptNewer: number;
  scan: ScanSummary;
  /** Tree position of each of `scan.problems` (shard outputs merge problems in tree order). */
  problemSeqs: TreeSeq[];
}

/**
 * What validate asks of the summary: the three fields a result prints (`brief`), unless a filter
 * (an operation, --where) looks at the rest. validate and validate-files both ask this way.
 */
export function validateInspectOptions(filtered: boolean): Pick<InspectOptions, 'summarize' | 'sizes' | 'brief' | 'validate'> {
  return filtered ? { summarize: true, sizes: false, validate: true } : { brief: true, validate: true };
}

/** Parse every sidecar of a tree and check it against the built-in rules (and a schema). */
export async function validate(root: string, opts: ValidateOptions = {}): Promise<ValidationReport> {
  const schema = typeof opts.schema === 'string' ? (await loadSchema(opts.schema)).schemaSource : opts.schema;
  const filtered = opts.operationType !== undefined || opts.where !== undefined;
  const session = scan(root, { ...opts, inspect: { ...validateInspectOptions(filtered), schema } });
  const filter = sidecarFilter(opts.operationType, opts.where);
  const report: ValidationReport = { total_files: 0, valid_files: 0, invalid_files: 0, keptNewer: 0, scan: session.summary, problemSeqs: session.problemSeqs };
  if (!opts.onResult) report.results = [];
  const resultsOf = (rec: ScanRecord): ValidationResult[] => {
    const out: ValidationResult[] = [];
    for (const sc of sidecarsOf(rec)) {
      const ins = sc.inspection;
      if (filter && ins.status === 'ok' && !filter(sc)) continue;
      // A kept older copy beside an image's sidecar (docs/PAIRING.md §4) is named as such, and so is
      // a stem file another image left behind (§3).
      const left = sc !== rec.effective && isLeftBehind(rec, sc);
      const r = resultFromInspection(ins, left ? 'left-behind' : rec.category === 'ok' && sc !== rec.effective && rec.effective !== null ? 'kept' : rec.category);
      // A kept copy written after the file reads take: a warning on it (validate exits 1).
      const newer = r.category === 'kept' ? rec.findings.find((f) => f.code === 'kept-newer' && f.paths[0] === sc.path) : undefined;
      if (newer !== undefined) {
        r.problems = [...r.problems, { pointer: '', message: newer.message, severity: 'warning' }];
        report.keptNewer++;
      }
      out.push(r);
    }
    return out;
  };
  for await (const batch of session.batches()) {
    for (const rec of batch) {
      for (const r of resultsOf(rec)) {
        report.total_files++;
        if (r.is_valid) report.valid_files++;
        else report.invalid_files++;
        if (opts.onResult) {
          // Awaited only when the writer asks to wait (back-pressure): most results are buffered.
          const wait = opts.onResult(r, rec);
          if (wait) await wait;
        } else report.results!.push(r);
      }
    }
  }
  return report;
}

/** One inspection as a validation result (the same mapping `validate` applies to a tree). */
export function resultFromInspection(ins: FileInspection, category: Category | 'kept' | 'left-behind'): ValidationResult {
  const problems = ins.problems ?? [];
  const brief = ins.summary ?? ins.brief;
  const firstProblem = problems.find((p) => p.severity === 'error');
  const ok = ins.status === 'ok';
  return {
    file_path: ins.path,
    is_valid: ok && firstProblem === undefined,
    error: ok ? (firstProblem ? `${firstProblem.pointer}: ${firstProblem.message}` : null) : (ins.error?.message ?? 'unreadable'),
    processing_time: round(ins.elapsedMs / 1000, 6),
    file_size: ins.size,
    detection_count: brief?.detectionCount ?? 0,
    tool_name: brief?.toolName ?? null,
    operation_type: brief?.operationType ?? null,
    format: ins.format,
    category,
    problems,
  };
}

/** Did validate find something (exit 1): an invalid file, a kept copy newer than the file reads take, a scan that could not read a path. */
export function validationFound(r: { invalid_files: number; keptNewer: number; complete: boolean }): boolean {
  return r.invalid_files > 0 || r.keptNewer > 0 || !r.complete;
}

/** What validate says on stderr beside its output, if anything: the kept copies newer than the file reads take. */
export function keptNewerWarning(keptNewer: number): string | null {
  if (keptNewer === 0) return null;
  return `warning: ${keptNewer} kept cop${keptNewer === 1 ? 'y was' : 'ies were'} modified after the file reads take: their results are not what reads give (see the results' problems; image-sidecar resolve DIR)`;
}

/** The summary keys of validate's JSON output (the earlier tool's totals plus scan facts). */
export function validationTotals(report: ValidationReport, scan: ValidationReport['scan'] = report.scan): Record<string, unknown> {
  return {
    total_files: report.total_files,
    valid_files: report.valid_files,
    invalid_files: report.invalid_files,
    scan_complete: scan.complete,
    scan_problems: scan.problemCount,
    problems: scan.problems.slice(0, 20),
    engine: scan.engine,
    directory: scan.root,
  };
}
