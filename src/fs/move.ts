/** Moving a file without ever replacing what is at the destination (cleanup, restore). */
import type { Stats } from 'node:fs';
import { link, lstat, rename, unlink } from 'node:fs/promises';
import { errors } from '../errors.js';

/**
 * Move without ever replacing an existing destination: link(2) fails with EEXIST when the name is
 * taken, then the source is unlinked. Where hard links are not supported we fall back to
 * check-then-rename (callers only do that into folders they created or checked).
 */
export async function moveNoOverwrite(src: string, dest: string): Promise<void> {
  try {
    await link(src, dest);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw errors.conflict('destination already exists; not overwritten', [dest, src]);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EMLINK') throw errors.fromFs(e, dest);
    if (await pathExists(dest)) throw errors.conflict('destination already exists; not overwritten', [dest, src]);
    await rename(src, dest).catch((e2) => {
      throw errors.fromFs(e2, src);
    });
    return;
  }
  try {
    await unlink(src);
  } catch (e) {
    // Undo the link so the file is not in two places, then report.
    await unlink(dest).catch(() => undefined);
    throw errors.fromFs(e, src);
  }
}

/**
 * The entry at `p` (lstat), or null when nothing is there: no such name, or a component on the way
 * that is no longer a folder (ENOTDIR). Cleanup and restore check what they move with it.
 */
export async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await lstat(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw errors.fromFs(e, p);
  }
}

/** Does anything (file, folder, link, even a dangling one) exist at `p`? */
export async function pathExists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw errors.fromFs(e, p);
  }
}
