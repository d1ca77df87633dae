/**
 * A worker thread is ended only while none of the async calls it began with `withCallsInFlight`
 * (its reads ahead on a file server) is in flight. A call that comes back after its thread has
 * ended cannot run its callback: a close still queued on libuv's pool then never runs, and its
 * descriptor stays open (an abort in the middle of a read ahead left them open, every one in the
 * test of it). One word of shared memory per thread, made by the pool, passed in its workerData:
 *
 * - FREE: no such call in flight (the thread runs synchronous code or waits): the pool may end it.
 * - IN_FLIGHT: calls in flight; the pool asks them to stop instead (STOP).
 * - STOP: the thread makes no new call, and sets FREE once those in flight are back (and closed).
 * - ENDING: the pool is ending the thread, or it has exited; it makes no such call any more.
 *
 * The main thread (the inline engine, a caller that runs batches) has no word: nobody ends it.
 * Convert's async writes are not marked: its batches are never aborted mid-batch
 * (TaskDef.interruptible), and the pool is closed after them.
 */
import { SidecarError } from '../errors.js';

const FREE = 0;
const IN_FLIGHT = 1;
const ENDING = 2;
const STOP = 3;

/** This worker thread's word (null: the main thread, or a thread the pool did not give one). */
let word: Int32Array | null = null;

/** A new thread's word (the pool's side). */
export function newCallsWord(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** In a worker thread, at its start: its word, from its workerData. */
export function useCallsWord(memory: unknown): void {
  word = memory instanceof SharedArrayBuffer ? new Int32Array(memory) : null;
}

/** The pool asked this thread's calls to stop (the `signal` manyAtOnce takes). */
const STOP_ASKED = {
  get aborted(): boolean {
    return word !== null && Atomics.load(word, 0) === STOP;
  },
};

/**
 * `run`'s async calls, begun and ended on this thread's word: `run` makes no new call once
 * `stop.aborted` (pass it to manyAtOnce), and resolves when every call it made is back. Rejects
 * with `stoppedBatch()` when the thread is being ended (`run` is not called) or was asked to stop
 * meanwhile (what `run` got is not used: its batch is given up). One at a time per thread (the
 * worker loop runs one batch at a time): a second while one is in flight is refused the same way.
 */
export function withCallsInFlight<T>(run: (stop: { readonly aborted: boolean }) => Promise<T>): Promise<T> {
  if (word !== null && Atomics.compareExchange(word, 0, FREE, IN_FLIGHT) !== FREE) return Promise.reject(stoppedBatch());
  const end = (): boolean => {
    const stopped = STOP_ASKED.aborted;
    if (word !== null) {
      Atomics.store(word, 0, FREE);
      Atomics.notify(word, 0);
    }
    return stopped;
  };
  return run(STOP_ASKED).then(
    (r) => {
      if (end()) throw stoppedBatch();
      return r;
    },
    (e: unknown) => {
      end();
      throw e;
    },
  );
}

/**
 * The pool's side, to end a thread: true when it may be ended now (its word is then ENDING: it
 * begins no call any more); else its calls in flight are asked to stop (STOP): wait with
 * `wordChange`, and ask again.
 */
export function endOrStopCalls(w: Int32Array): boolean {
  for (;;) {
    const was = Atomics.compareExchange(w, 0, FREE, ENDING);
    if (was === FREE || was === ENDING) return true;
    if (was === STOP || Atomics.compareExchange(w, 0, IN_FLIGHT, STOP) === IN_FLIGHT) return false;
    // It went FREE in between: try again.
  }
}

/** The thread has exited: nothing of its can come back (its word as if ended). */
export function threadExited(w: Int32Array): void {
  Atomics.store(w, 0, ENDING);
  Atomics.notify(w, 0);
}

/** Resolves when a thread's word changes from calls in flight, or after `ms` (a call that never comes back). */
export function wordChange(w: Int32Array, ms: number): Promise<void> {
  const was = Atomics.load(w, 0);
  if (was !== IN_FLIGHT && was !== STOP) return Promise.resolve();
  const waited = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }).waitAsync(w, 0, was);
  if (!waited.async) return Promise.resolve();
  return new Promise((resolve) => {
    // The timer bounds the wait, and keeps the process alive meanwhile (a pending waitAsync does not).
    const timer = setTimeout(resolve, ms);
    void (waited.value as Promise<string>).then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * What a batch given up on a stop fails with. The stop may reach the batch behind the aborted one
 * (the aborted one's answer already on its way): the pool runs such a batch again.
 */
export function stoppedBatch(): SidecarError {
  return new SidecarError('INTERNAL', 'batch stopped: its thread was asked to stop its calls', { details: { callsStopped: true } });
}

/** A batch's error is `stoppedBatch`'s. */
export function isStoppedBatch(e: { details?: Record<string, unknown> }): boolean {
  return e.details?.callsStopped === true;
}
