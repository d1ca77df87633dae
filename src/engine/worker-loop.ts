import { parentPort } from 'node:worker_threads';
import { errors, isSidecarError } from '../errors.js';
import type { BatchRequest, BatchResponse } from './messages.js';
import { relieveHeap } from './heap-relief.js';
import { WORKER_HEAP_BOUND } from '../tuning.js';

/** A task's packing of its results (tasks/index.ts packResultsByName); null: the task has none, they go as they are. */
export type PackResults = (task: string, results: readonly unknown[], items: readonly unknown[]) => { packed: unknown; transfer: ArrayBuffer[] } | null;

/**
 * A worker thread's loop: one message per batch in, one per batch out, run by `run`; with `pack`,
 * a task that has a compact form is answered in it (one message, moved buffers), always: a packing
 * that fails fails the batch, as the task failing would.
 */
export function serveBatches(run: (task: string, items: readonly unknown[], options: unknown) => unknown[] | Promise<unknown[]>, pack?: PackResults, unpackItems?: (task: string, packed: unknown) => unknown[]): void {
  const port = parentPort;
  if (!port) throw errors.internal('serveBatches must run in a worker thread');
  const answer = (req: BatchRequest, items: readonly unknown[], outcome: { results: unknown[] } | { packed: unknown } | { e: unknown }) => {
    const { id, task } = req;
    let res: BatchResponse;
    let transfer: ArrayBuffer[] = [];
    if ('results' in outcome && pack) {
      try {
        const packed = pack(task, outcome.results, items);
        if (packed !== null) {
          transfer = packed.transfer;
          outcome = { packed: packed.packed };
        }
      } catch (e) {
        outcome = { e: errors.internal(`task ${task}: its results could not be packed: ${(e as Error)?.message ?? e}`, e) };
      }
    }
    if ('packed' in outcome) res = { id, packed: outcome.packed };
    else if ('results' in outcome) res = { id, results: outcome.results };
    else {
      const e = outcome.e;
      const err = isSidecarError(e) ? e : errors.internal(`task ${task} failed: ${(e as Error)?.message ?? e}`, e);
      res = { id, error: err.toJSON() };
    }
    port.postMessage(res, transfer);
    relieveHeap(WORKER_HEAP_BOUND);
  };
  // Batches are answered one at a time, in the order they came (the pool matches an answer to its
  // thread's oldest batch): one that comes while an async one runs waits for that one's answer.
  let running: Promise<void> | undefined;
  port.on('message', (req: BatchRequest) => {
    const p = running === undefined ? serve(req) : running.then(() => serve(req));
    if (p === undefined) return;
    running = p;
    void p.then(() => void (running === p && (running = undefined)));
  });
  const serve = (req: BatchRequest): Promise<void> | undefined => {
    let out: unknown[] | Promise<unknown[]>;
    let items: readonly unknown[] = [];
    try {
      if (req.itemsPacked && !unpackItems) throw errors.internal(`task ${req.task}: packed items this thread cannot read`);
      items = req.itemsPacked ? unpackItems!(req.task, req.items) : (req.items as readonly unknown[]);
      out = run(req.task, items, req.options);
    } catch (e) {
      answer(req, items, { e });
      return undefined;
    }
    // An async task (convert: its fsyncs in flight together; inspect reading ahead on a file
    // server) answers when it is done.
    if (out instanceof Promise) return out.then((results) => answer(req, items, { results }), (e: unknown) => answer(req, items, { e }));
    answer(req, items, { results: out });
    return undefined;
  };
}
