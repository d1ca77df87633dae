/**
 * `mv SRC… DEST` and `cp SRC… DEST`: images with their sidecars (ops/move-images.ts). Each source
 * the library cannot take (a folder, a shared sidecar, a name taken at the destination) is one
 * finding; the others go ahead, and the exit code is 1 when any was left.
 */
import { EXIT_CLEAN, EXIT_FINDINGS, errors } from '../errors.js';
import { engineOptions, note, type CommandContext } from './context.js';
import { emit } from './emit.js';

export async function run(ctx: CommandContext): Promise<number> {
  const paths = ctx.args ?? [];
  if (paths.length < 2) throw errors.usage(`${ctx.command} needs one or more images and a destination: image-sidecar ${ctx.command} SRC... DEST`);
  const { transferImages } = await import('../ops/move-images.js');
  const mode = ctx.command === 'cp' ? 'copy' : 'move';
  const { keyring, imageExtensions } = engineOptions(ctx);
  const dryRun = ctx.opts.dryRun === true;
  const r = await transferImages(mode, paths.slice(0, -1), paths[paths.length - 1], { dryRun, keyring, imageExtensions });
  const verb = mode === 'copy' ? (dryRun ? 'Would copy' : 'Copied') : dryRun ? 'Would move' : 'Moved';
  const count = dryRun ? r.units.length : r.done;
  const files = dryRun ? r.units.reduce((n, u) => n + u.files.length, 0) : r.files;
  const message = `${verb} ${count} image(s) with their sidecars (${files} files)`;
  await emit(ctx, {
    result: r,
    message,
    what: `${ctx.command} report`,
    human: (style) => {
      const lines: string[] = [];
      if (dryRun) for (const u of r.units) for (const f of u.files) lines.push(`  ${f.from} -> ${f.to}`);
      if (r.recovered > 0) lines.push(style.yellow(`finished or undid ${r.recovered} unit(s) an interrupted run left`));
      return lines;
    },
  });
  for (const p of r.problems) note(ctx, `not ${mode === 'copy' ? 'copied' : 'moved'}: ${p.message}`);
  return r.problems.length > 0 ? EXIT_FINDINGS : EXIT_CLEAN;
}
