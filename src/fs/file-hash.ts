/** A regular file's SHA-256 together with its identity, to tell later whether it is still that file. */
import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { open } from 'node:fs/promises';
import { errors } from '../errors.js';

/** What a file was when it was hashed; it must still be that file when it is moved. */
export interface FileSnapshot {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** SHA-256 of a regular file, opened without following a symlink, with its identity. */
export async function hashRegularFile(path: string): Promise<{ sha256: string; snapshot: FileSnapshot }> {
  let fh;
  try {
    fh = await open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw errors.conflict('is a symlink now; left alone', [path]);
    throw errors.fromFs(e, path);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw errors.conflict('not a regular file; left alone', [path]);
    const bytes = await fh.readFile();
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return { sha256, snapshot: { dev: st.dev, ino: st.ino, size: bytes.length, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs } };
  } catch (e) {
    throw errors.fromFs(e, path);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

export function sameFile(st: { dev: number; ino: number; size: number; mtimeMs: number; ctimeMs: number }, s: FileSnapshot): boolean {
  return st.dev === s.dev && st.ino === s.ino && st.size === s.size && st.mtimeMs === s.mtimeMs && st.ctimeMs === s.ctimeMs;
}
