/**
 * `export`: every sidecar into one JSON / JSON-lines / CSV file (`-o FILE`) or to stdout; or, with
 * `--format coco|yolo|embeddings`, a dataset of the results (docs/EXPORT.md).
 * The earlier tool's wrappers call `export --input D --output P --format json|csv` and find
 * `Exported (\d+)` in stdout; with stdout carrying the export itself, that line goes to stderr.
 * Corrupt or unreadable sidecars cannot be exported: each is named on stderr and the exit code is 1,
 * as is each sidecar whose results a dataset could not take with certainty.
 */
import { EXIT_CLEAN, EXIT_FINDINGS } from '../errors.js';
import type { ExportFormat, ExportProblem } from '../ops/export.js';
import type { DatasetFormat } from '../ops/datasets.js';
import { engineOptions, indexOptions, inputDirectory, note, optString, outputFile, type CommandContext } from './context.js';
import { exportMessage } from '../messages.js';
import { progressFor } from './progress.js';
import { DATASET_FORMATS, isOneOf } from '../vocabulary.js';
import { datasetFlags, datasetOutcome, exportOperation, findingsNotes, withPath } from './export-view.js';

/** Problem lines printed on stderr by the data export; the rest are counted (each is in `validate` too). */
const SHOWN_PROBLEMS = 50;

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
  for (const p of shown) note(ctx, `not exported (${p.category}): ${withPath(p.path, p.message)}`);
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
  const shown = findingsNotes(ctx, progress);
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
  return datasetOutcome(ctx, report);
}

