/**
 * `validate-json --input LISTFILE --output - --workers N`: the files named in LISTFILE (one path
 * per line, '-' = stdin), one result object per line (NDJSON), in list order. A wrapper of the
 * earlier tool expects exactly this; the earlier CLI never had the command.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { errors, EXIT_CLEAN, EXIT_FINDINGS } from '../errors.js';
import { engineOptions, note, optString, outputFile, type CommandContext } from './context.js';
import { progressFor } from './progress.js';
import { openSink } from './sink.js';

async function openList(ctx: CommandContext): Promise<NodeJS.ReadableStream> {
  const list = optString(ctx, 'input');
  if (!list) throw errors.usage("validate-json needs --input LISTFILE (one sidecar path per line; '-' = stdin)");
  if (list === '-') return ctx.io.stdin;
  const abs = resolve(list);
  try {
    const st = await stat(abs);
    if (!st.isFile()) throw errors.usage(`--input must be a file listing sidecar paths: ${abs}`);
  } catch (e) {
    const err = errors.fromFs(e, abs);
    throw err.code === 'NOT_FOUND' ? errors.notFound(abs, 'list file') : err;
  }
  return createReadStream(abs);
}

export async function run(ctx: CommandContext): Promise<number> {
  const input = await openList(ctx);
  const { pathList, validateFiles } = await import('../ops/validate-files.js');
  const list = optString(ctx, 'input')!;
  const sink = await openSink(outputFile(ctx), ctx.io.stdout);
  const progress = progressFor(ctx, 'validating');
  let report;
  try {
    // One path per line, CRLF tolerated, empty lines skipped, streamed; a line too long to be a path
    // is one finding (`<list>:<line>`), never read whole.
    report = await validateFiles(pathList(input, { name: list === '-' ? '-' : resolve(list) }), {
      ...engineOptions(ctx),
      operationType: optString(ctx, 'operationType'),
      schema: optString(ctx, 'schema'),
      onProgress: progress.update,
      onResult: (r) => sink.write(JSON.stringify(r) + '\n'),
    });
  } catch (e) {
    progress.finish();
    await sink.abort();
    throw e;
  }
  progress.finish();
  await sink.close();
  const line = `Validated ${report.total_files} sidecar files: ${report.valid_files} valid, ${report.invalid_files} invalid`;
  // stdout carries the NDJSON; with -o FILE it gets the one-line note instead.
  if (sink.target !== '-') ctx.io.stdout.write(`${line}; results written to ${sink.target}\n`);
  else note(ctx, line);
  return report.invalid_files > 0 ? EXIT_FINDINGS : EXIT_CLEAN;
}
