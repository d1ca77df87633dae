import { availableParallelism } from 'node:os';
import { errors } from '../errors.js';
import type { EngineKind, Options } from '../types.js';
import { InlineRuntime } from './inline.js';
import type { Runtime } from './runtime.js';
import { ThreadRuntime } from './threads.js';

/**
 * Below this many files a worker pool costs more (start-up ~30–50 ms per thread) than it saves.
 * Measured by `npm run bench` ("break-even" section): on this 2-core machine threads won from
 * about 1,200–1,850 sidecar files depending on load.
 */
export const THREADS_BREAK_EVEN_FILES = 1500;

export interface EngineChoice {
  kind: EngineKind;
  workers: number;
}

/** Resolve engine kind and worker count once per operation: options, then environment, then defaults. */
export function resolveEngine(opts: Pick<Options, 'engine' | 'workers'> = {}): EngineChoice {
  const kind = (opts.engine ?? process.env.IMAGE_SIDECAR_ENGINE ?? 'auto') as EngineKind;
  if (kind !== 'auto' && kind !== 'threads' && kind !== 'inline') {
    throw errors.usage(`IMAGE_SIDECAR_ENGINE must be auto, threads or inline (got "${kind}")`);
  }
  let workers = opts.workers;
  if (workers === undefined && process.env.IMAGE_SIDECAR_WORKERS) {
    workers = Number(process.env.IMAGE_SIDECAR_WORKERS);
  }
  if (workers === undefined) workers = availableParallelism();
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
    throw errors.usage(`workers must be an integer from 1 to 256 (got ${workers})`);
  }
  return { kind, workers };
}

/**
 * A runtime that starts in-process and moves to threads once the work is known to be large enough.
 * The caller tells it how many files it has seen so far (`expect`), so the walk can stream.
 */
export class AdaptiveRuntime implements Runtime {
  private inner: Runtime | null = null;
  private readonly inline = new InlineRuntime();
  private filesSeen = 0;
  constructor(private readonly choice: EngineChoice) {}

  get kind(): 'inline' | 'threads' {
    return this.inner?.kind ?? (this.choice.kind === 'threads' ? 'threads' : 'inline');
  }
  get workers(): number {
    return this.inner?.workers ?? (this.choice.kind === 'threads' ? this.choice.workers : 1);
  }

  /** Tell the runtime how many files the operation now has in total (known or discovered). */
  expect(files: number): void {
    this.filesSeen = Math.max(this.filesSeen, files);
  }

  private pick(): Runtime {
    if (this.inner) return this.inner;
    const { kind, workers } = this.choice;
    const useThreads = kind === 'threads' || (kind === 'auto' && workers > 1 && this.filesSeen >= THREADS_BREAK_EVEN_FILES);
    if (useThreads) this.inner = new ThreadRuntime(workers);
    else if (kind === 'inline' || workers <= 1) this.inner = this.inline;
    else return this.inline; // auto, still small: stay inline until the threshold is crossed
    return this.inner;
  }

  run<R>(task: Parameters<Runtime['run']>[0], items: readonly unknown[], options: unknown): Promise<R[]> {
    return this.pick().run<R>(task, items, options);
  }

  async close(): Promise<void> {
    if (this.inner && this.inner !== this.inline) await this.inner.close();
  }
}

/** Last engine used by an operation in this process, for performanceInfo(). */
export const lastEngineUsed: { kind: 'inline' | 'threads' | null; workers: number } = { kind: null, workers: 0 };

export function createRuntime(opts: Pick<Options, 'engine' | 'workers'> = {}): AdaptiveRuntime {
  return new AdaptiveRuntime(resolveEngine(opts));
}
