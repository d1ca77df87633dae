import { availableParallelism } from 'node:os';
import { errors } from '../errors.js';
import type { TaskItem, TaskName, TaskOptions, TaskResult } from '../tasks/index.js';
import type { EngineKind } from '../types.js';
import { ENGINE_KINDS, isOneOf } from '../vocabulary.js';
import type { EngineOptions } from '../settings.js';
import { InlineRuntime } from './inline.js';
import type { RunOptions, Runtime } from './runtime.js';
import { ThreadRuntime } from './threads.js';
import { THREADS_BREAK_EVEN_FILES } from '../tuning.js';

export interface EngineChoice {
  kind: EngineKind;
  workers: number;
  /** The calling thread is one of the workers (Options.callerRuns). */
  callerRuns: boolean;
}

export type { EngineOptions } from '../settings.js';

/** Resolve engine kind and worker count once per operation: options, then defaults. */
export function resolveEngine(opts: EngineOptions = {}): EngineChoice {
  const requested: unknown = opts.engine ?? 'auto';
  if (!isOneOf(ENGINE_KINDS, requested)) {
    throw errors.usage(`engine must be ${ENGINE_KINDS.join(', ')} (got "${String(requested)}")`);
  }
  const kind: EngineKind = requested;
  const workers = opts.workers ?? availableParallelism();
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
    throw errors.usage(`workers must be an integer from 1 to 256 (got ${workers})`);
  }
  return { kind, workers, callerRuns: opts.callerRuns === true };
}

/**
 * A runtime that starts in-process and moves to threads once the work is known to be large enough.
 * The pipeline tells it how many items the operation has seen so far (`expect`), so the walk can stream.
 */
export class AdaptiveRuntime implements Runtime {
  private inner: Runtime | null = null;
  private readonly inline = new InlineRuntime();
  private itemsSeen = 0;
  /** Of those, the items that go to the engine (with the incremental index, its misses). */
  private runSeen = 0;
  constructor(private readonly choice: EngineChoice) {}

  /**
   * The engine chosen for the work seen so far, even before a batch ran: with the incremental index
   * most files never reach the engine, and the report still names the engine the work was sized
   * for (the pool starts only when a batch needs it).
   */
  get kind(): 'inline' | 'threads' {
    return this.inner?.kind ?? (this.wantsThreads() ? 'threads' : 'inline');
  }
  get workers(): number {
    return this.inner?.workers ?? (this.wantsThreads() ? this.choice.workers : 1);
  }

  /** Threads were started (the report may name threads for work that ran in-process: `runsThreads`). */
  get threadsStarted(): boolean {
    return this.inner !== null && this.inner !== this.inline;
  }

  /** The engine the whole work is sized for (what the report names). */
  private wantsThreads(): boolean {
    return this.threadsFor(this.itemsSeen);
  }

  /**
   * Threads start for the work that runs: a repeat run over an index that answers all but a few
   * files runs those in-process (a pool costs ~70–100 ms of start-up per thread), though its
   * report names the engine the whole work is sized for, as --no-index does.
   */
  private runsThreads(): boolean {
    return this.threadsFor(this.runSeen);
  }

  private threadsFor(items: number): boolean {
    const { kind, workers } = this.choice;
    return kind === 'threads' || (kind === 'auto' && workers > 1 && items >= THREADS_BREAK_EVEN_FILES);
  }

  expect(items: number, run = items): void {
    this.itemsSeen = Math.max(this.itemsSeen, items);
    this.runSeen = Math.max(this.runSeen, run);
  }

  /**
   * `auto` with more than one worker, nothing run yet, and the work that runs still below the
   * break-even: whether threads pay is not known yet. The pipeline holds its batches meanwhile
   * (pipeline.ts): before, they ran in-process until the break-even was crossed, so a big tree's
   * first 4,000 files (a library's game folders of links) ran on the main thread, one at a time,
   * before a thread was started (validate, 20,000 images: auto 1.92 s, threads 1.70 s).
   */
  get undecided(): boolean {
    return this.inner === null && this.choice.kind === 'auto' && this.choice.workers > 1 && !this.runsThreads();
  }

  /** Threads asked for explicitly start at once; `auto` starts them when the work that runs reaches the break-even. */
  warm(): void {
    if (this.runsThreads()) this.pick();
  }

  private pick(): Runtime {
    if (this.inner) return this.inner;
    const { kind, workers } = this.choice;
    if (this.runsThreads()) this.inner = new ThreadRuntime(workers, { callerRuns: this.choice.callerRuns });
    else if (kind === 'inline' || workers <= 1) this.inner = this.inline;
    else return this.inline; // auto, still small: stay inline until the threshold is crossed
    return this.inner;
  }

  /** Batches run in-process (for tests and diagnostics). */
  inlineBatches = 0;

  run<N extends TaskName>(task: N, items: readonly TaskItem<N>[], options: TaskOptions<N>, opts?: RunOptions): Promise<TaskResult<N>[]> {
    const rt = this.pick();
    if (rt === this.inline) this.inlineBatches++;
    return rt.run(task, items, options, opts);
  }

  async close(): Promise<void> {
    if (this.inner && this.inner !== this.inline) await this.inner.close();
  }
}

export function createRuntime(opts: EngineOptions = {}): AdaptiveRuntime {
  return new AdaptiveRuntime(resolveEngine(opts));
}
