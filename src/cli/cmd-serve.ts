/** `serve --stdio`: JSON-lines requests on stdin, responses on stdout, logs on stderr. */
import { errors, EXIT_CLEAN } from '../errors.js';
import type { CommandContext } from './context.js';

export async function run(ctx: CommandContext): Promise<number> {
  if (ctx.opts.stdio !== true) throw errors.usage('serve supports only --stdio (JSON lines on stdin/stdout)');
  const { serveStdio } = await import('../server/stdio.js');
  const { keyringFromCli } = await import('./keys.js');
  await serveStdio({ keyring: keyringFromCli(ctx), input: ctx.io.stdin, output: ctx.io.stdout, log: (msg) => ctx.io.stderr.write(`image-sidecar serve: ${msg}\n`) });
  return EXIT_CLEAN;
}
