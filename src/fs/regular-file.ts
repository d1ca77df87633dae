/**
 * How this library opens a file it expects to be a regular file — a sidecar, an image to hash, an
 * orphan to quarantine: the rule lives here once.
 *
 * - O_NONBLOCK: a FIFO (or device) swapped in since the walk must not block the open forever; it
 *   opens at once, and the fstat that follows refuses it. No effect on regular files.
 * - O_NOFOLLOW where the caller must not be led elsewhere by a symlink swapped in (hashing the
 *   tree, quarantine); image identity follows links on purpose (an image may be a link).
 * - Anything fstat does not call a regular file is refused with `notRegularFile`.
 *
 * Hashing streams through one reused 1 MiB buffer per thread: an orphan or an image may be
 * gigabytes, and its bytes are never held whole.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { errors } from '../errors.js';

/**
 * What is at `p`, links not followed: a real folder, nothing, or something else (a symlink, a
 * file, a FIFO; or an lstat error other than ENOENT). A folder of ours found in the tree (the
 * index folder, a lock folder) is used only when it is 'folder': never written or deleted through
 * a symlink planted under its name.
 */
export function entryAt(p: string): 'folder' | 'absent' | 'other' {
  try {
    return lstatSync(p).isDirectory() ? 'folder' : 'other';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'other';
  }
}

/** Does `p` lead to a regular file (a symlink followed)? False for anything else, or nothing there. */
export function leadsToRegularFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Reading a file expected to be regular, following a symlink (sidecars, images). */
export const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
/** The same, refusing a symlink in the last component (ELOOP). */
export const READ_NOFOLLOW_FLAGS = READ_FLAGS | (constants.O_NOFOLLOW ?? 0);

const CHUNK = 1 << 20;
// One chunk per thread, reused for every file.
let chunk: Buffer | null = null;

/**
 * Stream a regular file's bytes to `onChunk` (each chunk is only valid during the call), and return
 * how many there were with the identity of the file read (fstat of its descriptor, before the first
 * read). Throws SidecarError (the fs error, or `refuse(path)`: `notRegularFile`).
 */
export function streamRegularFileSync(path: string, flags: number, onChunk: (bytes: Buffer) => void, refuse: (path: string) => Error = errors.notRegularFile): StreamedFile {
  let fd: number;
  try {
    fd = openSync(path, flags);
  } catch (e) {
    throw errors.fromFs(e, path);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw refuse(path);
    const buf = (chunk ??= Buffer.allocUnsafe(CHUNK));
    let size = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      onChunk(n === CHUNK ? buf : buf.subarray(0, n));
      size += n;
    }
    return { size, dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
  } catch (e) {
    throw errors.fromFs(e, path);
  } finally {
    closeSync(fd);
  }
}

/** What a file was when it was streamed (fstat through the same descriptor, before the first read). */
export interface StreamedFile {
  size: number;
  dev: number;
  ino: number;
  mtimeMs: number;
  ctimeMs: number;
}

/**
 * `streamRegularFileSync` without blocking the event loop (the reads run on the thread pool), with
 * the file's identity. Its own buffer per call: calls may run concurrently. Throws the fs error as
 * it is (callers word ELOOP and the like themselves), or `refuse(path)` for a file that is not
 * regular.
 */
export async function streamRegularFile(
  path: string,
  flags: number,
  onChunk: (bytes: Buffer) => void,
  refuse: (path: string) => Error = errors.notRegularFile,
  maxBytes = Number.MAX_SAFE_INTEGER,
): Promise<StreamedFile> {
  const fh = await open(path, flags);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw refuse(path);
    if (st.size > maxBytes) throw errors.tooLarge(st.size, maxBytes, path);
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, st.size)));
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      onChunk(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { size, dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * A whole regular file's bytes, without blocking the event loop (a manifest found in the tree), at
 * most `maxBytes` (`tooLarge` beyond: a sparse file of any apparent size is never read whole).
 * Throws as `streamRegularFile`: the fs error as it is (ENOENT...), or `notRegularFile`.
 */
export async function readRegularFile(path: string, flags: number = READ_FLAGS, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  await streamRegularFile(
    path,
    flags,
    (bytes) => {
      size += bytes.length;
      if (size > maxBytes) throw errors.tooLarge(size, maxBytes, path); // it grew while read
      parts.push(Buffer.from(bytes));
    },
    errors.notRegularFile,
    maxBytes,
  );
  return Buffer.concat(parts);
}
