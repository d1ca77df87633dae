/** `sample DIR --images N --seed S`: a deterministic, realistic library to try the other commands on. */
import { EXIT_CLEAN } from '../errors.js';
import { inputPath, type CommandContext } from './context.js';
import { emit } from './emit.js';
import { sampleSummary } from './summaries.js';

export async function run(ctx: CommandContext): Promise<number> {
  const dir = inputPath(ctx);
  const { generateSampleLibrary } = await import('../sample/generate.js');
  const images = typeof ctx.opts.images === 'number' ? ctx.opts.images : 1000;
  const seed = typeof ctx.opts.seed === 'number' ? ctx.opts.seed : 1;
  const r = await generateSampleLibrary(dir, { images, seed });
  await emit(ctx, { result: r, what: 'sample report', human: (style) => sampleSummary(r, style) });
  return EXIT_CLEAN;
}
