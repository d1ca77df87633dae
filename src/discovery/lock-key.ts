/**
 * Lock identity: the ONE derivation of the key that serialises every read-modify-write of an
 * image's sidecars (saveSidecar, every convert unit). Two callers that touch the same files must
 * derive the same key however the image or the sidecar is spelled:
 *
 *   key = realpath(<folder the sidecar files are in>) / NFC(<image stem>)
 *
 *   - realpath: `lib/a` and `lib-link/a` (a symlinked folder) are one folder;
 *   - NFC: an NFD image name (`Équipe.jpg` copied from macOS) and its NFC sidecar are one key;
 *   - image stem: IMG_1.json, IMG_1.bin, IMG_1.rkyv and the name-ext IMG_1.jpg.json share one key.
 *
 * The lock itself is `<folder>/.<key stem>.isc-lock` (src/fs/lock.ts).
 */
import { isUtf8 } from 'node:buffer';
import { realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { SidecarNaming } from '../types.js';
import { nfc, splitName } from './extensions.js';

/** The folder as the kernel resolves it; a folder that does not exist (yet) keeps its spelling. */
function realFolder(dir: string): string {
  try {
    const real = realpathSync(dir);
    // A folder on the way named with bytes that are not UTF-8 comes back with U+FFFD: another
    // folder's name (the lock would be made there, or fail). Then the folder keeps its spelling,
    // which the kernel resolves exactly (fs/byte-names.ts).
    if (real.includes('\uFFFD') && !isUtf8(realpathSync.native(dir, { encoding: 'buffer' }))) return dir;
    return real;
  } catch {
    return dir;
  }
}

/**
 * `realFolder` remembering the last folder asked (a plan asks folder after folder, a unit at a
 * time): realpathSync lstats every component of the path, five calls per convert unit.
 */
export function lastRealFolder(): (dir: string) => string {
  let lastDir: string | null = null;
  let lastReal = '';
  return (dir) => {
    if (dir !== lastDir) {
      lastReal = realFolder(dir);
      lastDir = dir;
    }
    return lastReal;
  };
}

/** Key for the sidecars of `imageName` that live in `dir` (the image's target folder, or the link's folder). */
export function lockKeyForImage(dir: string, imageName: string): string {
  return join(realFolder(dir), nfc(splitName(imageName).stem));
}

/** Key for a sidecar file as paired (naming from the pairing rule): the same key its image's save takes. */
export function lockKeyForSidecar(sidecarPath: string, naming: SidecarNaming, realFolderOf: (dir: string) => string = realFolder): string {
  let stem = splitName(basename(sidecarPath)).stem; // IMG_1.bin -> IMG_1 ; IMG_1.jpg.bin -> IMG_1.jpg
  if (naming === 'name-ext') stem = splitName(stem).stem; // IMG_1.jpg -> IMG_1
  return join(realFolderOf(dirname(sidecarPath)), nfc(stem));
}

/**
 * Keys of every image that could claim a lone sidecar: by its stem form (IMG_1.jpg.json is the
 * sidecar of IMG_1.jpg.png) and by its name-ext form (IMG_1.jpg.json is the sidecar of IMG_1.jpg).
 * Whoever removes or moves such a file (cleanup) holds them, so a save into it — its image appeared
 * meanwhile — never lands between the check of the file and its removal.
 */
export function lockKeysForLoneSidecar(sidecarPath: string): string[] {
  const stem = lockKeyForSidecar(sidecarPath, 'stem');
  const nameExt = lockKeyForSidecar(sidecarPath, 'name-ext');
  return stem === nameExt ? [stem] : [stem, nameExt];
}
