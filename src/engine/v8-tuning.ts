/**
 * V8 tiering for short runs. Every process and every worker isolate compiles its hot functions
 * with TurboFan on background threads; at V8's default interrupt budget a short run (a shard, a
 * small tree) spent about a third of its CPU compiling functions that then ran only a few hundred
 * times (perf, `stats --shard 3/8` of the 20,000-image bench library: 34 % of all samples in
 * `v8::internal::compiler`). Four times the budget optimises only the code that stays hot: a
 * shard's CPU fell from ~1.7 to ~1.35 s, the whole-library run is unchanged.
 *
 * V8 flags are process-wide, so only entry points call this (the CLI with the server, the bench
 * runner), never the library; worker threads started later inherit it. A budget given on the
 * command line or in NODE_OPTIONS wins.
 */
import { setFlagsFromString } from 'node:v8';

export const INTERRUPT_BUDGET = 4 * 67_584;

export function tuneV8ForShortRuns(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  if (execArgv.some((a) => a.includes('interrupt-budget')) || (nodeOptions ?? '').includes('interrupt-budget')) return false;
  setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
  return true;
}
