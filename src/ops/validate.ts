import { scan, type MemoCommand, type ScanRecord, type ScanSummary, type TreeSeq } from '../discovery/scan.js';
import { loadSchema } from '../analysis/schema.js';
import type { Category, Options, SidecarFormat } from '../types.js';
import { round, sidecarFilter, sidecarsOf } from './common.js';
import { columnBytes, columnOf } from '../byte-order.js';
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
  /**
   * `onResult` does not look at its record: with the index, a run over an unchanged tree may then be
   * answered by the tree memo (docs/INDEX.md), which calls `onResult` without one. Without `onResult`
   * the memo can always answer.
   */
  resultsOnly?: boolean;
}

/**
 * What validate's tree memo keeps: its totals and every result, in order, by column (a result's
 * keys once, its repeated strings once in `words`, folders once, names in one string, numbers as
 * their little-endian bytes: byte-order.ts columnBytes, kept as byte strings outside the memo's
 * JSON, incremental/frame-json.ts). A warm run reads them as they are instead of 200,000 number
 * tokens (or 1.3 MB of base64 text), and the numbers come back exactly (-0 too).
 */
interface StoredValidate {
  /** Per record, the end of its results (records without results: the same as the one before): u32. */
  ends: Buffer;
  words: string[];
  /** file_path: folder (a word, with its trailing slash: i32) + name (the names joined by '/': no name holds one). */
  folder: Buffer;
  names: string;
  /** u8: 1 valid. */
  valid: Buffer;
  /** error, tool_name, operation_type, format, category: null (-1) or a word (i32). */
  error: Buffer;
  /** processing_time, file_size, detection_count: f64. */
  time: Buffer;
  size: Buffer;
  detections: Buffer;
  tool: Buffer;
  operation: Buffer;
  format: Buffer;
  category: Buffer;
  /** Results with problems: [position, problems]. */
  problems: [number, Problem[]][];
}

/** A StoredValidate's columns as typed arrays, checked to be one result's each; throws a TypeError on columns no run writes. */
interface ValidateColumns {
  ends: Uint32Array;
  words: string[];
  folder: Int32Array;
  /** The names joined by '/', and where each starts (`nameAt[n]`: past the end, as if a '/' followed the last). */
  names: string;
  nameAt: Uint32Array;
  valid: Uint8Array;
  error: Int32Array;
  time: Float64Array;
  size: Float64Array;
  detections: Float64Array;
  tool: Int32Array;
  operation: Int32Array;
  format: Int32Array;
  category: Int32Array;
  /** The problems of the results that have any, by position. */
  problemsAt: Map<number, Problem[]>;
}

/**
 * validate's output from its tree memo: every result in order, made one at a time as it is read
 * from the stored columns (a run answered by the memo streams its results: no array of every
 * result, no object kept past its caller), the rows a delta or a patch made again in place.
 * `total` and `valid` are counted without making any.
 */
class MemoResults {
  readonly total: number;
  readonly valid: number;

  /** `pieces`: runs of stored results [from, to) and rows made again, in order. */
  constructor(
    private readonly cols: ValidateColumns | null,
    private readonly pieces: readonly (readonly [number, number] | readonly ValidationResult[])[],
  ) {
    let total = 0;
    let valid = 0;
    for (const p of pieces) {
      if (isRun(p)) {
        total += p[1] - p[0];
        // The valid ones: all but the zeros (few: found by indexOf, not a loop over every result).
        valid += p[1] - p[0];
        const run = cols!.valid.subarray(p[0], p[1]);
        for (let k = run.indexOf(0); k !== -1; k = run.indexOf(0, k + 1)) valid--;
      } else {
        total += p.length;
        for (const r of p) if (r.is_valid) valid++;
      }
    }
    this.total = total;
    this.valid = valid;
  }

  /**
   * Each result in order to `fn`, awaited when it returns a promise: the memo's answer streamed by
   * a plain loop (a generator's step per result cost ~0.5 µs of 18,000).
   */
  async each(fn: (r: ValidationResult) => unknown): Promise<void> {
    for (const p of this.pieces) {
      if (isRun(p)) {
        for (let k = p[0]; k < p[1]; k++) {
          const wait = fn(resultOfStored(this.cols!, k));
          if (wait) await wait;
        }
      } else {
        for (const r of p) {
          const wait = fn(r);
          if (wait) await wait;
        }
      }
    }
  }
}

const isRun = (p: readonly [number, number] | readonly ValidationResult[]): p is readonly [number, number] => p.length === 2 && typeof p[0] === 'number';

/**
 * validate's tree memo (scan.ts MemoCommand): a record's results are its row; the rows are stored
 * by column (storedValidate) and the output is every result in order (MemoResults).
 */
function validateMemo(resultsOf: (rec: ScanRecord) => ValidationResult[]): MemoCommand<ValidationResult[], MemoResults> {
  return {
    rowOf: resultsOf,
    finish: (rows) => new MemoResults(null, [rows.flat()]),
    outputStored: false,
    encodeRows: (rows) => {
      const ends: number[] = [];
      let n = 0;
      for (const r of rows) ends.push((n += r.length));
      return storedValidate(ends, rows.flat());
    },
    finishStored: (stored, _summary, replaced, count) => {
      const s = columnsOfStored(stored);
      if (count !== undefined && s.ends.length !== count) notRows();
      const n = s.nameAt.length - 1;
      if (replaced.size === 0) return new MemoResults(s, [[0, n]]);
      // The stored results between the records replaced, and theirs in place (the others not made).
      const pieces: (readonly [number, number] | readonly ValidationResult[])[] = [];
      let from = 0;
      for (const i of [...replaced.keys()].sort((a, b) => a - b)) {
        if (!(Number.isInteger(i) && i >= 0 && i < s.ends.length)) notRows();
        const start = i === 0 ? 0 : s.ends[i - 1];
        if (start > from) pieces.push([from, start]);
        pieces.push(replaced.get(i)!);
        from = s.ends[i];
      }
      if (n > from) pieces.push([from, n]);
      return new MemoResults(s, pieces);
    },
    decodeRows: (stored) => {
      const s = columnsOfStored(stored);
      const rows: ValidationResult[][] = [];
      let from = 0;
      for (const end of s.ends) {
        const row: ValidationResult[] = [];
        for (let k = from; k < end; k++) row.push(resultOfStored(s, k));
        rows.push(row);
        from = end;
      }
      return rows;
    },
  };
}

/** The keys of a ValidationResult (resultFromInspection). */
const RESULT_KEYS = 11;

/** Results by column (StoredValidate); null when one does not have the shape the columns hold. */
function storedValidate(ends: readonly number[], results: readonly ValidationResult[]): StoredValidate | null {
  const ids = new Map<string, number>();
  const words: string[] = [];
  const word = (w: string | null): number => {
    if (w === null) return -1;
    let id = ids.get(w);
    if (id === undefined) ids.set(w, (id = words.push(w) - 1));
    return id;
  };
  const n = results.length;
  const folder = new Int32Array(n);
  const names: string[] = new Array(n);
  const valid = new Uint8Array(n);
  const [error, tool, operation, format, category] = [0, 0, 0, 0, 0].map(() => new Int32Array(n));
  const [time, size, detections] = [0, 0, 0].map(() => new Float64Array(n));
  const problems: [number, Problem[]][] = [];
  const isWord = (w: unknown) => w === null || typeof w === 'string';
  for (let i = 0; i < n; i++) {
    const r = results[i];
    // Every result has resultFromInspection's keys in its order, of the types the columns hold.
    if (Object.keys(r).length !== RESULT_KEYS || typeof r.file_path !== 'string' || typeof r.is_valid !== 'boolean' || typeof r.processing_time !== 'number' || typeof r.file_size !== 'number' || typeof r.detection_count !== 'number') return null;
    if (!isWord(r.error) || !isWord(r.tool_name) || !isWord(r.operation_type) || !isWord(r.format) || typeof r.category !== 'string' || !Array.isArray(r.problems)) return null;
    const cut = r.file_path.lastIndexOf('/') + 1;
    folder[i] = word(r.file_path.slice(0, cut));
    names[i] = r.file_path.slice(cut);
    valid[i] = r.is_valid ? 1 : 0;
    error[i] = word(r.error);
    time[i] = r.processing_time;
    size[i] = r.file_size;
    detections[i] = r.detection_count;
    tool[i] = word(r.tool_name);
    operation[i] = word(r.operation_type);
    format[i] = word(r.format);
    category[i] = word(r.category);
    if (r.problems.length > 0) problems.push([i, r.problems]);
  }
  const bytes = columnBytes;
  // (The store checks the rest comes back exactly through JSON: tree-memo.ts sameThroughJson.)
  return { ends: bytes(Uint32Array.from(ends)), words, folder: bytes(folder), names: names.join('/'), valid: bytes(valid), error: bytes(error), time: bytes(time), size: bytes(size), detections: bytes(detections), tool: bytes(tool), operation: bytes(operation), format: bytes(format), category: bytes(category), problems };
}

/** The columns of a StoredValidate, every one a value per result (`ends`' last), word numbers in range; else a TypeError. */
function columnsOfStored(stored: unknown): ValidateColumns {
  const fail = notRows;
  const s = stored as StoredValidate;
  if (s === null || typeof s !== 'object' || !Array.isArray(s.words) || !s.words.every((w) => typeof w === 'string') || typeof s.names !== 'string' || !Array.isArray(s.problems)) fail();
  const ends = columnOf(s.ends, Uint32Array) ?? fail();
  const n = ends.length === 0 ? 0 : ends[ends.length - 1];
  // Where each name starts, found by indexOf (no array of 18,000 strings kept while the results
  // stream); exactly n names (no results: one empty name).
  const { names } = s;
  // n names hold n - 1 separators: a count the names cannot hold is refused before its offsets are
  // allocated (a crafted count of 2^32 - 1 reserved 16 GiB: attack26-crafted-count.test.ts).
  if (n > names.length + 1) fail();
  const nameAt = new Uint32Array(n + 1);
  let from = 0;
  for (let i = 0; i < n; i++) {
    nameAt[i] = from;
    const cut = i === n - 1 ? names.length : names.indexOf('/', from);
    if (cut < 0) fail();
    from = cut + 1;
  }
  nameAt[n] = from;
  // (The last name holds no '/': else there were more than n.)
  if (n === 0 ? names !== '' : names.indexOf('/', nameAt[n - 1]) !== -1) fail();
  for (let i = 1; i < ends.length; i++) if (ends[i] < ends[i - 1]) fail();
  const words = s.words;
  // Every word number has its word (-1: null, where a result may have none): checked before any
  // result is made (they are made one at a time, as the caller reads them).
  const wordsOf = (stored: unknown, nullable: boolean) => {
    const c = columnOf(stored, Int32Array) ?? fail();
    if (c.length !== n || !inRange(c, nullable ? -1 : 0, words.length - 1)) fail();
    return c;
  };
  const numbers = (stored: unknown) => {
    const c = columnOf(stored, Float64Array) ?? fail();
    return c.length === n ? c : fail();
  };
  const valid = columnOf(s.valid, Uint8Array) ?? fail();
  if (valid.length !== n) fail();
  if (!inRange(valid, 0, 1)) fail();
  const problemsAt = new Map<number, Problem[]>();
  let at = -1;
  for (const p of s.problems) {
    if (!Array.isArray(p) || !Number.isInteger(p[0]) || p[0] <= at || p[0] >= n || !Array.isArray(p[1])) fail();
    at = p[0] as number;
    problemsAt.set(at, p[1]);
  }
  return {
    ends,
    words,
    folder: wordsOf(s.folder, false),
    names,
    nameAt,
    valid,
    error: wordsOf(s.error, true),
    time: numbers(s.time),
    size: numbers(s.size),
    detections: numbers(s.detections),
    tool: wordsOf(s.tool, true),
    operation: wordsOf(s.operation, true),
    format: wordsOf(s.format, true),
    category: wordsOf(s.category, false),
    problemsAt,
  };
}

/**
 * Every value of `c` from `least` to `most`: a plain loop, which V8 optimizes while it runs (one
 * pass over 18,000 values: ~1 ms where Math.min.apply over chunks took ~5).
 */
function inRange(c: Int32Array | Uint8Array, least: number, most: number): boolean {
  for (let i = 0; i < c.length; i++) {
    const v = c[i];
    if (v < least || v > most) return false;
  }
  return true;
}

/** Result `k` of the stored columns, as `resultFromInspection` makes it (same keys, same order; word numbers checked by columnsOfStored). */
function resultOfStored(s: ValidateColumns, k: number): ValidationResult {
  const { words } = s;
  const e = s.error[k];
  const t = s.tool[k];
  const o = s.operation[k];
  const f = s.format[k];
  return {
    file_path: words[s.folder[k]] + s.names.slice(s.nameAt[k], s.nameAt[k + 1] - 1),
    is_valid: s.valid[k] === 1,
    error: e < 0 ? null : words[e],
    processing_time: s.time[k],
    file_size: s.size[k],
    detection_count: s.detections[k],
    tool_name: t < 0 ? null : words[t],
    operation_type: o < 0 ? null : words[o],
    format: (f < 0 ? null : words[f]) as SidecarFormat | null,
    category: words[s.category[k]] as Category,
    problems: s.problemsAt.get(k) ?? [],
  };
}

function notRows(): never {
  throw new TypeError('not memo rows');
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
  category: Category | 'kept';
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
      // A kept older copy beside an image's sidecar (docs/PAIRING.md §4) is named as such.
      out.push(resultFromInspection(ins, rec.category === 'ok' && sc !== rec.effective && rec.effective !== null ? 'kept' : rec.category));
    }
    return out;
  };
  const memo = !opts.onResult || opts.resultsOnly === true ? session.memo('validate', [opts.operationType ?? null, opts.where ?? null], validateMemo(resultsOf)) : null;
  const hit = memo ? await memo.load() : null;
  if (hit) {
    report.total_files = hit.output.total;
    report.valid_files = hit.output.valid;
    report.invalid_files = hit.output.total - hit.output.valid;
    const onResult = opts.onResult;
    if (!onResult) {
      const results: ValidationResult[] = [];
      await hit.output.each((r) => {
        results.push(r);
      });
      report.results = results;
    } else await hit.output.each((r) => onResult(r, undefined as unknown as ScanRecord));
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
export function resultFromInspection(ins: FileInspection, category: Category | 'kept'): ValidationResult {
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
