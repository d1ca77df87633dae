/**
 * Per-image sidecar lock across processes and threads, plus an in-process queue so callers in
 * one process wait for each other without polling the file system.
 *
 * Keys come from ONE place (src/discovery/lock-key.ts: realpath of the folder / NFC image stem).
 *
 * Protocol (a directory lock, like proper-lockfile's, plus an owner token, so a holder can prove
 * the lock is still its own — proper-lockfile cannot, and its refresh timer never fires in a
 * worker thread blocked in a synchronous task):
 *   acquire   mkdir `<dir>/.<stem>.isc-lock`, then write `owner` inside it: a token naming the
 *             holder (host mark and pid, temp-files.ts) and a random part
 *   hold      the directory's mtime is the heartbeat: `check()` verifies the token and touches it;
 *             async holders check every staleMs / 3 on a timer, sync holders (convert units in
 *             worker threads) call `check()` before every rename and unlink (`check(true)` and
 *             `release()` within staleMs / 3 of a verified check trust it without the disk)
 *   stale     a lock whose mtime is older than staleMs belongs to a dead or stalled holder — unless
 *             its token names a live process of this host (a holder starved of CPU, or stopped,
 *             keeps its lock up to liveHolderMs, 60 s; only a dead one's lock is taken at staleMs)
 *   take over one taker at a time: it makes the lock's breaker (an empty folder; mkdir is atomic),
 *             looks at the lock again, renames it aside, verifies it moved the stale one (else puts
 *             it back), removes it, then the breaker. Without the breaker a taker that found the
 *             lock stale, then lost the CPU while another took it over and a new holder made it,
 *             moved the new holder's lock aside: two holders at once (the concurrency run saw it)
 *   lost      a holder whose token is gone must not commit: `check()` throws CONFLICT, the caller
 *             undoes what it did and reports; it never removes a source
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errors, isSidecarError } from '../errors.js';
import { readFileLimitedSync } from './read-file.js';
import { entryAt } from './regular-file.js';
import { BREAKER_STALE_MS, hostMark, lockBreakerName, lockNameFor, processState, staleAsideLockName } from './temp-files.js';

export interface SidecarLockOptions {
  /** Give up after this long with LOCK_TIMEOUT. Default 60 s. */
  timeoutMs?: number;
  /** A lock not refreshed for this long belongs to a dead holder and is taken over. Default 5 s (minimum 2 s). */
  staleMs?: number;
  /**
   * A lock whose holder is a live process of this host is taken over only once it has not been
   * refreshed for this long (a holder starved of CPU or stopped is not dead). Default 60 s; 0 gives
   * such a lock the rule of any other (another host's holder cannot be asked). Never below staleMs.
   */
  liveHolderMs?: number;
}

/** When a lock counts as stale, for one caller: resolved once from its options. */
interface StaleRule {
  staleMs: number;
  liveHolderMs: number;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;
export const DEFAULT_LOCK_STALE_MS = 5_000;
const MIN_STALE_MS = 2_000;
/**
 * How long a live process of this host keeps a lock it no longer refreshes. Bounded: a pid can be
 * reused, and a holder stopped for good must not block the image forever.
 */
const DEFAULT_LIVE_HOLDER_MS = 60_000;

function staleRule(opts: SidecarLockOptions): StaleRule {
  const staleMs = Math.max(opts.staleMs ?? DEFAULT_LOCK_STALE_MS, MIN_STALE_MS);
  return { staleMs, liveHolderMs: Math.max(opts.liveHolderMs ?? DEFAULT_LIVE_HOLDER_MS, staleMs) };
}
const OWNER_FILE = 'owner';
/** An owner token is a few dozen bytes. */
const OWNER_MAX_BYTES = 4096;

/** A lock this process holds. */
export interface HeldLock {
  readonly key: string;
  readonly lockDir: string;
  /**
   * Throw CONFLICT unless the lock is still ours; refresh its heartbeat when it is. `unlessFresh`:
   * no disk access when this holder verified it on disk less than a third of staleMs ago (see
   * `Lock.fresh`).
   */
  check(unlessFresh?: boolean): void;
  release(): void;
}

/** The lock directory for a sidecar key (dir/stem). */
export function lockPathFor(keyPath: string): string {
  return path.join(path.dirname(keyPath), lockNameFor(path.basename(keyPath)));
}

/** Tail of the in-process queue per resolved key. */
const queues = new Map<string, Promise<void>>();
/** The locks behind a signal handed to a `withSidecarLock` callback. */
const heldBySignal = new WeakMap<AbortSignal, HeldLock[]>();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Block the calling thread for `ms` (worker tasks are synchronous by design). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Randomised, growing pause between attempts, so contending processes do not retry in lock-step. */
function backoffMs(attempt: number): number {
  const ceiling = Math.min(100, 4 << Math.min(attempt, 5));
  return 1 + Math.random() * ceiling;
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

function readOwner(lockDir: string): string | null {
  try {
    // Never waits on a FIFO planted as the owner file (fs/regular-file.ts): a clear error instead.
    return readFileLimitedSync(path.join(lockDir, OWNER_FILE), OWNER_MAX_BYTES).toString('utf8');
  } catch (e) {
    const c = errCode(isSidecarError(e) ? e.cause : e);
    if (c === 'ENOENT') return fs.existsSync(lockDir) ? '' : null; // '' = made, token not written yet
    if (c === 'ENOTDIR') return null;
    throw e;
  }
}

function removeLockDir(dir: string): void {
  if (entryAt(dir) !== 'folder') return; // never delete through a symlink planted under its name
  try {
    try {
      fs.unlinkSync(path.join(dir, OWNER_FILE));
    } catch (e) {
      if (errCode(e) !== 'ENOENT') throw e;
    }
    fs.rmdirSync(dir);
  } catch {
    /* gone already, or someone else's now: nothing of ours is left either way */
  }
}

function lostError(key: string, why: string): Error {
  return errors.conflict(`the lock was lost (${why}); another process may have changed the sidecar, so nothing more is done`, [key]);
}

class Lock implements HeldLock {
  released = false;
  /** When check() last found the token and set the heartbeat (performance.now()). */
  private verifiedAt = -Infinity;
  constructor(
    readonly key: string,
    readonly lockDir: string,
    private readonly token: string,
    private readonly staleMs: number,
  ) {}

  /**
   * Still ours for certain, without looking: a taker needs the heartbeat older than staleMs, and
   * check() set it less than staleMs / 3 ago (with our clock, as the async holders' heartbeat
   * every staleMs / 3 assumes too). A convert unit's second check and its release, milliseconds
   * after the first, were 9 of its ~60 system calls.
   */
  private fresh(): boolean {
    return performance.now() - this.verifiedAt < this.staleMs / 3;
  }

  check(unlessFresh = false): void {
    if (this.released) throw lostError(this.key, 'already released');
    if (unlessFresh && this.fresh()) return;
    const started = performance.now();
    let owner: string | null;
    try {
      owner = readOwner(this.lockDir);
    } catch (e) {
      throw lostError(this.key, `cannot read it: ${(e as Error).message}`);
    }
    if (owner !== this.token) throw lostError(this.key, owner === null ? 'its directory was removed' : 'another holder took it over');
    const now = new Date();
    try {
      fs.utimesSync(this.lockDir, now, now);
    } catch (e) {
      throw lostError(this.key, `cannot refresh it: ${(e as Error).message}`);
    }
    this.verifiedAt = started;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    // Only our own lock is removed: after a takeover the directory is someone else's.
    if (!this.fresh()) {
      try {
        if (readOwner(this.lockDir) !== this.token) return;
      } catch {
        return;
      }
    }
    removeLockDir(this.lockDir);
  }
}

/**
 * One attempt: the lock when we got it, null when it is held by a live holder. A stale lock is
 * taken over here (then the next attempt usually succeeds). Throws for real errors (missing folder...).
 */
function tryAcquire(key: string, lockDir: string, rule: StaleRule): Lock | null {
  try {
    fs.mkdirSync(lockDir);
  } catch (e) {
    if (errCode(e) !== 'EEXIST') throw errors.fromFs(e, lockDir);
    // A symlink or a file under the lock's name is not a lock: taking it over as stale would
    // delete through it, outside the library. The save is refused with the reason.
    if (entryAt(lockDir) === 'other') {
      throw errors.conflict('is not a lock folder (a symlink or a file has its name); nothing is written under this lock until it is removed', [lockDir]);
    }
    takeOverIfStale(lockDir, rule);
    return null;
  }
  const token = `${hostMark()}-${process.pid}-${randomBytes(12).toString('hex')}`;
  try {
    fs.writeFileSync(path.join(lockDir, OWNER_FILE), token, { flag: 'wx' });
  } catch (e) {
    // Taken over in between (we were "stale" already?) or the folder went away: not ours.
    if (errCode(e) === 'EEXIST' || errCode(e) === 'ENOENT') return null;
    removeLockDir(lockDir);
    throw errors.fromFs(e, lockDir);
  }
  return new Lock(key, lockDir, token, rule.staleMs);
}

/**
 * A lock's folder mtime is refreshed by its holder every few seconds. Older than `maxAgeMs`: its
 * holder is gone or stalled. Far in the future (beyond what clock skew between hosts explains): no
 * holder refreshes it either — a planted lock dated 2099 blocked every writer, each for its timeout.
 */
const FUTURE_TOLERANCE_MS = 10 * 60_000;
function agedOut(mtimeMs: number, maxAgeMs: number): boolean {
  const age = Date.now() - mtimeMs;
  return age > maxAgeMs || age < -FUTURE_TOLERANCE_MS;
}

/** `<host mark>-<pid>-<random>`; a token of the form before host marks (`<pid>-<random>`) names no host. */
const OWNER_TOKEN_RE = /^([0-9a-f]{8})-(\d+)-[0-9a-f]+$/;

/** A lock's holder is alive on this host, so its lock is not stale before liveHolderMs. */
function ownerAliveHere(token: string): boolean {
  const m = OWNER_TOKEN_RE.exec(token);
  return m !== null && processState(m[1], Number(m[2])) === 'alive';
}

/**
 * The owner token of the lock at `dir` when that lock is stale ('' for one made by a taker killed
 * before it wrote its token), or null when it is live or gone.
 */
function staleOwner(dir: string, rule: StaleRule): string | null {
  try {
    const mtimeMs = fs.statSync(dir).mtimeMs;
    if (!agedOut(mtimeMs, rule.staleMs)) return null;
    const owner = readOwner(dir);
    if (owner === null || (!agedOut(mtimeMs, rule.liveHolderMs) && ownerAliveHere(owner))) return null;
    return owner;
  } catch {
    return null; // released meanwhile: the next attempt takes it
  }
}

/**
 * Tests only: called by a taker right after its first look found a lock stale, to play what
 * another process may do before its next step (the interleaving the breaker exists for).
 */
export const lockTakeoverProbe: { afterFirstLook?: (lockDir: string) => void } = {};

function takeOverIfStale(lockDir: string, rule: StaleRule): void {
  // A look without the breaker first: most attempts meet a live lock.
  if (staleOwner(lockDir, rule) === null) return;
  lockTakeoverProbe.afterFirstLook?.(lockDir);
  const breaker = path.join(path.dirname(lockDir), lockBreakerName(path.basename(lockDir)));
  try {
    fs.mkdirSync(breaker);
  } catch (e) {
    if (errCode(e) === 'EEXIST') removeStaleBreaker(breaker);
    return; // another taker is at it (the next attempt sees the outcome), or the folder went away
  }
  try {
    // Looked at again under the breaker: since our first look another taker may have removed it
    // and a new holder made it.
    const seen = staleOwner(lockDir, rule);
    if (seen === null) return;
    const aside = path.join(path.dirname(lockDir), staleAsideLockName(randomBytes(6).toString('hex')));
    try {
      fs.renameSync(lockDir, aside);
    } catch {
      return; // released meanwhile
    }
    // The stale one? Its holder, stalled but alive on another host, may have released it between
    // our look and the rename, and a new holder made it again.
    if (staleOwner(aside, rule) === seen) {
      removeLockDir(aside);
      return;
    }
    // A live lock: put it back. If the name is taken again, its holder's check() reports it lost.
    try {
      if (!fs.existsSync(lockDir)) fs.renameSync(aside, lockDir);
      else removeLockDir(aside);
    } catch {
      removeLockDir(aside);
    }
  } finally {
    try {
      fs.rmdirSync(breaker);
    } catch {
      /* gone: removed as stale by another taker (we held it over BREAKER_STALE_MS) */
    }
  }
}

/**
 * A breaker left by a taker killed while it held it (held for a few system calls otherwise): removed,
 * so the next attempt can take the stale lock. A symlink or a file under its name is refused like
 * one under the lock's.
 */
function removeStaleBreaker(breaker: string): void {
  const what = entryAt(breaker);
  if (what === 'other') {
    throw errors.conflict('is not a lock breaker folder (a symlink or a file has its name); no stale lock is taken over here until it is removed', [breaker]);
  }
  try {
    if (what === 'folder' && agedOut(fs.statSync(breaker).mtimeMs, BREAKER_STALE_MS)) fs.rmdirSync(breaker);
  } catch {
    /* removed meanwhile, or not empty: not a breaker of ours */
  }
}

/**
 * Run `fn` while holding the lock for every key in `keyPaths` (taken in sorted order, so two
 * callers never deadlock). `fn` receives a signal that aborts if a lock is lost meanwhile; call
 * `assertLockHeld(signal)` right before committing (it verifies on disk, not just the signal).
 * A lost lock turns into a CONFLICT error for this operation, never a crash.
 */
export async function withSidecarLock<T>(
  keyPaths: string | readonly string[],
  fn: (signal: AbortSignal) => Promise<T>,
  opts: SidecarLockOptions = {},
): Promise<T> {
  const keys = [...new Set((typeof keyPaths === 'string' ? [keyPaths] : keyPaths).map((k) => path.resolve(k)))].sort();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const rule = staleRule(opts);
  const deadline = Date.now() + timeoutMs;
  const controller = new AbortController();
  const held: HeldLock[] = [];
  const leaves: (() => void)[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    for (const key of keys) {
      const previous = queues.get(key) ?? Promise.resolve();
      let leave!: () => void;
      const mine = new Promise<void>((resolve) => (leave = resolve));
      const tail = previous.then(() => mine);
      queues.set(key, tail);
      leaves.push(() => {
        leave();
        if (queues.get(key) === tail) queues.delete(key);
      });
      if (!(await waitUntil(previous, deadline))) throw errors.lockTimeout(key);
      held.push(await acquireAsync(key, rule, deadline));
    }
    // Heartbeat: touch every lock well within staleMs; a lock found lost aborts the signal.
    timer = setInterval(() => {
      for (const l of held) {
        try {
          l.check();
        } catch (e) {
          controller.abort(e);
          clearInterval(timer);
          return;
        }
      }
    }, Math.max(200, Math.floor(rule.staleMs / 3)));
    timer.unref?.();
    heldBySignal.set(controller.signal, held);
    const result = await fn(controller.signal);
    // Lost while fn ran: say so even if fn did not look (a save checked right before its rename).
    if (controller.signal.aborted) throw lostError(keys.join(', '), (controller.signal.reason as Error)?.message ?? 'lost');
    return result;
  } finally {
    clearInterval(timer);
    for (const l of held.reverse()) l.release();
    for (const leave of leaves.reverse()) leave();
  }
}

async function acquireAsync(key: string, rule: StaleRule, deadline: number): Promise<HeldLock> {
  const lockDir = lockPathFor(key);
  for (let attempt = 0; ; attempt++) {
    const l = tryAcquire(key, lockDir, rule);
    if (l) return l;
    const left = deadline - Date.now();
    if (left <= 0) throw errors.lockTimeout(key);
    await sleep(Math.min(left, backoffMs(attempt)));
  }
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

/**
 * Throw CONFLICT unless every lock behind `signal` is still ours (checked on disk, and refreshed);
 * call right before committing a change.
 */
export function assertLockHeld(signal: AbortSignal, keyPath?: string): void {
  if (signal.aborted) {
    const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
    throw errors.conflict(`the lock was lost before writing (${reason}); nothing was written`, keyPath ? [keyPath] : []);
  }
  for (const l of heldBySignal.get(signal) ?? []) l.check();
}

/**
 * Take the sidecar lock for `keyPath` synchronously. Same lock directory and protocol as
 * `withSidecarLock`, so it excludes async `saveSidecar` callers in other processes and threads;
 * engine tasks (convert) run synchronously in worker threads and use this. Nothing refreshes it on
 * a timer (the thread is busy): the holder calls `check()` before every rename and unlink, which
 * verifies and refreshes it. A lock held by an async caller on this same thread can never be
 * released while we block, so that case fails at once with LOCK_TIMEOUT instead of deadlocking.
 */
export function acquireSidecarLockSync(keyPath: string, opts: SidecarLockOptions = {}): HeldLock {
  const key = path.resolve(keyPath);
  if (queues.has(key)) throw errors.lockTimeout(key, new Error('held by another operation in this thread'));
  const rule = staleRule(opts);
  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  const lockDir = lockPathFor(key);
  for (let attempt = 0; ; attempt++) {
    const l = tryAcquire(key, lockDir, rule);
    if (l) return l;
    const left = deadline - Date.now();
    if (left <= 0) throw errors.lockTimeout(key);
    sleepSync(Math.min(left, backoffMs(attempt)));
  }
}
