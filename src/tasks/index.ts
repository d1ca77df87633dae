import { errors } from '../errors.js';
import { inspectFilesReadingAhead, packedBatch } from './inspect.js';
import { hashFiles, type HashItem, type HashResult, type HashTaskOptions } from './hash.js';
import { convertUnits, type ConvertItem, type ConvertTaskOptions, type ConvertUnit } from './convert.js';
import { packInspectItems, packInspections, unpackInspectItems, unpackInspections, type InspectItemsWire, type InspectWire } from './inspect-wire.js';
import { rewindEntries } from './index-entry.js';
import type { FileInspection, InspectItem, InspectOptions } from '../model/inspection.js';

/**
 * Every per-file job the engine can run, by name, with its item, options and result types: a
 * caller names the task and the compiler knows the rest. Reads are synchronous (worker threads read
 * files with sync calls: much faster than fs.promises for small files on a local disk), except a
 * batch of inspect's where each call is a round trip (a file server: its files read many at once);
 * convert is async only to have many fsyncs in flight at once (group commit). A task maps a batch of items to a batch of
 * results in the same order. The same functions run in-process and in workers.
 */
export interface TaskTypes {
  inspect: { item: InspectItem; options: InspectOptions; result: FileInspection };
  hash: { item: HashItem; options: HashTaskOptions; result: HashResult };
  convert: { item: ConvertUnit; options: ConvertTaskOptions; result: ConvertItem[] };
}

export type TaskName = keyof TaskTypes;
export type TaskItem<N extends TaskName> = TaskTypes[N]['item'];
export type TaskOptions<N extends TaskName> = TaskTypes[N]['options'];
export type TaskResult<N extends TaskName> = TaskTypes[N]['result'];

export interface TaskDef<N extends TaskName> {
  run(items: readonly TaskItem<N>[], options: TaskOptions<N>): TaskResult<N>[] | Promise<TaskResult<N>[]>;
  /**
   * May a running batch be stopped by ending its thread? Reads are; convert is not: it holds
   * sidecar locks and is between a write and a removal (it finishes its batch, then stops).
   */
  interruptible: boolean;
  /**
   * May a thread be given its next batch while it still runs this one? Synchronous tasks: the
   * thread then goes from one batch to the next without waiting for the main thread to read its
   * answer. Not convert: an async batch answers when its fsyncs are done, and a second batch would
   * run beside it.
   */
  pipelined: boolean;
  /**
   * How a batch crosses between threads: its items packed by the main thread, its results packed
   * by the worker into one compact message (a few typed arrays) and unpacked on the main thread,
   * instead of a structured clone of each item and result. Every batch of such a task goes so (one
   * form each way); tasks without it send their arrays as they are. The inline runtime never packs.
   */
  wire?: TaskWire<N>;
}

export interface TaskWire<N extends TaskName> {
  /** A batch's items as they go to a worker thread (the main thread's side), and back to items there. */
  packItems(items: readonly TaskItem<N>[]): unknown;
  unpackItems(packed: unknown): TaskItem<N>[];
  pack(results: readonly TaskResult<N>[], items: readonly TaskItem<N>[]): { packed: unknown; transfer: ArrayBuffer[] };
  unpack(packed: unknown, items: readonly TaskItem<N>[]): TaskResult<N>[];
}

const TASKS: { [N in TaskName]: TaskDef<N> } = {
  inspect: {
    run: inspectFilesReadingAhead,
    interruptible: true,
    pipelined: true,
    wire: {
      pack: (results, items) => {
        try {
          // Packed already when the batch's index entries were made (tasks/inspect.ts): sent as it is.
          return packedBatch(results) ?? packInspections(results, items);
        } finally {
          // The batch's index entries are in the message now (copied): the next batch writes its entries over them.
          rewindEntries();
        }
      },
      unpack: (packed, items) => unpackInspections(packed as InspectWire, items),
      packItems: packInspectItems,
      unpackItems: (packed) => unpackInspectItems(packed as InspectItemsWire),
    },
  },
  hash: { run: hashFiles, interruptible: true, pipelined: true },
  convert: { run: convertUnits, interruptible: false, pipelined: false },
};

export function taskDef<N extends TaskName>(task: N): TaskDef<N> {
  const def = TASKS[task] as TaskDef<N> | undefined;
  if (!def) throw errors.internal(`unknown task: ${String(task)}`);
  return def;
}

export function runTask<N extends TaskName>(task: N, items: readonly TaskItem<N>[], options: TaskOptions<N>): TaskResult<N>[] | Promise<TaskResult<N>[]> {
  return taskDef(task).run(items, options);
}

/** Whether batches of `task` may queue in a busy thread (TaskDef.pipelined); false for a name that is not a task. */
export function isPipelined(task: string): boolean {
  return Object.hasOwn(TASKS, task) && TASKS[task as TaskName].pipelined;
}

/** The untyped entry used by a worker thread, where the name arrives in a message. */
export function runTaskByName(task: string, items: readonly unknown[], options: unknown): unknown[] | Promise<unknown[]> {
  if (!Object.hasOwn(TASKS, task)) throw errors.internal(`unknown task: ${task}`);
  return (TASKS[task as TaskName].run as (i: readonly unknown[], o: unknown) => unknown[] | Promise<unknown[]>)(items, options);
}

/** The compact forms of the task named `task` (a name that arrives in a message), if it has them. */
function wireOf(task: string): TaskWire<TaskName> | undefined {
  return Object.hasOwn(TASKS, task) ? (TASKS[task as TaskName].wire as TaskWire<TaskName> | undefined) : undefined;
}

/** A worker's packing of a batch's results (null: the task has no wire form; its results go as they are). */
export function packResultsByName(task: string, results: readonly unknown[], items: readonly unknown[]): { packed: unknown; transfer: ArrayBuffer[] } | null {
  const wire = wireOf(task);
  return wire ? wire.pack(results as never, items as never) : null;
}

/** A batch's items in the task's compact form for a worker thread, or null (the task has none: they go as they are). */
export function packItemsByName(task: string, items: readonly unknown[]): unknown {
  const wire = wireOf(task);
  return wire ? wire.packItems(items as never) : null;
}

/** The worker's side of packItemsByName. */
export function unpackItemsByName(task: string, packed: unknown): unknown[] {
  const wire = wireOf(task);
  if (!wire) throw errors.internal(`task ${task} has no packed items`);
  return wire.unpackItems(packed);
}

/** The main thread's side of packResultsByName. */
export function unpackResultsByName(task: string, packed: unknown, items: readonly unknown[]): unknown[] {
  const wire = wireOf(task);
  if (!wire) throw errors.internal(`task ${task} has no packed form`);
  return wire.unpack(packed, items as never);
}
