/** `stats` and `format-stats`: aggregates of a tree, byte-identical across runs and worker counts. */
import { EXIT_CLEAN, EXIT_FINDINGS } from '../errors.js';
import { engineOptions, indexOptions, inputDirectory, note, optString, type CommandContext } from './context.js';
import { emit, type Emission } from './emit.js';
import { progressFor } from './progress.js';
import { formatStatsSummary, statsSummary } from './summaries.js';

/** Run the aggregate for this command; `complete` is false when part of the tree could not be read. */
async function compute(ctx: CommandContext, dir: string, onProgress: (done: number) => void): Promise<Emission & { complete: boolean; orphans?: Orphan[] }> {
  if (ctx.command === 'format-stats') {
    const { formatStats } = await import('../ops/format-stats.js');
    const result = await formatStats(dir, { ...engineOptions(ctx),
      ...indexOptions(ctx), onProgress });
    return { result, complete: result.scan_complete, what: 'format statistics', human: (style) => formatStatsSummary(result, style) };
  }
  const { stats } = await import('../ops/stats.js');
  const orphans: Orphan[] = [];
  const result = await stats(dir, {
    onOrphan: (o) => orphans.push(o),
    ...engineOptions(ctx),
      ...indexOptions(ctx),
    operationType: optString(ctx, 'operationType'),
    list: ctx.opts.list === true,
    where: optString(ctx, 'where'),
    onProgress,
  });
  return { result, complete: result.scan_complete, what: 'statistics', human: (style) => statsSummary(result, style), orphans };
}

type Orphan = { path: string; rel: string; format: string | null; size: number };

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
  else if (out.orphans !== undefined) await noteRelinkable(ctx, dir, out.orphans);
  return out.complete ? EXIT_CLEAN : EXIT_FINDINGS;
}

/**
 * Orphans whose images moved or were renamed inside the library: said on stderr (the JSON stays
 * the mergeable aggregate), so nobody quarantines results `relink` could put back. The orphans are
 * the ones this scan met: no second scan, only their records and a walk of the images.
 */
async function noteRelinkable(ctx: CommandContext, dir: string, orphans: Orphan[]): Promise<void> {
  if (ctx.opts.quiet === true || orphans.length === 0) return;
  const { planRelink } = await import('../ops/relink.js');
  const { imageExtensions, keyring } = engineOptions(ctx);
  const plan = await planRelink(dir, { imageExtensions, keyring }, { orphans }).catch(() => null);
  if (plan === null) return; // only a note: the statistics above are the answer
  const n = plan.matches.reduce((k, m) => k + m.sidecars.length, 0);
  // (The orphans here include stem files other images left behind beside an image's own file, docs/PAIRING.md §3: not in the `orphan` category.)
  if (n > 0) note(ctx, `${n} of the ${orphans.length} orphan(s) belong to images that moved or were renamed inside the library: image-sidecar relink ${JSON.stringify(dir)} --dry-run`);
}
