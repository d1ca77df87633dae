/**
 * Inspections started before the pipeline asks for them, while the threads would idle.
 *
 * A library's game folders come before the photo folders their links point into, and a game
 * folder's records cost the threads little (its links are resolved there) and the main thread much
 * (it pairs each target folder). A profile of `validate` on the bench library showed both threads
 * 70–80 % idle for the whole game-folder phase while the main thread was busy. The scan knows the
 * photo folders' sidecars as soon as it pairs them for the links (scan.ts TargetGroups), so it
 * offers them here; they are inspected at once, a few batches at a time, and their results wait
 * (a bounded number) until the walk reaches their folder and the pipeline asks for those items:
 * `run` then answers them from here and sends only the others to the engine.
 *
 * A result answers only an item with the same path and name, for the same task options, once. A
 * file is read once either way, only earlier (a scan reads each file at some moment of the run:
 * now a little sooner). Items never asked for (a folder the walk skips) are dropped at the end;
 * while `MAX_HELD` are held no more are offered. Only on threads, decided (an undecided or inline
 * runtime runs on this thread, which is the busy one), and only batches of our own scan (the
 * runtime is the scan's own).
 */
import type { InspectItem, InspectOptions, FileInspection } from '../tasks/inspect.js';
import type { TaskItem, TaskName, TaskOptions, TaskResult } from '../tasks/index.js';
import type { RunOptions, Runtime } from './runtime.js';

/** Items offered or held at most (their results are small: a summary, a brief). */
export const MAX_HELD = 2048;
/** Items per early batch. */
const BATCH = 64;

interface Early {
  name: string;
  /** Set while its batch runs; the result once it is back (null: the batch failed, the item runs again). */
  promise?: Promise<FileInspection | null>;
}

export class PrefetchingRuntime implements Runtime {
  private readonly held = new Map<string, Early>();
  private queue: InspectItem[] = [];
  private inFlight = 0;
  /** Items answered from here (for tests and the bench). */
  answered = 0;
  private closed = false;

  constructor(
    private readonly inner: Runtime,
    /** The options the scan's batches run with (the same object: results made with others never answer). */
    private readonly options: InspectOptions,
  ) {}

  get kind(): 'inline' | 'threads' {
    return this.inner.kind;
  }
  get workers(): number {
    return this.inner.workers;
  }
  get undecided(): boolean | undefined {
    return this.inner.undecided;
  }
  expect(items: number, run?: number): void {
    this.inner.expect?.(items, run);
  }
  warm(): void {
    this.inner.warm?.();
  }

  /** Sidecars the pipeline will ask for later: inspect them now if threads would idle. */
  offer(items: readonly InspectItem[]): void {
    if (this.closed || this.inner.kind !== 'threads' || this.inner.undecided === true) return;
    for (const it of items) {
      if (this.held.size >= MAX_HELD) break;
      if (this.held.has(it.path)) continue;
      this.held.set(it.path, { name: it.name });
      this.queue.push({ path: it.path, name: it.name });
    }
    this.pump();
  }

  /** Early batches in flight at most: one per thread, so the pipeline's own batches wait at most one batch behind them. */
  private pump(): void {
    while (!this.closed && this.inFlight < this.inner.workers && this.queue.length > 0) {
      const batch = this.queue.splice(0, BATCH);
      this.inFlight++;
      const all = this.inner.run('inspect', batch, this.options);
      all.then(
        () => {
          this.inFlight--;
          this.pump();
        },
        () => {
          this.inFlight--;
          this.pump();
        },
      );
      batch.forEach((it, i) => {
        const e = this.held.get(it.path);
        if (e !== undefined && e.promise === undefined) {
          e.promise = all.then(
            (rs) => rs[i] ?? null,
            () => null, // the batch failed: the item runs again when asked for
          );
        }
      });
    }
  }

  run<N extends TaskName>(task: N, items: readonly TaskItem<N>[], options: TaskOptions<N>, opts?: RunOptions): Promise<TaskResult<N>[]> {
    if (task !== 'inspect' || (options as unknown) !== this.options || this.held.size === 0) return this.inner.run(task, items, options, opts);
    const inspectItems = items as readonly InspectItem[];
    const early: (Promise<FileInspection | null> | undefined)[] = new Array(inspectItems.length);
    const rest: InspectItem[] = [];
    let any = false;
    for (let i = 0; i < inspectItems.length; i++) {
      const it = inspectItems[i];
      const e = it.resolveLink === undefined ? this.held.get(it.path) : undefined;
      if (e !== undefined && e.name === it.name) {
        this.held.delete(it.path);
        if (e.promise !== undefined) {
          early[i] = e.promise;
          any = true;
          continue;
        }
        this.dropQueued(it.path); // offered, not started: it runs with this batch
      }
      rest.push(it);
    }
    if (!any) return this.inner.run(task, items, options, opts);
    return this.merge(inspectItems, early, rest, options as InspectOptions, opts) as Promise<TaskResult<N>[]>;
  }

  private dropQueued(path: string): void {
    const at = this.queue.findIndex((q) => q.path === path);
    if (at >= 0) this.queue.splice(at, 1);
  }

  private async merge(items: readonly InspectItem[], early: (Promise<FileInspection | null> | undefined)[], rest: InspectItem[], options: InspectOptions, opts?: RunOptions): Promise<FileInspection[]> {
    const ranNow = rest.length > 0 ? this.inner.run('inspect', rest, options, opts) : Promise.resolve([]);
    const got = await Promise.all(early);
    // An early batch that failed: those items run now, in order with the others.
    const again: InspectItem[] = [];
    for (let i = 0; i < items.length; i++) if (early[i] !== undefined && got[i] === null) again.push(items[i]);
    const [now, retried] = await Promise.all([ranNow, again.length > 0 ? this.inner.run('inspect', again, options, opts) : Promise.resolve([])]);
    const out: FileInspection[] = new Array(items.length);
    let n = 0;
    let r = 0;
    for (let i = 0; i < items.length; i++) {
      if (early[i] === undefined) out[i] = now[n++];
      else if (got[i] === null) out[i] = retried[r++];
      else {
        out[i] = got[i]!;
        this.answered++;
      }
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.held.clear();
    this.queue = [];
    await this.inner.close();
  }
}
