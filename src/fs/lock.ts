/**
 * Per-sidecar lock across processes (proper-lockfile: an atomic mkdir of `.<stem>.isc-lock`
 * whose mtime the holder refreshes) plus an in-process queue, so callers in one process wait
 * for each other without polling the file system.
 *
 * The key is the sidecar path without extension (dir/stem), so IMG_1.json, IMG_1.bin and
 * IMG_1.rkyv share one lock.
 */
import * as path from 'node:path';
import lockfile from 'proper-lockfile';
import { errors } from '../errors.js';
import { lockNameFor } from './temp-files.js';

export interface SidecarLockOptions {
  /** Give up after this long with LOCK_TIMEOUT. Default 60 s. */
  timeoutMs?: number;
  /** A lock not refreshed for this long belongs to a dead holder and is taken over. Default 5 s (minimum 2 s). */
  staleMs?: number;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;
export const DEFAULT_LOCK_STALE_MS = 5_000;
const MIN_STALE_MS = 2_000; // proper-lockfile's own floor

/** The lock directory for a sidecar key (dir/stem). */
export function lockPathFor(keyPath: string): string {
  return path.join(path.dirname(keyPath), lockNameFor(path.basename(keyPath)));
}

/** Tail of the in-process queue per resolved key. */
const queues = new Map<string, Promise<void>>();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Wait for `p`, or return false when the deadline passes first. */
async function waitUntil(p: Promise<void>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Randomised, growing pause between attempts, so contending processes do not retry in lock-step. */
function backoffMs(attempt: number): number {
  const ceiling = Math.min(100, 4 << Math.min(attempt, 5));
  return 1 + Math.random() * ceiling;
}

/**
 * Run `fn` while holding the lock for `keyPath`. `fn` receives a signal that aborts if the lock is
 * lost meanwhile (a holder stalled longer than staleMs and someone took over); it should check it
 * before committing. A lost lock turns into a CONFLICT error for this operation, never a crash.
 */
export async function withSidecarLock<T>(
  keyPath: string,
  fn: (signal: AbortSignal) => Promise<T>,
  opts: SidecarLockOptions = {},
): Promise<T> {
  const key = path.resolve(keyPath);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const staleMs = Math.max(opts.staleMs ?? DEFAULT_LOCK_STALE_MS, MIN_STALE_MS);
  const deadline = Date.now() + timeoutMs;

  const previous = queues.get(key) ?? Promise.resolve();
  let leave!: () => void;
  const mine = new Promise<void>((resolve) => (leave = resolve));
  const tail = previous.then(() => mine);
  queues.set(key, tail);
  try {
    if (!(await waitUntil(previous, deadline))) throw errors.lockTimeout(key);
    return await holdFileLock(key, fn, staleMs, deadline);
  } finally {
    leave();
    if (queues.get(key) === tail) queues.delete(key);
  }
}

async function holdFileLock<T>(
  key: string,
  fn: (signal: AbortSignal) => Promise<T>,
  staleMs: number,
  deadline: number,
): Promise<T> {
  const lockfilePath = lockPathFor(key);
  const controller = new AbortController();
  let lost: Error | null = null;
  let release: (() => Promise<void>) | null = null;

  for (let attempt = 0; release === null; attempt++) {
    try {
      release = await lockfile.lock(key, {
        realpath: false,
        lockfilePath,
        stale: staleMs,
        update: staleMs / 2,
        retries: 0, // we retry ourselves, against a deadline rather than a count
        onCompromised: (err: Error) => {
          // The default handler throws from a timer and kills the process.
          lost = err;
          controller.abort(err);
        },
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw errors.fromFs(e, lockfilePath);
      const left = deadline - Date.now();
      if (left <= 0) throw errors.lockTimeout(key, e);
      await sleep(Math.min(left, backoffMs(attempt)));
    }
  }

  let result: T;
  try {
    result = await fn(controller.signal);
  } finally {
    try {
      await release();
    } catch {
      // ERELEASED after a compromise, or the dir vanished: nothing is held any more either way.
    }
  }
  if (lost !== null) {
    throw errors.conflict(`the lock was lost while working (${(lost as Error).message}); another process may have changed the sidecar`, [key]);
  }
  return result;
}

/** Throw CONFLICT if the lock behind `signal` was lost; call right before committing a change. */
export function assertLockHeld(signal: AbortSignal, keyPath: string): void {
  if (signal.aborted) {
    const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
    throw errors.conflict(`the lock was lost before writing (${reason}); nothing was written`, [keyPath]);
  }
}

/** Block the calling thread for `ms` (worker tasks are synchronous by design). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Take the sidecar lock for `keyPath` synchronously and return its release function. Same lock
 * directory and protocol as `withSidecarLock`, so it excludes async `saveSidecar` callers in other
 * processes and threads; engine tasks (convert) run synchronously in worker threads and use this.
 * A lock held by an async caller on this same thread can never be released while we block, so
 * that case fails at once with LOCK_TIMEOUT instead of deadlocking.
 */
export function acquireSidecarLockSync(keyPath: string, opts: SidecarLockOptions = {}): () => void {
  const key = path.resolve(keyPath);
  if (queues.has(key)) throw errors.lockTimeout(key, new Error('held by another operation in this thread'));
  const staleMs = Math.max(opts.staleMs ?? DEFAULT_LOCK_STALE_MS, MIN_STALE_MS);
  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  const lockfilePath = lockPathFor(key);
  for (let attempt = 0; ; attempt++) {
    try {
      // The mtime refresh timer only runs between tasks; a held batch is far shorter than staleMs.
      const release = lockfile.lockSync(key, { realpath: false, lockfilePath, stale: staleMs, update: staleMs / 2, onCompromised: () => {} });
      return () => {
        try {
          release();
        } catch {
          // Already released or taken over: nothing is held any more either way.
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw errors.fromFs(e, lockfilePath);
      const left = deadline - Date.now();
      if (left <= 0) throw errors.lockTimeout(key, e);
      sleepSync(Math.min(left, backoffMs(attempt)));
    }
  }
}
