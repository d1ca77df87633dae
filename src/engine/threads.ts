import { Worker } from 'node:worker_threads';
import { errorFromJSON, errors } from '../errors.js';
import type { TaskItem, TaskName, TaskOptions, TaskResult } from '../tasks/index.js';
import type { BatchRequest, BatchResponse } from './messages.js';
import type { RunOptions, Runtime } from './runtime.js';

interface Job {
  req: BatchRequest;
  resolve: (r: unknown[]) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  /** The thread failed or was ended on purpose; its 'exit' is coming. */
  ending: boolean;
  /** Ended by an abort, not by a crash (not counted against the respawn limit). */
  aborted: boolean;
}

export interface ThreadPoolOptions {
  /** The worker script (tests use their own; it must call serveBatches). */
  workerUrl?: URL;
  /** Consecutive crashes (no batch finished in between) after which the pool gives up. */
  maxCrashes?: number;
}

const WORKER_URL = new URL('./worker.js', import.meta.url);

/**
 * A fixed pool of worker threads, to the standard of piscina/tinypool: one message per batch
 * (a message per file would cost more than the work), a thread that dies is removed when it exits
 * and replaced exactly once, a batch can be aborted (queued: dropped; running: its thread is ended
 * and replaced), and an idle pool never keeps the process alive.
 */
export class ThreadRuntime implements Runtime {
  readonly kind = 'threads' as const;
  readonly workers: number;
  private readonly slots = new Set<Slot>();
  private readonly idle: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly workerUrl: URL;
  private readonly maxCrashes: number;
  private crashes = 0;
  private broken: Error | null = null;
  private nextId = 1;
  private closed = false;

  constructor(workers: number, opts: ThreadPoolOptions = {}) {
    this.workers = Math.max(1, workers);
    this.workerUrl = opts.workerUrl ?? WORKER_URL;
    this.maxCrashes = opts.maxCrashes ?? Math.max(3, 2 * this.workers);
    for (let i = 0; i < this.workers; i++) this.spawn();
  }

  /** Live threads (for tests and diagnostics). */
  get threads(): number {
    return this.slots.size;
  }

  /** Thread ids of the live threads (for tests). */
  get threadIds(): number[] {
    return [...this.slots].map((s) => s.worker.threadId);
  }

  private spawn(): void {
    const worker = new Worker(this.workerUrl);
    worker.unref(); // an idle pool must never keep the process alive
    const slot: Slot = { worker, job: null, ending: false, aborted: false };
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
    return new Promise<TaskResult<N>[]>((resolve, reject) => {
      const job: Job = { req: { id: this.nextId++, task, items, options }, resolve: resolve as (r: unknown[]) => void, reject, signal };
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
      if (slot.job !== job) continue;
      // A synchronous task cannot be interrupted from outside: end its thread (replaced on exit).
      slot.job = null;
      slot.ending = true;
      slot.aborted = true;
      this.settle(job);
      job.reject(job.signal!.reason);
      void slot.worker.terminate().catch(() => 0);
      return;
    }
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const slot = this.idle.pop()!;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage(job.req);
    }
  }

  private finish(slot: Slot, res: BatchResponse): void {
    const job = slot.job;
    if (!job || job.req.id !== res.id || slot.ending) return; // aborted meanwhile: the thread is ending
    slot.job = null;
    this.crashes = 0;
    slot.worker.unref();
    this.idle.push(slot);
    this.settle(job);
    if ('error' in res) job.reject(errorFromJSON(res.error));
    else job.resolve(res.results);
    this.dispatch();
  }

  private failSlot(slot: Slot, e: Error): void {
    slot.ending = true;
    const i = this.idle.indexOf(slot);
    if (i >= 0) this.idle.splice(i, 1);
    const job = slot.job;
    slot.job = null;
    if (job) {
      this.settle(job);
      job.reject(e);
    }
  }

  private exited(slot: Slot, code: number): void {
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
      if (slot.job) this.settleReject(slot.job, errors.internal('runtime closed'));
      slot.job = null;
      slot.ending = true;
    }
    this.idle.length = 0;
    await Promise.all([...this.slots].map((s) => s.worker.terminate().catch(() => 0)));
  }
}
