/** `index status` (entries, hits, size) and `index clear` of a library's incremental index. */
import { EXIT_CLEAN } from '../errors.js';
import { inputDirectory, userCacheDir, type CommandContext } from './context.js';
import { emit } from './emit.js';

export async function run(ctx: CommandContext): Promise<number> {
  const dir = await inputDirectory(ctx);
  const { indexStatus, clearIndex } = await import('../incremental/manage.js');
  const where = { path: typeof ctx.opts.index === 'string' ? ctx.opts.index : undefined, cacheDir: userCacheDir(ctx.io.env) };
  if (ctx.command === 'index clear') {
    const r = clearIndex(dir, where);
    const message = r.removed ? `Removed index ${r.path}` : `No index at ${r.path}`;
    await emit(ctx, { result: r, message, what: 'index clear result', human: () => [] });
    return EXIT_CLEAN;
  }
  const s = indexStatus(dir, where);
  const human = () => {
    if (!s.exists) return [`No index at ${s.path} (the next validate/stats run builds it)`];
    const lines = [
      `Index ${s.path} (${s.where})${s.valid ? '' : ` — unusable: ${s.problem}; the next run rebuilds it`}`,
      `  entries: ${s.entries}, size: ${s.bytes} bytes${s.bytes_per_entry !== null ? ` (${s.bytes_per_entry} per entry)` : ''}, option sets: ${s.option_sets}`,
    ];
    if (s.last_run) lines.push(`  last run: ${s.last_run.at}: ${s.last_run.hits} hits, ${s.last_run.misses} misses, ${s.last_run.recorded} recorded${s.last_run.records_served ? `, ${s.last_run.records_served} records served whole from folder records` : ''}`);
    lines.push(`  hits over all runs: ${s.total_hits}`);
    return lines;
  };
  await emit(ctx, { result: s, what: 'index status', human });
  return EXIT_CLEAN;
}
