/**
 * Durable replace-by-rename: readers see the old file or the new one, never a partial write,
 * and after we return the new content survives a crash.
 *
 *   .<name>.isc-tmp-<host>-<pid>-<n> (same dir, 'wx') → write all → fsync → close → rename over <name>
 *   → fsync the directory (so the rename itself is durable)
 *
 * The steps are written once, as a generator that yields file-system operations; a sync and an
 * async runner execute them. So writeFileAtomic and writeFileAtomicSync (worker threads) cannot
 * drift apart.
 *
 * The content is bytes, or pieces (an iterable of strings and bytes) written as they come through
 * one reused 64 KiB buffer: a manifest of 10^7 entries is never one string (V8 caps a string at
 * ~512 MiB). An error thrown by the pieces aborts the write like any other (temp file removed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errors } from '../errors.js';
import { isDirSyncUnsupported } from './dir-sync.js';
import { tempNameFor } from './temp-files.js';
import { readFileLimitedSync } from './read-file.js';
import { READ_FLAGS, readRegularFile } from './regular-file.js';

export interface AtomicWriteOptions {
  /** Do nothing when the target already holds exactly these bytes. Default true. */
  skipIfSame?: boolean;
  /** Mode for a new file (before umask). An existing file keeps its mode. Default 0o666. */
  mode?: number;
  /**
   * A new file takes this file's permissions instead: its exact mode and, when we run as root,
   * its owner (convert: a 0600 sidecar of face embeddings stays 0600 in its new format). An
   * existing file always keeps its own mode (and, as root, its owner).
   */
  like?: { mode: number; uid: number; gid: number };
  /**
   * fsync the directory after the rename (default true). Batch writers pass false and fsync each
   * directory once for many files themselves, before they rely on the rename being durable.
   */
  syncDir?: boolean;
  /** Refuse (CONFLICT) when `target` is a symlink instead of writing through it. Default false. */
  noFollow?: boolean;
  /**
   * Called right before the rename that publishes the new bytes; throwing aborts the write (the
   * temp file is removed, the target untouched). Lock holders check here that the lock is still theirs.
   */
  beforeRename?: () => void;
}

export interface AtomicWriteResult {
  written: boolean;
}

/** Bytes, or pieces written as they come (`skipIfSame` needs bytes: pieces are always written). */
export type AtomicContent = Uint8Array | Iterable<string | Uint8Array>;

/** Pieces are gathered into writes of this size. */
const GATHER_BYTES = 64 * 1024;

type Op =
  | { op: 'lstat'; path: string }
  | { op: 'stat'; path: string }
  | { op: 'realpath'; path: string }
  | { op: 'readFile'; path: string; maxSize: number }
  | { op: 'open'; path: string; flags: string; mode: number }
  | { op: 'fchmod'; fd: number; mode: number }
  | { op: 'fchown'; fd: number; uid: number; gid: number }
  | { op: 'write'; fd: number; buf: Uint8Array; off: number; len: number }
  | { op: 'fsync'; fd: number }
  | { op: 'close'; fd: number }
  | { op: 'rename'; from: string; to: string }
  | { op: 'unlink'; path: string };

/** Only root can give a file away: a replaced file keeps its owner only then (atomic writes, the output sink). */
export const RUNNING_AS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;


function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

function* atomicWriteSteps(target: string, content: AtomicContent, opts: AtomicWriteOptions): Generator<Op, AtomicWriteResult, unknown> {
  try {
    return yield* replaceSteps(target, content, opts);
  } catch (e) {
    throw errors.fromFs(e, target);
  }
}

/**
 * The file a write to `target` replaces: `dest` (the target, or the file its symlink names) and what
 * is there now (null: nothing). A symlink is written through and kept (a rename over the link would
 * silently replace it by a regular file); a dangling link is simply replaced. `noFollow`: a symlink
 * is refused. One rule for every atomic write and for the CLI's output sink (output-sink.ts).
 */
function* targetSteps(target: string, noFollow = false): Generator<Op, { dest: string; st: fs.Stats | null }, unknown> {
  let dest = target;
  let st: fs.Stats | null = null;
  try {
    st = (yield { op: 'lstat', path: dest }) as fs.Stats;
  } catch (e) {
    if (errCode(e) !== 'ENOENT') throw e;
  }
  if (st?.isSymbolicLink() && noFollow) {
    throw errors.conflict('the target is a symlink; it is read through but never written through (replace the link by a copy of the file to update it)', [dest]);
  }
  if (st?.isSymbolicLink()) {
    try {
      dest = (yield { op: 'realpath', path: dest }) as string;
      st = (yield { op: 'lstat', path: dest }) as fs.Stats;
    } catch (e) {
      if (errCode(e) !== 'ENOENT') throw e;
      st = null;
      // A link with no path to name (/dev/stderr, /dev/fd/3 → /proc/self/fd/N → a pipe or a socket): what it leads to, if anything.
      try {
        const reached = (yield { op: 'stat', path: target }) as fs.Stats;
        if (!reached.isFile() && !reached.isDirectory()) {
          dest = target;
          st = reached;
        }
      } catch {
        /* a link to nothing: made where it points, as before */
      }
    }
  }
  return { dest, st };
}

/** `targetSteps` run asynchronously (fs errors as they are). */
export function writeTarget(target: string): Promise<{ dest: string; st: fs.Stats | null }> {
  return runAsync(targetSteps(target));
}

function* replaceSteps(target: string, content: AtomicContent, opts: AtomicWriteOptions): Generator<Op, AtomicWriteResult, unknown> {
  const bytes = content instanceof Uint8Array ? content : null;
  let existingMode: number | null = null;
  let owner: { uid: number; gid: number } | null = null;
  const { dest, st } = yield* targetSteps(target, opts.noFollow);
  if (st?.isFile()) {
    existingMode = st.mode & 0o7777;
    owner = { uid: st.uid, gid: st.gid };
    if (bytes !== null && (opts.skipIfSame ?? true) && st.size === bytes.byteLength) {
      const current = (yield { op: 'readFile', path: dest, maxSize: bytes.byteLength }) as Buffer;
      if (current.equals(bytes)) return { written: false };
    }
  }
  // A device, FIFO or socket would be replaced by the rename (as root, `hash --manifest /dev/null`
  // made /dev/null a regular file): refused. A directory makes the rename fail below, after which we clean up.
  if (st !== null && !st.isFile() && !st.isDirectory()) throw errors.notRegularFile(dest);

  const dir = path.dirname(dest);
  const base = path.basename(dest);
  let tmp = '';
  let fd = -1;
  let renamed = false;
  try {
    for (let attempt = 0; ; attempt++) {
      tmp = path.join(dir, tempNameFor(base));
      try {
        // Created with the mode it ends with (never wider meanwhile: a 0600 file's bytes are no one
        // else's to open between the create and the fchmod below).
        fd = (yield { op: 'open', path: tmp, flags: 'wx', mode: existingMode ?? (opts.like ? opts.like.mode & 0o7777 : null) ?? opts.mode ?? 0o666 }) as number;
        break;
      } catch (e) {
        tmp = '';
        if (errCode(e) !== 'EEXIST' || attempt >= 3) throw e;
      }
    }
    // open's mode is filtered by the umask; set the old file's (or the model file's) mode exactly.
    const exactMode = existingMode ?? (opts.like ? opts.like.mode & 0o7777 : null);
    if (exactMode !== null) yield { op: 'fchmod', fd, mode: exactMode };
    // Only root can give a file away; anyone else's new file is theirs, as with any editor.
    owner ??= opts.like ? { uid: opts.like.uid, gid: opts.like.gid } : null;
    if (owner && RUNNING_AS_ROOT) yield { op: 'fchown', fd, uid: owner.uid, gid: owner.gid };
    if (bytes !== null) yield* writeAll(fd, bytes);
    else yield* writePieces(fd, content as Iterable<string | Uint8Array>);
    yield { op: 'fsync', fd };
    const closing = fd;
    fd = -1;
    yield { op: 'close', fd: closing };
    opts.beforeRename?.();
    yield { op: 'rename', from: tmp, to: dest };
    renamed = true;

    if (opts.syncDir === false) return { written: true };
    let dfd = -1;
    try {
      dfd = (yield { op: 'open', path: dir, flags: 'r', mode: 0 }) as number;
      yield { op: 'fsync', fd: dfd };
    } catch (e) {
      if (!isDirSyncUnsupported(e)) throw e; // the one directory-fsync policy (dir-sync.ts)
    } finally {
      if (dfd >= 0) yield { op: 'close', fd: dfd };
    }
    return { written: true };
  } catch (e) {
    if (fd >= 0) {
      try {
        yield { op: 'close', fd };
      } catch {
        /* already failing; the original error matters */
      }
    }
    if (tmp && !renamed) {
      try {
        yield { op: 'unlink', path: tmp };
      } catch {
        /* nothing more we can do; removeStaleTempFiles catches it later */
      }
    }
    throw e;
  }
}

function* writeAll(fd: number, buf: Uint8Array, len = buf.byteLength): Generator<Op, void, unknown> {
  let off = 0;
  while (off < len) off += (yield { op: 'write', fd, buf, off, len: len - off }) as number;
}

/** Pieces gathered into one reused buffer (each write runs before the buffer is filled again); big ones go out as they are. */
function* writePieces(fd: number, pieces: Iterable<string | Uint8Array>): Generator<Op, void, unknown> {
  const chunk = Buffer.allocUnsafe(GATHER_BYTES);
  let used = 0;
  for (const piece of pieces) {
    // A UTF-16 unit is at most 3 UTF-8 bytes: a string that surely fits is encoded in place.
    if (typeof piece === 'string' && piece.length * 3 <= GATHER_BYTES - used) {
      used += chunk.write(piece, used, 'utf8');
      continue;
    }
    const b = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
    if (b.byteLength > GATHER_BYTES - used) {
      yield* writeAll(fd, chunk, used);
      used = 0;
    }
    if (b.byteLength <= GATHER_BYTES - used) {
      chunk.set(b, used);
      used += b.byteLength;
    } else yield* writeAll(fd, b);
  }
  yield* writeAll(fd, chunk, used);
}

function execSync(o: Op): unknown {
  switch (o.op) {
    case 'lstat':
      return fs.lstatSync(o.path);
    case 'stat':
      return fs.statSync(o.path);
    case 'realpath':
      return fs.realpathSync(o.path);
    case 'readFile':
      // A FIFO swapped in since the lstat above is refused, not waited on (fs/regular-file.ts).
      return readFileLimitedSync(o.path, o.maxSize);
    case 'open':
      return fs.openSync(o.path, o.flags, o.mode);
    case 'fchmod':
      return fs.fchmodSync(o.fd, o.mode);
    case 'fchown':
      return fs.fchownSync(o.fd, o.uid, o.gid);
    case 'write':
      return fs.writeSync(o.fd, o.buf, o.off, o.len);
    case 'fsync':
      return fs.fsyncSync(o.fd);
    case 'close':
      return fs.closeSync(o.fd);
    case 'rename':
      return fs.renameSync(o.from, o.to);
    case 'unlink':
      return fs.unlinkSync(o.path);
  }
}

function execAsync(o: Op): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const done = (err: NodeJS.ErrnoException | null, value?: unknown) => (err ? reject(err) : resolve(value));
    switch (o.op) {
      case 'lstat':
        return fs.lstat(o.path, done);
      case 'stat':
        return fs.stat(o.path, done);
      case 'realpath':
        return fs.realpath(o.path, done);
      case 'readFile':
        return void readRegularFile(o.path, READ_FLAGS, o.maxSize).then((b) => done(null, b), done);
      case 'open':
        return fs.open(o.path, o.flags, o.mode, done);
      case 'fchmod':
        return fs.fchmod(o.fd, o.mode, done);
      case 'fchown':
        return fs.fchown(o.fd, o.uid, o.gid, done);
      case 'write':
        return fs.write(o.fd, o.buf, o.off, o.len, null, done);
      case 'fsync':
        return fs.fsync(o.fd, done);
      case 'close':
        return fs.close(o.fd, done);
      case 'rename':
        return fs.rename(o.from, o.to, done);
      case 'unlink':
        return fs.unlink(o.path, done);
    }
  });
}

/** Run a step sequence synchronously from `step` on; with `untilFsync`, stop before the first fsync. */
function advanceSync<R>(gen: Generator<Op, R, unknown>, step: IteratorResult<Op, R>, untilFsync = false): IteratorResult<Op, R> {
  while (!step.done && !(untilFsync && step.value.op === 'fsync')) {
    let value: unknown;
    let failure: { e: unknown } | null = null;
    try {
      value = execSync(step.value);
    } catch (e) {
      failure = { e };
    }
    step = failure ? gen.throw(failure.e) : gen.next(value);
  }
  return step;
}

function runSync<R>(gen: Generator<Op, R, unknown>): R {
  return advanceSync(gen, gen.next()).value as R;
}

async function runAsync<R>(gen: Generator<Op, R, unknown>): Promise<R> {
  let step = gen.next();
  while (!step.done) {
    let value: unknown;
    let failure: { e: unknown } | null = null;
    try {
      value = await execAsync(step.value);
    } catch (e) {
      failure = { e };
    }
    step = failure ? gen.throw(failure.e) : gen.next(value);
  }
  return step.value;
}

/**
 * Replace `target` with `content` (bytes, or pieces written as they come) atomically and durably.
 * Throws SidecarError (READ_ONLY, PERMISSION, IO...), or what the pieces throw.
 */
export function writeFileAtomic(target: string, content: AtomicContent, opts: AtomicWriteOptions = {}): Promise<AtomicWriteResult> {
  return runAsync(atomicWriteSteps(target, content, opts));
}

/** Synchronous twin of writeFileAtomic (same steps), for worker-thread tasks. */
export function writeFileAtomicSync(target: string, content: AtomicContent, opts: AtomicWriteOptions = {}): AtomicWriteResult {
  return runSync(atomicWriteSteps(target, content, opts));
}

type BatchEntry = { target: string; bytes: Uint8Array; beforeRename?: () => void; like?: AtomicWriteOptions['like'] };
type BatchResult = { written: boolean } | { error: unknown };
type Parked = { i: number; gen: Generator<Op, AtomicWriteResult, unknown>; step: IteratorResult<Op, AtomicWriteResult> };

/** Every entry up to its first fsync (temp file written), or to its end when it needs none. */
function stageBatch(entries: readonly BatchEntry[], opts: Omit<AtomicWriteOptions, 'syncDir'>, results: BatchResult[]): Parked[] {
  const parked: Parked[] = [];
  for (let i = 0; i < entries.length; i++) {
    const gen = atomicWriteSteps(entries[i].target, entries[i].bytes, { ...opts, syncDir: false, beforeRename: entries[i].beforeRename ?? opts.beforeRename, like: entries[i].like ?? opts.like });
    try {
      const step = advanceSync(gen, gen.next(), true);
      if (step.done) results[i] = step.value;
      else parked.push({ i, gen, step });
    } catch (e) {
      results[i] = { error: e };
    }
  }
  return parked;
}

/** Finish a parked entry once its fsync has settled: close, then rename (with its beforeRename check). */
function finishParked(p: Parked, fsync: { failure: unknown } | null, results: BatchResult[]): void {
  try {
    const next = fsync ? p.gen.throw(fsync.failure) : p.gen.next(undefined);
    results[p.i] = advanceSync(p.gen, next).value as AtomicWriteResult;
  } catch (e) {
    results[p.i] = { error: e };
  }
}

/**
 * Write several files atomically with the steps of writeFileAtomic (group commit, issue 12): every
 * temp file is written first, then all their fsyncs are in flight at once (libuv's thread pool), so
 * the file system commits them together — 200 fsyncs of 9 KB files took 1.2 s one after another
 * and 0.2 s together here. Renames follow in entry order, each after its own fsync. Directories are
 * NOT fsynced (syncDir is forced off): the caller fsyncs each directory once before relying on the
 * renames. Never throws; each entry gets its result or its error.
 */
export async function writeFilesAtomic(entries: readonly BatchEntry[], opts: Omit<AtomicWriteOptions, 'syncDir'> = {}): Promise<BatchResult[]> {
  const results: BatchResult[] = new Array(entries.length);
  const parked = stageBatch(entries, opts, results);
  const synced = await Promise.allSettled(parked.map((p) => execAsync(p.step.value as Op)));
  parked.forEach((p, k) => {
    const r = synced[k];
    finishParked(p, r.status === 'rejected' ? { failure: r.reason } : null, results);
  });
  return results;
}
