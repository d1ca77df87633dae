/**
 * `resolve`: one sidecar per image again. Keeps one verified file per image (`--prefer`) and
 * quarantines the others as cleanup does, so `restore` undoes it. Exit 1 when some image was
 * left alone or a file could not be moved.
 */
import { relative } from 'node:path';
import { EXIT_CLEAN, EXIT_FINDINGS } from '../errors.js';
import type { ResolvePreference } from '../ops/resolve.js';
import { resolveMessage } from '../messages.js';
import { engineOptions, inputDirectory, note, optString, type CommandContext } from './context.js';
import { emit } from './emit.js';
import { progressFor } from './progress.js';

/** Decisions shown in the human summary. */
const SHOWN = 40;

export async function run(ctx: CommandContext): Promise<number> {
  const dir = await inputDirectory(ctx);
  const { resolveConflicts } = await import('../ops/resolve.js');
  const dryRun = ctx.opts.dryRun === true;
  const progress = progressFor(ctx, 'scanning');
  let r;
  try {
    r = await resolveConflicts(dir, {
      ...engineOptions(ctx),
      prefer: (optString(ctx, 'prefer') ?? 'newest') as ResolvePreference,
      dryRun,
      onProgress: progress.update,
    });
  } finally {
    progress.finish();
  }
  const files = dryRun ? r.decisions.reduce((n, d) => n + d.quarantine.length, 0) : r.quarantined;
  const rel = (p: string) => relative(dir, p) || '.';
  await emit(ctx, {
    result: r,
    message: resolveMessage(dryRun, r.resolved, files),
    what: 'resolve report',
    human: (style) => {
      const lines: string[] = [];
      for (const d of r.decisions.slice(0, SHOWN)) {
        if (d.keep === null) lines.push(`  ${style.yellow(d.image)}: ${d.reason}`);
        else lines.push(`  ${d.image}: keep ${rel(d.keep)} (${d.reason}); quarantine ${d.quarantine.map(rel).join(', ')}`);
      }
      if (r.decisions.length > SHOWN) lines.push(`  … and ${r.decisions.length - SHOWN} more`);
      if (r.decisions.length === 0) lines.push('  no image has more than one sidecar');
      for (const s of r.skipped) lines.push(`  ${style.yellow(s.rel)}: left in place: ${s.reason}`);
      return lines;
    },
  });
  if (!dryRun && r.quarantined > 0) note(ctx, `undo with: image-sidecar restore ${JSON.stringify(dir)}`);
  if (!r.scanComplete) note(ctx, 'warning: the scan was incomplete (some paths could not be read)');
  return r.unresolved > 0 || r.skipped.length > 0 || !r.scanComplete ? EXIT_FINDINGS : EXIT_CLEAN;
}
