import type { TaskItem, TaskName, TaskOptions, TaskResult } from '../tasks/index.js';

export interface RunOptions {
  /**
   * Abort this batch: a queued batch is dropped; a running one has its thread ended and replaced,
   * or, while that thread has async calls in flight, those calls stopped and its answer dropped
   * (pass a signal only for tasks that may stop mid-batch, see TaskDef.interruptible).
   */
  signal?: AbortSignal;
}

/** One interface, two runtimes: batches of items run in-process or on worker threads. */
export interface Runtime {
  readonly kind: 'inline' | 'threads';
  readonly workers: number;
  /** Run one batch through a registered task; results keep the items' order. */
  run<N extends TaskName>(task: N, items: readonly TaskItem<N>[], options: TaskOptions<N>, opts?: RunOptions): Promise<TaskResult<N>[]>;
  /**
   * The operation has now seen this many items in total, `run` of them going to the engine (the
   * rest answered otherwise: the incremental index's hits; default all). An adaptive runtime sizes
   * its report by the first and starts threads by the second.
   */
  expect?(items: number, run?: number): void;
  /**
   * Work is coming: a runtime that will use threads starts them now, so that they boot while the
   * caller walks and pairs instead of after the first batch is ready.
   */
  warm?(): void;
  /**
   * True while the runtime would still choose its engine by more work (an adaptive runtime below
   * its break-even, nothing run yet): a caller that can look ahead holds its batches until this
   * turns false or its source ends, so no batch runs on an engine the whole work would not pick.
   */
  readonly undecided?: boolean;
  close(): Promise<void>;
}
