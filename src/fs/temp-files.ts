/**
 * Names of the files we create next to sidecars while working, and removal of the ones a
 * crashed writer left behind.
 *
 *   temp file:  .<basename>.isc-tmp-<pid>-<unique>   (atomic-write.ts; renamed over <basename>)
 *   lock dir:   .<stem>.isc-lock                      (lock.ts; a directory holding an owner token)
 *
 * Both start with a dot so ordinary listings hide them, and both carry a fixed mark so the
 * scanner can tell them from user files and never report them as sidecars or orphans.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { errors } from '../errors.js';

export const TEMP_MARK = '.isc-tmp-';
export const LOCK_SUFFIX = '.isc-lock';
/** Default age after which a temp file counts as abandoned even if its pid looks alive (pid reuse). */
export const DEFAULT_STALE_TEMP_MS = 10 * 60 * 1000;

// <dot><basename><mark><pid>-<unique>; the basename itself may contain anything, so match from the end.
const TEMP_RE = /\.isc-tmp-(\d+)-[0-9a-z]+$/;

let counter = 0;

/** A fresh temp-file name for `basename` (a name, not a path), unique within this process. */
export function tempNameFor(basename: string): string {
  // counter: unique within the process; random part: unlikely to collide with a recycled pid's leftovers.
  counter = (counter + 1) % 0x7fffffff;
  const unique = counter.toString(36) + Math.floor(Math.random() * 0x7fffffff).toString(36);
  return `.${basename}${TEMP_MARK}${process.pid}-${unique}`;
}

/** Is this a temp-file name made by tempNameFor? */
export function isTempName(name: string): boolean {
  return name.charCodeAt(0) === 46 /* . */ && name.includes(TEMP_MARK) && TEMP_RE.test(name);
}

/** The lock directory's name for a sidecar key (the sidecar's stem, e.g. "IMG_1"). */
export function lockNameFor(stemBase: string): string {
  return `.${stemBase}${LOCK_SUFFIX}`;
}

/**
 * A stale lock renamed aside by the process taking it over (lock.ts), removed right after. A taker
 * killed in between leaves it behind; removeStaleTempFiles sweeps it once it is older than
 * STALE_ASIDE_MIN_AGE_MS (an aside holds a lock that was already stale, so its mtime is old).
 */
export function staleAsideLockName(hex: string): string {
  return `.${hex}.stale${LOCK_SUFFIX}`;
}
const STALE_ASIDE_RE = /^\.[0-9a-f]{12}\.stale\.isc-lock$/;
export function isStaleAsideLockName(name: string): boolean {
  return STALE_ASIDE_RE.test(name);
}
const STALE_ASIDE_MIN_AGE_MS = 2_000;

/** Is this a lock directory name made by lockNameFor? */
export function isLockName(name: string): boolean {
  return name.charCodeAt(0) === 46 /* . */ && name.length > LOCK_SUFFIX.length + 1 && name.endsWith(LOCK_SUFFIX);
}

/** The writer pid recorded in a temp-file name, or null when the name is not ours. */
export function tempNamePid(name: string): number | null {
  if (name.charCodeAt(0) !== 46) return null;
  const m = TEMP_RE.exec(name);
  return m ? Number(m[1]) : null;
}

/** The file a temp file was going to replace ("IMG_1.json" for ".IMG_1.json.isc-tmp-12-ab"), or null. */
export function tempTargetName(name: string): string | null {
  if (name.charCodeAt(0) !== 46) return null;
  const m = TEMP_RE.exec(name);
  return m ? name.slice(1, m.index) : null;
}

export interface StaleTempOptions {
  /** Remove temp files older than this even when their pid is alive (pid reuse). Default 10 min. */
  olderThanMs?: number;
  /**
   * Only consider temp files for targets whose name starts with one of these (e.g. "IMG_1." for
   * every sidecar form of IMG_1.jpg). Saves the per-file stat for everything else in big folders.
   */
  targetPrefixes?: readonly string[];
  /** Clock, for tests. */
  now?: number;
}

function isPidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** First filter on the name alone (no I/O): is it ours, and for a target we were asked about? */
function candidatePid(name: string, prefixes: readonly string[] | undefined): number | null {
  const pid = tempNamePid(name);
  if (pid === null || prefixes === undefined) return pid;
  for (const p of prefixes) if (name.startsWith(p, 1)) return pid;
  return null;
}

function isStale(pid: number, mtimeMs: number, now: number, olderThanMs: number): boolean {
  return !isPidAlive(pid) || now - mtimeMs > olderThanMs;
}

function ignorable(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT'; // removed meanwhile (its writer finished or another cleaner got it)
}

/** Remove our abandoned temp files in `dir`; returns the removed paths. Errors other than races throw. */
export async function removeStaleTempFiles(dir: string, opts: StaleTempOptions = {}): Promise<string[]> {
  const olderThanMs = opts.olderThanMs ?? DEFAULT_STALE_TEMP_MS;
  const removed: string[] = [];
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    throw errors.fromFs(e, dir);
  }
  const now = opts.now ?? Date.now();
  for (const name of names) {
    if (isStaleAsideLockName(name)) {
      const p = path.join(dir, name);
      try {
        const st = await fsp.lstat(p);
        if (!st.isDirectory() || now - st.mtimeMs <= STALE_ASIDE_MIN_AGE_MS) continue;
        await fsp.rm(p, { recursive: true, force: true });
        removed.push(p);
      } catch (e) {
        if (!ignorable(e)) throw errors.fromFs(e, p);
      }
      continue;
    }
    const pid = candidatePid(name, opts.targetPrefixes);
    if (pid === null) continue;
    const p = path.join(dir, name);
    try {
      const st = await fsp.lstat(p);
      if (!st.isFile() || !isStale(pid, st.mtimeMs, now, olderThanMs)) continue;
      await fsp.unlink(p);
      removed.push(p);
    } catch (e) {
      if (!ignorable(e)) throw errors.fromFs(e, p);
    }
  }
  return removed;
}
