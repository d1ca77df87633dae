/**
 * The folders image-sidecar keeps inside a library: the quarantine (cleanup, resolve) and the
 * incremental index. Never walked as data; a save never writes into a quarantine.
 */
import { sep } from 'node:path';
import { isLockName } from '../fs/temp-files.js';

/** Name of the quarantine folder at the root of a library (never scanned). */
export const QUARANTINE_DIR = '.image-sidecar-quarantine';
/** The folder under a library root that holds our own state, the incremental index (never a data folder). */
export const INDEX_DIR = '.image-sidecar';
/** Folders never walked as data: the quarantine and our own state (the incremental index). */
export const SKIP_DIR_NAMES: ReadonlySet<string> = new Set([QUARANTINE_DIR, INDEX_DIR]);

/**
 * Is the file `path`, under the folder `root` (both absolute, platform separators), in a folder a
 * walk of `root` enters: none of the folders between them one it skips (SKIP_DIR_NAMES, or a lock
 * folder's name, at any depth: discovery/walk.ts)?
 */
export function inWalkedFolder(path: string, root: string): boolean {
  const names = path.slice(root.length + (root.endsWith(sep) ? 0 : 1)).split(sep);
  for (let i = 0; i < names.length - 1; i++) if (SKIP_DIR_NAMES.has(names[i]) || isLockName(names[i])) return false;
  return true;
}

/**
 * Whether the real folder `dir` (absolute, platform separators) lies in a quarantine: a save never
 * writes there (ops/save.ts). Only the quarantine's name counts: a folder named like the index
 * folder above a library (~/.image-sidecar/photos) is somebody's photos, and a stray sidecar in our
 * index folder changes nothing we keep. Names compare exactly, as the walk skips them.
 */
export function inQuarantine(dir: string): boolean {
  return dir.split(sep).includes(QUARANTINE_DIR);
}
