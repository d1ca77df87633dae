/**
 * `merge FILE...`: the shard outputs of one run → what the unsharded command prints (stats,
 * format-stats and hash through the same emit; validate through the same result stream; export
 * as its shards were asked for, json or jsonl). Mixed, missing or duplicate shards are refused before anything is written.
 */
import { EXIT_CLEAN, EXIT_FINDINGS, errors } from '../errors.js';
import { exportMessage } from '../messages.js';
import type { ValidationReport, ValidationResult } from '../ops/validate.js';
import { colorEnabled, note, optString, outputFile, wantsHuman, type CommandContext } from './context.js';
import { emit } from './emit.js';
import { openSink } from './sink.js';
import { makeStyle } from './style.js';
import { formatStatsSummary, hashSummary, statsSummary, validationSummary } from './summaries.js';
import { DATASET_FORMATS, isOneOf } from '../vocabulary.js';

export async function run(ctx: CommandContext): Promise<number> {
  const paths = ctx.args ?? (ctx.arg !== undefined ? [ctx.arg] : []);
  const m = await import('../shard/merge.js');
  const files = await m.openShards(paths);
  const command = files[0].header.command;
  const file = outputFile(ctx);
  if (file !== null) m.assertNotAnInput(files, file, 'merged result');
  // An option for another command's shards is refused, not ignored: `--manifest` on stats shards
  // wrote nothing, and a manifest left by an earlier run stood for this one.
  if (optString(ctx, 'manifest') !== undefined && command !== 'hash') throw errors.usage(`--manifest is for hash shards; these are ${command} shards`);
  if (ctx.opts.jsonl === true && command !== 'validate') throw errors.usage(`--jsonl is for validate shards (an export's shards say json or jsonl themselves: export --format); these are ${command} shards`);
  switch (command) {
    case 'stats': {
      const result = await m.mergeStats(files);
      await emit(ctx, { result, what: 'statistics', human: (style) => statsSummary(result, style) });
      if (!result.scan_complete) note(ctx, 'warning: the scan was incomplete (some paths could not be read); see scan_problems');
      return result.scan_complete ? EXIT_CLEAN : EXIT_FINDINGS;
    }
    case 'format-stats': {
      const result = await m.mergeFormatStats(files);
      await emit(ctx, { result, what: 'format statistics', human: (style) => formatStatsSummary(result, style) });
      return result.scan_complete ? EXIT_CLEAN : EXIT_FINDINGS;
    }
    case 'hash': {
      const manifest = optString(ctx, 'manifest');
      let result;
      try {
        result = await m.mergeHash(files, { manifest });
      } catch (e) {
        return (await import('./cmd-integrity.js')).notDigestedFinding(ctx, e);
      }
      await emit(ctx, { result, what: 'tree digest', human: (style) => hashSummary(result, manifest, style) });
      return EXIT_CLEAN;
    }
    case 'validate': {
      const { ResultStream } = await import('./cmd-validate.js');
      const { keptNewerWarning, validationFound, validationTotals } = await import('../ops/validate.js');
      const human = wantsHuman(ctx);
      const sink = human ? null : await openSink(file, ctx.io.stdout);
      const stream = sink ? new ResultStream(sink, ctx.opts.jsonl === true) : null;
      const invalid: ValidationResult[] = [];
      let merged;
      try {
        merged = await m.mergeValidate(files, (r) => {
          if (stream) return stream.write(r);
          if (!(r as ValidationResult).is_valid && invalid.length < 20) invalid.push(r as ValidationResult);
        });
        if (stream) await stream.end(validationTotals(merged.report as ValidationReport));
      } catch (e) {
        await sink?.abort();
        throw e;
      }
      const rep = merged.report;
      if (human) ctx.io.stdout.write(validationSummary(rep as ValidationReport, invalid, makeStyle(colorEnabled(ctx.io))).join('\n') + '\n');
      else if (file !== null) ctx.io.stdout.write(`Validated ${rep.total_files} sidecar files: ${rep.valid_files} valid, ${rep.invalid_files} invalid; results written to ${sink!.target}\n`);
      const kept = keptNewerWarning(rep.keptNewer);
      if (kept !== null) note(ctx, kept);
      return validationFound({ ...rep, complete: rep.scan.complete }) ? EXIT_FINDINGS : EXIT_CLEAN;
    }
    case 'export': {
      const format = files[0].header.options.format;
      if (isOneOf(DATASET_FORMATS, format)) {
        if (file === null && format !== 'coco') throw errors.usage(`merging ${format} shards writes ${format === 'yolo' ? 'a folder' : 'a file and its rows beside it'}: give -o`);
        const { datasetOutcome, findingsNotes } = await import('./export-view.js');
        const shown = findingsNotes(ctx);
        const report = await m.mergeDataset(files, file ?? ctx.io.stdout, shown.add);
        return datasetOutcome(ctx, report);
      }
      const sink = await openSink(file, ctx.io.stdout);
      let r;
      try {
        r = await m.mergeExport(files, sink);
      } catch (e) {
        await sink.abort();
        throw e;
      }
      await sink.close();
      const message = exportMessage(r.exported, file === null ? 'stdout' : sink.target);
      if (file !== null) ctx.io.stdout.write(ctx.opts.json ? `${JSON.stringify({ message, output: sink.target, format: format === 'json' ? 'json' : 'jsonl', ...r })}\n` : `${message}\n`);
      else note(ctx, message);
      if (r.problems > 0) note(ctx, `warning: ${r.problems} corrupt or unreadable sidecar(s) were left out by the shards`);
      return r.complete && r.problems === 0 ? EXIT_CLEAN : EXIT_FINDINGS;
    }
    default:
      throw errors.internal(`merge of ${String(command)}`);
  }
}
