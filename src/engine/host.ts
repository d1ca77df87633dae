/**
 * `tuneHost`, by which an entry point that owns its process (the CLI, the bench runner) lets the
 * engine tune it. A library never tunes its host: without tuneHost, no V8 flag is set and the main
 * thread's heap is never collected by force (heap-relief.ts). The worker threads are ours: they
 * collect their own heaps and run with their own young generation (threads.ts, worker.ts) either way.
 */
import { setFlagsFromString } from 'node:v8';
import { INTERRUPT_BUDGET, WORKER_INITIAL_OLD_SPACE_MB } from '../tuning.js';
import { allowCollections } from './heap-relief.js';

/**
 * The flags tuneHost sets, each with the pattern of the user's own setting that keeps it unset
 * (V8 takes its flags with '-' or '_' between words: `--interrupt_budget=...`). The heap flag
 * applies to isolates made after it is set: the worker threads (WORKER_INITIAL_OLD_SPACE_MB).
 */
const TUNED_FLAGS: readonly { flag: string; own: RegExp }[] = [
  { flag: `--interrupt-budget=${INTERRUPT_BUDGET}`, own: /interrupt[-_]budget/ },
  // Any heap size of the user's own (initial or maximum) leaves the heap to them.
  { flag: `--initial-old-space-size=${WORKER_INITIAL_OLD_SPACE_MB}`, own: /(initial|max)[-_](old[-_]space|heap)[-_]size/ },
];

/**
 * An entry point tunes its own process, before any thread starts (they inherit the flags): it sets
 * the V8 flags the user did not set a value of their own for (command line or NODE_OPTIONS), and
 * lets the main thread collect its heap past MAIN_HEAP_BOUND and SERVED_HEAP_BOUND. Returns the
 * flags it set.
 */
export function tuneHost(execArgv: readonly string[], nodeOptions: string | undefined): readonly string[] {
  const flags = hostFlags(execArgv, nodeOptions);
  for (const flag of flags) setFlagsFromString(flag);
  allowCollections();
  return flags;
}

/** The flags tuneHost sets under this command line and NODE_OPTIONS. */
export function hostFlags(execArgv: readonly string[], nodeOptions: string | undefined): readonly string[] {
  return TUNED_FLAGS.filter(({ own }) => !execArgv.some((a) => own.test(a)) && !own.test(nodeOptions ?? '')).map(({ flag }) => flag);
}
