/**
 * `report(root)`: the library's aggregates as one self-contained HTML page for people.
 *
 * It computes nothing itself: `stats` (with bounded per-folder coverage), `validate` (reduced to
 * counts plus the first invalid files as it streams) and `formatStats` each scan the tree once,
 * one after the other — three scans, the price of keeping one implementation of each aggregate.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { assertOutputNotManaged } from '../analysis/output-guard.js';
import { openOutputSink } from '../fs/output-sink.js';
import { DEFAULT_LIMITS, type ReportLimits, type ReportModel, type ValidationDigest } from './model.js';
import { renderReport } from './page.js';
import type { Options } from '../types.js';
import { packageVersion } from '../version.js';
import { formatStats, type FormatStats } from '../ops/format-stats.js';
import { stats, type TreeStats } from '../ops/stats.js';
import { validate, type ValidationResult } from '../ops/validate.js';

export interface ReportOptions extends Options {
  /** Only sidecars holding this operation (as `stats` and `validate`). */
  operationType?: string;
  /** JSON Schema (path or object) the invalid-file list also checks against. */
  schema?: string | object;
  /** Bounds of the page (rows, listed files, text length). */
  limits?: Partial<ReportLimits>;
  /** Byte budget of the page (default 2,000,000): lists and text are cut further to fit. */
  maxBytes?: number;
  /** Write the page to this path atomically; without it the page is only returned. */
  output?: string;
  /** Clock and host name shown on the page (injectable for reproducible pages). */
  now?: () => Date;
  host?: string;
}

export interface ReportResult {
  html: string;
  /** Size of the page in bytes (UTF-8). */
  bytes: number;
  /** Absolute path written, or null. */
  path: string | null;
  model: ReportModel;
  stats: TreeStats;
  formats: FormatStats;
  validation: ValidationDigest;
}

export async function report(root: string, opts: ReportOptions = {}): Promise<ReportResult> {
  const limits: ReportLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const now = opts.now ?? (() => new Date());
  const started = Date.now();
  const { output: _output, limits: _limits, maxBytes: _maxBytes, now: _now, host: _host, schema, onProgress, ...common } = opts;
  // Never over an image or a sidecar, checked before the tree is read (output-guard.ts).
  if (opts.output !== undefined) assertOutputNotManaged(opts.output, 'report', opts.imageExtensions);

  // One progress count across the three scans.
  let offset = 0;
  let phaseDone = 0;
  const progress = (done: number) => {
    phaseDone = done;
    onProgress?.(offset + done);
  };
  const nextPhase = () => {
    offset += phaseDone;
    phaseDone = 0;
  };

  const treeStats = await stats(root, { ...common, folders: limits.folders, onProgress: progress });
  nextPhase();

  const firstInvalid: ValidationResult[] = [];
  const v = await validate(root, {
    ...common,
    schema,
    onProgress: progress,
    onResult: (r) => {
      if (!r.is_valid && firstInvalid.length < limits.invalidFiles) firstInvalid.push(r);
    },
  });
  nextPhase();
  const validation: ValidationDigest = {
    totalFiles: v.total_files,
    validFiles: v.valid_files,
    invalidFiles: v.invalid_files,
    firstInvalid,
    scanProblems: v.scan.problems.slice(0, limits.scanProblems),
    scanProblemCount: v.scan.problemCount,
  };

  const { operationType: _op, ...formatOpts } = common;
  const formats = await formatStats(root, { ...formatOpts, onProgress: progress });

  const page = renderReport(
    {
      stats: treeStats,
      formats,
      validation,
      meta: {
        generatedAt: now().toISOString(),
        host: opts.host ?? hostname(),
        directory: treeStats.directory,
        version: packageVersion(),
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        engine: `${v.scan.engine.kind}, ${v.scan.engine.workers} worker${v.scan.engine.workers === 1 ? '' : 's'}`,
        durationMs: Date.now() - started,
        operationType: opts.operationType ?? null,
        schema: typeof schema === 'string' ? schema : schema ? '(inline schema)' : null,
      },
    },
    limits,
    opts.maxBytes,
  );
  let path: string | null = null;
  if (opts.output !== undefined) {
    path = resolve(opts.output);
    // The one output sink: atomic for a file, in place for a device (`-o /dev/null`), a folder refused.
    const sink = await openOutputSink(path, process.stdout);
    try {
      await sink.write(Buffer.from(page.html, 'utf8'));
    } catch (e) {
      await sink.abort();
      throw e;
    }
    await sink.close();
  }
  return { html: page.html, bytes: page.bytes, path, model: page.model, stats: treeStats, formats, validation };
}
