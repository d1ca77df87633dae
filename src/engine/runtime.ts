import type { TaskName } from '../tasks/index.js';

/** One interface, two runtimes: batches of items run in-process or on worker threads. */
export interface Runtime {
  readonly kind: 'inline' | 'threads';
  readonly workers: number;
  /** Run one batch through a registered task; results keep the items' order. */
  run<R = unknown>(task: TaskName, items: readonly unknown[], options: unknown): Promise<R[]>;
  close(): Promise<void>;
}
