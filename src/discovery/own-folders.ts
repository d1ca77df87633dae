/**
 * The folders image-sidecar keeps inside a library: the quarantine (cleanup, resolve) and the
 * incremental index. Never walked as data, never written into by a save: one list for both.
 */
import { sep } from 'node:path';
import { INDEX_DIR } from '../incremental/location.js';

/** Name of the quarantine folder at the root of a library (never scanned). */
export const QUARANTINE_DIR = '.image-sidecar-quarantine';
export { INDEX_DIR };
/** Folders never walked as data: the quarantine and our own state (the incremental index). */
export const SKIP_DIR_NAMES: ReadonlySet<string> = new Set([QUARANTINE_DIR, INDEX_DIR]);

/** The name of the first folder of ours on `dir`'s path (absolute, platform separators), or null. */
export function ownFolderOn(dir: string): string | null {
  for (const part of dir.split(sep)) if (SKIP_DIR_NAMES.has(part)) return part;
  return null;
}
