/**
 * Where a library's index lives: `<root>/.image-sidecar/index` (the folder is never walked as data,
 * hashed or cleaned up: INDEX_DIR), or, when the root cannot be written, the user's cache
 * directory keyed by the root's real path; `--index PATH` overrides both.
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
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
  /** 'root': under the library; 'cache': the cache directory (read-only root); 'explicit': --index. */
  where: 'root' | 'cache' | 'explicit';
  rootReal: string;
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
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
  const inRoot = isDir(dir) ? writable(dir) : writable(rootAbs);
  if (inRoot || !opts.cacheDir) return { path: join(dir, INDEX_FILE), where: 'root', rootReal };
  return { path: cacheIndexPath(opts.cacheDir, rootReal), where: 'cache', rootReal };
}
