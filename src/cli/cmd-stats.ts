/** `stats` and `format-stats`: aggregates of a tree, byte-identical across runs and worker counts. */
import { EXIT_CLEAN, EXIT_FINDINGS } from '../errors.js';
import { engineOptions, indexOptions, inputDirectory, note, optString, type CommandContext } from './context.js';
import { emit, type Emission } from './emit.js';
import { progressFor } from './progress.js';
import { formatStatsSummary, statsSummary } from './summaries.js';

/** Run the aggregate for this command; `complete` is false when part of the tree could not be read. */
async function compute(ctx: CommandContext, dir: string, onProgress: (done: number) => void): Promise<Emission & { complete: boolean }> {
  if (ctx.command === 'format-stats') {
    const { formatStats } = await import('../ops/format-stats.js');
    const result = await formatStats(dir, { ...engineOptions(ctx),
      ...indexOptions(ctx), onProgress });
    return { result, complete: result.scan_complete, what: 'format statistics', human: (style) => formatStatsSummary(result, style) };
  }
  const { stats } = await import('../ops/stats.js');
  const result = await stats(dir, {
    ...engineOptions(ctx),
      ...indexOptions(ctx),
    operationType: optString(ctx, 'operationType'),
    list: ctx.opts.list === true,
    where: optString(ctx, 'where'),
    onProgress,
  });
  return { result, complete: result.scan_complete, what: 'statistics', human: (style) => statsSummary(result, style) };
}

export async function run(ctx: CommandContext): Promise<number> {
  if (ctx.opts.shard !== undefined) return (await import('./cmd-shard.js')).runShard(ctx, ctx.command === 'format-stats' ? 'format-stats' : 'stats');
  const dir = await inputDirectory(ctx);
  const progress = progressFor(ctx, 'scanning');
  let out;
  try {
    out = await compute(ctx, dir, progress.update);
  } finally {
    progress.finish();
  }
  await emit(ctx, out);
  if (!out.complete) note(ctx, 'warning: the scan was incomplete (some paths could not be read); see scan_problems');
  else if (ctx.command === 'stats') await noteRelinkable(ctx, dir, out.result as { categories: { orphan: number } });
  return out.complete ? EXIT_CLEAN : EXIT_FINDINGS;
}

/**
 * Orphans whose images moved or were renamed inside the library: said on stderr (the JSON stays
 * the mergeable aggregate), so nobody quarantines results `relink` could put back. A second,
 * warm scan, only when there are orphans.
 */
async function noteRelinkable(ctx: CommandContext, dir: string, result: { categories: { orphan: number } }): Promise<void> {
  if (ctx.opts.quiet === true || result.categories.orphan === 0) return;
  const { planRelink } = await import('../ops/relink.js');
  const plan = await planRelink(dir, { ...engineOptions(ctx), ...indexOptions(ctx) }).catch(() => null);
  if (plan === null) return; // only a note: the statistics above are the answer
  const n = plan.matches.reduce((k, m) => k + m.sidecars.length, 0);
  if (n > 0) note(ctx, `${n} of the ${result.categories.orphan} orphan(s) belong to images that moved or were renamed inside the library: image-sidecar relink ${JSON.stringify(dir)} --dry-run`);
}
