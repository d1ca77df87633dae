/**
 * Bounded memory where V8 would be lazy. Every isolate (the main thread, each worker thread) has a
 * heap of its own that V8 lets grow well past what is live before it collects, and the process's
 * peak RSS adds them up. After a batch, a thread whose heap holds more than its bound collects it
 * at once: a full collection of a mostly dead heap costs far less than the batch that filled it.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread } from 'node:worker_threads';
import { MAIN_HEAP_BOUND, WORKER_HEAP_BOUND } from '../tuning.js';

/**
 * Whether this thread may collect by force: a worker thread of our pool (engine/worker.ts), or the
 * main thread of a process whose entry point tuned it (host.ts tuneHost). A library caller's
 * thread never: its heap is its own.
 */
let mayCollect = false;

/** This thread may collect its heap by force from now on (bounds: src/tuning.ts). */
export function allowCollections(): void {
  mayCollect = true;
}

let collect: (() => void) | null | undefined;
/** What the last forced collection left alive (bytes): heap and external, and heap alone. */
let liveAfterCollect = 0;
let liveHeapAfterCollect = 0;

/**
 * Collect this thread's heap if it holds more than `bound` bytes (heap used + external) and the
 * garbage since the last forced collection (what is held beyond what that one left alive) is at
 * least the live heap it left. The second condition keeps the cost linear: a collection rescans
 * the live heap, so when a run keeps more than `bound` alive (an index's state at 10^6 files),
 * collecting after every batch would rescan it each time (quadratic: a 10^6-image first run with
 * the index spent most of its time in GC). Live external memory (array buffers, the WebAssembly
 * scanner's memory) is not rescanned, so it does not raise the bar: it did, when the rule was
 * "twice everything left alive", and a worker that had read a 60 MiB sidecar then kept the next
 * one's garbage (export json of 60 MiB sidecars, 2 threads: 878 MB peak RSS instead of 610).
 * Returns whether it collected; never does on a thread not allowed to (allowCollections).
 */
export function relieveHeap(bound: number): boolean {
  if (!mayCollect) return false;
  // getHeapStatistics: about 0.5 µs; process.memoryUsage() reads /proc (about 13 µs, 1.6 % of a worker's time).
  const h = getHeapStatistics();
  const held = h.used_heap_size + h.external_memory;
  if (held < bound || held - liveAfterCollect < liveHeapAfterCollect) return false;
  if (collect === undefined) collect = exposeGc();
  if (!collect) return false;
  collect();
  const after = getHeapStatistics();
  liveAfterCollect = after.used_heap_size + after.external_memory;
  liveHeapAfterCollect = after.used_heap_size;
  return true;
}

function exposeGc(): (() => void) | null {
  try {
    const existing = (globalThis as { gc?: () => void }).gc;
    if (typeof existing === 'function') return existing;
    // The usual way to reach V8's collector without a command-line flag (jest's leak detector
    // does the same): the flag applies to contexts made after it is set. V8 flags are
    // process-wide, so it is unset again at once: the host's own contexts never get a `gc`.
    setFlagsFromString('--expose-gc');
    try {
      const gc = runInNewContext('gc') as unknown;
      return typeof gc === 'function' ? (gc as () => void) : null;
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  } catch {
    return null;
  }
}

/** A big file's garbage, collected before its turn is handed on (tasks/big-file-turn.ts `setBigFileRelief`). */
export function relieveAfterBigFile(): void {
  relieveHeap(isMainThread ? MAIN_HEAP_BOUND : WORKER_HEAP_BOUND);
}
