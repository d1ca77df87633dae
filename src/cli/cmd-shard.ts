/**
 * `--shard I/N` on a mergeable command (stats, format-stats, validate, hash, export): run the
 * command on that shard and write a shard output (src/shard/format.ts) to -o FILE (atomically:
 * a killed job leaves no half file, a rerun replaces only its own file) or stdout.
 */
import { EXIT_CLEAN, EXIT_FINDINGS, errors } from '../errors.js';
import type { ShardCommand } from '../shard/format.js';
import { engineOptions, indexOptions, inputDirectory, optString, outputFile, shardOption, type CommandContext } from './context.js';
import { progressFor } from './progress.js';
import { DATASET_FORMATS, isOneOf } from '../vocabulary.js';
import { openSink } from './sink.js';
import { validationFound } from '../ops/validate.js';

export async function runShard(ctx: CommandContext, command: ShardCommand): Promise<number> {
  const dir = await inputDirectory(ctx);
  const shard = shardOption(ctx)!;
  const run = await import('../shard/run.js');
  // Each shard records its own files in the library's index; the entries of concurrent shards merge.
  const opts = { ...engineOptions(ctx), ...(command === 'hash' ? {} : indexOptions(ctx)), shard };
  const file = outputFile(ctx);
  const progress = progressFor(ctx, `shard ${shard.index}/${shard.count}`);
  const filters = { operationType: optString(ctx, 'operationType'), where: optString(ctx, 'where') };
  let clean: boolean;
  let target = '-';
  try {
    if (command === 'export') {
      const format = optString(ctx, 'format') ?? 'json';
      if (format === 'csv') throw errors.usage('a shard of export writes JSON lines (merge gives the tree-ordered json or jsonl); csv cannot be merged');
      const { datasetFlags, exportOperation, findingsNotes } = await import('./export-view.js');
      const exportFilters = { ...filters, operationType: exportOperation(ctx) };
      if (isOneOf(DATASET_FORMATS, format)) {
        const shown = findingsNotes(ctx, progress);
        const r = await run.exportDatasetShard(dir, { ...opts, ...exportFilters, ...datasetFlags(ctx, format), format, output: file ?? ctx.io.stdout, onProgress: progress.update, onFinding: shown.add });
        clean = r.complete && r.problems === 0 && r.findings === 0;
        target = r.output ?? '-';
      } else {
        if (format !== 'json' && format !== 'jsonl') throw errors.usage(`export has no format ${format}`);
        const r = await run.exportShard(dir, { ...opts, ...exportFilters, format, output: file ?? ctx.io.stdout, onProgress: progress.update });
        clean = r.complete && r.problems === 0;
        target = r.output ?? '-';
      }
    } else {
      const sink = await openSink(file, ctx.io.stdout);
      target = sink.target;
      try {
        switch (command) {
          case 'stats': {
            const r = await run.statsShard(dir, { ...opts, ...filters, list: ctx.opts.list === true, onProgress: progress.update }, sink);
            clean = r.complete;
            break;
          }
          case 'format-stats': {
            const r = await run.formatStatsShard(dir, { ...opts, onProgress: progress.update }, sink);
            clean = r.scan_complete;
            break;
          }
          case 'validate': {
            const r = await run.validateShard(dir, { ...opts, ...filters, schema: optString(ctx, 'schema'), onProgress: progress.update }, sink);
            clean = !validationFound({ invalid_files: r.invalid_files, keptNewer: r.kept_newer ?? 0, complete: r.complete });
            break;
          }
          case 'hash': {
            const r = await run.hashShard(dir, { ...opts, canonical: ctx.opts.canonical === true, allFiles: ctx.opts.allFiles === true, manifest: optString(ctx, 'manifest'), onProgress: progress.update }, sink);
            clean = (r.undecodable ?? []).length === 0 && (r.unreadable_count ?? 0) === 0;
            break;
          }
        }
      } catch (e) {
        await sink.abort();
        throw e;
      }
      await sink.close();
    }
  } finally {
    progress.finish();
  }
  if (file !== null) {
    const line = `Wrote shard ${shard.index}/${shard.count} of ${command} to ${target}`;
    ctx.io.stdout.write(ctx.opts.json ? `${JSON.stringify({ message: line, output: target, shard: { index: shard.index, count: shard.count, source: shard.source } })}\n` : `${line}\n`);
  }
  return clean! ? EXIT_CLEAN : EXIT_FINDINGS;
}
