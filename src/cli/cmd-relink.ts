/**
 * `relink DIR`: orphaned sidecars back next to their moved or renamed images (ops/relink.ts).
 * Ambiguous orphans are listed with their candidates and are findings (exit 1), as are planned
 * moves left undone and orphan-named files that cannot be read; orphans with no evidence at all
 * are reported, not findings (cleanup's business).
 */
import { EXIT_CLEAN, EXIT_FINDINGS } from '../errors.js';
import { engineOptions, inputDirectory, note, type CommandContext } from './context.js';
import { emit } from './emit.js';
import { progressFor } from './progress.js';

export async function run(ctx: CommandContext): Promise<number> {
  const dir = await inputDirectory(ctx);
  const { relink } = await import('../ops/relink.js');
  const dryRun = ctx.opts.dryRun === true;
  const progress = progressFor(ctx, 'scanning');
  let r;
  try {
    r = await relink(dir, { ...engineOptions(ctx), dryRun, hashImages: ctx.opts.hashImages === true, onProgress: progress.update });
  } finally {
    progress.finish();
  }
  const report = r;
  const files = report.matches.reduce((n, m) => n + m.sidecars.length, 0);
  const message = dryRun ? `Would re-attach ${files} orphaned sidecar files` : `Re-attached ${report.relinked} orphaned sidecar files`;
  await emit(ctx, {
    result: report,
    message,
    what: 'relink report',
    human: (style) => {
      const lines: string[] = [];
      for (const m of report.matches) for (const s of m.sidecars) lines.push(`  ${s.rel} -> ${s.toRel}  (${m.evidence.join(', ')})`);
      if (report.ambiguous.length > 0) lines.push(style.yellow(`${report.ambiguous.length} ambiguous (left in place):`));
      for (const a of report.ambiguous) lines.push(`  ${a.sidecars.join(', ')}: ${a.reason}: ${a.candidates.join(', ')}`);
      if (report.unmatched.length > 0) lines.push(`${report.unmatched.length} orphan(s) with no image to go to (see --json for each reason)`);
      return lines;
    },
  });
  for (const s of report.skipped) note(ctx, `left in place: ${s.reason}`);
  if (!dryRun && report.relinked > 0) note(ctx, `undo with: image-sidecar restore ${JSON.stringify(dir)}`);
  const unreadable = report.unmatched.filter((u) => u.unreadable === true);
  for (const u of unreadable) note(ctx, `${u.sidecars[0]}: ${u.reason}`);
  return report.ambiguous.length > 0 || report.skipped.length > 0 || unreadable.length > 0 ? EXIT_FINDINGS : EXIT_CLEAN;
}
