import { parentPort } from 'node:worker_threads';
import { errors, isSidecarError } from '../errors.js';
import type { BatchRequest, BatchResponse } from './messages.js';
import { relieveHeap, WORKER_HEAP_BOUND } from './heap-relief.js';

/** A worker thread's loop: one message per batch in, one per batch out, run by `run`. */
export function serveBatches(run: (task: string, items: readonly unknown[], options: unknown) => unknown[] | Promise<unknown[]>): void {
  const port = parentPort;
  if (!port) throw errors.internal('serveBatches must run in a worker thread');
  const answer = (id: number, outcome: { results: unknown[] } | { e: unknown }, task: string) => {
    let res: BatchResponse;
    let transfer: ArrayBuffer[] = [];
    if ('results' in outcome) {
      transfer = ownBuffersOf(outcome.results);
      res = { id, results: outcome.results };
    } else {
      const e = outcome.e;
      const err = isSidecarError(e) ? e : errors.internal(`task ${task} failed: ${(e as Error)?.message ?? e}`, e);
      res = { id, error: err.toJSON() };
    }
    port.postMessage(res, transfer);
    relieveHeap(WORKER_HEAP_BOUND);
  };
  port.on('message', (req: BatchRequest) => {
    let out: unknown[] | Promise<unknown[]>;
    try {
      out = run(req.task, req.items, req.options);
    } catch (e) {
      answer(req.id, { e }, req.task);
      return;
    }
    // An async task (convert: its fsyncs in flight together) answers when it is done; the pool
    // sends a thread its next batch only after this answer.
    if (out instanceof Promise) out.then((results) => answer(req.id, { results }, req.task), (e: unknown) => answer(req.id, { e }, req.task));
    else answer(req.id, { results: out }, req.task);
  });
}

/**
 * Byte arrays that own their whole ArrayBuffer, in the results' top-level fields (e.g. a big
 * sidecar's exported JSON): moved to the main thread instead of copied. Pool slices (small
 * Buffers share one ArrayBuffer) are cloned as usual.
 */
function ownBuffersOf(results: readonly unknown[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const r of results) {
    if (r === null || typeof r !== 'object') continue;
    for (const v of Object.values(r)) {
      if (v instanceof Uint8Array && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength && v.buffer instanceof ArrayBuffer) {
        out.push(v.buffer);
      }
    }
  }
  return out;
}

