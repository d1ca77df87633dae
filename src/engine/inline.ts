import { runTask, type TaskItem, type TaskName, type TaskOptions, type TaskResult } from '../tasks/index.js';
import { setBigFileRelief } from '../tasks/big-file-turn.js';
import { relieveAfterBigFile } from './heap-relief.js';
import type { RunOptions, Runtime } from './runtime.js';

/** Runs batches on the calling thread; yields to the event loop between batches. */
export class InlineRuntime implements Runtime {
  readonly kind = 'inline' as const;
  readonly workers = 1;
  constructor() {
    setBigFileRelief(relieveAfterBigFile); // this thread decodes big files: collect after each
  }
  async run<N extends TaskName>(task: N, items: readonly TaskItem<N>[], options: TaskOptions<N>, opts?: RunOptions): Promise<TaskResult<N>[]> {
    // Yield first so progress output and signals get a turn between batches.
    await new Promise<void>((resolve) => setImmediate(resolve));
    opts?.signal?.throwIfAborted();
    return runTask(task, items, options);
  }
  async close(): Promise<void> {}
}
