import { scan, type MemoCommand, type ScanRecord, type ScanSummary, type TreeSeq } from '../discovery/scan.js';
import { loadSchema } from '../analysis/schema.js';
import type { Problem } from '../analysis/rules.js';
import type { Category, Options, SidecarFormat } from '../types.js';
import { round, sidecarFilter, sidecarsOf } from './common.js';
import type { FileInspection, InspectOptions } from '../tasks/inspect.js';

export interface ValidateOptions extends Options {
  /** Only sidecars containing this operation (corrupt files are always reported). */
  operationType?: string;
  /** Only sidecars matching this filter expression (docs/QUERY.md); corrupt files are always reported. */
  where?: string;
  /** Path of a JSON Schema file, or the schema object itself. */
  schema?: string | object;
  /** Called with each result as soon as it is known (then `results` is not collected). */
  onResult?: (r: ValidationResult, rec: ScanRecord) => void | Promise<void>;
  /**
   * `onResult` does not look at its record: with the index, a run over an unchanged tree may then be
   * answered by the tree memo (docs/INDEX.md), which calls `onResult` without one. Without `onResult`
   * the memo can always answer.
   */
  resultsOnly?: boolean;
}

/**
 * What validate's tree memo keeps: its totals and every result, in order, by column (a result's
 * keys once, its repeated strings once in `words`, folders once: a third of the bytes of the
 * results as objects, and parsed in a third of the time).
 */
interface StoredValidate {
  /** Per record, the end of its results (records without results: the same as the one before). */
  ends: number[];
  words: string[];
  /** file_path: folder (a word, with its trailing slash) + name. */
  folder: number[];
  name: string[];
  valid: number[];
  /** error: null, or a word. */
  error: number[];
  time: number[];
  size: number[];
  detections: number[];
  /** tool_name, operation_type, format, category: null (-1) or a word. */
  tool: number[];
  operation: number[];
  format: number[];
  category: number[];
  /** Results with problems: [position, problems]. */
  problems: [number, Problem[]][];
}

/**
 * validate's tree memo (scan.ts MemoCommand): a record's results are its row; the rows are stored
 * by column (storedValidate) and the output is every result in order.
 */
function validateMemo(resultsOf: (rec: ScanRecord) => ValidationResult[]): MemoCommand<ValidationResult[], ValidationResult[]> {
  return {
    rowOf: resultsOf,
    finish: (rows) => rows.flat(),
    outputStored: false,
    encodeRows: (rows) => {
      const ends: number[] = [];
      let n = 0;
      for (const r of rows) ends.push((n += r.length));
      return storedValidate(ends, rows.flat());
    },
    finishStored: (stored, _summary, replaced, count) => {
      const s = stored as StoredValidate;
      // Every result belongs to a record (as decodeRows slices them): else not rows a run wrote.
      if (!Array.isArray(s.ends) || !Array.isArray(s.name) || (s.ends.length === 0 ? 0 : s.ends[s.ends.length - 1]) !== s.name.length) throw new TypeError('not memo rows');
      if (count !== undefined && s.ends.length !== count) throw new TypeError('not memo rows');
      const all = resultsOfStored(s);
      if (replaced.size === 0) return all;
      // The records replaced, in order, their results in place of the stored ones (the others not sliced).
      const out: ValidationResult[] = [];
      let from = 0;
      for (const i of [...replaced.keys()].sort((a, b) => a - b)) {
        const start = i === 0 ? 0 : s.ends[i - 1];
        if (!(i >= 0 && i < s.ends.length && from <= start && start <= s.ends[i] && Number.isInteger(s.ends[i]))) throw new TypeError('not memo rows');
        for (let k = from; k < start; k++) out.push(all[k]);
        for (const r of replaced.get(i)!) out.push(r);
        from = s.ends[i];
      }
      for (let k = from; k < all.length; k++) out.push(all[k]);
      return out;
    },
    decodeRows: (stored) => {
      const s = stored as StoredValidate;
      const all = resultsOfStored(s);
      const rows: ValidationResult[][] = [];
      let from = 0;
      for (const end of s.ends) {
        rows.push(all.slice(from, end));
        from = end;
      }
      return rows;
    },
  };
}

/** The keys of a ValidationResult (resultFromInspection). */
const RESULT_KEYS = 11;

/** Results by column (StoredValidate); null when one does not have the shape the columns hold. */
function storedValidate(ends: number[], results: readonly ValidationResult[]): StoredValidate | null {
  const ids = new Map<string, number>();
  const words: string[] = [];
  const word = (w: string | null): number => {
    if (w === null) return -1;
    let id = ids.get(w);
    if (id === undefined) ids.set(w, (id = words.push(w) - 1));
    return id;
  };
  const out: StoredValidate = { ends, words, folder: [], name: [], valid: [], error: [], time: [], size: [], detections: [], tool: [], operation: [], format: [], category: [], problems: [] };
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    const cut = r.file_path.lastIndexOf('/') + 1;
    out.folder.push(word(r.file_path.slice(0, cut)));
    out.name.push(r.file_path.slice(cut));
    out.valid.push(r.is_valid ? 1 : 0);
    out.error.push(word(r.error));
    out.time.push(r.processing_time);
    out.size.push(r.file_size);
    out.detections.push(r.detection_count);
    out.tool.push(word(r.tool_name));
    out.operation.push(word(r.operation_type));
    out.format.push(word(r.format));
    out.category.push(word(r.category));
    if (r.problems.length > 0) out.problems.push([i, r.problems]);
  }
  // Every result has resultFromInspection's keys in its order (the columns hold no others); the
  // store checks the columns come back exactly through JSON (tree-memo.ts sameThroughJson).
  for (const r of results) if (Object.keys(r).length !== RESULT_KEYS) return null;
  return out;
}

/** The results a StoredValidate holds, as `resultFromInspection` makes them (same keys, same order). */
function resultsOfStored(s: StoredValidate): ValidationResult[] {
  const { words } = s;
  const w = (i: number) => (i < 0 ? null : words[i]);
  const out: ValidationResult[] = new Array(s.name.length);
  let next = 0;
  for (let i = 0; i < out.length; i++) {
    let problems: Problem[] = [];
    if (next < s.problems.length && s.problems[next][0] === i) problems = s.problems[next++][1];
    out[i] = {
      file_path: words[s.folder[i]] + s.name[i],
      is_valid: s.valid[i] === 1,
      error: w(s.error[i]),
      processing_time: s.time[i],
      file_size: s.size[i],
      detection_count: s.detections[i],
      tool_name: w(s.tool[i]),
      operation_type: w(s.operation[i]),
      format: w(s.format[i]) as SidecarFormat | null,
      category: words[s.category[i]] as Category,
      problems,
    };
  }
  return out;
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
  category: Category;
  problems: Problem[];
}

export interface ValidationReport {
  total_files: number;
  valid_files: number;
  invalid_files: number;
  results?: ValidationResult[];
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
  const report: ValidationReport = { total_files: 0, valid_files: 0, invalid_files: 0, scan: session.summary, problemSeqs: session.problemSeqs };
  if (!opts.onResult) report.results = [];
  // A record's results: the one mapping for a run, a tree memo's rows and a patch.
  const resultsOf = (rec: ScanRecord): ValidationResult[] => {
    const out: ValidationResult[] = [];
    for (const sc of sidecarsOf(rec)) {
      const ins = sc.inspection;
      if (filter && ins.status === 'ok' && !filter(sc)) continue;
      out.push(resultFromInspection(ins, rec.category));
    }
    return out;
  };
  const memo = !opts.onResult || opts.resultsOnly === true ? session.memo('validate', [opts.operationType ?? null, opts.where ?? null], validateMemo(resultsOf)) : null;
  const hit = memo ? await memo.load() : null;
  if (hit) {
    for (const r of hit.output) {
      report.total_files++;
      if (r.is_valid) report.valid_files++;
      else report.invalid_files++;
    }
    if (!opts.onResult) report.results = hit.output;
    else
      for (const r of hit.output) {
        const wait = opts.onResult(r, undefined as unknown as ScanRecord);
        if (wait) await wait;
      }
    return report;
  }
  for await (const batch of session.batches()) {
    for (const rec of batch) {
      const row = resultsOf(rec);
      memo?.row(rec, row);
      for (const r of row) {
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
  memo?.store(null);
  return report;
}

/** One inspection as a validation result (the same mapping `validate` applies to a tree). */
export function resultFromInspection(ins: FileInspection, category: Category): ValidationResult {
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
