/**
 * Names of the files we create next to sidecars while working, and removal of the ones a
 * crashed writer left behind.
 *
 *   temp file:  .<basename>.isc-tmp-<host>-<pid>-<unique>   (atomic-write.ts; renamed over <basename>)
 *               .<basename>.isc-tmp-<pid>-<unique>          (the form before host marks: still recognised)
 *   lock dir:   .<stem>.isc-lock                             (lock.ts; a directory holding an owner token)
 *   an aside:   .<16 hex>.isc-lock-aside                     (lock.ts; a stale lock taken away, swept 10 minutes later)
 *
 * A name must fit in NAME_MAX (255 bytes) next to a sidecar whose own name may be that long: a temp
 * name carries at most the first TEMP_BASE_MAX_BYTES of <basename>, a lock name over NAME_MAX the
 * first LOCK_STEM_MAX_BYTES of <stem> + `~` + 16 hex digits of its sha256 (one lock per stem still).
 *
 * Both start with a dot so ordinary listings hide them, and both carry a fixed mark so the
 * scanner can tell them from user files and never report them as sidecars or orphans.
 *
 * A temp file is abandoned when its writer is dead. Whether a pid is alive can only be asked of
 * processes we can see: jobs on several hosts (`convert --shard` on a NAS folder) or in several
 * containers write into the same folders, and another machine's pid means nothing here. So the
 * name carries a host mark (`hostMark()`: 8 hex digits of sha256 of the hostname, the kernel's
 * boot id and the pid namespace — the things that make a pid mean the same process), and a temp
 * file is stale when
 *   - it is ours (our host mark) and its pid is dead, or
 *   - its mtime is older than DEFAULT_STALE_TEMP_MS (1 hour), whoever wrote it: a writer's temp
 *     file is written from open to rename, with no idle hour in between, so an hour-old one is a
 *     dead writer's (or a recycled pid's) on any host; an hour also covers clock skew between
 *     hosts and the file server that sets the mtime.
 * Another host's temp file, or one of the old form (its host unknown), is left alone until then.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { errors } from '../errors.js';
import { TEMP_NAME_RE } from '../temp-name.js';

export const TEMP_MARK = '.isc-tmp-';
export const LOCK_SUFFIX = '.isc-lock';
/**
 * Age after which a temp file counts as abandoned whoever wrote it: another host's (its pid cannot
 * be asked), one of the old form, or ours with a pid that looks alive (pid reuse).
 */
export const DEFAULT_STALE_TEMP_MS = 60 * 60 * 1000;


/** The longest file name (bytes) Linux file systems allow. */
const NAME_MAX_BYTES = 255;
/**
 * A temp name keeps at most this many bytes of its target's name: the rest (mark, host, pid, unique)
 * takes at most 39. A fixed cut, so the cut of a name's prefix is a prefix of the cut name
 * (removeStaleTempFiles' `targetPrefixes`).
 */
const TEMP_BASE_MAX_BYTES = 200;
const LOCK_STEM_MAX_BYTES = 200;

/** The longest prefix of `s` of at most `maxBytes` bytes in UTF-8, cut between code points. */
function headBytes(s: string, maxBytes: number): string {
  if (s.length * 3 <= maxBytes) return s; // a UTF-16 unit is at most 3 bytes in UTF-8
  let bytes = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.codePointAt(i)!;
    const n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (bytes + n > maxBytes) break;
    bytes += n;
    i += c < 0x10000 ? 1 : 2;
  }
  return s.slice(0, i);
}

let counter = 0;
let mark: string | null = null;

function readOr(read: () => string, fallback: string): string {
  try {
    return read().trim();
  } catch {
    return fallback;
  }
}

/**
 * This process's host mark in temp names: 8 hex digits of sha256(hostname, boot id, pid
 * namespace). Two processes share it exactly when each can ask whether the other's pid is alive
 * (same machine, same boot, same pid namespace; without /proc, the hostname alone).
 */
export function hostMark(): string {
  mark ??= createHash('sha256')
    .update([hostname(), readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'), ''), readOr(() => readlinkSync('/proc/self/ns/pid'), '')].join('\0'))
    .digest('hex')
    .slice(0, 8);
  return mark;
}

/** A fresh temp-file name for `basename` (a name, not a path), unique within this process. */
export function tempNameFor(basename: string): string {
  // counter: unique within the process; random part: unlikely to collide with a recycled pid's leftovers.
  counter = (counter + 1) % 0x7fffffff;
  const unique = counter.toString(36) + Math.floor(Math.random() * 0x7fffffff).toString(36);
  return `.${headBytes(basename, TEMP_BASE_MAX_BYTES)}${TEMP_MARK}${hostMark()}-${process.pid}-${unique}`;
}

/** Is this a temp-file name made by tempNameFor? */
export function isTempName(name: string): boolean {
  return name.charCodeAt(0) === 46 /* . */ && name.includes(TEMP_MARK) && TEMP_NAME_RE.test(name);
}

/** The lock directory's name for a sidecar key (the sidecar's stem, e.g. "IMG_1"). */
export function lockNameFor(stemBase: string): string {
  const name = `.${stemBase}${LOCK_SUFFIX}`;
  if (Buffer.byteLength(name) <= NAME_MAX_BYTES) return name;
  const digest = createHash('sha256').update(stemBase).digest('hex').slice(0, 16);
  return `.${headBytes(stemBase, LOCK_STEM_MAX_BYTES)}~${digest}${LOCK_SUFFIX}`;
}

/**
 * A stale lock renamed aside by the process that took it over (lock.ts `takeOverIfStale`), named
 * by a digest of what identifies that lock (its folder's inode and its owner token): every taker
 * that saw the same stale lock picks the same name, so only the first rename succeeds. It is left
 * in place for ASIDE_KEEP_MS after the rename (`asideDue`), then swept: while it is there, a taker
 * that saw it stale and lost the CPU cannot move the lock made after it. Its own suffix, so no
 * sidecar's lock name (`.<stem>.isc-lock`) is ever taken for an aside.
 */
export function staleAsideLockName(seen: string): string {
  return `.${createHash('sha256').update(seen).digest('hex').slice(0, 16)}${ASIDE_SUFFIX}`;
}
const ASIDE_SUFFIX = '.isc-lock-aside';
const ASIDE_RE = /^\.[0-9a-f]{16}\.isc-lock-aside$/;
export const ASIDE_KEEP_MS = 10 * 60_000;
/**
 * How far in the future a lock's or an aside's mtime may be and still be explained by clock skew
 * between hosts and the file server; beyond it, no holder or taker of ours dated it (lock.ts).
 */
export const CLOCK_SKEW_TOLERANCE_MS = 10 * 60_000;

/**
 * An aside is swept ASIDE_KEEP_MS after it was moved: the later of its ctime (the rename sets it)
 * and its mtime (the taker sets it right after, for file systems whose rename leaves the ctime). By
 * the mtime alone, an aside whose taker was killed, or lost the CPU, before it set the mtime still
 * carried the dead lock's: swept at once, its name was free for a late taker's rename again. One
 * dated far in the future is no taker's either. Whatever is under the name, folder or not.
 */
export function asideDue(st: { mtimeMs: number; ctimeMs: number }, now: number): boolean {
  return now - Math.max(st.mtimeMs, st.ctimeMs) > ASIDE_KEEP_MS || st.mtimeMs - now > CLOCK_SKEW_TOLERANCE_MS;
}

/** Is this the name of a stale lock taken aside (staleAsideLockName)? */
export function isLockAsideName(name: string): boolean {
  return name.endsWith(ASIDE_SUFFIX) && ASIDE_RE.test(name);
}

/** Is this a lock directory name made by lockNameFor, or a lock's aside (staleAsideLockName)? */
export function isLockName(name: string): boolean {
  return name.charCodeAt(0) === 46 /* . */ && ((name.length > LOCK_SUFFIX.length + 1 && name.endsWith(LOCK_SUFFIX)) || isLockAsideName(name));
}

/** The writer pid recorded in a temp-file name, or null when the name is not ours. */
export function tempNamePid(name: string): number | null {
  return tempNameWriter(name)?.pid ?? null;
}

/** Writer of a temp file by its name: pid and host mark (null for the old form), or null when the name is not ours. */
export function tempNameWriter(name: string): { pid: number; host: string | null } | null {
  if (name.charCodeAt(0) !== 46) return null;
  const m = TEMP_NAME_RE.exec(name);
  return m ? { pid: Number(m[2]), host: m[1] ?? null } : null;
}

export interface StaleTempOptions {
  /** Remove temp files older than this whoever wrote them (another host, the old form, pid reuse). Default 1 hour. */
  olderThanMs?: number;
  /**
   * Only consider temp files for targets whose name starts with one of these (e.g. "IMG_1." for
   * every sidecar form of IMG_1.jpg). Saves the per-file stat for everything else in big folders.
   */
  targetPrefixes?: readonly string[];
  /** Clock, for tests. */
  now?: number;
}

const PID_MAX = 4_194_304;

/** Is this process alive? Only meaningful for a pid of this host (`hostMark()`). */
function isPidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // kill(pid, 0) succeeds on a process that has exited but that its parent has not reaped yet (a
  // zombie, killed while it held a lock): it will never run again.
  return !hasExited(pid);
}

/**
 * Has `pid` exited (a zombie, or being reaped)? Its state in /proc/<pid>/stat (Linux): Z or X.
 * False where that cannot be read (no /proc, another system, a process hidden from us): kill's
 * answer stands.
 */
function hasExited(pid: number): boolean {
  if (process.platform !== 'linux') return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return false;
  }
  // "<pid> (<command name>) <state> ...": the name may hold spaces and parentheses, the state follows the last ')'.
  const state = stat.charAt(stat.lastIndexOf(')') + 2);
  return state === 'Z' || state === 'X';
}

/** First filter on the name alone (no I/O): is it ours, and for a target we were asked about? */
function candidate(name: string, prefixes: readonly string[] | undefined): { pid: number; host: string | null } | null {
  const writer = tempNameWriter(name);
  if (writer === null || prefixes === undefined) return writer;
  for (const p of prefixes) if (name.startsWith(headBytes(p, TEMP_BASE_MAX_BYTES), 1)) return writer;
  return null;
}

/**
 * What a process's host mark and pid say about it: 'alive' or 'dead' for a process of this host
 * (same machine, boot and pid namespace), 'unknown' for another host's or an unmarked one. The one
 * rule behind temp files (abandoned at once when 'dead') and locks (kept past their stale age
 * while 'alive', lock.ts).
 */
export function processState(host: string | null, pid: number): 'alive' | 'dead' | 'unknown' {
  // 0 and what no kernel hands out (pid_max is at most 2^22) name no process: kill(0, 0) signals
  // our own group, and a bigger number is not even a valid argument.
  if (host !== hostMark() || !Number.isSafeInteger(pid) || pid <= 0 || pid > PID_MAX) return 'unknown';
  return isPidAlive(pid) ? 'alive' : 'dead';
}

/** Abandoned: old enough whoever wrote it, or written on this host by a pid that is gone. */
function isStale(writer: { pid: number; host: string | null }, mtimeMs: number, now: number, olderThanMs: number): boolean {
  if (now - mtimeMs > olderThanMs) return true;
  return processState(writer.host, writer.pid) === 'dead';
}

/**
 * Is `name` (in some folder) a temp file an abandoned writer left, by the rule above, given its
 * mtime? False for a name that is not one of our temp files, and for a writer that may still be at
 * work (alive on this host, or another host's and younger than `olderThanMs`).
 */
export function isAbandonedTempFile(name: string, mtimeMs: number, now: number = Date.now(), olderThanMs: number = DEFAULT_STALE_TEMP_MS): boolean {
  const writer = tempNameWriter(name);
  return writer !== null && isStale(writer, mtimeMs, now, olderThanMs);
}

function ignorable(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT'; // removed meanwhile (its writer finished or another cleaner got it)
}

/** Remove abandoned temp files (see the rule above) in `dir`; returns the removed paths. Errors other than races throw. */
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
    if (isLockAsideName(name)) {
      const p = path.join(dir, name);
      try {
        if (!asideDue(await fsp.lstat(p), now)) continue;
        await fsp.rm(p, { recursive: true, force: true }); // a symlink is removed, never followed
        removed.push(p);
      } catch (e) {
        if (!ignorable(e)) throw errors.fromFs(e, p);
      }
      continue;
    }
    const writer = candidate(name, opts.targetPrefixes);
    if (writer === null) continue;
    const p = path.join(dir, name);
    try {
      const st = await fsp.lstat(p);
      if (!st.isFile() || !isStale(writer, st.mtimeMs, now, olderThanMs)) continue;
      await fsp.unlink(p);
      removed.push(p);
    } catch (e) {
      if (!ignorable(e)) throw errors.fromFs(e, p);
    }
  }
  return removed;
}
