import { runTask, type TaskName } from '../tasks/index.js';
import type { Runtime } from './runtime.js';

/** Runs batches on the calling thread; yields to the event loop between batches. */
export class InlineRuntime implements Runtime {
  readonly kind = 'inline' as const;
  readonly workers = 1;
  async run<R>(task: TaskName, items: readonly unknown[], options: unknown): Promise<R[]> {
    // Yield first so progress output and signals get a turn between batches.
    await new Promise<void>((resolve) => setImmediate(resolve));
    return runTask(task, items, options) as R[];
  }
  async close(): Promise<void> {}
}
