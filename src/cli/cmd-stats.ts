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
  return out.complete ? EXIT_CLEAN : EXIT_FINDINGS;
}
