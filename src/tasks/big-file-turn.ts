/**
 * One big file at a time: the admission rule for files whose decoding costs far more memory than
 * their bytes. Past BIG_FILE_BYTES a sidecar is decoded by the reference decoder into a whole
 * JavaScript graph (a 25 MiB file of 8.7 million `{}`: 1.3 GB of heap), each worker thread has a
 * heap of its own, and the process's resident set adds them up: two threads on big files cost two
 * big files, and a thread that went on to its next big file before collecting the last one cost
 * both. So a worker thread decodes a big file only while it holds the process's one turn (a word
 * of shared memory: the holder's thread id, 0 when free), and every thread collects the file's
 * garbage before it hands the turn on (the engine's relief, engine/heap-relief.ts, set here by
 * `setBigFileRelief`): a tree of big files costs what one costs.
 * A thread waits as soon as its read learns the size, before it holds the file's bytes (up to 64
 * MiB each). Smaller files never wait (a comparison and a flag per file).
 *
 * The main thread never waits for the turn: it alone hands back the turn of a thread that ended
 * while holding it (`freeBigFileTurn`, on the thread's exit: a thread ended mid-file by an abort
 * never runs its `finally`), which it could not do while waiting. It decodes big files only in
 * process (the inline engine; with `callerRuns`, beside a worker's) and collects after each.
 */
import { isMainThread, threadId } from 'node:worker_threads';
import { BIG_FILE_BYTES } from '../tuning.js';

/** The process's turn (the main thread makes it; each worker gets it in its workerData). */
let turn: Int32Array | null = isMainThread ? new Int32Array(new SharedArrayBuffer(4)) : null;

/** The shared memory a worker thread needs (ThreadRuntime passes it in workerData). */
export function bigFileTurnMemory(): SharedArrayBuffer {
  return turn!.buffer as SharedArrayBuffer;
}

/** In a worker thread, at its start: the process's turn (none given: this thread never waits). */
export function useBigFileTurn(memory: unknown): void {
  turn = memory instanceof SharedArrayBuffer ? new Int32Array(memory) : null;
}

/** This thread is on a big file (a worker: holding the turn). */
let onBigFile = false;

/**
 * A read learned its file's size (fs/read-file.ts `into`, before any byte is held): past
 * BIG_FILE_BYTES a worker thread waits here for the turn. Returns the milliseconds waited (no
 * part of the file's own time). Every read this is told of ends in `passBigFileTurn`.
 */
export function waitForBigFileTurn(size: number): number {
  if (size <= BIG_FILE_BYTES || onBigFile) return 0;
  onBigFile = true;
  if (isMainThread || turn === null) return 0;
  let holder = Atomics.compareExchange(turn, 0, 0, threadId);
  if (holder === 0) return 0;
  const from = performance.now();
  while (holder !== 0) {
    Atomics.wait(turn, 0, holder);
    holder = Atomics.compareExchange(turn, 0, 0, threadId);
  }
  return performance.now() - from;
}

/** What this thread does with a big file's garbage before it hands the turn on (none until the engine sets it). */
let relief: (() => void) | null = null;

/** The engine's collection after a big file (engine/heap-relief.ts), for this thread: set by each engine that runs tasks here. */
export function setBigFileRelief(fn: (() => void) | null): void {
  relief = fn;
}

/** After each file (read, decoded, or failed): past a big one, collect what it left (`setBigFileRelief`), then hand the turn on. */
export function passBigFileTurn(): void {
  if (!onBigFile) return;
  onBigFile = false;
  relief?.();
  if (!isMainThread && turn !== null && Atomics.compareExchange(turn, 0, threadId, 0) === threadId) Atomics.notify(turn, 0);
}

/** On a worker thread's exit (main thread): the turn it held, if any, goes to the next thread. */
export function freeBigFileTurn(deadThreadId: number): void {
  if (turn !== null && Atomics.compareExchange(turn, 0, deadThreadId, 0) === deadThreadId) Atomics.notify(turn, 0);
}
