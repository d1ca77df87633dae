/** A regular file's SHA-256 (with its identity, or its size), refusing a file that is not regular any more. */
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
    const st = await streamRegularFile(path, READ_NOFOLLOW_FLAGS, (bytes) => h.update(bytes), notRegular);
    return { sha256: h.digest('hex'), snapshot: st };
  } catch (e) {
    throw hashError(e, path);
  }
}

/** hashRegularFile for many small files (relink's orphans): synchronous, without the thread pool's round trips. */
export function hashRegularFileSync(path: string): { sha256: string; size: number; snapshot: FileSnapshot } {
  const h = createHash('sha256');
  try {
    const snapshot = streamRegularFileSync(path, READ_NOFOLLOW_FLAGS, (bytes) => h.update(bytes), notRegular);
    return { sha256: h.digest('hex'), size: snapshot.size, snapshot };
  } catch (e) {
    throw hashError(e, path);
  }
}

const notRegular = (p: string) => errors.conflict('not a regular file; left alone', [p]);

/** A symlink swapped in (O_NOFOLLOW's ELOOP, raw or wrapped) is a conflict too: the file is left alone. */
function hashError(e: unknown, path: string): Error {
  const errno = isSidecarError(e) ? (e.cause as NodeJS.ErrnoException | undefined)?.code : (e as NodeJS.ErrnoException).code;
  if (errno === 'ELOOP') return errors.conflict('is a symlink now; left alone', [path]);
  return isSidecarError(e) ? e : errors.fromFs(e, path);
}

export function sameFile(st: { dev: number; ino: number; size: number; mtimeMs: number; ctimeMs: number }, s: FileSnapshot): boolean {
  return st.dev === s.dev && st.ino === s.ino && st.size === s.size && st.mtimeMs === s.mtimeMs && st.ctimeMs === s.ctimeMs;
}
