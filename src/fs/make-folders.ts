/**
 * `mkdir -p`, one folder at a time. Node 20's `mkdir(p, { recursive: true })` (sync, callback and
 * promise forms) loops forever where a folder cannot be made under one that exists: under `/proc`
 * mkdir answers ENOENT while the parent is there, so it climbs to the parent (EEXIST) and tries
 * again, at full CPU. Here the same ENOENT, met a second time, is the error. A name that exists
 * and is not a folder is EEXIST, as `mkdir -p` says.
 */
import { mkdirSync, statSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

const codeOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

export function makeFoldersSync(dir: string): void {
  try {
    mkdirSync(dir);
    return;
  } catch (e) {
    if (codeOf(e) === 'EEXIST' && isFolderSync(dir)) return;
    const parent = dirname(dir);
    if (codeOf(e) !== 'ENOENT' || parent === dir) throw e;
    makeFoldersSync(parent);
  }
  try {
    mkdirSync(dir);
  } catch (e) {
    if (codeOf(e) !== 'EEXIST' || !isFolderSync(dir)) throw e;
  }
}

export async function makeFolders(dir: string): Promise<void> {
  try {
    await mkdir(dir);
    return;
  } catch (e) {
    if (codeOf(e) === 'EEXIST' && (await isFolder(dir))) return;
    const parent = dirname(dir);
    if (codeOf(e) !== 'ENOENT' || parent === dir) throw e;
    await makeFolders(parent);
  }
  try {
    await mkdir(dir);
  } catch (e) {
    if (codeOf(e) !== 'EEXIST' || !(await isFolder(dir))) throw e;
  }
}

/** A folder, or a link to one (as `mkdir -p` takes it). */
function isFolderSync(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

async function isFolder(dir: string): Promise<boolean> {
  return stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
