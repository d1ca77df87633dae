/**
 * `convert -f FORMAT`: rewrite sidecars in another format. Items are streamed from the library
 * (never all kept on 10^6 files); by default the output lists only what needs attention:
 * failures and conflicts. `--list` shows every action (source → target, skip reason, conflict):
 * on a terminal as lines while they happen, in JSON as `items` (spooled to a temp file as they
 * come: memory does not grow with the tree). Without --list / --no-list a
 * terminal gets the whole plan when it is short. Exit 1 when anything failed, conflicted or did
 * not verify.
 */
import { errors, EXIT_CLEAN, EXIT_FINDINGS } from '../errors.js';
import type { ConvertItem } from '../ops/convert.js';
import type { FormatName } from '../types.js';
import { FORMAT_NAMES } from '../vocabulary.js';
import { colorEnabled, engineOptions, inputDirectory, note, optString, userCacheDir, wantsHuman, type CommandContext } from './context.js';
import { ConvertListing, convertItemLine, quarantinedWarning, quarantineUncheckedWarning, SHORT_PLAN } from './convert-list.js';
import { emit } from './emit.js';
import { convertMessage } from '../messages.js';
import { progressFor } from './progress.js';
import { aligned, makeStyle } from './style.js';

/** Failed / conflicting items kept for the output. */
const KEPT_PROBLEMS = 1000;

export async function run(ctx: CommandContext): Promise<number> {
  const encrypt = ctx.opts.encrypt === true;
  const decrypt = ctx.opts.decrypt === true;
  if (encrypt && decrypt) throw errors.usage('--encrypt and --decrypt exclude each other');
  const format = optString(ctx, 'format') ?? (decrypt ? 'bin' : undefined);
  // The earlier tool printed a message and exited 0 on an unknown format; this is a usage error.
  if (!format) throw errors.usage(`convert needs -f/--format (${FORMAT_NAMES.join(', ')})`);
  if (encrypt && format !== 'bin' && format !== 'binary') throw errors.usage(`--encrypt needs --format bin (only bin files are encrypted), not ${format}`);
  if (!(FORMAT_NAMES as readonly string[]).includes(format)) throw errors.usage(`unknown format "${format}" (${FORMAT_NAMES.join(', ')})`);
  const dir = await inputDirectory(ctx);
  const { convert } = await import('../ops/convert.js');
  const dryRun = ctx.opts.dryRun === true;
  const problems: ConvertItem[] = [];
  let problemCount = 0;
  const human = wantsHuman(ctx);
  const style = makeStyle(colorEnabled(ctx.io));
  // 'all': every item; 'short': every item if the plan is short (terminal default); 'none': problems only.
  const listMode = ctx.opts.list === true ? 'all' : ctx.opts.list === false || !human ? 'none' : 'short';
  const listing = new ConvertListing(listMode, human);
  const progress = progressFor(ctx, dryRun ? 'planning' : 'converting');
  let report;
  try {
    report = await convert(dir, format as FormatName, {
      ...engineOptions(ctx),
      dryRun,
      keepSource: ctx.opts.keepSource === true,
      verify: ctx.opts.verify === true,
      ...(encrypt ? { encryption: 'encrypt' as const, indexPlace: { cacheDir: userCacheDir(ctx.io.env) } } : decrypt ? { encryption: 'decrypt' as const } : {}),
      onProgress: progress.update,
      onItem: (item) => {
        listing.add(item);
        if (listMode === 'all' && human) {
          progress.clear();
          ctx.io.stdout.write(`${convertItemLine(dir, item, dryRun, style)}\n`);
        }
        if (item.ok && item.action !== 'conflict') return;
        problemCount++;
        if (problems.length < KEPT_PROBLEMS) problems.push(item);
      },
    });
  } catch (e) {
    listing.dispose();
    throw e;
  } finally {
    progress.finish();
  }
  const r = report;
  const mismatches = r.verify?.mismatches.length ?? 0;
  const message = convertMessage(dryRun, r.converted, r.format);
  const result = {
    ...r,
    problems,
    problems_truncated: problemCount > problems.length,
    ...(listing.items ? { items: listing.items } : {}),
  };
  const itemCount = listing.count;
  const showPlan = listMode === 'short' && itemCount <= SHORT_PLAN;
  try {
    await emit(ctx, {
      result,
      message,
      what: 'conversion report',
      human: (style) => {
        const lines = aligned([
          ['sidecar files', r.sidecar_files],
          ...(dryRun ? ([['to convert', r.converted]] as [string, number][]) : []),
          ['skipped', r.skipped],
          ['failed', r.failed > 0 ? style.red(String(r.failed)) : '0'],
          ['conflicts', r.conflicts > 0 ? style.yellow(String(r.conflicts)) : '0'],
          ...((r.quarantinedFiles ?? 0) > 0 ? ([['in the quarantine, not as asked', style.yellow(String(r.quarantinedFiles))]] as [string, string][]) : []),
          ...(r.verify ? ([['verified', `${r.verify.checked} images, ${mismatches} mismatch(es)`]] as [string, string][]) : []),
        ], '  ');
        if (showPlan) {
          for (const item of listing.shown) lines.push(`  ${convertItemLine(dir, item, dryRun, style)}`);
        } else if (listMode !== 'all') {
          for (const p of problems.slice(0, 20)) lines.push(`  ${convertItemLine(dir, p, dryRun, style)}`);
          if (problemCount > 20) lines.push(`  … and ${problemCount - 20} more`);
          if (listMode === 'short') lines.push(style.dim(`  ${itemCount} actions: --list shows every one`));
        }
        return lines;
      },
    });
  } finally {
    listing.dispose();
  }
  if (!r.scanComplete) note(ctx, 'warning: the scan was incomplete (some paths could not be read)');
  if (r.sourcesKept !== undefined) note(ctx, `warning: ${r.sourcesKept}`);
  const quarantined = r.quarantinedFiles ?? 0;
  if (quarantined > 0) note(ctx, quarantinedWarning(quarantined, decrypt ? 'decrypt' : 'encrypt'));
  if (r.quarantineUnchecked !== undefined) note(ctx, quarantineUncheckedWarning(r.quarantineUnchecked));
  for (const index of r.indexes ?? []) note(ctx, index.cleared ? `index removed (${index.path}): its entries described the files in plaintext; the next run builds it again` : `warning: the index (${index.path}) may describe the files in plaintext and could not be removed: ${index.error}; run image-sidecar index clear`);
  // Quarantined files still encrypted after --decrypt are findings: a key given up after the run
  // would lose them (plaintext ones left by --encrypt lose nothing: the warning says so).
  return r.failed > 0 || r.conflicts > 0 || mismatches > 0 || (decrypt && (quarantined > 0 || r.quarantineUnchecked !== undefined)) || !r.scanComplete ? EXIT_FINDINGS : EXIT_CLEAN;
}
