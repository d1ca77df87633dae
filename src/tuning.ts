/**
 * The engine's tuning constants: batch sizes, the threads' break-even, the big-file size, the heap
 * bounds of each thread, the worker threads' V8 limits and V8's interrupt budget, each with the
 * measurement that chose it where one did. On the ground floor so every floor that needs one reads
 * it here; the entry points' host tuning that applies some of them is engine/host.ts. The scan's
 * own bundle sizes (scan/pending.ts) and the index's (incremental/) stay beside their code.
 */

/**
 * A worker thread: above this after a batch, the heap is garbage from big files (a
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
 * A worker thread's first old-generation limit (V8's --initial-old-space-size, set by the CLI
 * before the threads start: engine/host.ts tuneHost; it applies to isolates made after it).
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

/**
 * Batches of the pipeline (engine/pipeline.ts): files and bytes per batch. A batch is a message each
 * way between threads, ~0.1 ms of the sender's CPU each whatever its size, and per-batch work on
 * both sides (dispatch, packing, the worker's heap check): 256 files per batch rather than 64 took
 * the bench library's --no-index first run (2 threads) from ~480 messages each way to ~120, its CPU
 * down by 3–8 % (12 alternated pairs: validate on JSON 3.80 → 3.68 s, wall 2.20 → 2.14 s; stats
 * on the bin copy 4.14 → 3.82 s, wall 2.44 → 2.20 s). Bytes bound a batch only where the pipeline
 * weighs its items (inspections that keep the data: export).
 */
export const DEFAULT_BATCH_FILES = 256;
export const DEFAULT_BATCH_BYTES = 8 * 1024 * 1024;
/**
 * Files per batch of `convert` (ops/convert.ts; its `batchSize` option overrides it), whose unit
 * holds its sources, their data and the encoded target in memory until its batch ends. Not measured.
 */
export const CONVERT_BATCH_FILES = 32;
/** Jobs (as `jobWeight` counts them) read ahead at most while the runtime is undecided; item-less jobs waiting behind a held batch count too. */
export const HOLD_MAX_AHEAD = 16_384;
/**
 * While holding: once the jobs read ahead weigh this many times the items held (waiting in batches
 * for the runtime to decide), the held items run now, where the undecided runtime puts them, and
 * holding goes on. A few items among many jobs without items (a repeat run over the index with 1 %
 * of the sidecars changed: 184 misses among 34,000 served records) cost less run in-process at once
 * than what is held behind them: every record of the tree up to HOLD_MAX_AHEAD waited, and the
 * main thread's collector copied them from one young-generation scavenge to the next (GC ~165 of
 * the run's ~970 ms profiled; that run 780 → 700 ms wall). A first run, whose jobs are nearly all
 * items, never comes near the ratio.
 */
export const HOLD_AHEAD_PER_HELD_ITEM = 32;
/** Jobs without engine work between two checks of the main thread's heap (heap-relief.ts; a check costs ~0.5 µs). */
export const RELIEVE_EVERY_JOBS = 16;

/**
 * Below this many files a worker pool costs more (start-up ~70–100 ms per thread) than it saves.
 * Measured by `npm run bench` ("break-even" section) on this 2-core machine: threads won from
 * about 1,200–1,850 sidecar files at first; later, with cheaper per-file work (the
 * scanner's float runs, validate's brief), inline won at every size measured up to 3,699 files
 * (fitted: inline 56 ms + 96 µs/file, threads 140 ms + 83 µs/file, crossing near 6,500). 4,000
 * is the largest size measured, not the fitted crossing: on a network share threads also overlap
 * reads, which the bench's page-cached files do not show.
 */
export const THREADS_BREAK_EVEN_FILES = 4000;

/**
 * What one `convert` unit (read, decode, encode and check, durable write, read back, source removed)
 * weighs against THREADS_BREAK_EVEN_FILES, in inspected files: threads then start from ~200 units.
 * Measured (CLI, 5 alternating rounds, inline → threads wall): 185 sidecars 0.50 → 0.50 s, 369
 * 0.81 → 0.73 s, 912 1.8–2.3 → 1.5–1.8 s; below the file count's break-even convert ran inline.
 */
export const CONVERT_UNIT_FILES = 20;

/**
 * On a file server, the sidecars a batch reads ahead at most, each and together (tasks/inspect.ts):
 * small files (a big one is read at its turn, one at a time across threads: big-file-turn.ts), and
 * a bound on the memory a batch holds. Not measured: the bench library's sidecars are all far below.
 */
export const READ_AHEAD_FILE_BYTES = 1 << 20;
export const READ_AHEAD_BATCH_BYTES = 16 << 20;

/**
 * Files a reading thread holds open at once while it reads a batch ahead (fs/read-ahead.ts): each
 * holds its descriptor over three round trips, and every reading thread reads ahead, so this bounds
 * the descriptors they take from the process's limit (often 1,024) to this many per thread. libuv's
 * pool runs at most its own size at once (the CLI's 16) in any case. On the bench mount, validate
 * --no-index took the same time with 16 as with 64 (7.7 and 7.8 s, medians of 3 alternating; 2 reading threads).
 */
export const FILES_OPEN_AHEAD = 16;

/** Batches a thread holds at most: one running, one waiting (only for pipelined tasks). */
export const THREAD_DEPTH = 2;

/**
 * How long closing the pool waits for a thread's async calls in flight to come back before it
 * ends the thread anyway (fs/calls-in-flight.ts). They are round trips to a file server
 * (milliseconds); a server that stopped answering must not hold the close forever.
 */
export const THREAD_STOP_WAIT_MS = 5000;

/**
 * Files above this many bytes take the turn, and the WebAssembly scanner leaves them to the
 * reference decoder (accel/decode.ts ACCEL_MAX_BYTES is this). Up to it the
 * WebAssembly scanner decides most files on its tape (stats of one 4 MiB file of 2 million `{}`:
 * 77 MB of peak RSS, the whole process); past it the reference builds every object (8 MiB: 474 MB).
 */
export const BIG_FILE_BYTES = 4 * 1024 * 1024;

/**
 * V8 tiering (a process-wide flag, set by tuneHost). Every process and every worker isolate
 * compiles its hot functions with TurboFan on background threads; at V8's default interrupt budget a short run (a
 * shard, a small tree) spent about a third of its CPU compiling functions that then ran only a few
 * hundred times (perf, `stats --shard 3/8` of the 20,000-image bench library: 34 % of all samples in
 * `v8::internal::compiler`). Four times the budget optimises only the code that stays hot: a
 * shard's CPU fell from ~1.7 to ~1.35 s, the whole-library run is unchanged.
 * Sixteen times it, since: per-thread CPU from /proc of a whole-library validate (20,000 images,
 * 2 workers) showed V8's 4 background threads at 210–270 ms each, ~900 ms of 3.4 s, nearly all
 * concurrent TurboFan jobs (209 of them, `--trace-opt`: the big scan functions optimised, deopted
 * at the switch from link-only game folders to the photo folders, and optimised again, in each of
 * three isolates). On 2 cores those threads compete with the work. Budgets swept 3 times each on a
 * loaded machine (CPU of the whole process, validate / stats): 4× 3.63 / 3.65 s, 8× 3.23 / 3.37,
 * 15× (1,000,000) 3.02 / 3.20, 30×–118× within noise of 15×; 16× is taken. Set at the CLI's start,
 * against V8's default (`node --interrupt-budget=67584`), 5 interleaved rounds of `--no-index` on
 * the bench library: validate 2.51 / 3.40 s of CPU, stats 2.94 / 3.72.
 */
export const INTERRUPT_BUDGET = 16 * 67_584;

/**
 * libuv's thread pool in a process the CLI owns (cli/thread-pool-size.ts), unless the user's
 * UV_THREADPOOL_SIZE says otherwise: the threads every asynchronous file-system call runs on (Node's
 * default: 4). On a file server the calls made many at once (the reading threads' sidecar reads
 * and link reads, a warm run's stats and link reads: fs/many-at-once.ts) each wait a round trip on
 * one of them. On the bench's mount (each call 200 µs) validate --no-index of the bench library
 * took 18.0 s with 4 and 7.8 s with 16, a second run 13.3 and 5.6 s, a served run 6.3 and 2.9 s;
 * 64 gave no more than 16. An idle pool thread costs a stack's address space, not memory.
 */
export const CLI_THREAD_POOL_SIZE = 16;
