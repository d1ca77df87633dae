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
