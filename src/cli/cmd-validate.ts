/**
 * `validate`: results are streamed as they arrive (never all in memory on 10^6 files):
 *   {"results":[ r, r, ... ],"total_files":N,"valid_files":V,"invalid_files":I,"scan_complete":...}
 * or one result per line with --jsonl, ending with one summary line
 *   {"type":"summary","total_files":N,"valid_files":V,"invalid_files":I,"scan_complete":...}
 * (results never carry "type"). On a terminal: a short summary of the invalid files.
 */
import { EXIT_CLEAN, EXIT_FINDINGS } from '../errors.js';
import type { ValidationReport, ValidationResult } from '../ops/validate.js';
import { colorEnabled, engineOptions, indexOptions, inputDirectory, note, optString, outputFile, wantsHuman, type CommandContext } from './context.js';
import { progressFor } from './progress.js';
import { openSink, type Sink } from './sink.js';
import { makeStyle } from './style.js';
import { validationSummary } from './summaries.js';

/** Invalid files listed in the human summary. */
const SHOWN_INVALID = 20;

/** Writes results as a JSON document or as JSON lines; the header waits for the first result. */
export class ResultStream {
  private started = false;
  constructor(
    private readonly sink: Sink,
    private readonly jsonl: boolean,
  ) {}

  write(r: object): Promise<void> | undefined {
    const line = JSON.stringify(r);
    if (this.jsonl) return this.sink.write(line + '\n');
    const head = this.started ? ',\n' : '{"results":[\n';
    this.started = true;
    return this.sink.write(head + line);
  }

  /** Close the document with the totals (the keys after "results"). */
  async end(totals: object): Promise<void> {
    if (this.jsonl) {
      // The last line says the stream is complete and what it held (the same totals as the document).
      await this.sink.write(`${JSON.stringify({ type: 'summary', ...totals })}\n`);
    } else {
      const rest = JSON.stringify(totals).slice(1); // '"total_files":...}'
      await this.sink.write(`${this.started ? '\n' : '{"results":[\n'}],${rest}\n`);
    }
    await this.sink.close();
  }
}

/**
 * The keys after "results": the earlier tool's totals first, then what the scan saw.
 * Also used by the stdio server's `validate`, so both give one shape.
 */
export async function run(ctx: CommandContext): Promise<number> {
  if (ctx.opts.shard !== undefined) return (await import('./cmd-shard.js')).runShard(ctx, 'validate');
  const dir = await inputDirectory(ctx);
  const { keptNewerWarning, validate, validationFound, validationTotals } = await import('../ops/validate.js');
  const human = wantsHuman(ctx);
  const jsonl = ctx.opts.jsonl === true;
  const file = outputFile(ctx);
  const sink = human ? null : await openSink(file, ctx.io.stdout);
  const stream = sink ? new ResultStream(sink, jsonl) : null;
  const invalid: ValidationResult[] = [];
  const progress = progressFor(ctx, 'validating');
  let report: ValidationReport;
  try {
    report = await validate(dir, {
      ...engineOptions(ctx),
      ...indexOptions(ctx),
      operationType: optString(ctx, 'operationType'),
      where: optString(ctx, 'where'),
      schema: optString(ctx, 'schema'),
      onProgress: progress.update,
      onResult: (r) => {
        if (stream) return stream.write(r);
        if (!r.is_valid && invalid.length < SHOWN_INVALID) invalid.push(r);
      },
    });
  } catch (e) {
    progress.finish();
    await sink?.abort();
    throw e;
  }
  progress.finish();
  const totals = validationTotals(report);
  if (stream) await stream.end(totals);
  const s = report.scan;
  if (!s.complete) note(ctx, `warning: ${s.problemCount} path(s) could not be read (first: ${s.problems[0]?.message ?? 'unknown'})`);
  const kept = keptNewerWarning(report.keptNewer);
  if (kept !== null) note(ctx, kept);
  const line = `Validated ${report.total_files} sidecar files: ${report.valid_files} valid, ${report.invalid_files} invalid`;
  if (human) {
    ctx.io.stdout.write(validationSummary(report, invalid, makeStyle(colorEnabled(ctx.io))).join('\n') + '\n');
  } else if (file !== null) {
    ctx.io.stdout.write(ctx.opts.json ? `${JSON.stringify({ message: line, output: sink!.target })}\n` : `${line}; results written to ${sink!.target}\n`);
  } else if (jsonl) {
    note(ctx, line);
  }
  return validationFound({ ...report, complete: s.complete }) ? EXIT_FINDINGS : EXIT_CLEAN;
}
