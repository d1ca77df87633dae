/**
 * Whether a worker thread may be ended now: not while its own async file-system calls are in
 * flight. A call made on libuv's pool that comes back after its thread has ended has nobody to
 * run its callback, so a descriptor it opened is never closed (an abort in the middle of a read
 * ahead on a file server left up to 56 open). One word of shared memory per thread, made by the
 * pool and passed in the thread's workerData:
 *
 * - FREE: no async call in flight (the thread runs synchronous code or waits): the pool may end it.
 * - IN_FLIGHT: the thread has calls in flight; the pool asks them to stop instead (STOP).
 * - STOP: the thread makes no new call, and sets FREE once those in flight are back (and closed).
 * - ENDING: the pool is ending the thread; it makes no async call any more.
 *
 * The main thread (the inline engine, a caller that runs batches) has no word: nobody ends it.
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

/** Before making async calls: false when the thread is being ended (make none). */
function beginCalls(): boolean {
  return word === null || Atomics.compareExchange(word, 0, FREE, IN_FLIGHT) === FREE;
}

/** True once the pool has asked this thread's calls to stop: make no new one. */
function callsStopAsked(): boolean {
  return word !== null && Atomics.load(word, 0) === STOP;
}

/** Every call begun is back (its descriptor closed): the thread may be ended again. */
function endCalls(): void {
  if (word === null) return;
  Atomics.store(word, 0, FREE);
  Atomics.notify(word, 0);
}

/** Fired once the pool asks this thread's calls to stop (the `signal` manyAtOnce takes). */
const STOP_ASKED = {
  get aborted(): boolean {
    return callsStopAsked();
  },
};

/**
 * `run`'s async calls, begun and ended on this thread's word; `run` makes no new call once
 * `stopAsked.aborted` (pass it to manyAtOnce) and resolves when every call it made is back.
 * Resolves with null when the thread is being ended (`run` is not called), or was asked to stop
 * meanwhile (what `run` got is not used: its batch is given up).
 */
export function withCallsInFlight<T>(run: (stopAsked: { readonly aborted: boolean }) => Promise<T>): Promise<T | null> {
  if (!beginCalls()) return Promise.resolve(null);
  return run(STOP_ASKED).then(
    (r) => {
      const stopped = callsStopAsked();
      endCalls();
      return stopped ? null : r;
    },
    (e: unknown) => {
      endCalls();
      throw e;
    },
  );
}

/**
 * The pool's side, to end a thread: true when it may be ended now (it then makes no async call
 * any more); else its calls in flight are asked to stop, and `callsEnded` resolves when they are back.
 */
export function mayEndThread(w: Int32Array): boolean {
  for (;;) {
    const was = Atomics.compareExchange(w, 0, FREE, ENDING);
    if (was === FREE || was === ENDING) return true;
    if (was === STOP || Atomics.compareExchange(w, 0, IN_FLIGHT, STOP) === IN_FLIGHT) return false;
    // It went FREE in between: try again.
  }
}

/** Resolves when a thread asked to stop has its calls back, or after `ms` (a call that never comes back). */
export function callsEnded(w: Int32Array, ms: number): Promise<void> {
  const was = Atomics.load(w, 0);
  if (was !== IN_FLIGHT && was !== STOP) return Promise.resolve();
  const waited = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<string> | string } }).waitAsync(w, 0, was, ms);
  return waited.async ? (waited.value as Promise<string>).then(() => undefined) : Promise.resolve();
}

/**
 * What a batch given up on a stop fails with. The stop may reach a batch behind the aborted one
 * (the aborted one's answer already on its way): the pool runs such a batch again.
 */
export function stoppedBatch(): SidecarError {
  return new SidecarError('INTERNAL', 'batch stopped: its thread was asked to stop its calls', { details: { callsStopped: true } });
}

/** A batch's error is `stoppedBatch`'s. */
export function isStoppedBatch(e: { details?: Record<string, unknown> }): boolean {
  return e.details?.callsStopped === true;
}
