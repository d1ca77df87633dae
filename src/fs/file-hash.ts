/** A regular file's SHA-256 together with its identity, to tell later whether it is still that file. */
import { createHash } from 'node:crypto';
import { errors, isSidecarError } from '../errors.js';
import { READ_NOFOLLOW_FLAGS, streamRegularFile, streamRegularFileSync } from './regular-file.js';

/** What a file was when it was hashed; it must still be that file when it is moved. */
export interface FileSnapshot {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/**
 * SHA-256 of a regular file, opened without following a symlink and without blocking on a FIFO
 * swapped in (fs/regular-file.ts), streamed (an orphan may be gigabytes), with its identity.
 */
export async function hashRegularFile(path: string): Promise<{ sha256: string; snapshot: FileSnapshot }> {
  const h = createHash('sha256');
  try {
    const st = await streamRegularFile(path, READ_NOFOLLOW_FLAGS, (bytes) => h.update(bytes), (p) => errors.conflict('not a regular file; left alone', [p]));
    return { sha256: h.digest('hex'), snapshot: st };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw errors.conflict('is a symlink now; left alone', [path]);
    throw isSidecarError(e) ? e : errors.fromFs(e, path);
  }
}

/** hashRegularFile for many small files (relink's orphans): synchronous, without the thread pool's round trips. */
export function hashRegularFileSync(path: string): { sha256: string; size: number } {
  const h = createHash('sha256');
  try {
    // As hashRegularFile: a FIFO or folder swapped in since the plan is a conflict, the file left alone.
    const size = streamRegularFileSync(path, READ_NOFOLLOW_FLAGS, (bytes) => h.update(bytes), (p) => errors.conflict('not a regular file; left alone', [p]));
    return { sha256: h.digest('hex'), size };
  } catch (e) {
    if (isSidecarError(e) && (e.cause as NodeJS.ErrnoException | undefined)?.code === 'ELOOP') throw errors.conflict('is a symlink now; left alone', [path]);
    throw e;
  }
}

export function sameFile(st: { dev: number; ino: number; size: number; mtimeMs: number; ctimeMs: number }, s: FileSnapshot): boolean {
  return st.dev === s.dev && st.ino === s.ino && st.size === s.size && st.mtimeMs === s.mtimeMs && st.ctimeMs === s.ctimeMs;
}
