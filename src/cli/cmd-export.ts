/**
 * `export`: every sidecar into one JSON / JSON-lines / CSV file (`-o FILE`) or to stdout; or, with
 * `--format coco|yolo|embeddings`, a dataset of the results (docs/EXPORT.md).
 * The earlier tool's wrappers call `export --input D --output P --format json|csv` and find
 * `Exported (\d+)` in stdout; with stdout carrying the export itself, that line goes to stderr.
 * Corrupt or unreadable sidecars cannot be exported: each is named on stderr and the exit code is 1,
 * as is each sidecar whose results a dataset could not take with certainty.
 */
import { EXIT_CLEAN, EXIT_FINDINGS, errors } from '../errors.js';
import type { ExportFormat, ExportProblem } from '../ops/export.js';
import type { DatasetExportReport, DatasetFinding, DatasetFormat } from '../ops/datasets.js';
import { engineOptions, indexOptions, inputDirectory, note, optString, outputFile, type CommandContext } from './context.js';
import { exportMessage } from '../messages.js';
import { progressFor } from './progress.js';
import { DATASET_FORMATS, DATASET_INCLUDES, isOneOf } from '../vocabulary.js';

/** Problem lines printed on stderr; the rest are counted. */
const SHOWN_PROBLEMS = 50;

/** `--operation-type` or its other spelling `--operation` (both given: they must agree). */
export function exportOperation(ctx: CommandContext): string | undefined {
  const a = optString(ctx, 'operationType');
  const b = optString(ctx, 'operation');
  if (a !== undefined && b !== undefined && a !== b) throw errors.usage(`--operation-type ${a} and --operation ${b} disagree: give one`);
  return a ?? b;
}

/** The dataset flags (`--include`, `--dim`, `--copy-images`), refused with a format they do not apply to. */
export function datasetFlags(ctx: CommandContext, format: string): { faces?: boolean; dim?: number; copyImages?: boolean } {
  const out: { faces?: boolean; dim?: number; copyImages?: boolean } = {};
  const include = optString(ctx, 'include');
  if (include !== undefined) {
    const kinds = include.split(',').map((k) => k.trim()).filter((k) => k !== '');
    for (const k of kinds) if (!isOneOf(DATASET_INCLUDES, k)) throw errors.usage(`--include: unknown kind "${k}" (expected ${DATASET_INCLUDES.join(', ')})`);
    if (format !== 'coco' && format !== 'yolo') throw errors.usage('--include is for --format coco and yolo');
    if (kinds.includes('faces')) out.faces = true;
  }
  if (ctx.opts.dim !== undefined) {
    if (format !== 'embeddings') throw errors.usage('--dim is for --format embeddings');
    out.dim = ctx.opts.dim;
  }
  if (ctx.opts.copyImages === true) {
    if (format !== 'yolo') throw errors.usage('--copy-images is for --format yolo');
    out.copyImages = true;
  }
  return out;
}

export async function run(ctx: CommandContext): Promise<number> {
  const format = optString(ctx, 'format') ?? 'json';
  const flags = datasetFlags(ctx, format);
  if (ctx.opts.shard !== undefined) return (await import('./cmd-shard.js')).runShard(ctx, 'export');
  if (isOneOf(DATASET_FORMATS, format)) return runDataset(ctx, format, flags);
  const dir = await inputDirectory(ctx);
  const { exportSidecars } = await import('../ops/export.js');
  const file = outputFile(ctx);
  const progress = progressFor(ctx, 'exporting');
  const shown: ExportProblem[] = [];
  let report;
  try {
    report = await exportSidecars(dir, {
      ...engineOptions(ctx),
      ...indexOptions(ctx),
      format: format as ExportFormat,
      output: file ?? ctx.io.stdout,
      operationType: exportOperation(ctx),
      csvRaw: ctx.opts.csvRaw === true,
      where: optString(ctx, 'where'),
      onProgress: progress.update,
      onProblem: (p) => {
        if (shown.length < SHOWN_PROBLEMS) shown.push(p);
      },
    });
  } finally {
    progress.finish();
  }
  if (file !== null) {
    const message = exportMessage(report.exported, report.output ?? file);
    ctx.io.stdout.write(ctx.opts.json ? `${JSON.stringify({ message, ...report })}\n` : `${message}\n`);
    // A person at a terminal also sees the headline count every command shows, and what export counts.
    if (!ctx.opts.json && ctx.io.stdoutIsTTY) ctx.io.stdout.write(`  images exported  ${report.exported}\n  sidecar files    ${report.sidecar_files}\n`);
  } else {
    note(ctx, exportMessage(report.exported, 'stdout'));
  }
  for (const p of shown) note(ctx, `not exported (${p.category}): ${p.message.startsWith(p.path) ? p.message : `${p.path}: ${p.message}`}`);
  if (report.problems > shown.length) note(ctx, `… and ${report.problems - shown.length} more sidecar(s) not exported`);
  if (report.problems > 0) note(ctx, `warning: ${report.problems} corrupt or unreadable sidecar(s) left out of the export (see \`image-sidecar validate\`)`);
  if (!report.complete) note(ctx, 'warning: the scan was incomplete (some paths could not be read); those sidecars are not in the export');
  return report.complete && report.problems === 0 ? EXIT_CLEAN : EXIT_FINDINGS;
}

async function runDataset(ctx: CommandContext, format: DatasetFormat, flags: ReturnType<typeof datasetFlags>): Promise<number> {
  const dir = await inputDirectory(ctx);
  const { exportDataset } = await import('../ops/datasets.js');
  const file = outputFile(ctx);
  const progress = progressFor(ctx, 'exporting');
  const shown = findingsNotes(ctx);
  let report;
  try {
    report = await exportDataset(dir, {
      ...engineOptions(ctx),
      ...indexOptions(ctx),
      ...flags,
      format,
      output: file ?? ctx.io.stdout,
      operationType: exportOperation(ctx),
      where: optString(ctx, 'where'),
      onProgress: progress.update,
      onFinding: shown.add,
    });
  } finally {
    progress.finish();
  }
  return datasetOutcome(ctx, report, shown);
}

/** Findings as notes on stderr: the first SHOWN_PROBLEMS, the rest counted. */
export function findingsNotes(ctx: CommandContext): { add: (f: DatasetFinding) => void; print: (total: number) => void } {
  const shown: DatasetFinding[] = [];
  return {
    add: (f) => {
      if (shown.length < SHOWN_PROBLEMS) shown.push(f);
    },
    print: (total) => {
      for (const f of shown) note(ctx, `${f.kind === 'dataset' ? 'not in the dataset' : `not exported (${f.kind})`}: ${f.message.startsWith(f.path) ? f.message : `${f.path}: ${f.message}`}`);
      if (total > shown.length) note(ctx, `… and ${total - shown.length} more`);
    },
  };
}

/** What a dataset export (or its merge) prints, and its exit code. */
export function datasetOutcome(ctx: CommandContext, report: DatasetExportReport, shown: ReturnType<typeof findingsNotes>): number {
  const where = report.output ?? 'stdout';
  const message = exportMessage(report.images, where);
  if (report.output !== null) ctx.io.stdout.write(ctx.opts.json ? `${JSON.stringify({ message, ...report })}\n` : `${message}\n`);
  else note(ctx, message);
  const what =
    report.format === 'embeddings'
      ? `${report.rows} vectors of ${report.dim} floats; ${report.no_encoding} faces without an encoding${Object.keys(report.other_dims).length > 0 ? `, other lengths left out: ${Object.entries(report.other_dims).map(([k, v]) => `${v} of ${k}`).join(', ')}` : ''}`
      : `${report.annotations} boxes in ${report.categories.length} categories; ${report.without_detections} sidecars without a detection left out`;
  if (!ctx.opts.json) note(ctx, what);
  shown.print(report.findings + report.problems);
  if (report.problems > 0) note(ctx, `warning: ${report.problems} corrupt or unreadable sidecar(s) left out (see \`image-sidecar validate\`)`);
  if (report.findings > 0) note(ctx, `warning: ${report.findings} sidecar(s) whose results could not be read with certainty (see docs/EXPORT.md)`);
  if (!report.complete) note(ctx, 'warning: the scan was incomplete (some paths could not be read); those sidecars are not in the dataset');
  return report.complete && report.problems === 0 && report.findings === 0 ? EXIT_CLEAN : EXIT_FINDINGS;
}
