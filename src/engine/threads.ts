import { inExecutable, shippedFile } from '../shipped.js';
import { Worker } from 'node:worker_threads';
import { errorFromJSON, errors } from '../errors.js';
import { isPipelined, packItemsByName, runTask, unpackResultsByName, type TaskItem, type TaskName, type TaskOptions, type TaskResult } from '../tasks/index.js';
import type { BatchRequest, BatchResponse } from './messages.js';
import type { RunOptions, Runtime } from './runtime.js';
import { THREAD_DEPTH, THREAD_STOP_WAIT_MS, WORKER_YOUNG_GENERATION_MB } from '../tuning.js';
import { relieveAfterBigFile } from './heap-relief.js';
import { bigFileTurnMemory, freeBigFileTurn, setBigFileRelief } from '../tasks/big-file-turn.js';
import { endOrStopCalls, isStoppedBatch, newCallsWord, threadExited, wordChange } from '../fs/calls-in-flight.js';

interface Job {
  req: BatchRequest;
  /** The batch's items (the request may carry them packed). */
  items: readonly unknown[];
  resolve: (r: unknown[]) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  /** Aborted while waiting in a thread's queue: its answer, when it comes, is dropped. */
  dropped?: boolean;
}

interface Slot {
  worker: Worker;
  /** The thread's id (worker.threadId reads -1 once it has stopped). */
  threadId: number;
  /** Sent to this thread, in the order it runs them: the first is running, a second may wait behind it. */
  jobs: Job[];
  /** The thread failed or was ended on purpose; its 'exit' is coming. */
  ending: boolean;
  /** Ended by an abort, not by a crash (not counted against the respawn limit). */
  aborted: boolean;
  /** Whether the thread has async calls in flight, and may be ended (fs/calls-in-flight.ts). */
  calls: Int32Array;
}

export interface ThreadPoolOptions {
  /** The worker script (tests use their own; it must call serveBatches). */
  workerUrl?: URL;
  /** Consecutive crashes (no batch finished in between) after which the pool gives up. */
  maxCrashes?: number;
  /** Tasks whose next batch may wait in a busy thread (default: `isPipelined`, tasks/index.ts). */
  pipelined?: (task: string) => boolean;
  /**
   * The calling thread counts as one of `workers` (one thread fewer is started): a batch of a
   * pipelined task that no thread may take now runs on the caller, synchronously, instead of
   * waiting in the queue (synchronously, but on a file server where it reads ahead). Never a batch
   * whose signal has fired; a running one cannot be stopped (one batch: milliseconds). Default false.
   */
  callerRuns?: boolean;
}

const WORKER_URL = new URL('./worker.js', import.meta.url);

/**
 * A fixed pool of worker threads, to the standard of piscina/tinypool: one message per batch
 * (a message per file would cost more than the work), a thread that dies is removed when it exits
 * and replaced exactly once, a batch can be aborted (queued: dropped; running: its thread is ended
 * and replaced, unless it has async calls in flight: they are stopped, fs/calls-in-flight.ts), and
 * an idle pool never keeps the process alive. A thread running a synchronous
 * task is also sent its next batch (at most THREAD_DEPTH in all, like piscina's
 * concurrentTasksPerWorker): it never idles while the main thread, busy walking the tree or
 * printing, has not yet read its last answer.
 */
export class ThreadRuntime implements Runtime {
  readonly kind = 'threads' as const;
  readonly workers: number;
  private readonly slots = new Set<Slot>();
  private readonly idle: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly workerUrl: URL;
  private readonly maxCrashes: number;
  private readonly pipelined: (task: string) => boolean;
  private readonly callerRuns: boolean;
  private crashes = 0;
  private broken: Error | null = null;
  private nextId = 1;
  private closed = false;

  constructor(workers: number, opts: ThreadPoolOptions = {}) {
    this.workers = Math.max(1, workers);
    this.workerUrl = opts.workerUrl ?? WORKER_URL;
    this.maxCrashes = opts.maxCrashes ?? Math.max(3, 2 * this.workers);
    this.pipelined = opts.pipelined ?? isPipelined;
    this.callerRuns = opts.callerRuns === true && this.workers >= 2;
    if (this.callerRuns) setBigFileRelief(relieveAfterBigFile); // this thread decodes big files too: collect after each
    for (let i = this.callerRuns ? 1 : 0; i < this.workers; i++) this.spawn();
  }

  /** Batches the calling thread ran (callerRuns; for tests and the bench). */
  ranByCaller = 0;

  /** Live threads (for tests and diagnostics). */
  get threads(): number {
    return this.slots.size;
  }

  /** Batches sent to each live thread and not yet answered (for tests). */
  get batchesPerThread(): number[] {
    return [...this.slots].map((s) => s.jobs.length);
  }

  /** Thread ids of the live threads (for tests). */
  get threadIds(): number[] {
    return [...this.slots].map((s) => s.worker.threadId);
  }

  private spawn(): void {
    const calls = newCallsWord();
    const opts = { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB }, workerData: { bigFileTurn: bigFileTurnMemory(), calls: calls.buffer } };
    // The standalone executable runs its embedded worker script (shipped.ts); nothing is read beside it.
    const worker = this.workerUrl === WORKER_URL && inExecutable() ? new Worker(shippedFile('worker.js', WORKER_URL).toString('utf8'), { ...opts, eval: true }) : new Worker(this.workerUrl, opts);
    worker.unref(); // an idle pool must never keep the process alive
    const slot: Slot = { worker, threadId: worker.threadId, jobs: [], ending: false, aborted: false, calls };
    this.slots.add(slot);
    this.idle.push(slot);
    worker.on('message', (res: BatchResponse) => this.finish(slot, res));
    // 'error' (an uncaught exception in the thread) is always followed by 'exit': fail the batch
    // here, replace the thread there, so one crash gives exactly one new thread.
    worker.on('error', (e) => this.failSlot(slot, errors.internal(`worker thread failed: ${e.message}`, e)));
    worker.on('exit', (code) => this.exited(slot, code));
  }

  run<N extends TaskName>(task: N, items: readonly TaskItem<N>[], options: TaskOptions<N>, opts: RunOptions = {}): Promise<TaskResult<N>[]> {
    if (this.closed) return Promise.reject(errors.internal('runtime is closed'));
    if (this.broken) return Promise.reject(this.broken);
    const signal = opts.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    // The caller runs it when it would wait in the queue: no idle thread, none that may take it next.
    if (this.callerRuns && this.pipelined(task) && (this.queue.length > 0 || (this.idle.length === 0 && !this.busySlotFor(task)))) {
      this.ranByCaller++;
      try {
        return Promise.resolve(runTask(task, items, options));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return new Promise<TaskResult<N>[]>((resolve, reject) => {
      // A task with a compact form (tasks/index.ts TaskWire) sends its items in it, and gets its results in it.
      const packedItems = packItemsByName(task, items);
      const req: BatchRequest = packedItems !== null ? { id: this.nextId++, task, items: packedItems, itemsPacked: true, options } : { id: this.nextId++, task, items, options };
      const job: Job = { req, items, resolve: resolve as (r: unknown[]) => void, reject, signal };
      if (signal) {
        job.onAbort = () => this.abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.dispatch();
    });
  }

  private settle(job: Job): void {
    if (job.onAbort) job.signal!.removeEventListener('abort', job.onAbort);
  }

  private abort(job: Job): void {
    const q = this.queue.indexOf(job);
    if (q >= 0) {
      this.queue.splice(q, 1);
      this.settle(job);
      job.reject(job.signal!.reason);
      return;
    }
    for (const slot of this.slots) {
      const at = slot.jobs.indexOf(job);
      if (at < 0) continue;
      this.settle(job);
      job.reject(job.signal!.reason);
      if (at > 0) {
        // Not started yet: the thread will run it, and its answer is dropped.
        job.dropped = true;
        return;
      }
      // Its async calls in flight (a read ahead on a file server) are asked to stop instead: ended
      // now, the thread would leave what they open open. It answers soon; that answer is dropped.
      if (!endOrStopCalls(slot.calls)) {
        job.dropped = true;
        return;
      }
      // A synchronous task cannot be interrupted from outside: end its thread (replaced on exit);
      // the batches waiting behind it go back to the front of the queue.
      slot.jobs.shift();
      this.requeue(slot);
      slot.ending = true;
      slot.aborted = true;
      void slot.worker.terminate().catch(() => 0);
      this.dispatch();
      return;
    }
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const slot = this.idle.pop() ?? this.busySlotFor(this.queue[0].req.task);
      if (!slot) return;
      const job = this.queue.shift()!;
      slot.jobs.push(job);
      slot.worker.ref();
      slot.worker.postMessage(job.req);
    }
  }

  /** A running thread that may take a batch of `task` behind its current batch (both pipelined), least loaded first. */
  private busySlotFor(task: string): Slot | undefined {
    if (!this.pipelined(task)) return undefined;
    let best: Slot | undefined;
    for (const slot of this.slots) {
      if (slot.ending || slot.jobs.length === 0 || slot.jobs.length >= THREAD_DEPTH) continue;
      if (!slot.jobs.every((j) => this.pipelined(j.req.task))) continue;
      if (!best || slot.jobs.length < best.jobs.length) best = slot;
    }
    return best;
  }

  /** The batches a thread had not started go back to the front of the queue, in order. */
  private requeue(slot: Slot): void {
    const waiting = slot.jobs.splice(0).filter((j) => !j.dropped);
    this.queue.unshift(...waiting);
  }

  private finish(slot: Slot, res: BatchResponse): void {
    const job = slot.jobs[0];
    if (!job || job.req.id !== res.id || slot.ending) return; // aborted meanwhile: the thread is ending
    slot.jobs.shift();
    this.crashes = 0;
    if (slot.jobs.length === 0) {
      slot.worker.unref();
      this.idle.push(slot);
    }
    if (job.dropped) {
      this.dispatch();
      return;
    }
    if ('error' in res && isStoppedBatch(res.error)) {
      // Stopped for an abort of the batch before it, whose answer was already on its way: run it again.
      this.queue.unshift(job);
      this.dispatch();
      return;
    }
    this.settle(job);
    if ('error' in res) job.reject(errorFromJSON(res.error));
    else if ('packed' in res) {
      let results: unknown[];
      try {
        results = unpackResultsByName(job.req.task, res.packed, job.items);
      } catch (e) {
        job.reject(errors.internal(`task ${job.req.task}: its packed results could not be read: ${(e as Error)?.message ?? e}`, e));
        this.dispatch();
        return;
      }
      job.resolve(results);
    } else job.resolve(res.results);
    this.dispatch();
  }

  private failSlot(slot: Slot, e: Error): void {
    slot.ending = true;
    const i = this.idle.indexOf(slot);
    if (i >= 0) this.idle.splice(i, 1);
    // The running batch fails; those waiting behind it never ran: another thread takes them.
    const job = slot.jobs.shift();
    this.requeue(slot);
    if (job && !job.dropped) {
      this.settle(job);
      job.reject(e);
    }
  }

  private exited(slot: Slot, code: number): void {
    // Ended mid-file (an abort terminates it): the big-file turn it held goes on.
    freeBigFileTurn(slot.threadId);
    threadExited(slot.calls); // a close waiting on its calls waits no more
    if (!slot.ending) this.failSlot(slot, errors.internal(`worker thread exited with code ${code}`));
    this.slots.delete(slot);
    if (this.closed) return;
    if (!slot.aborted && ++this.crashes > this.maxCrashes) {
      // A thread that dies before finishing anything, again and again, would respawn forever.
      this.broken = errors.internal(`worker threads keep failing (${this.crashes} in a row); giving up`);
      if (this.slots.size === 0) for (const job of this.queue.splice(0)) this.settleReject(job, this.broken);
      return;
    }
    this.spawn();
    this.dispatch();
  }

  private settleReject(job: Job, e: unknown): void {
    this.settle(job);
    job.reject(e);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.queue.splice(0)) this.settleReject(job, errors.internal('runtime closed'));
    for (const slot of this.slots) {
      for (const job of slot.jobs.splice(0)) if (!job.dropped) this.settleReject(job, errors.internal('runtime closed'));
      slot.ending = true;
    }
    this.idle.length = 0;
    await Promise.all([...this.slots].map((s) => endThread(s)));
  }
}

/** A thread ended once its async calls in flight are back (fs/calls-in-flight.ts), or after THREAD_STOP_WAIT_MS: a call that never comes back does not hold the close. */
async function endThread(slot: Slot): Promise<void> {
  const until = performance.now() + THREAD_STOP_WAIT_MS;
  while (!endOrStopCalls(slot.calls) && performance.now() < until) await wordChange(slot.calls, until - performance.now());
  await slot.worker.terminate().catch(() => 0);
}
