/**
 * A guard against a lost wake-up of libuv's thread pool, which runs every asynchronous file-system
 * call (fs.promises, callbacks).
 *
 * glibc's condition variables can lose a `pthread_cond_signal` (sourceware bug 25847,
 * "pthread_cond_signal failed to wake up pthread_cond_wait due to a bug in undoing stealing", in
 * glibc since 2.25, open for years: the cause of what we saw, as far as we can tell). libuv
 * queues a request and signals its pool under one mutex; when that signal is lost, the request
 * stays queued while every pool thread sleeps, and a run that awaits it waits forever. Seen in
 * this project's CI on Debian 12 (glibc 2.36): a `stats` run hung in `fs.promises.realpath` for
 * 13 minutes; gdb showed the request in libuv's queue with all 4 pool threads idle, and one
 * `uv_cond_signal` on the pool's condition variable let the run go on.
 *
 * Any later request signals the pool again, and the thread it wakes runs the queue in order, the
 * stuck request first. So while a file-system request is pending, this adds one small request a
 * second (an `access` of `/`): a lost wake-up costs at most about a second. When nothing is
 * pending, the tick only looks. The timer is unref'd: it never keeps a process alive.
 *
 * Not covered: a signal lost before the watch starts (the CLI's entry modules as Node loads them)
 * or in libuv's shutdown after the process's last line. test/long/thread-pool-lost-wakeup.test.ts loses
 * one signal on demand (an LD_PRELOAD shim) at every fourth point of a CLI run between those.
 */
import { access } from 'node:fs';

/** How often the watch looks for pending requests. */
const WATCH_PERIOD_MS = 1000;

/** The libuv request kinds of Node's asynchronous fs calls, as `process.getActiveResourcesInfo` names them (CloseReq: a FileHandle's close). */
const FS_REQUESTS: ReadonlySet<string> = new Set(['FSReqPromise', 'FSReqCallback', 'CloseReq']);

interface Watch {
  timer: NodeJS.Timeout;
  /** Requests added to wake the pool (the ticks that found a file-system request pending). */
  nudges: number;
}

let watch: Watch | null = null;

/**
 * Start the watch (once per thread; later calls do nothing: each thread sees only its own pending
 * requests, and every thread's wait on the one pool). The CLI starts it for every command, a scan
 * (scan/session.ts ScanSession) for library callers, and every worker thread (engine/worker.ts).
 */
export function watchThreadPool(): void {
  if (watch !== null) return;
  const w: Watch = { timer: setInterval(() => tick(w), WATCH_PERIOD_MS), nudges: 0 };
  w.timer.unref();
  watch = w;
}

function tick(w: Watch): void {
  if (!fsRequestPending()) return;
  w.nudges++;
  access('/', ignore);
}

function ignore(): void {}

/** Whether an asynchronous file-system request is in flight in this thread's event loop. */
export function fsRequestPending(): boolean {
  for (const kind of process.getActiveResourcesInfo()) if (FS_REQUESTS.has(kind)) return true;
  return false;
}

/** The watch's figures (tests): whether it runs, and how many wake-up requests it added. */
export function threadPoolWatchStats(): { running: boolean; nudges: number } {
  return { running: watch !== null, nudges: watch?.nudges ?? 0 };
}
