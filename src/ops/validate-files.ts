/**
 * Validate an explicit list of sidecar files (the `validate-json` command): no directory walk and
 * no pairing, just the engine's 'inspect' task over the paths in batches, several batches in
 * flight, results delivered in list order. Each result has the same shape as `validate`'s.
 */
import { basename, resolve } from 'node:path';
import { normalizeOperationName } from '../analysis/operations.js';
import { loadSchema } from '../analysis/schema.js';
import { createRuntime, lastEngineUsed } from '../engine/select.js';
import type { FileInspection, InspectItem, InspectOptions } from '../tasks/inspect.js';
import type { Category, Options } from '../types.js';
import { resultFromInspection, type ValidationResult } from './validate.js';

export interface ValidateFilesOptions extends Options {
  /** Only files containing this operation (files that cannot be decoded are always reported). */
  operationType?: string;
  /** Path of a JSON Schema file, or the schema object itself. */
  schema?: string | object;
  /** Called with each result in list order (then `results` is not collected). */
  onResult?: (r: ValidationResult) => void | Promise<void>;
  /** Files per engine batch. Default 64. */
  batchSize?: number;
}

export interface FilesValidationReport {
  total_files: number;
  valid_files: number;
  invalid_files: number;
  results?: ValidationResult[];
  engine: { kind: 'inline' | 'threads'; workers: number };
}

const DEFAULT_BATCH = 64;

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
  const inspectOpts: InspectOptions = { summarize: true, validate: true, schema, maxFileSize: opts.maxFileSize, maxDepth: opts.maxDepth, keyring: opts.keyring };
  const want = opts.operationType ? normalizeOperationName(opts.operationType) : null;
  const batchSize = Math.max(1, opts.batchSize ?? DEFAULT_BATCH);
  const runtime = createRuntime(opts);
  const maxInflight = Math.max(2, runtime.workers * 2);
  const report: FilesValidationReport = { total_files: 0, valid_files: 0, invalid_files: 0, engine: { kind: 'inline', workers: 1 } };
  if (!opts.onResult) report.results = [];
  const inflight: Promise<FileInspection[]>[] = [];
  let items: InspectItem[] = [];
  let listed = 0;

  const deliver = async (inspections: FileInspection[]) => {
    for (const ins of inspections) {
      if (want !== null && ins.status === 'ok' && !(ins.summary?.operations.includes(want) ?? false)) continue;
      const r = resultFromInspection(ins, categoryOf(ins));
      report.total_files++;
      if (r.is_valid) report.valid_files++;
      else report.invalid_files++;
      if (opts.onResult) await opts.onResult(r);
      else report.results!.push(r);
      opts.onProgress?.(report.total_files);
    }
  };
  const flush = () => {
    if (items.length === 0) return;
    runtime.expect(listed);
    const batch = runtime.run<FileInspection>('inspect', items, inspectOpts);
    // Keep an early rejection from being reported as unhandled while older batches are awaited.
    batch.catch(() => undefined);
    inflight.push(batch);
    items = [];
  };

  try {
    for await (const p of paths) {
      if (opts.signal?.aborted) break;
      const path = resolve(p);
      items.push({ path, name: basename(path) });
      listed++;
      if (items.length >= batchSize) flush();
      // Bound memory: results are delivered in order as the oldest batch completes.
      while (inflight.length > maxInflight) await deliver(await inflight.shift()!);
    }
    flush();
    while (inflight.length > 0) await deliver(await inflight.shift()!);
  } finally {
    report.engine = { kind: runtime.kind, workers: runtime.workers };
    lastEngineUsed.kind = runtime.kind;
    lastEngineUsed.workers = runtime.workers;
    await runtime.close();
  }
  return report;
}
