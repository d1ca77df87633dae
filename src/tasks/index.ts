import { errors } from '../errors.js';
import { inspectFiles } from './inspect.js';
import { hashFiles } from './hash.js';
import { convertUnits } from './convert.js';

/**
 * Every per-file job the engine can run, by name. A task is synchronous (worker threads read
 * files with sync calls: much faster than fs.promises for small files) and maps a batch of items
 * to a batch of results in the same order. The same functions run in-process and in workers.
 */
const TASKS = {
  inspect: inspectFiles,
  hash: hashFiles,
  convert: convertUnits,
} as const;

export type TaskName = keyof typeof TASKS;

export function runTask(task: TaskName, items: readonly unknown[], options: unknown): unknown[] {
  const fn = TASKS[task] as ((items: readonly unknown[], options: unknown) => unknown[]) | undefined;
  if (!fn) throw errors.internal(`unknown task: ${task}`);
  return fn(items, options);
}
