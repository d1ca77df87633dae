/**
 * The one directory-fsync policy. After a rename, link or unlink, fsync of the directory makes the
 * name change durable. Some platforms and file systems cannot fsync a directory (EINVAL, EISDIR,
 * ENOTSUP, EBADF, EPERM): that is not an error, there is nothing more we can do. A directory that
 * is gone (ENOENT) has nothing left to make durable. Anything else (EIO, ENOSPC...) is an error,
 * as a SidecarError: the caller must not rely on the change being durable.
 */
import { open } from 'node:fs/promises';
import { errors, type SidecarError } from '../errors.js';

const CANNOT = new Set(['EINVAL', 'EISDIR', 'ENOTSUP', 'EBADF', 'EPERM', 'ENOENT']);

/** True for an fsync error that only says "this directory cannot be fsynced here". */
export function isDirSyncUnsupported(e: unknown): boolean {
  return CANNOT.has((e as NodeJS.ErrnoException | undefined)?.code ?? '');
}

export async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    if (!isDirSyncUnsupported(e)) throw errors.fromFs(e, dir);
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/**
 * fsync each directory once, all in flight together (the file system commits them as one);
 * returns the ones that failed, for batch callers that decide per item (convert's group commit).
 */
export async function fsyncDirsSettled(dirs: Iterable<string>): Promise<Map<string, SidecarError>> {
  const list = [...new Set(dirs)];
  const results = await Promise.allSettled(list.map((d) => fsyncDir(d)));
  const failed = new Map<string, SidecarError>();
  results.forEach((r, k) => {
    if (r.status === 'rejected') failed.set(list[k], r.reason as SidecarError);
  });
  return failed;
}

/** fsyncDirsSettled for callers that stop at the first failure (it is thrown). */
export async function fsyncDirs(dirs: Iterable<string>): Promise<void> {
  for (const e of (await fsyncDirsSettled(dirs)).values()) throw e;
}
