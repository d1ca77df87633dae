/**
 * V8 tiering for short runs. Every process and every worker isolate compiles its hot functions
 * with TurboFan on background threads; at V8's default interrupt budget a short run (a shard, a
 * small tree) spent about a third of its CPU compiling functions that then ran only a few hundred
 * times (perf, `stats --shard 3/8` of the 20,000-image bench library: 34 % of all samples in
 * `v8::internal::compiler`). Four times the budget optimises only the code that stays hot: a
 * shard's CPU fell from ~1.7 to ~1.35 s, the whole-library run is unchanged.
 * Sixteen times it, since: per-thread CPU from /proc of a whole-library validate (20,000 images,
 * 2 workers) showed V8's 4 background threads at 210–270 ms each, ~900 ms of 3.4 s, nearly all
 * concurrent TurboFan jobs (209 of them, `--trace-opt`: the big scan functions optimised, deopted
 * at the switch from link-only game folders to the photo folders, and optimised again, in each of
 * three isolates). On 2 cores those threads compete with the work. Budgets swept 3 times each on a
 * loaded machine (CPU of the whole process, validate / stats): 4× 3.63 / 3.65 s, 8× 3.23 / 3.37,
 * 15× (1,000,000) 3.02 / 3.20, 30×–118× within noise of 15×; 16× is taken.
 *
 * V8 flags are process-wide, so only entry points call this (the CLI with the server, the bench
 * runner), never the library; worker threads started later inherit it. A budget given on the
 * command line or in NODE_OPTIONS wins.
 */
import { setFlagsFromString } from 'node:v8';

export const INTERRUPT_BUDGET = 16 * 67_584;

export function tuneV8ForShortRuns(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  if (execArgv.some((a) => a.includes('interrupt-budget')) || (nodeOptions ?? '').includes('interrupt-budget')) return false;
  setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
  return true;
}
