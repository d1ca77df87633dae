/** `report`: the library's aggregates as one self-contained HTML page (`-o FILE`, `--open`). */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_CLEAN, EXIT_FINDINGS, errors } from '../errors.js';
import { engineOptions, indexOptions, inputDirectory, note, optString, outputFile, type CommandContext } from './context.js';
import { progressFor } from './progress.js';
import { openSink } from './sink.js';

export async function run(ctx: CommandContext): Promise<number> {
  const dir = await inputDirectory(ctx);
  const open = ctx.opts.open === true;
  let file = outputFile(ctx);
  if (file === null && ctx.io.stdoutIsTTY && !open) {
    throw errors.usage('the report is an HTML page: write it with -o report.html (or --open it), or pipe stdout');
  }
  // --open without a file: the page has to live somewhere a browser can read it.
  if (file === null && open) file = join(await mkdtemp(join(tmpdir(), 'image-sidecar-report-')), 'report.html');

  const { report } = await import('../report/run.js');
  const progress = progressFor(ctx, 'report');
  let result;
  try {
    result = await report(dir, {
      ...engineOptions(ctx),
      ...indexOptions(ctx),
      operationType: optString(ctx, 'operationType'),
      schema: optString(ctx, 'schema'),
      limits: {
        ...(typeof ctx.opts.maxInvalid === 'number' ? { invalidFiles: ctx.opts.maxInvalid } : {}),
        ...(typeof ctx.opts.maxFolders === 'number' ? { folders: ctx.opts.maxFolders } : {}),
      },
      output: file ?? undefined,
      onProgress: progress.update,
    });
  } finally {
    progress.finish();
  }

  if (result.path === null) {
    // Through the sink: a reader that closed early is EPIPE, exit 2 (a bare write ended 0, the page lost).
    const sink = await openSink(null, ctx.io.stdout);
    try {
      await sink.write(result.html);
    } catch (e) {
      await sink.abort();
      throw e;
    }
    await sink.close();
  } else {
    const line = `Wrote report (${result.bytes} bytes) to ${result.path}`;
    ctx.io.stdout.write(ctx.opts.json ? `${JSON.stringify({ message: line, output: result.path, bytes: result.bytes })}\n` : `${line}\n`);
    if (open) {
      const { openInBrowser } = await import('../report/open.js');
      const { envWithoutKeys } = await import('./keys.js');
      const { opener, error } = await openInBrowser(result.path, envWithoutKeys(ctx.io.env));
      if (error !== null) note(ctx, `warning: could not open the report with ${opener.command}: ${error}`);
    }
  }
  const complete = result.stats.scan_complete && result.formats.scan_complete;
  if (!complete) note(ctx, 'warning: the scan was incomplete (some paths could not be read); the report lists them');
  return complete ? EXIT_CLEAN : EXIT_FINDINGS;
}
