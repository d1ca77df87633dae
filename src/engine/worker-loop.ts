import { parentPort } from 'node:worker_threads';
import { errors, isSidecarError } from '../errors.js';
import type { BatchRequest, BatchResponse } from './messages.js';

/** A worker thread's loop: one message per batch in, one per batch out, run by `run`. */
export function serveBatches(run: (task: string, items: readonly unknown[], options: unknown) => unknown[]): void {
  const port = parentPort;
  if (!port) throw errors.internal('serveBatches must run in a worker thread');
  port.on('message', (req: BatchRequest) => {
    let res: BatchResponse;
    try {
      res = { id: req.id, results: run(req.task, req.items, req.options) };
    } catch (e) {
      const err = isSidecarError(e) ? e : errors.internal(`task ${req.task} failed: ${(e as Error)?.message ?? e}`, e);
      res = { id: req.id, error: err.toJSON() };
    }
    port.postMessage(res);
  });
}
