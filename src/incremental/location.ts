/**
 * Where a library's index lives: `<root>/.image-sidecar/index` (the folder is never walked as data,
 * hashed or cleaned up: INDEX_DIR), or, when the root cannot be written, the user's cache
 * directory keyed by the root's real path; `--index PATH` overrides both.
 *
 * `<root>/.image-sidecar` must be a real folder of the root (or not exist yet): a symlink planted
 * there (or a file) would have every run write its index, temp files and spool through it, outside
 * the library, and `index clear` delete there. Such a root's index goes to the cache directory,
 * or nowhere ('none': the run goes on without one), with a note saying why.
 */
import { accessSync, constants, realpathSync } from 'node:fs';
import { entryAt } from '../fs/regular-file.js';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';

/** The folder under a library root that holds our own state (never a data folder). */
export const INDEX_DIR = '.image-sidecar';
export const INDEX_FILE = 'index';

export interface IndexLocationOptions {
  /** An explicit index file (`--index PATH`). */
  path?: string;
  /** The user's cache directory ($XDG_CACHE_HOME, else ~/.cache), for read-only roots. */
  cacheDir?: string;
}

export interface IndexLocation {
  path: string;
  /**
   * 'root': under the library; 'cache': the cache directory (read-only root, or `.image-sidecar`
   * not a folder of the root); 'explicit': --index; 'none': no place that is safe (no index).
   */
  where: 'root' | 'cache' | 'explicit' | 'none';
  rootReal: string;
  /** Why the root's own place was not used, when that is not simply a read-only root. */
  note?: string;
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The cache-directory index file of a root (by its real path). */
export function cacheIndexPath(cacheDir: string, rootReal: string): string {
  const digest = createHash('sha256').update(rootReal).digest('hex').slice(0, 32);
  return join(cacheDir, 'image-sidecar', 'index', digest);
}

export function resolveIndexLocation(root: string, opts: IndexLocationOptions = {}): IndexLocation {
  const rootAbs = resolve(root);
  let rootReal = rootAbs;
  try {
    rootReal = realpathSync.native(rootAbs);
  } catch {
    /* the scan reports a missing root */
  }
  if (opts.path) return { path: resolve(opts.path), where: 'explicit', rootReal };
  const dir = join(rootAbs, INDEX_DIR);
  const at = entryAt(dir);
  if (at === 'other') {
    const note = `${dir} is not a folder of the library (a symlink or a file): the index is never written through it`;
    if (opts.cacheDir) return { path: cacheIndexPath(opts.cacheDir, rootReal), where: 'cache', rootReal, note };
    return { path: join(dir, INDEX_FILE), where: 'none', rootReal, note };
  }
  const inRoot = at === 'folder' ? writable(dir) : writable(rootAbs);
  if (inRoot || !opts.cacheDir) return { path: join(dir, INDEX_FILE), where: 'root', rootReal };
  return { path: cacheIndexPath(opts.cacheDir, rootReal), where: 'cache', rootReal };
}
