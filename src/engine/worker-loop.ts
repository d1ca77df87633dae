import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { errors, isSidecarError } from '../errors.js';
import type { BatchRequest, BatchResponse } from './messages.js';

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
    relieveMemory();
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

/** A worker's heap above this after a batch is garbage from big files: collect it now. */
const RELIEVE_BYTES = 160 * 1024 * 1024;
let collect: (() => void) | null | undefined;

/**
 * Each worker has a heap of its own, and V8 collects it lazily: after a 60 MB sidecar a worker
 * sits on a few hundred MB of garbage while the next big file goes to the other worker, and the
 * process's peak adds them up (issue 10 §5: 957 MB against a 780 MB bound for export json with 2
 * threads; 779 MB with this). A full collection after such a batch costs far less than the batch.
 */
function relieveMemory(): void {
  // getHeapStatistics: about 0.5 µs; process.memoryUsage() reads /proc (about 13 µs, 1.6 % of a worker's time).
  const h = getHeapStatistics();
  if (h.used_heap_size + h.external_memory < RELIEVE_BYTES) return;
  if (collect === undefined) collect = exposeGc();
  collect?.();
}

function exposeGc(): (() => void) | null {
  try {
    const existing = (globalThis as { gc?: () => void }).gc;
    if (typeof existing === 'function') return existing;
    // The usual way to reach V8's collector without a command-line flag (jest's leak detector
    // does the same): the flag applies to contexts made after it is set.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}
