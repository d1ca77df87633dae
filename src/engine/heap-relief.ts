/**
 * Bounded memory where V8 would be lazy. Every isolate (the main thread, each worker thread) has a
 * heap of its own that V8 lets grow well past what is live before it collects, and the process's
 * peak RSS adds them up. After a batch, a thread whose heap holds more than its bound collects it
 * at once: a full collection of a mostly dead heap costs far less than the batch that filled it.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread } from 'node:worker_threads';

/**
 * A worker thread: above this after a batch, the heap is garbage from big files (issue 10 §5: a
 * worker sat on a few hundred MB after a 60 MB sidecar while the next big file went to the other
 * one; export json on 2 threads peaked at 957 MB against a 780 MB bound, 779 MB with this).
 */
export const WORKER_HEAP_BOUND = 160 * 1024 * 1024;
/**
 * A worker thread's young generation (Worker resourceLimits.maxYoungGenerationSizeMb; V8's default
 * grows it to ~34 MB per isolate). A worker's garbage is per batch and short-lived, and a big
 * file's buffers and graphs go to the large-object and old spaces anyway, so a small one costs no
 * CPU we could measure, while the default's three young generations (main and two workers, ~100 MB
 * in all) were most of what a 10^5-image first run with the index held over a run without it
 * (stats, first run with the index, 10^5 images: peak RSS 286–313 MB → 238–240; 20,000 images without it: 203–211 → 180–185 MB, with
 * IMAGE_SIDECAR_ACCEL=off 217–224 → 172–175; CPU within the machine's noise in each pair).
 */
export const WORKER_YOUNG_GENERATION_MB = 8;
/**
 * A worker thread's first old-generation limit (V8's --initial-old-space-size, set by an entry
 * point before the threads start: engine/v8-tuning.ts; it applies to isolates made after it).
 * A reading thread holds ~6 MB live; under V8's own limit, its old space (code included) filled up
 * at ~8 MB and V8 ran a full, non-incremental collection there that freed ~2 MB and took 8–24 ms
 * (`--trace-gc`: "allocation failure; GC in old space requested"). A validate first run with the
 * index, whose entry code filled ~235 KB more code space, crossed that line on both threads of the
 * bench library; --no-index stayed just below it. With this limit neither collects (CPU of the
 * first run, per-thread from /proc, 8 + 10 interleaved rounds: −60 and −75 ms; --no-index
 * unchanged). Past it, V8 sets its limits by what is live, as before: a long run's worker heap is
 * bounded as it was (WORKER_HEAP_BOUND and V8's growing factor), its first full collection only
 * comes later.
 */
export const WORKER_INITIAL_OLD_SPACE_MB = 48;
/**
 * The main thread of a tree run keeps little alive (what is live at 10^6 images fits in 64 MB: a
 * 10^6-image `stats --engine inline` runs with --max-old-space-size=64), but V8 let its heap reach
 * 128 MB at 10^5 images and more at 10^6, which put `stats` over issue 12's 300 MB bound.
 */
export const MAIN_HEAP_BOUND = 64 * 1024 * 1024;
/**
 * The main thread while it hands out jobs the engine never sees (records served from the index):
 * no batch ends there to relieve the heap, and a repeat run that stores folder records let V8 take
 * its heap to 167 MB (26 MB live). Such a run allocates fast around a small live set, so full
 * collections at MAIN_HEAP_BOUND cost it a third more CPU; at this bound (stats, 2·10^5 images, the
 * storing run: peak RSS 246–267 → 182–185 MB, CPU 10.5–11.9 → 12.0–12.5 s; the served run
 * unchanged: 160 MB, 3.8–4.2 s).
 */
export const SERVED_HEAP_BOUND = 96 * 1024 * 1024;

let collect: (() => void) | null | undefined;
/** What the last forced collection left alive (bytes): heap and external, and heap alone. */
let liveAfterCollect = 0;
let liveHeapAfterCollect = 0;

/**
 * Collect this thread's heap if it holds more than `bound` bytes (heap used + external) and the
 * garbage since the last forced collection (what is held beyond what that one left alive) is at
 * least the live heap it left. The second condition keeps the cost linear: a collection rescans
 * the live heap, so when a run keeps more than `bound` alive (an index's state at 10^6 files),
 * collecting after every batch would rescan it each time (quadratic: a 10^6-image first run with
 * the index spent most of its time in GC). Live external memory (array buffers, the WebAssembly
 * scanner's memory) is not rescanned, so it does not raise the bar: it did, when the rule was
 * "twice everything left alive", and a worker that had read a 60 MiB sidecar then kept the next
 * one's garbage (export json of 60 MiB sidecars, 2 threads: 878 MB peak RSS instead of 610).
 * Returns whether it collected.
 */
export function relieveHeap(bound: number): boolean {
  // getHeapStatistics: about 0.5 µs; process.memoryUsage() reads /proc (about 13 µs, 1.6 % of a worker's time).
  const h = getHeapStatistics();
  const held = h.used_heap_size + h.external_memory;
  if (held < bound || held - liveAfterCollect < liveHeapAfterCollect) return false;
  if (collect === undefined) collect = exposeGc();
  if (!collect) return false;
  collect();
  const after = getHeapStatistics();
  liveAfterCollect = after.used_heap_size + after.external_memory;
  liveHeapAfterCollect = after.used_heap_size;
  return true;
}

function exposeGc(): (() => void) | null {
  try {
    const existing = (globalThis as { gc?: () => void }).gc;
    if (typeof existing === 'function') return existing;
    // The usual way to reach V8's collector without a command-line flag (jest's leak detector
    // does the same): the flag applies to contexts made after it is set.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

/** A big file's garbage, collected before its turn is handed on (tasks/big-file-turn.ts `setBigFileRelief`). */
export function relieveAfterBigFile(): void {
  relieveHeap(isMainThread ? MAIN_HEAP_BOUND : WORKER_HEAP_BOUND);
}
