/**
 * Validate an explicit list of sidecar files (the `validate-json` command): no directory walk and
 * no pairing, just the engine's 'inspect' task over the paths in batches, several batches in
 * flight, results delivered in list order. Each result has the same shape as `validate`'s.
 */
import { basename, resolve } from 'node:path';
import { describeBytes, readLines } from '../fs/line-reader.js';
import { normalizeOperationName } from '../analysis/operations.js';
import { loadSchema } from '../analysis/schema.js';
import { mapOrdered } from '../engine/pipeline.js';
import { createRuntime } from '../engine/select.js';
import type { Category, Options } from '../types.js';
import { resultFromInspection, validateInspectOptions, type ValidationResult } from './validate.js';
import type { FileInspection, InspectItem, InspectOptions } from '../model/inspection.js';

export interface ValidateFilesOptions extends Options {
  /** Only files containing this operation (files that cannot be decoded are always reported). */
  operationType?: string;
  /** Path of a JSON Schema file, or the schema object itself. */
  schema?: string | object;
  /** Called with each result in list order (then `results` is not collected). */
  onResult?: (r: ValidationResult) => void | Promise<void>;
  /** Files per engine batch (default: the pipeline's). */
  batchSize?: number;
}

/**
 * A list entry that cannot be a path (a line over the length limit): one invalid result in its
 * place (`file_path` = `label`), and the run goes on with the next entry.
 */
export interface UnusableListEntry {
  label: string;
  message: string;
  /** The entry's length in bytes (the result's file_size). */
  bytes: number;
}

export type ListedPath = string | UnusableListEntry;

/**
 * Longest line of a path list taken as a path: PATH_MAX is 4,096 bytes, so 1 MiB leaves room for
 * any path of any file system, and a longer line (a NUL-separated list given as one line, a
 * binary file given as the list) is one finding, never held whole.
 */
export const MAX_LIST_LINE_BYTES = 1 << 20;

export interface PathListOptions {
  /** Lines longer than this (bytes) are reported, not used. Default MAX_LIST_LINE_BYTES. */
  maxLineBytes?: number;
  /** How results name a bad line: `${name}:${line}` (default 'list'; the CLI gives the list file, '-' for stdin). */
  name?: string;
}

/**
 * Paths from a list: one per line (LF or CRLF), empty lines skipped, streamed (10^6 lines) in
 * bounded memory (fs/line-reader.ts); a line over the limit becomes an `UnusableListEntry`.
 */
export async function* pathList(input: AsyncIterable<Uint8Array | string>, opts: PathListOptions = {}): AsyncGenerator<ListedPath> {
  const maxLineBytes = opts.maxLineBytes ?? MAX_LIST_LINE_BYTES;
  const name = opts.name ?? 'list';
  for await (const line of readLines(input, { maxLineBytes, headBytes: 40 })) {
    if (line.tooLong) {
      yield {
        label: `${name}:${line.lineNo}`,
        bytes: line.bytes,
        message: `line ${line.lineNo} of the list is ${line.bytes} bytes, longer than a path may be (limit ${describeBytes(maxLineBytes)}); it starts ${JSON.stringify(line.head)}`,
      };
    } else if (line.text.length > 0) yield line.text;
  }
}

/** The result for an entry that is not a path: invalid, nothing read. */
function unusableResult(e: UnusableListEntry): ValidationResult {
  return {
    file_path: e.label,
    is_valid: false,
    error: `${e.label}: ${e.message}`,
    processing_time: 0,
    file_size: e.bytes,
    detection_count: 0,
    tool_name: null,
    operation_type: null,
    format: null,
    category: 'unreadable',
    problems: [],
  };
}

export interface FilesValidationReport {
  total_files: number;
  valid_files: number;
  invalid_files: number;
  results?: ValidationResult[];
  engine: { kind: 'inline' | 'threads'; workers: number };
}

/**
 * A listed file has no directory context, so its category comes from the file alone: a decodable
 * sidecar is 'ok', a directory report or other JSON is 'unrelated'.
 */
function categoryOf(ins: FileInspection): Category {
  if (ins.status === 'corrupt' || ins.status === 'unreadable' || ins.status === 'encrypted') return ins.status;
  return ins.shape === 'sidecar' ? 'ok' : 'unrelated';
}

/**
 * Validate the files named by `paths` (relative paths resolve against the working directory); an
 * `UnusableListEntry` among them is reported in its place as an invalid result.
 */
export async function validateFiles(
  paths: Iterable<ListedPath> | AsyncIterable<ListedPath>,
  opts: ValidateFilesOptions = {},
): Promise<FilesValidationReport> {
  const schema = typeof opts.schema === 'string' ? (await loadSchema(opts.schema)).schemaSource : opts.schema;
  const want = opts.operationType ? normalizeOperationName(opts.operationType) : null;
  const inspectOpts: InspectOptions = { ...validateInspectOptions(want !== null), schema, maxFileSize: opts.maxFileSize, maxDepth: opts.maxDepth, keyring: opts.keyring, accel: opts.accel, fastStat: opts.fastStat, readAhead: opts.readAhead };
  const runtime = createRuntime(opts);
  runtime.warm?.();
  const report: FilesValidationReport = { total_files: 0, valid_files: 0, invalid_files: 0, engine: { kind: 'inline', workers: 1 } };
  if (!opts.onResult) report.results = [];
  // Unusable entries never reach the engine: each waits, in list order, for the next path's result
  // (or the end) and is reported right before it.
  const before = new Map<InspectItem, UnusableListEntry[]>();
  let waiting: UnusableListEntry[] = [];
  async function* items(): AsyncGenerator<InspectItem> {
    for await (const p of paths) {
      if (typeof p !== 'string') {
        waiting.push(p);
        continue;
      }
      const path = resolve(p);
      const item: InspectItem = { path, name: basename(path) };
      if (waiting.length > 0) {
        before.set(item, waiting);
        waiting = [];
      }
      yield item;
    }
  }
  const emit = async (r: ValidationResult) => {
    report.total_files++;
    if (r.is_valid) report.valid_files++;
    else report.invalid_files++;
    if (opts.onResult) await opts.onResult(r);
    else report.results!.push(r);
    opts.onProgress?.(report.total_files);
  };
  try {
    for await (const { item, result: ins } of mapOrdered(runtime, 'inspect', inspectOpts, items(), { batchFiles: opts.batchSize, signal: opts.signal })) {
      const earlier = before.get(item);
      if (earlier) {
        before.delete(item);
        for (const e of earlier) await emit(unusableResult(e));
      }
      if (want !== null && ins.status === 'ok' && !(ins.summary?.operations.includes(want) ?? false)) continue;
      await emit(resultFromInspection(ins, categoryOf(ins)));
    }
    for (const e of waiting) await emit(unusableResult(e));
  } finally {
    report.engine = { kind: runtime.kind, workers: runtime.workers };
    await runtime.close();
  }
  return report;
}
