/**
 * The one pipeline every tree operation uses: jobs stream in from a source (a walk, a scan, a
 * list), their items go to the engine in batches bounded by count and by bytes, several batches
 * run at once, and each job comes out with its results in source order. Memory is bounded: at
 * most `maxInflight` batches and `maxInflightBytes` bytes are out (a single bigger job still goes,
 * alone), and at most `maxQueued` jobs wait for an earlier one. Cancellation: `signal`.
 *
 * While the runtime has not chosen its engine (`Runtime.undecided`: the auto engine below its
 * break-even), batches are held, not run: the source is read ahead (up to `HOLD_MAX_AHEAD` jobs, as
 * `jobWeight` counts them, and `maxInflightBytes`) until the runtime decides or the source ends;
 * then the held batches go, in order, to the engine the work picked, as the in-flight bound allows.
 * Where the read-ahead is mostly jobs without items (records served from the index) around a few
 * items, those few run at once where the undecided runtime runs them (in-process), and the
 * pipeline goes on holding: `HOLD_AHEAD_PER_HELD_ITEM`.
 */
import { taskDef, type TaskItem, type TaskName, type TaskOptions, type TaskResult } from '../tasks/index.js';
import type { Runtime } from './runtime.js';
import { relieveHeap } from './heap-relief.js';
import { DEFAULT_BATCH_BYTES, DEFAULT_BATCH_FILES, HOLD_AHEAD_PER_HELD_ITEM, HOLD_MAX_AHEAD, MAIN_HEAP_BOUND, RELIEVE_EVERY_JOBS, SERVED_HEAP_BOUND } from '../tuning.js';

export interface PipelineOptions<I, J = unknown> {
  /** Items per batch. Default DEFAULT_BATCH_FILES (tuning.ts). */
  batchFiles?: number;
  /** Bytes per batch, as `weigh` counts them. Default 8 MiB. */
  batchBytes?: number;
  /** The bytes an item will hold in memory (usually its file size); default 0 (count only). */
  weigh?: (item: I) => number;
  /** Batches in flight. Default 2 × workers (at least 2). */
  maxInflight?: number;
  /** Bytes in flight, from dispatch until their jobs are consumed. Default 4 × batchBytes. */
  maxInflightBytes?: number;
  /** Jobs waiting in order (jobs without items included). Default batchFiles × (maxInflight + 2). */
  maxQueued?: number;
  signal?: AbortSignal;
  /**
   * What a job holds in memory while it waits, in jobs (default 1): the read-ahead bound while the
   * runtime is undecided counts this (a scan's job of a whole folder served from the index holds
   * every record of the folder).
   */
  jobWeight?: (job: J) => number;
  /**
   * What a job counts against `maxQueued` (default 1): a job that stands for several records (a
   * scan's bundle of a folder's records) counts as that many, so that what waits stays bounded in
   * records, not jobs.
   */
  queueWeight?: (job: J) => number;
}

export interface Mapped<J, R> {
  job: J;
  /** The results of `itemsOf(job)`, in the same order. */
  results: R[];
}

interface Batch<R> {
  results: R[] | null;
  error: { e: unknown } | null;
  done: boolean;
  promise: Promise<void>;
  bytes: number;
  /** Jobs of this batch not yet handed out. */
  open: number;
}

interface Slot<J, R> {
  job: J;
  batch: Batch<R> | null;
  offset: number;
  count: number;
  /** jobWeight, counted while the pipeline reads ahead. */
  weight: number;
  /** queueWeight. */
  queued: number;
}

const NO_RESULTS: never[] = [];

/**
 * Map jobs through `task`, in order. `itemsOf(job)` gives the items of one job (none, one or
 * several; a job's items always travel in one batch).
 */
export async function* mapJobs<N extends TaskName, J>(
  runtime: Runtime,
  task: N,
  options: TaskOptions<N>,
  source: Iterable<J> | AsyncIterable<J>,
  itemsOf: (job: J) => readonly TaskItem<N>[],
  opts: PipelineOptions<TaskItem<N>, J> = {},
): AsyncGenerator<Mapped<J, TaskResult<N>>> {
  type I = TaskItem<N>;
  type R = TaskResult<N>;
  const batchFiles = Math.max(1, opts.batchFiles ?? DEFAULT_BATCH_FILES);
  const batchBytes = Math.max(1, opts.batchBytes ?? DEFAULT_BATCH_BYTES);
  const weigh = opts.weigh;
  // Read at each step: an adaptive runtime reports one worker until its threads start (a limit
  // fixed at the start kept an auto run of 2 threads at 2 batches in flight, threads mode at 4).
  const maxInflight = () => Math.max(1, opts.maxInflight ?? Math.max(2, runtime.workers * 2));
  const maxInflightBytes = opts.maxInflightBytes ?? 4 * batchBytes;
  const maxQueued = () => Math.max(1, opts.maxQueued ?? batchFiles * (maxInflight() + 2));
  const signal = opts.signal;
  const runSignal = signal && taskDef(task).interruptible ? { signal } : undefined;

  const iterator: Iterator<J> | AsyncIterator<J> =
    Symbol.asyncIterator in source ? (source as AsyncIterable<J>)[Symbol.asyncIterator]() : (source as Iterable<J>)[Symbol.iterator]();
  const queue: Slot<J, R>[] = [];
  const inflight = new Set<Batch<R>>();
  let pending: I[] = [];
  let pendingBytes = 0;
  let pendingSlots: Slot<J, R>[] = [];
  let inflightBytes = 0;
  let itemsSeen = 0;
  let answeredElsewhere = 0;
  let sourceDone = false;
  // Batches made while the runtime is undecided, then while earlier ones wait to start: not run
  // yet, in order, with their items; and the bytes held while undecided.
  let holding = runtime.undecided === true;
  const ready: { batch: Batch<R>; items: I[] }[] = [];
  let heldBytes = 0;
  // Items in the held batches (ready while holding).
  let heldItems = 0;
  // Weight of the jobs read while holding and not handed out yet.
  let ahead = 0;
  const jobWeight = opts.jobWeight;
  const queueWeight = opts.queueWeight;
  // The queue's jobs as queueWeight counts them (maxQueued bounds this).
  let queuedWeight = 0;

  const start = (batch: Batch<R>, items: I[]) => {
    // The rejection is caught at once (an early failure must not be reported as unhandled while
    // older batches are awaited) and raised when its first job's turn comes.
    batch.promise = runtime.run(task, items, options, runSignal).then(
      (r) => {
        batch.results = r;
        batch.done = true;
        inflight.delete(batch);
        relieveHeap(MAIN_HEAP_BOUND);
      },
      (e: unknown) => {
        batch.error = { e };
        batch.done = true;
        inflight.delete(batch);
      },
    );
    inflight.add(batch);
    inflightBytes += batch.bytes;
  };
  /**
   * Start ready batches, in order, while the in-flight bound allows: released all at once, a
   * convert's held batches ran their fsyncs together on the thread pool (1,000 images: 1.52 →
   * 2.04 s).
   */
  const pump = (evenWhileHolding = false) => {
    while ((!holding || evenWhileHolding) && ready.length > 0 && (inflight.size === 0 || inflight.size < maxInflight())) {
      const { batch, items } = ready.shift()!;
      if (holding) {
        heldBytes -= batch.bytes;
        heldItems -= items.length;
      }
      start(batch, items);
    }
  };
  /** Stop holding for the rest of the run: the held batches go to the engine, in order, as the bound allows. */
  const stopHolding = () => {
    holding = false;
    heldBytes = 0;
    heldItems = 0;
    ahead = 0;
    pump();
  };
  /** Holding, with few items among many jobs read ahead: run the held items now (HOLD_AHEAD_PER_HELD_ITEM). */
  const fewHeld = () => holding && ahead >= HOLD_AHEAD_PER_HELD_ITEM * (heldItems + pending.length) && heldItems + pending.length > 0;
  /** Wait for the head job's batch; one not started yet waits for a running one to make room. */
  const waitHead = () => {
    const b = queue[0].batch!;
    const started = () => b.done || inflight.has(b);
    if (!started()) {
      pump();
      if (!started()) return waitAny();
    }
    return b.promise;
  };

  const flush = () => {
    if (pending.length === 0) return;
    const items = pending;
    const slots = pendingSlots;
    const batch: Batch<R> = { results: null, error: null, done: false, promise: Promise.resolve(), bytes: pendingBytes, open: slots.length };
    pending = [];
    pendingSlots = [];
    pendingBytes = 0;
    runtime.expect?.(itemsSeen);
    for (const s of slots) s.batch = batch;
    if (holding) {
      if (runtime.undecided === true && !sourceDone && ahead < HOLD_MAX_AHEAD && heldBytes + batch.bytes <= maxInflightBytes) {
        ready.push({ batch, items });
        heldBytes += batch.bytes;
        heldItems += items.length;
        return;
      }
      stopHolding();
    }
    if (ready.length > 0) {
      ready.push({ batch, items });
      pump();
    } else start(batch, items);
  };

  const waitAny = () => Promise.race([...inflight].map((b) => b.promise));

  try {
    for (;;) {
      signal?.throwIfAborted();
      pump();
      // 1. Hand out every job whose results are in, in order.
      while (queue.length > 0) {
        const head = queue[0];
        if (head.count > 0 && !head.batch?.done) break;
        queue.shift();
        queuedWeight -= head.queued;
        if (holding) ahead -= head.weight;
        const b = head.batch;
        if (b) {
          if (b.error) throw b.error.e;
          yield { job: head.job, results: b.results!.slice(head.offset, head.offset + head.count) };
          // Counted until the caller is done with the job (it holds the results until then).
          if (--b.open === 0) inflightBytes -= b.bytes;
        } else {
          yield { job: head.job, results: NO_RESULTS };
          // Jobs the engine never sees (records served from the index) end no batch, where the heap
          // is relieved otherwise (tuning.ts SERVED_HEAP_BOUND).
          if (++answeredElsewhere % RELIEVE_EVERY_JOBS === 0) relieveHeap(SERVED_HEAP_BOUND);
        }
      }
      if (sourceDone) {
        if (queue.length === 0) break;
        flush();
        if (holding) stopHolding();
        await waitHead();
        continue;
      }
      // 2. Full: wait for a batch before taking more from the source.
      if (inflight.size >= maxInflight() || (inflight.size > 0 && inflightBytes + pendingBytes >= maxInflightBytes)) {
        await waitAny();
        continue;
      }
      if (fewHeld()) {
        flush();
        // flush may have stopped holding (the byte bound): pump then started what it could.
        if (holding) pump(true);
        // The head's results first (in-process: a turn of the event loop), then read on: what
        // was read ahead goes out meanwhile rather than waiting behind it.
        if (queue.length > 0) {
          await waitHead();
          continue;
        }
      }
      if (holding ? ahead >= HOLD_MAX_AHEAD : queuedWeight >= maxQueued()) {
        // The head may wait in a partial batch (e.g. a folder of symlinks adds jobs but no items).
        flush();
        if (holding) stopHolding();
        await waitHead();
        continue;
      }
      // 3. Take the next job.
      const next = await iterator.next();
      if (next.done) {
        sourceDone = true;
        flush();
        continue;
      }
      const job = next.value;
      const items = itemsOf(job);
      const slot: Slot<J, R> = { job, batch: null, offset: 0, count: items.length, weight: 0, queued: queueWeight ? queueWeight(job) : 1 };
      if (holding) ahead += slot.weight = jobWeight ? jobWeight(job) : 1;
      queue.push(slot);
      queuedWeight += slot.queued;
      if (items.length === 0) continue;
      let bytes = 0;
      if (weigh) for (const it of items) bytes += weigh(it);
      if (pending.length > 0 && (pending.length + items.length > batchFiles || pendingBytes + bytes > batchBytes)) flush();
      slot.offset = pending.length;
      for (const it of items) pending.push(it);
      pendingSlots.push(slot);
      pendingBytes += bytes;
      itemsSeen += items.length;
      if (pending.length >= batchFiles || pendingBytes >= batchBytes) flush();
    }
  } finally {
    // Running batches finish before the caller closes the runtime (convert must not be cut
    // between a write and a removal); the source is closed too when we stop early.
    if (!sourceDone) await iterator.return?.();
    await Promise.allSettled([...inflight].map((b) => b.promise));
  }
}

/** One item per job: results come out in the source's order. */
export async function* mapOrdered<N extends TaskName>(
  runtime: Runtime,
  task: N,
  options: TaskOptions<N>,
  source: Iterable<TaskItem<N>> | AsyncIterable<TaskItem<N>>,
  opts: PipelineOptions<TaskItem<N>> = {},
): AsyncGenerator<{ item: TaskItem<N>; result: TaskResult<N> }> {
  for await (const { job, results } of mapJobs(runtime, task, options, source, (item) => [item], opts)) {
    yield { item: job, result: results[0] };
  }
}
