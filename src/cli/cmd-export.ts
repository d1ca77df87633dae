/**
 * `export`: every sidecar into one JSON / JSON-lines / CSV file (`-o FILE`) or to stdout.
 * The earlier tool's wrappers call `export --input D --output P --format json|csv` and find
 * `Exported (\d+)` in stdout; with stdout carrying the export itself, that line goes to stderr.
 */
import { EXIT_CLEAN, EXIT_FINDINGS } from '../errors.js';
import type { ExportFormat } from '../ops/export.js';
import { engineOptions, inputDirectory, note, optString, outputFile, type CommandContext } from './context.js';
import { exportMessage } from '../messages.js';
import { progressFor } from './progress.js';

export async function run(ctx: CommandContext): Promise<number> {
  const dir = await inputDirectory(ctx);
  const { exportSidecars } = await import('../ops/export.js');
  const file = outputFile(ctx);
  const progress = progressFor(ctx, 'exporting');
  let report;
  try {
    report = await exportSidecars(dir, {
      ...engineOptions(ctx),
      format: (optString(ctx, 'format') ?? 'json') as ExportFormat,
      output: file ?? ctx.io.stdout,
      operationType: optString(ctx, 'operationType'),
      onProgress: progress.update,
    });
  } finally {
    progress.finish();
  }
  if (file !== null) {
    const message = exportMessage(report.exported, report.output ?? file);
    ctx.io.stdout.write(ctx.opts.json ? `${JSON.stringify({ message, ...report })}\n` : `${message}\n`);
  } else {
    note(ctx, exportMessage(report.exported, 'stdout'));
  }
  if (!report.complete) note(ctx, 'warning: the scan was incomplete (some paths could not be read); those sidecars are not in the export');
  return report.complete ? EXIT_CLEAN : EXIT_FINDINGS;
}
