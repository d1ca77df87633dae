/**
 * The one directory-fsync policy. After a rename, link or unlink, fsync of the directory makes the
 * name change durable. Some platforms and file systems cannot fsync a directory (EINVAL, EISDIR,
 * ENOTSUP, EBADF, EPERM): that is not an error, there is nothing more we can do. A directory that
 * is gone (ENOENT) has nothing left to make durable. Anything else (EIO, ENOSPC...) is an error,
 * as a SidecarError: the caller must not rely on the change being durable.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { errors, type SidecarError } from '../errors.js';

const CANNOT = new Set(['EINVAL', 'EISDIR', 'ENOTSUP', 'EBADF', 'EPERM', 'ENOENT']);

/** True for an fsync error that only says "this directory cannot be fsynced here". */
export function isDirSyncUnsupported(e: unknown): boolean {
  return CANNOT.has((e as NodeJS.ErrnoException | undefined)?.code ?? '');
}

export function fsyncDirSync(dir: string): void {
  let fd = -1;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (e) {
    if (!isDirSyncUnsupported(e)) throw errors.fromFs(e, dir);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
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

/** fsync each directory once, all in flight together (the file system commits them as one). */
export async function fsyncDirs(dirs: Iterable<string>): Promise<void> {
  const results = await Promise.allSettled([...new Set(dirs)].map((d) => fsyncDir(d)));
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

/** fsync each directory once; returns the ones that failed (batch callers decide per item). */
export function fsyncDirsSync(dirs: Iterable<string>): Map<string, SidecarError> {
  const failed = new Map<string, SidecarError>();
  for (const dir of new Set(dirs)) {
    try {
      fsyncDirSync(dir);
    } catch (e) {
      failed.set(dir, e as SidecarError);
    }
  }
  return failed;
}

/** fsyncDirsSync with every directory's fsync in flight at once (convert's group commit). */
export async function fsyncDirsSettled(dirs: Iterable<string>): Promise<Map<string, SidecarError>> {
  const list = [...new Set(dirs)];
  const results = await Promise.allSettled(list.map((d) => fsyncDir(d)));
  const failed = new Map<string, SidecarError>();
  results.forEach((r, k) => {
    if (r.status === 'rejected') failed.set(list[k], r.reason as SidecarError);
  });
  return failed;
}
