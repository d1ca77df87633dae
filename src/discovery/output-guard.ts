/**
 * Output files (every command's -o, export, hash and merge manifests) must never replace a
 * sidecar: `export lib -o lib/IMG_1.json` would overwrite an image's data with the export. Any
 * sidecar, inside the tree read or not: the library, the server and the CLI refuse the same paths.
 */
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { errors } from '../errors.js';
import { imageExtensionSet } from './extensions.js';
import { isSidecarName, pairDirectory } from './pair.js';
import type { EntryKind } from './walk.js';

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * Throw USAGE when `output` (a file path) is, or would become, a sidecar: its name pairs with an
 * image of its folder by the pairing rule (a report or an earlier export next to no image is not
 * a sidecar and may be replaced).
 */
export function assertOutputNotSidecar(output: string, what: string, imageExtensions?: readonly string[]): void {
  const abs = resolve(output);
  const real = existsSync(abs) ? realOrSelf(abs) : join(realOrSelf(dirname(abs)), basename(abs));
  const name = basename(real);
  if (!isSidecarName(name)) return;
  // A sidecar is a file the pairing rule gives to an image of its folder (existing or not yet).
  const dir = dirname(real);
  let entries: { name: string; kind: EntryKind }[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true }).map((d) => ({ name: d.name, kind: d.isFile() ? 'file' : d.isSymbolicLink() ? 'symlink' : d.isDirectory() ? 'dir' : 'other' }));
  } catch {
    /* the folder does not exist yet: nothing to pair with */
  }
  if (!entries.some((e) => e.name === name)) entries.push({ name, kind: 'file' });
  const g = pairDirectory({ path: dir, entries: entries as never }, imageExtensionSet(imageExtensions)).groups.find((x) => x.sidecars.some((s) => s.name === name));
  const pairs = (g?.images.length ?? 0) > 0;
  if (pairs) {
    throw errors.usage(`refusing to write the ${what} to ${abs}: it is a sidecar file of an image in its folder (choose a path outside it, or another name)`);
  }
}
