/**
 * Validate an explicit list of sidecar files (the `validate-json` command): no directory walk and
 * no pairing, just the engine's 'inspect' task over the paths in batches, several batches in
 * flight, results delivered in list order. Each result has the same shape as `validate`'s.
 */
import { basename, resolve } from 'node:path';
import { normalizeOperationName } from '../analysis/operations.js';
import { loadSchema } from '../analysis/schema.js';
import { mapOrdered } from '../engine/pipeline.js';
import { createRuntime } from '../engine/select.js';
import type { FileInspection, InspectItem, InspectOptions } from '../tasks/inspect.js';
import type { Category, Options } from '../types.js';
import { resultFromInspection, validateInspectOptions, type ValidationResult } from './validate.js';

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

/** Validate the files named by `paths` (relative paths resolve against the working directory). */
export async function validateFiles(
  paths: Iterable<string> | AsyncIterable<string>,
  opts: ValidateFilesOptions = {},
): Promise<FilesValidationReport> {
  const schema = typeof opts.schema === 'string' ? (await loadSchema(opts.schema)).schemaSource : opts.schema;
  const want = opts.operationType ? normalizeOperationName(opts.operationType) : null;
  const inspectOpts: InspectOptions = { ...validateInspectOptions(want !== null), schema, maxFileSize: opts.maxFileSize, maxDepth: opts.maxDepth, keyring: opts.keyring, accel: opts.accel };
  const runtime = createRuntime(opts);
  runtime.warm?.();
  const report: FilesValidationReport = { total_files: 0, valid_files: 0, invalid_files: 0, engine: { kind: 'inline', workers: 1 } };
  if (!opts.onResult) report.results = [];
  async function* items(): AsyncGenerator<InspectItem> {
    for await (const p of paths) {
      const path = resolve(p);
      yield { path, name: basename(path) };
    }
  }
  try {
    for await (const { result: ins } of mapOrdered(runtime, 'inspect', inspectOpts, items(), { batchFiles: opts.batchSize, signal: opts.signal })) {
      if (want !== null && ins.status === 'ok' && !(ins.summary?.operations.includes(want) ?? false)) continue;
      const r = resultFromInspection(ins, categoryOf(ins));
      report.total_files++;
      if (r.is_valid) report.valid_files++;
      else report.invalid_files++;
      if (opts.onResult) await opts.onResult(r);
      else report.results!.push(r);
      opts.onProgress?.(report.total_files);
    }
  } finally {
    report.engine = { kind: runtime.kind, workers: runtime.workers };
    await runtime.close();
  }
  return report;
}
