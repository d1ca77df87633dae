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
import { accessSync, closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { entryAt, READ_FLAGS } from '../fs/regular-file.js';
import { createHash } from 'node:crypto';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { errors } from '../errors.js';
import { INDEX_DIR } from '../discovery/own-folders.js';
import { deltaPath, INDEX_MAGIC } from './store.js';
import type { IndexLocationOptions, IndexLocation } from '../model/index-options.js';

export const INDEX_FILE = 'index';

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
  if (opts.path) return explicitLocation(resolve(opts.path), rootAbs, rootReal);
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

/**
 * `--index PATH` may name any path. Inside the library it would be read as the library's own
 * files (its `.last-run.json` as a sidecar, the index as an ignored file), so the output would
 * differ from `--no-index`: refused, unless under one of our own folders (never walked). A file
 * there that is not an index (a sidecar, anyone's file named by mistake) is never read as one,
 * written over or removed: the run keeps no index, with a note.
 */
function explicitLocation(path: string, rootAbs: string, rootReal: string): IndexLocation {
  let folderReal = dirname(path);
  try {
    folderReal = realpathSync.native(folderReal);
  } catch {
    /* not there yet: as spelled */
  }
  for (const [base, at] of [
    [rootAbs, dirname(path)],
    [rootReal, folderReal],
  ]) {
    const rel = relative(base, at);
    const inside = rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
    if (inside && !rel.split(sep).includes(INDEX_DIR)) {
      throw errors.usage(`--index ${path} is inside the library ${rootAbs}: its files would be read as the library's; give a path outside it (or leave --index out: ${join(rootAbs, INDEX_DIR, INDEX_FILE)})`);
    }
  }
  for (const p of [path, deltaPath(path)]) {
    if (!holdsIndexOrNothing(p)) {
      return { path, where: 'none', rootReal, note: `${p} is not an image-sidecar index: it is never read as one, written over or removed (give --index another path)` };
    }
  }
  return { path, where: 'explicit', rootReal };
}

/** Nothing at `p`, an empty file, or a file that starts as an index does (a damaged one included). */
export function holdsIndexOrNothing(p: string): boolean {
  let fd: number;
  try {
    fd = openSync(p, READ_FLAGS); // a FIFO opens at once (O_NONBLOCK) and is refused below
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return false;
    if (st.size === 0) return true;
    const head = Buffer.alloc(INDEX_MAGIC.length);
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(INDEX_MAGIC);
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}
