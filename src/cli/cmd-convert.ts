/**
 * `convert -f FORMAT`: rewrite sidecars in another format. Items are streamed from the library
 * (never all kept on 10^6 files); the output lists only what needs attention: failures and
 * conflicts. Exit 1 when anything failed, conflicted or did not verify.
 */
import { errors, EXIT_CLEAN, EXIT_FINDINGS } from '../errors.js';
import type { ConvertItem } from '../ops/convert.js';
import type { FormatName } from '../types.js';
import { CONVERT_FORMATS } from './commands.js';
import { engineOptions, inputDirectory, note, optString, type CommandContext } from './context.js';
import { emit } from './emit.js';
import { convertMessage } from '../messages.js';
import { progressFor } from './progress.js';
import { aligned } from './style.js';

/** Failed / conflicting items kept for the output. */
const KEPT_PROBLEMS = 1000;

export async function run(ctx: CommandContext): Promise<number> {
  const encrypt = ctx.opts.encrypt === true;
  const decrypt = ctx.opts.decrypt === true;
  if (encrypt && decrypt) throw errors.usage('--encrypt and --decrypt exclude each other');
  const format = optString(ctx, 'format') ?? (decrypt ? 'bin' : undefined);
  // The earlier tool printed a message and exited 0 on an unknown format; this is a usage error.
  if (!format) throw errors.usage(`convert needs -f/--format (${CONVERT_FORMATS.join(', ')})`);
  if (encrypt && format !== 'bin' && format !== 'binary') throw errors.usage(`--encrypt needs --format bin (only bin files are encrypted), not ${format}`);
  if (!(CONVERT_FORMATS as readonly string[]).includes(format)) throw errors.usage(`unknown format "${format}" (${CONVERT_FORMATS.join(', ')})`);
  const dir = await inputDirectory(ctx);
  const { convert } = await import('../ops/convert.js');
  const dryRun = ctx.opts.dryRun === true;
  const problems: ConvertItem[] = [];
  let problemCount = 0;
  const progress = progressFor(ctx, dryRun ? 'planning' : 'converting');
  let report;
  try {
    report = await convert(dir, format as FormatName, {
      ...engineOptions(ctx),
      dryRun,
      keepSource: ctx.opts.keepSource === true,
      verify: ctx.opts.verify === true,
      ...(encrypt ? { encryption: 'encrypt' as const } : decrypt ? { encryption: 'decrypt' as const } : {}),
      onProgress: progress.update,
      onItem: (item) => {
        if (item.ok && item.action !== 'conflict') return;
        problemCount++;
        if (problems.length < KEPT_PROBLEMS) problems.push(item);
      },
    });
  } finally {
    progress.finish();
  }
  const r = report;
  const mismatches = r.verify?.mismatches.length ?? 0;
  const message = convertMessage(dryRun, r.converted, r.format);
  const result = { ...r, problems, problems_truncated: problemCount > problems.length };
  await emit(ctx, {
    result,
    message,
    what: 'conversion report',
    human: (style) => {
      const lines = aligned([
        ['skipped', r.skipped],
        ['failed', r.failed > 0 ? style.red(String(r.failed)) : '0'],
        ['conflicts', r.conflicts > 0 ? style.yellow(String(r.conflicts)) : '0'],
        ...(r.verify ? ([['verified', `${r.verify.checked} images, ${mismatches} mismatch(es)`]] as [string, string][]) : []),
      ], '  ');
      for (const p of problems.slice(0, 20)) lines.push(`  ${p.source}: ${p.action === 'conflict' ? 'conflict' : (p.error?.message ?? 'failed')}`);
      if (problemCount > 20) lines.push(`  … and ${problemCount - 20} more`);
      return lines;
    },
  });
  if (!r.scanComplete) note(ctx, 'warning: the scan was incomplete (some paths could not be read)');
  return r.failed > 0 || r.conflicts > 0 || mismatches > 0 || !r.scanComplete ? EXIT_FINDINGS : EXIT_CLEAN;
}
