/** `doctor`: what this installation runs with (version, engine, workers, limits). */
import { EXIT_CLEAN } from '../errors.js';
import type { CommandContext } from './context.js';
import { emit } from './emit.js';
import { doctorSummary } from './summaries.js';

export async function run(ctx: CommandContext): Promise<number> {
  const { performanceInfo } = await import('../ops/performance.js');
  const info = performanceInfo();
  await emit(ctx, { result: info, what: 'performance information', human: (style) => doctorSummary(info, style) });
  return EXIT_CLEAN;
}
