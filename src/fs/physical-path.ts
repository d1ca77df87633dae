/**
 * A path a caller gives, made absolute as the kernel takes it. `path.resolve` collapses `..` as
 * text: after a symlinked folder that names another file than the one `open()` reaches
 * (`lib/today/../IMG_1.jpg`, `lib/today` → `photos/day1`, is `photos/IMG_1.jpg`, not
 * `lib/IMG_1.jpg`), and a save through it would land in another image's sidecar.
 */
import { realpathSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { isAbsolute, resolve, sep } from 'node:path';
import { errors } from '../errors.js';
import { notUtf8Target } from './byte-names.js';

/**
 * `p` absolute, its `..` taken physically: the part up to its last `..` is resolved by realpath(3)
 * (a missing folder there is NOT_FOUND, as the kernel would answer), the rest joined as text.
 * Without a `..` it is `path.resolve(p)`: the symlinks in it stay as given (an image link's own
 * path matters: its sidecars may lie beside it).
 */
export function physicalPath(p: string): string {
  const parts = p.split(sep);
  const last = parts.lastIndexOf('..');
  if (last < 0) return resolve(p);
  const head = parts.slice(0, last + 1).join(sep);
  let real: Buffer;
  try {
    real = realpathSync.native(isAbsolute(head) ? head : resolve('.') + sep + head, { encoding: 'buffer' });
  } catch (e) {
    throw errors.fromFs(e, p);
  }
  // A folder on the way named with bytes that are not UTF-8: as a string it would name another.
  if (!isUtf8(real)) throw notUtf8Target(p, real);
  return resolve(real.toString('utf8'), ...parts.slice(last + 1));
}

/**
 * A folder given with `..` that names one folder as text and another to the file system
 * (`lib/today/..`, `lib/today` a symlink: `lib` as text, the link target's parent to `ls`): USAGE,
 * never a guess between the two, where a tree command would read, or clean up, the other folder.
 * Tree commands take their folder as text (as a shell's `cd` does); this refuses where it matters.
 */
export function assertOneFolder(dir: string): void {
  if (!dir.split(sep).includes('..')) return;
  const real = (p: () => string): string | null => {
    try {
      return realpathSync.native(p());
    } catch {
      return null;
    }
  };
  const asText = real(() => resolve(dir));
  const asKernel = real(() => physicalPath(dir));
  if (asText !== asKernel) {
    throw errors.usage(`${dir} names ${asKernel ?? 'no folder'} to the file system but ${asText ?? 'no folder'} as text (a '..' after a symlink): give the folder without '..'`);
  }
}
