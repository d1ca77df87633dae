/**
 * V8 tiering for runs on worker threads. Every process and every worker isolate compiles its hot
 * functions with TurboFan on background threads; at V8's default interrupt budget a short run (a
 * shard, a small tree) spent about a third of its CPU compiling functions that then ran only a few
 * hundred times (perf, `stats --shard 3/8` of the 20,000-image bench library: 34 % of all samples in
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
 * Only once a run walks the tree or starts a worker pool (session 19): a run answered by the
 * index's tree memo does neither. It has the second core to itself, so its compile jobs cost no
 * time, and the code it runs is cold Node code run once per file (a stat of every sidecar,
 * ~18,700 on the bench library), which the high budget kept in the interpreter: that stat loop
 * took 99 ms instead of 75, a warm `validate` ~150 ms instead of ~140. `--no-index` runs: the same
 * with the budget raised at the walk (interleaved medians, 7 rounds: validate 1,028 / 1,030 ms,
 * stats 1,304 / 1,277); raised only at the pool's start, they were ~25 ms slower.
 *
 * The worker threads' first old-generation limit is raised with it (heap-relief.ts
 * WORKER_INITIAL_OLD_SPACE_MB).
 *
 * V8 flags are process-wide, so only entry points decide (the CLI with the server, the bench
 * runner: `allowV8Tuning`), never the library; it applies it when the long part of a run begins
 * (`applyV8Tuning`: a scan's walk, a thread pool's start), and worker threads inherit it. A flag
 * the user set on the command line or in NODE_OPTIONS wins.
 */
import { setFlagsFromString } from 'node:v8';
import { WORKER_INITIAL_OLD_SPACE_MB } from './heap-relief.js';

export const INTERRUPT_BUDGET = 16 * 67_584;

/**
 * The flags an entry point may set, each with the pattern of the user's own setting that keeps it
 * unset (V8 takes its flags with '-' or '_' between words: `--interrupt_budget=...`). The heap flag
 * applies to isolates made after it is set: the worker threads (heap-relief.ts WORKER_INITIAL_OLD_SPACE_MB).
 */
const TUNED_FLAGS: readonly { flag: string; own: RegExp }[] = [
  { flag: `--interrupt-budget=${INTERRUPT_BUDGET}`, own: /interrupt[-_]budget/ },
  // Any heap size of the user's own (initial or maximum) leaves the heap to them.
  { flag: `--initial-old-space-size=${WORKER_INITIAL_OLD_SPACE_MB}`, own: /(initial|max)[-_](old[-_]space|heap)[-_]size/ },
];

/** Set by an entry point; read when a run's walk or a pool starts. */
let allowed: readonly string[] = [];
let applied: readonly string[] = [];

/**
 * An entry point's consent: set these flags when a run walks the tree or a worker pool starts.
 * Returns the flags it will set: each one the user did not set a value of their own for.
 */
export function allowV8Tuning(execArgv: readonly string[], nodeOptions: string | undefined): readonly string[] {
  allowed = TUNED_FLAGS.filter(({ own }) => !execArgv.some((a) => own.test(a)) && !own.test(nodeOptions ?? '')).map(({ flag }) => flag);
  return allowed;
}

/** Set the allowed flags now, once (a scan's walk and the thread pool call this as they start, before threads start: they inherit them). True when this call set any. */
export function applyV8Tuning(): boolean {
  if (allowed.length === 0 || applied.length > 0) return false;
  applied = allowed;
  for (const flag of applied) setFlagsFromString(flag);
  return true;
}

/** The flags set in this process (tests). */
export function v8TuningApplied(): readonly string[] {
  return applied;
}
