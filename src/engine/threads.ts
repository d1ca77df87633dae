import { Worker } from 'node:worker_threads';
import { errorFromJSON, errors } from '../errors.js';
import type { TaskName } from '../tasks/index.js';
import type { BatchRequest, BatchResponse } from './messages.js';
import type { Runtime } from './runtime.js';

interface Pending {
  req: BatchRequest;
  resolve: (r: unknown[]) => void;
  reject: (e: unknown) => void;
}

const WORKER_URL = new URL('./worker.js', import.meta.url);

/**
 * A fixed pool of worker threads. Each message carries a whole batch of files:
 * a message per file would cost more than the work itself.
 */
export class ThreadRuntime implements Runtime {
  readonly kind = 'threads' as const;
  readonly workers: number;
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  constructor(workers: number) {
    this.workers = Math.max(1, workers);
    for (let i = 0; i < this.workers; i++) this.idle.push(this.spawn());
  }

  private spawn(): Worker {
    const w = new Worker(WORKER_URL);
    w.unref(); // an idle pool must never keep the process alive
    w.on('message', (res: BatchResponse) => this.finish(w, res));
    w.on('error', (e) => this.fail(w, e));
    w.on('exit', (code) => {
      if (!this.closed) this.fail(w, errors.internal(`worker thread exited with code ${code}`));
    });
    return w;
  }

  run<R>(task: TaskName, items: readonly unknown[], options: unknown): Promise<R[]> {
    if (this.closed) return Promise.reject(errors.internal('runtime is closed'));
    return new Promise<R[]>((resolve, reject) => {
      this.queue.push({ req: { id: this.nextId++, task, items, options }, resolve: resolve as (r: unknown[]) => void, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const p = this.queue.shift()!;
      this.busy.set(w, p);
      w.ref();
      w.postMessage(p.req);
    }
  }

  private finish(w: Worker, res: BatchResponse): void {
    const p = this.busy.get(w);
    this.busy.delete(w);
    w.unref();
    this.idle.push(w);
    if (p) {
      if ('error' in res) p.reject(errorFromJSON(res.error));
      else p.resolve(res.results);
    }
    this.dispatch();
  }

  private fail(w: Worker, e: unknown): void {
    const p = this.busy.get(w);
    this.busy.delete(w);
    const i = this.idle.indexOf(w);
    if (i >= 0) this.idle.splice(i, 1);
    if (p) p.reject(e instanceof Error ? errors.internal(`worker thread failed: ${e.message}`, e) : e);
    if (!this.closed) {
      // Replace the dead worker so the pool keeps its size.
      void w.terminate().catch(() => {});
      this.idle.push(this.spawn());
      this.dispatch();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(errors.internal('runtime closed'));
    const all = [...this.idle, ...this.busy.keys()];
    this.idle.length = 0;
    await Promise.all(all.map((w) => w.terminate().catch(() => 0)));
  }
}
