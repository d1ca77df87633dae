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
 *             holder (host mark, pid and thread, temp-files.ts) and a random part
 *   hold      the directory's mtime is the heartbeat: `check()` verifies the token and touches it;
 *             async holders check every staleMs / 3 on a timer, sync holders (convert units in
 *             worker threads) call `check()` before every rename (`check(true)` within staleMs / 3
 *             of a verified check, or of the lock's making, reads the token without touching the
 *             folder);
 *             `release()` removes the folder only while it holds our token
 *   stale     a lock whose mtime is older than staleMs belongs to a dead or stalled holder — unless
 *             its token names a live process of this host (another process; a holder starved of
 *             CPU, or stopped, keeps its lock up to liveHolderMs, 60 s; a dead one's lock, another
 *             host's, and another thread's of this process are taken at staleMs). A lock dated
 *             ahead of the taker's clock has no age by it: its silence is how long this thread has
 *             seen it unchanged (`LockWatch`)
 *   take over the lock is renamed aside under a name made from its folder's inode and its token,
 *             verified to be the one seen (else put back) and left for the sweep: a late taker that
 *             saw the same stale lock renames onto that name and fails, instead of moving a new
 *             holder's lock aside (`takeOverIfStale`)
 *   lost      a holder whose token is gone must not commit: `check()` throws CONFLICT, the caller
 *             undoes what it did and reports; it never removes a source
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';
import { errors, isSidecarError } from '../errors.js';
import { readFileLimitedSync } from './read-file.js';
import { entryAt } from './regular-file.js';
import { CLOCK_SKEW_TOLERANCE_MS, hostMark, lockNameFor, processState, staleAsideLockName } from './temp-files.js';

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
  constructor(
    readonly key: string,
    readonly lockDir: string,
    private readonly token: string,
    private readonly staleMs: number,
    /**
     * When the heartbeat was last set with our token in place (`clocks()`): the lock's making (its
     * folder's mtime), then each check(); -Infinity once found lost.
     */
    private verifiedAt: Clocks,
  ) {}

  /**
   * Refreshed recently enough to skip the touch: a taker needs the heartbeat older than staleMs, and
   * check() or the lock's making set it less than staleMs / 3 ago (a touch with our clock, a mkdir
   * with the file system's; the margin of 2/3 staleMs absorbs their skew as it absorbs the async
   * holders' timer every staleMs / 3). The token is still read: a lock whose earlier holder, stale on another
   * host, released it after a taker's look may be moved by that taker and, if a third process made
   * it meanwhile, not put back (a race the lock tests replay: two holders, and a trusting release
   * removed the third's lock). While fresh, a convert unit's checks and its release each read one small file.
   */
  private fresh(): boolean {
    // Both clocks: the monotonic one stands still while the machine sleeps (a laptop's suspend),
    // when the wall clock, the one takers compare the heartbeat with, goes on; the wall clock may be set back.
    const now = clocks();
    const window = this.staleMs / 3;
    const wall = now.wall - this.verifiedAt.wall;
    return now.mono - this.verifiedAt.mono < window && wall >= 0 && wall < window;
  }

  check(unlessFresh = false): void {
    if (this.released) throw lostError(this.key, 'already released');
    if (unlessFresh && this.fresh()) {
      this.assertOwned();
      return;
    }
    const started = clocks();
    this.assertOwned();
    const now = new Date();
    try {
      fs.utimesSync(this.lockDir, now, now);
    } catch (e) {
      throw this.lost(`cannot refresh it: ${(e as Error).message}`);
    }
    // The touch went by name: taken over and made again since the read, it refreshed the new
    // holder's lock. Read again, so that a check that passes saw our token after its touch.
    this.assertOwned();
    this.verifiedAt = started;
  }

  /** Our token is in the lock folder on disk, or CONFLICT. */
  private assertOwned(): void {
    let owner: string | null;
    try {
      owner = readOwner(this.lockDir);
    } catch (e) {
      throw this.lost(`cannot read it: ${(e as Error).message}`);
    }
    if (owner !== this.token) throw this.lost(owner === null ? 'its directory was removed' : 'another holder took it over');
  }

  /** A lock found lost is touched again only after its token is found once more. */
  private lost(why: string): Error {
    this.verifiedAt = { mono: -Infinity, wall: -Infinity };
    return lostError(this.key, why);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    // Only our own lock is removed: after a takeover the directory is someone else's.
    try {
      if (readOwner(this.lockDir) !== this.token) return;
    } catch {
      return;
    }
    removeLockDir(this.lockDir);
  }
}

/** A moment on both clocks (Lock.fresh). */
interface Clocks {
  mono: number;
  wall: number;
}

function clocks(): Clocks {
  return { mono: performance.now(), wall: Date.now() };
}

/**
 * One attempt: the lock when we got it, null when it is held by a live holder. A stale lock taken
 * over is ours to make at once, in the same attempt (a caller that does not wait, timeout 0, has no
 * second one). Throws for real errors (missing folder...).
 */
function tryAcquire(key: string, lockDir: string, rule: StaleRule, watch: LockWatch): Lock | null {
  const made = clocks();
  for (let pass = 0; ; pass++) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch (e) {
      if (errCode(e) !== 'EEXIST') throw errors.fromFs(e, lockDir);
      // A symlink or a file under the lock's name is not a lock: taking it over as stale would
      // delete through it, outside the library. The save is refused with the reason.
      if (entryAt(lockDir) === 'other') {
        throw errors.conflict('is not a lock folder (a symlink or a file has its name); nothing is written under this lock until it is removed', [lockDir]);
      }
      if (pass > 0 || !takeOverIfStale(lockDir, rule, watch)) return null;
    }
  }
  watches.delete(lockDir);
  const token = ownerToken();
  try {
    fs.writeFileSync(path.join(lockDir, OWNER_FILE), token, { flag: 'wx' });
  } catch (e) {
    // Taken over in between (we were "stale" already?) or the folder went away: not ours.
    if (errCode(e) === 'EEXIST' || errCode(e) === 'ENOENT') return null;
    removeLockDir(lockDir);
    throw errors.fromFs(e, lockDir);
  }
  // The folder just made has a fresh mtime, the heartbeat a touch would give it: the first
  // check(true) reads the token only (a mv or convert unit checks right after taking its locks).
  return new Lock(key, lockDir, token, rule.staleMs, made);
}

/**
 * A lock's folder mtime is refreshed by its holder every few seconds. Older than `maxAgeMs`: its
 * holder is gone or stalled. Far in the future (beyond what clock skew between hosts explains): no
 * holder refreshes it either — a planted lock dated 2099 blocked every writer, each for its timeout.
 */
function agedOut(mtimeMs: number, maxAgeMs: number): boolean {
  const age = Date.now() - mtimeMs;
  return age > maxAgeMs || age < -CLOCK_SKEW_TOLERANCE_MS;
}

/**
 * What one taker saw of a lock over its attempts. A lock dated ahead of our clock (a file server
 * whose clock is ahead of ours dates a new lock so, and a holder killed before its first heartbeat
 * leaves it so) has no age by our clock: its silence is how long this taker has seen it unchanged
 * (same folder, same mtime). A live holder's heartbeat moves the mtime with its own clock (an async
 * holder every staleMs / 3; a sync one at each check, as the age rule needs too); waiting for our
 * clock to pass the date kept a dead holder's lock for up to the skew tolerance (10 minutes). A new
 * process starts its count from zero.
 */
class LockWatch {
  private seen = '';
  private since = 0;

  /** How long the lock, as stat'ed now, has been seen as it is (0 the first time). */
  silentFor(st: fs.BigIntStats): number {
    const now = performance.now();
    const id = `${st.dev}:${st.ino}:${st.mtimeNs}`;
    if (id !== this.seen) {
      this.seen = id;
      this.since = now;
    }
    return now - this.since;
  }
}

/**
 * The watches of this thread, by lock folder, kept across calls: a caller that tries again and
 * again with short waits (restore's timeout-0 attempts, relink's slices) counts the silence from its
 * first look, not from each call's (it never reached the stale age). A watch goes when its lock is
 * taken; past WATCHES, the oldest.
 */
const watches = new Map<string, LockWatch>();
const WATCHES = 256;

function watchOf(lockDir: string): LockWatch {
  let w = watches.get(lockDir);
  if (w === undefined) {
    if (watches.size >= WATCHES) watches.delete(watches.keys().next().value!);
    watches.set(lockDir, (w = new LockWatch()));
  }
  return w;
}

/**
 * `<host mark>-<pid>.<thread id>-<random>`. Another form (before host marks: `<pid>-<random>`) names
 * no process that can be asked: its lock follows the stale age alone.
 */
const OWNER_TOKEN_RE = /^([0-9a-f]{8})-(\d+)\.(\d+)-[0-9a-f]+$/;

function ownerToken(): string {
  // randomUUID draws from a pool it refills in blocks: randomBytes called the generator once per lock.
  return `${hostMark()}-${process.pid}.${threadId}-${randomUUID().replaceAll('-', '')}`;
}

/**
 * A lock's holder is alive on this host, so its lock is not stale before liveHolderMs. Another
 * thread of this process is not asked: a worker terminated by its pool (an aborted task) leaves its
 * locks behind in a live process, so those follow the stale age, as before host marks.
 */
function ownerAliveHere(token: string): boolean {
  const m = OWNER_TOKEN_RE.exec(token);
  if (m === null) return false;
  const pid = Number(m[2]);
  if (pid === process.pid && Number(m[3]) !== threadId) return false;
  return processState(m[1], pid) === 'alive';
}

/**
 * Is the lock of `keyPath` held by a process of this host that has exited (killed while it held
 * it)? Nobody refreshes such a lock: it goes stale within staleMs, so a caller that never waits for
 * a live holder may wait that long for this one.
 */
export function lockHolderDead(keyPath: string): boolean {
  const m = OWNER_TOKEN_RE.exec(ownerSeen(lockPathFor(path.resolve(keyPath))) ?? '');
  return m !== null && processState(m[1], Number(m[2])) === 'dead';
}

/** The owner token for a taker's comparisons: one that cannot be read stands for its error's code. */
function ownerSeen(dir: string): string | null {
  try {
    return readOwner(dir);
  } catch (e) {
    // The code only: a message names the path, and the lock is compared with itself moved aside.
    return `\0unreadable ${isSidecarError(e) ? (errCode(e.cause) ?? e.code) : (errCode(e) ?? 'error')}`;
  }
}

/** One lock folder as a taker saw it: which folder (an inode, and its ctime: any rename or change moves it) and whose. */
interface SeenLock {
  dev: number;
  ino: number;
  ctimeNs: bigint;
  mtimeNs: bigint;
  owner: string;
}

/** Is the folder at `dir` still the one seen, unchanged (same inode, same ctime)? */
function stillSeen(dir: string, seen: SeenLock): boolean {
  try {
    const a = fs.statSync(dir, { bigint: true });
    return Number(a.dev) === seen.dev && Number(a.ino) === seen.ino && a.ctimeNs === seen.ctimeNs;
  } catch {
    return false;
  }
}

/**
 * The lock at `dir` when it is stale ('' as owner for one whose holder was killed before it wrote
 * its token; an owner that cannot be read, a folder or a FIFO planted as `owner`, names no one
 * either), or null when it is live or gone. The folder is stat'ed before and after its owner is
 * read, and must be the same, unchanged: else the token read may be a new lock's, made after
 * another taker moved the stale one away, and a rename under the stale one's aside name would
 * move that new lock.
 */
function staleLock(dir: string, rule: StaleRule, watch: LockWatch): SeenLock | null {
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(dir, { bigint: true });
  } catch {
    return null; // released meanwhile: the next attempt takes it
  }
  const mtimeMs = Number(st.mtimeMs);
  // Dated ahead of our clock: silent for as long as this taker has seen it so (LockWatch); far
  // ahead, beyond any skew: stale at once (agedOut).
  const age = Date.now() - mtimeMs;
  const silentMs = age < -CLOCK_SKEW_TOLERANCE_MS ? Infinity : age < 0 ? watch.silentFor(st) : age;
  if (silentMs <= rule.staleMs) return null;
  const owner = ownerSeen(dir);
  if (owner === null || (silentMs <= rule.liveHolderMs && ownerAliveHere(owner))) return null;
  const seen = { dev: Number(st.dev), ino: Number(st.ino), ctimeNs: st.ctimeNs, mtimeNs: st.mtimeNs, owner };
  return stillSeen(dir, seen) ? seen : null;
}

/**
 * Tests only: called by a taker right after it found a lock stale, to play what other processes
 * may do before its next step (the interleaving the aside's name is chosen for).
 */
export const lockTakeoverProbe: { afterLook?: (lockDir: string) => void } = {};

/**
 * Take a stale lock away, or do nothing. The lock folder is renamed aside under a name made from
 * the folder (its inode) and its owner, and left there (swept ten minutes later, temp-files.ts):
 * a second taker that saw the same stale lock, then lost the CPU while the first took it and a new
 * holder made the lock again, renames to that same name, which a non-empty folder holds, and fails.
 * With a name of its own it moved the new holder's lock aside: two holders at once (the concurrency
 * run saw it under load).
 */
function takeOverIfStale(lockDir: string, rule: StaleRule, watch: LockWatch): boolean {
  const seen = staleLock(lockDir, rule, watch);
  if (seen === null) return false;
  lockTakeoverProbe.afterLook?.(lockDir);
  if (seen.owner === '') {
    // No token: the aside would be empty, and a rename replaces an empty folder. An empty lock is
    // removed instead; one made meanwhile is empty only until its maker writes its token, which
    // then fails, and that maker tries again.
    try {
      fs.rmdirSync(lockDir);
      return true;
    } catch (e) {
      if (errCode(e) !== 'ENOTEMPTY' && errCode(e) !== 'EEXIST') return false;
    }
    // Not empty: the one seen, holding files but no token (planted), is moved aside like any
    // other; anything else is a lock made meanwhile.
    if (!stillSeen(lockDir, seen)) return false;
  }
  const aside = path.join(path.dirname(lockDir), staleAsideLockName(`${seen.dev}:${seen.ino}:${seen.owner}`));
  try {
    fs.renameSync(lockDir, aside);
  } catch {
    return false; // taken by another taker (its aside has this name), or released meanwhile
  }
  // The one seen, still stale? Its holder, stalled but alive on another host, may have refreshed
  // it, or released it after our look and a new holder made it again (or we stalled past the
  // aside's ten minutes).
  let moved: fs.BigIntStats | null = null;
  try {
    moved = fs.statSync(aside, { bigint: true });
  } catch {
    /* swept meanwhile */
  }
  // (Its mtime as seen: no heartbeat since the look, whatever its date; or stale by its age.)
  const unmoved = moved !== null && (moved.mtimeNs === seen.mtimeNs || agedOut(Number(moved.mtimeMs), rule.staleMs));
  if (moved !== null && Number(moved.dev) === seen.dev && Number(moved.ino) === seen.ino && unmoved && ownerSeen(aside) === seen.owner) {
    // Ours to keep aside, dated now for the sweep (its mtime was the stale heartbeat's).
    try {
      const now = new Date();
      fs.utimesSync(aside, now, now);
    } catch {
      /* swept meanwhile */
    }
    return true;
  }
  // A live lock: put it back (over a folder made meanwhile while it is still empty, so that maker's
  // token write fails). Failing that, its holder's check() reports it lost.
  try {
    fs.renameSync(aside, lockDir);
  } catch {
    removeLockDir(aside);
  }
  return false;
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
  const watch = watchOf(lockDir);
  for (let attempt = 0; ; attempt++) {
    const l = tryAcquire(key, lockDir, rule, watch);
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
  const watch = watchOf(lockDir);
  for (let attempt = 0; ; attempt++) {
    const l = tryAcquire(key, lockDir, rule, watch);
    if (l) return l;
    const left = deadline - Date.now();
    if (left <= 0) throw errors.lockTimeout(key);
    sleepSync(Math.min(left, backoffMs(attempt)));
  }
}
