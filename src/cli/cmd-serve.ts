/** `serve --stdio`: JSON-lines requests on stdin, responses on stdout, logs on stderr. */
import { errors, EXIT_CLEAN } from '../errors.js';
import { fileStamp } from '../fs/identity.js';
import type { CommandContext } from './context.js';

export async function run(ctx: CommandContext): Promise<number> {
  if (ctx.opts.stdio !== true) throw errors.usage('serve supports only --stdio (JSON lines on stdin/stdout)');
  // A bad IMAGE_SIDECAR_ENGINE/WORKERS/ACCEL is a usage error at start, not a failure of every request.
  const { engineFromEnv } = await import('../settings.js');
  engineFromEnv(ctx.io.env);
  const { serveStdio } = await import('../server/stdio.js');
  const { keyringFromCli } = await import('./keys.js');
  // The server answers a failed stdout itself (the client went away: saves already running finish
  // and release their locks, then it returns), so the CLI's exit-at-once EPIPE handler must not run.
  for (const l of ctx.io.stdout.listeners('error')) ctx.io.stdout.removeListener('error', l as (...a: unknown[]) => void);
  // A closed stderr must not crash the server mid-save either: logs are then dropped.
  let stderrOpen = true;
  ctx.io.stderr.on('error', () => (stderrOpen = false));
  const log = (msg: string) => {
    if (stderrOpen) ctx.io.stderr.write(`image-sidecar serve: ${msg}\n`);
  };
  const keyFile = typeof ctx.opts.keyFile === 'string' ? ctx.opts.keyFile : ctx.io.env.IMAGE_SIDECAR_KEY_FILE;
  // The key file is read again when it changed (a rotation: rekey, then the new key renamed over
  // it): a server started before kept saving under the old key. Its stamp is taken before it is
  // read, so a change while it is read is seen at the next request.
  let stamp = keyFile ? fileStamp(keyFile) : null;
  let keyring = keyringFromCli(ctx);
  const keys = () => {
    if (!keyFile) return keyring;
    const now = fileStamp(keyFile);
    if (now !== stamp) {
      keyring = keyringFromCli(ctx); // a missing or bad key file fails the request, as at start
      stamp = now;
    }
    return keyring;
  };
  await serveStdio({ keys, keyFiles: keyring && keyFile ? [keyFile] : [], input: ctx.io.stdin, output: ctx.io.stdout, log });
  return EXIT_CLEAN;
}
