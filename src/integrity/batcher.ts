import type { Runtime } from '../engine/runtime.js';
import type { TaskName } from '../tasks/index.js';

export type ExpectingRuntime = Runtime & { expect?: (n: number) => void };

/**
 * Feeds items to the engine in batches while the producer (a walk or a scan) keeps streaming,
 * with a bound on the batches in flight so memory stays flat on huge trees. Results are handed
 * to `onResults` batch by batch (in completion order: callers that need an order sort later).
 */
export class Batcher<I, R> {
  private items: I[] = [];
  private readonly inflight: Promise<void>[] = [];
  private failure: { e: unknown } | null = null;
  private submitted = 0;
  private readonly maxInflight: number;

  constructor(
    private readonly runtime: ExpectingRuntime,
    private readonly task: TaskName,
    private readonly options: unknown,
    private readonly onResults: (items: I[], results: R[]) => void,
    private readonly batchSize = 64,
  ) {
    this.maxInflight = Math.max(2, runtime.workers * 2);
  }

  /** Queue one item; waits only when too many batches are already running. */
  async add(item: I): Promise<void> {
    this.items.push(item);
    if (this.items.length >= this.batchSize) await this.flush();
  }

  /** Send the partial batch now, then wait for room. */
  async flush(): Promise<void> {
    this.rethrow();
    if (this.items.length > 0) {
      const batch = this.items;
      this.items = [];
      this.submitted += batch.length;
      this.runtime.expect?.(this.submitted);
      // The catch is attached at once: a failing batch must not become an unhandled rejection
      // while the producer is busy; the error is rethrown on the next add/flush/finish.
      const p = this.runtime
        .run<R>(this.task, batch, this.options)
        .then((results) => this.onResults(batch, results))
        .catch((e: unknown) => {
          this.failure ??= { e };
        });
      this.inflight.push(p);
    }
    while (this.inflight.length > this.maxInflight) await this.inflight.shift();
    this.rethrow();
  }

  /** Send what is left and wait for every batch. */
  async finish(): Promise<void> {
    await this.flush();
    while (this.inflight.length > 0) await this.inflight.shift();
    this.rethrow();
  }

  /** Wait for running batches without raising (used on the error path before closing the runtime). */
  async settle(): Promise<void> {
    while (this.inflight.length > 0) await this.inflight.shift();
  }

  private rethrow(): void {
    if (this.failure) throw this.failure.e;
  }
}
