import { parentPort } from 'node:worker_threads';
import { errors, isSidecarError } from '../errors.js';
import type { BatchRequest, BatchResponse } from './messages.js';
import { relieveHeap } from './heap-relief.js';
import { WORKER_HEAP_BOUND } from '../tuning.js';

/** A task's packing of its results (tasks/index.ts packResultsByName); null: send them as they are. */
export type PackResults = (task: string, results: readonly unknown[], items: readonly unknown[]) => { packed: unknown; transfer: ArrayBuffer[] } | null;

/**
 * A worker thread's loop: one message per batch in, one per batch out, run by `run`; with `pack`,
 * a request that asks for it is answered in the task's compact form (one message, moved buffers).
 */
export function serveBatches(run: (task: string, items: readonly unknown[], options: unknown) => unknown[] | Promise<unknown[]>, pack?: PackResults, unpackItems?: (task: string, packed: unknown) => unknown[]): void {
  const port = parentPort;
  if (!port) throw errors.internal('serveBatches must run in a worker thread');
  const answer = (req: BatchRequest, items: readonly unknown[], outcome: { results: unknown[] } | { e: unknown }) => {
    const { id, task } = req;
    let res: BatchResponse;
    let transfer: ArrayBuffer[] = [];
    let packed: ReturnType<PackResults> = null;
    if ('results' in outcome && req.pack && pack) {
      try {
        packed = pack(task, outcome.results, items);
      } catch {
        packed = null; // a result the packed form does not foresee: the results go as they are
      }
    }
    if (packed !== null) {
      transfer = packed.transfer;
      res = { id, packed: packed.packed };
    } else if ('results' in outcome) {
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
    let items: readonly unknown[] = [];
    try {
      if (req.itemsPacked && !unpackItems) throw errors.internal(`task ${req.task}: packed items this thread cannot read`);
      items = req.itemsPacked ? unpackItems!(req.task, req.items) : (req.items as readonly unknown[]);
      out = run(req.task, items, req.options);
    } catch (e) {
      answer(req, items, { e });
      return;
    }
    // An async task (convert: its fsyncs in flight together) answers when it is done; the pool
    // sends a thread its next batch only after this answer.
    if (out instanceof Promise) out.then((results) => answer(req, items, { results }), (e: unknown) => answer(req, items, { e }));
    else answer(req, items, { results: out });
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

